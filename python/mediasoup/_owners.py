"""A room and a peer as the objects they own see them.

The object modules import what they own, never their owner:
server → room → peer → rtp_sender | data_sender → rtp_receiver |
data_receiver → transport, and under them
_object.py, _channel.py and this module, which import none of them (the
layers of ``[tool.importlinter]`` in pyproject.toml; tests/test_imports.py
fails on any import cycle, type-checking imports included). A peer
lists its transports as :class:`~mediasoup.Transport`, so the transport package
cannot name :class:`~mediasoup.Peer` in return without an import cycle;
instead, an owned object's back-reference (a peer's ``room``, the ``peer``
of a transport, a receiver or a sender) is typed with a Protocol of this
module: the owner's identity and state, which the real Room and Peer have.
It is the object itself (``transport.peer is peer``); ``isinstance(x,
mediasoup.Peer)`` narrows it to the class.

What an object asks of its owner (the calls it makes when it starts or
closes) is a Protocol in the object's own module that extends these, typed
with that module's classes: ``RoomOwner`` in room.py, ``PeerOwner`` in
peer.py, ``TransportOwner`` in transport/_base.py, ``RtpReceiverOwner`` in
rtp_receiver.py, ``RtpSenderOwner`` in rtp_sender.py, ``DataReceiverOwner``
in data_receiver.py, ``DataSenderOwner`` in data_sender.py.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["OwningRoom", "OwningPeer"]


class OwningRoom(Protocol):
    """The room of a peer: a :class:`~mediasoup.Room`."""

    @property
    def id(self) -> str: ...

    @property
    def closed(self) -> bool: ...

    @property
    def rtpCapabilities(self) -> dict[str, Any]: ...

    @property
    def forceUniquePayloadTypes(self) -> bool: ...


class OwningPeer(Protocol):
    """The peer of a transport, a receiver or a sender: a :class:`~mediasoup.Peer`."""

    @property
    def id(self) -> str: ...

    @property
    def closed(self) -> bool: ...

    @property
    def name(self) -> str: ...

    @property
    def room(self) -> OwningRoom: ...

    @property
    def capabilities(self) -> dict[str, Any] | None: ...
