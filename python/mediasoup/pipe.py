"""Pipes: one room's streams published in another room, on another
worker of the same server (``await room.pipeTo(otherRoom)``: a
:class:`Pipe`) or on another server (through
:mod:`mediasoup.placement`, which carries the same messages over Redis).

A pipe has two halves, each a peer its room keeps out of ``peers`` with a
plain transport, the two transports connected to each other: its
:class:`PipeExit` in the source room subscribes, like any peer, to every
stream published there (and to every one that follows) and sends them
all; its :class:`PipeEntry` in the target room publishes each as a
receiver (a copy), and the target room's peers get senders of the copies
as of any stream. RTCP runs both ways, so the target's keyframe requests
reach the publisher; a packet lost on the hop is NACKed by the entry and
sent again by the exit. The exit tells the entry of each stream it starts
or stops sending (``add`` and ``remove`` messages: plain dicts, so they can
cross a network). A copy closes with its stream; a stream that came
through a pipe from a room is not piped back to it, so rooms piped both
ways, or in a tree, carry each stream once.

The room imports this module, which sees the peers and transports it
makes as the types they are (type-checking imports only).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from ._display import Id
from ._object import MediasoupObject
from ._owners import OwningRoom

if TYPE_CHECKING:
    from .peer import Peer
    from .rtp_receiver import RtpReceiver
    from .rtp_sender import RtpSender
    from .transport import PlainTransport

_logger = logging.getLogger("mediasoup.pipe")


class PipeEnd(OwningRoom, Protocol):
    """What a pipe asks of each of its rooms."""

    def _pipe_peer(self, pipe_id: str, role: str, leads_to: str | None) -> Peer:
        """A peer of a pipe, kept out of the room's ``peers``: its ``exit``
        (which does not subscribe to streams from room ``leads_to``) or its ``entry``."""

    def _pipe_closed(self, pipe: Pipe) -> None:
        """Forgets the pipe (it closes with either room)."""


class _PipeHalf(MediasoupObject):
    """A peer of a pipe in one room, and its plain transport."""

    def __init__(self, room: PipeEnd, pipe_id: str, role: str, leads_to: str | None) -> None:
        super().__init__()
        self._room = room
        self._peer = room._pipe_peer(pipe_id, role, leads_to)
        self._transport: PlainTransport | None = None
        self._peer.on("close", self._close)

    @property
    def room(self) -> PipeEnd:
        return self._room

    async def open(self, *, enableSrtp: bool = False, srtpCryptoSuite: str = "AES_CM_128_HMAC_SHA1_80") -> dict[str, Any]:
        """Makes its transport; answers what the other half connects to:
        ``{'ip', 'port', 'roomId', 'srtpParameters'}``."""
        # The entry shares its worker's port with the other pipes' entries
        # (each told apart by its exit's address): they are read together.
        shared = self._peer._pipe_role == "entry"
        transport = await self._peer.createPlainTransport(enableSrtp=enableSrtp, srtpCryptoSuite=srtpCryptoSuite, enableNack=True, sharedPort=shared)
        self._transport = transport
        local = transport.tuple
        return {"ip": local["localIp"], "port": local["localPort"], "roomId": self._room.id, "srtpParameters": transport.srtpParameters}

    async def connect(self, remote: dict[str, Any]) -> None:
        """Connects its transport to the other half's (what its ``open`` answered)."""
        if self._transport is None:
            raise RuntimeError("connect() before open()")
        await self._transport.connect(remote["ip"], remote["port"], srtpParameters=remote.get("srtpParameters"))

    def _close(self, error: BaseException | None = None) -> None:
        if self._closed:
            return
        self._closed = True
        self._closing()
        self._peer._close(error, notify_worker=True)
        self.emit("close", error)

    def _closing(self) -> None:
        pass

    def close(self, error: BaseException | None = None) -> None:
        """Closes its peer (with ``error``: what the streams' senders close with)."""
        self._close(error)


class PipeExit(_PipeHalf):
    """The source room's half: sends every stream of the room (not those
    piped from room ``leads_to``) once connected, and calls ``on_add`` /
    ``on_remove`` with the messages the entry acts on."""

    def __init__(
        self,
        room: PipeEnd,
        pipe_id: str,
        leads_to: str,
        on_add: Callable[[dict[str, Any]], Awaitable[None]],
        on_remove: Callable[[dict[str, Any]], None],
    ) -> None:
        super().__init__(room, pipe_id, "exit", leads_to)
        self._on_add = on_add
        self._on_remove = on_remove
        self._ready = asyncio.Event()
        self._streams: dict[str, RtpReceiver] = {}
        # The streams the entry was told of (an ``add`` sent): only those get a ``remove``.
        self._announced: set[str] = set()
        self._tasks: set[asyncio.Future[None]] = set()
        self._peer.on("newrtpsender", self._on_sender)

    @property
    def streams(self) -> dict[str, RtpReceiver]:
        """``{stream id: the receiver it sends}``: what it sends now."""
        return dict(self._streams)

    async def connect(self, remote: dict[str, Any]) -> None:
        await super().connect(remote)
        self._ready.set()

    def _on_sender(self, sender: RtpSender) -> None:
        task = asyncio.ensure_future(self._forward(sender))
        self._tasks.add(task)
        task.add_done_callback(self._forwarded)

    def _forwarded(self, task: asyncio.Future[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and not self._closed:
            _logger.error("pipe exit %s: a stream could not be piped", self._id, exc_info=task.exception())

    async def _forward(self, sender: RtpSender) -> None:
        await self._ready.wait()
        if self._closed or sender.closed or self._transport is None:
            return
        original = sender.associatedRtpReceiver
        self._streams[sender.id] = original
        sender.on("close", lambda *_: self._removed(sender.id))
        await sender.setTransport(self._transport)
        if self._closed or sender.closed or sender.id not in self._streams:
            # The stream ended meanwhile: nothing to tell the entry.
            self._streams.pop(sender.id, None)
            return
        message = {
            "type": "add",
            "stream": sender.id,
            "kind": sender.kind,
            "rtpParameters": _copy_parameters(sender.rtpParameters),
            "origins": sorted(original._origins | {self._room.id}),
        }
        self._announced.add(sender.id)
        await self._on_add(message)

    def _removed(self, stream: str) -> None:
        if stream in self._announced:
            self._announced.discard(stream)
            if not self._closed:
                self._on_remove({"type": "remove", "stream": stream})
        self._streams.pop(stream, None)

    def _closing(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._streams.clear()


class PipeEntry(_PipeHalf):
    """The target room's half: publishes a copy of each stream the exit sends."""

    def __init__(self, room: PipeEnd, pipe_id: str) -> None:
        super().__init__(room, pipe_id, "entry", None)
        self._copies: dict[str, RtpReceiver] = {}

    @property
    def copies(self) -> dict[str, RtpReceiver]:
        """``{stream id: its copy}``."""
        return {stream: receiver for stream, receiver in self._copies.items() if not receiver.closed}

    async def open(self, *, enableSrtp: bool = False, srtpCryptoSuite: str = "AES_CM_128_HMAC_SHA1_80") -> dict[str, Any]:
        # The entry subscribes to nothing: its capabilities are the room's.
        await self._peer.setCapabilities(self._room.rtpCapabilities)
        return await super().open(enableSrtp=enableSrtp, srtpCryptoSuite=srtpCryptoSuite)

    async def add(self, message: dict[str, Any]) -> RtpReceiver:
        """An ``add`` message: publishes the copy of a stream."""
        if self._transport is None:
            raise RuntimeError("add() before open()")
        duplicate = self._peer.RtpReceiver(message["kind"], self._transport)
        duplicate._origins = frozenset(message["origins"])
        self._copies[message["stream"]] = duplicate
        try:
            await duplicate.receive(message["rtpParameters"])
        except Exception:
            if duplicate.closed and message["stream"] not in self._copies:
                return duplicate  # removed meanwhile: the stream ended
            self.remove({"stream": message["stream"]})
            raise
        return duplicate

    def remove(self, message: dict[str, Any]) -> None:
        """A ``remove`` message: the stream ended, its copy closes."""
        duplicate = self._copies.pop(message["stream"], None)
        if duplicate is not None:
            duplicate.close()


class Pipe(MediasoupObject):
    """The streams of ``source`` published in ``target`` (rooms of one
    server); made by ``await source.pipeTo(target)``.

    ``copies``: ``{receiver in source: its copy in target}`` (an
    :class:`~mediasoup.RtpReceiver` of the target room, whose ``peer`` is
    the pipe's entry). ``close()`` closes every copy (and the senders of
    them); it closes with either room. Events: ``newcopy(source receiver,
    copy)``, ``close(error)``.
    """

    def __init__(self, source: PipeEnd, target: PipeEnd) -> None:
        super().__init__()
        self._source = source
        self._target = target
        self._copies: dict[str, tuple[RtpReceiver, RtpReceiver]] = {}
        # Done once the pipeTo() that makes it has opened it (or failed).
        self._opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._entry = PipeEntry(target, self._id)
        self._exit = PipeExit(source, self._id, target.id, self._added, self._removed)
        for half in (self._entry, self._exit):
            half.on("close", lambda *_: self.close())

    def _repr_state(self) -> str:
        return f"{self._source.id[:8]}… → {self._target.id[:8]}… copies={len(self.copies)}"

    def _repr_fields(self) -> list[tuple[str, object]]:
        return [("source", Id(self._source.id)), ("target", Id(self._target.id)), ("copies", len(self.copies))]

    @property
    def source(self) -> PipeEnd:
        """The room whose streams it carries."""
        return self._source

    @property
    def target(self) -> PipeEnd:
        """The room they are published in."""
        return self._target

    @property
    def copies(self) -> dict[RtpReceiver, RtpReceiver]:
        """``{receiver in source: its copy in target}``, for the streams piped now."""
        return {original: duplicate for original, duplicate in self._copies.values() if not duplicate.closed}

    async def _open(self, enable_srtp: bool, srtp_crypto_suite: str) -> None:
        """Makes and connects both halves; the streams follow."""
        try:
            entry = await self._entry.open(enableSrtp=enable_srtp, srtpCryptoSuite=srtp_crypto_suite)
            exit = await self._exit.open(enableSrtp=enable_srtp, srtpCryptoSuite=srtp_crypto_suite)
            await self._entry.connect(exit)
            await self._exit.connect(entry)
        except BaseException:
            self.close()
            raise
        finally:
            self._opened.set_result(None)

    async def _added(self, message: dict[str, Any]) -> None:
        original = self._exit._streams.get(message["stream"])
        duplicate = await self._entry.add(message)
        if original is not None:
            self._copies[message["stream"]] = (original, duplicate)
            self.emit("newcopy", original, duplicate)

    def _removed(self, message: dict[str, Any]) -> None:
        self._copies.pop(message["stream"], None)
        self._entry.remove(message)

    def close(self) -> None:
        """Closes both halves: every copy and what forwards it; emits ``close`` once."""
        if self._closed:
            return
        self._closed = True
        self._copies.clear()
        self._exit.close()
        self._entry.close()
        self._source._pipe_closed(self)
        self._target._pipe_closed(self)
        self.emit("close", None)


def _copy_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """What the entry publishes a stream with: what the exit sends it with."""
    copied = copy.deepcopy(parameters)
    copied.pop("mid", None)
    return copied
