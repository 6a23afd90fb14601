"""``DataSender``: another peer's data channel, delivered to this peer (``consumeData``).

A data sender imports the modules of its data receiver and of its transport
(below it). Its peer imports this module, so the sender sees its peer as a
:class:`~mediasoup._owners.OwningPeer` (see _owners.py) that takes the calls
of a :class:`DataSenderOwner`.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Protocol

from ._display import Dump, Id, Stats
from ._object import WorkerObject
from ._owners import OwningPeer
from .errors import InvalidStateError
from .transport import BaseTransport, DirectTransport, check_usable
from .transport.direct import DATA

if TYPE_CHECKING:
    from ._channel import Channel
    from .data_receiver import DataReceiver


class DataSenderOwner(OwningPeer, Protocol):
    """What a data sender asks of the peer it delivers to."""

    def _data_sender_closed(self, sender: DataSender) -> None:
        """Forgets the sender (it is closing)."""


class DataSender(WorkerObject):
    """Another peer's channel, for this peer: emitted as ``newdatasender``.

    ``await dataSender.setTransport(transport)`` opens it on one of this
    peer's SCTP transports, on a free stream; then ``sctpStreamParameters``
    (with its ``streamId``), ``label`` and ``protocol`` are what a client's
    ``consumeData(id=sender.id, dataProducerId=sender.associatedDataReceiver.id,
    sctpStreamParameters=…, label=…, protocol=…)`` takes. On a
    :class:`~mediasoup.DirectTransport` its messages come to Python:
    ``message(data)`` (``str`` for text, ``bytes`` for binary). Events:
    ``close(error)``, ``message(data)``.
    """

    _kind = "dataSender"

    def __init__(
        self, peer: DataSenderOwner, channel: Channel, sender_id: str, receiver: DataReceiver, parameters: dict[str, Any]
    ) -> None:
        super().__init__(channel)
        self._id = sender_id
        self._peer = peer
        self._receiver = receiver
        self._parameters = parameters
        self._transport: BaseTransport | None = None

    def _repr_state(self) -> str:
        return f"label={self.label!r} transport={self._transport.id[:8] if self._transport else None}"

    def _repr_status(self) -> str:
        return "closed" if self._closed else "idle" if self._transport is None else "active"

    def _repr_fields(self) -> list[tuple[str, object]]:
        return [
            ("label", self.label),
            ("protocol", self.protocol),
            ("peer", self._peer.name),
            ("from", self._receiver.peer.name),
            ("dataReceiver", Id(self._receiver.id)),
            ("transport", Id(self._transport.id) if self._transport is not None else None),
            ("streamId", self._parameters["sctpStreamParameters"].get("streamId")),
        ]

    @property
    def peer(self) -> OwningPeer:
        """The peer the messages are delivered to (a :class:`~mediasoup.Peer`)."""
        return self._peer

    @property
    def associatedDataReceiver(self) -> DataReceiver:
        return self._receiver

    @property
    def transport(self) -> BaseTransport | None:
        return self._transport

    @property
    def label(self) -> str:
        label: str = self._parameters["label"]
        return label

    @property
    def protocol(self) -> str:
        protocol: str = self._parameters["protocol"]
        return protocol

    @property
    def sctpStreamParameters(self) -> dict[str, Any]:
        """The receiver's delivery (``ordered``, ``maxPacketLifeTime`` or
        ``maxRetransmits``) and, once on a transport, its ``streamId``."""
        return copy.deepcopy(self._parameters["sctpStreamParameters"])

    async def setTransport(self, transport: BaseTransport) -> None:
        """Opens the channel on ``transport`` (one of this peer's, with
        ``enableSctp``, or a direct one); a second call moves it, on a new stream."""
        check_usable(transport, self._peer, sctp=True)
        answer = await self._request("dataSender.setTransport", {"dataSenderId": self._id, "transportId": transport.id})
        if self._closed:
            raise InvalidStateError(f"dataSender {self._id} closed while it moved to transport {transport.id}")
        self._leave_transport()
        if transport.closed:
            self._transport = None
            raise InvalidStateError(f"transport {transport.id} closed while dataSender {self._id} moved to it")
        self._parameters["sctpStreamParameters"] = answer["sctpStreamParameters"]
        self._transport = transport
        if isinstance(transport, DirectTransport):
            transport._attach_channel(answer["sctpStreamParameters"]["streamId"], self)

    def _leave_transport(self) -> None:
        if isinstance(self._transport, DirectTransport):
            self._transport._detach_channel(self._parameters["sctpStreamParameters"]["streamId"], self)

    def _on_media(self, kind: int, ssrc: int, payload: bytes) -> None:
        if kind != DATA or not payload:
            return
        data: str | bytes = payload[1:]
        if payload[0] == 0:
            try:
                data = payload[1:].decode()
            except UnicodeDecodeError:
                pass  # text that is not UTF-8 reaches Python as bytes
        self.emit("message", data)

    async def dump(self) -> Dump:
        return Dump(await self._request("dataSender.dump", {"dataSenderId": self._id}))

    async def getStats(self) -> Stats:
        """``[{'type': 'data-sender', 'label', 'messagesSent', 'bytesSent', 'messagesDropped'}]``."""
        return Stats(await self._request("dataSender.getStats", {"dataSenderId": self._id}))

    def _transport_closed(self, transport: BaseTransport) -> None:
        if self._transport is transport:
            self._transport = None

    def _closing(self, error: BaseException | None) -> None:
        self._leave_transport()
        self._peer._data_sender_closed(self)
        self._receiver._sender_closed(self)

    def _close_request(self) -> tuple[str, dict[str, str]]:
        return "dataSender.close", {"dataSenderId": self._id}

    associated_data_receiver = associatedDataReceiver
    sctp_stream_parameters = sctpStreamParameters
    set_transport = setTransport
    get_stats = getStats
