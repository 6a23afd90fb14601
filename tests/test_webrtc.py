"""mediasoup.webrtc.RTCPeerConnection with aiortc as a plain SDP endpoint
(no pymediasoup on that side)."""

from __future__ import annotations

from typing import Any

import pytest

import mediasoup
from mediasoup.errors import InvalidStateError
from mediasoup.webrtc import RTCPeerConnection, RTCSessionDescription, sdp

from .clients import Subscriber, until, use_loopback_only


async def test_an_aiortc_offer_publishes_to_the_room_and_a_subscriber_decodes_it(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiortc import RTCConfiguration
    from aiortc import RTCPeerConnection as AiortcPeerConnection
    from aiortc import RTCSessionDescription as AiortcDescription
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    use_loopback_only(monkeypatch)
    room = await server.Room()
    alice, bob = await room.Peer("alice"), await room.Peer("bob")
    bob_client = Subscriber(room, bob)
    await bob_client.start()
    client = AiortcPeerConnection(RTCConfiguration(iceServers=[]))
    pc = RTCPeerConnection(alice)
    states: list[str] = []
    pc.on("connectionstatechange", lambda: states.append(pc.connectionState))
    try:
        client.addTrack(AudioStreamTrack())
        client.addTrack(VideoStreamTrack())
        client.addTransceiver("video", direction="recvonly")
        client.createDataChannel("chat")
        await client.setLocalDescription(await client.createOffer())
        assert pc.signalingState == "stable" and pc.connectionState == "new"
        await pc.setRemoteDescription({"type": "offer", "sdp": client.localDescription.sdp})
        assert pc.signalingState == "have-remote-offer"
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
        assert pc.signalingState == "stable" and pc.localDescription is answer
        parsed = sdp.parse(answer.sdp)
        assert parsed.has("ice-lite") and parsed.bundle() == ["0", "1", "2"]
        assert [(m.kind, m.port != 0, m.direction) for m in parsed.media] == [
            ("audio", True, "recvonly"),
            ("video", True, "recvonly"),
            ("video", True, "inactive"),
            ("application", False, "sendrecv"),
        ]
        assert parsed.media[0].value("setup") == "active" and parsed.media[0].candidates()
        # One codec per section, and its RTX: what aiortc will send.
        assert [c.mime_type for c in parsed.media[1].codecs()] == ["video/VP8", "video/rtx"]
        await client.setRemoteDescription(AiortcDescription(sdp=answer.sdp, type="answer"))
        # alice's two streams are receivers of her peer, and bob decodes them.
        assert sorted(r.kind for r in alice.rtpReceivers) == ["audio", "video"]
        await until(lambda: bob_client.frames.get("audio", 0) >= 50 and bob_client.frames.get("video", 0) >= 20, 20, lambda: bob_client.frames)
        assert pc.connectionState == "connected" and states[-1] == "connected"
        assert pc.transport is not None and pc.transport.dtlsState == "connected"
        # The offer's header-extension ids became the transport's.
        written = {ext["uri"]: ext["id"] for ext in (await pc.transport.dump())["headerExtensions"]}
        assert written["http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"] == 3
        assert written["urn:ietf:params:rtp-hdrext:ssrc-audio-level"] == 2
    finally:
        await client.close()
        pc.close()
        await bob_client.close()
    assert pc.signalingState == "closed" and pc.connectionState == "closed"
    assert alice.rtpReceivers == [] and pc.transport is not None and pc.transport.closed


async def test_bad_descriptions_and_calls_out_of_turn_raise(server: mediasoup.Server) -> None:
    room = await server.Room()
    peer = await room.Peer("alice")
    pc = RTCPeerConnection(peer)
    with pytest.raises(ValueError, match="SDP line 4"):
        await pc.setRemoteDescription({"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nnot sdp\r\n"})
    with pytest.raises(ValueError, match="type must be one of"):
        await pc.setRemoteDescription({"type": "nonsense", "sdp": "v=0"})
    with pytest.raises(TypeError, match="sdp must be a str"):
        RTCSessionDescription(sdp=None, type="offer")  # type: ignore[arg-type]
    offer = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n"
    with pytest.raises(ValueError, match="SDP line 5: the first media section has no a=ice-ufrag"):
        await pc.setRemoteDescription({"type": "offer", "sdp": offer})
    with pytest.raises(ValueError, match="SDP line 5: the first media section has no a=fingerprint"):
        await pc.setRemoteDescription({"type": "offer", "sdp": offer + "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\n"})
    with pytest.raises(InvalidStateError, match="no offer to answer"):
        await pc.createAnswer()
    # Nothing was created by the refused offers.
    assert peer.transports == [] and pc.signalingState == "stable"
    pc.close()
    with pytest.raises(InvalidStateError, match="closed"):
        await pc.setRemoteDescription({"type": "offer", "sdp": offer})
    with pytest.raises(TypeError, match="peer must be a Peer"):
        RTCPeerConnection("alice")  # type: ignore[arg-type]
    _: Any = None


async def test_a_peer_joining_gets_the_others_streams_by_renegotiation(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from aiortc import RTCConfiguration
    from aiortc import RTCPeerConnection as AiortcPeerConnection
    from aiortc import RTCSessionDescription as AiortcDescription
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    use_loopback_only(monkeypatch)
    room = await server.Room()
    alice_client = AiortcPeerConnection(RTCConfiguration(iceServers=[]))
    bob_client = AiortcPeerConnection(RTCConfiguration(iceServers=[]))
    alice_pc = RTCPeerConnection(await room.Peer("alice"))
    bob_pc = RTCPeerConnection(await room.Peer("bob"))
    frames: dict[str, int] = {}
    tasks: list[asyncio.Task[None]] = []

    async def count(track: Any) -> None:
        while True:
            try:
                await track.recv()
            except Exception:
                return
            frames[track.kind] = frames.get(track.kind, 0) + 1

    bob_client.on("track", lambda track: tasks.append(asyncio.ensure_future(count(track))))

    async def first_exchange(client: Any, pc: RTCPeerConnection) -> None:
        await client.setLocalDescription(await client.createOffer())
        await pc.setRemoteDescription({"type": "offer", "sdp": client.localDescription.sdp})
        await pc.setLocalDescription()
        assert pc.localDescription is not None
        await client.setRemoteDescription(AiortcDescription(sdp=pc.localDescription.sdp, type="answer"))

    needed = asyncio.Event()
    bob_pc.on("negotiationneeded", needed.set)
    try:
        alice_client.addTrack(AudioStreamTrack())
        alice_client.addTrack(VideoStreamTrack())
        await first_exchange(alice_client, alice_pc)
        # bob only receives: what he can decode is what he offers.
        bob_client.addTransceiver("audio", direction="recvonly")
        bob_client.addTransceiver("video", direction="recvonly")
        await first_exchange(bob_client, bob_pc)
        await asyncio.wait_for(needed.wait(), 5)
        await until(lambda: len(bob_pc.peer.rtpSenders) == 2 and all(s.transport is not None for s in bob_pc.peer.rtpSenders), 5, lambda: bob_pc.peer.rtpSenders)
        offer = await bob_pc.createOffer()
        await bob_pc.setLocalDescription(offer)
        assert bob_pc.signalingState == "have-local-offer"
        parsed = sdp.parse(offer.sdp)
        senders = [m for m in parsed.media if m.direction == "sendonly"]
        assert sorted(m.kind for m in senders) == ["audio", "video"]
        assert {m.mid for m in senders} == {s.rtpParameters["mid"] for s in bob_pc.peer.rtpSenders}
        assert all(m.value("msid", ).startswith("alice ") for m in senders)  # type: ignore[union-attr]
        await bob_client.setRemoteDescription(AiortcDescription(sdp=offer.sdp, type="offer"))
        await bob_client.setLocalDescription(await bob_client.createAnswer())
        await bob_pc.setRemoteDescription({"type": "answer", "sdp": bob_client.localDescription.sdp})
        assert bob_pc.signalingState == "stable"
        # bob's aiortc decodes alice's audio and video, without reconnecting.
        await until(lambda: frames.get("audio", 0) >= 50 and frames.get("video", 0) >= 20, 20, lambda: frames)
        assert bob_pc.connectionState == "connected"
        # Nothing more to negotiate until something changes.
        needed.clear()
        await asyncio.sleep(0.2)
        assert not needed.is_set()
    finally:
        for task in tasks:
            task.cancel()
        await alice_client.close()
        await bob_client.close()
        alice_pc.close()
        bob_pc.close()


async def test_the_answer_takes_the_dtls_role_the_offer_leaves(server: mediasoup.Server) -> None:
    import pathlib

    text = (pathlib.Path(__file__).parent / "data" / "aiortc_offer.sdp").read_text()
    room = await server.Room()
    for offered, answered in (("actpass", "active"), ("passive", "active"), ("active", "passive")):
        pc = RTCPeerConnection(await room.Peer(f"endpoint-{offered}"))
        await pc.setRemoteDescription({"type": "offer", "sdp": text.replace("a=setup:actpass", f"a=setup:{offered}")})
        answer = sdp.parse((await pc.createAnswer()).sdp)
        assert {m.value("setup") for m in answer.media} == {answered}
        # Both sending sections became receivers, with aiortc's payload types.
        assert sorted(r.kind for r in pc.peer.rtpReceivers) == ["audio", "video"]
        pc.close()
    pc = RTCPeerConnection(await room.Peer("no-mid"))
    with pytest.raises(ValueError, match=r"SDP line \d+: m=audio has no a=mid"):
        await pc.setRemoteDescription({"type": "offer", "sdp": "\n".join(line for line in text.splitlines() if line != "a=mid:0")})
