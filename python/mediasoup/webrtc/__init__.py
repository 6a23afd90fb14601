"""mediasoup.webrtc: the server side of plain WebRTC endpoints, which speak
SDP (browsers, aiortc, OBS, GStreamer, ffmpeg) rather than ORTC.

:class:`RTCPeerConnection` answers their offers for a :class:`mediasoup.Peer`;
:mod:`mediasoup.webrtc.sdp` parses and writes session descriptions.
"""

from __future__ import annotations

from . import sdp
from .peer_connection import RTCPeerConnection, RTCSessionDescription

__all__ = ["RTCPeerConnection", "RTCSessionDescription", "sdp"]
