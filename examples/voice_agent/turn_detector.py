"""Speech turns by energy: a sans-IO state machine fed PCM.

:class:`TurnDetector` cuts what it is fed into windows of ``window`` seconds
and calls a window loud when its RMS is at least ``threshold`` dBFS. A turn
starts after ``start_after`` seconds of consecutive loud windows and ends
after ``end_after`` seconds of consecutive quiet ones (or ``max_turn``
seconds after it started). Time is the media's own: seconds of samples fed
since the detector was made. It reads no clock, so tests drive it with
synthetic PCM and get the same events whatever the size of the chunks.
"""

from __future__ import annotations

import collections
import dataclasses
import math

import numpy

FULL_SCALE = 32768.0


@dataclasses.dataclass(frozen=True)
class TurnStarted:
    """Someone started speaking: ``at`` is where the loud run began (seconds of media)."""

    at: float


@dataclasses.dataclass(frozen=True, eq=False)
class TurnEnded:
    """The turn is over: ``at`` is where its last loud window ended, ``utterance``
    the turn's samples (int16 mono) from ``pre_roll`` before its start to ``at``."""

    at: float
    utterance: numpy.ndarray
    sample_rate: int = 48_000

    @property
    def duration(self) -> float:
        """Seconds of ``utterance``."""
        return len(self.utterance) / self.sample_rate


TurnEvent = TurnStarted | TurnEnded


class TurnDetector:
    """Start and end of speech turns in mono int16 PCM at ``sample_rate``."""

    def __init__(
        self,
        sample_rate: int = 48_000,
        threshold: float = -40.0,
        start_after: float = 0.2,
        end_after: float = 0.6,
        window: float = 0.01,
        pre_roll: float = 0.3,
        max_turn: float = 30.0,
    ) -> None:
        if threshold > 0:
            raise ValueError(f"threshold is in dBFS (at most 0), not {threshold}")
        self.sample_rate = sample_rate
        self.threshold = threshold
        self.start_after = start_after
        self.end_after = end_after
        self._window_samples = max(1, round(window * sample_rate))
        self._start_windows = max(1, round(start_after / window))
        self._end_windows = max(1, round(end_after / window))
        self._max_windows = max(self._start_windows, round(max_turn / window))
        # Mean square at the threshold, in int16 units.
        self._loud_power = (FULL_SCALE * 10 ** (threshold / 20)) ** 2
        self._pending = numpy.zeros(0, dtype=numpy.int16)
        # Before a turn: the last windows (pre-roll and the loud run); in a turn: all of it.
        self._recent: collections.deque[numpy.ndarray] = collections.deque(
            maxlen=max(1, round(pre_roll / window)) + self._start_windows
        )
        self._turn: list[numpy.ndarray] = []
        self._windows = 0  # windows seen
        self._loud_run = 0
        self._quiet_run = 0
        self._turn_windows = 0
        self.speaking = False
        self.level = -math.inf  # dBFS of the last window

    @property
    def time(self) -> float:
        """Seconds of media fed (whole windows)."""
        return self._windows * self._window_samples / self.sample_rate

    def feed(self, pcm: numpy.ndarray) -> list[TurnEvent]:
        """Feeds mono int16 samples; the turn events that they complete, in order."""
        samples = numpy.asarray(pcm)
        if samples.ndim != 1:
            raise ValueError(f"feed() takes mono samples (1-D), not an array of shape {samples.shape}")
        if self._pending.size:
            samples = numpy.concatenate([self._pending, samples.astype(numpy.int16, copy=False)])
        size = self._window_samples
        whole = len(samples) - len(samples) % size
        events: list[TurnEvent] = []
        for offset in range(0, whole, size):
            event = self._window(samples[offset : offset + size])
            if event is not None:
                events.append(event)
        self._pending = samples[whole:].astype(numpy.int16, copy=True)
        return events

    def reset(self) -> None:
        """Forgets any turn in progress (the clock goes on)."""
        self._recent.clear()
        self._turn = []
        self._loud_run = self._quiet_run = self._turn_windows = 0
        self.speaking = False

    def _seconds(self, windows: int) -> float:
        return windows * self._window_samples / self.sample_rate

    def _window(self, window: numpy.ndarray) -> TurnEvent | None:
        self._windows += 1
        power = float(numpy.mean(numpy.square(window, dtype=numpy.float64)))
        self.level = 10 * math.log10(power / FULL_SCALE**2) if power > 0 else -math.inf
        loud = power >= self._loud_power
        if not self.speaking:
            self._recent.append(window)
            self._loud_run = self._loud_run + 1 if loud else 0
            if self._loud_run < self._start_windows:
                return None
            self.speaking = True
            self._turn = list(self._recent)
            self._recent.clear()
            self._quiet_run = 0
            self._turn_windows = self._loud_run
            return TurnStarted(self._seconds(self._windows - self._loud_run))
        self._turn.append(window)
        self._turn_windows += 1
        self._quiet_run = 0 if loud else self._quiet_run + 1
        if self._quiet_run >= self._end_windows:
            return self._end(self._quiet_run)
        if self._turn_windows >= self._max_windows:
            return self._end(self._quiet_run)
        return None

    def _end(self, trailing_quiet: int) -> TurnEnded:
        kept = self._turn[: len(self._turn) - trailing_quiet]
        utterance = numpy.concatenate(kept) if kept else numpy.zeros(0, dtype=numpy.int16)
        at = self._seconds(self._windows - trailing_quiet)
        self.reset()
        return TurnEnded(at, utterance, self.sample_rate)
