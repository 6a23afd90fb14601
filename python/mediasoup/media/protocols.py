"""What the media layer needs of the worker's objects, as protocols: it
imports none of them, so it runs (and is tested) without a worker.

An :class:`~mediasoup.RtpSender` on a direct transport is an :class:`RtpSource`;
an :class:`~mediasoup.RtpReceiver` on one is an :class:`RtpSink`.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol


class RtpSource(Protocol):
    """A stream of RTP packets to decode: another peer's, as forwarded to Python."""

    @property
    def kind(self) -> str:
        """'audio' or 'video'."""

    @property
    def rtpParameters(self) -> dict[str, Any]:
        """mediasoup consumer ``RtpParameters`` (``codecs``, ``encodings``, …)."""

    def packets(self) -> AsyncIterator[bytes]:
        """The RTP packets (primary ones, no RTX), until the stream closes."""

    async def requestKeyFrame(self) -> None:
        """Asks the stream's publisher for a keyframe."""


class RtpSink(Protocol):
    """Where published RTP packets go: a receiver that forwards them."""

    @property
    def kind(self) -> str:
        """'audio' or 'video'."""

    def sendRtp(self, packet: bytes) -> object:
        """Queues ``packet``; returns at once (an RtpReceiver answers whether it was queued)."""

    def on(self, event: str, listener: Callable[..., Any]) -> Any:
        """Event ``keyframerequest`` (no arguments): encode a keyframe next.
        A sink may also emit ``encodingkeyframerequest(ssrc)`` just before,
        naming the encoding that needs it, and ``close`` when it takes no
        more packets (the publisher stops)."""


def stop_packets(packets: AsyncIterator[bytes] | None) -> None:
    """Stops an :class:`RtpSource`'s ``packets()`` that is no longer read: an
    RtpSender's iterator has a ``close()`` that stops it queueing packets for
    nobody; other iterators are left to the garbage collector."""
    close = getattr(packets, "close", None)
    if callable(close) and not inspect.iscoroutinefunction(close):
        close()
