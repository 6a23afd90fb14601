"""Room placement through a real Redis (Debian's redis-server, one per
test on a free loopback port): servers register and expire, rooms spread
evenly and respect limits, a killed server's entry and rooms go within
the TTL, and the keys are as docs/placement.md writes them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import mediasoup
import pytest
from mediasoup.errors import InvalidStateError

from .clients import MediasoupClient, Subscriber, colour_track, until
from .conftest import LOOPBACK

redis_asyncio = pytest.importorskip("redis.asyncio")
placement = pytest.importorskip("mediasoup.placement")


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(port: int, directory: Path) -> subprocess.Popen[bytes]:
    """Debian's redis-server on 127.0.0.1:``port``, answering when this returns."""
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return process
        except OSError:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            subprocess.run(["sleep", "0.05"])
    process.kill()
    raise AssertionError(f"redis-server did not answer on port {port}")


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    port = free_tcp_port()
    process = start_redis(port, tmp_path)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(5)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Any]:
    client = redis_asyncio.Redis.from_url(redis_url)
    await client.ping()
    yield client
    await client.aclose()


async def servers(count: int) -> list[mediasoup.Server]:
    return [await mediasoup.Server(numWorkers=1, logLevel="warn", **LOOPBACK) for _ in range(count)]


async def test_thirty_rooms_land_evenly_on_three_servers_and_open_where_placed(redis: Any) -> None:
    registry = placement.Registry(redis, ttl=5.0)
    hosts = await servers(3)
    try:
        registrations = [await registry.register(server, address=f"http://127.0.0.1:80{index}/") for index, server in enumerate(hosts)]
        by_id = {registration.id: registration for registration in registrations}
        names = [f"room-{index}" for index in range(30)]
        placed = await asyncio.gather(*(registry.place(name) for name in names))
        assert Counter(entry["id"] for entry in placed) == {registration.id: 10 for registration in registrations}
        assert {entry["address"] for entry in placed} == {"http://127.0.0.1:800/", "http://127.0.0.1:801/", "http://127.0.0.1:802/"}
        # The same name again: where it is.
        assert (await registry.place("room-0"))["id"] == placed[0]["id"]
        # Two callers of one name at once get one room.
        first, second = await asyncio.gather(by_id[placed[0]["id"]].Room("room-0"), by_id[placed[0]["id"]].Room("room-0"))
        assert first is second
        # Each server opens the rooms placed on it; nowhere else can.
        for name, entry in zip(names, placed):
            room = await by_id[entry["id"]].Room(name)
            assert isinstance(room, mediasoup.Room) and room in hosts[registrations.index(by_id[entry["id"]])].rooms
        other = next(registration for registration in registrations if registration.id != placed[0]["id"])
        with pytest.raises(placement.PlacementError, match="lives on server"):
            await other.Room("room-0")
        assert (await registry.locate("room-7"))["id"] == placed[7]["id"]
        assert await registry.locate("nowhere") is None
        # Peers count in the load (after a heartbeat).
        room = by_id[placed[0]["id"]].rooms["room-0"]
        await room.Peer("alice")
        await by_id[placed[0]["id"]].refresh()
        entries = {entry["id"]: entry for entry in await registry.servers()}
        assert entries[placed[0]["id"]]["peers"] == 1 and entries[placed[0]["id"]]["rooms"] == 10
        assert all(entry["workers"] == 1 and entry["maxRooms"] is None for entry in entries.values())
        # A closed room leaves its server's count; the next room goes there.
        room.close()
        await asyncio.sleep(0.2)
        assert (await registry.place("room-30"))["id"] == placed[0]["id"]
    finally:
        for server in hosts:
            server.close()


async def test_a_server_at_its_limit_gets_no_new_room(redis: Any) -> None:
    registry = placement.Registry(redis, ttl=5.0)
    small, large = await servers(2)
    try:
        await registry.register(small, address="small", maxRooms=2)
        big = await registry.register(large, address="large", maxRooms=5)
        placed = [(await registry.place(f"r{index}"))["address"] for index in range(7)]
        assert Counter(placed) == {"small": 2, "large": 5}
        with pytest.raises(placement.PlacementError, match="all are at their limit"):
            await registry.place("r7")
        await big.close()
        assert [entry["address"] for entry in await registry.servers()] == ["small"]
        with pytest.raises(placement.PlacementError):
            await registry.place("r8")
    finally:
        small.close()
        large.close()


async def test_the_keys_are_as_documented(redis: Any) -> None:
    registry = placement.Registry(redis, prefix="sfu", ttl=3.0)
    [server] = await servers(1)
    try:
        registration = await registry.register(server, address="10.0.0.5:8443", maxRooms=9)
        await registry.place("lobby")
        keys = {key.decode() for key in await redis.keys("sfu:*")}
        assert keys == {"sfu:servers", f"sfu:server:{registration.id}", f"sfu:server:{registration.id}:rooms", "sfu:room:lobby"}
        entry = {name.decode(): value.decode() for name, value in (await redis.hgetall(f"sfu:server:{registration.id}")).items()}
        assert set(entry) == {"id", "address", "workers", "peers", "cpu", "maxRooms", "startedMs", "updatedMs"}
        assert (entry["address"], entry["workers"], entry["maxRooms"]) == ("10.0.0.5:8443", "1", "9")
        assert 0 < await redis.pttl(f"sfu:server:{registration.id}") <= 3000
        assert (await redis.get("sfu:room:lobby")).decode() == registration.id
        assert [name.decode() for name in await redis.zrange(f"sfu:server:{registration.id}:rooms", 0, -1)] == ["lobby"]
        expires = await redis.zscore("sfu:servers", registration.id)
        assert abs(expires - (int(entry["updatedMs"]) + 3000)) < 5
        # Placed but never opened: gone once the TTL passed (the heartbeat drops it).
        await asyncio.sleep(3.3)
        await registration.refresh()
        assert await redis.get("sfu:room:lobby") is None and await registry.locate("lobby") is None
        await registration.close()
        assert await redis.keys("sfu:*") == []
    finally:
        server.close()


async def test_opening_a_room_cancelled_leaves_no_room_on_the_server(redis: Any) -> None:
    registry = placement.Registry(redis, ttl=3.0)
    [server] = await servers(1)
    try:
        registration = await registry.register(server, address="127.0.0.1")
        opening = asyncio.ensure_future(registration.Room("stage"))
        while not server._rooms:  # claimed in Redis, the room being created in the worker
            await asyncio.sleep(0)
        [room] = server._rooms.values()
        opening.cancel()
        with pytest.raises(asyncio.CancelledError):
            await opening
        assert room.closed and not server._rooms and registration.rooms == {}
        await until_async(lambda: registry._redis.get("mediasoup:room:stage"), 5, gone=True)
        workers = (await server.dump())["workers"]
        assert [worker["rooms"] for worker in workers.values()] == [[]]
        assert (await registration.Room("stage")).id != room.id
    finally:
        server.close()


async def test_a_killed_server_leaves_the_registry_within_its_ttl(redis_url: str, redis: Any, tmp_path: Path) -> None:
    """A server in another process, killed with SIGKILL: no goodbye; its
    entry and its room go within the TTL, and the room is placed anew."""
    script = tmp_path / "host.py"
    script.write_text(textwrap.dedent(f"""
        import asyncio, sys
        import mediasoup, mediasoup.placement, redis.asyncio

        async def main():
            registry = mediasoup.placement.Registry(redis.asyncio.Redis.from_url({redis_url!r}), ttl=1.5)
            async with mediasoup.Server(numWorkers=1, rtcListenIPv4="127.0.0.1", rtcListenIPv6=False) as server:
                registration = await registry.register(server, address="doomed")
                await registration.Room("stage")
                print("ready", flush=True)
                await asyncio.sleep(3600)

        asyncio.run(main())
    """))
    host = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    registry = placement.Registry(redis, ttl=1.5)
    [survivor] = await servers(1)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(host.stdout.readline), 30)  # type: ignore[union-attr]
        assert line.strip() == b"ready", host.stderr.read() if host.stderr else ""
        assert (await registry.locate("stage"))["address"] == "doomed"
        await registry.register(survivor, address="survivor")
        os.killpg(host.pid, signal.SIGKILL)
        host.wait(5)
        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        while any(entry["address"] == "doomed" for entry in await registry.servers()):
            assert loop.time() - killed_at < 2.0, "still registered after its TTL"
            await asyncio.sleep(0.05)
        assert await registry.locate("stage") is None
        assert (await registry.place("stage"))["address"] == "survivor"
    finally:
        if host.poll() is None:
            os.killpg(host.pid, signal.SIGKILL)
        survivor.close()


async def test_redis_lost_for_a_while_then_back_leaves_the_loop_free_and_pipes_working(tmp_path: Path) -> None:
    """Redis killed under two registered servers: the heartbeats and the
    pipe messages fail and retry without taking the event loop (a resubscribe
    that fails leaves nothing subscribed, where redis-py's listen() returns
    without awaiting); Redis back on its port: both servers register again
    and a pipe between them opens through their messages."""
    port = free_tcp_port()
    process = start_redis(port, tmp_path)
    client = redis_asyncio.Redis.from_url(f"redis://127.0.0.1:{port}/0")
    registry = placement.Registry(client, ttl=0.9)
    first, second = await servers(2)
    try:
        stage = await registry.register(first, address="127.0.0.1")
        hall = await registry.register(second, address="127.0.0.1")
        await stage.Room("stage")
        await hall.Room("hall")
        process.kill()
        process.wait(5)
        ticks = 0
        loop = asyncio.get_running_loop()
        started = loop.time()
        while loop.time() - started < 2.0:
            await asyncio.sleep(0.05)
            ticks += 1
        # 40 sleeps of 50 ms fit in 2 s; a frozen loop runs none (a loaded machine, fewer).
        assert ticks >= 10, f"the event loop ran {ticks} times in 2 s while Redis was gone"
        process = start_redis(port, tmp_path)
        await until_async(lambda: registry.locate("hall"), 10)
        pipe = await asyncio.wait_for(stage.pipeTo("stage", "hall"), 10)
        assert pipe.targetServer == hall.id
        pipe.close()
    finally:
        first.close()
        second.close()
        await client.aclose()
        process.terminate()
        process.wait(5)


async def until_async(answer: Any, timeout: float, gone: bool = False) -> None:
    """Waits until the coroutine ``answer()`` returns something other than
    None (``gone``: returns None)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            if (await answer() is None) == gone:
                return
        except Exception as error:  # Redis still starting
            assert loop.time() < deadline, error
        assert loop.time() < deadline, "not there in time"
        await asyncio.sleep(0.05)


async def test_bad_values_get_clear_errors(redis: Any) -> None:
    with pytest.raises(ValueError, match="prefix"):
        placement.Registry(redis, prefix="a:b")
    with pytest.raises(ValueError, match="ttl"):
        placement.Registry(redis, ttl=0)
    registry = placement.Registry(redis)
    [server] = await servers(1)
    with pytest.raises(ValueError, match="address"):
        await registry.register(server, address="")
    with pytest.raises(ValueError, match="maxRooms"):
        await registry.register(server, address="a", maxRooms=-1)
    with pytest.raises(ValueError, match="room name"):
        await registry.place("")
    with pytest.raises(ValueError, match="at most 256 characters"):
        await registry.place("x" * 10_000_000)
    with pytest.raises(ValueError, match="room name"):
        await registry.locate({"a": "b"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="address"):
        await registry.register(server, address="a" * 2000)
    with pytest.raises(placement.PlacementError, match="none is registered"):
        await registry.place("lobby")
    registration = await registry.register(server, address="a")
    server.close()
    with pytest.raises(InvalidStateError):
        await registration.Room("lobby")
    with pytest.raises(InvalidStateError):
        await registry.register(server, address="a")
    await registration.close()
    assert await registry.servers() == []


async def test_a_room_that_outgrows_its_worker_grows_into_rooms_piped_both_ways(redis: Any) -> None:
    """roomForPeer(maxPeers=2): the third and fourth peers of "town" land in
    an overflow room on another worker, the fifth in a second; a publisher
    in the first overflow room reaches a subscriber in the second through
    the room at the centre (pymediasoup decodes it), and nothing comes back
    to where it came from."""
    registry = placement.Registry(redis, ttl=5.0)
    server = await mediasoup.Server(numWorkers=3, logLevel="warn", **LOOPBACK)
    try:
        registration = await registry.register(server, address="town-hall")
        rooms = []
        for index in range(5):
            room = await registration.roomForPeer("town", maxPeers=2)
            rooms.append(room)
            await room.Peer(f"p{index}")
        centre = registration.rooms["town"]
        first, second = registration.overflowRooms("town")
        assert rooms == [centre, centre, first, first, second]
        assert len({room._channel.index for room in (centre, first, second)}) == 3, "each on a worker of its own"
        # A publisher in the first overflow room, a subscriber in the second.
        publisher_peer = first.getPeer("p2")
        assert publisher_peer is not None
        publisher = MediasoupClient(first, publisher_peer)
        await publisher.load()
        await publisher_peer.setCapabilities(publisher.device.rtpCapabilities.model_dump(exclude_none=True))
        [camera] = await publisher.publish(await publisher_peer.createTransport(), [colour_track((10, 200, 90))])
        subscriber_peer = second.getPeer("p4")
        assert subscriber_peer is not None
        subscriber = Subscriber(second, subscriber_peer)
        try:
            await subscriber.start()
            await until(lambda: subscriber.frames.get("video", 0) >= 30, 20, lambda: subscriber.frames)
            # The centre holds one copy; the first room got none back.
            assert len([pipe for pipe in centre.pipes if pipe.source is first][0].copies) == 1
            assert all(not pipe.copies for pipe in first.pipes if pipe.target is first)
        finally:
            await subscriber.close()
            await publisher.close()
        with pytest.raises(ValueError, match="maxPeers"):
            await registration.roomForPeer("town", maxPeers=0)
        centre.close()
        assert first.closed and second.closed and registration.overflowRooms("town") == []
    finally:
        server.close()
