"""mediasoup.webrtc: the server side of plain WebRTC endpoints, which speak
SDP (browsers, aiortc, OBS, GStreamer, ffmpeg) rather than ORTC.

:mod:`mediasoup.webrtc.sdp` parses and writes their session descriptions.
"""

from __future__ import annotations

from . import sdp

__all__ = ["sdp"]
