"""mediasoup.webrtc.RTCPeerConnection with aiortc as a plain SDP endpoint
(no pymediasoup on that side)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

import mediasoup
from mediasoup.errors import InvalidStateError
from mediasoup.webrtc import RTCPeerConnection, RTCSessionDescription, sdp

from .clients import Subscriber, count_frames, until, use_loopback_only


@contextlib.asynccontextmanager
async def publishing(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[RTCPeerConnection, Any, Subscriber]]:
    """alice's RTCPeerConnection; her aiortc endpoint with an audio and a
    video track (nothing offered yet); bob, a pymediasoup subscriber."""
    from aiortc import RTCConfiguration
    from aiortc import RTCPeerConnection as AiortcPeerConnection
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    use_loopback_only(monkeypatch)
    room = await server.Room()
    alice, bob = await room.Peer("alice"), await room.Peer("bob")
    bob_client = Subscriber(room, bob)
    await bob_client.start()
    client = AiortcPeerConnection(RTCConfiguration(iceServers=[]))
    client.addTrack(AudioStreamTrack())
    client.addTrack(VideoStreamTrack())
    pc = RTCPeerConnection(alice)
    try:
        yield pc, client, bob_client
    finally:
        await client.close()
        pc.close()
        await bob_client.close()


async def test_an_aiortc_offer_publishes_to_the_room_and_a_subscriber_decodes_it(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiortc import RTCSessionDescription as AiortcDescription

    async with publishing(server, monkeypatch) as (pc, client, bob_client):
        alice = pc.peer
        states: list[str] = []
        pc.on("connectionstatechange", lambda: states.append(pc.connectionState))
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
        assert parsed.has("ice-lite") and parsed.bundle() == ["0", "1", "2", "3"]
        assert [(m.kind, m.port != 0, m.direction) for m in parsed.media] == [
            ("audio", True, "recvonly"),
            ("video", True, "recvonly"),
            ("video", True, "inactive"),
            ("application", True, "sendrecv"),
        ]
        assert parsed.media[3].value("sctp-port") == "5000" and parsed.media[3].formats == ["webrtc-datachannel"]
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
    session = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\n"
    session += "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\n"
    many = "".join(
        f"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:{index}\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\na=ssrc:{index + 1} cname:x\r\n"
        for index in range(33)
    )
    with pytest.raises(ValueError, match="at most 32 streams on one connection, not 33"):
        await pc.setRemoteDescription({"type": "offer", "sdp": session + many})
    with pytest.raises(ValueError, match="at most 1024 media sections, not 1025"):
        await pc.setRemoteDescription({"type": "offer", "sdp": session + "m=audio 0 UDP/TLS/RTP/SAVPF 111\r\n" * 1025})
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


async def test_an_offer_the_worker_refuses_leaves_nothing_and_a_corrected_one_connects(
    server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused after the transport and a receiver were made (a fingerprint,
    an SSRC the worker finds wrong): both are undone, and the same
    connection answers the endpoint's corrected offer and carries media."""
    import re

    from aiortc import RTCSessionDescription as AiortcDescription

    async with publishing(server, monkeypatch) as (pc, client, bob_client):
        alice = pc.peer
        await client.setLocalDescription(await client.createOffer())
        good = client.localDescription.sdp
        short_fingerprint = re.sub(r"a=fingerprint:sha-256 \S+", "a=fingerprint:sha-256 AB:CD", good)
        audio_ssrc = re.search(r"a=ssrc:(\d+) ", good.split("m=video")[0])
        assert audio_ssrc is not None
        video_ssrcs = sorted(set(re.findall(r"a=ssrc:(\d+) ", good.split("m=video")[1])))
        same_ssrc = good.split("m=video")[0] + "m=video" + good.split("m=video")[1].replace(video_ssrcs[0], audio_ssrc.group(1))
        twice = good.replace("a=mid:1", "a=mid:0")
        for bad, error in ((short_fingerprint, ValueError), (same_ssrc, ValueError), (twice, ValueError)):
            with pytest.raises(error):
                await pc.setRemoteDescription({"type": "offer", "sdp": bad})
            assert alice.transports == [] and alice.rtpReceivers == [] and pc.signalingState == "stable"
            dump = await alice.dump()
            assert (dump["transportIds"], dump["rtpReceiverIds"]) == ([], [])
        await pc.setRemoteDescription({"type": "offer", "sdp": good})
        await pc.setLocalDescription(await pc.createAnswer())
        await client.setRemoteDescription(AiortcDescription(sdp=pc.localDescription.sdp, type="answer"))
        await until(lambda: bob_client.frames.get("audio", 0) >= 20 and bob_client.frames.get("video", 0) >= 10, 20, lambda: bob_client.frames)
        assert pc.connectionState == "connected"


async def test_a_bundle_only_section_is_live_not_ended(server: mediasoup.Server) -> None:
    """RFC 8843: a max-bundle offerer marks every section past the first
    ``a=bundle-only`` with port 0; each is answered and received."""
    import re

    from aiortc import RTCConfiguration
    from aiortc import RTCPeerConnection as AiortcPeerConnection
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    room = await server.Room()
    pc = RTCPeerConnection(await room.Peer("alice"))
    client = AiortcPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        client.addTrack(AudioStreamTrack())
        client.addTrack(VideoStreamTrack())
        await client.setLocalDescription(await client.createOffer())
        offer = re.sub(r"m=video \d+", "m=video 0", client.localDescription.sdp).replace("a=mid:1\r\n", "a=mid:1\r\na=bundle-only\r\n")
        await pc.setRemoteDescription({"type": "offer", "sdp": offer})
        answer = sdp.parse((await pc.createAnswer()).sdp)
        assert [(m.kind, m.port != 0) for m in answer.media] == [("audio", True), ("video", True)]
        assert sorted(receiver.kind for receiver in pc.peer.rtpReceivers) == ["audio", "video"]
    finally:
        await client.close()
        pc.close()


async def test_streams_come_in_the_answer_or_by_renegotiation(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """bob offers to receive before anyone publishes: alice's streams reach
    him by an offer made here (negotiationneeded). carol offers to receive
    after: alice's streams are in the answer to her offer."""
    import asyncio

    from aiortc import RTCConfiguration
    from aiortc import RTCPeerConnection as AiortcPeerConnection
    from aiortc import RTCSessionDescription as AiortcDescription
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    use_loopback_only(monkeypatch)
    room = await server.Room()
    clients = {name: AiortcPeerConnection(RTCConfiguration(iceServers=[])) for name in ("alice", "bob", "carol")}
    pcs = {name: RTCPeerConnection(await room.Peer(name)) for name in clients}
    frames: dict[str, dict[str, int]] = {name: {} for name in clients}
    tasks: list[asyncio.Task[None]] = []

    async def first_exchange(name: str) -> sdp.SessionDescription:
        client, pc = clients[name], pcs[name]
        await client.setLocalDescription(await client.createOffer())
        await pc.setRemoteDescription({"type": "offer", "sdp": client.localDescription.sdp})
        await pc.setLocalDescription()
        assert pc.localDescription is not None and pc.signalingState == "stable"
        await client.setRemoteDescription(AiortcDescription(sdp=pc.localDescription.sdp, type="answer"))
        return sdp.parse(pc.localDescription.sdp)

    needed = {name: asyncio.Event() for name in clients}
    for name, pc in pcs.items():
        pc.on("negotiationneeded", needed[name].set)
    try:
        for name in ("bob", "carol"):
            count_frames(clients[name], frames[name], tasks)
            clients[name].addTransceiver("audio", direction="recvonly")
            clients[name].addTransceiver("video", direction="recvonly")
        # bob first: nothing to receive yet, his sections stay inactive.
        answer = await first_exchange("bob")
        assert [m.direction for m in answer.media] == ["inactive", "inactive"]
        clients["alice"].addTrack(AudioStreamTrack())
        clients["alice"].addTrack(VideoStreamTrack())
        await first_exchange("alice")
        alice_id = pcs["alice"].peer.id
        # bob: one negotiationneeded for both of alice's streams, then an offer made here.
        await asyncio.wait_for(needed["bob"].wait(), 5)
        bob = pcs["bob"]
        await until(lambda: len(bob.peer.rtpSenders) == 2 and all(s.transport is not None for s in bob.peer.rtpSenders), 5, lambda: bob.peer.rtpSenders)
        offer = await bob.createOffer()
        await bob.setLocalDescription()
        assert bob.signalingState == "have-local-offer" and bob.localDescription is offer
        senders = [m for m in sdp.parse(offer.sdp).media if m.direction == "sendonly"]
        assert sorted(m.kind for m in senders) == ["audio", "video"]
        assert {m.mid for m in senders} == {s.rtpParameters["mid"] for s in bob.peer.rtpSenders}
        assert all((m.value("msid") or "").startswith(f"{alice_id} ") for m in senders)
        await clients["bob"].setRemoteDescription(AiortcDescription(sdp=offer.sdp, type="offer"))
        await clients["bob"].setLocalDescription(await clients["bob"].createAnswer())
        await bob.setRemoteDescription({"type": "answer", "sdp": clients["bob"].localDescription.sdp})
        assert bob.signalingState == "stable"
        # carol after alice: alice's streams are in the answer, on carol's
        # recvonly sections, at carol's payload types.
        answer = await first_exchange("carol")
        offered = sdp.parse(clients["carol"].localDescription.sdp)
        assert [m.direction for m in answer.media] == ["sendonly", "sendonly"]
        carol = pcs["carol"]
        assert sorted(s.rtpParameters["mid"] for s in carol.peer.rtpSenders) == sorted(m.mid or "" for m in offered.media)
        for section, offered_section in zip(answer.media, offered.media):
            assert (section.value("msid") or "").startswith(f"{alice_id} ")
            offered_types = {codec.payload_type for codec in offered_section.codecs()}
            assert {codec.payload_type for codec in section.codecs()} <= offered_types
        # Both decode alice's audio and video, without reconnecting.
        wanted = [(name, kind) for name in ("bob", "carol") for kind in ("audio", "video")]
        await until(lambda: all(frames[name].get(kind, 0) >= (50 if kind == "audio" else 20) for name, kind in wanted), 20, lambda: frames)
        assert bob.connectionState == carol.connectionState == "connected"
        # Nothing more to negotiate until something changes.
        await asyncio.sleep(0.2)
        assert not needed["carol"].is_set()
        needed["bob"].clear()
        await asyncio.sleep(0.2)
        assert not needed["bob"].is_set()
    finally:
        for task in tasks:
            task.cancel()
        for client in clients.values():
            await client.close()
        for pc in pcs.values():
            pc.close()


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


async def _publish_with_aiortc(pc: RTCPeerConnection) -> Any:
    """An aiortc endpoint sending audio and video to `pc` (offer, answer)."""
    from aiortc import RTCConfiguration
    from aiortc import RTCPeerConnection as AiortcPeerConnection
    from aiortc import RTCSessionDescription as AiortcDescription
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    client = AiortcPeerConnection(RTCConfiguration(iceServers=[]))
    client.addTrack(AudioStreamTrack())
    client.addTrack(VideoStreamTrack())
    await client.setLocalDescription(await client.createOffer())
    await pc.setRemoteDescription({"type": "offer", "sdp": client.localDescription.sdp})
    await pc.setLocalDescription()
    assert pc.localDescription is not None
    await client.setRemoteDescription(AiortcDescription(sdp=pc.localDescription.sdp, type="answer"))
    return client


class Viewing:
    """alice publishing audio and video from aiortc through her
    RTCPeerConnection, and a viewer: its RTCPeerConnection (``pc``), its
    aiortc endpoint (``endpoint``), the frames the endpoint decodes, and how
    often ``pc`` fired negotiationneeded."""

    def __init__(self, alice_pc: RTCPeerConnection, pc: RTCPeerConnection, endpoint: Any) -> None:
        self.alice_pc, self.pc, self.endpoint = alice_pc, pc, endpoint
        self.alice: Any = None
        self.frames: dict[str, int] = {}
        self.tasks: list[Any] = []
        self.needed: list[bool] = []
        count_frames(endpoint, self.frames, self.tasks)
        pc.on("negotiationneeded", lambda: self.needed.append(True))

    async def endpoint_offers(self, offer: str | None = None) -> sdp.SessionDescription:
        """The endpoint's offer (or ``offer``) applied and answered; the
        answer given to the endpoint unless ``offer`` was edited by hand."""
        from aiortc import RTCSessionDescription as AiortcDescription

        if offer is None:
            await self.endpoint.setLocalDescription(await self.endpoint.createOffer())
        await self.pc.setRemoteDescription({"type": "offer", "sdp": offer or self.endpoint.localDescription.sdp})
        await self.pc.setLocalDescription()
        assert self.pc.localDescription is not None
        if offer is None:
            await self.endpoint.setRemoteDescription(AiortcDescription(sdp=self.pc.localDescription.sdp, type="answer"))
        return sdp.parse(self.pc.localDescription.sdp)

    async def pc_offers(self) -> None:
        """An offer made here, answered by the endpoint."""
        from aiortc import RTCSessionDescription as AiortcDescription

        await self.pc.setLocalDescription(await self.pc.createOffer())
        assert self.pc.localDescription is not None
        await self.endpoint.setRemoteDescription(AiortcDescription(sdp=self.pc.localDescription.sdp, type="offer"))
        await self.endpoint.setLocalDescription(await self.endpoint.createAnswer())
        await self.pc.setRemoteDescription({"type": "answer", "sdp": self.endpoint.localDescription.sdp})


@contextlib.asynccontextmanager
async def viewing(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Viewing]:
    from aiortc import RTCConfiguration
    from aiortc import RTCPeerConnection as AiortcPeerConnection

    use_loopback_only(monkeypatch)
    room = await server.Room()
    scene = Viewing(
        RTCPeerConnection(await room.Peer("alice")), RTCPeerConnection(await room.Peer("viewer")), AiortcPeerConnection(RTCConfiguration(iceServers=[]))
    )
    try:
        scene.alice = await _publish_with_aiortc(scene.alice_pc)
        yield scene
    finally:
        for task in scene.tasks:
            task.cancel()
        for client in (scene.alice, scene.endpoint):
            if client is not None:
                await client.close()
        scene.alice_pc.close()
        scene.pc.close()


async def test_sendrecv_sections_carry_a_stream_each_way(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """dave publishes with sendrecv sections (addTrack) after alice: his
    sections bring alice's streams back to him, on the mids he publishes on."""
    import asyncio

    from aiortc import RTCConfiguration
    from aiortc import RTCPeerConnection as AiortcPeerConnection
    from aiortc import RTCSessionDescription as AiortcDescription
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    use_loopback_only(monkeypatch)
    room = await server.Room()
    alice_pc = RTCPeerConnection(await room.Peer("alice"))
    dave_pc = RTCPeerConnection(await room.Peer("dave"))
    watcher = Subscriber(room, await room.Peer("watcher"))
    alice = dave = None
    frames: dict[str, int] = {}
    tasks: list[Any] = []
    try:
        alice = await _publish_with_aiortc(alice_pc)
        assert len(alice_pc.peer.rtpReceivers) == 2
        dave = AiortcPeerConnection(RTCConfiguration(iceServers=[]))
        count_frames(dave, frames, tasks)
        dave.addTrack(AudioStreamTrack())
        dave.addTrack(VideoStreamTrack())
        await dave.setLocalDescription(await dave.createOffer())
        await dave_pc.setRemoteDescription({"type": "offer", "sdp": dave.localDescription.sdp})
        answer = await dave_pc.createAnswer()
        await dave_pc.setLocalDescription(answer)
        parsed = sdp.parse(answer.sdp)
        assert [m.direction for m in parsed.media] == ["sendrecv", "sendrecv"]
        mids = {s.rtpParameters["mid"] for s in dave_pc.peer.rtpSenders}
        assert mids == {r.rtpParameters["mid"] for r in dave_pc.peer.rtpReceivers} == {"0", "1"}
        await dave.setRemoteDescription(AiortcDescription(sdp=answer.sdp, type="answer"))
        # dave decodes alice; a third peer decodes both (dave's media came in on the shared mids).
        await watcher.start()
        await until(lambda: frames.get("audio", 0) >= 50 and frames.get("video", 0) >= 20, 20, lambda: frames)
        wanted = [(name, kind) for name in ("alice", "dave") for kind in ("audio", "video")]
        await until(lambda: all(watcher.frames_from.get(key, 0) >= 20 for key in wanted), 20, lambda: watcher.frames_from)
        # alice leaves: dave's sections go on receiving only, by an offer made here.
        needed = asyncio.Event()
        dave_pc.on("negotiationneeded", needed.set)
        alice_pc.close()
        await asyncio.wait_for(needed.wait(), 5)
        offer = sdp.parse((await dave_pc.createOffer()).sdp)
        assert [m.direction for m in offer.media] == ["recvonly", "recvonly"]
        assert not any(m.has("msid") or m.has("ssrc") for m in offer.media)
    finally:
        for task in tasks:
            task.cancel()
        for client in (alice, dave):
            if client is not None:
                await client.close()
        await watcher.close()
        dave_pc.close()


async def test_the_server_offers_first(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """createOffer() before any remote description: the room's capabilities,
    a=setup:actpass, the endpoint's answer settles the DTLS role."""
    from aiortc import RTCConfiguration
    from aiortc import RTCPeerConnection as AiortcPeerConnection
    from aiortc import RTCSessionDescription as AiortcDescription

    use_loopback_only(monkeypatch)
    room = await server.Room()
    alice_pc = RTCPeerConnection(await room.Peer("alice"))
    viewer_pc = RTCPeerConnection(await room.Peer("viewer"))
    alice = viewer = None
    frames: dict[str, int] = {}
    tasks: list[Any] = []
    try:
        needed: list[bool] = []
        viewer_pc.on("negotiationneeded", lambda: needed.append(True))
        with pytest.raises(InvalidStateError, match="nothing to offer"):
            await viewer_pc.createOffer()
        assert viewer_pc.transport is None and viewer_pc.peer.transports == []
        alice = await _publish_with_aiortc(alice_pc)
        assert len(alice_pc.peer.rtpReceivers) == 2
        # The same connection hears when there is something to offer.
        await until(lambda: needed, 5, lambda: needed)
        offer = await viewer_pc.createOffer()
        await viewer_pc.setLocalDescription()
        assert viewer_pc.signalingState == "have-local-offer" and viewer_pc.localDescription is offer
        assert viewer_pc.peer.capabilities is not None
        parsed = sdp.parse(offer.sdp)
        assert [(m.kind, m.direction, m.value("setup")) for m in parsed.media] == [("audio", "sendonly", "actpass"), ("video", "sendonly", "actpass")]
        viewer = AiortcPeerConnection(RTCConfiguration(iceServers=[]))
        count_frames(viewer, frames, tasks)
        await viewer.setRemoteDescription(AiortcDescription(sdp=offer.sdp, type="offer"))
        await viewer.setLocalDescription(await viewer.createAnswer())
        await viewer_pc.setRemoteDescription({"type": "answer", "sdp": viewer.localDescription.sdp})
        assert viewer_pc.signalingState == "stable"
        await until(lambda: frames.get("audio", 0) >= 50 and frames.get("video", 0) >= 20, 20, lambda: frames)
        assert viewer_pc.connectionState == "connected"
        # The role is settled: a later offer says it.
        taken = sdp.parse(viewer.localDescription.sdp).media[0].value("setup")
        again = sdp.parse((await viewer_pc.createOffer()).sdp)
        assert {m.value("setup") for m in again.media} == {"passive" if taken == "active" else "active"}
        # close() closes the peer, and with it its transport and senders.
        peer = viewer_pc.peer
        viewer_pc.close()
        assert peer.closed and viewer_pc.connectionState == viewer_pc.signalingState == "closed"
    finally:
        for task in tasks:
            task.cancel()
        for client in (alice, viewer):
            if client is not None:
                await client.close()
        alice_pc.close()
        viewer_pc.close()


async def test_rollback_and_glare_leave_the_connection_usable(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """An offer made here can be rolled back (W3C); the endpoint's offer
    crossing one of ours wins (this side is the polite one): ours is rolled
    back, theirs answered, and the connection carries media."""
    async with viewing(server, monkeypatch) as scene:
        pc, needed = scene.pc, scene.needed
        ours = await pc.createOffer()
        await pc.setLocalDescription(ours)
        assert pc.signalingState == "have-local-offer"
        await pc.setLocalDescription({"type": "rollback"})  # as browsers send it: no sdp
        assert pc.signalingState == "stable" and pc.localDescription is None
        await until(lambda: needed, 5, lambda: needed)  # its streams still want a section
        with pytest.raises(InvalidStateError, match="rollback is of an offer made here"):
            await pc.setRemoteDescription({"type": "rollback", "sdp": ""})
        await pc.setLocalDescription(await pc.createOffer())
        # An offer crossing ours that is refused leaves ours out.
        with pytest.raises(ValueError, match="SDP line"):
            await pc.setRemoteDescription({"type": "offer", "sdp": "v=0\r\nnot sdp\r\n"})
        assert pc.signalingState == "have-local-offer" and pc.localDescription is not None
        # Glare: the endpoint offers too, to receive.
        scene.endpoint.addTransceiver("audio", direction="recvonly")
        scene.endpoint.addTransceiver("video", direction="recvonly")
        asked = len(needed)
        await scene.endpoint_offers()
        # What the rolled-back offer carried is offered again (perfect negotiation).
        await until(lambda: len(needed) > asked, 5, lambda: needed)
        await scene.pc_offers()
        await until(lambda: scene.frames.get("audio", 0) >= 20 and scene.frames.get("video", 0) >= 10, 20, lambda: scene.frames)
        assert pc.connectionState == "connected"
        # The offer made before the endpoint's is gone: setting it now is refused.
        with pytest.raises(InvalidStateError):
            await pc.setLocalDescription(ours)


async def test_the_endpoint_offers_again(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """A viewer that starts publishing later re-offers (W3C: either side may
    offer in 'stable'): its camera (on the video section it received on,
    now sendrecv, as addTrack reuses it) becomes a receiver the others get
    by renegotiation, while what it received keeps flowing; when it stops
    sending, the receiver ends."""
    import asyncio

    from aiortc import RTCConfiguration
    from aiortc import RTCPeerConnection as AiortcPeerConnection
    from aiortc import RTCSessionDescription as AiortcDescription
    from aiortc.mediastreams import VideoStreamTrack

    use_loopback_only(monkeypatch)
    room = await server.Room()
    alice_pc = RTCPeerConnection(await room.Peer("alice"))
    bob_pc = RTCPeerConnection(await room.Peer("bob"))
    alice = None
    bob = AiortcPeerConnection(RTCConfiguration(iceServers=[]))
    frames: dict[str, int] = {}
    tasks: list[Any] = []
    count_frames(bob, frames, tasks)

    async def offer_from_bob() -> sdp.SessionDescription:
        await bob.setLocalDescription(await bob.createOffer())
        await bob_pc.setRemoteDescription({"type": "offer", "sdp": bob.localDescription.sdp})
        await bob_pc.setLocalDescription()
        assert bob_pc.localDescription is not None
        await bob.setRemoteDescription(AiortcDescription(sdp=bob_pc.localDescription.sdp, type="answer"))
        return sdp.parse(bob_pc.localDescription.sdp)

    try:
        alice = await _publish_with_aiortc(alice_pc)
        bob.addTransceiver("audio", direction="recvonly")
        bob.addTransceiver("video", direction="recvonly")
        answer = await offer_from_bob()
        assert [m.direction for m in answer.media] == ["sendonly", "sendonly"]
        await until(lambda: frames.get("video", 0) >= 10, 20, lambda: frames)
        # bob starts his camera: a new section, a new receiver; alice is told.
        needed = asyncio.Event()
        alice_pc.on("negotiationneeded", needed.set)
        camera = bob.addTrack(VideoStreamTrack())
        answer = await offer_from_bob()
        assert [m.direction for m in answer.media] == ["sendonly", "sendrecv"]
        assert [(r.kind, r.rtpParameters["mid"]) for r in bob_pc.peer.rtpReceivers] == [("video", "1")]
        await asyncio.wait_for(needed.wait(), 5)
        alice_frames: dict[str, int] = {}
        count_frames(alice, alice_frames, tasks)
        await alice_pc.setLocalDescription(await alice_pc.createOffer())
        assert alice_pc.localDescription is not None
        await alice.setRemoteDescription(AiortcDescription(sdp=alice_pc.localDescription.sdp, type="offer"))
        await alice.setLocalDescription(await alice.createAnswer())
        await alice_pc.setRemoteDescription({"type": "answer", "sdp": alice.localDescription.sdp})
        before = frames.get("video", 0)
        await until(lambda: alice_frames.get("video", 0) >= 10 and frames.get("video", 0) >= before + 10, 20, lambda: (alice_frames, frames))
        # Sections out of their agreed order are refused, and change nothing.
        text = bob.localDescription.sdp.replace("a=mid:0", "a=mid:x").replace("a=mid:1", "a=mid:0").replace("a=mid:x", "a=mid:1")
        with pytest.raises(ValueError, match="keeps the sections agreed so far"):
            await bob_pc.setRemoteDescription({"type": "offer", "sdp": text})
        assert bob_pc.signalingState == "stable"
        # bob stops sending: his receiver ends, alice's video goes on.
        next(t for t in bob.getTransceivers() if t.sender is camera).direction = "recvonly"
        answer = await offer_from_bob()
        assert answer.media[1].direction == "sendonly" and bob_pc.peer.rtpReceivers == []
        before = frames.get("video", 0)
        await until(lambda: frames.get("video", 0) >= before + 10, 20, lambda: frames)
    finally:
        for task in tasks:
            task.cancel()
        for client in (alice, bob):
            if client is not None:
                await client.close()
        alice_pc.close()
        bob_pc.close()


async def test_a_section_the_endpoint_ends_stops_its_stream_once(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The endpoint stops the transceiver alice's audio comes on (its offer
    has that m-line at port 0): the stream stops, negotiationneeded does not
    fire over and over for it, and when the endpoint reuses the m-line for
    another section, the stream is offered again in a section of its own."""
    import asyncio
    import re

    async with viewing(server, monkeypatch) as scene:
        scene.endpoint.addTransceiver("audio", direction="recvonly")
        scene.endpoint.addTransceiver("video", direction="recvonly")
        await scene.endpoint_offers()
        offer = scene.endpoint.localDescription.sdp
        audio = next(sender for sender in scene.pc.peer.rtpSenders if sender.kind == "audio")
        await until(lambda: audio.active, 5, lambda: audio)
        # The audio m-line ended (port 0), as a stopped transceiver's is.
        ended = re.sub(r"m=audio \d+", "m=audio 0", offer, count=1)
        answer = await scene.endpoint_offers(ended)
        assert answer.media[0].port == 0 and not audio.active and not audio.closed
        await asyncio.sleep(0.3)
        assert scene.needed == []
        # The m-line reused for a new section (a new mid): the stream is missing again.
        reused = ended.replace("m=audio 0", "m=audio 9", 1).replace("a=mid:0", "a=mid:9", 1)
        answer = await scene.endpoint_offers(reused.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 9 1"))
        assert [m.mid for m in answer.media] == ["9", "1"]
        await until(lambda: scene.needed, 5, lambda: scene.needed)
        again = sdp.parse((await scene.pc.createOffer()).sdp)
        assert [(m.mid, m.kind, m.direction) for m in again.media][2:] == [(audio.rtpParameters["mid"], "audio", "sendonly")]
        assert len(scene.needed) == 1


async def test_a_stream_published_while_an_offer_is_applied_is_placed_and_sent(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """alice publishes while bob's offer (to receive) is being applied, after
    bob's transport exists: her senders to bob are either placed in bob's
    answer or attached for a later offer, never both; placed ones send (a
    race that left them paused: bob had the tracks and no packets)."""
    import asyncio

    from aiortc import RTCConfiguration
    from aiortc import RTCPeerConnection as AiortcPeerConnection
    from aiortc import RTCSessionDescription as AiortcDescription

    use_loopback_only(monkeypatch)
    room = await server.Room()
    alice, bob = RTCPeerConnection(await room.Peer("alice")), RTCPeerConnection(await room.Peer("bob"))
    client = AiortcPeerConnection(RTCConfiguration(iceServers=[]))
    publisher: list[Any] = []
    frames: dict[str, int] = {}
    tasks: list[asyncio.Task[None]] = []
    open_transport = bob._open_transport

    async def open_then_publish(**options: Any) -> None:
        await open_transport(**options)
        publisher.append(await _publish_with_aiortc(alice))

    monkeypatch.setattr(bob, "_open_transport", open_then_publish)
    needed = asyncio.Event()
    bob.on("negotiationneeded", needed.set)
    try:
        count_frames(client, frames, tasks)
        client.addTransceiver("audio", direction="recvonly")
        client.addTransceiver("video", direction="recvonly")
        await client.setLocalDescription(await client.createOffer())
        await bob.setRemoteDescription({"type": "offer", "sdp": client.localDescription.sdp})
        await bob.setLocalDescription()
        assert bob.localDescription is not None and publisher
        await client.setRemoteDescription(AiortcDescription(sdp=bob.localDescription.sdp, type="answer"))
        placed = [m for m in sdp.parse(bob.localDescription.sdp).media if m.direction == "sendonly"]
        if len(placed) < 2:
            # Attached rather than placed: they come by an offer made here.
            await asyncio.wait_for(needed.wait(), 5)
            await bob.setLocalDescription(await bob.createOffer())
            assert bob.localDescription is not None
            await client.setRemoteDescription(AiortcDescription(sdp=bob.localDescription.sdp, type="offer"))
            await client.setLocalDescription(await client.createAnswer())
            await bob.setRemoteDescription({"type": "answer", "sdp": client.localDescription.sdp})
        await until(lambda: frames.get("audio", 0) >= 50 and frames.get("video", 0) >= 20, 20, lambda: (frames, len(placed)))
        senders = bob.peer.rtpSenders
        assert len(senders) == 2 and all(sender.active for sender in senders)
        assert len(bob._senders) == 2
    finally:
        for task in tasks:
            task.cancel()
        for endpoint in [client, *publisher]:
            await endpoint.close()
        alice.close()
        bob.close()


async def test_negotiationneeded_fires_again_after_an_offer_that_found_nothing(server: mediasoup.Server) -> None:
    """A stream appears (negotiationneeded) and goes before the app offers:
    its createOffer() finds nothing again, and the next stream is told too."""
    room = await server.Room()
    viewer = RTCPeerConnection(await room.Peer("viewer"))
    needed: list[bool] = []
    viewer.on("negotiationneeded", lambda: needed.append(True))
    alice = await room.Peer("alice")
    await alice.setCapabilities(room.rtpCapabilities)
    direct = await alice.createDirectTransport()
    opus = {"mimeType": "audio/opus", "payloadType": 100, "clockRate": 48000, "channels": 2}
    try:
        with pytest.raises(InvalidStateError, match="nothing to offer"):
            await viewer.createOffer()
        for ssrc in (1111, 2222):
            stream = alice.RtpReceiver("audio", direct)
            await stream.receive({"codecs": [opus], "encodings": [{"ssrc": ssrc}], "rtcp": {"cname": "a"}})
            await until(lambda: len(needed) == (1 if ssrc == 1111 else 2), 5, lambda: needed)
            stream.close()  # gone before the app offered
            await until(lambda: all(sender.closed for sender in viewer.peer.rtpSenders), 5, lambda: viewer.peer.rtpSenders)
            with pytest.raises(InvalidStateError, match="nothing to offer"):
                await viewer.createOffer()
    finally:
        viewer.close()
