"""``Peer``: a remote endpoint (a browser tab, an aiortc program) in a room.

A peer owns its transports, the streams it publishes (rtp_receiver.py) and
the streams sent to it (rtp_sender.py), and imports them; its room imports
this module, so the peer sees its room as a
:class:`~mediasoup._owners.OwningRoom` (see _owners.py) that takes the calls
of a :class:`PeerOwner`.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from . import _mediasoup
from . import data_receiver as data_receiver_module
from . import data_sender as data_sender_module
from . import rtp_receiver as rtp_receiver_module
from . import rtp_sender as rtp_sender_module
from . import transport as transport_module
from ._display import Dump, Id
from ._futures import ignore_outcome, made_or_undone, request_unawaited
from ._object import MediasoupObject, WorkerObject
from ._options import merge_options, pick_options
from ._owners import OwningRoom
from .errors import InvalidStateError, UnsupportedError

if TYPE_CHECKING:
    from ._channel import Channel

_logger = logging.getLogger("mediasoup.peer")

# The options of createTransport(), all bools, with their defaults: the
# worker's table (media_worker/src/channel/message.rs), which the Channel
# message carries field for field.
TRANSPORT_OPTIONS: dict[str, bool] = dict(_mediasoup.TRANSPORT_OPTIONS)


class PeerOwner(OwningRoom, Protocol):
    """What a peer asks of its room."""

    def _receiver_started(self, receiver: rtp_receiver_module.RtpReceiver) -> None:
        """Gives the other peers that can decode the stream a sender of it."""

    def _receiver_stopped(self, receiver: rtp_receiver_module.RtpReceiver) -> None: ...

    def _receiving(self) -> list[rtp_receiver_module.RtpReceiver]:
        """The open receivers of the room that receive, oldest stream first."""

    def _peer_closed(self, peer: Peer) -> None:
        """Forgets the peer (it is closing)."""

    def _data_receiver_started(self, receiver: data_receiver_module.DataReceiver) -> None:
        """Gives the other peers with an SCTP transport a data sender of it."""

    def _data_receiver_stopped(self, receiver: data_receiver_module.DataReceiver) -> None: ...

    def _data_receiving(self) -> list[data_receiver_module.DataReceiver]:
        """The open data receivers of the room, oldest first."""


class Peer(WorkerObject):
    """A participant of a :class:`~mediasoup.Room`; made by ``room.Peer(name)``.

    Returned at once; ``await peer`` resolves once the worker has created it.
    Events: ``close(error)``, ``newtransport(transport)``, ``newrtpreceiver(rtpReceiver)``,
    ``newrtpsender(rtpSender)``, ``newdatareceiver(dataReceiver)``,
    ``newdatasender(dataSender)``, ``datachannelmessage(label, data)`` (a message
    the endpoint sent on any of its data channels: ``str`` for text, ``bytes``
    for binary; the worker reports messages only while this event has a listener).
    """

    _kind = "peer"

    def __init__(self, room: PeerOwner, channel: Channel, name: str) -> None:
        super().__init__(channel)
        self._room = room
        self._name = name
        self._capabilities: dict[str, Any] | None = None
        self._transports: dict[str, transport_module.BaseTransport] = {}
        self._rtp_receivers: dict[str, rtp_receiver_module.RtpReceiver] = {}
        self._rtp_senders: dict[str, rtp_sender_module.RtpSender] = {}
        # Receivers (media and data) this peer has (or is getting) a sender for.
        self._subscribed: set[str] = set()
        self._data_receivers: dict[str, data_receiver_module.DataReceiver] = {}
        self._data_senders: dict[str, data_sender_module.DataSender] = {}
        self._data_listening = False
        # A pipe's peer (pipe.py): its entry publishes the copies and
        # subscribes to nothing; its exit subscribes to every stream that
        # did not come from the room it leads to (``_pipe_to``).
        self._pipe_role: str | None = None
        self._pipe_to: str | None = None
        channel.targets[self._id] = self
        self._created_by(
            channel.request("room.createPeer", {"roomId": room.id, "peerId": self._id, "name": name})
        )

    def _repr_state(self) -> str:
        return f"name={self._name!r} transports={len(self._transports)}"

    def _repr_fields(self) -> list[tuple[str, object]]:
        return [
            ("name", self._name),
            ("room", Id(self._room.id)),
            ("capabilities", "set" if self._capabilities is not None else "not set"),
            ("transports", len(self._transports)),
            ("rtpReceivers", len(self._rtp_receivers)),
            ("rtpSenders", len(self._rtp_senders)),
            ("dataReceivers", len(self._data_receivers)),
            ("dataSenders", len(self._data_senders)),
        ]

    def _repr_children(self) -> list[tuple[str, Sequence[MediasoupObject]]]:
        return [
            ("transports", self.transports),
            ("rtpReceivers", self.rtpReceivers),
            ("rtpSenders", self.rtpSenders),
            ("dataReceivers", self.dataReceivers),
            ("dataSenders", self.dataSenders),
        ]

    @property
    def name(self) -> str:
        return self._name

    @property
    def room(self) -> OwningRoom:
        """The room (a :class:`~mediasoup.Room`)."""
        return self._room

    @property
    def capabilities(self) -> dict[str, Any] | None:
        """What the endpoint can receive (mediasoup ``RtpCapabilities``, normalised), or None."""
        return copy.deepcopy(self._capabilities)

    @property
    def transports(self) -> list[transport_module.BaseTransport]:
        """The peer's open transports, oldest first."""
        return list(self._transports.values())

    @property
    def rtpReceivers(self) -> list[rtp_receiver_module.RtpReceiver]:
        """The streams the peer publishes, oldest first."""
        return list(self._rtp_receivers.values())

    def RtpReceiver(self, kind: str, transport: transport_module.BaseTransport) -> rtp_receiver_module.RtpReceiver:
        """A stream this peer will send on ``transport``; call ``receive()`` on it."""
        self._check_open()
        if not isinstance(kind, str):
            raise TypeError(f"kind must be a str, not {type(kind).__name__}")
        if kind not in ("audio", "video"):
            raise ValueError(f"kind must be 'audio' or 'video', not {kind!r:.80}")
        transport_module.check_usable(transport, self)
        receiver = rtp_receiver_module.RtpReceiver(self, self._channel, kind, transport)
        self._rtp_receivers[receiver.id] = receiver
        self.emit("newrtpreceiver", receiver)
        return receiver

    def _rtp_receiver_receiving(self, receiver: rtp_receiver_module.RtpReceiver) -> None:
        self._room._receiver_started(receiver)

    def _rtp_receiver_closed(self, receiver: rtp_receiver_module.RtpReceiver) -> None:
        self._room._receiver_stopped(receiver)
        self._rtp_receivers.pop(receiver.id, None)

    @property
    def rtpSenders(self) -> list[rtp_sender_module.RtpSender]:
        """The other peers' streams sent to this peer, oldest first."""
        return list(self._rtp_senders.values())

    def _rtp_sender_closed(self, sender: rtp_sender_module.RtpSender) -> None:
        self._rtp_senders.pop(sender.id, None)

    def _subscribe(self, receiver: rtp_receiver_module.RtpReceiver) -> asyncio.Future[None] | None:
        """Gets a sender of ``receiver``'s stream, if this peer can decode it."""
        if self._pipe_role == "entry" or (self._pipe_to is not None and self._pipe_to in receiver._origins):
            return None
        return self._subscription(receiver.id, lambda: self._create_sender(receiver))

    def _subscription(self, receiver_id: str, create: Callable[[], Awaitable[None]]) -> asyncio.Future[None] | None:
        """Runs ``create()`` (a sender of receiver ``receiver_id`` for this
        peer) once per receiver, media or data; its failure is logged."""
        if self._closed or receiver_id in self._subscribed:
            return None
        self._subscribed.add(receiver_id)
        task = asyncio.ensure_future(create())
        task.add_done_callback(self._subscription_done)
        return task

    async def _create_sender(self, receiver: rtp_receiver_module.RtpReceiver) -> None:
        sender_id = str(uuid.uuid4())
        try:
            # A pipe's exit sends every encoding, for the room at its other end to select from.
            request = {"senderId": sender_id, "peerId": self._id, "receiverId": receiver.id, "pipe": self._pipe_role == "exit"}
            parameters: dict[str, Any] = await self._channel.request("rtpSender.create", request)
        except UnsupportedError as error:
            _logger.debug("peer %s does not get %s: %s", self._name, receiver.id, error)
            self._subscribed.discard(receiver.id)  # wider capabilities later may get it
            return
        if self._closed or receiver.closed:
            ignore_outcome(self._channel.request("rtpSender.close", {"senderId": sender_id}))
            return
        sender = rtp_sender_module.RtpSender(self, self._channel, sender_id, receiver, parameters)
        self._rtp_senders[sender_id] = sender
        receiver._senders.append(sender)
        self.emit("newrtpsender", sender)

    def _subscription_done(self, task: asyncio.Future[None]) -> None:
        if not task.cancelled() and task.exception() is not None and not self._closed:
            _logger.error("peer %s: a sender could not be created", self._name, exc_info=task.exception())

    # Data channels.

    @property
    def dataReceivers(self) -> list[data_receiver_module.DataReceiver]:
        """The channels the peer sends on (ORTC), oldest first."""
        return list(self._data_receivers.values())

    @property
    def dataSenders(self) -> list[data_sender_module.DataSender]:
        """The other peers' channels delivered to this peer (ORTC), oldest first."""
        return list(self._data_senders.values())

    def DataReceiver(self, transport: transport_module.BaseTransport) -> data_receiver_module.DataReceiver:
        """A channel this peer will send on over ``transport`` (created with
        ``enableSctp=True``); call ``receive()`` on it."""
        self._check_open()
        transport_module.check_usable(transport, self, sctp=True)
        receiver = data_receiver_module.DataReceiver(self, self._channel, transport)
        self._data_receivers[receiver.id] = receiver
        self.emit("newdatareceiver", receiver)
        return receiver

    def _data_receiver_receiving(self, receiver: data_receiver_module.DataReceiver) -> None:
        self._room._data_receiver_started(receiver)

    def _data_receiver_closed(self, receiver: data_receiver_module.DataReceiver) -> None:
        self._room._data_receiver_stopped(receiver)
        self._data_receivers.pop(receiver.id, None)

    def _data_sender_closed(self, sender: data_sender_module.DataSender) -> None:
        self._data_senders.pop(sender.id, None)

    def _takes_data(self) -> bool:
        return any(transport._carries_data for transport in self._transports.values())

    def _subscribe_data(self, receiver: data_receiver_module.DataReceiver) -> asyncio.Future[None] | None:
        """Gets a data sender of ``receiver``'s channel, if this peer has a transport that carries data (SCTP or direct)."""
        if not self._takes_data():
            return None
        return self._subscription(receiver.id, lambda: self._create_data_sender(receiver))

    async def _create_data_sender(self, receiver: data_receiver_module.DataReceiver) -> None:
        sender_id = str(uuid.uuid4())
        parameters: dict[str, Any] = await self._channel.request(
            "dataSender.create", {"dataSenderId": sender_id, "peerId": self._id, "dataReceiverId": receiver.id}
        )
        if self._closed or receiver.closed:
            ignore_outcome(self._channel.request("dataSender.close", {"dataSenderId": sender_id}))
            return
        sender = data_sender_module.DataSender(self, self._channel, sender_id, receiver, parameters)
        self._data_senders[sender_id] = sender
        receiver._senders.append(sender)
        self.emit("newdatasender", sender)

    async def sendData(self, label: str, data: str | bytes | bytearray | memoryview) -> None:
        """Sends ``data`` to the endpoint on its channel called ``label`` (text
        for a ``str``, binary otherwise): one it opened, or one opened now on
        its newest transport with ``enableSctp`` (the endpoint sees
        ``ondatachannel``). Returns once the worker has taken the message (it
        may wait there, in order, while the endpoint catches up). A message
        over 65,536 bytes raises ``ValueError`` (the worker's SCTP sends no
        larger); a peer without an SCTP transport, or whose endpoint lets
        4 MiB wait, ``InvalidStateError``."""
        if not isinstance(label, str):
            raise TypeError(f"label must be a str, not {type(label).__name__}")
        if isinstance(data, str):
            size = len(data.encode())
            request = {"peerId": self._id, "label": label, "data": data, "binary": False}
        elif isinstance(data, (bytes, bytearray, memoryview)):
            payload = bytes(data)
            size = len(payload)
            request = {"peerId": self._id, "label": label, "data": base64.b64encode(payload).decode("ascii"), "binary": True}
        else:
            raise TypeError(f"data must be a str or bytes, not {type(data).__name__}")
        if size > _mediasoup.SCTP_MAX_SEND_MESSAGE_SIZE:
            raise ValueError(f"a message sent has at most {_mediasoup.SCTP_MAX_SEND_MESSAGE_SIZE} bytes, not {size}")
        await self._request("peer.sendData", request)

    def _add(self, event: str, listener: Any, once: bool) -> None:
        super()._add(event, listener, once)
        if event == "datachannelmessage" and not self._data_listening and not self._closed:
            # The worker reports this peer's messages from now on.
            self._data_listening = True
            request_unawaited(self._channel, "peer.setDataListener", {"peerId": self._id, "enabled": True})

    def _listener_removed(self, event: str) -> None:
        super()._listener_removed(event)
        if event == "datachannelmessage" and self._data_listening and not self.listeners(event) and not self._closed:
            # Nobody listens any more: the worker stops sending them over the Channel.
            self._data_listening = False
            request_unawaited(self._channel, "peer.setDataListener", {"peerId": self._id, "enabled": False})

    def _on_notification(self, event: str, data: Any) -> None:
        if self._closed or event != "peer.dataChannelMessage":
            return
        message: str | bytes = base64.b64decode(data["data"]) if data["binary"] else data["data"]
        self.emit("datachannelmessage", data["label"], message)

    def _transport_closing(self, transport: transport_module.BaseTransport, error: BaseException | None) -> None:
        """A transport's receivers end with it (the worker drops them too), its
        senders stop; then the peer forgets it."""
        for receiver in list(self._rtp_receivers.values()):
            if receiver.transport is transport:
                receiver._close(error, notify_worker=False)
        for data_receiver in list(self._data_receivers.values()):
            if data_receiver.transport is transport:
                data_receiver._close(error, notify_worker=False)
        # Listeners of what these emit may close senders.
        for data_sender in list(self._data_senders.values()):
            data_sender._transport_closed(transport)
        for sender in list(self._rtp_senders.values()):
            if sender.transport is transport:
                sender._update(None, sender._paused)
        self._transports.pop(transport.id, None)

    async def setCapabilities(self, rtpCapabilities: Mapping[str, Any]) -> None:
        """Sets what the endpoint can receive, e.g. ``device.rtpCapabilities`` of
        mediasoup-client or pymediasoup. Invalid capabilities raise and change nothing.

        Returns once the senders of the room's existing streams that this
        peer can decode are in ``rtpSenders`` (``newrtpsender`` fired)."""
        if not isinstance(rtpCapabilities, Mapping):
            raise TypeError(f"rtpCapabilities must be a dict, not {type(rtpCapabilities).__name__}")
        normalised: dict[str, Any] = await self._request(
            "peer.setCapabilities", {"peerId": self._id, "rtpCapabilities": dict(rtpCapabilities)}
        )
        self._capabilities = normalised
        subscriptions = [self._subscribe(receiver) for receiver in self._room._receiving() if receiver.peer is not self]
        # Failures are logged by _subscription_done; the capabilities stand.
        await _subscriptions_made(subscriptions)

    async def createTransport(
        self, options: Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> transport_module.Transport:
        """A WebRTC transport (ICE-lite, DTLS) for this peer.

        Options (bools): ``udp=True``, ``tcp=True``, ``preferIPv4``,
        ``preferIPv6``, ``preferUdp``, ``preferTcp``, ``enableSctp`` (all False).
        """
        self._check_open()
        where = "createTransport()"
        picked = pick_options(where, merge_options(where, options, kwargs), list(TRANSPORT_OPTIONS))
        flags = dict(TRANSPORT_OPTIONS)
        for name, value in picked.items():
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
            flags[name] = value
        if not flags["udp"] and not flags["tcp"]:
            raise ValueError("createTransport(): udp and tcp are both False")
        if flags["preferUdp"] and flags["preferTcp"]:
            raise ValueError("createTransport(): preferUdp and preferTcp are both True")
        if flags["preferIPv4"] and flags["preferIPv6"]:
            raise ValueError("createTransport(): preferIPv4 and preferIPv6 are both True")
        transport_id = str(uuid.uuid4())
        request = self._request("peer.createTransport", {"peerId": self._id, "transportId": transport_id, **flags})
        local = await made_or_undone(self._channel, request, "transport.close", {"transportId": transport_id})
        if self._closed:
            raise InvalidStateError(f"peer {self._id} closed while its transport was being created")
        transport = transport_module.Transport(self, self._channel, transport_id, local)
        self._transports[transport_id] = transport
        self.emit("newtransport", transport)
        if flags["enableSctp"]:
            await self._data_subscribed(transport)
        return transport

    async def createDirectTransport(self) -> transport_module.DirectTransport:
        """A transport with no network, whose endpoint is this Python process:
        senders put on it hand Python their packets (``rtpSender.on('rtp')``,
        ``rtpSender.packets()``), receivers on it publish what Python writes
        (``rtpReceiver.sendRtp()``). A peer without capabilities gets the
        room's (it can take every stream of the room) first."""
        self._check_open()
        if self._capabilities is None:
            await self.setCapabilities(self._room.rtpCapabilities)
        transport_id = str(uuid.uuid4())
        request = self._request("peer.createDirectTransport", {"peerId": self._id, "transportId": transport_id})
        answer = await made_or_undone(self._channel, request, "transport.close", {"transportId": transport_id})
        if self._closed:
            raise InvalidStateError(f"peer {self._id} closed while its transport was being created")
        transport = transport_module.DirectTransport(self, self._channel, transport_id, answer["handle"])
        self._transports[transport_id] = transport
        self.emit("newtransport", transport)
        await self._data_subscribed(transport)
        return transport

    async def _data_subscribed(self, transport: transport_module.BaseTransport) -> None:
        """Waits for the senders of the room's data channels, now that
        ``transport`` carries data. A caller cancelled meanwhile never got the
        transport: it is closed (the senders are the peer's and stay, waiting
        for a transport that carries data)."""
        try:
            await _subscriptions_made([self._subscribe_data(receiver) for receiver in self._room._data_receiving() if receiver.peer is not self])
        except asyncio.CancelledError:
            transport.close()
            raise

    async def createPlainTransport(
        self,
        listenIp: str | None = None,
        rtcpMux: bool = True,
        comedia: bool = False,
        enableSrtp: bool = False,
        srtpCryptoSuite: str = "AES_CM_128_HMAC_SHA1_80",
        enableNack: bool = False,
        sharedPort: bool = False,
    ) -> transport_module.PlainTransport:
        """A transport for an endpoint that speaks RTP without ICE or DTLS
        (ffmpeg, GStreamer, a SIP gateway): a UDP port of its own on
        ``listenIp`` (one of the server's listen addresses; None: its IPv4
        one), a second one for RTCP unless ``rtcpMux``. ``comedia``: the
        endpoint's address is learnt from its first packet, else given with
        ``await plainTransport.connect(ip, port, rtcpPort)``. A peer without
        capabilities gets the room's first. ``enableSrtp``: what it sends is
        protected in ``srtpCryptoSuite`` with keys drawn for it
        (``plainTransport.srtpParameters``, for the endpoint), and what it
        receives is read with the keys the endpoint's ``connect(...,
        srtpParameters=)`` gives; nothing is taken before. ``enableNack``
        (what pipes use): it keeps the last packets it sent and sends again
        those the endpoint NACKs, and NACKs what goes missing of what it
        receives. ``sharedPort`` (what pipes' entries use): on the UDP port
        the worker's plain transports share on ``listenIp`` rather than a
        port of its own, told apart by their endpoint's address (so it takes
        ``rtcpMux`` and no ``comedia``, and two of them cannot be connected
        to the same endpoint): a worker receiving many pipes reads them in
        one system call per 32 datagrams."""
        self._check_open()
        if listenIp is not None and not isinstance(listenIp, str):
            raise TypeError(f"createPlainTransport(): listenIp must be a str or None, not {type(listenIp).__name__}")
        for name, value in (("rtcpMux", rtcpMux), ("comedia", comedia), ("enableSrtp", enableSrtp), ("enableNack", enableNack), ("sharedPort", sharedPort)):
            if not isinstance(value, bool):
                raise TypeError(f"createPlainTransport(): {name} must be a bool, not {type(value).__name__}")
        if srtpCryptoSuite not in transport_module.SRTP_CRYPTO_SUITES:
            raise ValueError(f"createPlainTransport(): srtpCryptoSuite must be one of {', '.join(transport_module.SRTP_CRYPTO_SUITES)}, not {srtpCryptoSuite!r:.80}")
        if self._capabilities is None:
            await self.setCapabilities(self._room.rtpCapabilities)
        transport_id = str(uuid.uuid4())
        request = self._request(
            "peer.createPlainTransport",
            {
                "peerId": self._id,
                "transportId": transport_id,
                "listenIp": listenIp,
                "rtcpMux": rtcpMux,
                "comedia": comedia,
                "srtpCryptoSuite": srtpCryptoSuite if enableSrtp else None,
                "enableNack": enableNack,
                "sharedPort": sharedPort,
            },
        )
        local = await made_or_undone(self._channel, request, "transport.close", {"transportId": transport_id})
        if self._closed:
            raise InvalidStateError(f"peer {self._id} closed while its transport was being created")
        transport = transport_module.PlainTransport(self, self._channel, transport_id, local)
        self._transports[transport_id] = transport
        self.emit("newtransport", transport)
        return transport

    def _closing(self, error: BaseException | None) -> None:
        self._channel.targets.pop(self._id, None)
        for data_sender in list(self._data_senders.values()):
            data_sender._close(error, notify_worker=False)
        for data_receiver in list(self._data_receivers.values()):
            data_receiver._close(error, notify_worker=False)
        for sender in list(self._rtp_senders.values()):
            sender._close(error, notify_worker=False)
        for receiver in list(self._rtp_receivers.values()):
            receiver._close(error, notify_worker=False)
        for transport in list(self._transports.values()):
            transport._close(error, notify_worker=False)
        self._room._peer_closed(self)

    def _close_request(self) -> tuple[str, dict[str, str]]:
        return "peer.close", {"peerId": self._id}

    async def dump(self) -> Dump:
        """The peer as the worker holds it: name, capabilities, transports."""
        return Dump(await self._request("peer.dump", {"peerId": self._id}))

    data_receivers = dataReceivers
    data_senders = dataSenders
    data_receiver = DataReceiver
    send_data = sendData
    rtp_receivers = rtpReceivers
    rtp_senders = rtpSenders
    rtp_receiver = RtpReceiver
    set_capabilities = setCapabilities
    create_transport = createTransport
    create_direct_transport = createDirectTransport
    create_plain_transport = createPlainTransport


async def _subscriptions_made(subscriptions: list[asyncio.Future[None] | None]) -> None:
    """Waits for a peer's subscriptions. They are the peer's, not the
    caller's: a caller cancelled leaves them running (cancelled, a sender
    the worker made would be lost, and the stream never subscribed again)."""
    tasks = [task for task in subscriptions if task is not None]
    if tasks:
        await asyncio.shield(asyncio.gather(*tasks, return_exceptions=True))
