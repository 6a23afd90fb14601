"""The kinds of transport a peer has, one module each: WebRTC
(:class:`Transport`, ICE-lite, DTLS, SRTP over str0m) and direct
(:class:`DirectTransport`, no network: Python is the endpoint); what they
share is in ``_base``.
"""

from __future__ import annotations

from ._base import BaseTransport, TransportOwner, check_usable
from .direct import DirectTransport, MediaEnd
from .webrtc import Transport

__all__ = ["BaseTransport", "DirectTransport", "MediaEnd", "Transport", "TransportOwner", "check_usable"]
