"""``Recorder``: RtpSources (RtpSenders on a direct transport) written into one
file as they were encoded: no transcoding, PyAV's muxers only.

Each source is a :class:`RecordedStream` (jitter buffer, loss handling,
keyframe requests). The file starts (its header is written) once every
stream has its first frame, a keyframe for video, whose size the header
carries, or ``startTimeout`` seconds after the first frame of any stream: a
stream without a frame by then is left out. Times: a stream's RTP timestamps from its first
frame, shifted by the arrival of that frame after the recording's first
one, so each track starts in the file when it started to arrive and the
tracks play in sync.
"""

from __future__ import annotations

import asyncio
import fractions
import io
import logging
import os
import pathlib
import struct

import av
import av.container
import av.error
import av.stream

from .._events import EventEmitter
from .opus import opusPacketSamples
from .protocols import RtpSource
from .recorded_stream import EncodedFrame, RecordedStream

_logger = logging.getLogger("mediasoup.media")

#: The containers (FFmpeg format names) and the codecs each takes as they are.
CONTAINERS: dict[str, tuple[str, ...]] = {
    "webm": ("audio/opus", "video/VP8"),
    "matroska": ("audio/opus", "video/VP8", "video/H264"),
    "mp4": ("audio/opus", "video/H264"),
    "ogg": ("audio/opus",),
}
#: The container of a file by its extension.
EXTENSIONS: dict[str, str] = {
    ".webm": "webm", ".mkv": "matroska", ".mka": "matroska", ".mp4": "mp4", ".ogg": "ogg", ".opus": "ogg",
}


def _opus_head(channels: int, clock_rate: int) -> bytes:
    """The Opus identification header (RFC 7845 §5.1): version 1, no pre-skip
    (the recording starts mid-stream), no gain, channel mapping family 0."""
    return b"OpusHead" + struct.pack("<BBHIhB", 1, channels, 0, clock_rate, 0, 0)


class _Output:
    """A recorded stream's place in the file."""

    def __init__(self, stream: av.stream.Stream, offset: int, time_base: fractions.Fraction) -> None:
        self.stream = stream
        self.offset = offset  # in the stream's clock: its first frame's arrival after the recording's first
        self.time_base = time_base
        self.last_pts: int | None = None


class Recorder(EventEmitter):
    """Records sources into ``path`` (WebM, Matroska, MP4 or Ogg: by ``format``,
    an FFmpeg format name of :data:`CONTAINERS`, else by the extension).

    ``addSource(sender)`` for each stream (its codec must be one the container
    takes), then ``await start()``; ``await stop()`` writes the rest and
    finalizes the file, as does the end of every source. ``streams`` are the
    :class:`RecordedStream` of the sources (their counters); ``active``; event
    ``ended``; ``await wait()`` until the file is finalized.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        format: str | None = None,
        maxDelay: float = 0.1,
        keyFrameRequestInterval: float = 0.5,
        startTimeout: float = 5.0,
    ) -> None:
        super().__init__()
        self.path = os.fspath(path)
        if format is None:
            extension = pathlib.Path(self.path).suffix.lower()
            if extension not in EXTENSIONS:
                raise ValueError(f"no container for extension {extension!r:.80} of {self.path!r:.80}: "
                                 f"use one of {sorted(EXTENSIONS)} or give format")
            format = EXTENSIONS[extension]
        if format not in CONTAINERS:
            raise ValueError(f"format {format!r:.80} is not one of {sorted(CONTAINERS)}")
        self.format = format
        self.streams: list[RecordedStream] = []
        self._max_delay = maxDelay
        self._keyframe_interval = keyFrameRequestInterval
        self._start_timeout = startTimeout
        self._state = "new"  # recording, stopping, stopped
        self._container: av.container.OutputContainer | None = None
        self._outputs: dict[RecordedStream, _Output] = {}
        self._first_arrivals: dict[RecordedStream, float] = {}
        self._pending: list[tuple[RecordedStream, EncodedFrame]] = []
        self._start_timer: asyncio.TimerHandle | None = None
        self._timed_out = False
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self.error: BaseException | None = None
        """What made the file fail (it could not be created, say), else None."""

    @property
    def active(self) -> bool:
        """True from ``start()`` until the file is being finalized."""
        return self._state == "recording"

    def addSource(self, source: RtpSource) -> RecordedStream:
        """Records ``source`` too (before ``start()``); ValueError if the
        container does not take its codec."""
        if self._state != "new":
            raise RuntimeError(f"sources are added before start(); the recorder is {self._state}")
        stream = RecordedStream(source, self._max_delay, self._keyframe_interval)
        if stream.codec.mimeType not in CONTAINERS[self.format]:
            takes = [name for name, codecs in CONTAINERS.items() if stream.codec.mimeType in codecs]
            raise ValueError(f"{self.format} does not take {stream.codec.mimeType} (it takes "
                             f"{', '.join(CONTAINERS[self.format])}); record it to {' or '.join(takes)}")
        self.streams.append(stream)
        return stream

    async def start(self) -> None:
        """Starts reading the sources; the file starts with their first frames."""
        if self._state != "new":
            raise RuntimeError(f"the recorder is {self._state}: a recorder starts once")
        if not self.streams:
            raise ValueError("no source to record: addSource() first")
        folder = pathlib.Path(self.path).parent
        if not folder.is_dir():
            raise FileNotFoundError(f"no folder {str(folder)!r:.200} for {self.path!r:.200}")
        if not os.access(folder, os.W_OK):
            raise PermissionError(f"folder {str(folder)!r:.200} is not writable")
        loop = asyncio.get_running_loop()
        self._state = "recording"
        for stream in self.streams:
            stream.start()
            self._tasks.append(loop.create_task(self._record(stream)))

    async def stop(self) -> None:
        """Stops reading, writes the frames still buffered and finalizes the file
        (no file if no frame ever came)."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._finish())
        await asyncio.shield(self._stopping)

    async def wait(self) -> None:
        """Until the file is finalized: ``stop()``, or the end of every source;
        raises :attr:`error` if the file failed."""
        await self._stopped.wait()
        if self.error is not None:
            raise self.error

    async def _record(self, stream: RecordedStream) -> None:
        try:
            async for frame in stream.frames():
                self._write(stream, frame)
        except Exception:
            _logger.exception("recording %s: the %s stream failed", self.path, stream.kind)
            stream.stop()
        for frame in stream.drain():
            self._write(stream, frame)
        if self._stopping is None and all(stream.ended for stream in self.streams):
            self._stopping = asyncio.ensure_future(self._finish())

    async def _finish(self) -> None:
        if self._state == "new":
            self._state = "stopped"
            self._stopped.set()
            return
        self._state = "stopping"
        try:
            current = asyncio.current_task()
            for stream in self.streams:
                stream.stop()
            for task in self._tasks:
                if task is not current:
                    task.cancel()
            await asyncio.gather(*(task for task in self._tasks if task is not current), return_exceptions=True)
            for stream in self.streams:
                if not stream.ended:
                    for frame in stream.drain():
                        self._write(stream, frame)
            self._timed_out = True
            self._open()
            if self._start_timer is not None:
                self._start_timer.cancel()
            if self._container is not None:
                try:
                    self._container.close()
                except (OSError, av.error.FFmpegError) as error:
                    if self.error is None:
                        _logger.error("recording %s: finalizing the file failed: %s", self.path, error)
                        self.error = error
            elif self.error is None:
                _logger.warning("recording %s: no frame came from any source, no file written", self.path)
        finally:
            self._state = "stopped"
            self._stopped.set()
            self.emit("ended")

    def _start_timed_out(self) -> None:
        self._timed_out = True
        self._open()

    def _write(self, stream: RecordedStream, frame: EncodedFrame) -> None:
        if self.error is not None:
            return  # the file failed
        if not self._first_arrivals and self._container is None:
            # The wait for the other streams counts from the first frame: a
            # recording started long before anyone sent keeps every stream.
            self._start_timer = asyncio.get_running_loop().call_later(self._start_timeout, self._start_timed_out)
        self._first_arrivals.setdefault(stream, frame.arrivalTime)
        if self._container is None:
            self._pending.append((stream, frame))
            self._open()
        else:
            self._mux(stream, frame)

    def _open(self) -> None:
        """Starts the file if every stream has its first frame (or the wait is
        over). A file that cannot be made (its folder gone, the disk full)
        fails the recording: :attr:`error`, the sources stopped."""
        if self._container is not None or not self._first_arrivals or self.error is not None:
            return
        if not self._timed_out and any(stream not in self._first_arrivals for stream in self.streams):
            return
        if self._start_timer is not None:
            self._start_timer.cancel()
        try:
            self._create()
        except (OSError, av.error.FFmpegError, ValueError) as error:
            self._fail(error)

    def _fail(self, error: BaseException) -> None:
        """The file cannot be written: the recording ends with ``error``."""
        if self.error is not None:
            return
        _logger.error("recording %s: the file cannot be written: %s", self.path, error)
        self.error = error
        self._pending = []
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._finish())

    def _create(self) -> None:
        """Opens the file, one output per stream that has a frame, and writes what waited."""
        container = av.open(self.path, "w", format=self.format)
        try:
            self._add_outputs(container)
        except BaseException:
            try:
                container.close()
            except (OSError, av.error.FFmpegError):
                pass  # the first error is the one to tell
            raise
        self._container = container
        pending, self._pending = self._pending, []
        for stream, frame in pending:
            self._mux(stream, frame)

    def _add_outputs(self, container: av.container.OutputContainer) -> None:
        origin = min(self._first_arrivals.values())
        for stream in self.streams:
            arrival = self._first_arrivals.get(stream)
            if arrival is None:
                _logger.warning("recording %s: no frame from the %s stream, left out", self.path, stream.kind)
                stream.stop()
                continue
            codec = stream.codec
            time_base = fractions.Fraction(1, codec.clockRate)
            output: av.stream.Stream
            if stream.kind == "audio":
                channels = codec.channels or 1
                output = container.add_stream_from_template(_audio_template(codec.encoder or codec.decoder, codec.clockRate))
                context = output.codec_context
                assert isinstance(context, av.AudioCodecContext), codec.mimeType
                context.extradata = _opus_head(channels, codec.clockRate)
                context.layout = "stereo" if channels > 1 else "mono"
                context.sample_rate = codec.clockRate
            else:
                assert stream.size is not None
                output = container.add_mux_stream(codec.decoder, width=stream.size[0], height=stream.size[1])
            output.time_base = time_base
            self._outputs[stream] = _Output(output, round((arrival - origin) * codec.clockRate), time_base)

    def _mux(self, stream: RecordedStream, frame: EncodedFrame) -> None:
        output = self._outputs.get(stream)
        if output is None or self.error is not None:
            return  # left out of the file, or the file failed
        assert self._container is not None
        pts = output.offset + frame.timestamp
        if output.last_pts is not None and pts <= output.last_pts:
            pts = output.last_pts + 1  # the sender's clock went back: keep the stream's order
        output.last_pts = pts
        packet = av.Packet(frame.data)
        packet.stream = output.stream
        packet.time_base = output.time_base
        packet.pts = packet.dts = pts
        packet.is_keyframe = frame.keyframe
        if stream.kind == "audio":
            try:
                packet.duration = opusPacketSamples(frame.data)
            except ValueError:
                pass
        try:
            self._container.mux(packet)
        except OSError as error:  # the file (its folder gone, the disk full), not the frame
            self._fail(error)
        except av.error.FFmpegError as error:
            _logger.warning("recording %s: a %s frame not written: %s", self.path, stream.kind, error)

    add_source = addSource


def _audio_template(encoder: str, clock_rate: int) -> av.stream.Stream:
    """A stream whose codec context the file's audio stream copies: a codec
    context is where PyAV takes extradata (OpusHead) and the channel layout,
    and one made from a template is never opened as an encoder."""
    scratch = av.open(io.BytesIO(), "w", format="matroska")
    return scratch.add_stream(encoder, rate=clock_rate)
