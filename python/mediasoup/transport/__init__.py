"""The kinds of transport a peer has, one module each: WebRTC
(:class:`Transport`, ICE-lite, DTLS, SRTP over str0m), direct
(:class:`DirectTransport`, no network: Python is the endpoint) and plain
(:class:`PlainTransport`, RTP over UDP for ffmpeg, GStreamer, gateways);
what they share is in ``_base``.
"""

from __future__ import annotations

from ._base import BaseTransport, TransportOwner, check_usable
from .direct import DirectTransport, MediaEnd
from .plain import SRTP_CRYPTO_SUITES, PlainTransport, sdp
from .webrtc import Transport

__all__ = [
    "SRTP_CRYPTO_SUITES",
    "BaseTransport",
    "DirectTransport",
    "MediaEnd",
    "PlainTransport",
    "Transport",
    "TransportOwner",
    "check_usable",
    "sdp",
]
