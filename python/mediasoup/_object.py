"""What every mediasoup object has: an id, ``closed``, events and a repr."""

from __future__ import annotations

import uuid

from ._events import EventEmitter


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
