"""mediasoup: a WebRTC SFU for asyncio.

``mediasoup.Server(**options)`` starts worker processes written in Rust on
str0m; rooms hold multiparty calls whose streams the workers forward.

Usage::

    async with mediasoup.Server(numWorkers=1, rtcListenIPv4="127.0.0.1") as server:
        room = await server.Room()
        print(await server.dump())
"""

from __future__ import annotations

import atexit

from . import _mediasoup, errors, extra, webrtc
from ._display import Dump, Stats
from ._mediasoup import __version__
from .data_receiver import DataReceiver
from .data_sender import DataSender
from .peer import Peer
from .pipe import Pipe
from .room import Room
from .rtp_receiver import RtpReceiver
from .rtp_sender import RtpPackets, RtpSender
from .server import Server
from .transport import DirectTransport, PlainTransport, Transport

# Before the interpreter finalizes, the extension's threads stop calling into it.
atexit.register(_mediasoup._before_exit)

__all__ = [
    "Server",
    "Room",
    "Pipe",
    "Peer",
    "Transport",
    "DirectTransport",
    "PlainTransport",
    "RtpReceiver",
    "RtpSender",
    "RtpPackets",
    "DataReceiver",
    "DataSender",
    "Dump",
    "Stats",
    "errors",
    "extra",
    "webrtc",
    "__version__",
]
