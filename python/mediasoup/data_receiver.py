"""``DataReceiver``: a data channel a peer sends on (an ORTC client's ``produceData``).

A data receiver imports the module of its transport (below it). Its peer
and the data senders that deliver its messages import this module, so the
receiver sees its peer as a :class:`~mediasoup._owners.OwningPeer` (see
_owners.py) that takes the calls of a :class:`DataReceiverOwner`.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ._display import Dump, Id, Stats
from ._futures import made_or_undone, request_unawaited, settled
from ._object import Forwarded
from ._owners import OwningPeer
from .errors import InvalidStateError
from .transport import BaseTransport, DirectTransport

if TYPE_CHECKING:
    from ._channel import Channel


class DataReceiverOwner(OwningPeer, Protocol):
    """What a data receiver asks of the peer that sends on it."""

    def _data_receiver_receiving(self, receiver: DataReceiver) -> None:
        """Tells the room that the channel is open (``receive()`` succeeded)."""

    def _data_receiver_closed(self, receiver: DataReceiver) -> None:
        """Tells the room that the channel ended and forgets it (it is closing)."""


class DataReceiver(Forwarded):
    """A channel the peer sends on; made by ``peer.DataReceiver(transport)``.

    ``await dataReceiver.receive({'sctpStreamParameters', 'label', 'protocol'})``
    opens it with what pymediasoup's and mediasoup-client's ``produceData``
    hand to the application (its ``id`` is the answer to give back); on a
    :class:`~mediasoup.DirectTransport` Python sends on it (``send()``;
    ``sctpStreamParameters`` may be left out). Every
    other peer of the room with an SCTP or direct transport then gets a
    :class:`~mediasoup.DataSender` of it (``newdatasender``). Events: ``close(error)``.
    """

    _kind = "dataReceiver"

    def __init__(self, peer: DataReceiverOwner, channel: Channel, transport: BaseTransport) -> None:
        super().__init__(channel)
        self._peer = peer
        self._transport = transport
        self._parameters: dict[str, Any] | None = None
        # The last receive() request (its undo follows it if it was cancelled).
        self._receiving: asyncio.Future[Any] | None = None

    def _repr_state(self) -> str:
        label = self._parameters["label"] if self._parameters else None
        return f"label={label!r} receiving={self._parameters is not None}"

    def _repr_status(self) -> str:
        return "closed" if self._closed else "receiving" if self._parameters is not None else "new"

    def _repr_fields(self) -> list[tuple[str, object]]:
        stream = self._parameters["sctpStreamParameters"] if self._parameters else {}
        return [
            ("label", self.label),
            ("protocol", self.protocol),
            ("peer", self._peer.name),
            ("transport", Id(self._transport.id)),
            ("streamId", stream.get("streamId")),
            ("dataSenders", len(self._senders)),
        ]

    @property
    def peer(self) -> OwningPeer:
        """The sending peer (a :class:`~mediasoup.Peer`)."""
        return self._peer

    @property
    def transport(self) -> BaseTransport:
        return self._transport

    @property
    def label(self) -> str | None:
        return self._parameters["label"] if self._parameters else None

    @property
    def protocol(self) -> str | None:
        return self._parameters["protocol"] if self._parameters else None

    @property
    def sctpStreamParameters(self) -> dict[str, Any] | None:
        """``{'streamId', 'ordered', 'maxPacketLifeTime'?, 'maxRetransmits'?}``, normalised (None before ``receive()``)."""
        return copy.deepcopy(self._parameters["sctpStreamParameters"]) if self._parameters else None

    async def receive(self, parameters: Mapping[str, Any]) -> None:
        """Opens the channel: ``parameters`` holds ``sctpStreamParameters``
        (``streamId`` required; ``ordered``, ``maxPacketLifeTime`` or
        ``maxRetransmits``), ``label`` and ``protocol`` (both optional).
        A stream id taken on the transport or out of range raises ``ValueError``."""
        if not isinstance(parameters, Mapping):
            raise TypeError(f"data receiver parameters must be a dict, not {type(parameters).__name__}")
        unknown = set(parameters) - {"sctpStreamParameters", "label", "protocol", "appData"}
        if unknown:
            raise TypeError(f"unknown data receiver parameters: {', '.join(sorted(map(str, unknown)))}")
        await settled(self._receiving)
        if self._parameters is not None:
            raise InvalidStateError(f"dataReceiver {self._id} receives already")
        if self._transport.closed:
            raise InvalidStateError(f"transport {self._transport.id} is closed")
        stream = parameters.get("sctpStreamParameters")
        if isinstance(self._transport, DirectTransport):
            # No SCTP: the stream id only names the channel on the media path.
            stream = {"streamId": self._transport._free_stream_id(), **(stream or {})}
        request = self._receiving = self._request(
            "dataReceiver.receive",
            {
                "dataReceiverId": self._id,
                "transportId": self._transport.id,
                "sctpStreamParameters": stream,
                "label": parameters.get("label"),
                "protocol": parameters.get("protocol"),
            },
        )
        close = {"dataReceiverId": self._id}
        normalised: dict[str, Any] = await made_or_undone(self._channel, request, "dataReceiver.close", close)
        if self._closed:
            # Closed while the worker created it (close() told the worker nothing: it had no parameters yet).
            request_unawaited(self._channel, "dataReceiver.close", close)
            raise InvalidStateError(f"dataReceiver {self._id} closed while it was being created")
        self._parameters = normalised
        if isinstance(self._transport, DirectTransport):
            self._transport._attach_channel(normalised["sctpStreamParameters"]["streamId"], self)
        self._peer._data_receiver_receiving(self)

    def send(self, data: str | bytes | bytearray | memoryview) -> bool:
        """Sends a message on the channel (on a direct transport, after
        ``receive()``; text for a ``str``, binary otherwise): returns at once,
        the message queued; the worker delivers it like one an endpoint sent
        (to the channel's senders). False if it was dropped because the worker
        does not keep up. Over 262,144 bytes raises ``ValueError``."""
        if not isinstance(self._transport, DirectTransport):
            raise InvalidStateError(f"dataReceiver {self._id} is not on a DirectTransport: its endpoint sends the messages")
        if self._closed:
            raise InvalidStateError(f"dataReceiver {self._id} is closed")
        if self._parameters is None:
            raise InvalidStateError(f"dataReceiver {self._id} does not receive yet: call receive() first")
        if isinstance(data, str):
            payload, binary = data.encode(), False
        elif isinstance(data, (bytes, bytearray, memoryview)):
            payload, binary = bytes(data), True
        else:
            raise TypeError(f"data must be a str or bytes, not {type(data).__name__}")
        return self._transport._send_data(self._parameters["sctpStreamParameters"]["streamId"], binary, payload)

    def _on_media(self, kind: int, ssrc: int, payload: bytes) -> None:
        """Nothing comes to Python for a channel Python sends on."""

    async def dump(self) -> Dump:
        """The receiver as the worker holds it (after ``receive()``)."""
        if self._parameters is None:
            self._check_open()
            return Dump(id=self._id, transportId=self._transport.id, sctpStreamParameters=None)
        return Dump(await self._request("dataReceiver.dump", {"dataReceiverId": self._id}))

    async def getStats(self) -> Stats:
        """``[{'type': 'data-receiver', 'label', 'protocol', 'messagesReceived', 'bytesReceived'}]``."""
        if self._parameters is None:
            self._check_open()
            return Stats()
        return Stats(await self._request("dataReceiver.getStats", {"dataReceiverId": self._id}))

    def _closing(self, error: BaseException | None) -> None:
        if isinstance(self._transport, DirectTransport) and self._parameters is not None:
            self._transport._detach_channel(self._parameters["sctpStreamParameters"]["streamId"], self)
        self._close_senders(error)
        self._peer._data_receiver_closed(self)

    def _close_request(self) -> tuple[str, dict[str, str]] | None:
        if self._parameters is None:
            return None
        return "dataReceiver.close", {"dataReceiverId": self._id}

    sctp_stream_parameters = sctpStreamParameters
    get_stats = getStats
