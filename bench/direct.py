"""Python in the media path: what one Python process takes from the worker
through direct transports, and what it costs. The worker and the load
generator share one core, this process has the other.

    unshare -n sh -c "ip link set lo up && .venv/bin/python -m bench.direct raw [--sizes 10,100,1000] [--api event|iterator] [--duration 10] [--profile FILE] [--perf FILE] [--json FILE]"
    unshare -n sh -c "ip link set lo up && .venv/bin/python -m bench.direct decode|encode|aiortc [--sizes 25,50,100] [--ramp] [--duration 10]"

- raw: one load-generator publisher (VP8 100 packets/s, Opus-sized audio
  50/s) and N Python peers, each a direct transport taking both streams:
  150 N packets/s into Python, read with `sender.on('rtp')` (or
  `sender.packets()`). Per N: packets/s that arrived, loss %, this
  process's CPU % and µs per packet, the worker's CPU %, latency p50/p99
  (the payload trailer's send time → the listener), packets the worker
  dropped (`packetsDropped`) and the iterators' drops.
- decode: N `RemoteTrack`s of a clip publisher's real Opus (N peers), each
  read by a task; in real time while every track decodes ≥ 95 % of 50
  frames/s and the CPU is under 99 %. aiortc: the same with N pymediasoup
  (aiortc) consumers over WebRTC in this process instead.
- encode: N `TrackPublisher`s of numpy tones on one direct transport; in
  real time while each sends ≥ 95 % of 50 packets/s.

The trailer's send time is nanoseconds since the load generator started,
on CLOCK_MONOTONIC: its origin is taken as the smallest arrival − send of
a 2 s phase with the first size, so latency is counted above that floor
(the fastest packet counts as 0; bench/run measures the floor of a whole
round trip through the worker at 0.25 ms p50).
"""

from __future__ import annotations

import argparse
import array
import asyncio
import cProfile
import fractions
import io
import json
import os
import pstats
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy

import mediasoup

from .clip import write as write_clip
from .loadgen import Loadgen, cpu_seconds, pin
from .ours import Ours
from .relay import CLIP

RATE = 50  # Opus frames (packets) a second
REAL_TIME = 0.95
TRAILER = numpy.dtype([("marker", "S4"), ("sequence", ">u4"), ("sent", ">u8")])


class Setup:
    """The worker and the load generator (pinned together), a publisher, this process on the other core."""

    def __init__(self, clip: str | None = None, pinned: bool = True) -> None:
        self.clip = clip
        self.pinned = pinned
        self.peers = 0

    async def __aenter__(self) -> Setup:
        from .run import cores

        worker_core, own_core = cores() if self.pinned else (None, None)
        self.loadgen = await Loadgen.start(threads=1, cpu=worker_core)
        self.sfu = Ours(self.loadgen, worker_core)
        await self.sfu.start()
        await self.sfu.add_publisher(self.loadgen, "publisher", clip=self.clip)
        self.room: mediasoup.Room = self.sfu.room  # type: ignore[assignment]
        pin(os.getpid(), own_core)  # for good: a benchmark's process
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.sfu.close()
        await self.loadgen.close()

    async def peer(self) -> tuple[mediasoup.Peer, mediasoup.DirectTransport]:
        self.peers += 1
        peer = await self.room.Peer(f"python-{self.peers - 1}")
        return peer, await peer.createDirectTransport()

    async def window(self, duration: float) -> dict[str, float]:
        """CPU seconds of this process and of the worker over `duration`, and the seconds it lasted."""
        own, worker, started = cpu_seconds(os.getpid()), cpu_seconds(self.sfu.pid), time.perf_counter()
        await asyncio.sleep(duration)
        elapsed = time.perf_counter() - started
        return {"python": cpu_seconds(os.getpid()) - own, "worker": cpu_seconds(self.sfu.pid) - worker, "elapsed": elapsed}


async def grow(count: int, make: Callable[[], Awaitable[Any]], batch: int = 50) -> None:
    for start in range(0, count, batch):
        await asyncio.gather(*(make() for _ in range(min(batch, count - start))))


class Arrivals:
    """What the listener keeps of each packet: the arrival time and the trailer (no objects for the GC)."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.times = array.array("q")
        self.trailers = bytearray()

    def record(self, packet: bytes) -> None:
        self.times.append(time.monotonic_ns())
        self.trailers += packet[-16:]

    def arrays(self) -> tuple[numpy.ndarray, numpy.ndarray]:
        """Copies: a view would lock the buffers, and packets still arrive (an append would raise)."""
        return numpy.array(self.times, dtype=numpy.int64), numpy.frombuffer(bytes(self.trailers), TRAILER)


def window_figures(arrivals: Arrivals, origin: int, start: int, end: int, subscribers: int) -> dict[str, Any]:
    """Loss and latency of the packets sent in [start, end) (this process's monotonic ns)."""
    times, trailers = arrivals.arrays()
    sent = trailers["sent"].astype(numpy.int64) + origin
    inside = (sent >= start) & (sent < end)
    expected = 0
    for marker in (b"MSBV", b"MSBA"):
        sequences = trailers["sequence"][inside & (trailers["marker"] == marker)]
        if len(sequences):
            expected += (int(sequences.max()) - int(sequences.min()) + 1) * subscribers
    latency = (times - sent)[inside] / 1000
    received = int(inside.sum())
    return {"arrivedInWindow": int(((times >= start) & (times < end)).sum()),
            "lossPercent": 100 * (1 - received / expected) if expected else None,
            "latencyMicros": {q: round(float(numpy.percentile(latency, p)), 1) if received else None
                              for q, p in (("p50", 50), ("p99", 99), ("max", 100))}}


async def worker_drops(directs: list[mediasoup.DirectTransport]) -> int:
    stats = await asyncio.gather(*(direct.getStats() for direct in directs))
    return sum(entry["packetsDropped"] for entries in stats for entry in entries if entry["type"] == "direct-transport")


async def raw(sizes: list[int], duration: float, api: str = "event", profile: str | None = None,
              perf: str | None = None, pinned: bool = True) -> list[dict[str, Any]]:
    arrivals = Arrivals()
    directs: list[mediasoup.DirectTransport] = []
    iterators: list[Any] = []
    readers: list[asyncio.Future[None]] = []
    rows: list[dict[str, Any]] = []

    async def drain(packets: Any) -> None:
        async for packet in packets:
            arrivals.record(packet)

    async def add() -> None:
        peer, direct = await setup.peer()
        directs.append(direct)
        for sender in peer.rtpSenders:
            if api == "event":
                sender.on("rtp", arrivals.record)
            else:
                iterators.append(sender.packets(queueSize=1024))
                readers.append(asyncio.ensure_future(drain(iterators[-1])))
            await sender.setTransport(direct)

    async with Setup(pinned=pinned) as setup:
        origin: int | None = None
        for size in sizes:
            await grow(size - len(directs), add)
            await asyncio.sleep(2.0 if origin is None else max(1.0, size / 200))  # the backlog of the joins drained
            if origin is None:
                times, trailers = arrivals.arrays()
                origin = int((times - trailers["sent"].astype(numpy.int64)).min())
            dropped = await worker_drops(directs), sum(iterator.dropped for iterator in iterators)
            last = size == sizes[-1]
            profiler = cProfile.Profile() if profile and last else None
            recorder = await _perf(os.getpid(), setup.sfu.cpu, duration, perf) if perf and last else None
            arrivals.clear()
            start = time.monotonic_ns()
            if profiler:
                profiler.enable()
            cpu = await setup.window(duration)
            if profiler:
                profiler.disable()
            end = time.monotonic_ns()
            await asyncio.sleep(1.0)  # what was sent last arrives
            if recorder:
                await recorder.wait()
            figures = window_figures(arrivals, origin, start, end, size)
            arrived = figures.pop("arrivedInWindow")
            rows.append({"mode": "raw", "api": api, "subscribers": size, "offeredPerSecond": 150 * size,
                         "arrivedPerSecond": arrived / cpu["elapsed"], **figures,
                         "pythonCpuPercent": 100 * cpu["python"] / cpu["elapsed"],
                         "pythonMicrosPerPacket": 1e6 * cpu["python"] / arrived if arrived else None,
                         "workerCpuPercent": 100 * cpu["worker"] / cpu["elapsed"],
                         "droppedInWorker": await worker_drops(directs) - dropped[0],
                         "droppedInIterators": sum(iterator.dropped for iterator in iterators) - dropped[1],
                         "profiled": bool(profiler or recorder)})
            print(json.dumps(rows[-1]), flush=True)
            if profiler:
                _write_profile(profiler, profile)  # type: ignore[arg-type]
        for reader in readers:
            reader.cancel()
    return rows


async def _perf(pid: int, cpu: int | None, duration: float, path: str) -> asyncio.subprocess.Process:
    """perf on this process's window, itself on the worker's core (not on the one it measures)."""
    command = ["perf", "record", "-q", "-e", "cpu-clock", "-g", "-o", path, "-p", str(pid), "--", "sleep", str(duration)]
    return await asyncio.create_subprocess_exec(*(["taskset", "-c", str(cpu)] if cpu is not None else []), *command,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


def _write_profile(profiler: cProfile.Profile, path: str) -> None:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    with open(path, "w") as file:
        file.write(out.getvalue())


async def ramp(mode: str, sizes: list[int], duration: float, keep_going: bool, pinned: bool = True) -> list[dict[str, Any]]:
    """decode, aiortc (decoding over WebRTC) or encode: N streams at a time, more until real time is lost."""
    from mediasoup import media

    clip = str(await asyncio.to_thread(write_clip, CLIP)) if mode != "encode" else None
    counters: list[Any] = []  # per stream: a RemoteTrack, a [frames] box or a TrackPublisher
    tasks: list[asyncio.Future[Any]] = []
    clients: list[Any] = []
    rows: list[dict[str, Any]] = []

    async def read(track: Any, box: list[int] | None = None) -> None:
        while True:
            try:
                await track.recv()
            except Exception:
                return
            if box is not None:
                box[0] += 1

    async def add_remote_track() -> None:
        peer, direct = await setup.peer()
        sender = next(sender for sender in peer.rtpSenders if sender.kind == "audio")
        track = await media.subscribe(sender, direct)
        counters.append(track)
        tasks.append(asyncio.ensure_future(read(track)))

    async def add_aiortc() -> None:
        from tests.clients import MediasoupClient

        clients.append(None)
        peer = await setup.room.Peer(f"aiortc-{len(clients) - 1}")
        client = clients[-1] = MediasoupClient(setup.room, peer)
        await client.load()
        await peer.setCapabilities(client.device.rtpCapabilities.model_dump(exclude_none=True))
        transport = await peer.createTransport(tcp=False)
        sender = next(sender for sender in peer.rtpSenders if sender.kind == "audio")
        await sender.setTransport(transport)
        consumer = await client._client_transport(transport, "recv").consume(
            id=sender.id, producerId=sender.associatedRtpReceiver.id, kind="audio", rtpParameters=sender.rtpParameters)
        box = [0]
        counters.append(box)
        tasks.append(asyncio.ensure_future(read(consumer.track, box)))

    async def add_publisher() -> None:
        assert publishing is not None
        counters.append(await media.publish(publishing, Tone(220 + 10 * len(counters))))

    def count(counter: Any) -> int:
        if isinstance(counter, list):
            return counter[0]
        return counter.packetsSent if mode == "encode" else counter.framesDecoded

    if mode == "aiortc":
        _aioice_loopback()
    add = {"decode": add_remote_track, "aiortc": add_aiortc, "encode": add_publisher}[mode]
    async with Setup(clip, pinned) as setup:
        publishing = (await setup.peer())[1] if mode == "encode" else None
        sizes = list(sizes)
        while sizes:
            size = sizes.pop(0)
            await grow(size - len(counters), add, batch=10 if mode == "aiortc" else 50)
            await asyncio.sleep(3.0)  # decoders and pacers settled
            before = [count(counter) for counter in counters]
            cpu = await setup.window(duration)
            rates = [(count(counter) - was) / cpu["elapsed"] for counter, was in zip(counters, before)]
            python = 100 * cpu["python"] / cpu["elapsed"]
            real_time = min(rates) >= REAL_TIME * RATE and python < 99
            rows.append({"mode": mode, "streams": size, "perStreamMean": sum(rates) / len(rates), "perStreamMin": min(rates),
                         "pythonCpuPercent": python, "pythonMicrosPerFrame": 1e6 * cpu["python"] / max(1, sum(rates) * cpu["elapsed"]),
                         "workerCpuPercent": 100 * cpu["worker"] / cpu["elapsed"], "realTime": real_time,
                         "packetsLost": sum(counter.jitterBuffer.packetsLost for counter in counters if hasattr(counter, "jitterBuffer"))})
            print(json.dumps(rows[-1]), flush=True)
            if not real_time:
                break
            if keep_going and not sizes:
                sizes.append(size * 2)
        for task in tasks:
            task.cancel()
        for counter in counters:
            if hasattr(counter, "stop"):
                counter.stop()
        await asyncio.gather(*(client.close() for client in clients if client), return_exceptions=True)
    return rows


class Tone:
    """An aiortc-style audio track of a sine tone: 20 ms frames as fast as asked (the publisher paces)."""

    kind = "audio"

    def __init__(self, frequency: float) -> None:
        self.frequency = frequency
        self.pts = 0

    async def recv(self) -> Any:
        import av

        t = (numpy.arange(960) + self.pts) / 48_000
        mono = (8000 * numpy.sin(2 * numpy.pi * self.frequency * t)).astype(numpy.int16)
        frame = av.AudioFrame.from_ndarray(numpy.repeat(mono, 2).reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = 48_000, self.pts, fractions.Fraction(1, 48_000)
        self.pts += 960
        return frame


def _aioice_loopback() -> None:
    """aioice never offers loopback on its own (and the namespace has only loopback)."""
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]  # type: ignore[assignment]


def table(rows: list[dict[str, Any]]) -> str:
    if rows and rows[0]["mode"] == "raw":
        lines = ["| API | subscribers | offered pkt/s | arrived pkt/s | loss % | Python CPU % | Python µs/pkt | worker CPU % | latency p50 / p99 / max ms | dropped in worker / iterators |",
                 "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
        for row in rows:
            latency = row["latencyMicros"]
            ms = " / ".join(f"{latency[q] / 1000:.2f}" if latency[q] is not None else "–" for q in ("p50", "p99", "max"))
            lines.append(f"| {row['api']}{' (profiled)' if row['profiled'] else ''} | {row['subscribers']:,} | {row['offeredPerSecond']:,} | "
                         f"{row['arrivedPerSecond']:,.0f} | {row['lossPercent']:.3f} | {row['pythonCpuPercent']:.0f} | "
                         f"{row['pythonMicrosPerPacket'] or 0:.2f} | {row['workerCpuPercent']:.0f} | {ms} | "
                         f"{row['droppedInWorker']:,} / {row['droppedInIterators']:,} |")
        return "\n".join(lines)
    lines = ["| mode | streams | per stream mean / min (of 50/s) | Python CPU % | Python µs per frame | worker CPU % | real time |",
             "|---|---:|---|---:|---:|---:|---|"]
    lines += [f"| {row['mode']} | {row['streams']} | {row['perStreamMean']:.1f} / {row['perStreamMin']:.1f} | {row['pythonCpuPercent']:.0f} | "
              f"{row['pythonMicrosPerFrame']:.0f} | {row['workerCpuPercent']:.0f} | {'yes' if row['realTime'] else '**no**'} |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["raw", "decode", "encode", "aiortc"])
    parser.add_argument("--sizes", help="N, comma-separated (raw: 10,100,1000; decode/encode: 25,50,100; aiortc: 5,10,20)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per size")
    parser.add_argument("--api", choices=["event", "iterator"], default="event", help="raw: sender.on('rtp') or sender.packets()")
    parser.add_argument("--ramp", action="store_true", help="decode/encode/aiortc: double past the last size until real time is lost")
    parser.add_argument("--profile", help="raw: cProfile this process during the last size's window, the top functions into this file")
    parser.add_argument("--perf", help="raw: perf record -g this process during the last size's window, into this file")
    parser.add_argument("--json", help="also write the rows to this file")
    options = parser.parse_args()
    default = {"raw": "10,100,1000", "aiortc": "5,10,20"}.get(options.mode, "25,50,100")
    sizes = [int(size) for size in (options.sizes or default).split(",")]
    if options.mode == "raw":
        rows = asyncio.run(raw(sizes, options.duration, options.api, options.profile, options.perf))
    else:
        rows = asyncio.run(ramp(options.mode, sizes, options.duration, options.ramp))
    print(table(rows))
    if options.json:
        with open(options.json, "w") as out:
            json.dump(rows, out, indent=2)


if __name__ == "__main__":
    main()
