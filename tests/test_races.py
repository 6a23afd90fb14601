"""Races and cancellations through the Python API, as an asyncio app meets
them (``asyncio.wait_for`` around a call, a client gone mid-request, a
listener that closes what it is told about, two signalling messages at
once): each call ends with an answer or a clear error, and the worker keeps
nothing that no Python object holds (its dumps say so)."""

from __future__ import annotations

import asyncio
from typing import Any

import mediasoup
import pytest
from mediasoup.errors import InvalidStateError
from mediasoup.webrtc import RTCPeerConnection

from .clients import until, use_loopback_only

OPUS = {"mimeType": "audio/opus", "payloadType": 100, "clockRate": 48000, "channels": 2}


def audio(ssrc: int) -> dict[str, Any]:
    return {"codecs": [OPUS], "encodings": [{"ssrc": ssrc}], "rtcp": {"cname": "races"}}


async def capable_peer(room: mediasoup.Room, name: str) -> mediasoup.Peer:
    """A peer that takes every codec of the room."""
    peer = await room.Peer(name)
    await peer.setCapabilities(room.rtpCapabilities)
    return peer


async def in_flight(call: Any) -> asyncio.Future[Any]:
    """``call`` started, its request sent to the worker and not yet answered."""
    task = asyncio.ensure_future(call)
    await asyncio.sleep(0)
    assert not task.done()
    return task


async def cancelled(call: Any) -> None:
    task = await in_flight(call)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_calls_cancelled_mid_request_leave_nothing_in_the_worker(server: mediasoup.Server) -> None:
    room = await server.Room()
    peer = await capable_peer(room, "alice")
    await cancelled(peer.createTransport(enableSctp=True))
    await cancelled(peer.createDirectTransport())
    await cancelled(peer.createPlainTransport())
    transport = await peer.createTransport(enableSctp=True)
    media = peer.RtpReceiver("audio", transport)
    await cancelled(media.receive(audio(1111)))
    data = peer.DataReceiver(transport)
    await cancelled(data.receive({"sctpStreamParameters": {"streamId": 3}, "label": "chat"}))

    async def held() -> dict[str, Any]:
        return dict(await peer.dump())

    # The worker answered each request, then was told to undo it.
    for _ in range(100):
        dump = await held()
        if dump["transportIds"] == [transport.id] and not dump["rtpReceiverIds"] and not dump["dataReceiverIds"]:
            break
        await asyncio.sleep(0.02)
    assert (dump["transportIds"], dump["rtpReceiverIds"], dump["dataReceiverIds"]) == ([transport.id], [], []), dump
    assert list(peer.transports) == [transport]
    # Each can be made again; a channel's stream id is held until the
    # association is up (str0m resets it then), a clear error meanwhile.
    await peer.RtpReceiver("audio", transport).receive(audio(1111))
    with pytest.raises(ValueError, match="SCTP stream 3 is taken"):
        await peer.DataReceiver(transport).receive({"sctpStreamParameters": {"streamId": 3}, "label": "chat"})
    await peer.DataReceiver(transport).receive({"sctpStreamParameters": {"streamId": 4}, "label": "chat"})
    dump = await held()
    assert (len(dump["rtpReceiverIds"]), len(dump["dataReceiverIds"])) == (1, 1), dump
    assert (await transport.getStats())[0]["dtlsState"] == "new"  # the transport lives


async def test_a_subscription_outlives_the_cancelled_call_that_made_it(server: mediasoup.Server) -> None:
    """setCapabilities() cancelled while the senders of the room's streams are
    being made: they are the peer's, made all the same."""
    room = await server.Room()
    alice = await capable_peer(room, "alice")
    sending = await alice.createDirectTransport()
    receivers = [alice.RtpReceiver("audio", sending) for _ in range(5)]
    for index, receiver in enumerate(receivers):
        await receiver.receive(audio(2000 + index))
    bob = await room.Peer("bob")
    task = await in_flight(bob.setCapabilities(room.rtpCapabilities))
    while bob.capabilities is None:  # the capabilities are set, the senders under way
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await until(lambda: len(bob.rtpSenders) == 5, 5, lambda: bob.rtpSenders)
    senders = (await room.dump())["rtpReceivers"]
    assert sorted(len(senders[receiver.id]) for receiver in receivers) == [1] * 5


async def test_a_transport_cancelled_while_its_data_senders_are_made_is_closed(server: mediasoup.Server) -> None:
    """createTransport() / createDirectTransport() cancelled after the worker
    made the transport, while the senders of the room's data channels are
    being made: the caller never got it, so it is closed; the senders are
    the peer's and stay."""
    room = await server.Room()
    alice = await capable_peer(room, "alice")
    sending = await alice.createDirectTransport()
    for stream in range(4):
        await alice.DataReceiver(sending).receive({"sctpStreamParameters": {"streamId": stream}, "label": f"chat{stream}"})
    for name, direct in (("bob", False), ("carol", True)):
        peer = await capable_peer(room, name)
        made: list[mediasoup.Transport | mediasoup.DirectTransport] = []
        peer.on("newtransport", made.append)
        task = await in_flight(peer.createDirectTransport() if direct else peer.createTransport(enableSctp=True))
        while not made:  # the transport is made, its data senders under way
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert made[0].closed and peer.transports == []
        await until_async(lambda: peer.dump(), lambda dump: not dump["transportIds"], 5)
        assert len(peer.dataSenders) == 4 and all(sender.transport is None and not sender.closed for sender in peer.dataSenders)
        # A transport made now takes them.
        transport = await peer.createDirectTransport()
        for sender in peer.dataSenders:
            await sender.setTransport(transport)
        assert (await peer.dump())["transportIds"] == [transport.id]


async def test_wider_capabilities_later_get_the_streams_the_first_ones_could_not_decode(server: mediasoup.Server) -> None:
    room = await server.Room()
    alice = await capable_peer(room, "alice")
    receiver = alice.RtpReceiver("audio", await alice.createDirectTransport())
    await receiver.receive(audio(3000))
    bob = await room.Peer("bob")
    video_only = dict(room.rtpCapabilities)
    video_only["codecs"] = [codec for codec in room.rtpCapabilities["codecs"] if codec["kind"] == "video"]
    await bob.setCapabilities(video_only)
    assert bob.rtpSenders == []
    await bob.setCapabilities(room.rtpCapabilities)
    assert [sender.associatedRtpReceiver for sender in bob.rtpSenders] == [receiver]


async def test_a_listener_that_closes_senders_as_their_transport_closes(server: mediasoup.Server) -> None:
    """``activechange(False)`` fires on each sender as their transport
    closes; a listener closing them must not stop the transport's close."""
    room = await server.Room()
    alice = await capable_peer(room, "alice")
    sending = await alice.createDirectTransport()
    for index in range(3):
        await alice.RtpReceiver("audio", sending).receive(audio(4000 + index))
    bob = await capable_peer(room, "bob")
    transport = await bob.createDirectTransport()
    for sender in bob.rtpSenders:
        await sender.setTransport(transport)
        sender.on("activechange", lambda active, sender=sender: active or sender.close())
    closes: list[Any] = []
    transport.on("close", closes.append)
    transport.close()
    assert transport.closed and closes == [None] and bob.transports == [] and bob.rtpSenders == []
    await until_async(lambda: bob.dump(), lambda dump: dump["transportIds"] == [], 5)


async def until_async(call: Any, done: Any, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not done(answer := await call()):
        assert loop.time() < deadline, answer
        await asyncio.sleep(0.02)


async def test_a_receiver_closed_while_it_is_being_made(server: mediasoup.Server) -> None:
    """close() before the worker answered receive(): receive() raises, the
    worker's receiver goes, and peers that come later get no sender of it."""
    room = await server.Room()
    alice = await capable_peer(room, "alice")
    transport = await alice.createTransport(enableSctp=True)
    data = alice.DataReceiver(transport)
    media = alice.RtpReceiver("audio", transport)
    making = [await in_flight(data.receive({"sctpStreamParameters": {"streamId": 5}, "label": "chat"})), await in_flight(media.receive(audio(5000)))]
    data.close()
    media.close()
    for task in making:
        with pytest.raises(InvalidStateError, match="closed while"):
            await task
    await until_async(lambda: alice.dump(), lambda dump: not dump["dataReceiverIds"] and not dump["rtpReceiverIds"], 5)
    bob = await capable_peer(room, "bob")
    await bob.createTransport(enableSctp=True)
    assert bob.dataSenders == [] and bob.rtpSenders == []


async def test_a_sender_moved_to_a_transport_that_closes_meanwhile(server: mediasoup.Server) -> None:
    room = await server.Room()
    alice = await capable_peer(room, "alice")
    await alice.RtpReceiver("audio", await alice.createDirectTransport()).receive(audio(6000))
    bob = await capable_peer(room, "bob")
    [sender] = bob.rtpSenders
    transport = await bob.createDirectTransport()
    moving = await in_flight(sender.setTransport(transport))
    transport.close()
    with pytest.raises(InvalidStateError, match="closed while"):
        await moving
    assert sender.transport is None and not sender.active and not sender.closed
    # The sender is usable: on a new transport it sends.
    again = await bob.createDirectTransport()
    await sender.setTransport(again)
    assert sender.transport is again and sender.active


async def test_two_offers_at_once_are_applied_one_after_the_other(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """W3C's operations chain: concurrent calls run in turn; the second offer
    meets 'have-remote-offer' and raises, and one transport is made."""
    from aiortc import RTCConfiguration
    from aiortc import RTCPeerConnection as AiortcPeerConnection

    use_loopback_only(monkeypatch)
    room = await server.Room()
    peer = await room.Peer("alice")
    pc = RTCPeerConnection(peer)
    client = AiortcPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        client.addTransceiver("audio", direction="recvonly")
        await client.setLocalDescription(await client.createOffer())
        offer = {"type": "offer", "sdp": client.localDescription.sdp}
        outcomes = await asyncio.gather(pc.setRemoteDescription(offer), pc.setRemoteDescription(offer), return_exceptions=True)
        assert outcomes[0] is None and isinstance(outcomes[1], InvalidStateError), outcomes
        assert len(peer.transports) == 1 and pc.signalingState == "have-remote-offer"
        assert (await peer.dump())["transportIds"] == [peer.transports[0].id]
        answer, _ = await asyncio.gather(pc.createAnswer(), pc.setLocalDescription())
        assert answer.type == "answer" and pc.signalingState == "stable"
    finally:
        await client.close()
        pc.close()


async def test_a_connection_closes_with_its_room(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiortc import RTCConfiguration
    from aiortc import RTCPeerConnection as AiortcPeerConnection

    use_loopback_only(monkeypatch)
    room = await server.Room()
    pc = RTCPeerConnection(await room.Peer("alice"))
    states: list[tuple[str, str]] = []
    pc.on("connectionstatechange", lambda: states.append(("connection", pc.connectionState)))
    pc.on("signalingstatechange", lambda: states.append(("signaling", pc.signalingState)))
    client = AiortcPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        client.addTransceiver("audio", direction="recvonly")
        await client.setLocalDescription(await client.createOffer())
        await pc.setRemoteDescription({"type": "offer", "sdp": client.localDescription.sdp})
        room.close()
        assert (pc.connectionState, pc.signalingState) == ("closed", "closed")
        assert states[-2:] == [("connection", "closed"), ("signaling", "closed")], states
        with pytest.raises(InvalidStateError):
            await pc.createAnswer()
    finally:
        await client.close()


async def test_negotiation_needed_fires_again_after_answering_the_endpoint_s_offer(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """negotiationneeded fired and the app's offer lost the race to the
    endpoint's: once that offer is answered (back in 'stable'), what is
    still not negotiated fires negotiationneeded again."""
    from aiortc import RTCConfiguration, RTCSessionDescription
    from aiortc import RTCPeerConnection as AiortcPeerConnection

    use_loopback_only(monkeypatch)
    room = await server.Room()
    alice = await capable_peer(room, "alice")
    publishing = await alice.createDirectTransport()
    await alice.RtpReceiver("audio", publishing).receive(audio(7000))
    bob = await room.Peer("bob")
    await bob.setCapabilities(room.rtpCapabilities)  # it takes video, its endpoint's offers have none
    pc = RTCPeerConnection(bob)
    needed: list[str] = []
    pc.on("negotiationneeded", lambda: needed.append(pc.signalingState))
    client = AiortcPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        client.addTransceiver("audio", direction="recvonly")

        async def endpoint_offers() -> None:
            await client.setLocalDescription(await client.createOffer())
            await pc.setRemoteDescription({"type": "offer", "sdp": client.localDescription.sdp})
            await pc.setLocalDescription()
            await client.setRemoteDescription(RTCSessionDescription(sdp=pc.localDescription.sdp, type="answer"))

        await endpoint_offers()
        assert needed == []
        video = {"codecs": [{"mimeType": "video/VP8", "payloadType": 101, "clockRate": 90000}], "encodings": [{"ssrc": 7001}], "rtcp": {"cname": "races"}}
        await alice.RtpReceiver("video", publishing).receive(video)
        await until(lambda: needed == ["stable"], 5, lambda: needed)
        # The app's offer would go now; the endpoint's comes first, with no section for the video.
        await endpoint_offers()
        await until(lambda: needed == ["stable", "stable"], 5, lambda: needed)
        with pytest.raises(InvalidStateError):
            await pc.setRemoteDescription({"type": "answer", "sdp": client.localDescription.sdp})
    finally:
        await client.close()
        pc.close()


async def test_a_receive_called_again_right_after_a_cancelled_one_receives(server: mediasoup.Server) -> None:
    """The second call waits for the first's answer and undo, then goes."""
    room = await server.Room()
    peer = await capable_peer(room, "alice")
    transport = await peer.createTransport(enableSctp=True)
    media = peer.RtpReceiver("audio", transport)
    await cancelled(media.receive(audio(8000)))
    await media.receive(audio(8000))
    data = peer.DataReceiver(transport)
    await cancelled(data.receive({"sctpStreamParameters": {"streamId": 6}, "label": "chat"}))
    await data.receive({"sctpStreamParameters": {"streamId": 7}, "label": "chat"})
    dump = await peer.dump()
    assert (dump["rtpReceiverIds"], dump["dataReceiverIds"]) == ([media.id], [data.id])


async def test_a_receive_called_again_as_the_cancelled_one_is_answered_receives(server: mediasoup.Server) -> None:
    """The cancelled call's answer is in, its undo not sent yet: the next
    receive() still goes after the undo (it went first, and the worker
    closed what it had just made)."""
    room = await server.Room()
    peer = await capable_peer(room, "alice")
    transport = await peer.createDirectTransport()
    for attempt in range(20):
        media = peer.RtpReceiver("audio", transport)
        await cancelled(media.receive(audio(10_000 + attempt)))
        answered = media._receiving
        assert answered is not None
        while not answered.done():
            await asyncio.sleep(0)
        await media.receive(audio(10_000 + attempt))
        assert media.id in (await peer.dump())["rtpReceiverIds"], attempt


async def test_a_track_of_a_sender_closed_already_ends(server: mediasoup.Server) -> None:
    """aiortc's consumers take MediaStreamError as the end of a track."""
    from mediasoup.media import MediaStreamError, RemoteTrack

    room = await server.Room()
    alice = await capable_peer(room, "alice")
    await alice.RtpReceiver("audio", await alice.createDirectTransport()).receive(audio(9000))
    agent = await room.Peer("agent")
    await agent.createDirectTransport()
    [sender] = agent.rtpSenders
    sender.close()
    track = RemoteTrack(sender)
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(track.recv(), 5)
    assert track.readyState == "ended"
