"""Pipes between rooms on different workers of one server: a publisher's
streams in room A reach subscribers in rooms B and C (pymediasoup clients
that decode them), keyframe requests travel back, closing the publisher
closes every copy, and a pipe back carries nothing twice; every layer of a
simulcast stream crosses, each viewer behind the pipe decodes the one it
prefers."""

from __future__ import annotations

import asyncio
from typing import Any

import mediasoup
import pytest
from mediasoup.errors import InvalidStateError

from .clients import MediasoupClient, Subscriber, colour_track, tone_track, until, use_loopback_only
from .conftest import LOOPBACK
from .layers import LAYERS, SizeWatcher, add_viewers, publish_layers, stop_all


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


async def test_every_simulcast_layer_crosses_a_pipe_for_each_viewer_to_choose(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three encodings published in room A (worker 0), piped to room B
    (worker 1): the copy in B has the three, and B's viewers decode the
    layer each prefers (its size and colour), and one moving to another
    layer decodes it within 10 s (its keyframe asked for through the pipe:
    per encoding, as router/every_layer_tests.rs checks)."""
    use_loopback_only(monkeypatch)
    room_a, room_b = await server.Room(), await server.Room()
    assert room_a._channel.index != room_b._channel.index, "rooms on two workers"
    alice = await room_a.Peer("alice")
    receiver, publishers = await publish_layers(alice)
    pipe = await room_a.pipeTo(room_b)
    watchers: dict[str, SizeWatcher] = {}
    subscribers: list[Subscriber] = []
    try:
        await until(lambda: receiver in pipe.copies, 10, lambda: pipe.copies)
        copy = pipe.copies[receiver]
        encodings = copy.rtpParameters["encodings"] if copy.rtpParameters else []
        assert len(encodings) == 3 and len({encoding["ssrc"] for encoding in encodings}) == 3, encodings
        # The pipe wants every layer of the publisher.
        await until(lambda: receiver.layersUnused == [], 5, lambda: receiver.layersUnused)
        bob_sender, carol_sender = await add_viewers(room_b, ["bob", "carol"], subscribers, watchers)
        await carol_sender.setPreferredLayers(0)
        latest = lambda: {name: watcher.latest for name, watcher in watchers.items()}  # noqa: E731
        await until(lambda: watchers["bob"].shows(2) and watchers["carol"].shows(0), 20, latest)
        assert bob_sender.currentLayers == {"spatialLayer": 2, "temporalLayer": 0}
        # Behind the pipe, nobody wants the middle layer: the copy says so.
        await until(lambda: copy.layersUnused == [1], 5, lambda: copy.layersUnused)
        await carol_sender.setPreferredLayers(1)
        await until(lambda: watchers["carol"].shows(1), 10, latest)
        assert watchers["bob"].shows(2)
        # The copy receives each encoding on its own SSRC.
        stats = await copy.getStats()
        assert sorted(entry["ssrc"] for entry in stats) == sorted(encoding["ssrc"] for encoding in encodings)
        assert all(entry["packetsReceived"] > 0 for entry in stats)
        assert len({ssrc for ssrc, _, _ in LAYERS} & {entry["ssrc"] for entry in stats}) == 0
    finally:
        await stop_all(watchers, publishers, subscribers)


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


async def test_two_pipe_calls_at_once_get_one_open_pipe(server: mediasoup.Server) -> None:
    room, other = await server.Room(), await server.Room()
    opened: list[Any] = []
    room.on("newpipe", opened.append)
    first, second = await asyncio.gather(room.pipeTo(other), room.pipeTo(other))
    assert first is second and opened == [first] and not first.closed
    # The second waits for the first's outcome: here the room goes meanwhile.
    third = await server.Room()
    making = asyncio.ensure_future(room.pipeTo(third))
    again = asyncio.ensure_future(room.pipeTo(third))
    await asyncio.sleep(0)
    third.close()
    for call in (making, again):
        with pytest.raises(InvalidStateError):
            await call


class LossyHop:
    """A UDP relay in the middle of a pipe (two sockets: one the exit sends
    to, one the entry sends to) that drops every `nth` RTP packet going to
    the entry, never RTCP."""

    def __init__(self, nth: int) -> None:
        self.nth = nth
        self.dropped = 0
        self.seen = 0
        self.exit_side: Any = None
        self.entry_side: Any = None
        self.exit_address: tuple[str, int] | None = None
        self.entry_address: tuple[str, int] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        relay = self

        class Side(asyncio.DatagramProtocol):
            def __init__(self, to_entry: bool) -> None:
                self.to_entry = to_entry

            def datagram_received(self, data: bytes, address: tuple[str, int]) -> None:
                if self.to_entry:
                    relay.exit_address = address
                    rtcp = len(data) > 1 and 192 <= data[1] <= 223
                    if not rtcp:
                        relay.seen += 1
                        if relay.seen % relay.nth == 0:
                            relay.dropped += 1
                            return
                    if relay.entry_address is not None:
                        relay.entry_side.sendto(data, relay.entry_address)
                else:
                    relay.entry_address = address
                    if relay.exit_address is not None:
                        relay.exit_side.sendto(data, relay.exit_address)

        self.exit_side, _ = await loop.create_datagram_endpoint(lambda: Side(True), local_addr=("127.0.0.1", 0))
        self.entry_side, _ = await loop.create_datagram_endpoint(lambda: Side(False), local_addr=("127.0.0.1", 0))

    def port(self, side: Any) -> int:
        return int(side.get_extra_info("sockname")[1])

    def close(self) -> None:
        self.exit_side.close()
        self.entry_side.close()


async def test_a_pipe_that_loses_packets_repairs_them_with_nacks(server: mediasoup.Server) -> None:
    """The two halves of a pipe (mediasoup.pipe.PipeExit and PipeEntry)
    joined through a relay that drops every 10th RTP packet: the entry
    NACKs, the exit sends again, the subscriber behind gets the stream whole."""
    from mediasoup.pipe import PipeEntry, PipeExit

    room_a, room_b = await server.Room(), await server.Room()
    alice = await room_a.Peer("alice")
    publisher = MediasoupClient(room_a, alice)
    await publisher.load()
    await alice.setCapabilities(publisher.device.rtpCapabilities.model_dump(exclude_none=True))
    [camera] = await publisher.publish(await alice.createTransport(), [colour_track((220, 40, 120))])

    hop = LossyHop(10)
    await hop.start()
    entry = PipeEntry(room_b, "lossy")
    copies: list[mediasoup.RtpReceiver] = []

    async def add(message: dict[str, Any]) -> None:
        copies.append(await entry.add(message))

    exit = PipeExit(room_a, "lossy", room_b.id, add, entry.remove)
    entry_end = await entry.open()
    exit_end = await exit.open()
    # Each half sends to the relay's side facing it; the relay learns where they are.
    await exit.connect({**entry_end, "port": hop.port(hop.exit_side)})
    await entry.connect({**exit_end, "port": hop.port(hop.entry_side)})
    bob = Subscriber(room_b, await room_b.Peer("bob"))
    try:
        await until(lambda: len(copies) == 1, 10, lambda: copies)
        await bob.start()
        await until(lambda: bob.frames.get("video", 0) >= 60 and hop.dropped >= 10, 30, lambda: (bob.frames, hop.dropped))
        entry_stats = (await entry._transport.getStats())[0]  # type: ignore[union-attr]
        exit_stats = (await exit._transport.getStats())[0]  # type: ignore[union-attr]
        assert entry_stats["nacksSent"] >= 5 and exit_stats["retransmittedPackets"] >= hop.dropped * 0.8, (entry_stats, exit_stats, hop.dropped)
        assert entry_stats["repairedPackets"] >= hop.dropped * 0.8, (entry_stats, hop.dropped)
        inbound = [entry for entry in await copies[0].getStats() if "packetsLost" in entry]
        assert inbound and inbound[0]["packetsLost"] <= hop.dropped * 0.2, (inbound, hop.dropped)
        assert camera.closed is False
    finally:
        await bob.close()
        await publisher.close()
        exit.close()
        entry.close()
        hop.close()


async def test_a_copy_removed_while_it_is_being_published_leaves_nothing_behind(server: mediasoup.Server) -> None:
    """The exit's ``remove`` can reach the entry while its ``add`` waits for
    the worker: the copy ends closed, out of the room's streams and out of
    the worker."""
    from mediasoup.pipe import PipeEntry

    room = await server.Room()
    entry = PipeEntry(room, "race")
    await entry.open()
    message = {
        "type": "add",
        "stream": "s1",
        "kind": "audio",
        "rtpParameters": {"codecs": [{"mimeType": "audio/opus", "payloadType": 100, "clockRate": 48000, "channels": 2}], "encodings": [{"ssrc": 4242}]},
        "origins": ["elsewhere"],
    }
    adding = asyncio.ensure_future(entry.add(message))
    await asyncio.sleep(0)
    entry.remove({"stream": "s1"})
    duplicate = await adding
    assert duplicate.closed and entry.copies == {}
    assert room._receiving() == []
    await asyncio.sleep(0.2)
    dump = await room.dump()
    assert dump["rtpReceivers"] == {}, dump["rtpReceivers"]
    # A later peer gets no sender of it.
    late = await room.Peer("late")
    await late.setCapabilities(room.rtpCapabilities)
    assert late.rtpSenders == []
    entry.close()
