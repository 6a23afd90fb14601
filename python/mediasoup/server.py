"""``mediasoup.Server``: the worker processes of the seed, and their rooms."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from collections.abc import Generator, Mapping
from typing import Any

from . import _mediasoup
from ._events import EventEmitter
from ._futures import ignore_outcome
from ._options import merge_options, pick_options, short_id
from .errors import InvalidStateError, MediasoupError
from . import room as room_module

__all__ = ["Server"]

_logger = logging.getLogger("mediasoup.server")

# The directory holding the ``mediasoup`` package, so that a worker started
# with ``-m mediasoup.worker`` imports this very package.
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Worker:
    """One worker process of a server, at index ``index`` (its port sub-range)."""

    def __init__(self, server: Server, index: int) -> None:
        self.id = str(uuid.uuid4())
        self.index = index
        self.server = server
        self.rooms: dict[str, room_module.Room] = {}
        self.closed = False
        self.process = _mediasoup.WorkerProcess.spawn(sys.executable, _PACKAGE_PARENT, self._on_exit)
        self.ready: asyncio.Future[Any] = self.process.request(
            "worker.init", server._settings.worker_settings(index)
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def request(self, method: str, data: Any = None) -> asyncio.Future[Any]:
        return self.process.request(method, data)

    def close(self) -> None:
        self.closed = True
        self.process.close()

    def _on_exit(self, code: int | None, signal: str | None, description: str) -> None:
        if not self.closed:
            self.closed = True
            self.server._worker_died(self, MediasoupError(f"worker {self.pid} {description}"))


class Server(EventEmitter):
    """Runs and manages the worker processes that handle the media.

    ``Server(options=None, **options)``: options as a dict, as keywords, or
    both, in camelCase (the seed's names) or snake_case. Created inside a
    running asyncio loop; returns at once, and ``await server`` waits until
    every worker is up (raising the startup error if one could not start).

    Events: ``close(error)``, ``newroom(room)``, ``workerdied(workerId, error)``.
    """

    def __init__(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        super().__init__()
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "mediasoup.Server() must be created inside a running asyncio event loop "
                "(for example in an async function run by asyncio.run())"
            ) from None
        self._settings = _mediasoup.ServerSettings(merge_options("mediasoup.Server()", options, kwargs))
        self._id = str(uuid.uuid4())
        self._closed = False
        self._rooms: dict[str, room_module.Room] = {}
        self._workers: list[_Worker] = []
        try:
            for index in range(self._settings.num_workers):
                self._workers.append(_Worker(self, index))
        except BaseException:
            for worker in self._workers:
                worker.close()
            raise
        self._startup: asyncio.Future[Server] = asyncio.ensure_future(self._start())
        ignore_outcome(self._startup)

    async def _start(self) -> Server:
        try:
            await asyncio.gather(*(worker.ready for worker in self._workers))
        except Exception as error:
            failure = error if isinstance(error, MediasoupError) else MediasoupError(str(error))
            self._close(failure)
            raise failure from error
        _logger.debug("server %s: %d workers up", self._id, len(self._workers))
        return self

    def __await__(self) -> Generator[Any, None, Server]:
        return self._startup.__await__()

    async def __aenter__(self) -> Server:
        return await self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<Server {short_id(self._id)} workers={len(self._workers)} "
            f"rooms={len(self._rooms)} closed={self._closed}>"
        )

    @property
    def id(self) -> str:
        """A UUID."""
        return self._id

    @property
    def closed(self) -> bool:
        """Whether the server has been closed."""
        return self._closed

    @property
    def rooms(self) -> list[room_module.Room]:
        """The open rooms, oldest first."""
        return list(self._rooms.values())

    def close(self) -> None:
        """Closes the rooms, then the workers; emits ``close`` once. Idempotent."""
        self._close(None)

    def _close(self, error: BaseException | None) -> None:
        if self._closed:
            return
        self._closed = True
        for room in list(self._rooms.values()):
            room._close(error, notify_worker=False)
        for worker in self._workers:
            worker.close()
        if error is not None:
            _logger.error("server %s closed: %s", self._id, error)
        self.emit("close", error)

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidStateError(f"server {self._id} is closed")

    async def dump(self) -> dict[str, Any]:
        """The server's state: its resolved settings, workers and rooms."""
        self._check_open()
        workers = list(self._workers)
        dumps = await asyncio.gather(*(worker.request("worker.dump") for worker in workers))
        return {
            "id": self._id,
            "closed": self._closed,
            "settings": self._settings.dump(),
            "dtlsFingerprints": self._settings.dtls_fingerprints,
            "workers": {
                worker.id: {"index": worker.index, **dump} for worker, dump in zip(workers, dumps)
            },
            "rooms": list(self._rooms),
        }

    async def updateSettings(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        """Changes settings of the running workers; only ``logLevel`` can change."""
        self._check_open()
        where = "updateSettings()"
        merged = merge_options(where, options, kwargs)
        server_options = [name for name, *_ in _mediasoup.SERVER_OPTIONS]
        picked = pick_options(where, merged, server_options)
        fixed = [name for name in picked if name != "logLevel"]
        if fixed:
            raise ValueError(f"{where} can change logLevel only, not {', '.join(fixed)}")
        if "logLevel" not in picked:
            return
        self._settings.set_log_level(picked["logLevel"])
        level = self._settings.log_level
        await asyncio.gather(
            *(worker.request("worker.updateSettings", {"logLevel": level}) for worker in self._workers)
        )

    def Room(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> room_module.Room:
        """Creates a room on the least loaded worker; returns at once, awaitable.

        Options: ``mediaCodecs`` (mediasoup ``RtpCodecCapability`` dicts; default
        opus, VP8, VP9, H264, AV1) and ``forceUniquePayloadTypes`` (bool).
        """
        self._check_open()
        where = "Room()"
        picked = pick_options(where, merge_options(where, options, kwargs), ["mediaCodecs", "forceUniquePayloadTypes"])
        force_unique = picked.get("forceUniquePayloadTypes", False)
        if not isinstance(force_unique, bool):
            raise TypeError(f"forceUniquePayloadTypes must be a bool, not {type(force_unique).__name__}")
        media_codecs = picked.get("mediaCodecs")
        rtp_capabilities = _mediasoup.room_rtp_capabilities(media_codecs)
        candidates = [worker for worker in self._workers if not worker.closed]
        if not candidates:
            raise InvalidStateError(f"server {self._id} has no running worker")
        worker = min(candidates, key=lambda candidate: len(candidate.rooms))
        room = room_module.Room(self, worker, rtp_capabilities, media_codecs, force_unique)
        self._rooms[room.id] = room
        worker.rooms[room.id] = room
        self.emit("newroom", room)
        return room

    def _room_closed(self, room: room_module.Room) -> None:
        self._rooms.pop(room.id, None)
        for worker in self._workers:
            worker.rooms.pop(room.id, None)

    def _worker_died(self, worker: _Worker, error: MediasoupError) -> None:
        if self._closed:
            return
        _logger.error("server %s: %s; starting a replacement", self._id, error)
        for room in list(worker.rooms.values()):
            room._close(error, notify_worker=False)
        self.emit("workerdied", worker.id, error)
        if self._closed or worker not in self._workers:
            return
        try:
            replacement = _Worker(self, worker.index)
        except Exception as spawn_error:
            _logger.error("server %s: cannot start a replacement worker: %s", self._id, spawn_error)
            return
        self._workers[self._workers.index(worker)] = replacement
        replacement.ready.add_done_callback(self._replacement_ready)

    def _replacement_ready(self, ready: asyncio.Future[Any]) -> None:
        if not ready.cancelled() and ready.exception() is not None:
            _logger.error("server %s: the replacement worker failed: %s", self._id, ready.exception())


    update_settings = updateSettings
    room = Room
