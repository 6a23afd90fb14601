"""``RemoteTrack``: the decoded media of an :class:`RtpSource`, as an aiortc track.

The source's packets go into a :class:`JitterBuffer` as they arrive (a task
reads them); ``recv()`` takes the next whole frame out, depacketizes it,
decodes it with PyAV and returns the ``av`` frame. While the buffer waits for
a keyframe (at start and after a loss), ``recv()`` asks the source for one,
at most every ``keyFrameRequestInterval`` seconds.
"""

from __future__ import annotations

import asyncio
import collections
import fractions
import logging
import math
from collections.abc import AsyncIterator

import av
import av.error

from .codecs import MTU, Codec, mediaCodec
from .jitter_buffer import Frame, JitterBuffer
from .keyframe_requests import KeyframeRequests
from .protocols import RtpSource, stop_packets
from .rtp import RtpPacket
from .track import MediaStreamError, MediaStreamTrack

_logger = logging.getLogger("mediasoup.media")


def _open_decoder(codec: Codec) -> av.AudioCodecContext | av.VideoCodecContext:
    """A PyAV decoder for ``codec``; audio comes out as s16 at the clock rate."""
    decoder = av.CodecContext.create(codec.decoder, "r")
    if isinstance(decoder, av.AudioCodecContext):
        decoder.sample_rate = codec.clockRate
        decoder.layout = "stereo" if (codec.channels or 1) > 1 else "mono"
        decoder.format = "s16"
    assert isinstance(decoder, (av.AudioCodecContext, av.VideoCodecContext)), codec.decoder
    return decoder


class RemoteTrack(MediaStreamTrack):
    """Frames of ``source`` (an RtpSender on a direct transport), decoded.

    ``await recv()`` gives ``av.AudioFrame`` (s16, 48 kHz, stereo for Opus) or
    ``av.VideoFrame`` (yuv420p), with ``pts`` in the RTP clock from 0 at the
    first frame and ``time_base`` 1/clockRate; MediaStreamError once the source
    has ended (after its last frame) or the track is stopped. Counters:
    ``packetsReceived``, ``framesDecoded``, ``decodeErrors``, ``keyFrameRequests``
    and the jitter buffer's (``jitterBuffer.packetsLost``…).
    """

    def __init__(self, source: RtpSource, maxDelay: float = 0.1, keyFrameRequestInterval: float = 0.5) -> None:
        super().__init__()
        codec, payload_type = mediaCodec(source.rtpParameters)
        if codec.kind != source.kind:
            raise ValueError(f"a {source.kind} source with codec {codec.mimeType}")
        self.kind = source.kind
        self._source = source
        self._codec = codec
        self._payload_type = payload_type
        self._format = codec.payloadFormat(MTU)
        self.jitterBuffer = JitterBuffer(source.kind, self._format.startsKeyframe, maxDelay=maxDelay)
        self._decoder = _open_decoder(codec)
        self._time_base = fractions.Fraction(1, codec.clockRate)
        self._keyframe_requests = KeyframeRequests(keyFrameRequestInterval)
        self._reader: asyncio.Task[None] | None = None
        self._packets: AsyncIterator[bytes] | None = None
        self._arrived = asyncio.Event()
        self._source_ended = False
        self._requests: set[asyncio.Task[None]] = set()
        self._decoded: collections.deque[av.AudioFrame | av.VideoFrame] = collections.deque()
        self._last_timestamp: int | None = None
        self._pts = 0
        self.packetsReceived = 0
        self.framesDecoded = 0
        self.decodeErrors = 0
        self.keyFrameRequests = 0

    @property
    def codec(self) -> Codec:
        """The row of :data:`~mediasoup.media.codecs.CODECS` this track decodes."""
        return self._codec

    async def recv(self) -> av.AudioFrame | av.VideoFrame:
        """The next decoded frame (``av.AudioFrame`` or ``av.VideoFrame``)."""
        loop = asyncio.get_running_loop()
        if self._reader is None and self.readyState == "live":
            self._reader = loop.create_task(self._read())
        while True:
            if self.readyState != "live":
                raise MediaStreamError(f"track {self.id} has ended")
            if self._decoded:
                return self._decoded.popleft()
            self._arrived.clear()
            now = loop.time()
            # Before pop(): at start, even if a keyframe is already in.
            self._request_keyframe(now)
            # Once the source has ended, no missing packet can still come:
            # what waits behind one goes out now (the loss counted).
            frame = self.jitterBuffer.pop(math.inf if self._source_ended else now)
            if frame is not None:
                self._decode(frame)
                continue
            if self._source_ended:
                self.stop()
                continue
            await self._wait(now)

    def stop(self) -> None:
        """Ends the track: stops reading the source; ``recv()`` raises MediaStreamError."""
        if self._reader is not None:
            self._reader.cancel()
        stop_packets(self._packets)
        for request in list(self._requests):
            request.cancel()
        self._arrived.set()
        super().stop()

    async def _wait(self, now: float) -> None:
        """Until a packet arrives, the buffer's timeout or the next keyframe request."""
        wake = [self.jitterBuffer.nextTimeout(), self._keyframe_requests.nextDue(self.jitterBuffer.keyframeNeeded)]
        deadlines = [deadline for deadline in wake if deadline is not None]
        if not deadlines:
            await self._arrived.wait()
            return
        try:
            await asyncio.wait_for(self._arrived.wait(), max(0.0, min(deadlines) - now))
        except asyncio.TimeoutError:
            pass

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            # In the task: a source closed already ends the track (MediaStreamError), as one that closes later.
            self._packets = self._source.packets()
            async for data in self._packets:
                try:
                    packet = RtpPacket.parse(data)
                except ValueError as error:
                    _logger.debug("track %s: dropped a packet: %s", self.id, error)
                    continue
                if packet.payloadType != self._payload_type:
                    continue
                self.packetsReceived += 1
                self.jitterBuffer.push(packet, loop.time())
                self._arrived.set()
        except Exception:
            _logger.exception("track %s: reading the source failed", self.id)
        finally:
            self._source_ended = True
            self._arrived.set()

    def _request_keyframe(self, now: float) -> None:
        if not self._keyframe_requests.due(self.jitterBuffer.keyframeNeeded, now):
            return
        self.keyFrameRequests += 1
        request = asyncio.ensure_future(self._source.requestKeyFrame())
        self._requests.add(request)
        request.add_done_callback(self._request_done)

    def _request_done(self, request: asyncio.Task[None]) -> None:
        self._requests.discard(request)
        if not request.cancelled() and request.exception() is not None:
            _logger.warning("track %s: keyframe request failed: %r", self.id, request.exception())

    def _decode(self, frame: Frame) -> None:
        try:
            data = self._format.depacketize(frame.payloads)
            # A frame of no data (a bare VP8 descriptor, an empty STAP-A) is
            # passed over: an empty av.Packet is FFmpeg's end of stream, after
            # which the decoder would decode nothing more, keyframes included.
            decoded = self._decoder.decode(av.Packet(data)) if data else []
        except (ValueError, av.error.FFmpegError) as error:
            # Video: the next frames reference this one; wait for a keyframe.
            _logger.debug("track %s: frame %r not decoded: %s", self.id, frame, error)
            self.decodeErrors += 1
            self.jitterBuffer.dropUntilKeyframe()
            return
        pts = self._unwrap(frame.timestamp)
        for output in decoded:
            if isinstance(output, av.VideoFrame) and output.format.name != "yuv420p":
                output = output.reformat(format="yuv420p")
            output.pts = pts
            output.time_base = self._time_base
            self._decoded.append(output)
            self.framesDecoded += 1

    def _unwrap(self, timestamp: int) -> int:
        """``timestamp`` (32-bit, wrapping) as a pts from 0 at the first frame."""
        if self._last_timestamp is not None:
            delta = (timestamp - self._last_timestamp) & 0xFFFFFFFF
            self._pts += delta - (1 << 32) if delta >= 1 << 31 else delta
        self._last_timestamp = timestamp
        return self._pts
