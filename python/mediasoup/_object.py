"""What every mediasoup object has: an id, ``closed``, events and a repr
(plain, and rich for Jupyter and IPython: ``_display.py`` renders them); and what every object living in a worker has: the Channel to that worker,
an awaitable creation and a close that tells the worker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

from . import _display
from ._events import EventEmitter
from ._futures import ignore_outcome, request_unawaited
from .errors import InvalidStateError

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._channel import Channel


class MediasoupObject(EventEmitter):
    """Base of Server, Room and the objects to come."""

    def __init__(self) -> None:
        super().__init__()
        self._id = str(uuid.uuid4())
        self._closed = False

    @property
    def id(self) -> str:
        """A UUID."""
        return self._id

    @property
    def closed(self) -> bool:
        """Whether the object has been closed."""
        return self._closed

    def _repr_state(self) -> str:
        """What the repr shows between the id and ``closed=``, e.g. ``peers=3 worker=1``."""
        return ""

    def __repr__(self) -> str:
        state = self._repr_state()
        middle = f" {state}" if state else ""
        return f"<{type(self).__name__} {self._id[:8]}…{middle} closed={self._closed}>"

    # The rich reprs: what the object knows now (no request to its worker).

    def _repr_status(self) -> str:
        """A word for the object's state, coloured in Jupyter ('open', 'connected', 'failed'…)."""
        return "closed" if self._closed else "open"

    def _repr_fields(self) -> list[tuple[str, object]]:
        """The rows of the rich reprs: ``(name, value)``, values scalars,
        :class:`~mediasoup._display.Id`, :class:`~mediasoup._display.State` or lists of them."""
        return []

    def _repr_children(self) -> list[tuple[str, Sequence[MediasoupObject]]]:
        """What the object holds, by kind (``('peers', room.peers)``): a row each, bounded."""
        return []

    def _summary(self) -> _display.Summary:
        return _display.Summary(type(self).__name__, self._id, self._repr_status(), self._repr_fields())

    def _children_summaries(self) -> list[_display.Children]:
        return [
            _display.Children(title, [self._child_summary(child) for child in children[: _display.MAX_ROWS]], len(children))
            for title, children in self._repr_children()
        ]

    def _child_summary(self, child: MediasoupObject) -> _display.Summary:
        """A child's summary without the fields that name this object (a peer's room in the room's view)."""
        summary = child._summary()
        summary.fields = [(name, value) for name, value in summary.fields if value != self._id]
        return summary

    def _repr_html_(self) -> str:
        """Jupyter's view: a table of the state, ids shortened, states coloured."""
        return _display.object_html(self._summary(), self._children_summaries())

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """IPython's console view: the repr with the state on a line each."""
        p.text(repr(self) if cycle else _display.object_text(self._summary(), self._children_summaries()))


class WorkerObject(MediasoupObject):
    """An object that lives in a worker (a room, a peer, a transport…).

    It is created by one Channel request: awaiting the object waits for that
    request and raises its error; a failed creation closes the object.
    """

    _kind = "object"

    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self._channel = channel
        self._created: asyncio.Future[Any] | None = None

    def _created_by(self, request: asyncio.Future[Any]) -> None:
        self._created = request
        request.add_done_callback(self._on_created)
        ignore_outcome(request)

    def _on_created(self, created: asyncio.Future[Any]) -> None:
        if created.cancelled():
            return
        error = created.exception()
        if error is not None:
            self._close(error, notify_worker=False)

    def __await__(self) -> Generator[Any, None, Self]:
        return self._wait_created().__await__()

    async def _wait_created(self) -> Self:
        if self._created is not None:
            await asyncio.shield(self._created)
        return self

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidStateError(f"{self._kind} {self._id} is closed")

    def _request(self, method: str, data: Any = None) -> asyncio.Future[Any]:
        """Sends a request about this object; a closed object raises ``InvalidStateError``."""
        self._check_open()
        return self._channel.request(method, data)

    def close(self) -> None:
        """Closes the object and what it holds; emits ``close`` once. Idempotent."""
        self._close(None, notify_worker=True)

    def _close(self, error: BaseException | None, *, notify_worker: bool) -> None:
        """Closes what it holds, leaves its parent, tells the worker unless the
        worker closed it already, and emits ``close(error)``, once."""
        if self._closed:
            return
        self._closed = True
        self._closing(error)
        request = self._close_request()
        if notify_worker and request is not None:
            request_unawaited(self._channel, *request)
        self.emit("close", error)

    def _closing(self, error: BaseException | None) -> None:
        """Closes the children and leaves the parent (``_closed`` is set)."""

    def _close_request(self) -> tuple[str, dict[str, str]] | None:
        """The Channel request that closes the object in the worker, if it exists there."""
        return None


class Forwarded(WorkerObject):
    """What a peer publishes (a receiver, of media or data): other peers'
    senders forward it, and close with it."""

    def __init__(self, channel: Channel) -> None:
        super().__init__(channel)
        # The senders of other peers that forward it.
        self._senders: list[WorkerObject] = []

    def _close_senders(self, error: BaseException | None) -> None:
        """Its senders end with it (the worker drops them too)."""
        for sender in list(self._senders):
            sender._close(error, notify_worker=False)

    def _sender_closed(self, sender: WorkerObject) -> None:
        if sender in self._senders:
            self._senders.remove(sender)
