"""``TrackPublisher``: any aiortc-compatible track, encoded, packetized and
sent into an :class:`RtpSink` (an RtpReceiver on a direct transport) in real
time; ``producerRtpParameters`` describes the stream to the receiver.

Packets go out at their media time: the first frame sets the origin, each
later one waits until ``origin + (timestamp - first timestamp) / clockRate``
on the loop's clock, so a source that makes frames as fast as it can is sent
in real time and a source that paces itself is not delayed (its frames are
due when they come). A video frame's timestamp is its ``pts``; where the
source's time jumps (back: a file played in a loop; forward by more than
the time that passed), the stream's goes on from the last frame by the time
that passed instead, so receivers see one continuous clock and the
publisher never waits for a jump.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from typing import Any

from .._events import EventEmitter
from .codecs import MTU, Codec, findCodec
from .encoders import AudioEncoder, EncodedFrame, VideoEncoder
from .protocols import RtpSink
from .rtp import RtpPacket
from .track import MediaStreamError

_logger = logging.getLogger("mediasoup.media")

DEFAULT_MIME_TYPES = {"audio": "audio/opus", "video": "video/VP8"}
DEFAULT_BITRATES = {"audio": 64_000, "video": 1_000_000}
# Later than this behind its media time (the source stalled): the origin moves,
# rather than the frames after the stall going out in a burst.
_MAX_LATENESS = 0.5


def producerRtpParameters(mimeType: str, ssrc: int, cname: str) -> dict[str, Any]:
    """mediasoup producer ``RtpParameters`` of a stream of ``mimeType`` sent by one SSRC."""
    codec = findCodec(mimeType)
    return {
        "codecs": [codec.rtpCodec()],
        "headerExtensions": [],
        "encodings": [{"ssrc": ssrc}],
        "rtcp": {"cname": cname, "reducedSize": True},
    }


class TrackPublisher(EventEmitter):
    """Publishes ``track`` into ``sink`` as ``mimeType`` (Opus or VP8 by default; H264 too).

    ``rtpParameters`` is what the sink's ``receive()`` takes; ``start()`` starts
    sending, ``stop()`` stops it, and it stops by itself when the track ends.
    A keyframe request from the sink makes the next video frame a keyframe:
    ``encodingkeyframerequest(ssrc)`` for its own SSRC when the sink names
    encodings (an RtpReceiver does: of a simulcast stream published as one
    TrackPublisher per SSRC, only the layer asked for makes one), else
    ``keyframerequest()``.
    Event ``ended`` when it stops. Counters: ``packetsSent``, ``bytesSent``,
    ``framesEncoded``, ``keyFramesEncoded``.
    """

    def __init__(
        self,
        track: Any,
        sink: RtpSink,
        mimeType: str | None = None,
        ssrc: int | None = None,
        cname: str | None = None,
        bitrate: int | None = None,
        mtu: int = MTU,
    ) -> None:
        super().__init__()
        if track.kind != sink.kind:
            raise ValueError(f"a {track.kind} track into a {sink.kind} sink")
        self._codec: Codec = findCodec(mimeType or DEFAULT_MIME_TYPES[track.kind])
        if self._codec.kind != track.kind or self._codec.encoder is None:
            raise ValueError(f"a {track.kind} track cannot be published as {self._codec.mimeType}")
        self._track = track
        self._sink = sink
        self._ssrc = random.randint(1, 0xFFFFFFFF) if ssrc is None else ssrc
        self._cname = cname or secrets.token_hex(8)
        self._bitrate = bitrate or DEFAULT_BITRATES[track.kind]
        self._format = self._codec.payloadFormat(mtu)
        self._sequence_number = random.getrandbits(16)
        self._timestamp_base = random.getrandbits(32)
        self._origin: tuple[float, int] | None = None  # (loop time, timestamp) of the first frame
        self._last_video: tuple[float, int | None, int] | None = None  # (loop time, source time, timestamp) of the last frame
        self._keyframe_pending = False
        # The sink named the encoding of the request whose keyframerequest comes next.
        self._request_named = False
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self.packetsSent = 0
        self.bytesSent = 0
        self.framesEncoded = 0
        self.keyFramesEncoded = 0
        sink.on("encodingkeyframerequest", self._on_encoding_keyframe_request)
        sink.on("keyframerequest", self._on_keyframe_request)
        sink.on("close", self._on_sink_close)

    @property
    def kind(self) -> str:
        return str(self._track.kind)

    @property
    def ssrc(self) -> int:
        return self._ssrc

    @property
    def track(self) -> Any:
        return self._track

    @property
    def rtpParameters(self) -> dict[str, Any]:
        """The producer ``RtpParameters`` of the published stream."""
        return producerRtpParameters(self._codec.mimeType, self._ssrc, self._cname)

    @property
    def active(self) -> bool:
        """True from ``start()`` until it stops."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Starts reading, encoding and sending (in a task of the running loop)."""
        if self._stopped:
            raise RuntimeError("a stopped TrackPublisher does not start again")
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        """Stops sending (the track itself is not stopped)."""
        if self._task is not None:
            self._task.cancel()
        self._finish()

    async def wait(self) -> None:
        """Until it stops: the track ended, or ``stop()``."""
        if self._task is not None:
            await asyncio.wait([self._task])

    def _on_encoding_keyframe_request(self, ssrc: int) -> None:
        self._request_named = True
        if ssrc == self._ssrc:
            self._keyframe_pending = True

    def _on_keyframe_request(self, *args: Any) -> None:
        # A request whose encoding was just named counts for that encoding alone.
        if self._request_named:
            self._request_named = False
        else:
            self._keyframe_pending = True

    def _on_sink_close(self, *args: Any) -> None:
        # Its receiver closed (by the application, with its peer): the stream
        # ends here, not at the next frame's send with an error logged.
        self.stop()

    def _finish(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        off = getattr(self._sink, "off", None)
        if off is not None:
            off("encodingkeyframerequest", self._on_encoding_keyframe_request)
            off("keyframerequest", self._on_keyframe_request)
            off("close", self._on_sink_close)
        self.emit("ended")

    async def _run(self) -> None:
        try:
            encoder: AudioEncoder | VideoEncoder
            if self._codec.kind == "audio":
                encoder = AudioEncoder(self._codec, self._bitrate)
            else:
                encoder = VideoEncoder(self._codec, self._bitrate)
            loop = asyncio.get_running_loop()
            while True:
                try:
                    frame = await self._track.recv()
                except MediaStreamError:
                    return
                if isinstance(encoder, AudioEncoder):
                    encoded = encoder.encode(frame)
                else:
                    timestamp = self._video_timestamp(frame, loop.time())
                    keyframe, self._keyframe_pending = self._keyframe_pending, False
                    encoded = encoder.encode(frame, timestamp, keyframe)
                for item in encoded:
                    await self._pace(loop, item[1])
                    self._send(item)
        except asyncio.CancelledError:
            raise
        except Exception:
            _logger.exception("publisher of track %s failed", getattr(self._track, "id", self._track))
        finally:
            self._finish()

    def _video_timestamp(self, frame: Any, now: float) -> int:
        """A video frame's timestamp (from 0): its ``pts`` in the clock rate
        while the source's time runs on; the time that passed where it
        jumps (or where there is no ``pts``)."""
        clock = self._codec.clockRate
        source = int(frame.pts * frame.time_base * clock) if frame.pts is not None and frame.time_base is not None else None
        if self._last_video is None:
            timestamp = 0
        else:
            then, last_source, last = self._last_video
            passed = round((now - then) * clock)
            step = None if source is None or last_source is None else source - last_source
            if step is None or not 0 < step <= passed + _MAX_LATENESS * clock:
                step = max(1, passed)
            timestamp = last + step
        self._last_video = (now, source, timestamp)
        return timestamp

    async def _pace(self, loop: asyncio.AbstractEventLoop, timestamp: int) -> None:
        now = loop.time()
        if self._origin is None:
            self._origin = (now, timestamp)
            return
        due = self._origin[0] + (timestamp - self._origin[1]) / self._codec.clockRate
        if due > now:
            await asyncio.sleep(due - now)
        elif now - due > _MAX_LATENESS:
            self._origin = (now, timestamp)

    def _send(self, item: EncodedFrame) -> None:
        bitstream, timestamp, keyframe = item
        payloads = self._format.packetize(bitstream, keyframe)
        rtp_timestamp = (self._timestamp_base + timestamp) & 0xFFFFFFFF
        video = self._codec.kind == "video"
        last = len(payloads) - 1
        for index, payload in enumerate(payloads):
            packet = RtpPacket(self._codec.payloadType, video and index == last, self._sequence_number,
                               rtp_timestamp, self._ssrc, payload).serialize()
            self._sequence_number = (self._sequence_number + 1) & 0xFFFF
            self._sink.sendRtp(packet)
            self.packetsSent += 1
            self.bytesSent += len(packet)
        self.framesEncoded += 1
        self.keyFramesEncoded += keyframe and video

    rtp_parameters = rtpParameters


producer_rtp_parameters = producerRtpParameters
