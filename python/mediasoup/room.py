"""``Room``: a multiparty conference, living in one worker."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from ._futures import ignore_outcome
from ._object import MediasoupObject
from .errors import InvalidStateError

if TYPE_CHECKING:
    from .server import Server, _Worker


class Room(MediasoupObject):
    """A room of a :class:`~mediasoup.Server`; made by ``server.Room()``.

    Returned at once; ``await room`` resolves once the worker has created it,
    and raises if it could not. Events: ``close(error)``.
    """

    def __init__(
        self,
        server: Server,
        worker: _Worker,
        rtp_capabilities: dict[str, Any],
        media_codecs: Any,
        force_unique_payload_types: bool,
    ) -> None:
        super().__init__()
        self._server = server
        self._worker = worker
        self._rtp_capabilities = rtp_capabilities
        self._force_unique_payload_types = force_unique_payload_types
        self._created: asyncio.Future[Any] = worker.request(
            "room.create",
            {
                "roomId": self._id,
                "mediaCodecs": media_codecs,
                "forceUniquePayloadTypes": force_unique_payload_types,
            },
        )
        self._created.add_done_callback(self._on_created)
        ignore_outcome(self._created)

    def _on_created(self, created: asyncio.Future[Any]) -> None:
        if created.cancelled():
            return
        error = created.exception()
        if error is not None:
            self._close(error, notify_worker=False)

    def __await__(self) -> Generator[Any, None, Room]:
        return self._wait_created().__await__()

    async def _wait_created(self) -> Room:
        await asyncio.shield(self._created)
        return self

    def _repr_state(self) -> str:
        return f"peers={len(self.peers)} worker={self._worker.index}"

    @property
    def rtpCapabilities(self) -> dict[str, Any]:
        """The room's mediasoup ``RtpCapabilities`` (a copy)."""
        return copy.deepcopy(self._rtp_capabilities)

    @property
    def forceUniquePayloadTypes(self) -> bool:
        return self._force_unique_payload_types

    @property
    def peers(self) -> list[Any]:
        """The room's open peers, oldest first."""
        return []

    def close(self) -> None:
        """Closes the room; emits ``close`` once. Idempotent."""
        self._close(None, notify_worker=True)

    def _close(self, error: BaseException | None, *, notify_worker: bool) -> None:
        if self._closed:
            return
        self._closed = True
        self._server._room_closed(self)
        if notify_worker and not self._worker.closed:
            ignore_outcome(self._worker.request("room.close", {"roomId": self._id}))
        self.emit("close", error)

    async def dump(self) -> dict[str, Any]:
        """The room as the worker holds it: id, rtpCapabilities, peers."""
        if self._closed:
            raise InvalidStateError(f"room {self._id} is closed")
        dump: dict[str, Any] = await self._worker.request("room.dump", {"roomId": self._id})
        return dump

    rtp_capabilities = rtpCapabilities
    force_unique_payload_types = forceUniquePayloadTypes
