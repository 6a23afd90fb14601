"""The agent's two outgoing tracks, both aiortc-compatible and published with
``mediasoup.media.publish``: :class:`Speaker`, its voice (what it is given to
say, else silence), and :class:`StateVideo`, one solid colour per state."""

from __future__ import annotations

import asyncio
import fractions
from typing import Any

import av
import numpy
from mediasoup.media import MediaStreamTrack

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms, Opus' frame
VIDEO_CLOCK = 90_000


class Speaker(MediaStreamTrack):
    """Audio track of 20 ms frames (48 kHz mono s16) taken from a queue of
    samples, silence when it is empty, paced in real time.

    ``play()`` queues audio of any format and rate; ``interrupt()`` drops what
    is queued (the user barged in). With ``max_backlog`` (seconds), the oldest
    samples beyond it are dropped: a live source (an echo) then cannot drift
    into a growing delay.
    """

    kind = "audio"

    def __init__(self, max_backlog: float | None = None) -> None:
        super().__init__()
        self._queue = numpy.zeros(0, dtype=numpy.int16)
        self._max_backlog = None if max_backlog is None else int(max_backlog * SAMPLE_RATE)
        # One per input format (format, layout, rate): a resampler takes one only.
        self._resamplers: dict[tuple[str, str, int], av.AudioResampler] = {}
        self._drained = asyncio.Event()
        self._drained.set()
        self._sent = 0
        self._start: float | None = None

    @property
    def queued(self) -> float:
        """Seconds of audio waiting to be sent."""
        return len(self._queue) / SAMPLE_RATE

    def play(self, audio: av.AudioFrame | numpy.ndarray) -> None:
        """Queues ``audio``: an ``av.AudioFrame`` (any format, layout, rate;
        call ``flush()`` after the last) or mono int16 samples at 48 kHz."""
        if isinstance(audio, av.AudioFrame):
            key = (audio.format.name, audio.layout.name, audio.sample_rate)
            resampler = self._resamplers.get(key)
            if resampler is None:
                resampler = self._resamplers[key] = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            audio.pts = None  # the resampler is fed a stream of its own
            self._append([frame.to_ndarray().reshape(-1) for frame in resampler.resample(audio)])
        else:
            self._append([numpy.asarray(audio, dtype=numpy.int16).reshape(-1)])

    def flush(self) -> None:
        """Queues what the resamplers still hold (the end of an answer at another rate)."""
        resamplers, self._resamplers = self._resamplers, {}
        for resampler in resamplers.values():
            self._append([frame.to_ndarray().reshape(-1) for frame in resampler.resample(None)])

    def _append(self, chunks: list[numpy.ndarray]) -> None:
        self._queue = numpy.concatenate([self._queue, *chunks])
        if self._max_backlog is not None and len(self._queue) > self._max_backlog:
            self._queue = self._queue[-self._max_backlog :]
        if len(self._queue):
            self._drained.clear()

    def interrupt(self) -> None:
        """Drops everything queued."""
        self._queue = self._queue[:0]
        self._resamplers = {}
        self._drained.set()

    async def drained(self) -> None:
        """Until everything queued has been sent (at once if nothing is)."""
        await self._drained.wait()

    async def recv(self) -> av.AudioFrame:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        # The frame is cut when it is due, so audio queued meanwhile is in it.
        await asyncio.sleep(max(0.0, self._start + self._sent / SAMPLE_RATE - loop.time()))
        samples = self._queue[:FRAME_SAMPLES]
        self._queue = self._queue[FRAME_SAMPLES:]
        if len(samples) < FRAME_SAMPLES:
            samples = numpy.concatenate([samples, numpy.zeros(FRAME_SAMPLES - len(samples), dtype=numpy.int16)])
        if not len(self._queue):
            self._drained.set()
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts, frame.time_base = self._sent, fractions.Fraction(1, SAMPLE_RATE)
        self._sent += FRAME_SAMPLES
        return frame


class StateVideo(MediaStreamTrack):
    """Video track of one solid colour (``colour``, RGB, changed live) at ``fps``."""

    kind = "video"

    def __init__(self, colour: tuple[int, int, int], size: tuple[int, int] = (320, 240), fps: int = 15) -> None:
        super().__init__()
        self.colour = colour
        self._size = size
        self._fps = fps
        self._images: dict[tuple[int, int, int], numpy.ndarray] = {}
        self._index = 0
        self._start: float | None = None

    async def recv(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        await asyncio.sleep(max(0.0, self._start + self._index / self._fps - loop.time()))
        colour = self.colour
        image = self._images.get(colour)
        if image is None:
            image = numpy.empty((self._size[1], self._size[0], 3), dtype=numpy.uint8)
            image[:, :] = colour
            self._images[colour] = image
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = self._index * VIDEO_CLOCK // self._fps, fractions.Fraction(1, VIDEO_CLOCK)
        self._index += 1
        return frame
