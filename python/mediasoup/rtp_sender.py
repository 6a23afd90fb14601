"""``RtpSender``: another peer's stream, forwarded to this peer.

A sender imports the modules of its stream's receiver and of its transport
(below it). Its peer imports this module, so the sender sees its peer as a
:class:`~mediasoup._owners.OwningPeer` (see _owners.py) that takes the calls
of an :class:`RtpSenderOwner`.
"""

from __future__ import annotations

import asyncio
import collections
import copy
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

from ._display import Dump, Id, Stats
from ._object import WorkerObject
from ._owners import OwningPeer
from .errors import InvalidStateError
from .transport import BaseTransport, DirectTransport, check_usable
from .transport.direct import RTP

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
    ``enable()`` pause and resume it; a video stream sent in layers (simulcast,
    temporal layers, SVC) is forwarded one spatial and temporal layer at a
    time: :meth:`setPreferredLayers`, :attr:`currentLayers`, its share of
    the bandwidth :meth:`setPriority`; :attr:`score` says how well the
    subscriber receives it. Events: ``close(error)``,
    ``activechange(active)``, ``parameterschange(rtpParameters)``,
    ``layerschange(layers)``, ``score(score)``, and on a :class:`~mediasoup.DirectTransport`
    ``rtp(packet)``: each RTP packet (``bytes``, decrypted) as this sender
    sends it; :meth:`packets` gives them as an async iterator.
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
        self._transport: BaseTransport | None = None
        self._paused = False
        self._preferred_layers: dict[str, int | None] | None = None
        self._current_layers: dict[str, int] | None = None
        self._score = 0
        self._priority = 1
        # The async iterators of packets() not finished yet.
        self._queues: list[RtpPackets] = []
        # The worker reports the layers it forwards (rtpSender.layersChange) and its score (rtpSender.score).
        channel.targets[sender_id] = self

    def _repr_state(self) -> str:
        return f"kind={self.kind} active={self.active}"

    def _repr_status(self) -> str:
        return "closed" if self._closed else "paused" if self._paused else "idle" if self._transport is None else "active"

    def _repr_fields(self) -> list[tuple[str, object]]:
        encodings = self._rtp_parameters.get("encodings", [])
        return [
            ("kind", self.kind),
            ("peer", self._peer.name),
            ("from", self._receiver.peer.name),
            ("rtpReceiver", Id(self._receiver.id)),
            ("transport", Id(self._transport.id) if self._transport is not None else None),
            ("mid", self._rtp_parameters.get("mid")),
            ("codecs", [codec["mimeType"] for codec in self._rtp_parameters.get("codecs", [])]),
            ("ssrc", encodings[0].get("ssrc") if encodings else None),
            ("currentLayers", self._current_layers),
        ]

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
    def transport(self) -> BaseTransport | None:
        return self._transport

    @property
    def rtpParameters(self) -> dict[str, Any]:
        """mediasoup consumer ``RtpParameters``: the room's payload type, this sender's SSRCs."""
        return copy.deepcopy(self._rtp_parameters)

    @property
    def active(self) -> bool:
        """True while it sends: it has a transport, is enabled and open."""
        return self._transport is not None and not self._paused and not self._closed

    @property
    def preferredLayers(self) -> dict[str, int | None] | None:
        """``{'spatialLayer', 'temporalLayer'}`` as last given to
        :meth:`setPreferredLayers`; None: the highest the publisher sends."""
        return dict(self._preferred_layers) if self._preferred_layers is not None else None

    @property
    def currentLayers(self) -> dict[str, int] | None:
        """``{'spatialLayer', 'temporalLayer'}`` forwarded now (0 is the
        lowest of each); None until something is forwarded. Updated as
        ``layerschange`` fires."""
        return dict(self._current_layers) if self._current_layers is not None else None

    @property
    def score(self) -> int:
        """How well the subscriber receives the stream, 0 to 10: from the
        loss its receiver reports say (1 % lost: 10, 5 %: 8, 10 %: 7, 20 %:
        4), 2 less per spatial layer below the best one it would get at its
        preference (held down by its bandwidth; its own preference costs
        nothing); 0 until something is forwarded. Updated as ``score`` fires
        (on a change: at most once per second from the reports, and at a
        change of layers)."""
        return self._score

    async def setPreferredLayers(self, spatialLayer: int, temporalLayer: int | None = None) -> None:
        """The highest spatial layer (a simulcast encoding or an SVC layer,
        counted from 0, the lowest resolution) and temporal layer (None:
        all) to forward. The
        sender forwards the highest layers the publisher sends at or below
        them (the lowest sent, if none is), switching spatial layers at a
        keyframe of the new one (asked of the publisher) and temporal layers
        at a frame that allows it. Values above the layers sent mean the highest."""
        spatial = _layer_index("spatialLayer", spatialLayer)
        temporal = None if temporalLayer is None else _layer_index("temporalLayer", temporalLayer)
        if self.kind != "video":
            raise ValueError(f"an {self.kind} stream has no layers")
        request: dict[str, Any] = {"senderId": self._id, "spatialLayer": min(spatial, 255)}
        if temporal is not None:
            request["temporalLayer"] = min(temporal, 255)
        await self._request("rtpSender.setPreferredLayers", request)
        self._preferred_layers = {"spatialLayer": spatial, "temporalLayer": temporal}

    @property
    def priority(self) -> int:
        """Its share of its transport's bandwidth estimate (1 to 255, 1 by
        default), as last given to :meth:`setPriority`."""
        return self._priority

    async def setPriority(self, priority: int) -> None:
        """Its share of its transport's bandwidth estimate, in a room with
        ``bandwidthEstimation``: when the estimate does not pay for every
        sender's best layers, the senders climb from their lowest layer in
        turns, and a sender of priority ``p`` climbs up to ``p`` layers per
        turn (the speaker's tile 3, the thumbnails 1). An int from 1 to 255;
        applied at the next sharing, within a second."""
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise TypeError(f"priority must be an int, not {type(priority).__name__}")
        if not 1 <= priority <= 255:
            raise ValueError(f"priority must be between 1 and 255, not {priority}")
        await self._request("rtpSender.setPriority", {"senderId": self._id, "priority": priority})
        self._priority = priority

    def _on_notification(self, event: str, data: Any) -> None:
        if self._closed:
            return
        if event == "rtpSender.layersChange":
            self._current_layers = data["layers"]
            self.emit("layerschange", self.currentLayers)
        elif event == "rtpSender.score":
            self._score = int(data["score"])
            self.emit("score", self._score)

    @property
    def _ssrc(self) -> int:
        ssrc: int = self._rtp_parameters["encodings"][0]["ssrc"]
        return ssrc

    def _update(self, transport: BaseTransport | None, paused: bool) -> None:
        """Sets transport and pause; emits ``activechange`` when ``active`` changes."""
        was_active = self.active
        if self._transport is not transport:
            if isinstance(self._transport, DirectTransport):
                self._transport._detach(self._ssrc, self)
            if isinstance(transport, DirectTransport):
                transport._attach(self._ssrc, self)
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

    async def setTransport(self, transport: BaseTransport) -> None:
        """Starts sending on ``transport`` (one of this peer's).

        The payload types and header-extension ids of ``rtpParameters`` are
        those the transport writes; if ``transport`` has others than the ones
        given at creation (it was created before the peer's capabilities were set), the
        parameters change and ``parameterschange`` fires: consume after this.
        """
        await self._set_transport(transport)

    async def _set_transport(self, transport: BaseTransport, mid: str | None = None) -> None:
        """``setTransport``, under ``mid`` if given (an SDP answer's section,
        possibly one the transport receives on: sendrecv)."""
        check_usable(transport, self._peer)
        request = {"senderId": self._id, "transportId": transport.id}
        if mid is not None:
            request["mid"] = mid
        answer = await self._request("rtpSender.setTransport", request)
        if self._closed:
            raise InvalidStateError(f"rtpSender {self._id} closed while it moved to transport {transport.id}")
        if transport.closed:
            self._update(None, self._paused)
            raise InvalidStateError(f"transport {transport.id} closed while rtpSender {self._id} moved to it")
        self._update(transport, self._paused)
        if answer and answer.get("rtpParameters") is not None:
            self._rtp_parameters = answer["rtpParameters"]
            self.emit("parameterschange", self.rtpParameters)

    async def requestKeyFrame(self) -> None:
        """Asks the publisher of the stream for a keyframe (a decoder starting or
        recovering from a loss); relayed at most once per 500 ms, like
        subscribers' PLIs. Nothing for audio."""
        await self._request("rtpSender.requestKeyFrame", {"senderId": self._id})

    def packets(self, queueSize: int = 1024) -> RtpPackets:
        """The packets this sender sends on a direct transport, from now on, as
        an async iterator (``async for packet in sender.packets(): …``) that ends
        when the sender closes. It holds up to ``queueSize`` packets for a slow
        reader; beyond that the oldest are dropped and counted (``dropped``)."""
        if not isinstance(queueSize, int) or isinstance(queueSize, bool):
            raise TypeError(f"queueSize must be an int, not {type(queueSize).__name__}")
        if queueSize < 1:
            raise ValueError(f"queueSize must be >= 1, not {queueSize}")
        self._check_open()
        queue = RtpPackets(self, queueSize)
        self._queues.append(queue)
        return queue

    def _on_media(self, kind: int, ssrc: int, payload: bytes) -> None:
        if kind != RTP:
            return
        for queue in self._queues:
            queue._put(payload)
        self.emit("rtp", payload)

    async def dump(self) -> Dump:
        return Dump(await self._request("rtpSender.dump", {"senderId": self._id}))

    async def getStats(self) -> Stats:
        """``[{'type': 'outbound-rtp', 'ssrc', 'packetsSent', 'bytesSent', …}]``."""
        return Stats(await self._request("rtpSender.getStats", {"senderId": self._id}))

    def _closing(self, error: BaseException | None) -> None:
        self._channel.targets.pop(self._id, None)
        if isinstance(self._transport, DirectTransport):
            self._transport._detach(self._ssrc, self)
        for queue in self._queues:
            queue._end()
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
    request_key_frame = requestKeyFrame
    set_preferred_layers = setPreferredLayers
    set_priority = setPriority
    preferred_layers = preferredLayers
    current_layers = currentLayers


def _layer_index(name: str, value: object) -> int:
    """A layer index: an int >= 0."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, not {value}")
    return value


class RtpPackets(AsyncIterator[bytes]):
    """The packets of a sender on a direct transport, as an async iterator
    (:meth:`RtpSender.packets`): bounded, the oldest dropped first when the
    reader falls behind; ends when the sender closes or on :meth:`close`."""

    def __init__(self, sender: RtpSender, size: int) -> None:
        self._sender = sender
        self._packets: collections.deque[bytes] = collections.deque()
        self._size = size
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self.dropped = 0

    def _put(self, packet: bytes) -> None:
        if len(self._packets) == self._size:
            self._packets.popleft()
            self.dropped += 1
        self._packets.append(packet)
        self._wake()

    def _end(self) -> None:
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def close(self) -> None:
        """Stops this iterator (the sender goes on)."""
        self._end()
        self._packets.clear()
        if self in self._sender._queues:
            self._sender._queues.remove(self)

    def __aiter__(self) -> RtpPackets:
        return self

    async def __anext__(self) -> bytes:
        while not self._packets:
            if self._ended:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._packets.popleft()
