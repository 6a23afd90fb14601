"""``RecordedStream``: one source of a :class:`~mediasoup.media.Recorder`, its
RTP packets turned into whole encoded frames, never decoded (but the first
video frame, once, for its size).

A task reads the source's packets into a :class:`JitterBuffer`; :meth:`frames`
takes the frames out in order, depacketized, each with its RTP timestamp
unwrapped and counted from the stream's first frame. Video starts at a
keyframe and, after a loss, skips to the next one, asking the source for it
at once and then every ``keyFrameRequestInterval`` while it waits (the worker
relays at most one request per 500 ms to the publisher).
"""

from __future__ import annotations

import asyncio
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

_logger = logging.getLogger("mediasoup.media")


class EncodedFrame:
    """A frame as the container takes it: the codec's bitstream (Annex B for
    H.264), its time in the RTP clock from the stream's first frame, and
    when its last packet arrived (loop time)."""

    __slots__ = ("data", "timestamp", "keyframe", "arrivalTime")

    def __init__(self, data: bytes, timestamp: int, keyframe: bool, arrivalTime: float) -> None:
        self.data = data
        self.timestamp = timestamp
        self.keyframe = keyframe
        self.arrivalTime = arrivalTime


class RecordedStream:
    """The encoded frames of ``source`` (an RtpSender on a direct transport).

    ``size`` is the video's (width, height) from its first keyframe, None
    before it and for audio. Counters: ``packetsReceived``, ``framesRecorded``
    (given by :meth:`frames`), ``framesDiscarded`` (not depacketized),
    ``keyFrameRequests`` and the jitter buffer's (``jitterBuffer.packetsLost``…).
    """

    def __init__(self, source: RtpSource, maxDelay: float = 0.1, keyFrameRequestInterval: float = 0.5) -> None:
        codec, payload_type = mediaCodec(source.rtpParameters)
        if codec.kind != source.kind:
            raise ValueError(f"a {source.kind} source with codec {codec.mimeType}")
        self.source = source
        self.kind = source.kind
        self.codec: Codec = codec
        self._payload_type = payload_type
        self._format = codec.payloadFormat(MTU)
        self.jitterBuffer = JitterBuffer(source.kind, self._format.startsKeyframe, maxDelay=maxDelay)
        self._keyframe_requests = KeyframeRequests(keyFrameRequestInterval)
        self._packets: AsyncIterator[bytes] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()
        self._requests: set[asyncio.Task[None]] = set()
        self._first_timestamp: int | None = None
        self._last_timestamp = 0
        self._unwrapped = 0
        self.size: tuple[int, int] | None = None
        self.ended = False  # the source ended and every frame was given
        self.packetsReceived = 0
        self.framesRecorded = 0
        self.framesDiscarded = 0
        self.keyFrameRequests = 0

    def start(self) -> None:
        """Starts reading the source's packets (from now on)."""
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read())

    def stop(self) -> None:
        """Stops reading the source; :meth:`drain` gives what is left."""
        if self._reader is not None:
            self._reader.cancel()
        stop_packets(self._packets)
        for request in list(self._requests):
            request.cancel()
        self._arrived.set()

    async def frames(self) -> AsyncIterator[EncodedFrame]:
        """The frames in order until the source ends (or :meth:`stop`)."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            frame = self.jitterBuffer.pop(now)
            if frame is not None:
                encoded = self._encoded(frame)
                if encoded is not None:
                    yield encoded
                continue
            self._request_keyframe(now)
            if self._reader is None or self._reader.done():
                self.ended = True
                return
            await self._wait(now)

    def drain(self) -> list[EncodedFrame]:
        """The frames still in the jitter buffer, missing packets declared lost."""
        drained = []
        while (frame := self.jitterBuffer.pop(math.inf)) is not None:
            encoded = self._encoded(frame)
            if encoded is not None:
                drained.append(encoded)
        self.ended = True
        return drained

    async def _wait(self, now: float) -> None:
        """Until a packet arrives, the buffer's timeout or the next keyframe request."""
        self._arrived.clear()
        wake = [self.jitterBuffer.nextTimeout(), self._keyframe_requests.nextDue(self.jitterBuffer.keyframeNeeded)]
        deadlines = [deadline for deadline in wake if deadline is not None]
        try:
            timeout = max(0.0, min(deadlines) - now) if deadlines else None
            await asyncio.wait_for(self._arrived.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            # In the task: a source closed already ends the stream, as one that closes later.
            self._packets = self.source.packets()
            async for data in self._packets:
                try:
                    packet = RtpPacket.parse(data)
                except ValueError as error:
                    _logger.debug("recorded %s stream: dropped a packet: %s", self.kind, error)
                    continue
                if packet.payloadType != self._payload_type:
                    continue
                self.packetsReceived += 1
                self.jitterBuffer.push(packet, loop.time())
                self._arrived.set()
        except Exception:
            _logger.exception("recorded %s stream: reading the source failed", self.kind)
        finally:
            self._arrived.set()

    def _request_keyframe(self, now: float) -> None:
        if not self._keyframe_requests.due(self.jitterBuffer.keyframeNeeded, now):
            return
        self.keyFrameRequests += 1
        request = asyncio.ensure_future(self.source.requestKeyFrame())
        self._requests.add(request)
        request.add_done_callback(self._request_done)

    def _request_done(self, request: asyncio.Future[None]) -> None:
        self._requests.discard(request)
        if not request.cancelled() and request.exception() is not None:
            _logger.warning("recorded %s stream: keyframe request failed: %r", self.kind, request.exception())

    def _encoded(self, frame: Frame) -> EncodedFrame | None:
        """``frame`` depacketized, or None (counted) if it cannot be: video then
        waits for the next keyframe, which is asked for."""
        try:
            data = self._format.depacketize(frame.payloads)
            if not data:
                # No data (a bare VP8 descriptor, an empty STAP-A): nothing to
                # write, and nothing later needs it.
                self.framesDiscarded += 1
                return None
            if self.kind == "video" and self.size is None:
                self.size = _video_size(self.codec, data)
        except (ValueError, av.error.FFmpegError) as error:
            _logger.debug("recorded %s stream: frame %r discarded: %s", self.kind, frame, error)
            self.framesDiscarded += 1
            self.jitterBuffer.dropUntilKeyframe()
            return None
        if self._first_timestamp is None:
            self._first_timestamp = self._last_timestamp = frame.timestamp
        delta = (frame.timestamp - self._last_timestamp) & 0xFFFFFFFF
        self._unwrapped += delta - (1 << 32) if delta >= 1 << 31 else delta
        self._last_timestamp = frame.timestamp
        self.framesRecorded += 1
        return EncodedFrame(data, self._unwrapped, frame.keyframe, frame.arrivalTime)


def _video_size(codec: Codec, keyframe: bytes) -> tuple[int, int]:
    """The picture size of a video stream's first keyframe, decoded once;
    ValueError if it does not decode (an H.264 IDR without its SPS, say)."""
    decoder = av.CodecContext.create(codec.decoder, "r")
    assert isinstance(decoder, av.VideoCodecContext), codec.decoder
    pictures = decoder.decode(av.Packet(keyframe)) + decoder.decode(None)
    if not pictures:
        raise ValueError(f"the first {codec.mimeType} keyframe gave no picture")
    return pictures[0].width, pictures[0].height
