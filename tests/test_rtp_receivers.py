"""RtpReceivers: what a publisher sends reaches the worker, counted per stream."""

from __future__ import annotations

from typing import Any

import pytest

import mediasoup
from mediasoup.errors import InvalidStateError, UnsupportedError

from .clients import MediasoupClient, use_loopback_only, wait_for_state
from .conftest import eventually


async def test_a_pymediasoup_publisher_s_audio_and_video_arrive(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    use_loopback_only(monkeypatch)
    room = await server.Room()
    peer = await room.Peer("alice")
    announced: list[Any] = []
    peer.on("newrtpreceiver", announced.append)
    transport = await peer.createTransport()
    client = MediasoupClient(room, peer)
    await client.load()
    try:
        receivers = await client.publish(transport, [AudioStreamTrack(), VideoStreamTrack()])
        await wait_for_state(transport, "connected")
        audio, video = receivers
        assert announced == receivers and peer.rtpReceivers == receivers
        assert (audio.kind, video.kind) == ("audio", "video")
        stats: dict[str, list[dict[str, Any]]] = {}

        async def arrived() -> bool:
            stats["audio"] = await audio.getStats()
            stats["video"] = await video.getStats()
            return bool(stats["audio"] and stats["video"]) and stats["audio"][0]["packetsReceived"] >= 50 and stats["video"][0]["packetsReceived"] >= 20

        loop_deadline = 10.0
        import asyncio

        deadline = asyncio.get_running_loop().time() + loop_deadline
        while not await arrived():
            assert asyncio.get_running_loop().time() < deadline, stats
            await asyncio.sleep(0.1)
        # Each stream arrived on the SSRC and payload type its parameters name.
        for receiver, entry in ((audio, stats["audio"][0]), (video, stats["video"][0])):
            parameters = receiver.rtpParameters
            assert parameters is not None
            assert entry["ssrc"] == parameters["encodings"][0]["ssrc"]
            assert entry["payloadType"] == parameters["codecs"][0]["payloadType"]
            assert entry["bytesReceived"] > 0
        dump = await video.dump()
        assert dump["rtpParameters"] == video.rtpParameters and dump["kind"] == "video"
        assert (await peer.dump())["rtpReceiverIds"] == [audio.id, video.id]
    finally:
        await client.close()


async def test_receive_checks_its_parameters(server: mediasoup.Server) -> None:
    room = await server.Room()
    peer = await room.Peer("alice")
    transport = await peer.createTransport()
    with pytest.raises(ValueError, match="'audio' or 'video'"):
        peer.RtpReceiver("data", transport)
    with pytest.raises(TypeError, match="must be a Transport"):
        peer.RtpReceiver("audio", "transport")  # type: ignore[arg-type]
    other = await room.Peer("bob")
    with pytest.raises(ValueError, match="belongs to another peer"):
        other.RtpReceiver("audio", transport)
    receiver = peer.RtpReceiver("audio", transport)
    assert receiver.rtpParameters is None and await receiver.getStats() == []
    opus = {"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2}
    with pytest.raises(TypeError, match="must be a dict"):
        await receiver.receive(None)  # type: ignore[arg-type]
    with pytest.raises(UnsupportedError, match="not among the room's codecs"):
        await receiver.receive({"codecs": [{**opus, "mimeType": "audio/G722", "clockRate": 8000}], "encodings": [{"ssrc": 1}]})
    with pytest.raises(ValueError, match="does not match the receiver's kind"):
        await receiver.receive({"codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000}], "encodings": [{"ssrc": 1}]})
    with pytest.raises(ValueError, match="encodings is missing"):
        await receiver.receive({"codecs": [opus]})
    assert receiver.rtpParameters is None
    await receiver.receive({"mid": "0", "codecs": [opus], "encodings": [{"ssrc": 1, "dtx": True}], "msid": "a b"})
    parameters = receiver.rtpParameters
    assert parameters is not None
    # No CNAME given: the transport's streams get one of its own.
    cname = parameters["rtcp"].pop("cname")
    assert isinstance(cname, str) and len(cname) == 8
    assert parameters == {"mid": "0", "codecs": [opus], "encodings": [{"ssrc": 1, "dtx": True}], "msid": "a b", "headerExtensions": [], "rtcp": {}}
    with pytest.raises(InvalidStateError, match="receives already"):
        await receiver.receive({"codecs": [opus], "encodings": [{"ssrc": 2}]})
    second = peer.RtpReceiver("audio", transport)
    with pytest.raises(ValueError, match="mid '0' is used by another stream"):
        await second.receive({"mid": "0", "codecs": [opus], "encodings": [{"ssrc": 3}]})


async def test_force_unique_payload_types_refuses_a_taken_payload_type(server: mediasoup.Server) -> None:
    room = await server.Room(forceUniquePayloadTypes=True)
    opus = {"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2}
    alice, bob = await room.Peer("alice"), await room.Peer("bob")
    await alice.RtpReceiver("audio", await alice.createTransport()).receive({"codecs": [opus], "encodings": [{"ssrc": 1}]})
    with pytest.raises(ValueError, match="payload type 111 is taken"):
        await bob.RtpReceiver("audio", await bob.createTransport()).receive({"codecs": [opus], "encodings": [{"ssrc": 2}]})
    relaxed = await server.Room()
    carol, dave = await relaxed.Peer("carol"), await relaxed.Peer("dave")
    for peer, ssrc in ((carol, 1), (dave, 2)):
        await peer.RtpReceiver("audio", await peer.createTransport()).receive({"codecs": [opus], "encodings": [{"ssrc": ssrc}]})


async def test_receivers_close_with_their_transport_and_peer(server: mediasoup.Server) -> None:
    room = await server.Room()
    peer = await room.Peer("alice")
    transport = await peer.createTransport()
    opus = {"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2}
    receiver = peer.RtpReceiver("audio", transport)
    await receiver.receive({"codecs": [opus], "encodings": [{"ssrc": 7}]})
    closes: list[Any] = []
    receiver.on("close", closes.append)
    transport.close()
    assert receiver.closed and closes == [None] and peer.rtpReceivers == []
    assert (await peer.dump())["rtpReceiverIds"] == []
    with pytest.raises(InvalidStateError):
        peer.RtpReceiver("audio", transport)
    other = await peer.createTransport()
    kept = peer.RtpReceiver("audio", other)
    await kept.receive({"codecs": [opus], "encodings": [{"ssrc": 8}]})
    kept.close()
    assert (await peer.dump())["rtpReceiverIds"] == []
    last = peer.RtpReceiver("audio", other)
    peer.close()
    assert last.closed
    await eventually(lambda: True)
