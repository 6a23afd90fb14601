"""``DirectTransport``: a transport with no network, whose endpoint is Python.

The streams of its peer's RtpSenders come to Python as the decrypted RTP
packets the senders send (``rtpSender.on('rtp')``, ``rtpSender.packets()``),
and its RtpReceivers publish the packets Python writes
(``rtpReceiver.sendRtp()``), forwarded like any others. The packets cross
between the worker and Python on the worker's media path, a socket of its
own beside the Channel, in batches (see ``_channel.py``). The receivers and
senders on it register as its :class:`MediaEnd` by SSRC; the transport owns
nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from .._display import Stats
from ._base import BaseTransport, TransportOwner

if TYPE_CHECKING:
    from .._channel import Channel

# Kinds of frame on the media path (media_worker/src/channel/media.rs).
RTP = 1
KEYFRAME_REQUEST = 2
DATA = 3


class MediaEnd(Protocol):
    """A stream on a direct transport, as the transport hands it its frames."""

    def _on_media(self, kind: int, ssrc: int, payload: bytes) -> None:
        """A packet (``RTP``), a keyframe request (``KEYFRAME_REQUEST``, for the
        encoding on ``ssrc``) or, for a data channel, a message (``DATA``, on
        stream ``ssrc``: a flag byte, 1 for binary, then the message)."""


class DirectTransport(BaseTransport):
    """A peer's transport whose endpoint is this Python process; made by
    ``await peer.createDirectTransport()``.

    Put senders on it (``await rtpSender.setTransport(direct)``) to get the
    other peers' streams as RTP packets, and receivers
    (``peer.RtpReceiver(kind, direct)``) to publish packets Python makes.
    ``getStats()``: ``[{'type': 'direct-transport', 'packetsSent',
    'packetsDropped', 'packetsReceived', 'packetsDiscarded', 'queuedBytes', …},
    {'type': 'direct-outbound', 'ssrc', 'packetsSent', 'packetsDropped', …} per sender]``:
    ``packetsDropped`` counts what did not fit the worker's queue for Python
    (1 MiB) while Python did not read. It carries data too, without SCTP:
    ``peer.DataReceiver(direct)`` publishes a channel Python writes to
    (``dataReceiver.send()``), and another peer's channel put on it
    (``dataSender.setTransport(direct)``) reaches Python as
    ``dataSender.on('message')``. Events: ``close(error)``.
    """

    def __init__(self, peer: TransportOwner, channel: Channel, transport_id: str, handle: int) -> None:
        super().__init__(peer, channel, transport_id)
        self._handle = handle
        # The streams on it, by SSRC: senders' packets and receivers' keyframe requests go there.
        self._ends: dict[int, MediaEnd] = {}
        # Its data channels, by stream id: data senders' messages go there.
        self._channels: dict[int, MediaEnd] = {}
        channel.targets[transport_id] = self
        channel.media_targets[handle] = self

    def _repr_state(self) -> str:
        return f"streams={len(self._ends)}"

    def _repr_fields(self) -> list[tuple[str, object]]:
        return [*super()._repr_fields(), ("streams", len(self._ends)), ("data channels", len(self._channels))]

    async def getStats(self) -> Stats:
        """``[{'type': 'direct-transport', 'packetsSent', 'packetsDropped', …}, {'type': 'direct-outbound', …}, …]``."""
        return await super().getStats()

    def _attach(self, ssrc: int, end: MediaEnd) -> None:
        self._ends[ssrc] = end

    def _detach(self, ssrc: int, end: MediaEnd) -> None:
        if self._ends.get(ssrc) is end:
            del self._ends[ssrc]

    @property
    def _carries_data(self) -> bool:
        return True

    def _attach_channel(self, stream_id: int, end: MediaEnd) -> None:
        self._channels[stream_id] = end

    def _detach_channel(self, stream_id: int, end: MediaEnd) -> None:
        if self._channels.get(stream_id) is end:
            del self._channels[stream_id]

    def _free_stream_id(self) -> int:
        """A stream id no channel of Python's on it names (the worker checks it too)."""
        return next(stream_id for stream_id in range(len(self._channels) + 1) if stream_id not in self._channels)

    def _send_data(self, stream_id: int, binary: bool, data: bytes) -> bool:
        queued: bool = self._channel.process.send_media_data(self._handle, stream_id, binary, data)
        return queued

    def _send_rtp(self, packet: bytes) -> bool:
        """Queues a packet for a receiver on it; False if the worker does not keep up."""
        queued: bool = self._channel.process.send_media(self._handle, packet)
        return queued

    def _on_media(self, kind: int, ssrc: int, payload: bytes) -> None:
        end = (self._channels if kind == DATA else self._ends).get(ssrc)
        if end is not None:
            end._on_media(kind, ssrc, payload)

    def _on_notification(self, event: str, data: Any) -> None:
        pass

    def _closing(self, error: BaseException | None) -> None:
        self._channel.media_targets.pop(self._handle, None)
        self._ends.clear()
        self._channels.clear()
        super()._closing(error)

    get_stats = getStats
