"""``MediaStreamTrack`` and ``MediaStreamError`` with aiortc's interface.

With aiortc installed they are aiortc's own classes (subclassed for the
track), so aiortc's ``MediaRecorder``, ``MediaRelay``, ``MediaBlackhole`` and
``RTCPeerConnection.addTrack`` take the tracks of this package and catch its
errors; without aiortc, stand-ins with the same interface (``kind``, ``id``,
``readyState``, ``recv()``, ``stop()``, event ``ended``).
"""

from __future__ import annotations

import abc
import uuid
from typing import TYPE_CHECKING, Any

from .._events import EventEmitter


class _StandaloneMediaStreamError(Exception):
    """The track ended: ``recv()`` has no more frames."""


class _StandaloneMediaStreamTrack(EventEmitter, metaclass=abc.ABCMeta):
    """A track of media frames: ``await recv()`` gives the next ``av`` frame."""

    kind = "unknown"

    def __init__(self) -> None:
        super().__init__()
        self._ended = False
        self._id = str(uuid.uuid4())

    @property
    def id(self) -> str:
        return self._id

    @property
    def readyState(self) -> str:
        """'live', or 'ended' once stopped."""
        return "ended" if self._ended else "live"

    @abc.abstractmethod
    async def recv(self) -> Any:
        """The next frame; MediaStreamError once the track has ended."""

    def stop(self) -> None:
        """Ends the track (``ended`` fires once)."""
        if not self._ended:
            self._ended = True
            self.emit("ended")


if TYPE_CHECKING:
    from aiortc.mediastreams import MediaStreamError as MediaStreamError
    from aiortc.mediastreams import MediaStreamTrack as MediaStreamTrack
else:
    try:
        from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
    except ImportError:  # aiortc is optional: the stand-ins
        MediaStreamError = _StandaloneMediaStreamError
        MediaStreamTrack = _StandaloneMediaStreamTrack
