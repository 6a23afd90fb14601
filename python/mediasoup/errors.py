"""The exceptions of mediasoup (the seed's ``errors`` module).

Bad arguments raise the built-in ``TypeError`` (wrong type, missing value) or
``ValueError`` (bad value), naming the option and the value. Everything else
the server reports derives from :class:`MediasoupError`.
"""

from __future__ import annotations

__all__ = ["MediasoupError", "InvalidStateError", "UnsupportedError", "PlacementError"]


class MediasoupError(Exception):
    """Base class of mediasoup's own errors; also a failure inside a worker."""


class InvalidStateError(MediasoupError):
    """An operation on a closed object (a closed server, room or worker)."""


class UnsupportedError(MediasoupError):
    """Something the server cannot do, such as a codec it cannot carry."""


class PlacementError(MediasoupError):
    """Placement across servers (``mediasoup.placement``): no live server
    can take a room, a room lives elsewhere, or a pipe's other server left."""
