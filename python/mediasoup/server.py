"""``mediasoup.Server``: the worker processes of the seed, and their rooms.

The server starts one worker process per ``numWorkers`` and holds the
:class:`~mediasoup._channel.Channel` to each; it replaces a worker that dies
and places each new room on the least loaded one. It owns the rooms and
imports room.py; no object module imports this one (see _owners.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Generator, Mapping, Sequence
from typing import Any

from . import _mediasoup
from . import room as room_module
from ._channel import Channel
from ._display import Dump
from ._futures import ignore_outcome
from ._object import MediasoupObject
from ._options import merge_options, pick_options
from .errors import InvalidStateError, MediasoupError

__all__ = ["Server"]

_logger = logging.getLogger("mediasoup.server")

# Room() options beyond the codecs, with their defaults: the worker's.
ROOM_SETTINGS: dict[str, Any] = dict(_mediasoup.ROOM_SETTINGS)

# Delays between attempts to replace a worker that keeps dying at startup.
_RESPAWN_MIN_DELAY = 0.5
_RESPAWN_MAX_DELAY = 30.0


class Server(MediasoupObject):
    """Runs and manages the worker processes that handle the media.

    ``Server(options=None, **options)``: options as a dict, as keywords, or
    both, in camelCase (the seed's names) or snake_case. Created inside a
    running asyncio loop; returns at once, and ``await server`` waits until
    every worker is up (raising the startup error if one could not start).

    Events: ``close(error)``, ``newroom(room)``, ``workerdied(workerId, error)``.
    """

    def __init__(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        super().__init__()
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "mediasoup.Server() must be created inside a running asyncio event loop "
                "(for example in an async function run by asyncio.run())"
            ) from None
        self._settings = _mediasoup.ServerSettings(merge_options("mediasoup.Server()", options, kwargs))
        # Reading the certificate files (or generating a key) blocks: a thread
        # does it, and `await server` raises what it found wrong.
        self._certificate: asyncio.Future[None] = self._loop.run_in_executor(None, self._settings.load_certificate)
        ignore_outcome(self._certificate)
        self._rooms: dict[str, room_module.Room] = {}
        # The Channel to each worker, at its index (its port sub-range).
        self._channels: list[Channel] = []
        # The rooms of each worker, at its index: a replacement worker takes
        # its predecessor's index once the predecessor's rooms have closed.
        self._rooms_of_worker: list[dict[str, room_module.Room]] = []
        self._startup: asyncio.Future[Server] | None = None
        try:
            for index in range(self._settings.num_workers):
                self._channels.append(self._start_worker(index))
                self._rooms_of_worker.append({})
        except BaseException:
            for channel in self._channels:
                channel.close()
            raise
        # The first workers: the startup waits for each of them.
        self._first_channels = tuple(self._channels)
        self._startup = asyncio.ensure_future(self._start())
        ignore_outcome(self._startup)

    def _start_worker(self, index: int) -> Channel:
        return Channel(index, self._settings, self._certificate, self._worker_died)

    async def _start(self) -> Server:
        try:
            await asyncio.gather(*(channel.ready for channel in self._first_channels))
        except Exception as error:
            self._close(error)
            raise
        except asyncio.CancelledError:
            self._close(MediasoupError("the server's startup was cancelled"))
            raise
        _logger.debug("server %s: %d workers up", self._id, len(self._channels))
        return self

    def __await__(self) -> Generator[Any, None, Server]:
        assert self._startup is not None  # set by __init__
        # Shielded: a caller that stops waiting (asyncio.wait_for, a
        # timeout) leaves the startup running, the server still its to close.
        return asyncio.shield(self._startup).__await__()

    async def __aenter__(self) -> Server:
        try:
            return await self
        except BaseException:
            # `async with` never reaches __aexit__ when entering fails or is cancelled.
            self.close()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def _repr_state(self) -> str:
        return f"workers={len(self._channels)} rooms={len(self._rooms)}"

    def _repr_fields(self) -> list[tuple[str, object]]:
        settings = self._settings.dump()
        listen = [settings[name] for name in ("rtcListenIPv4", "rtcListenIPv6") if settings[name]]
        return [
            ("workers", len(self._channels)),
            ("worker pids", [channel.pid for channel in self._channels if not channel.closed]),
            ("rooms", len(self._rooms)),
            ("peers", sum(len(room._peers) for room in self._rooms.values())),
            ("listen", listen),
            ("ports", f"{settings['rtcMinPort']}–{settings['rtcMaxPort']}"),
            ("logLevel", settings["logLevel"]),
        ]

    def _repr_children(self) -> list[tuple[str, Sequence[MediasoupObject]]]:
        return [("rooms", self.rooms)]

    @property
    def rooms(self) -> list[room_module.Room]:
        """The open rooms, oldest first."""
        return list(self._rooms.values())

    def close(self) -> None:
        """Closes the rooms, then the workers; emits ``close`` once. Idempotent."""
        self._close(None)

    def _close(self, error: BaseException | None) -> None:
        if self._closed:
            return
        self._closed = True
        for room in list(self._rooms.values()):
            room._close(error, notify_worker=False)
        for channel in self._channels:
            channel.close()
        if error is not None:
            _logger.error("server %s closed: %s", self._id, error)
        self.emit("close", error)

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidStateError(f"server {self._id} is closed")

    async def dump(self) -> Dump:
        """The server's state: its resolved settings, workers and rooms (a
        ``dict``, shown as a table in Jupyter)."""
        self._check_open()
        await asyncio.shield(self._certificate)
        channels = list(self._channels)
        dumps = await asyncio.gather(*(channel.dump() for channel in channels))
        return Dump(
            id=self._id,
            closed=self._closed,
            settings=self._settings.dump(),
            dtlsFingerprints=self._settings.dtls_fingerprints,
            workers={channel.id: {"index": channel.index, **dump} for channel, dump in zip(channels, dumps)},
            rooms=list(self._rooms),
        )

    async def getMetrics(self) -> Dump:
        """What each worker holds, moved and uses, by worker id (see
        docs/server.md, "Metrics"): cheap enough to ask every few seconds;
        :mod:`mediasoup.metrics` exports it to Prometheus."""
        self._check_open()
        await asyncio.shield(self._certificate)
        channels = list(self._channels)
        metrics = await asyncio.gather(*(channel.metrics() for channel in channels))
        return Dump({channel.id: {"index": channel.index, **worker} for channel, worker in zip(channels, metrics)})

    async def updateSettings(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        """Changes settings of the running workers; only ``logLevel`` can change."""
        self._check_open()
        where = "updateSettings()"
        merged = merge_options(where, options, kwargs)
        server_options = [name for name, *_ in _mediasoup.SERVER_OPTIONS]
        picked = pick_options(where, merged, server_options)
        fixed = [name for name in picked if name != "logLevel"]
        if fixed:
            raise ValueError(f"{where} can change logLevel only, not {', '.join(fixed)}")
        if "logLevel" not in picked:
            return
        self._settings.set_log_level(picked["logLevel"])
        level = self._settings.log_level
        # A dead worker's replacement starts with the new level already.
        await asyncio.gather(
            *(
                channel.request("worker.updateSettings", {"logLevel": level})
                for channel in self._channels
                if not channel.closed
            )
        )

    def Room(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> room_module.Room:
        """Creates a room on the least loaded worker; returns at once, awaitable.

        Options: ``mediaCodecs`` (mediasoup ``RtpCodecCapability`` dicts; default
        opus, VP8, VP9, H264, AV1), ``forceUniquePayloadTypes`` (bool, False),
        ``dataChannelRelay`` (bool, True: data channels relayed by label
        between the peers), ``audioLevelInterval`` (ms between ``audiolevels``
        events, 500; 100 to 60,000), ``audioLevelThreshold`` (dBov under
        which audio is silence, -60; -127 to 0) and ``bandwidthEstimation``
        (bool, False: each WebRTC transport estimates the bandwidth toward its
        endpoint and its simulcast senders follow it; it costs about 3× the
        CPU per forwarded packet, see docs/simulcast.md).
        """
        self._check_open()
        where = "Room()"
        names = ["mediaCodecs", "forceUniquePayloadTypes", *ROOM_SETTINGS]
        picked = pick_options(where, merge_options(where, options, kwargs), names)
        force_unique = picked.get("forceUniquePayloadTypes")
        if force_unique is None:
            force_unique = False
        if not isinstance(force_unique, bool):
            raise TypeError(f"forceUniquePayloadTypes must be a bool, not {type(force_unique).__name__}")
        settings = dict(ROOM_SETTINGS)
        for name, default in ROOM_SETTINGS.items():
            value = picked.get(name)
            if value is None:
                continue
            if type(value) is not type(default):
                raise TypeError(f"{name} must be {type(default).__name__}, not {type(value).__name__}")
            settings[name] = value
        low, high = _mediasoup.AUDIO_LEVEL_INTERVAL_MS
        if not low <= settings["audioLevelInterval"] <= high:
            raise ValueError(f"audioLevelInterval is in milliseconds, {low} to {high}, not {settings['audioLevelInterval']}")
        if not -127 <= settings["audioLevelThreshold"] <= 0:
            raise ValueError(f"audioLevelThreshold is in dBov, -127 to 0, not {settings['audioLevelThreshold']}")
        media_codecs = picked.get("mediaCodecs")
        rtp_capabilities = _mediasoup.room_rtp_capabilities(media_codecs)
        candidates = [channel for channel in self._channels if not channel.closed]
        if not candidates:
            raise InvalidStateError(f"server {self._id} has no running worker")
        channel = min(candidates, key=lambda candidate: len(self._rooms_of_worker[candidate.index]))
        room = room_module.Room(self, channel, rtp_capabilities, media_codecs, force_unique, settings)
        self._rooms[room.id] = room
        self._rooms_of_worker[channel.index][room.id] = room
        self.emit("newroom", room)
        return room

    def _room_closed(self, room: room_module.Room) -> None:
        self._rooms.pop(room.id, None)
        for rooms in self._rooms_of_worker:
            rooms.pop(room.id, None)

    def _worker_died(self, channel: Channel, error: MediasoupError) -> None:
        if self._closed:
            return
        came_up = channel.ready.done() and not channel.ready.cancelled() and channel.ready.exception() is None
        if not came_up and channel in self._first_channels and (self._startup is None or not self._startup.done()):
            # A first worker that dies before it came up fails the startup,
            # which closes the server with the error (see _start). One that
            # came up and died while others start is replaced, and so is a
            # replacement that dies before it came up.
            return
        _logger.error("server %s: %s; starting a replacement", self._id, error)
        for room in list(self._rooms_of_worker[channel.index].values()):
            room._close(error, notify_worker=False)
        if self._closed:
            return  # a listener of a room's close closed the server
        self.emit("workerdied", channel.id, error)
        # A replacement that dies before it came up is retried with a growing
        # delay, so a worker that cannot start does not spin the host.
        delay = 0.0 if came_up else min(_RESPAWN_MAX_DELAY, max(_RESPAWN_MIN_DELAY, channel.respawn_delay * 2))
        self._loop.call_later(delay, self._replace_worker, channel, delay)

    def _replace_worker(self, channel: Channel, delay: float) -> None:
        if self._closed or channel not in self._channels:
            return
        try:
            replacement = self._start_worker(channel.index)
        except Exception as spawn_error:
            _logger.error("server %s: cannot start a replacement worker: %s", self._id, spawn_error)
            retry = min(_RESPAWN_MAX_DELAY, max(_RESPAWN_MIN_DELAY, delay * 2))
            self._loop.call_later(retry, self._replace_worker, channel, retry)
            return
        replacement.respawn_delay = delay
        self._channels[self._channels.index(channel)] = replacement
        replacement.ready.add_done_callback(lambda ready: self._replacement_ready(replacement, ready))

    def _replacement_ready(self, channel: Channel, ready: asyncio.Future[Any]) -> None:
        """A replacement whose process runs but refused ``worker.init`` (its
        port taken meanwhile, say) serves nothing: it is closed and replaced
        as one that died, rather than taking every new room and failing it."""
        if ready.cancelled() or ready.exception() is None or channel.closed or self._closed:
            return
        channel.close()
        self._worker_died(channel, MediasoupError(f"worker {channel.pid} could not start: {ready.exception()}"))

    update_settings = updateSettings
    get_metrics = getMetrics
    room = Room
