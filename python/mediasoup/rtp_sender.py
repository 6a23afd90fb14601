"""``RtpSender``: another peer's stream, forwarded to this peer."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ._futures import ignore_outcome
from ._object import WorkerObject
from .errors import InvalidStateError

if TYPE_CHECKING:
    from .peer import Peer
    from .rtp_receiver import RtpReceiver
    from .server import _Worker
    from .transport import Transport


class RtpSender(WorkerObject):
    """A stream of another peer that this peer can decode.

    Emitted by the peer as ``newrtpsender``. Its ``rtpParameters`` are what a
    client's ``consume(id=sender.id, producerId=sender.associatedRtpReceiver.id,
    kind=sender.kind, rtpParameters=sender.rtpParameters)`` takes;
    ``await sender.setTransport(transport)`` starts the flow. Events: ``close(error)``.
    """

    _kind = "rtpSender"

    def __init__(self, peer: Peer, worker: _Worker, sender_id: str, receiver: RtpReceiver, rtp_parameters: dict[str, Any]) -> None:
        super().__init__(worker)
        self._id = sender_id
        self._peer = peer
        self._receiver = receiver
        self._rtp_parameters = rtp_parameters
        self._transport: Transport | None = None

    def _repr_state(self) -> str:
        return f"kind={self.kind} active={self.active}"

    @property
    def kind(self) -> str:
        return self._receiver.kind

    @property
    def peer(self) -> Peer:
        """The peer this stream is sent to."""
        return self._peer

    @property
    def associatedRtpReceiver(self) -> RtpReceiver:
        """The stream's source: a receiver of another peer."""
        return self._receiver

    @property
    def transport(self) -> Transport | None:
        return self._transport

    @property
    def rtpParameters(self) -> dict[str, Any]:
        """mediasoup consumer ``RtpParameters``: the room's payload type, this sender's SSRCs."""
        return copy.deepcopy(self._rtp_parameters)

    @property
    def active(self) -> bool:
        """True once it has a transport and is not closed."""
        return self._transport is not None and not self._closed

    async def setTransport(self, transport: Transport) -> None:
        """Starts sending on ``transport`` (one of this peer's)."""
        from .transport import Transport

        if not isinstance(transport, Transport):
            raise TypeError(f"transport must be a Transport, not {type(transport).__name__}")
        if transport.peer is not self._peer:
            raise ValueError(f"transport {transport.id} belongs to another peer")
        if transport.closed:
            raise InvalidStateError(f"transport {transport.id} is closed")
        await self._request("rtpSender.setTransport", {"senderId": self._id, "transportId": transport.id})
        self._transport = transport

    async def dump(self) -> dict[str, Any]:
        dump: dict[str, Any] = await self._request("rtpSender.dump", {"senderId": self._id})
        return dump

    async def getStats(self) -> list[dict[str, Any]]:
        """``[{'type': 'outbound-rtp', 'ssrc', 'packetsSent', 'bytesSent', …}]``."""
        stats: list[dict[str, Any]] = await self._request("rtpSender.getStats", {"senderId": self._id})
        return stats

    def _close(self, error: BaseException | None, *, notify_worker: bool) -> None:
        if self._closed:
            return
        self._closed = True
        self._peer._rtp_sender_closed(self)
        self._receiver._sender_closed(self)
        if notify_worker and not self._worker.closed:
            ignore_outcome(self._worker.request("rtpSender.close", {"senderId": self._id}))
        self.emit("close", error)

    associated_rtp_receiver = associatedRtpReceiver
    rtp_parameters = rtpParameters
    set_transport = setTransport
    get_stats = getStats
