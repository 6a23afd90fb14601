"""``KeyframeRequests``: when a video receiver asks its sender for a keyframe (sans-IO).

A decoder or a recorder that lost a packet of a video stream cannot use the
frames after it until a keyframe: its jitter buffer says so
(``keyframeNeeded``). It asks the sender at once when the need starts (the
start of the stream, a loss, a frame that did not decode), then every
``interval`` seconds while the need lasts (a request, or the keyframe, may be
lost too). The caller gives the time; nothing here reads a clock.
"""

from __future__ import annotations

import math


class KeyframeRequests:
    """The timing of one stream's keyframe requests."""

    def __init__(self, interval: float) -> None:
        if not interval > 0:  # 0 would ask on every turn of the caller's loop
            raise ValueError(f"keyFrameRequestInterval {interval!r:.80}, expected seconds > 0")
        self.interval = interval
        self._last = -math.inf  # when the last request went
        self._needed = False  # as the jitter buffer said last time

    def due(self, needed: bool, now: float) -> bool:
        """Whether to ask now (then counted as asked); ``needed`` is the
        jitter buffer's ``keyframeNeeded``."""
        if needed and not self._needed:
            self._last = -math.inf  # a new need: ask at once
        self._needed = needed
        if not needed or now - self._last < self.interval:
            return False
        self._last = now
        return True

    def nextDue(self, needed: bool) -> float | None:
        """When :meth:`due` says yes next (-inf: now), for the caller's wait."""
        if not needed:
            return None
        return -math.inf if not self._needed else self._last + self.interval

    next_due = nextDue
