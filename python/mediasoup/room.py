"""``Room``: a multiparty conference, living in one worker.

A room owns its peers (peer.py) and the pipes from it (pipe.py), and
imports them; its server imports this module, so the room sees the server
as a :class:`RoomOwner`: what the room asks of it (the room has no public
``server``).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from . import _mediasoup
from . import peer as peer_module
from . import pipe as pipe_module
from .transport import SRTP_CRYPTO_SUITES
from ._display import Dump
from ._object import MediasoupObject, WorkerObject
from .errors import InvalidStateError

if TYPE_CHECKING:
    from ._channel import Channel
    from .data_receiver import DataReceiver
    from .rtp_receiver import RtpReceiver


class RoomOwner(Protocol):
    """What a room asks of its server."""

    def _room_closed(self, room: Room) -> None:
        """Forgets the room (it is closing)."""


class Room(WorkerObject):
    """A room of a :class:`~mediasoup.Server`; made by ``server.Room()``.

    Returned at once; ``await room`` resolves once the worker has created it,
    and raises if it could not. Events: ``close(error)``, ``newpeer(peer)``,
    ``newpipe(pipe)`` (a pipe from or to it opened),
    ``audiolevels(levels)`` (``[(rtpReceiver, dBov), …]`` loudest first, every
    ``audioLevelInterval`` while someone speaks; ``[]`` once when all fell
    silent), ``activespeaker(rtpReceiver)`` (the dominant speaker changed;
    None when its stream ended).
    """

    _kind = "room"

    def __init__(
        self,
        server: RoomOwner,
        channel: Channel,
        rtp_capabilities: dict[str, Any],
        media_codecs: Any,
        force_unique_payload_types: bool,
        settings: dict[str, Any],
    ) -> None:
        super().__init__(channel)
        self._server = server
        self._rtp_capabilities = rtp_capabilities
        self._force_unique_payload_types = force_unique_payload_types
        self._settings = settings
        self._peers: dict[str, peer_module.Peer] = {}
        # The receivers that receive, oldest stream first: a joining peer
        # subscribes to them without a walk over every peer of the room.
        self._streams: dict[str, RtpReceiver] = {}
        self._data_streams: dict[str, DataReceiver] = {}
        self._active_speaker: RtpReceiver | None = None
        # The pipes from and to this room (their peers are in _peers, not in peers).
        self._pipes: list[pipe_module.Pipe] = []
        channel.targets[self._id] = self
        self._created_by(
            channel.request(
                "room.create",
                {
                    "roomId": self._id,
                    "mediaCodecs": media_codecs,
                    "forceUniquePayloadTypes": force_unique_payload_types,
                    **settings,
                },
            )
        )

    def _repr_state(self) -> str:
        return f"peers={len(self.peers)} worker={self._channel.index}"

    def _repr_fields(self) -> list[tuple[str, object]]:
        speaker = self._active_speaker
        return [
            ("worker", f"{self._channel.index} (pid {self._channel.pid})"),
            ("peers", len(self.peers)),
            ("streams", len(self._streams)),
            ("pipes", len(self._pipes)),
            ("data channels", len(self._data_streams)),
            ("active speaker", f"{speaker.peer.name} ({speaker.kind})" if speaker is not None else None),
            ("codecs", [codec["mimeType"] for codec in self._rtp_capabilities["codecs"] if not codec["mimeType"].endswith("/rtx")]),
        ]

    def _repr_children(self) -> list[tuple[str, Sequence[MediasoupObject]]]:
        return [("peers", self.peers)]

    @property
    def rtpCapabilities(self) -> dict[str, Any]:
        """The room's mediasoup ``RtpCapabilities`` (a copy)."""
        return copy.deepcopy(self._rtp_capabilities)

    @property
    def forceUniquePayloadTypes(self) -> bool:
        return self._force_unique_payload_types

    @property
    def dataChannelRelay(self) -> bool:
        """Whether data channels are relayed by label between the peers."""
        return bool(self._settings["dataChannelRelay"])

    @property
    def bandwidthEstimation(self) -> bool:
        """Whether its WebRTC transports estimate the bandwidth toward their
        endpoints (simulcast senders follow it)."""
        return bool(self._settings["bandwidthEstimation"])

    @property
    def activeSpeaker(self) -> RtpReceiver | None:
        """The dominant speaker's stream, or None."""
        return self._active_speaker

    @property
    def peers(self) -> list[peer_module.Peer]:
        """The room's open peers, oldest first (not the peers of its pipes)."""
        return [peer for peer in self._peers.values() if peer._pipe_role is None]

    @property
    def pipes(self) -> list[pipe_module.Pipe]:
        """The open pipes from and to this room, oldest first."""
        return list(self._pipes)

    def Peer(self, name: str) -> peer_module.Peer:
        """A new participant named ``name`` (unique among the open peers); returned at once, awaitable."""
        self._check_open()
        if not isinstance(name, str):
            raise TypeError(f"a peer name must be a str, not {type(name).__name__}")
        if not name:
            raise ValueError("a peer name must not be empty")
        if len(name) > _mediasoup.MAX_PEER_NAME_CHARS:
            raise ValueError(
                f"a peer name has at most {_mediasoup.MAX_PEER_NAME_CHARS} characters, not {len(name)}"
            )
        if name in self._peers:
            raise ValueError(f"room {self._id} has an open peer named {name!r:.80} already")
        peer = peer_module.Peer(self, self._channel, name)
        self._peers[name] = peer
        self.emit("newpeer", peer)
        return peer

    def getPeer(self, name: str) -> peer_module.Peer | None:
        """The open peer named ``name``, or None."""
        peer = self._peers.get(name)
        return peer if peer is not None and peer._pipe_role is None else None

    async def pipeTo(
        self, room: Room, *, enableSrtp: bool = False, srtpCryptoSuite: str = "AES_CM_128_HMAC_SHA1_80"
    ) -> pipe_module.Pipe:
        """Publishes this room's streams in ``room`` (another room of this
        server, on any of its workers), and every stream published here
        later, until the pipe or either room closes: ``room``'s peers get
        senders of them as of any stream, and their keyframe requests reach
        the publishers here. The streams travel as plain RTP on loopback
        between the workers (``enableSrtp``: protected in
        ``srtpCryptoSuite``). Piping to the same room again answers the
        pipe there is; a stream piped from ``room`` is not piped back."""
        self._check_open()
        if not isinstance(room, Room):
            raise TypeError(f"pipeTo(): room must be a Room, not {type(room).__name__}")
        if room is self:
            raise ValueError("pipeTo(): a room cannot be piped to itself")
        if not isinstance(enableSrtp, bool):
            raise TypeError(f"pipeTo(): enableSrtp must be a bool, not {type(enableSrtp).__name__}")
        if srtpCryptoSuite not in SRTP_CRYPTO_SUITES:
            raise ValueError(f"pipeTo(): srtpCryptoSuite must be one of {', '.join(SRTP_CRYPTO_SUITES)}, not {srtpCryptoSuite!r:.80}")
        room._check_open()
        for existing in self._pipes:
            if existing.source is self and existing.target is room:
                # Another pipeTo() may be opening it: its outcome is this one's.
                await asyncio.shield(existing._opened)
                if existing.closed:
                    raise InvalidStateError(f"the pipe to room {room.id} closed while it was being opened")
                return existing
        pipe = pipe_module.Pipe(self, room)
        self._pipes.append(pipe)
        room._pipes.append(pipe)
        await pipe._open(enableSrtp, srtpCryptoSuite)
        self.emit("newpipe", pipe)
        room.emit("newpipe", pipe)
        return pipe

    def _pipe_peer(self, pipe_id: str, role: str, leads_to: str | None) -> peer_module.Peer:
        """The peer of pipe ``pipe_id`` in this room: its exit (subscribes to
        the streams not piped from room ``leads_to``) or its entry
        (publishes their copies)."""
        self._check_open()
        name = f"pipe {role} {pipe_id}"
        peer = peer_module.Peer(self, self._channel, name)
        peer._pipe_role = role
        peer._pipe_to = leads_to
        self._peers[name] = peer
        return peer

    def _pipe_closed(self, pipe: pipe_module.Pipe) -> None:
        if pipe in self._pipes:
            self._pipes.remove(pipe)

    def _receiver_started(self, receiver: RtpReceiver) -> None:
        """A stream is published: every other peer that can decode it gets a sender."""
        self._streams[receiver.id] = receiver
        for peer in list(self._peers.values()):
            if peer is not receiver.peer and peer.capabilities is not None:
                peer._subscribe(receiver)

    def _receiver_stopped(self, receiver: RtpReceiver) -> None:
        self._streams.pop(receiver.id, None)
        self._forget_subscriptions(receiver.id)
        if self._active_speaker is receiver:
            self._active_speaker = None

    def _receiving(self) -> list[RtpReceiver]:
        """The open receivers of the room that receive, oldest stream first."""
        return list(self._streams.values())

    def _data_receiver_started(self, receiver: DataReceiver) -> None:
        """A channel is published: every other peer with an SCTP transport gets a data sender."""
        self._data_streams[receiver.id] = receiver
        for peer in list(self._peers.values()):
            if peer is not receiver.peer:
                peer._subscribe_data(receiver)

    def _data_receiver_stopped(self, receiver: DataReceiver) -> None:
        self._data_streams.pop(receiver.id, None)
        self._forget_subscriptions(receiver.id)

    def _forget_subscriptions(self, receiver_id: str) -> None:
        for peer in self._peers.values():
            peer._subscribed.discard(receiver_id)

    def _data_receiving(self) -> list[DataReceiver]:
        return list(self._data_streams.values())

    def _on_notification(self, event: str, data: Any) -> None:
        if self._closed:
            return
        if event == "room.audioLevels":
            levels = [(self._streams[id], level) for id, level in data["levels"] if id in self._streams]
            self.emit("audiolevels", levels)
        elif event == "room.activeSpeaker":
            speaker = self._streams.get(data["rtpReceiverId"]) if data["rtpReceiverId"] else None
            if speaker is not None or data["rtpReceiverId"] is None:
                self._active_speaker = speaker
                self.emit("activespeaker", speaker)

    def _peer_closed(self, peer: peer_module.Peer) -> None:
        if self._peers.get(peer.name) is peer:
            del self._peers[peer.name]

    def _closing(self, error: BaseException | None) -> None:
        self._channel.targets.pop(self._id, None)
        for peer in list(self._peers.values()):
            peer._close(error, notify_worker=False)
        for pipe in list(self._pipes):
            pipe.close()
        self._server._room_closed(self)

    def _close_request(self) -> tuple[str, dict[str, str]]:
        return "room.close", {"roomId": self._id}

    async def dump(self) -> Dump:
        """The room as the worker holds it: id, rtpCapabilities, peers by name,
        and each published stream (``rtpReceivers``) with the senders that forward it
        (a ``dict``, shown as a table in Jupyter, its first peers only in a big room).

        A big room's dump (thousands of peers) comes from the worker in pages,
        joined here: peers that join or leave meanwhile may be missing or shown.
        """
        dump: dict[str, Any] = await self._request("room.dump", {"roomId": self._id})
        while dump["nextPeer"] is not None:
            page = await self._request("room.dump", {"roomId": self._id, "fromPeer": dump["nextPeer"]})
            dump["peers"].update(page["peers"])
            dump["rtpReceivers"].update(page["rtpReceivers"])
            dump["nextPeer"] = page["nextPeer"]
        del dump["nextPeer"]
        return Dump(dump)

    rtp_capabilities = rtpCapabilities
    data_channel_relay = dataChannelRelay
    bandwidth_estimation = bandwidthEstimation
    active_speaker = activeSpeaker
    force_unique_payload_types = forceUniquePayloadTypes
    peer = Peer
    get_peer = getPeer
    pipe_to = pipeTo
