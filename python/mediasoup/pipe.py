"""``Pipe``: one room's streams published in another room, on another
worker of the same server (``await room.pipeTo(otherRoom)``).

A pipe is two peers the rooms keep out of their ``peers``: its *exit* in
the source room subscribes, like any peer, to every stream published
there (and to every one that follows) and sends them all on one plain
transport; its *entry* in the target room publishes each as a receiver
(a copy) on another plain transport, connected to the first: the target
room's peers get senders of the copies as of any stream. RTCP runs both
ways, so the target's keyframe requests reach the publisher. A copy closes
with its stream; a stream that came through a pipe from a room is not
piped back to it, so rooms piped both ways, or in a tree, carry each
stream once.

The room imports this module, which sees the peers and transports it
makes as the types they are (type-checking imports only).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import TYPE_CHECKING, Any, Protocol

from ._display import Id
from ._object import MediasoupObject

if TYPE_CHECKING:
    from .peer import Peer
    from .rtp_receiver import RtpReceiver
    from .rtp_sender import RtpSender
    from .transport import PlainTransport

_logger = logging.getLogger("mediasoup.pipe")


class PipeEnd(Protocol):
    """What a pipe asks of each of its rooms."""

    @property
    def id(self) -> str: ...

    @property
    def closed(self) -> bool: ...

    @property
    def rtpCapabilities(self) -> dict[str, Any]: ...

    def _pipe_peer(self, pipe: Pipe, role: str) -> Peer:
        """A peer of the pipe, kept out of the room's ``peers``."""

    def _pipe_closed(self, pipe: Pipe) -> None:
        """Forgets the pipe (it closes with either room)."""


class Pipe(MediasoupObject):
    """The streams of ``source`` published in ``target``; made by ``await
    source.pipeTo(target)``.

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
        self._ready = asyncio.Event()
        self._tasks: set[asyncio.Future[None]] = set()
        self._exit = source._pipe_peer(self, "exit")
        self._entry = target._pipe_peer(self, "entry")
        self._out: PlainTransport | None = None
        self._in: PlainTransport | None = None
        self._exit.on("newrtpsender", self._on_sender)

    def _repr_state(self) -> str:
        return f"{self._source.id[:8]}… → {self._target.id[:8]}… copies={len(self._copies)}"

    def _repr_fields(self) -> list[tuple[str, object]]:
        return [("source", Id(self._source.id)), ("target", Id(self._target.id)), ("copies", len(self._copies))]

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
        """``{receiver in source: its copy in target}``, for the streams piped so far."""
        return {original: duplicate for original, duplicate in self._copies.values()}

    async def _open(self, enable_srtp: bool, srtp_crypto_suite: str) -> None:
        """Makes and connects both transports; the streams follow."""
        try:
            await self._entry.setCapabilities(self._target.rtpCapabilities)
            self._in = await self._entry.createPlainTransport(enableSrtp=enable_srtp, srtpCryptoSuite=srtp_crypto_suite)
            self._out = await self._exit.createPlainTransport(enableSrtp=enable_srtp, srtpCryptoSuite=srtp_crypto_suite)
            tuple_in, tuple_out = self._in.tuple, self._out.tuple
            await self._out.connect(tuple_in["localIp"], tuple_in["localPort"], srtpParameters=self._in.srtpParameters)
            await self._in.connect(tuple_out["localIp"], tuple_out["localPort"], srtpParameters=self._out.srtpParameters)
        except BaseException:
            self.close()
            raise
        self._ready.set()

    def _on_sender(self, sender: RtpSender) -> None:
        task = asyncio.ensure_future(self._pipe(sender))
        self._tasks.add(task)
        task.add_done_callback(self._piped)

    def _piped(self, task: asyncio.Future[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and not self._closed:
            _logger.error("pipe %s: a stream could not be piped", self._id, exc_info=task.exception())

    async def _pipe(self, sender: RtpSender) -> None:
        """Sends one stream of the source through the pipe and publishes it in the target."""
        await self._ready.wait()
        original = sender.associatedRtpReceiver
        if self._closed or sender.closed or self._out is None or self._in is None:
            return
        await sender.setTransport(self._out)
        duplicate = self._entry.RtpReceiver(sender.kind, self._in)
        duplicate._origins = original._origins | {self._source.id}
        self._copies[sender.id] = (original, duplicate)
        sender.on("close", lambda *_: self._drop(sender.id))
        try:
            await duplicate.receive(_copy_parameters(sender.rtpParameters))
        except Exception:
            self._drop(sender.id)
            raise
        self.emit("newcopy", original, duplicate)

    def _drop(self, sender_id: str) -> None:
        """The stream ended (or could not be published): its copy closes."""
        pair = self._copies.pop(sender_id, None)
        if pair is not None:
            pair[1].close()

    def close(self) -> None:
        """Closes the pipe's peers: every copy and what forwards it; emits ``close`` once."""
        if self._closed:
            return
        self._closed = True
        self._copies.clear()
        for task in list(self._tasks):
            task.cancel()
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
