"""``Channel``: the Channel to one worker process, as the Python side holds it.

Every object that lives in a worker (a room, a peer, a transport…) sends its
requests through the ``Channel`` of that worker, and a notification about it
comes back through the same ``Channel``, which hands it to the object
registered under its target id. Starting, replacing and placing work on
workers is the :class:`~mediasoup.Server`'s job (server.py); this module
imports no object module, so every one of them can name the type.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
import weakref
from typing import Any, Callable, Protocol

from . import _mediasoup
from ._futures import ignore_outcome
from .errors import InvalidStateError, MediasoupError

__all__ = ["Channel", "MediaTarget", "NotificationTarget"]

# The directory holding the ``mediasoup`` package, so that a worker started
# with ``-m mediasoup.worker`` imports this very package.
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class NotificationTarget(Protocol):
    """An object that receives the worker's notifications about it (a transport)."""

    def _on_notification(self, event: str, data: Any) -> None: ...


class MediaTarget(Protocol):
    """A direct transport: the frames of the media path for it, by its handle."""

    def _on_media(self, kind: int, ssrc: int, payload: bytes) -> None: ...


class Channel:
    """The Channel to one worker process of a server: the worker at ``index``
    (its port sub-range), its requests, its notifications and its exit.

    ``on_exit(channel, error)`` is called once if the process exits before
    :meth:`close`.
    """

    def __init__(
        self,
        index: int,
        settings: _mediasoup.ServerSettings,
        certificate: asyncio.Future[None],
        on_exit: Callable[[Channel, MediasoupError], None],
    ) -> None:
        # The worker's id in the server's dump.
        self.id = str(uuid.uuid4())
        self.index = index
        self._closed = False  # close() called, or the exit seen
        # How long the server waited before starting this worker as a replacement.
        self.respawn_delay = 0.0
        # Objects of this worker that receive its notifications, by id.
        self.targets: dict[str, NotificationTarget] = {}
        # Direct transports of this worker, by handle: the media path's frames go there.
        self.media_targets: dict[int, MediaTarget] = {}
        self._settings = settings
        self._certificate = certificate
        self._on_exit_callback = on_exit
        # The process holds its callbacks for as long as it runs: weak ones,
        # so that a server nobody holds any more (a notebook cell run again,
        # a test that failed before close()) is collected, and its workers
        # exit with their Channels.
        this = weakref.ref(self)

        def notified(event: str, target_id: str | None, data: Any) -> None:
            channel = this()
            if channel is not None:
                channel._on_notification(event, target_id, data)

        def exited(code: int | None, signal: str | None, description: str) -> None:
            channel = this()
            if channel is not None:
                channel._on_exit(code, signal, description)

        def media_waits() -> None:
            channel = this()
            if channel is not None:
                channel._on_media()

        self.process = _mediasoup.WorkerProcess.spawn(sys.executable, _PACKAGE_PARENT, notified, exited, media_waits)
        # Requests made meanwhile wait in the Channel until worker.init is sent.
        self.ready: asyncio.Future[Any] = asyncio.ensure_future(self._init())
        ignore_outcome(self.ready)

    async def _init(self) -> Any:
        """Sends ``worker.init`` once the certificate is loaded; its answer."""
        await asyncio.shield(self._certificate)
        try:
            request = self.process.init(self._settings.worker_settings(self.index))
        except InvalidStateError as exited:
            # The process died before its first request (it could not start).
            raise MediasoupError(str(exited)) from None
        return await request

    @property
    def closed(self) -> bool:
        """Closed, or its process gone: the process knows it first (its
        exit reaches Python in a later loop turn), and a request then
        raises ``InvalidStateError``."""
        return self._closed or self.process.closed

    @property
    def pid(self) -> int:
        """The worker process's pid."""
        return self.process.pid

    def request(self, method: str, data: Any = None) -> asyncio.Future[Any]:
        return self.process.request(method, data)

    async def dump(self) -> dict[str, Any]:
        if self.closed:
            # Dead, and its replacement not started yet.
            return {"pid": self.pid, "closed": True, "rooms": []}
        dump: dict[str, Any] = await self.request("worker.dump")
        return {"closed": False, **dump}

    async def metrics(self) -> dict[str, Any]:
        if self.closed:
            return {"pid": self.pid, "closed": True}
        metrics: dict[str, Any] = await self.request("worker.getMetrics")
        return {"pid": self.pid, "closed": False, **metrics}

    def close(self) -> None:
        self._closed = True
        self.process.close()

    def _on_notification(self, event: str, target_id: str | None, data: Any) -> None:
        target = self.targets.get(target_id) if target_id is not None else None
        if target is not None:
            target._on_notification(event, data)

    def _on_media(self) -> None:
        """A batch of the media path's frames waits: each goes to its direct transport."""
        targets = self.media_targets
        for kind, handle, ssrc, payload in self.process.take_media():
            target = targets.get(handle)
            if target is not None:
                target._on_media(kind, ssrc, payload)

    def _on_exit(self, code: int | None, signal: str | None, description: str) -> None:
        if not self._closed:
            self._closed = True
            self._on_exit_callback(self, MediasoupError(f"worker {self.pid} {description}"))
