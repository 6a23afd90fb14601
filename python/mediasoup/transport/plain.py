"""``PlainTransport``: RTP and RTCP over UDP, without ICE or DTLS, for
endpoints that speak plain RTP (ffmpeg, GStreamer, SIP gateways, recorders).

Its receivers publish what the endpoint sends (``peer.RtpReceiver(kind,
plain)`` with ``receive()`` parameters that name the SSRCs the endpoint
sends with); its senders' streams go to the endpoint (``await
rtpSender.setTransport(plain)``), with a sender report per stream every
second. The endpoint's address is given (``await plain.connect(ip, port)``)
or, with ``comedia``, learnt from its first packet. With SRTP each side
protects what it sends with keys of its own: the transport's in
``srtpParameters``, the endpoint's given to ``connect``. :func:`sdp` writes the
SDP file a receiving endpoint (``ffmpeg -protocol_whitelist file,udp,rtp -i
recording.sdp``) needs for the senders on plain transports.
"""

from __future__ import annotations

import base64
import binascii
import copy
import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .._display import Stats
from ..errors import InvalidStateError
from ._base import BaseTransport, TransportOwner

if TYPE_CHECKING:
    from .._channel import Channel


class SenderOnTransport(Protocol):
    """What :func:`sdp` reads of an :class:`~mediasoup.RtpSender` (a
    transport does not import its owners' modules)."""

    @property
    def id(self) -> str: ...

    @property
    def transport(self) -> BaseTransport | None: ...

    @property
    def rtpParameters(self) -> dict[str, Any]: ...


# mediasoup's names of the SRTP suites (``srtpCryptoSuite``), and the bytes
# of master key and salt each takes (``keyBase64`` decoded).
SRTP_MASTER_LENGTHS = {"AEAD_AES_256_GCM": 44, "AEAD_AES_128_GCM": 28, "AES_CM_128_HMAC_SHA1_80": 30, "AES_CM_128_HMAC_SHA1_32": 30}
SRTP_CRYPTO_SUITES = tuple(SRTP_MASTER_LENGTHS)


class PlainTransport(BaseTransport):
    """A peer's transport for a plain RTP endpoint; made by ``await
    peer.createPlainTransport(listenIp=None, rtcpMux=True, comedia=False)``.

    ``tuple``: ``{'localIp', 'localPort', 'protocol': 'udp', 'remoteIp'?,
    'remotePort'?}`` (remote once known); ``rtcpTuple`` the same for RTCP
    without ``rtcpMux`` (None with it). From any address but the endpoint's,
    nothing is taken. ``getStats()``: ``[{'type': 'plain-transport',
    'rtpPacketsReceived', 'rtpPacketsSent', 'rtcpPacketsReceived',
    'packetsDiscarded', 'keyFrameRequestsReceived', 'nackedPackets',
    'retransmittedPackets', 'nacksSent', 'repairedPackets', …}, {'type':
    'plain-outbound', 'ssrc', 'packetsSent', …} per sender]``.

    Events: ``tuple(tuple)`` and ``rtcptuple(rtcpTuple)`` when comedia
    learns the endpoint's address, ``close(error)``.
    """

    _no_data = "is a plain transport: it carries no data channels"

    def __init__(self, peer: TransportOwner, channel: Channel, transport_id: str, local: dict[str, Any]) -> None:
        super().__init__(peer, channel, transport_id)
        self._tuple: dict[str, Any] = local["tuple"]
        self._rtcp_tuple: dict[str, Any] | None = local["rtcpTuple"]
        self._rtcp_mux: bool = local["rtcpMux"]
        self._comedia: bool = local["comedia"]
        self._srtp_parameters: dict[str, str] | None = local["srtpParameters"]
        self._enable_nack: bool = local["enableNack"]
        self._shared_port: bool = local["sharedPort"]
        channel.targets[transport_id] = self

    def _repr_state(self) -> str:
        remote = self._tuple.get("remoteIp")
        return f"{self._tuple['localIp']}:{self._tuple['localPort']}" + (f" ↔ {remote}:{self._tuple['remotePort']}" if remote else "")

    def _repr_fields(self) -> list[tuple[str, object]]:
        srtp = self._srtp_parameters["cryptoSuite"] if self._srtp_parameters else None
        return [*super()._repr_fields(), ("tuple", self._tuple), ("rtcpMux", self._rtcp_mux), ("comedia", self._comedia), ("srtp", srtp)]

    @property
    def tuple(self) -> dict[str, Any]:
        """``{'localIp', 'localPort', 'protocol', 'remoteIp'?, 'remotePort'?}``."""
        return copy.deepcopy(self._tuple)

    @property
    def rtcpTuple(self) -> dict[str, Any] | None:
        """The RTCP port's tuple without ``rtcpMux``; None with it."""
        return copy.deepcopy(self._rtcp_tuple)

    @property
    def rtcpMux(self) -> bool:
        return self._rtcp_mux

    @property
    def comedia(self) -> bool:
        return self._comedia

    @property
    def enableNack(self) -> bool:
        """Whether it answers NACKs from its history and NACKs what it misses."""
        return self._enable_nack

    @property
    def sharedPort(self) -> bool:
        """Whether it is on the port the worker's plain transports share."""
        return self._shared_port

    @property
    def srtpParameters(self) -> dict[str, str] | None:
        """With ``enableSrtp``, ``{'cryptoSuite', 'keyBase64'}``: the keys
        what this transport sends is protected with (the endpoint decrypts
        with them; the master key then the salt, in base64). None without."""
        return dict(self._srtp_parameters) if self._srtp_parameters is not None else None

    async def connect(
        self,
        ip: str | None = None,
        port: int | None = None,
        rtcpPort: int | None = None,
        srtpParameters: dict[str, str] | None = None,
    ) -> None:
        """Where the endpoint receives: its ``ip`` and ``port`` (and, without
        ``rtcpMux``, its ``rtcpPort``); with SRTP, ``srtpParameters``
        (``{'cryptoSuite', 'keyBase64'}``) the endpoint protects what it
        sends with. Once. With ``comedia`` only ``srtpParameters`` (the
        address is learnt), and only with SRTP."""
        self._check_open()
        if self._comedia:
            if ip is not None or port is not None or rtcpPort is not None:
                raise InvalidStateError(f"plain transport {self._id} is comedia: it learns its endpoint's address from the first packet")
            if self._srtp_parameters is None:
                raise InvalidStateError(f"plain transport {self._id} is comedia without SRTP: connect() has nothing to give it")
        else:
            try:
                ipaddress.ip_address(ip)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ValueError(f"connect(): ip must be an IP address string, not {ip!r:.80}") from None
            for name, value in (("port", port), ("rtcpPort", rtcpPort)):
                if value is None and name == "rtcpPort":
                    continue
                if isinstance(value, bool) or not isinstance(value, int):
                    raise TypeError(f"connect(): {name} must be an int from 1 to 65535, not {type(value).__name__}")
                if not 1 <= value <= 65535:
                    raise ValueError(f"connect(): {name} must be an int from 1 to 65535, not {value!r:.80}")
        if (srtpParameters is None) != (self._srtp_parameters is None):
            needed = "needs srtpParameters: it was created with enableSrtp" if srtpParameters is None else "takes no srtpParameters: it was created without enableSrtp"
            raise ValueError(f"connect(): plain transport {self._id} {needed}")
        data: dict[str, Any] = {"transportId": self._id}
        if ip is not None:
            data.update(ip=ip, port=port)
        if rtcpPort is not None:
            data["rtcpPort"] = rtcpPort
        if srtpParameters is not None:
            data["srtpParameters"] = _checked_srtp_parameters(srtpParameters)
        answer = await self._request("transport.connect", data)
        self._tuple, self._rtcp_tuple = answer["tuple"], answer["rtcpTuple"]

    async def getStats(self) -> Stats:
        """``[{'type': 'plain-transport', …}, {'type': 'plain-outbound', …}, …]``."""
        return await super().getStats()

    def _on_notification(self, event: str, data: Any) -> None:
        if self._closed:
            return
        if event == "transport.tuple":
            self._tuple = data["tuple"]
            self.emit("tuple", copy.deepcopy(self._tuple))
        elif event == "transport.rtcpTuple":
            self._rtcp_tuple = data["rtcpTuple"]
            self.emit("rtcptuple", copy.deepcopy(self._rtcp_tuple))

    rtcp_tuple = rtcpTuple
    rtcp_mux = rtcpMux
    enable_nack = enableNack
    shared_port = sharedPort
    srtp_parameters = srtpParameters
    get_stats = getStats


def _checked_srtp_parameters(parameters: object) -> dict[str, str]:
    """``{'cryptoSuite', 'keyBase64'}`` with a known suite and a key of its length."""
    if not isinstance(parameters, dict) or set(parameters) != {"cryptoSuite", "keyBase64"}:
        raise ValueError(f"connect(): srtpParameters must be {{'cryptoSuite': str, 'keyBase64': str}}, not {parameters!r:.80}")
    suite, key = parameters["cryptoSuite"], parameters["keyBase64"]
    if suite not in SRTP_CRYPTO_SUITES:
        raise ValueError(f"connect(): srtpParameters' cryptoSuite must be one of {', '.join(SRTP_CRYPTO_SUITES)}, not {suite!r:.80}")
    try:
        master = base64.b64decode(key, validate=True)
    except (TypeError, ValueError, binascii.Error):
        raise ValueError(f"connect(): srtpParameters' keyBase64 is not base64: {key!r:.80}") from None
    if len(master) != SRTP_MASTER_LENGTHS[suite]:
        raise ValueError(f"connect(): {suite} needs a master key and salt of {SRTP_MASTER_LENGTHS[suite]} bytes, not {len(master)}")
    return {"cryptoSuite": suite, "keyBase64": key}


def sdp(senders: Sequence[SenderOnTransport], *, name: str = "mediasoup") -> str:
    """The SDP a plain RTP endpoint reads to receive ``senders``: each on a
    :class:`PlainTransport` of its own, connected to the endpoint's ports
    (an m= line per sender, at the port its transport sends to; ffmpeg
    binds one port per m= line; with SRTP, ``RTP/SAVP`` and the keys to
    read it with in ``a=crypto``). For ``ffmpeg -protocol_whitelist
    file,udp,rtp -i this.sdp``, or GStreamer's ``sdpdemux``."""
    if not senders:
        raise ValueError("sdp(): no senders")
    lines = ["v=0", "o=- 0 0 IN IP4 127.0.0.1", f"s={name}", "t=0 0"]
    ports: set[int] = set()
    for sender in senders:
        transport = sender.transport
        if not isinstance(transport, PlainTransport):
            raise InvalidStateError(f"rtpSender {sender.id} is not on a PlainTransport")
        remote = transport._tuple
        if "remotePort" not in remote:
            raise InvalidStateError(f"plain transport {transport.id} is not connected: its endpoint's address is unknown")
        if remote["remotePort"] in ports:
            raise ValueError(f"sdp(): two senders go to port {remote['remotePort']}: give each sender a transport of its own")
        ports.add(remote["remotePort"])
        parameters = sender.rtpParameters
        codec = parameters["codecs"][0]
        kind, encoding = codec["mimeType"].split("/")
        family = "IP6" if ":" in remote["remoteIp"] else "IP4"
        srtp = transport._srtp_parameters
        lines.append(f"m={kind} {remote['remotePort']} {'RTP/SAVP' if srtp else 'RTP/AVP'} {codec['payloadType']}")
        lines.append(f"c=IN {family} {remote['remoteIp']}")
        channels = f"/{codec['channels']}" if codec.get("channels", 1) > 1 else ""
        lines.append(f"a=rtpmap:{codec['payloadType']} {encoding}/{codec['clockRate']}{channels}")
        fmtp = ";".join(f"{key}={value}" for key, value in codec.get("parameters", {}).items())
        if fmtp:
            lines.append(f"a=fmtp:{codec['payloadType']} {fmtp}")
        if transport.rtcpMux:
            lines.append("a=rtcp-mux")
        elif transport._rtcp_tuple is not None and "remotePort" in transport._rtcp_tuple:
            lines.append(f"a=rtcp:{transport._rtcp_tuple['remotePort']}")
        if srtp:
            lines.append(f"a=crypto:1 {srtp['cryptoSuite']} inline:{srtp['keyBase64']}")
        lines.append("a=recvonly")
    return "\r\n".join(lines) + "\r\n"
