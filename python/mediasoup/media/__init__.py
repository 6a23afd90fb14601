"""``mediasoup.media``: decoded media for Python peers (extra ``mediasoup[media]``: PyAV, numpy).

:class:`RemoteTrack` decodes what an RtpSender on a direct transport hands
Python (an :class:`RtpSource`) into ``av`` frames, with aiortc's
``MediaStreamTrack`` interface; :class:`TrackPublisher` encodes any
aiortc-compatible track and sends it into an RtpReceiver on a direct transport
(an :class:`RtpSink`); :class:`Recorder` writes sources into a file as they
are encoded. Below them, sans-IO pieces: :class:`RtpPacket`, the
payload formats (Opus, VP8, H264), :class:`JitterBuffer` and
:class:`KeyframeRequests`.

Usage::

    direct = await peer.createDirectTransport()
    track = await subscribe(rtpSender, direct)      # one of peer.rtpSenders, decoded
    frame = await track.recv()
    publisher = await publish(direct, aiortc_track) # a new stream of the peer

The core package never imports this one.
"""

from __future__ import annotations

from .codecs import CODECS, Codec, findCodec
from .jitter_buffer import Frame, JitterBuffer
from .keyframe_requests import KeyframeRequests
from .peer_media import publish, recordPeer, subscribe
from .protocols import RtpSink, RtpSource
from .publish import TrackPublisher, producerRtpParameters
from .recorded_stream import RecordedStream
from .recorder import Recorder
from .remote_track import RemoteTrack
from .rtp import RtpPacket
from .track import MediaStreamError, MediaStreamTrack

__all__ = [
    "CODECS",
    "Codec",
    "Frame",
    "JitterBuffer",
    "KeyframeRequests",
    "MediaStreamError",
    "MediaStreamTrack",
    "RecordedStream",
    "Recorder",
    "RemoteTrack",
    "RtpPacket",
    "RtpSink",
    "RtpSource",
    "TrackPublisher",
    "findCodec",
    "find_codec",
    "producerRtpParameters",
    "producer_rtp_parameters",
    "publish",
    "recordPeer",
    "record_peer",
    "subscribe",
]

find_codec = findCodec
producer_rtp_parameters = producerRtpParameters
record_peer = recordPeer
