"""Room placement across servers through Redis (the extra
``mediasoup[placement]``: the ``redis`` client).

Every server registers itself (its app's address, its workers, peers and
CPU) and keeps its entry alive with a heartbeat; an entry not refreshed
within the TTL disappears, and so do the rooms assigned to it. An app
asks where a room lives, or, if nowhere yet, where it should be created:
the least loaded server with room for one more gets it, atomically, so
rooms placed at once from several processes spread evenly.

    registry = mediasoup.placement.Registry(redis.asyncio.Redis.from_url(url))
    registration = await registry.register(server, address="https://sfu-1.example/", maxRooms=50)
    where = await registry.place("lobby")             # from any process
    # on the server where["id"] names (its app at where["address"]):
    room = await registration.Room("lobby")

The keys (``prefix`` is ``"mediasoup"`` by default; times are Unix ms):

- ``{prefix}:servers``: a sorted set of server ids, each scored with the
  time its entry expires.
- ``{prefix}:server:{id}``: a hash: ``id``, ``address``, ``workers``,
  ``peers``, ``cpu`` (cores busy over the last heartbeat), ``maxRooms``
  (-1: no limit), ``startedMs``, ``updatedMs``; it expires with the TTL.
- ``{prefix}:server:{id}:rooms``: a sorted set of the names of the rooms
  assigned to the server, each scored with the time it was assigned or
  last seen open there; a room assigned but not created within the TTL
  leaves it. Its size is the server's load.
- ``{prefix}:room:{name}``: the id of the server the room is assigned to;
  it expires with the TTL unless that server's heartbeat refreshes it.
- ``{prefix}:server:{id}:pipes``: the pub/sub channel of the messages of
  pipes between servers (JSON: ``open``, ``opened``, ``connect``, ``add``,
  ``remove``, ``close``, ``error``; see docs/placement.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from .errors import InvalidStateError, PlacementError
from .pipe_relay import MAX_NAME_CHARS, PipeRelay, RemotePipe, check_name, log_failure

__all__ = ["MAX_ADDRESS_CHARS", "MAX_NAME_CHARS", "PlacementError", "Registration", "Registry", "RemotePipe"]

if TYPE_CHECKING:
    from . import room as room_module
    from .server import Server

_logger = logging.getLogger("mediasoup.placement")


# Assigns a room to the least loaded live server unless a live one has it.
# KEYS: none (the keys are named from the prefix: one Redis, not a cluster).
# ARGV: prefix, room name, now (ms), ttl (ms). Answers the server id, or false.
_PLACE = """
local prefix, name, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local servers = prefix .. ':servers'
local room_key = prefix .. ':room:' .. name
local owner = redis.call('GET', room_key)
if owner then
  local expires = redis.call('ZSCORE', servers, owner)
  if expires and tonumber(expires) > now then return owner end
end
redis.call('ZREMRANGEBYSCORE', servers, '-inf', now)
local best, best_load, best_peers = false, 0, 0
for _, id in ipairs(redis.call('ZRANGE', servers, 0, -1)) do
  local key = prefix .. ':server:' .. id
  local fields = redis.call('HMGET', key, 'workers', 'peers', 'maxRooms')
  if fields[1] then
    local rooms = redis.call('ZCARD', key .. ':rooms')
    local limit = tonumber(fields[3])
    if limit < 0 or rooms < limit then
      local load = rooms / math.max(tonumber(fields[1]), 1)
      local peers = tonumber(fields[2])
      if not best or load < best_load or (load == best_load and peers < best_peers) then
        best, best_load, best_peers = id, load, peers
      end
    end
  end
end
if not best then return false end
redis.call('SET', room_key, best, 'PX', ttl)
redis.call('ZADD', prefix .. ':server:' .. best .. ':rooms', now, name)
redis.call('PEXPIRE', prefix .. ':server:' .. best .. ':rooms', ttl)
return best
"""

# A server's heartbeat: its entry, and its rooms: those open on it
# (refreshed or claimed, unless another live server has them now: answered
# as lost), those assigned to it within the TTL (kept), the rest (assigned
# elsewhere since, or never created) dropped.
# ARGV: prefix, id, now, ttl, address, workers, peers, cpu, maxRooms, startedMs, open room names...
_HEARTBEAT = """
local prefix, id, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local key = prefix .. ':server:' .. id
local rooms = key .. ':rooms'
redis.call('HSET', key, 'id', id, 'address', ARGV[5], 'workers', ARGV[6], 'peers', ARGV[7], 'cpu', ARGV[8],
           'maxRooms', ARGV[9], 'startedMs', ARGV[10], 'updatedMs', now)
redis.call('PEXPIRE', key, ttl)
redis.call('ZADD', prefix .. ':servers', now + ttl, id)
local open, lost = {}, {}
for index = 11, #ARGV do
  local room_key = prefix .. ':room:' .. ARGV[index]
  local owner = redis.call('GET', room_key)
  local owner_expires = owner and owner ~= id and redis.call('ZSCORE', prefix .. ':servers', owner)
  if owner_expires and tonumber(owner_expires) > now then
    -- Assigned to another live server meanwhile (this one stalled past its TTL).
    table.insert(lost, ARGV[index])
  else
    open[ARGV[index]] = true
    redis.call('SET', room_key, id, 'PX', ttl)
    redis.call('ZADD', rooms, now, ARGV[index])
  end
end
for _, name in ipairs(redis.call('ZRANGE', rooms, 0, -1)) do
  if not open[name] then
    local room_key = prefix .. ':room:' .. name
    local owner = redis.call('GET', room_key)
    local assigned = tonumber(redis.call('ZSCORE', rooms, name))
    if owner ~= id or assigned <= now - ttl then
      redis.call('ZREM', rooms, name)
      if owner == id then redis.call('DEL', room_key) end
    end
  end
end
redis.call('PEXPIRE', rooms, ttl)
return lost
"""

# Claims a room for a server unless another live server has it. ARGV:
# prefix, id, name, now, ttl. Answers the owner's id.
_CLAIM = """
local prefix, id, name, now, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local room_key = prefix .. ':room:' .. name
local owner = redis.call('GET', room_key)
if owner and owner ~= id then
  local expires = redis.call('ZSCORE', prefix .. ':servers', owner)
  if expires and tonumber(expires) > now then return owner end
end
redis.call('SET', room_key, id, 'PX', ttl)
redis.call('ZADD', prefix .. ':server:' .. id .. ':rooms', now, name)
redis.call('PEXPIRE', prefix .. ':server:' .. id .. ':rooms', ttl)
return id
"""

# Forgets a room of a server (closed there), or every room and the entry of
# a server (deregistered). ARGV: prefix, id, name or ''.
_RELEASE = """
local prefix, id, name = ARGV[1], ARGV[2], ARGV[3]
local key = prefix .. ':server:' .. id
local names = {name}
if name == '' then names = redis.call('ZRANGE', key .. ':rooms', 0, -1) end
for _, room in ipairs(names) do
  local room_key = prefix .. ':room:' .. room
  if redis.call('GET', room_key) == id then redis.call('DEL', room_key) end
  redis.call('ZREM', key .. ':rooms', room)
end
if name == '' then
  redis.call('DEL', key, key .. ':rooms')
  redis.call('ZREM', prefix .. ':servers', id)
end
return 1
"""


def _now_ms() -> int:
    return int(time.time() * 1000)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Registry:
    """The servers and rooms kept in one Redis: ``redis`` is a
    ``redis.asyncio.Redis`` client (the app's; not closed here). ``ttl``
    (seconds): how long an entry outlives its last heartbeat (one every
    third of it)."""

    def __init__(self, redis: Any, *, prefix: str = "mediasoup", ttl: float = 10.0) -> None:
        if not isinstance(prefix, str) or not prefix or ":" in prefix:
            raise ValueError(f"Registry(): prefix must be a non-empty str without ':', not {prefix!r:.80}")
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 0.3 <= ttl <= 3600:
            raise ValueError(f"Registry(): ttl must be 0.3 to 3600 seconds, not {ttl!r:.80}")
        self._redis = redis
        self._prefix = prefix
        self._ttl_ms = int(ttl * 1000)
        self._place = redis.register_script(_PLACE)
        self._heartbeat = redis.register_script(_HEARTBEAT)
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)

    @property
    def prefix(self) -> str:
        return self._prefix

    @property
    def ttl(self) -> float:
        return self._ttl_ms / 1000

    def _channel(self, server_id: str) -> str:
        return f"{self._prefix}:server:{server_id}:pipes"

    async def register(self, server: Server, *, address: str, maxRooms: int | None = None) -> Registration:
        """Enters ``server`` (open) in the registry, reachable by its app at
        ``address`` (a URL, a host: what the app's clients are sent to),
        taking at most ``maxRooms`` rooms (None: no limit); its heartbeat
        starts. Answers its :class:`Registration`."""
        if server.closed:
            raise InvalidStateError("register(): the server is closed")
        if not isinstance(address, str) or not address or len(address) > MAX_ADDRESS_CHARS:
            raise ValueError(f"register(): address must be a non-empty str of at most {MAX_ADDRESS_CHARS} characters, not {address!r:.80}")
        if maxRooms is not None and (isinstance(maxRooms, bool) or not isinstance(maxRooms, int) or maxRooms < 0):
            raise ValueError(f"register(): maxRooms must be an int >= 0 or None, not {maxRooms!r:.80}")
        registration = Registration(self, server, address, maxRooms)
        await registration.refresh()
        await registration._start()
        return registration

    async def servers(self) -> list[dict[str, Any]]:
        """The live servers' entries, least loaded first: ``{'id', 'address',
        'workers', 'rooms', 'peers', 'cpu', 'maxRooms', 'startedMs',
        'updatedMs'}`` (``maxRooms`` None for no limit)."""
        now = _now_ms()
        ids = await self._redis.zrangebyscore(f"{self._prefix}:servers", now + 1, "+inf")
        entries = []
        for server_id in map(_text, ids):
            entry = await self._entry(server_id)
            if entry is not None:
                entries.append(entry)
        entries.sort(key=lambda entry: (entry["rooms"] / max(entry["workers"], 1), entry["peers"], entry["id"]))
        return entries

    async def _entry(self, server_id: str) -> dict[str, Any] | None:
        key = f"{self._prefix}:server:{server_id}"
        fields = {_text(name): _text(value) for name, value in (await self._redis.hgetall(key)).items()}
        if not fields:
            return None
        limit = int(fields["maxRooms"])
        return {
            "id": fields["id"],
            "address": fields["address"],
            "workers": int(fields["workers"]),
            "rooms": int(await self._redis.zcard(f"{key}:rooms")),
            "peers": int(fields["peers"]),
            "cpu": float(fields["cpu"]),
            "maxRooms": None if limit < 0 else limit,
            "startedMs": int(fields["startedMs"]),
            "updatedMs": int(fields["updatedMs"]),
        }

    async def locate(self, name: str) -> dict[str, Any] | None:
        """The entry of the live server room ``name`` is assigned to, or None."""
        check_name(name)
        owner = await self._redis.get(f"{self._prefix}:room:{name}")
        if owner is None:
            return None
        expires = await self._redis.zscore(f"{self._prefix}:servers", _text(owner))
        if expires is None or expires <= _now_ms():
            return None
        return await self._entry(_text(owner))

    async def place(self, name: str) -> dict[str, Any]:
        """The entry of the server room ``name`` lives on; if none has it, the
        least loaded live server with room for one more (rooms per worker,
        then peers) is assigned it, atomically. :class:`PlacementError` if
        every server is at its limit or none is registered."""
        check_name(name)
        owner = await self._place(args=[self._prefix, name, _now_ms(), self._ttl_ms])
        if not owner:
            raise PlacementError(f"no live server can take room {name!r:.80}: all are at their limit, or none is registered")
        entry = await self._entry(_text(owner))
        if entry is None:
            raise PlacementError(f"room {name!r:.80} was assigned to server {_text(owner)}, whose entry expired meanwhile")
        return entry


class Registration:
    """A server's entry in a :class:`Registry`; made by ``await
    registry.register(server, address=...)``. Its heartbeat keeps the entry
    and the server's rooms alive until :meth:`close` (or the server closes)."""

    def __init__(self, registry: Registry, server: Server, address: str, max_rooms: int | None) -> None:
        self._registry = registry
        self._server = server
        self._address = address
        self._max_rooms = max_rooms
        self._id = str(uuid.uuid4())
        self._started_ms = _now_ms()
        self._rooms: dict[str, room_module.Room] = {}
        # A room grown past its worker: its overflow rooms, by name, each
        # piped to and from the room (placement.roomForPeer).
        self._overflow: dict[str, list[room_module.Room]] = {}
        self._growing = asyncio.Lock()
        # Room(): one at a time, so two callers of one name get one room.
        self._opening = asyncio.Lock()
        self._cpu_seconds: tuple[float, float] | None = None
        self._cpu = 0.0
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        # Pipes between this server's rooms and other servers' (pipe_relay.py).
        self._relay = PipeRelay(self._id, registry, lambda: self.rooms)
        server.on("close", lambda *_: self._stop())

    @property
    def id(self) -> str:
        """The server's id in the registry (a UUID)."""
        return self._id

    @property
    def address(self) -> str:
        return self._address

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def rooms(self) -> dict[str, room_module.Room]:
        """The open rooms made by :meth:`Room`, by name."""
        return {name: room for name, room in self._rooms.items() if not room.closed}

    async def Room(self, name: str, **options: Any) -> room_module.Room:
        """The open room named ``name`` on this server, created (``server.Room(**options)``)
        if it has none and the registry assigns the room here or nowhere; it
        is this server's in the registry while open. :class:`PlacementError`
        if the room lives on another live server."""
        check_name(name)
        async with self._opening:
            return await self._open_room(name, options)

    async def _open_room(self, name: str, options: dict[str, Any]) -> room_module.Room:
        if self._closed:
            raise InvalidStateError(f"registration {self._id} is closed")
        room = self._rooms.get(name)
        if room is not None and not room.closed:
            return room
        registry = self._registry
        owner = _text(await registry._claim(args=[registry._prefix, self._id, name, _now_ms(), registry._ttl_ms]))
        if owner != self._id:
            raise PlacementError(f"room {name!r:.80} lives on server {owner}")
        room = self._server.Room(**options)
        self._rooms[name] = room
        room.on("close", lambda *_: self._room_closed(name, room))
        try:
            await room
        except BaseException:
            # Refused, or the caller cancelled: no room is left on the server that the registry does not hold.
            room.close()
            self._room_closed(name, room)
            raise
        return room

    async def roomForPeer(self, name: str, *, maxPeers: int, **options: Any) -> room_module.Room:
        """Where the next peer of room ``name`` joins, so the room grows past
        one worker: the room (:meth:`Room`) while it has fewer than
        ``maxPeers`` peers, else the overflow room with the fewest peers
        under ``maxPeers``, else a new overflow room (``server.Room(**options)``,
        on the least loaded worker) piped to and from the room. Every peer
        gets every stream published in any of them (the room is the star's
        centre: a stream is never piped back where it came from); an
        overflow room closes with the room."""
        if isinstance(maxPeers, bool) or not isinstance(maxPeers, int) or maxPeers < 1:
            raise ValueError(f"roomForPeer(): maxPeers must be an int >= 1, not {maxPeers!r:.80}")
        async with self._growing:
            room = await self.Room(name, **options)
            if len(room.peers) < maxPeers:
                return room
            overflow = [extra for extra in self._overflow.get(name, []) if not extra.closed]
            self._overflow[name] = overflow
            roomy = [extra for extra in overflow if len(extra.peers) < maxPeers]
            if roomy:
                return min(roomy, key=lambda extra: len(extra.peers))
            extra = self._server.Room(**options)
            try:
                await extra
                await room.pipeTo(extra)
                await extra.pipeTo(room)
            except BaseException:
                extra.close()
                raise
            overflow.append(extra)
            room.on("close", lambda *_: extra.close())
            return extra

    def overflowRooms(self, name: str) -> list[room_module.Room]:
        """The open overflow rooms of room ``name`` (see :meth:`roomForPeer`)."""
        return [extra for extra in self._overflow.get(name, []) if not extra.closed]

    def _room_closed(self, name: str, room: room_module.Room) -> None:
        if self._rooms.get(name) is not room:
            return
        del self._rooms[name]
        if not self._closed:
            registry = self._registry
            task = asyncio.ensure_future(registry._release(args=[registry._prefix, self._id, name]))
            task.add_done_callback(log_failure)

    async def refresh(self) -> None:
        """One heartbeat now: the entry (workers, peers, CPU) and the rooms' keys."""
        server = self._server
        workers = peers = 0
        cpu_seconds = 0.0
        if not server.closed:
            metrics = await server.getMetrics()
            for worker in metrics.values():
                if not worker.get("closed"):
                    workers += 1
                    peers += int(worker["peers"])
                    cpu_seconds += float(worker["cpuUserSeconds"]) + float(worker["cpuSystemSeconds"])
        now = time.monotonic()
        if self._cpu_seconds is not None and now > self._cpu_seconds[0]:
            self._cpu = max(0.0, (cpu_seconds - self._cpu_seconds[1]) / (now - self._cpu_seconds[0]))
        self._cpu_seconds = (now, cpu_seconds)
        registry = self._registry
        open_rooms = [name for name, room in self._rooms.items() if not room.closed]
        limit = -1 if self._max_rooms is None else self._max_rooms
        lost = await registry._heartbeat(
            args=[registry._prefix, self._id, _now_ms(), registry._ttl_ms, self._address, workers, peers,
                  round(self._cpu, 3), limit, self._started_ms, *open_rooms]
        )  # fmt: skip
        for name in map(_text, lost or []):
            _logger.warning("registration %s: room %r is another server's now (this one missed its TTL); it is no longer registered here", self._id, name)

    async def _start(self) -> None:
        await self._relay.start()
        self._task = asyncio.ensure_future(self._beat())

    async def _beat(self) -> None:
        interval = self._registry.ttl / 3
        while not self._closed:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
                await self._relay.check()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                _logger.warning("registration %s: a heartbeat failed (%s); the next in %.1f s", self._id, error, interval)

    def _stop(self) -> None:
        """Stops the heartbeat: the entry expires within the TTL. Its pipes
        close first, telling the other servers."""
        self._relay.stop()
        self._closed = True
        if self._task is not None:
            self._task.cancel()

    async def pipeTo(
        self, source: str, target: str, *, enableSrtp: bool = True, srtpCryptoSuite: str = "AES_CM_128_HMAC_SHA1_80"
    ) -> RemotePipe:
        """Publishes the streams of room ``source`` (open here, through
        :meth:`Room`) in room ``target``, wherever the registry has it: on
        another server, through a pipe whose messages cross Redis and whose
        media crosses the network between the servers' listen addresses
        (SRTP by default); here, ``room.pipeTo()``'s pipe. The pipe closes
        with either room, and when the other server leaves the registry
        (its copies' senders then close with a :class:`PlacementError`)."""
        if self._closed:
            raise InvalidStateError(f"registration {self._id} is closed")
        return await self._relay.pipe_to(source, target, enableSrtp=enableSrtp, srtpCryptoSuite=srtpCryptoSuite)

    async def close(self) -> None:
        """Leaves the registry now: the entry and the server's rooms' keys go."""
        if self._closed and self._task is None:
            return
        self._stop()
        self._task = None
        registry = self._registry
        await registry._release(args=[registry._prefix, self._id, ""])

    room = Room
    pipe_to = pipeTo
    room_for_peer = roomForPeer
    overflow_rooms = overflowRooms


#: The longest server address the registry keeps (characters).
MAX_ADDRESS_CHARS = 1024
