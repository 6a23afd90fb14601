"""``RtpReceiver``: one stream a peer publishes (audio or video), on one of its transports.

A receiver imports the module of its transport (below it). Its peer and the
senders that forward the stream import this module, so the receiver sees its
peer as a :class:`~mediasoup._owners.OwningPeer` (see _owners.py) that takes
the calls of an :class:`RtpReceiverOwner`, and holds its senders as the
worker objects that close with it.
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
from .transport.direct import KEYFRAME_REQUEST

if TYPE_CHECKING:
    from ._channel import Channel


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
    mediasoup-client's ``produce`` hand to the application). Events: ``close(error)``,
    and for a simulcast stream ``layersunused(layers)``: the spatial layers
    (0 the lowest) that no sender wants now, each time they change (the
    first time once it receives): an application can pause them at the
    publisher to save its uplink, and resume those that leave the list.

    On a :class:`~mediasoup.DirectTransport`, Python publishes the stream:
    ``sendRtp(packet)`` for each packet (with an SSRC of ``rtpParameters``'
    encodings), and ``keyframerequest()`` fires when a subscriber needs a
    keyframe (an encoder should make the next frame one), right after
    ``encodingkeyframerequest(ssrc)`` naming the encoding it needs it of (a
    simulcast stream published as one encoder per SSRC makes one keyframe).
    """

    _kind = "rtpReceiver"

    def __init__(self, peer: RtpReceiverOwner, channel: Channel, kind: str, transport: BaseTransport) -> None:
        super().__init__(channel)
        self._peer = peer
        self._kind_of_media = kind
        self._transport = transport
        self._rtp_parameters: dict[str, Any] | None = None
        # The last receive() request (its undo follows it if it was cancelled).
        self._receiving: asyncio.Future[Any] | None = None
        # On a direct transport: the SSRCs Python writes.
        self._ssrcs: frozenset[int] = frozenset()
        self._layers_unused: list[int] | None = None
        # The rooms the stream was piped from (pipe.py): a pipe to one of
        # them does not carry it back.
        self._origins: frozenset[str] = frozenset()
        # The worker reports the layers no sender wants (rtpReceiver.layersUnused).
        channel.targets[self._id] = self

    def _repr_state(self) -> str:
        return f"kind={self._kind_of_media} receiving={self._rtp_parameters is not None}"

    def _repr_status(self) -> str:
        return "closed" if self._closed else "receiving" if self._rtp_parameters is not None else "new"

    def _repr_fields(self) -> list[tuple[str, object]]:
        parameters = self._rtp_parameters or {}
        return [
            ("kind", self._kind_of_media),
            ("peer", self._peer.name),
            ("transport", Id(self._transport.id)),
            ("mid", parameters.get("mid")),
            ("codecs", [codec["mimeType"] for codec in parameters.get("codecs", [])]),
            ("encodings", [encoding.get("rid") or encoding.get("ssrc") for encoding in parameters.get("encodings", [])]),
            ("rtpSenders", len(self._senders)),
        ]

    @property
    def kind(self) -> str:
        """'audio' or 'video'."""
        return self._kind_of_media

    @property
    def peer(self) -> OwningPeer:
        """The publishing peer (a :class:`~mediasoup.Peer`)."""
        return self._peer

    @property
    def transport(self) -> BaseTransport:
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
        await settled(self._receiving)
        if self._rtp_parameters is not None:
            raise InvalidStateError(f"rtpReceiver {self._id} receives already")
        request = self._receiving = self._request(
            "rtpReceiver.receive",
            {
                "receiverId": self._id,
                "transportId": self._transport.id,
                "kind": self._kind_of_media,
                "rtpParameters": dict(rtpParameters),
            },
        )
        normalised: dict[str, Any] = await made_or_undone(self._channel, request, "rtpReceiver.close", {"receiverId": self._id})
        if self._closed:
            # Closed while the worker created it: the worker's receiver goes too.
            request_unawaited(self._channel, "rtpReceiver.close", {"receiverId": self._id})
            raise InvalidStateError(f"rtpReceiver {self._id} closed while it was being created")
        self._rtp_parameters = normalised
        if isinstance(self._transport, DirectTransport):
            self._ssrcs = frozenset(encoding["ssrc"] for encoding in normalised["encodings"])
            for ssrc in self._ssrcs:
                self._transport._attach(ssrc, self)
        self._peer._rtp_receiver_receiving(self)

    def sendRtp(self, packet: bytes | bytearray | memoryview) -> bool:
        """Publishes one RTP packet of the stream (on a direct transport, after
        ``receive()``): returns at once, the packet queued for the worker, which
        forwards it like any other. False if it was dropped because the worker
        does not keep up (4 MiB wait). Raises ``ValueError`` for what is not an
        RTP packet of one of the stream's SSRCs."""
        if not isinstance(self._transport, DirectTransport):
            raise InvalidStateError(f"rtpReceiver {self._id} is not on a DirectTransport: its endpoint sends the packets")
        if self._closed:
            raise InvalidStateError(f"rtpReceiver {self._id} is closed")
        if not self._ssrcs:
            raise InvalidStateError(f"rtpReceiver {self._id} does not receive yet: call receive() first")
        if not isinstance(packet, bytes):
            if not isinstance(packet, (bytearray, memoryview)):
                raise TypeError(f"packet must be bytes, not {type(packet).__name__}")
            packet = bytes(packet)
        ssrc = int.from_bytes(packet[8:12], "big")
        if len(packet) >= 12 and ssrc not in self._ssrcs:
            raise ValueError(f"the packet's SSRC {ssrc} is none of the stream's ({', '.join(map(str, sorted(self._ssrcs)))})")
        return self._transport._send_rtp(packet)

    def _on_media(self, kind: int, ssrc: int, payload: bytes) -> None:
        if kind == KEYFRAME_REQUEST:
            # The encoding's first, so a publisher of one encoding among several can tell.
            self.emit("encodingkeyframerequest", ssrc)
            self.emit("keyframerequest")

    @property
    def layersUnused(self) -> list[int] | None:
        """The spatial layers of a simulcast stream that no sender wants now
        (None for a stream of one encoding, and until it receives)."""
        return list(self._layers_unused) if self._layers_unused is not None else None

    def _on_notification(self, event: str, data: Any) -> None:
        if self._closed or event != "rtpReceiver.layersUnused":
            return
        self._layers_unused = list(data["layers"])
        self.emit("layersunused", self.layersUnused)

    async def dump(self) -> Dump:
        """The receiver as the worker holds it (after ``receive()``)."""
        if self._rtp_parameters is None:
            self._check_open()
            return Dump(id=self._id, kind=self._kind_of_media, transportId=self._transport.id, rtpParameters=None)
        return Dump(await self._request("rtpReceiver.dump", {"receiverId": self._id}))

    async def getStats(self) -> Stats:
        """``[{'type': 'inbound-rtp', 'ssrc', 'packetsReceived', 'bytesReceived', …}]`` per stream seen."""
        if self._rtp_parameters is None:
            self._check_open()
            return Stats()
        return Stats(await self._request("rtpReceiver.getStats", {"receiverId": self._id}))

    def _closing(self, error: BaseException | None) -> None:
        self._channel.targets.pop(self._id, None)
        if isinstance(self._transport, DirectTransport):
            for ssrc in self._ssrcs:
                self._transport._detach(ssrc, self)
        self._close_senders(error)
        self._peer._rtp_receiver_closed(self)

    def _close_request(self) -> tuple[str, dict[str, str]] | None:
        # Before receive() the worker does not know the receiver.
        if self._rtp_parameters is None:
            return None
        return "rtpReceiver.close", {"receiverId": self._id}

    rtp_parameters = rtpParameters
    get_stats = getStats
    layers_unused = layersUnused
    send_rtp = sendRtp
