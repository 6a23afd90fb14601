"""What every kind of transport is to its peer and to the receivers and
senders put on it: an open object of one peer, and the check that says so.

A transport owns nothing. Its peer, and the receivers and senders on it,
import this package, so a transport sees its peer as a
:class:`~mediasoup._owners.OwningPeer` (see _owners.py) that takes the calls
of a :class:`TransportOwner`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from .._display import Dump, Stats
from .._object import WorkerObject
from .._owners import OwningPeer
from ..errors import InvalidStateError

if TYPE_CHECKING:
    from .._channel import Channel


class TransportOwner(OwningPeer, Protocol):
    """What a transport asks of its peer."""

    def _transport_closing(self, transport: BaseTransport, error: BaseException | None) -> None:
        """Ends what runs on the transport and forgets it (it is closing)."""


class BaseTransport(WorkerObject):
    """A transport of a peer, of any kind. Events: ``close(error)``."""

    _kind = "transport"
    # Why data receivers and senders cannot be put on it, when they cannot.
    _no_data = "was created without enableSctp"

    def __init__(self, peer: TransportOwner, channel: Channel, transport_id: str) -> None:
        super().__init__(channel)
        self._id = transport_id
        self._peer = peer

    @property
    def peer(self) -> OwningPeer:
        """The peer (a :class:`~mediasoup.Peer`)."""
        return self._peer

    def _repr_fields(self) -> list[tuple[str, object]]:
        return [("peer", self._peer.name)]

    @property
    def sctpParameters(self) -> dict[str, Any] | None:
        """``{'port', 'OS', 'MIS', 'maxMessageSize'}`` if it carries data channels over SCTP, else None."""
        return None

    @property
    def _carries_data(self) -> bool:
        """Whether data receivers and senders can be put on it."""
        return self.sctpParameters is not None

    async def getStats(self) -> Stats:
        return Stats(await self._request("transport.getStats", {"transportId": self._id}))

    async def dump(self) -> Dump:
        """The transport as the worker holds it."""
        return Dump(await self._request("transport.dump", {"transportId": self._id}))

    def _closing(self, error: BaseException | None) -> None:
        self._channel.targets.pop(self._id, None)
        self._peer._transport_closing(self, error)

    def _close_request(self) -> tuple[str, dict[str, str]]:
        return "transport.close", {"transportId": self._id}

    sctp_parameters = sctpParameters
    get_stats = getStats


def check_usable(transport: object, peer: OwningPeer, *, sctp: bool = False) -> None:
    """Raises unless ``transport`` is an open transport of ``peer`` (one that
    carries data when ``sctp``: ``enableSctp``, or a direct one): what a
    receiver or a sender is put on."""
    if not isinstance(transport, BaseTransport):
        raise TypeError(f"transport must be a Transport, a DirectTransport or a PlainTransport, not {type(transport).__name__}")
    if transport.peer is not peer:
        raise ValueError(f"transport {transport.id} belongs to another peer")
    if transport.closed:
        raise InvalidStateError(f"transport {transport.id} is closed")
    if sctp and not transport._carries_data:
        raise InvalidStateError(f"transport {transport.id} {transport._no_data}")
