"""Worker processes: death and replacement, no orphans, a robust Channel, logs."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

import mediasoup
from mediasoup.errors import MediasoupError

from .conftest import LOOPBACK, eventually, process_alive


async def test_a_killed_worker_is_noticed_and_replaced(options: dict[str, Any]) -> None:
    options.update(numWorkers=2, rtcMinPort=41000, rtcMaxPort=41999)
    async with mediasoup.Server(options) as server:
        died: asyncio.Future[tuple[str, Exception]] = asyncio.get_running_loop().create_future()
        server.on("workerdied", lambda worker_id, error: died.set_result((worker_id, error)))
        doomed = await server.Room()
        survivor = await server.Room()
        assert doomed._channel is not survivor._channel
        closes: list[Any] = []
        doomed.on("close", closes.append)
        victim = doomed._channel
        before = (await server.dump())["workers"][victim.id]

        os.kill(victim.pid, signal.SIGKILL)
        worker_id, error = await asyncio.wait_for(died, 5)

        assert worker_id == victim.id
        assert isinstance(error, MediasoupError) and "SIGKILL" in str(error)
        assert doomed.closed and closes == [error]
        assert not survivor.closed and not server.closed
        assert (await survivor.dump())["id"] == survivor.id

        dump = await server.dump()
        assert len(dump["workers"]) == 2 and victim.id not in dump["workers"]
        replacement = next(w for w in dump["workers"].values() if w["index"] == before["index"])
        assert (replacement["rtcMinPort"], replacement["rtcMaxPort"]) == (before["rtcMinPort"], before["rtcMaxPort"])
        assert replacement["pid"] != before["pid"] and process_alive(replacement["pid"])
        assert replacement["rooms"] == []

        fresh = await server.Room()
        assert fresh._channel.index == before["index"]
        assert (await fresh.dump())["id"] == fresh.id


async def test_a_worker_that_dies_while_the_others_start_is_replaced(options: dict[str, Any]) -> None:
    """Worker 0 up and killed while worker 1 is still starting (held with
    SIGSTOP): the server starts with both, worker 0 replaced."""
    options.update(numWorkers=2)
    server = mediasoup.Server(options)
    try:
        first, second = server._channels
        os.kill(second.pid, signal.SIGSTOP)
        try:
            await asyncio.wait_for(asyncio.shield(first.ready), 30)
            died: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            server.on("workerdied", lambda worker_id, error: died.done() or died.set_result(worker_id))
            os.kill(first.pid, signal.SIGKILL)
            assert await asyncio.wait_for(died, 5) == first.id
        finally:
            os.kill(second.pid, signal.SIGCONT)
        await asyncio.wait_for(server, 30)
        await eventually(lambda: len(server._channels) == 2 and all(not channel.closed and channel.ready.done() for channel in server._channels), 10)
        assert server._channels[1] is second and server._channels[0] is not first
        dump = await server.dump()
        assert sorted(worker["index"] for worker in dump["workers"].values()) == [0, 1]
        assert first.pid not in [worker["pid"] for worker in dump["workers"].values()]
    finally:
        server.close()


async def test_requests_pending_on_a_dying_worker_fail_instead_of_hanging(server: mediasoup.Server) -> None:
    channel = server._channels[0]
    channel.process.kill()
    with pytest.raises(MediasoupError):
        await asyncio.wait_for(server.Room(), 5)


def test_killing_the_python_parent_leaves_no_worker() -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, mediasoup
        async def main():
            server = await mediasoup.Server(numWorkers=2, **{LOOPBACK!r})
            dump = await server.dump()
            print(json.dumps([w["pid"] for w in dump["workers"].values()]), flush=True)
            await asyncio.sleep(60)
        import json
        asyncio.run(main())
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pids = json.loads(parent.stdout.readline())
        assert len(pids) == 2 and all(process_alive(pid) for pid in pids)
    finally:
        parent.kill()
        parent.wait()
    asyncio.run(eventually(lambda: not any(process_alive(pid) for pid in pids)))


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


async def test_malformed_channel_frames_do_not_kill_a_worker(server: mediasoup.Server, caplog: pytest.LogCaptureFixture) -> None:
    channel = server._channels[0]
    pid = channel.pid
    rng = random.Random(7)
    garbage = [
        _frame(b"not json"),
        _frame(b""),
        _frame(b"[]"),
        _frame(b"\xff\xfe\x00"),
        _frame(b'{"id": 900001}'),
        _frame(b'{"id": 900002, "method": "room.explode"}'),
        _frame(b'{"id": 900003, "method": "room.create", "data": {"roomId": 5}}'),
        _frame(b'{"id": 900004, "method": "room.create", "data": {"roomId": "x", "mediaCodecs": [{"kind": 1}]}}'),
        _frame(b'{"id": 900005, "method": "room.dump", "data": {"roomId": "nope"}}'),
        _frame(b'{"id": 900006, "method": "worker.init", "data": {}}'),
        _frame(b'{"id": -1, "method": "worker.dump"}'),
        _frame(json.dumps({"id": 900007, "method": "room.create", "data": {"roomId": "deep", "mediaCodecs": [[[[[]]]]]}}).encode()),
        *(_frame(rng.randbytes(rng.randrange(1, 300))) for _ in range(200)),
        # An announced length over the 16 MiB limit: skipped, the stream stays in step.
        (16 * 1024 * 1024 + 1).to_bytes(4, "big") + bytes(16 * 1024 * 1024 + 1),
    ]
    with caplog.at_level(logging.WARNING, logger="mediasoup"):
        for chunk in garbage:
            channel.process._send_raw(chunk)
        room = await server.Room()
        dump = await server.dump()
    assert channel.pid == pid and process_alive(pid)
    (worker_dump,) = dump["workers"].values()
    assert worker_dump["rooms"] == [room.id]
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "malformed Channel frame" in messages
    assert "dropped a Channel frame of 16777217 bytes" in messages


async def test_worker_logs_reach_python_logging_at_the_chosen_level(options: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mediasoup")
    options["logLevel"] = "warn"
    async with mediasoup.Server(options) as server:
        quiet = await server.Room()
        await server.updateSettings(logLevel="debug")
        loud = await server.Room()
        pid = server._channels[0].pid
    worker_records = [record for record in caplog.records if record.name == "mediasoup.worker"]
    messages = [record.getMessage() for record in worker_records]
    assert f"[worker {pid}] room {loud.id} created" in messages
    assert not any(quiet.id in message and "created" in message for message in messages)
    created = next(record for record in worker_records if loud.id in record.getMessage())
    assert created.levelno == logging.DEBUG


async def test_a_replacement_that_cannot_start_is_retried_with_backoff(
    options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with mediasoup.Server(options) as server:
        deaths: list[float] = []
        loop = asyncio.get_running_loop()
        server.on("workerdied", lambda worker_id, error: deaths.append(loop.time()))
        monkeypatch.setattr("sys.executable", "/bin/false")
        os.kill(server._channels[0].pid, signal.SIGKILL)
        await eventually(lambda: len(deaths) >= 3)
        # The first replacement comes at once; failed ones are retried later and later.
        assert deaths[2] - deaths[1] >= 0.4
        dead = (await server.dump())["workers"]
        assert len(dead) == 1
        monkeypatch.undo()
        await eventually(lambda: not server._channels[0].closed and server._channels[0].ready.done(), timeout=10)
        room = await server.Room()
        assert (await room.dump())["id"] == room.id


async def test_a_caller_that_stops_waiting_for_the_startup_leaves_the_server_its_to_close(options: dict[str, Any]) -> None:
    options.update(numWorkers=2)
    server = mediasoup.Server(options)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(server, 0.001)  # the workers are still starting
    await server  # the startup went on
    room = await server.Room()
    assert (await room.dump())["id"] == room.id
    server.close()
    # `async with` whose entry is cancelled closes what it started (__aexit__ never runs).
    entering = mediasoup.Server(options)
    pids = [channel.pid for channel in entering._channels]
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(entering.__aenter__(), 0.001)
    assert entering.closed
    await eventually(lambda: not any(process_alive(pid) for pid in pids))


async def test_a_replacement_whose_init_fails_is_replaced_not_given_rooms(options: dict[str, Any]) -> None:
    """rtcPortPerWorker: worker 0 killed and its port taken before the
    replacement binds it. The replacement answers worker.init with an error;
    it is closed and replaced once the port is free again, and no room is
    placed on it meanwhile."""
    import socket

    options.update(numWorkers=2, rtcPortPerWorker=True, rtcMinPort=43100, rtcMaxPort=43101)
    async with mediasoup.Server(options) as server:
        deaths: list[tuple[str, str]] = []
        server.on("workerdied", lambda worker_id, error: deaths.append((worker_id, str(error))))
        port = (await server.dump())["workers"][server._channels[0].id]["rtcMinPort"]
        os.kill(server._channels[0].pid, signal.SIGKILL)
        squatters = []
        deadline = time.monotonic() + 2
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):  # before the loop can start a replacement
            squatter = socket.socket(socket.AF_INET, kind)
            while True:
                try:
                    squatter.bind(("127.0.0.1", port))
                    break
                except OSError:
                    assert time.monotonic() < deadline
                    time.sleep(0.001)
            squatters.append(squatter)
        try:
            await eventually(lambda: len(deaths) >= 2)
            assert "could not start" in deaths[1][1], deaths
            for _ in range(4):  # every room goes to the worker that runs
                room = await server.Room()
                assert room._channel.index == 1 and (await room.dump())["id"] == room.id
        finally:
            for squatter in squatters:
                squatter.close()
        await eventually(lambda: not server._channels[0].closed and server._channels[0].ready.done(), timeout=10)
        assert server._channels[0].ready.exception() is None
        room = await server.Room()
        assert room._channel.index == 0 and (await room.dump())["id"] == room.id


async def test_closing_a_peer_as_its_worker_exits_still_emits_close(server: mediasoup.Server) -> None:
    """The process is gone before its exit reaches Python: close() neither
    raises nor skips its event."""
    room = await server.Room()
    peer = await room.Peer("alice")
    closes: list[Any] = []
    peer.on("close", closes.append)
    channel = server._channels[0]
    os.kill(channel.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while not channel.process.closed:  # blocking the loop: Python's exit callback cannot run meanwhile
        assert time.monotonic() < deadline
        time.sleep(0.001)
    assert not channel._closed
    peer.close()
    assert closes == [None] and peer.closed


async def test_a_worker_takes_no_sigint_or_sigterm_meant_for_the_application(server: mediasoup.Server) -> None:
    """Ctrl-C or systemd signal the whole process group: the application
    closes its calls; its workers go with the Channel, not with the signal.
    (SIGTERM is the one that killed a worker: SIGINT's default handler only
    acts when the worker runs Python, which is at its start.)"""
    room = await server.Room()
    pid = server._channels[0].pid
    for number in (signal.SIGINT, signal.SIGTERM):
        os.kill(pid, number)
    await asyncio.sleep(0.3)
    assert process_alive(pid) and not server._channels[0].closed
    assert (await room.dump())["id"] == room.id


async def test_a_server_nobody_holds_is_collected_and_its_workers_exit(options: dict[str, Any]) -> None:
    """A notebook cell run again rebinds `server`; a test fails before
    close(): the forgotten server's workers go with it, not with Python."""
    import gc
    import weakref

    options.update(numWorkers=2)
    server = await mediasoup.Server(options)
    room = await server.Room()
    await room.Peer("alice")
    pids = [channel.pid for channel in server._channels]
    forgotten = weakref.ref(server)
    del server, room
    gc.collect()
    assert forgotten() is None
    await eventually(lambda: not any(process_alive(pid) for pid in pids))
