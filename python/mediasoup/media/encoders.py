"""PyAV encoders for publishing: any ``av`` frame in, encoded frames with
their RTP timestamps (in the codec's clock, from 0) out.

Audio is resampled to the codec's clock rate in 20 ms frames; its timestamps
count samples, so they advance by exactly one frame per packet. Video keeps
the source's timestamps (pts converted to the 90 kHz clock).
"""

from __future__ import annotations

import fractions
import av
from av.video.frame import PictureType

from .codecs import Codec

AUDIO_PTIME = 0.020

# Real time, no frame lag (each frame out as it goes in), robust to loss.
_ENCODER_OPTIONS: dict[str, dict[str, str]] = {
    "libopus": {"application": "audio", "frame_duration": "20", "fec": "1", "packet_loss": "5"},
    "libvpx": {
        "deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "error-resilient": "1",
        "auto-alt-ref": "0", "static-thresh": "0", "max-intra-rate": "300",
    },
    "libx264": {"preset": "veryfast", "tune": "zerolatency", "profile": "baseline", "level": "31"},
}

EncodedFrame = tuple[bytes, int, bool]  # (bitstream, RTP timestamp from 0, keyframe)


class AudioEncoder:
    """Encodes audio frames of any format, layout and rate as 20 ms packets."""

    def __init__(self, codec: Codec, bitrate: int) -> None:
        if codec.encoder is None or codec.kind != "audio":
            raise ValueError(f"{codec.mimeType} is not an audio codec this layer encodes")
        layout = "stereo" if (codec.channels or 1) > 1 else "mono"
        self._samples_per_frame = int(codec.clockRate * AUDIO_PTIME)
        self._resampler = av.AudioResampler(format="s16", layout=layout, rate=codec.clockRate, frame_size=self._samples_per_frame)
        context = av.CodecContext.create(codec.encoder, "w")
        assert isinstance(context, av.AudioCodecContext), codec.encoder
        self._context: av.AudioCodecContext = context
        self._context.sample_rate = codec.clockRate
        self._context.layout = layout
        self._context.format = "s16"
        self._context.bit_rate = bitrate
        self._context.time_base = fractions.Fraction(1, codec.clockRate)
        self._context.options = dict(_ENCODER_OPTIONS.get(codec.encoder, {}))
        self._samples = 0
        self._pts_origin: int | None = None

    def encode(self, frame: av.AudioFrame) -> list[EncodedFrame]:
        """The packets that ``frame`` completes (none while under 20 ms are buffered)."""
        encoded: list[EncodedFrame] = []
        for resampled in self._resampler.resample(frame):
            resampled.pts = self._samples
            self._samples += resampled.samples
            for packet in self._context.encode(resampled):
                pts = resampled.pts if packet.pts is None else packet.pts
                if self._pts_origin is None:
                    # The encoder's pts lag its input by Opus' pre-skip: timestamps start at 0 anyway.
                    self._pts_origin = pts
                encoded.append((bytes(packet), pts - self._pts_origin, True))
        return encoded


class VideoEncoder:
    """Encodes video frames at ``bitrate``; keyframes only when asked (or every ``keyframeInterval`` frames)."""

    def __init__(self, codec: Codec, bitrate: int, keyframeInterval: int = 3000) -> None:
        if codec.encoder is None or codec.kind != "video":
            raise ValueError(f"{codec.mimeType} is not a video codec this layer encodes")
        self._codec = codec
        self._bitrate = bitrate
        self._keyframe_interval = keyframeInterval
        self._context: av.VideoCodecContext | None = None
        self._size = (0, 0)
        self._last_pts = -1

    def _open(self, width: int, height: int) -> None:
        context = av.CodecContext.create(str(self._codec.encoder), "w")
        assert isinstance(context, av.VideoCodecContext), self._codec.encoder
        context.width, context.height = width, height
        context.pix_fmt = "yuv420p"
        context.bit_rate = self._bitrate
        context.time_base = fractions.Fraction(1, self._codec.clockRate)
        context.framerate = fractions.Fraction(30)
        context.gop_size = self._keyframe_interval
        context.options = dict(_ENCODER_OPTIONS.get(str(self._codec.encoder), {}))
        self._context, self._size = context, (width, height)

    def encode(self, frame: av.VideoFrame, timestamp: int, keyframe: bool) -> list[EncodedFrame]:
        """``frame`` at RTP ``timestamp`` (from 0), a keyframe if ``keyframe`` or
        the first after a size change."""
        if (frame.width, frame.height) != self._size:
            self._open(frame.width, frame.height)
            keyframe = True
        assert self._context is not None
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        # The encoder's rate control needs strictly increasing timestamps.
        pts = max(timestamp, self._last_pts + 1)
        self._last_pts = pts
        # The frame may be shared (MediaRelay): its own fields come back after encoding.
        saved = frame.pts, frame.time_base, frame.pict_type
        frame.pts, frame.time_base = pts, self._context.time_base
        frame.pict_type = PictureType.I if keyframe else PictureType.NONE
        try:
            packets = self._context.encode(frame)
        finally:
            frame.pts, frame.time_base, frame.pict_type = saved
        return [(bytes(packet), pts if packet.pts is None else packet.pts, packet.is_keyframe) for packet in packets]
