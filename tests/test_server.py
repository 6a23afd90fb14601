"""Server lifecycle: dump, updateSettings, events, close cascade, ordering."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import mediasoup
from mediasoup.errors import InvalidStateError, MediasoupError

from .conftest import LOOPBACK, eventually, process_alive, worker_pids


async def test_dump_has_exactly_num_workers_with_disjoint_port_ranges(options: dict[str, Any]) -> None:
    options.update(numWorkers=3, rtcMinPort=40000, rtcMaxPort=40299)
    async with mediasoup.Server(options) as server:
        dump = await server.dump()
    assert dump["id"] == server.id
    assert dump["closed"] is False
    workers = sorted(dump["workers"].values(), key=lambda worker: worker["index"])
    assert len(workers) == 3
    assert [(w["rtcMinPort"], w["rtcMaxPort"]) for w in workers] == [(40000, 40099), (40100, 40199), (40200, 40299)]
    assert len({worker["pid"] for worker in workers}) == 3
    for worker in workers:
        assert worker["rooms"] == []
        assert worker["logLevel"] == "warn"
        assert worker["rtcListenIPv4"] == "127.0.0.1"
    assert [fp["algorithm"] for fp in dump["dtlsFingerprints"]] == ["sha-256", "sha-384", "sha-512"]


async def test_worker_pids_are_real_processes(server: mediasoup.Server) -> None:
    dump = await server.dump()
    for worker in dump["workers"].values():
        assert process_alive(worker["pid"])
        with open(f"/proc/{worker['pid']}/cmdline", "rb") as cmdline:
            assert b"mediasoup.worker" in cmdline.read()


async def test_requests_are_answered_in_order(server: mediasoup.Server) -> None:
    first = server.Room()
    second = server.Room()
    dump = await server.dump()
    (worker,) = dump["workers"].values()
    assert worker["rooms"] == [first.id, second.id]


async def test_update_settings_reaches_every_worker(options: dict[str, Any]) -> None:
    options["numWorkers"] = 2
    async with mediasoup.Server(options) as server:
        await server.updateSettings(logLevel="error")
        assert {w["logLevel"] for w in (await server.dump())["workers"].values()} == {"error"}
        await server.update_settings({"log_level": "debug"})
        dump = await server.dump()
        assert {w["logLevel"] for w in dump["workers"].values()} == {"debug"}
        assert dump["settings"]["logLevel"] == "debug"


async def test_update_settings_rejects_what_cannot_change(server: mediasoup.Server) -> None:
    with pytest.raises(ValueError, match="'chicken'"):
        await server.updateSettings(logLevel="chicken")
    with pytest.raises(TypeError, match="logLevel must be a str"):
        await server.updateSettings(logLevel=3)
    with pytest.raises(ValueError, match="logLevel only, not numWorkers"):
        await server.updateSettings(numWorkers=4)
    with pytest.raises(TypeError, match="unknown option 'colour'"):
        await server.updateSettings(colour="blue")
    (worker,) = (await server.dump())["workers"].values()
    assert worker["logLevel"] == "warn"


async def test_close_closes_rooms_first_then_workers_and_emits_once(options: dict[str, Any]) -> None:
    options["numWorkers"] = 2
    server = await mediasoup.Server(options)
    events: list[tuple[str, Any]] = []
    rooms = [await server.Room(), await server.Room()]
    for room in rooms:
        room.on("close", lambda error, room=room: events.append(("room", room.id, error)))
    server.on("close", lambda error: events.append(("server", error)))
    pids = worker_pids(server)

    server.close()
    server.close()

    assert server.closed and all(room.closed for room in rooms)
    assert events == [("room", rooms[0].id, None), ("room", rooms[1].id, None), ("server", None)]
    await eventually(lambda: not any(process_alive(pid) for pid in pids))


async def test_a_closed_server_refuses_everything(options: dict[str, Any]) -> None:
    server = await mediasoup.Server(options)
    room = await server.Room()
    server.close()
    with pytest.raises(InvalidStateError):
        await server.dump()
    with pytest.raises(InvalidStateError):
        server.Room()
    with pytest.raises(InvalidStateError):
        await server.updateSettings(logLevel="debug")
    with pytest.raises(InvalidStateError):
        await room.dump()


async def test_async_with_closes_the_server(options: dict[str, Any]) -> None:
    async with mediasoup.Server(options) as server:
        assert not server.closed
        pids = worker_pids(server)
    assert server.closed
    await eventually(lambda: not any(process_alive(pid) for pid in pids))


async def test_awaiting_the_server_returns_it(options: dict[str, Any]) -> None:
    server = mediasoup.Server(options)
    try:
        assert await server is server
        assert await server is server
    finally:
        server.close()


async def test_newroom_event_and_repr(server: mediasoup.Server) -> None:
    created: list[Any] = []
    server.on("newroom", created.append)
    room = server.Room()
    assert created == [room]
    assert repr(server).startswith(f"<Server {server.id[:8]}… workers=1 rooms=1 closed=False")
    assert repr(room) == f"<Room {room.id[:8]}… peers=0 worker=0 closed=False>"
    await room


async def test_a_worker_that_cannot_start_closes_the_server_with_the_error(
    options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A "python" that exits at once stands for a worker that dies at startup.
    monkeypatch.setattr("sys.executable", "/bin/false")
    server = mediasoup.Server(options)
    closed: list[Any] = []
    server.on("close", closed.append)
    with pytest.raises(MediasoupError, match="exited with code 1"):
        await server
    assert server.closed
    assert len(closed) == 1 and isinstance(closed[0], MediasoupError)


async def test_a_missing_python_fails_at_construction(options: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.executable", "/nonexistent/python")
    with pytest.raises(MediasoupError, match="cannot start a worker"):
        mediasoup.Server(options)


async def test_events_have_pyee_semantics(server: mediasoup.Server, caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []
    done = asyncio.Event()

    def always(room: Any) -> None:
        calls.append("on")

    def once(room: Any) -> None:
        calls.append("once")

    def failing(room: Any) -> None:
        raise RuntimeError("listener bug")

    async def coroutine(room: Any) -> None:
        await asyncio.sleep(0)
        calls.append("coroutine")
        done.set()

    async def failing_coroutine(room: Any) -> None:
        raise RuntimeError("coroutine listener bug")

    server.on("newroom", failing)
    server.on("newroom", always)
    server.once("newroom", once)
    server.on("newroom", coroutine)
    server.on("newroom", failing_coroutine)

    @server.on("newroom")
    def decorated(room: Any) -> None:
        calls.append("decorated")

    with caplog.at_level(logging.ERROR, logger="mediasoup.events"):
        await server.Room()
        await done.wait()
        server.off("newroom", always)
        server.off("newroom", always)  # removing twice is harmless
        await server.Room()
        await asyncio.sleep(0.05)

    assert calls == ["on", "once", "decorated", "coroutine", "decorated", "coroutine"]
    messages = [record.getMessage() for record in caplog.records]
    assert any("failed" in message for message in messages)
    assert any(record.exc_info and "coroutine listener bug" in str(record.exc_info[1]) for record in caplog.records)
    assert not server.closed


async def test_once_removes_only_its_own_registration(server: mediasoup.Server) -> None:
    calls: list[Any] = []
    server.on("newroom", calls.append)
    server.once("newroom", calls.append)
    first = await server.Room()
    second = await server.Room()
    assert calls == [first, first, second]
    assert server.listeners("newroom") == [calls.append]


async def test_a_request_over_the_channel_limit_is_refused_not_lost(server: mediasoup.Server) -> None:
    huge = [{"kind": "video", "mimeType": "video/VP8", "parameters": {"x": "y" * (17 * 1024 * 1024)}}]
    with pytest.raises(ValueError, match="exceeds the Channel's"):
        server.Room(mediaCodecs=huge)
    assert server.rooms == []
    assert (await (await server.Room(forceUniquePayloadTypes=None)).dump())["forceUniquePayloadTypes"] is False
