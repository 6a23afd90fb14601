"""What an SFU owes its peers besides the media: reports, NACK and RTX,
keyframe requests, bandwidth feedback and statistics, seen by real clients
(pymediasoup over aiortc); and what it withstands on a live call."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

import mediasoup

from .clients import Call, LossyRelay, call_in, until, use_loopback_only



@asynccontextmanager
async def call(server: mediasoup.Server, relay: LossyRelay | None = None, subscriber_relay: LossyRelay | None = None) -> AsyncIterator[Call]:
    """alice publishes audio and video in a room of its own; bob consumes both."""
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    room = await server.Room()
    try:
        async with call_in(room, [AudioStreamTrack(), VideoStreamTrack()], relay, subscriber_relay) as c:
            yield c
    finally:
        room.close()


def _stats_of(reports: Any, kind: str) -> list[Any]:
    """Entries of a `type` in pymediasoup's getStats() (a list of aiortc RTCStatsReports)."""
    return [entry for report in reports for entry in report.values() if entry.type == kind]


async def test_reports_and_statistics_move_as_media_flows(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    use_loopback_only(monkeypatch)
    async with call(server) as c:
        video_sender = c.sender("video")
        first = (await c.receivers["video"].getStats())[0]
        sent_before = (await video_sender.getStats())[0]
        await asyncio.sleep(3)

        # The receiver: what arrived from alice, and the RTCP this worker sent her.
        inbound = (await c.receivers["video"].getStats())[0]
        assert inbound["type"] == "inbound-rtp" and inbound["ssrc"] == c.receivers["video"].rtpParameters["encodings"][0]["ssrc"]
        assert inbound["packetsReceived"] > first["packetsReceived"] + 50
        assert inbound["bytesReceived"] > first["bytesReceived"]
        assert inbound["bitrate"] > 0
        assert 0 <= inbound["packetsLost"] <= inbound["packetsReceived"] // 100
        assert isinstance(inbound["jitter"], int) and inbound["jitter"] < 90_000
        # bob's sender started with a keyframe request (a PLI to alice).
        assert inbound["pliCount"] >= 1 and inbound["nackCount"] >= 0
        audio = (await c.receivers["audio"].getStats())[0]
        assert audio["kind"] == "audio" and audio["packetsReceived"] >= 100 and audio["bitrate"] > 0

        # The sender: what left for bob, and what bob's receiver reports said.
        outbound = (await video_sender.getStats())[0]
        assert outbound["type"] == "outbound-rtp" and outbound["ssrc"] == video_sender.rtpParameters["encodings"][0]["ssrc"]
        assert outbound["packetsSent"] > sent_before["packetsSent"] + 50 and outbound["bitrate"] > 0
        assert outbound["packetsLost"] == 0 and outbound["roundTripTime"] is not None
        assert outbound["roundTripTime"] < 0.5

        # alice's aiortc got this worker's receiver reports for her stream...
        alice_report = await c.producer("video").getStats()
        remote_inbound = _stats_of(alice_report, "remote-inbound-rtp")
        assert remote_inbound and remote_inbound[0].packetsLost == 0
        # ...and bob's got sender reports for the stream forwarded to him.
        bob_report = await c.subscriber.consumers["video"].getStats()
        remote_outbound = _stats_of(bob_report, "remote-outbound-rtp")
        assert remote_outbound and remote_outbound[0].packetsSent > 50


async def test_consumers_get_the_subscriber_s_mid_and_header_extensions(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    use_loopback_only(monkeypatch)
    async with call(server) as c:
        mids = set()
        for kind in ("audio", "video"):
            parameters = c.sender(kind).rtpParameters
            mids.add(parameters["mid"])
            uris = {ext["uri"]: ext["id"] for ext in parameters["headerExtensions"]}
            assert "urn:ietf:params:rtp-hdrext:sdes:mid" in uris
            assert "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id" not in uris
            # The ids are the ones bob's transport writes.
            written = {ext["uri"]: ext["id"] for ext in (await c.subscriber.transport.dump())["headerExtensions"]}  # type: ignore[union-attr]
            assert all(written[uri] == id for uri, id in uris.items())
            # pymediasoup put the mid in its SDP: the stream is matched by it.
            assert c.subscriber.consumers[kind].rtpParameters.mid == parameters["mid"]
        assert len(mids) == 2


async def test_a_transport_created_before_the_capabilities_changes_the_consumer_parameters(server: mediasoup.Server) -> None:
    room = await server.Room()
    alice, bob = await room.Peer("alice"), await room.Peer("bob")
    early = await bob.createTransport()  # the room's ids
    # aiortc-style capabilities: mid at 1, abs-send-time at 2 (the room has it at 4).
    await bob.setCapabilities({
        "codecs": [{"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2, "preferredPayloadType": 100}],
        "headerExtensions": [
            {"kind": "audio", "uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "preferredId": 1},
            {"kind": "audio", "uri": "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", "preferredId": 2},
        ],
    })
    late = await bob.createTransport()  # bob's ids
    publishing = await alice.createTransport()

    async def publish_opus(ssrc: int) -> None:
        await alice.RtpReceiver("audio", publishing).receive({
            "codecs": [{"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2}],
            "encodings": [{"ssrc": ssrc}],
        })

    await publish_opus(1234)
    await until(lambda: len(bob.rtpSenders) == 1, 5, lambda: bob.rtpSenders)
    sender = bob.rtpSenders[0]
    ids = {ext["uri"]: ext["id"] for ext in sender.rtpParameters["headerExtensions"]}
    assert ids["http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"] == 2
    changes: list[dict[str, Any]] = []
    sender.on("parameterschange", changes.append)
    await sender.setTransport(early)
    assert len(changes) == 1
    ids = {ext["uri"]: ext["id"] for ext in sender.rtpParameters["headerExtensions"]}
    assert ids["http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"] == 4
    assert changes[0] == sender.rtpParameters
    # Another sender on the transport with bob's ids keeps its parameters.
    await publish_opus(5678)
    await until(lambda: len(bob.rtpSenders) == 2, 5, lambda: bob.rtpSenders)
    second = bob.rtpSenders[1]
    before = second.rtpParameters
    second.on("parameterschange", changes.append)
    await second.setTransport(late)
    assert len(changes) == 1 and second.rtpParameters == before
    assert {s.rtpParameters["mid"] for s in bob.rtpSenders} == {"s0", "s1"}
    room.close()


async def test_a_subscriber_s_pli_reaches_the_publisher_at_most_every_500_ms(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiortc.rtcrtpsender import RTCRtpSender

    use_loopback_only(monkeypatch)
    requested: dict[int, int] = {}
    original = RTCRtpSender._send_keyframe

    def counting(self: RTCRtpSender) -> None:
        requested[id(self)] = requested.get(id(self), 0) + 1
        original(self)

    monkeypatch.setattr(RTCRtpSender, "_send_keyframe", counting)
    async with call(server) as c:
        alice_sender = c.producer("video").rtpSender
        keyframes = lambda: requested.get(id(alice_sender), 0)  # noqa: E731
        # bob's sender asked for one when it started.
        assert keyframes() >= 1
        await asyncio.sleep(0.6)
        # bob's aiortc RTCRtpReceiver of the video (pymediasoup does not expose it).
        peer_connection = c.subscriber.receive_transport._handler._pc
        bob_receiver = next(r for r in peer_connection.getReceivers() if r.track is not None and r.track.kind == "video")
        ssrc = c.sender("video").rtpParameters["encodings"][0]["ssrc"]
        before = keyframes()
        plis_before = (await c.sender("video").getStats())[0]["pliCount"]
        # Three PLIs 600 ms apart: three keyframe requests reach alice.
        for _ in range(3):
            await bob_receiver._send_rtcp_pli(ssrc)
            await asyncio.sleep(0.6)
        assert before + 3 <= keyframes() <= before + 4, (before, keyframes())
        # A storm of ten in 200 ms: one more at most (plus one of aiortc's own).
        before = keyframes()
        for _ in range(10):
            await bob_receiver._send_rtcp_pli(ssrc)
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        assert keyframes() <= before + 2, (before, keyframes())
        # The worker counted bob's PLIs (at its next stats interval).
        await asyncio.sleep(1.1)
        assert (await c.sender("video").getStats())[0]["pliCount"] >= plis_before + 13


async def test_set_max_bitrate_reaches_the_publisher_s_encoder(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    use_loopback_only(monkeypatch)
    async with call(server) as c:
        alice_sender = c.producer("video").rtpSender
        encoder = lambda: alice_sender._RTCRtpSender__encoder  # noqa: E731
        await until(lambda: encoder() is not None, 5, lambda: "no encoder")
        assert encoder().target_bitrate != 300_000
        await c.publishing.setMaxBitrate(300_000)
        # aiortc follows the REMB this worker sends for its stream.
        await until(lambda: encoder().target_bitrate == 300_000, 5, lambda: encoder().target_bitrate)
        await c.publishing.setMaxBitrate(400_000)
        await until(lambda: encoder().target_bitrate == 400_000, 5, lambda: encoder().target_bitrate)


async def _delivery(c: Call, seconds: float) -> float:
    """The share of alice's video frames bob decoded over `seconds`: frames
    are 3000 ticks apart (30 fps at 90 kHz), so the RTP timestamps decoded
    tell which ones never came (a late frame is not a lost one)."""
    decoded = c.subscriber.timestamps["video"]
    start = len(decoded)
    await asyncio.sleep(seconds)
    window = decoded[start:]
    first = window[0]
    offsets = {(pts - first) % 2**32 for pts in window}
    offsets = {offset - 2**32 if offset >= 2**31 else offset for offset in offsets}
    expected = (max(offsets) - min(offsets)) // 3000 + 1
    assert expected > 100, (expected, seconds)
    return len(offsets) / expected


async def test_nack_and_rtx_recover_the_publisher_s_lost_packets(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    use_loopback_only(monkeypatch)
    async with call(server, LossyRelay(loss=0.0)) as c:
        lossless = await _delivery(c, 5)
    relay = LossyRelay(loss=0.05)
    async with call(server, relay) as c:
        lossy = await _delivery(c, 5)
        inbound = (await c.receivers["video"].getStats())[0]
    dropped = relay.rtp_dropped / max(1, relay.rtp_dropped + relay.rtp_forwarded)
    assert 0.03 < dropped < 0.07, dropped
    # The worker asked alice again for what was lost, and got it (as RTX).
    assert inbound["nackCount"] > 0
    assert inbound["packetsLost"] <= inbound["packetsReceived"] // 100, inbound
    assert lossy >= 0.95 * lossless, (lossy, lossless)


async def test_a_subscriber_s_nacks_are_answered_from_the_retransmission_buffer(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    use_loopback_only(monkeypatch)
    async with call(server, subscriber_relay=LossyRelay(loss=0.0, toward="client")) as c:
        lossless = await _delivery(c, 5)
    relay = LossyRelay(loss=0.05, toward="client")
    async with call(server, subscriber_relay=relay) as c:
        lossy = await _delivery(c, 5)
        await asyncio.sleep(1.1)  # the worker's next stats interval
        outbound = (await c.sender("video").getStats())[0]
    assert relay.rtp_dropped > 10
    # bob asked for what the relay dropped; the worker resent it as RTX.
    assert outbound["nackCount"] > 0, outbound
    assert lossy >= 0.95 * lossless, (lossy, lossless)


async def test_malformed_packets_on_a_live_call_lose_nothing(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    use_loopback_only(monkeypatch)
    relay = LossyRelay(loss=0.0)
    pid = (await server.dump())["workers"]
    async with call(server, relay) as c:
        rng = random.Random(3)
        await until(lambda: len(relay.recorded) >= 100, 5, lambda: len(relay.recorded))
        before = c.subscriber.frames["video"]
        # From alice's own address: her SRTP packets truncated, with bytes
        # flipped, replayed; random RTP/RTCP/STUN/DTLS-looking bytes.
        for packet in relay.recorded:
            relay.inject(packet[: rng.randrange(len(packet))])
            mutated = bytearray(packet)
            for _ in range(3):
                mutated[rng.randrange(len(mutated))] ^= 1 << rng.randrange(8)
            relay.inject(bytes(mutated))
            relay.inject(packet)  # a replay
            first = rng.choice([0, 1, 22, 23, 128, 129, 191])
            relay.inject(bytes([first, rng.choice([0, 96, 111, 200, 201, 205, 206])]) + rng.randbytes(rng.randrange(0, 1400)))
            await asyncio.sleep(0)
        await asyncio.sleep(1)
        # The worker is the same process, and the call goes on.
        assert (await server.dump())["workers"].keys() == pid.keys()
        assert all(w["pid"] == pid[k]["pid"] for k, w in (await server.dump())["workers"].items())
        await until(lambda: c.subscriber.frames["video"] >= before + 30, 5, lambda: c.subscriber.frames)
        assert c.publishing.dtlsState == "connected" and not c.publishing.closed
