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
from ._futures import ignore_outcome
from ._object import MediasoupObject
from ._options import merge_options, pick_options
from .errors import InvalidStateError, MediasoupError
from . import room as room_module

__all__ = ["Server"]

_logger = logging.getLogger("mediasoup.server")

# Delays between attempts to replace a worker that keeps dying at startup.
_RESPAWN_MIN_DELAY = 0.5
_RESPAWN_MAX_DELAY = 30.0

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
        # How long the server waited before starting this worker as a replacement.
        self.respawn_delay = 0.0
        # Objects of this worker that receive its notifications, by id.
        self.targets: dict[str, Any] = {}
        self.process = _mediasoup.WorkerProcess.spawn(
            sys.executable, _PACKAGE_PARENT, self._on_notification, self._on_exit
        )
        # Requests made meanwhile wait in the Channel until worker.init is sent.
        self.ready: asyncio.Future[Any] = asyncio.ensure_future(self._init())
        ignore_outcome(self.ready)

    async def _init(self) -> Any:
        """Sends ``worker.init`` once the certificate is loaded; its answer."""
        await asyncio.shield(self.server._certificate)
        try:
            request = self.process.init(self.server._settings.worker_settings(self.index))
        except InvalidStateError as exited:
            # The process died before its first request (it could not start).
            raise MediasoupError(str(exited)) from None
        return await request

    @property
    def pid(self) -> int:
        return self.process.pid

    def request(self, method: str, data: Any = None) -> asyncio.Future[Any]:
        return self.process.request(method, data)

    async def dump(self) -> dict[str, Any]:
        if self.closed:
            # Dead, and its replacement not started yet.
            return {"pid": self.pid, "closed": True, "rooms": []}
        dump: dict[str, Any] = await self.request("worker.dump")
        return {"closed": False, **dump}

    def close(self) -> None:
        self.closed = True
        self.process.close()

    def _on_notification(self, event: str, target_id: str | None, data: Any) -> None:
        target = self.targets.get(target_id) if target_id is not None else None
        if target is not None:
            target._on_notification(event, data)

    def _on_exit(self, code: int | None, signal: str | None, description: str) -> None:
        if not self.closed:
            self.closed = True
            self.server._worker_died(self, MediasoupError(f"worker {self.pid} {description}"))


class Server(MediasoupObject):
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
        # Reading the certificate files (or generating a key) blocks: a thread
        # does it, and `await server` raises what it found wrong.
        self._certificate: asyncio.Future[None] = self._loop.run_in_executor(None, self._settings.load_certificate)
        ignore_outcome(self._certificate)
        self._rooms: dict[str, room_module.Room] = {}
        self._workers: list[_Worker] = []
        self._startup: asyncio.Future[Server] | None = None
        try:
            for index in range(self._settings.num_workers):
                self._workers.append(_Worker(self, index))
        except BaseException:
            for worker in self._workers:
                worker.close()
            raise
        self._startup = asyncio.ensure_future(self._start())
        ignore_outcome(self._startup)

    async def _start(self) -> Server:
        try:
            await asyncio.gather(*(worker.ready for worker in self._workers))
        except Exception as error:
            self._close(error)
            raise
        _logger.debug("server %s: %d workers up", self._id, len(self._workers))
        return self

    def __await__(self) -> Generator[Any, None, Server]:
        assert self._startup is not None  # set by __init__
        return self._startup.__await__()

    async def __aenter__(self) -> Server:
        return await self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def _repr_state(self) -> str:
        return f"workers={len(self._workers)} rooms={len(self._rooms)}"

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
        await asyncio.shield(self._certificate)
        workers = list(self._workers)
        dumps = await asyncio.gather(*(worker.dump() for worker in workers))
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
        # A dead worker's replacement starts with the new level already.
        await asyncio.gather(
            *(
                worker.request("worker.updateSettings", {"logLevel": level})
                for worker in self._workers
                if not worker.closed
            )
        )

    def Room(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> room_module.Room:
        """Creates a room on the least loaded worker; returns at once, awaitable.

        Options: ``mediaCodecs`` (mediasoup ``RtpCodecCapability`` dicts; default
        opus, VP8, VP9, H264, AV1) and ``forceUniquePayloadTypes`` (bool).
        """
        self._check_open()
        where = "Room()"
        picked = pick_options(where, merge_options(where, options, kwargs), ["mediaCodecs", "forceUniquePayloadTypes"])
        force_unique = picked.get("forceUniquePayloadTypes")
        if force_unique is None:
            force_unique = False
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
        if self._startup is None or not self._startup.done():
            # A worker that dies before the server is up fails the startup,
            # which closes the server with the error (see _start).
            return
        came_up = worker.ready.done() and not worker.ready.cancelled() and worker.ready.exception() is None
        _logger.error("server %s: %s; starting a replacement", self._id, error)
        for room in list(worker.rooms.values()):
            room._close(error, notify_worker=False)
        self.emit("workerdied", worker.id, error)
        # A replacement that dies before it came up is retried with a growing
        # delay, so a worker that cannot start does not spin the host.
        delay = 0.0 if came_up else min(_RESPAWN_MAX_DELAY, max(_RESPAWN_MIN_DELAY, worker.respawn_delay * 2))
        self._loop.call_later(delay, self._replace_worker, worker, delay)

    def _replace_worker(self, worker: _Worker, delay: float) -> None:
        if self._closed or worker not in self._workers:
            return
        try:
            replacement = _Worker(self, worker.index)
        except Exception as spawn_error:
            _logger.error("server %s: cannot start a replacement worker: %s", self._id, spawn_error)
            retry = min(_RESPAWN_MAX_DELAY, max(_RESPAWN_MIN_DELAY, delay * 2))
            self._loop.call_later(retry, self._replace_worker, worker, retry)
            return
        replacement.respawn_delay = delay
        self._workers[self._workers.index(worker)] = replacement

    update_settings = updateSettings
    room = Room
