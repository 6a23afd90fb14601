"""Pipes between rooms of different servers: the halves of a pipe
(:mod:`mediasoup.pipe`) on two servers, their messages carried over Redis
pub/sub (``open``, ``opened``, ``error``, ``connect``, ``add``,
``remove``, ``close``: docs/placement.md). A :class:`PipeRelay` is the part
of a server's registration (:mod:`mediasoup.placement`) that reads its
channel, opens entries for other servers' exits and exits toward their
entries, and closes them when the other server leaves the registry.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ._object import MediasoupObject
from .errors import InvalidStateError, PlacementError
from .pipe import PipeEntry, PipeExit
from .transport import SRTP_CRYPTO_SUITES

if TYPE_CHECKING:
    from . import room as room_module

_logger = logging.getLogger("mediasoup.placement")

#: The longest room name the registry keeps (characters).
MAX_NAME_CHARS = 256


class RelayRegistry(Protocol):
    """What a relay asks of the registry: its Redis client, its TTL, where
    a server's messages go, where rooms are and which servers live."""

    _redis: Any

    @property
    def ttl(self) -> float: ...

    def _channel(self, server_id: str) -> str: ...

    async def locate(self, name: str) -> dict[str, Any] | None: ...

    async def servers(self) -> list[dict[str, Any]]: ...


class PipeRelay:
    """The pipes between server ``server_id``'s rooms (``rooms()``: the open
    ones by name) and other servers' (see the module)."""

    def __init__(self, server_id: str, registry: RelayRegistry, rooms: Callable[[], dict[str, room_module.Room]]) -> None:
        self._server_id = server_id
        self._registry = registry
        self._rooms = rooms
        self._closed = False
        self._pubsub: Any = None
        self._inbox: asyncio.Task[None] | None = None
        # This server's exits (by pipe id) and entries (by pipe id: the entry and the server its exit is on).
        self._exits: dict[str, RemotePipe] = {}
        self._entries: dict[str, tuple[PipeEntry, str]] = {}
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def start(self) -> None:
        """Subscribes to the server's channel and starts reading it."""
        await self._subscribe()
        self._inbox = asyncio.ensure_future(self._read_inbox())

    def stop(self) -> None:
        """Closes every pipe (telling the other servers), then stops reading."""
        for pipe in list(self._exits.values()):
            pipe.close()
        for entry, _ in list(self._entries.values()):
            entry.close()
        self._closed = True
        if self._inbox is not None:
            self._inbox.cancel()
        if self._pubsub is not None:
            pubsub, self._pubsub = self._pubsub, None
            asyncio.ensure_future(pubsub.aclose()).add_done_callback(log_failure)

    async def pipe_to(self, source: str, target: str, *, enableSrtp: bool, srtpCryptoSuite: str) -> RemotePipe:
        """``Registration.pipeTo`` (placement.py), which documents it."""
        check_name(source)
        check_name(target)
        if not isinstance(enableSrtp, bool):
            raise TypeError(f"pipeTo(): enableSrtp must be a bool, not {type(enableSrtp).__name__}")
        if srtpCryptoSuite not in SRTP_CRYPTO_SUITES:
            raise ValueError(f"pipeTo(): srtpCryptoSuite must be one of {', '.join(SRTP_CRYPTO_SUITES)}, not {srtpCryptoSuite!r:.80}")
        if self._closed:
            raise InvalidStateError(f"registration {self._server_id} is closed")
        room = self._rooms().get(source)
        if room is None:
            raise PlacementError(f"room {source!r:.80} is not open on this server")
        where = await self._registry.locate(target)
        if where is None:
            raise PlacementError(f"room {target!r:.80} is on no live server")
        if where["id"] == self._server_id:
            local = self._rooms().get(target)
            if local is None:
                raise PlacementError(f"room {target!r:.80} is assigned to this server but not open")
            return RemotePipe(self, room, where["id"], target, await room.pipeTo(local, enableSrtp=enableSrtp, srtpCryptoSuite=srtpCryptoSuite))
        pipe = RemotePipe(self, room, where["id"], target, None)
        self._exits[pipe.id] = pipe
        try:
            reply = await self._request(
                where["id"], {"type": "open", "pipe": pipe.id, "room": target, "enableSrtp": enableSrtp, "srtpCryptoSuite": srtpCryptoSuite}
            )
            pipe._check_open()
            exit = PipeExit(room, pipe.id, reply["entry"]["roomId"], pipe._added, pipe._removed)
            pipe._exit = exit
            exit.on("close", lambda *_: pipe.close())
            local_end = await exit.open(enableSrtp=enableSrtp, srtpCryptoSuite=srtpCryptoSuite)
            pipe._check_open()
            await self._send(where["id"], {"type": "connect", "pipe": pipe.id, "exit": local_end})
            await exit.connect(reply["entry"])
            pipe._check_open()
        except BaseException:
            pipe.close()
            raise
        return pipe

    async def _request(self, server_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """Sends ``message`` to a server and waits for its answer (``opened`` or ``error``)."""
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[message["pipe"]] = reply
        try:
            await self._send(server_id, message)
            answer = await asyncio.wait_for(reply, max(self._registry.ttl, 5.0))
        except asyncio.TimeoutError:
            raise PlacementError(f"server {server_id} did not answer about pipe {message['pipe']}") from None
        finally:
            self._replies.pop(message["pipe"], None)
        if answer["type"] == "error":
            raise PlacementError(f"server {server_id}: {answer['message']}")
        return answer

    async def _send(self, server_id: str, message: dict[str, Any]) -> None:
        await self._registry._redis.publish(self._registry._channel(server_id), json.dumps({**message, "from": self._server_id}))

    def _send_soon(self, server_id: str, message: dict[str, Any]) -> None:
        if not self._closed:
            asyncio.ensure_future(self._send(server_id, message)).add_done_callback(log_failure)

    async def _read_inbox(self) -> None:
        """The messages of pipes, one after the other (in the order each
        server sent them); after a lost connection to Redis, subscribed again
        every third of the TTL until Redis answers."""
        while not self._closed:
            try:
                if self._pubsub is None or not self._pubsub.subscribed:
                    await self._subscribe()
                # listen() ends at once, without awaiting, when nothing is subscribed.
                async for item in self._pubsub.listen():
                    if item.get("type") != "message":
                        continue
                    try:
                        await self._on_message(json.loads(item["data"]))
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        _logger.exception("registration %s: a pipe message failed", self._server_id)
                _logger.warning("registration %s: pipe messages are not subscribed; subscribing again", self._server_id)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                _logger.warning("registration %s: pipe messages lost their connection (%s); subscribing again", self._server_id, error)
            await asyncio.sleep(self._registry.ttl / 3)
            await self._drop_pubsub()

    async def _subscribe(self) -> None:
        self._pubsub = self._registry._redis.pubsub()
        await self._pubsub.subscribe(self._registry._channel(self._server_id))

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                await asyncio.shield(pubsub.aclose())  # to its end, even if stop() cancels the reader
            except Exception as error:
                _logger.debug("registration %s: closing a lost subscription: %s", self._server_id, error)

    async def _on_message(self, message: dict[str, Any]) -> None:
        kind, pipe_id = message["type"], message["pipe"]
        if kind in ("opened", "error"):
            reply = self._replies.get(pipe_id)
            if reply is not None and not reply.done():
                reply.set_result(message)
        elif kind == "open":
            await self._open_entry(message)
        elif kind == "close":
            if pipe_id in self._exits:
                self._exits[pipe_id].close()
            elif pipe_id in self._entries:
                self._entries[pipe_id][0].close()
        elif pipe_id in self._entries:
            entry = self._entries[pipe_id][0]
            if kind == "connect":
                await entry.connect(message["exit"])
            elif kind == "add":
                await entry.add(message)
            elif kind == "remove":
                entry.remove(message)

    async def _open_entry(self, message: dict[str, Any]) -> None:
        pipe_id, sender = message["pipe"], message["from"]
        room = self._rooms().get(message["room"])
        if room is None:
            await self._send(sender, {"type": "error", "pipe": pipe_id, "message": f"room {message['room']!r:.80} is not open there"})
            return
        entry = PipeEntry(room, pipe_id)
        self._entries[pipe_id] = (entry, sender)
        entry.on("close", lambda *_: self._entry_closed(pipe_id))
        try:
            local_end = await entry.open(enableSrtp=message["enableSrtp"], srtpCryptoSuite=message["srtpCryptoSuite"])
        except Exception as error:
            entry.close()
            await self._send(sender, {"type": "error", "pipe": pipe_id, "message": str(error)})
            return
        await self._send(sender, {"type": "opened", "pipe": pipe_id, "entry": local_end})

    def _entry_closed(self, pipe_id: str) -> None:
        pair = self._entries.pop(pipe_id, None)
        if pair is not None:
            self._send_soon(pair[1], {"type": "close", "pipe": pipe_id})

    def _exit_closed(self, pipe: RemotePipe) -> None:
        if self._exits.pop(pipe.id, None) is not None:
            self._send_soon(pipe.targetServer, {"type": "close", "pipe": pipe.id})

    async def check(self) -> None:
        """Pipes to or from a server that left the registry close."""
        servers = {entry["id"] for entry in await self._registry.servers()}
        for pipe_id, (entry, sender) in list(self._entries.items()):
            if sender not in servers:
                self._entries.pop(pipe_id, None)
                entry.close(PlacementError(f"server {sender}, the source of pipe {pipe_id}, left the registry"))
        for pipe in list(self._exits.values()):
            if pipe.targetServer not in servers:
                pipe.close()


class RemotePipe(MediasoupObject):
    """A pipe from a room of this server to a room of another (or, when the
    registry has both here, ``room.pipeTo()``'s :class:`~mediasoup.Pipe`);
    made by ``await registration.pipeTo(source, target)``. ``streams``:
    the receivers it sends; ``close()``; event ``close(error)``."""

    def __init__(self, relay: PipeRelay, room: room_module.Room, target_server: str, target: str, local: Any) -> None:
        super().__init__()
        self._relay = relay
        self._room = room
        self._target_server = target_server
        self._target = target
        self._exit: PipeExit | None = None
        self._local = local
        if local is not None:
            self._id = local.id
            local.on("close", lambda *_: self.close())

    @property
    def room(self) -> room_module.Room:
        """The room whose streams it carries."""
        return self._room

    def _check_open(self) -> None:
        if self._closed:
            raise PlacementError(f"pipe {self._id} closed while it was opening (the other room closed)")

    @property
    def target(self) -> str:
        """The name of the room they are published in."""
        return self._target

    @property
    def targetServer(self) -> str:
        """The id of the server that room is on."""
        return self._target_server

    @property
    def streams(self) -> list[Any]:
        """The receivers of the room it sends now."""
        if self._local is not None:
            return list(self._local.copies)
        return list(self._exit.streams.values()) if self._exit is not None else []

    async def _added(self, message: dict[str, Any]) -> None:
        await self._relay._send(self._target_server, {**message, "pipe": self._id})

    def _removed(self, message: dict[str, Any]) -> None:
        self._relay._send_soon(self._target_server, {**message, "pipe": self._id})

    def close(self) -> None:
        """Closes the pipe: its copies in the other room close."""
        if self._closed:
            return
        self._closed = True
        if self._local is not None:
            self._local.close()
        if self._exit is not None:
            self._exit.close()
        self._relay._exit_closed(self)
        self.emit("close", None)

    target_server = targetServer


def check_name(name: object) -> None:
    """A room name: a non-empty str of at most MAX_NAME_CHARS characters."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a room name must be a non-empty str, not {name!r:.80}")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"a room name has at most {MAX_NAME_CHARS} characters, not {len(name)}")


def log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _logger.warning("placement: a request to Redis failed: %s", task.exception())
