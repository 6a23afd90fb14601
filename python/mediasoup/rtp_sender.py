"""``RtpSender``: another peer's stream, forwarded to this peer.

A sender imports the modules of its stream's receiver and of its transport
(below it). Its peer imports this module, so the sender sees its peer as a
:class:`~mediasoup._owners.OwningPeer` (see _owners.py) that takes the calls
of an :class:`RtpSenderOwner`.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Protocol

from ._object import WorkerObject
from ._owners import OwningPeer
from .transport import Transport, check_usable

if TYPE_CHECKING:
    from ._channel import Channel
    from .rtp_receiver import RtpReceiver


class RtpSenderOwner(OwningPeer, Protocol):
    """What a sender asks of the peer its stream is sent to."""

    def _rtp_sender_closed(self, sender: RtpSender) -> None:
        """Forgets the sender (it is closing)."""


class RtpSender(WorkerObject):
    """A stream of another peer that this peer can decode.

    Emitted by the peer as ``newrtpsender``. Its ``rtpParameters`` are what a
    client's ``consume(id=sender.id, producerId=sender.associatedRtpReceiver.id,
    kind=sender.kind, rtpParameters=sender.rtpParameters)`` takes;
    ``await sender.setTransport(transport)`` starts the flow; ``disable()`` and
    ``enable()`` pause and resume it. Events: ``close(error)``, ``activechange(active)``,
    ``parameterschange(rtpParameters)``.
    """

    _kind = "rtpSender"

    def __init__(
        self, peer: RtpSenderOwner, channel: Channel, sender_id: str, receiver: RtpReceiver, rtp_parameters: dict[str, Any]
    ) -> None:
        super().__init__(channel)
        self._id = sender_id
        self._peer = peer
        self._receiver = receiver
        self._rtp_parameters = rtp_parameters
        self._transport: Transport | None = None
        self._paused = False

    def _repr_state(self) -> str:
        return f"kind={self.kind} active={self.active}"

    @property
    def kind(self) -> str:
        return self._receiver.kind

    @property
    def peer(self) -> OwningPeer:
        """The peer this stream is sent to (a :class:`~mediasoup.Peer`)."""
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
        """True while it sends: it has a transport, is enabled and open."""
        return self._transport is not None and not self._paused and not self._closed

    def _update(self, transport: Transport | None, paused: bool) -> None:
        """Sets transport and pause; emits ``activechange`` when ``active`` changes."""
        was_active = self.active
        self._transport, self._paused = transport, paused
        if self.active != was_active:
            self.emit("activechange", self.active)

    async def disable(self) -> None:
        """Pauses the flow; the sequence numbers go on without a gap on ``enable()``."""
        await self._request("rtpSender.setActive", {"senderId": self._id, "active": False})
        self._update(self._transport, True)

    async def enable(self) -> None:
        """Resumes the flow, with a keyframe requested from the publisher."""
        await self._request("rtpSender.setActive", {"senderId": self._id, "active": True})
        self._update(self._transport, False)

    async def setTransport(self, transport: Transport) -> None:
        """Starts sending on ``transport`` (one of this peer's).

        The payload types and header-extension ids of ``rtpParameters`` are
        those the transport writes; if ``transport`` has others than the ones
        given at creation (it was created before the peer's capabilities were set), the
        parameters change and ``parameterschange`` fires: consume after this.
        """
        await self._set_transport(transport)

    async def _set_transport(self, transport: Transport, mid: str | None = None) -> None:
        """``setTransport``, under ``mid`` if given (an SDP answer's section,
        possibly one the transport receives on: sendrecv)."""
        check_usable(transport, self._peer)
        request = {"senderId": self._id, "transportId": transport.id}
        if mid is not None:
            request["mid"] = mid
        answer = await self._request("rtpSender.setTransport", request)
        self._update(transport, self._paused)
        if answer and answer.get("rtpParameters") is not None:
            self._rtp_parameters = answer["rtpParameters"]
            self.emit("parameterschange", self.rtpParameters)

    async def dump(self) -> dict[str, Any]:
        dump: dict[str, Any] = await self._request("rtpSender.dump", {"senderId": self._id})
        return dump

    async def getStats(self) -> list[dict[str, Any]]:
        """``[{'type': 'outbound-rtp', 'ssrc', 'packetsSent', 'bytesSent', …}]``."""
        stats: list[dict[str, Any]] = await self._request("rtpSender.getStats", {"senderId": self._id})
        return stats

    def _closing(self, error: BaseException | None) -> None:
        if self._transport is not None and not self._paused:
            self.emit("activechange", False)
        self._peer._rtp_sender_closed(self)
        self._receiver._sender_closed(self)

    def _close_request(self) -> tuple[str, dict[str, str]]:
        return "rtpSender.close", {"senderId": self._id}

    associated_rtp_receiver = associatedRtpReceiver
    rtp_parameters = rtpParameters
    set_transport = setTransport
    get_stats = getStats
