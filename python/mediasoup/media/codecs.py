"""The codecs of the media layer: one table from which the payload formats,
the PyAV decoders and encoders and the producers' ``rtpParameters`` derive."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .h264 import H264PayloadFormat
from .opus import OpusPayloadFormat
from .vp8 import Vp8PayloadFormat

MTU = 1200


class PayloadFormat(Protocol):
    """An RTP payload format: frames to payloads and back."""

    def packetize(self, frame: bytes, keyframe: bool = False) -> list[bytes]:
        """One encoded frame in RTP payloads of at most the format's mtu."""

    def depacketize(self, payloads: Sequence[bytes]) -> bytes:
        """The encoded frame in one frame's payloads, in order."""

    def startsKeyframe(self, payload: bytes) -> bool:
        """Whether ``payload`` is the first packet of a frame a decoder can start from."""


@dataclasses.dataclass(frozen=True)
class Codec:
    """One row of :data:`CODECS`."""

    mimeType: str
    payloadType: int
    clockRate: int
    channels: int | None
    parameters: dict[str, Any]
    rtcpFeedback: list[dict[str, str]]
    decoder: str  # the PyAV (FFmpeg) decoder
    encoder: str | None  # the PyAV encoder; None: this layer does not publish it
    payloadFormat: Callable[[int], PayloadFormat]  # mtu -> a fresh payload format

    @property
    def kind(self) -> str:
        return self.mimeType.split("/")[0]

    def rtpCodec(self) -> dict[str, Any]:
        """The mediasoup ``RtpCodecParameters`` of this codec."""
        codec: dict[str, Any] = {"mimeType": self.mimeType, "payloadType": self.payloadType, "clockRate": self.clockRate}
        if self.channels is not None:
            codec["channels"] = self.channels
        codec["parameters"] = dict(self.parameters)
        codec["rtcpFeedback"] = [dict(feedback) for feedback in self.rtcpFeedback]
        return codec

    rtp_codec = rtpCodec


_VIDEO_FEEDBACK = [{"type": "nack"}, {"type": "nack", "parameter": "pli"}, {"type": "ccm", "parameter": "fir"}]

CODECS: tuple[Codec, ...] = (
    Codec("audio/opus", 100, 48000, 2, {"useinbandfec": 1}, [], "libopus", "libopus", lambda mtu: OpusPayloadFormat()),
    Codec("video/VP8", 101, 90000, None, {}, _VIDEO_FEEDBACK, "vp8", "libvpx", Vp8PayloadFormat),
    Codec(
        "video/H264", 102, 90000, None,
        {"packetization-mode": 1, "profile-level-id": "42e01f", "level-asymmetry-allowed": 1},
        _VIDEO_FEEDBACK, "h264", "libx264", H264PayloadFormat,
    ),
)


def findCodec(mimeType: str) -> Codec:
    """The row of ``mimeType`` (case-insensitive); ValueError naming the known ones."""
    for codec in CODECS:
        if codec.mimeType.lower() == mimeType.lower():
            return codec
    raise ValueError(f"codec {mimeType!r:.80} is not one of {[codec.mimeType for codec in CODECS]}")


def mediaCodec(rtpParameters: dict[str, Any]) -> tuple[Codec, int]:
    """The codec of a stream's ``rtpParameters`` (its first codec that is not
    RTX, FEC or comfort noise) and the payload type it has there."""
    for entry in rtpParameters.get("codecs", []):
        subtype = str(entry.get("mimeType", "")).split("/")[-1].lower()
        if subtype in ("rtx", "red", "ulpfec", "flexfec-03", "cn", "telephone-event"):
            continue
        return findCodec(entry["mimeType"]), int(entry["payloadType"])
    raise ValueError(f"no media codec in rtpParameters codecs {rtpParameters.get('codecs')!r:.80}")


find_codec = findCodec
media_codec = mediaCodec
