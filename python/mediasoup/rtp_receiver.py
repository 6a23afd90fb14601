"""``RtpReceiver``: one stream a peer publishes (audio or video), on one of its transports.

A receiver imports the module of its transport (below it). Its peer and the
senders that forward the stream import this module, so the receiver sees its
peer as a :class:`~mediasoup._owners.OwningPeer` (see _owners.py) that takes
the calls of an :class:`RtpReceiverOwner`, and holds its senders as the
worker objects that close with it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ._object import Forwarded
from ._owners import OwningPeer
from .errors import InvalidStateError

if TYPE_CHECKING:
    from ._channel import Channel
    from .transport import Transport


class RtpReceiverOwner(OwningPeer, Protocol):
    """What a receiver asks of the peer that publishes its stream."""

    def _rtp_receiver_receiving(self, receiver: RtpReceiver) -> None:
        """Tells the room that the stream is published (``receive()`` succeeded)."""

    def _rtp_receiver_closed(self, receiver: RtpReceiver) -> None:
        """Tells the room that the stream ended and forgets the receiver (it is closing)."""


class RtpReceiver(Forwarded):
    """A stream the peer sends; made by ``peer.RtpReceiver(kind, transport)``.

    ``await receiver.receive(rtpParameters)`` starts receiving it with the
    client's mediasoup ``RtpParameters`` (what pymediasoup's and
    mediasoup-client's ``produce`` hand to the application). Events: ``close(error)``.
    """

    _kind = "rtpReceiver"

    def __init__(self, peer: RtpReceiverOwner, channel: Channel, kind: str, transport: Transport) -> None:
        super().__init__(channel)
        self._peer = peer
        self._kind_of_media = kind
        self._transport = transport
        self._rtp_parameters: dict[str, Any] | None = None

    def _repr_state(self) -> str:
        return f"kind={self._kind_of_media} receiving={self._rtp_parameters is not None}"

    @property
    def kind(self) -> str:
        """'audio' or 'video'."""
        return self._kind_of_media

    @property
    def peer(self) -> OwningPeer:
        """The publishing peer (a :class:`~mediasoup.Peer`)."""
        return self._peer

    @property
    def transport(self) -> Transport:
        return self._transport

    @property
    def rtpParameters(self) -> dict[str, Any] | None:
        """The parameters given to ``receive()``, normalised (None before)."""
        return copy.deepcopy(self._rtp_parameters)

    async def receive(self, rtpParameters: Mapping[str, Any]) -> None:
        """Starts receiving the stream described by ``rtpParameters``.

        Its codecs must be among the room's (``UnsupportedError`` otherwise);
        a kind mismatch, an unknown payload type or a duplicate raise
        ``ValueError`` naming the field.
        """
        if not isinstance(rtpParameters, Mapping):
            raise TypeError(f"rtpParameters must be a dict, not {type(rtpParameters).__name__}")
        if self._rtp_parameters is not None:
            raise InvalidStateError(f"rtpReceiver {self._id} receives already")
        normalised: dict[str, Any] = await self._request(
            "rtpReceiver.receive",
            {
                "receiverId": self._id,
                "transportId": self._transport.id,
                "kind": self._kind_of_media,
                "rtpParameters": dict(rtpParameters),
            },
        )
        self._rtp_parameters = normalised
        self._peer._rtp_receiver_receiving(self)

    async def dump(self) -> dict[str, Any]:
        """The receiver as the worker holds it (after ``receive()``)."""
        if self._rtp_parameters is None:
            self._check_open()
            return {"id": self._id, "kind": self._kind_of_media, "transportId": self._transport.id, "rtpParameters": None}
        dump: dict[str, Any] = await self._request("rtpReceiver.dump", {"receiverId": self._id})
        return dump

    async def getStats(self) -> list[dict[str, Any]]:
        """``[{'type': 'inbound-rtp', 'ssrc', 'packetsReceived', 'bytesReceived', …}]`` per stream seen."""
        if self._rtp_parameters is None:
            self._check_open()
            return []
        stats: list[dict[str, Any]] = await self._request("rtpReceiver.getStats", {"receiverId": self._id})
        return stats

    def _closing(self, error: BaseException | None) -> None:
        self._close_senders(error)
        self._peer._rtp_receiver_closed(self)

    def _close_request(self) -> tuple[str, dict[str, str]] | None:
        # Before receive() the worker does not know the receiver.
        if self._rtp_parameters is None:
            return None
        return "rtpReceiver.close", {"receiverId": self._id}

    rtp_parameters = rtpParameters
    get_stats = getStats
