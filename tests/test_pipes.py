"""Pipes between rooms on different workers of one server: a publisher's
streams in room A reach subscribers in rooms B and C (pymediasoup clients
that decode them), keyframe requests travel back, closing the publisher
closes every copy, and a pipe back carries nothing twice."""

from __future__ import annotations

import asyncio
from typing import Any

import mediasoup
import pytest
from mediasoup.errors import InvalidStateError

from .clients import MediasoupClient, Subscriber, colour_track, tone_track, until
from .conftest import LOOPBACK


@pytest.fixture
def options() -> dict[str, Any]:
    return {"numWorkers": 3, "logLevel": "warn", **LOOPBACK}


async def pli_count(receiver: mediasoup.RtpReceiver) -> int:
    return sum(int(entry.get("pliCount", 0)) for entry in await receiver.getStats())


async def test_a_room_piped_to_two_rooms_on_other_workers(server: mediasoup.Server) -> None:
    room_a, room_b, room_c = await server.Room(), await server.Room(), await server.Room()
    assert len({room._channel.index for room in (room_a, room_b, room_c)}) == 3, "one room per worker"
    alice = await room_a.Peer("alice")
    publisher = MediasoupClient(room_a, alice)
    await publisher.load()
    await alice.setCapabilities(publisher.device.rtpCapabilities.model_dump(exclude_none=True))
    camera, microphone = await publisher.publish(await alice.createTransport(), [colour_track((40, 180, 60)), tone_track(0.3, 550.0)])

    to_b = await room_a.pipeTo(room_b)
    to_c = await room_a.pipeTo(room_c, enableSrtp=True, srtpCryptoSuite="AEAD_AES_128_GCM")
    assert await room_a.pipeTo(room_b) is to_b, "one pipe per pair of rooms"
    assert room_a.pipes == [to_b, to_c] and room_b.pipes == [to_b]
    # The pipes' peers are not the rooms' peers.
    assert [peer.name for peer in room_a.peers] == ["alice"] and room_b.peers == []

    subscribers = []
    for room, name in ((room_a, "ann"), (room_b, "bob"), (room_c, "carol")):
        subscriber = Subscriber(room, await room.Peer(name))
        await subscriber.start()
        subscribers.append(subscriber)
    ann, bob, carol = subscribers
    try:
        await until(
            lambda: all(s.frames.get("video", 0) >= 30 and s.frames.get("audio", 0) >= 50 for s in subscribers),
            30,
            lambda: [s.frames for s in subscribers],
        )
        assert set(to_b.copies) == {camera, microphone} and set(to_c.copies) == {camera, microphone}
        copy = to_c.copies[camera]
        assert copy.peer.name.startswith("pipe entry") and copy.kind == "video"
        # Carol's keyframe request, in room C on worker 2, reaches alice on worker 0.
        [to_carol] = [sender for sender in carol.peer.rtpSenders if sender.kind == "video"]
        before = await pli_count(camera)
        for _ in range(10):
            await to_carol.requestKeyFrame()
            await asyncio.sleep(0.6)
            if await pli_count(camera) > before:
                break
        assert await pli_count(camera) > before
        # Piping B back to A carries nothing: B's streams came from A.
        back = await room_b.pipeTo(room_a)
        await asyncio.sleep(1)
        assert back.copies == {} and len(ann.peer.rtpSenders) == 2

        # A stream published after the pipe opened follows it.
        dave = await room_a.Peer("dave")
        late = MediasoupClient(room_a, dave)
        await late.load()
        await dave.setCapabilities(late.device.rtpCapabilities.model_dump(exclude_none=True))
        [voice] = await late.publish(await dave.createTransport(), [tone_track(0.3, 330.0)])
        await until(lambda: voice in to_b.copies and voice in to_c.copies, 10, lambda: to_b.copies)
        await until(lambda: len(bob.peer.rtpSenders) == 3, 10, lambda: bob.peer.rtpSenders)

        # The publisher leaves: every copy closes, and every sender of one.
        alice.close()
        await until(lambda: not to_b.copies.get(camera) and not to_c.copies.get(camera), 10, lambda: to_c.copies)
        assert copy.closed
        await until(lambda: len(bob.peer.rtpSenders) == 1 and len(carol.peer.rtpSenders) == 1, 10, lambda: carol.peer.rtpSenders)
        await late.close()
    finally:
        for subscriber in subscribers:
            await subscriber.close()
        await publisher.close()
    # A room that closes closes its pipes (and their peers in the other rooms).
    room_a.close()
    assert to_b.closed and to_c.closed and back.closed and room_b.pipes == []
    await asyncio.sleep(0.3)
    dump = await room_b.dump()
    assert all(not name.startswith("pipe") for name in dump["peers"]), dump["peers"]


async def test_pipe_options_are_checked(server: mediasoup.Server) -> None:
    room = await server.Room()
    with pytest.raises(ValueError, match="itself"):
        await room.pipeTo(room)
    with pytest.raises(TypeError, match="must be a Room"):
        await room.pipeTo("room")  # type: ignore[arg-type]
    other = await server.Room()
    with pytest.raises(ValueError, match="srtpCryptoSuite"):
        await room.pipeTo(other, enableSrtp=True, srtpCryptoSuite="NONE")
    assert room.pipes == [] and other.pipes == []
    other.close()
    with pytest.raises(InvalidStateError):
        await room.pipeTo(other)
