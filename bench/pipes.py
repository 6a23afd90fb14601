"""What a pipe costs, and how one publisher's audience spreads over
workers: the load generator's publisher (VP8 ≈ 100 packets/s and Opus 50
packets/s, real ICE, DTLS and SRTP) in room 0 on worker 0, its
subscribers in rooms piped from it on other workers (room.pipeTo, plain
RTP on loopback), CPU time read from /proc for every worker.

- hop: the publisher's room with K subscribers, against the same room
  piped to K empty rooms (on both workers of a two-worker server), in
  alternate runs (A/B/A/B: this machine's CPU time moves ±20 % from run
  to run): K copies either way, so a pipe hop's cost per packet (its
  exit's send and its entry's receive) stands beside a subscriber's cost
  per copy, each measured K times over. Then the latency one hop adds:
  N subscribers behind a pipe against N in the publisher's room.
- scale: N subscribers spread evenly over W rooms, one per worker, room 0
  piped to the others, for W = 1, 2, 4: CPU per copy as workers are added
  (linear: the same per copy whatever W).

    python -m bench.pipes                        # K = N = 100, 10 s windows, two rounds
    python -m bench.pipes --subscribers 200 --workers 1,2,4 --rounds 3 --json pipes.json
    python -m bench.pipes --only hop --rounds 6  # the hop alone, more rounds (this machine's noise)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any

import mediasoup

from .loadgen import Loadgen, cpu_seconds
from .ours import Ours
from .run import settled_stats


class PipedRooms(Ours):
    """`rooms` rooms over `workers` workers (the server places them: the
    least loaded worker each), room 0 (the publisher's) piped to the
    others; subscribers in the last room (`spread=False`) or round-robin
    over all."""

    def __init__(self, loadgen: Loadgen, workers: int, spread: bool, rooms: int | None = None) -> None:
        super().__init__(loadgen, cpu=None)
        self.workers = workers
        self.room_count = workers if rooms is None else rooms
        self.spread = spread
        self.rooms: list[mediasoup.Room] = []
        self.pids: list[int] = []
        self.pipes: list[mediasoup.Pipe] = []

    async def start(self) -> None:
        self.server = mediasoup.Server(numWorkers=self.workers, logLevel="warn", rtcListenIPv4="127.0.0.1", rtcListenIPv6=False,
                                       rtcMinPort=20000, rtcMaxPort=59999)
        await self.server
        dump = await self.server.dump()
        self.pids = [worker["pid"] for worker in dump["workers"].values()]
        self.pid = self.pids[0]
        self.rooms = [await self.server.Room() for _ in range(self.room_count)]
        assert len({room._channel.index for room in self.rooms}) == min(self.workers, self.room_count), "rooms over every worker"
        self.room = self.rooms[0]
        self.pipes = [await self.rooms[0].pipeTo(room) for room in self.rooms[1:]]

    async def setup(self) -> None:
        await super().setup()
        # Every stream copied into every room before anyone subscribes.
        deadline = time.monotonic() + 10
        while any(len(pipe.copies) < 2 for pipe in self.pipes):
            assert time.monotonic() < deadline, [len(pipe.copies) for pipe in self.pipes]
            await asyncio.sleep(0.05)

    async def join_one(self, publisher: str | None = None) -> float:
        self.room = self.rooms[self.subscribers % self.room_count if self.spread else -1]
        try:
            return await super().join_one(publisher)
        finally:
            self.room = self.rooms[0]

    def cpu_time(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)


async def run(workers: int, subscribers: int, duration: float, spread: bool, rooms: int | None = None) -> dict[str, Any]:
    """One measurement: `subscribers` in `rooms` rooms (one per worker by
    default) over `workers` workers; answers the CPU and what arrived."""
    loadgen = await Loadgen.start(threads=1)
    sfu = PipedRooms(loadgen, workers, spread, rooms)
    try:
        await sfu.setup()
        while sfu.subscribers < subscribers:
            await asyncio.gather(*(sfu.join_one() for _ in range(min(50, subscribers - sfu.subscribers))))
        await asyncio.sleep(1.0)
        await loadgen.window(True)
        await asyncio.sleep(0.1)
        cpu, started = sfu.cpu_time(), time.perf_counter()
        await asyncio.sleep(duration)
        await loadgen.window(False)
        elapsed = time.perf_counter() - started
        cpu = sfu.cpu_time() - cpu
        stats = await settled_stats(loadgen)
    finally:
        await sfu.close()
        await loadgen.close()
    sent = stats["sent"]["video"] + stats["sent"]["audio"]
    received = stats["received"]["video"] + stats["received"]["audio"]
    arrived = stats["packets"]["video"] + stats["packets"]["audio"]
    return {
        "workers": workers,
        "rooms": sfu.room_count,
        "subscribers": subscribers,
        "spread": spread,
        "cpuSeconds": cpu,
        "elapsed": elapsed,
        "sentPackets": sent,
        "copies": arrived,
        "cpuMicrosPerCopy": 1e6 * cpu / arrived if arrived else None,
        "lossPercent": 100 * (1 - received / (sent * subscribers)) if sent and subscribers else 0.0,
        "latencyMicros": stats["latencyMicros"],
        "loadgenErrors": loadgen.errors[:3],
    }


async def hop(copies: int, latency_subscribers: int, duration: float, rounds: int) -> dict[str, Any]:
    """`copies` subscribers against `copies` pipes, alternated (two workers
    both ways); then `latency_subscribers` behind a pipe against as many in
    the publisher's room. Medians."""
    subscribed, piped, direct, behind = [], [], [], []
    for _ in range(rounds):
        subscribed.append(await run(2, copies, duration, spread=False, rooms=1))
        piped.append(await run(2, 0, duration, spread=False, rooms=copies + 1))
        direct.append(await run(1, latency_subscribers, duration, spread=False))
        behind.append(await run(2, latency_subscribers, duration, spread=False))
        for row in (subscribed[-1], piped[-1], direct[-1], behind[-1]):
            print(json.dumps(row), file=sys.stderr, flush=True)
    hop_micros = [1e6 * row["cpuSeconds"] / (row["sentPackets"] * copies) for row in piped]
    copy_micros = [1e6 * row["cpuSeconds"] / (row["sentPackets"] * copies) for row in subscribed]
    return {
        "copies": copies,
        "hopMicrosPerPacket": statistics.median(hop_micros),
        "subscriberMicrosPerCopy": statistics.median(copy_micros),
        "ratios": [h / c for h, c in zip(hop_micros, copy_micros)],
        "latencySubscribers": latency_subscribers,
        "addedLatencyMicros": {
            q: statistics.median(b["latencyMicros"][q] - a["latencyMicros"][q] for a, b in zip(direct, behind)) for q in ("p50", "p99")
        },
        "lossPercent": max(row["lossPercent"] for row in [*subscribed, *direct, *behind]),
        "runs": {"subscribed": subscribed, "piped": piped, "direct": direct, "behind": behind},
    }


async def scale(subscribers: int, duration: float, workers: list[int], rounds: int) -> list[dict[str, Any]]:
    """The same audience over 1, 2, 4… workers: CPU per copy, and against one worker's."""
    rows: dict[int, list[dict[str, Any]]] = {count: [] for count in workers}
    for _ in range(rounds):
        for count in workers:
            row = await run(count, subscribers, duration, spread=True)
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows[count].append(row)
    base = statistics.median(row["cpuMicrosPerCopy"] for row in rows[workers[0]])
    result = []
    for count in workers:
        per_copy = statistics.median(row["cpuMicrosPerCopy"] for row in rows[count])
        result.append({
            "workers": count,
            "cpuMicrosPerCopy": per_copy,
            "efficiency": base / per_copy,
            "latencyMicros": {q: statistics.median(row["latencyMicros"][q] for row in rows[count]) for q in ("p50", "p99")},
            "lossPercent": max(row["lossPercent"] for row in rows[count]),
        })
    return result


def tables(hop_result: dict[str, Any] | None, scale_result: list[dict[str, Any]] | None) -> str:
    lines = [] if hop_result is None else [
        f"{hop_result['copies']} pipes against {hop_result['copies']} subscribers (medians of {len(hop_result['ratios'])} A/B rounds; "
        f"per rounds, pipe ÷ subscriber: {', '.join(f'{ratio:.2f}' for ratio in hop_result['ratios'])}; median {statistics.median(hop_result['ratios']):.2f}):",
        "",
        "| | µs of CPU |",
        "|---|---:|",
        f"| a pipe hop, per packet through it (exit + entry) | {hop_result['hopMicrosPerPacket']:.1f} |",
        f"| a subscriber, per copy | {hop_result['subscriberMicrosPerCopy']:.1f} |",
        "",
        f"Added latency ({hop_result['latencySubscribers']} subscribers behind one pipe against as many beside the publisher): "
        f"p50 {hop_result['addedLatencyMicros']['p50'] / 1000:.2f} ms, p99 {hop_result['addedLatencyMicros']['p99'] / 1000:.2f} ms; "
        f"worst loss {hop_result['lossPercent']:.3f} %.",
    ]
    if scale_result is None:
        return "\n".join(lines)
    lines += ["", "| workers | µs per copy | efficiency against 1 | p50 ms | p99 ms | loss % |", "|---:|---:|---:|---:|---:|---:|"]
    for row in scale_result:
        lines.append(f"| {row['workers']} | {row['cpuMicrosPerCopy']:.1f} | {row['efficiency']:.2f} | "
                     f"{row['latencyMicros']['p50'] / 1000:.2f} | {row['latencyMicros']['p99'] / 1000:.2f} | {row['lossPercent']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100, help="copies of the hop runs, audience of the scale runs")
    parser.add_argument("--latency-subscribers", type=int, default=10, help="subscribers of the added-latency runs")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per run")
    parser.add_argument("--rounds", type=int, default=2, help="A/B rounds (hop) and runs per worker count (scale)")
    parser.add_argument("--workers", default="1,2,4", help="worker counts of the scale runs")
    parser.add_argument("--only", choices=("hop", "scale"), help="run one of the two measurements")
    parser.add_argument("--json", help="also write the results to this file")
    arguments = parser.parse_args()
    workers = [int(count) for count in arguments.workers.split(",")]
    hop_result = None if arguments.only == "scale" else asyncio.run(hop(arguments.subscribers, arguments.latency_subscribers, arguments.duration, arguments.rounds))
    scale_result = None if arguments.only == "hop" else asyncio.run(scale(arguments.subscribers, arguments.duration, workers, arguments.rounds))
    if arguments.json:
        with open(arguments.json, "w") as file:
            json.dump({"hop": hop_result, "scale": scale_result}, file, indent=2)
    print(tables(hop_result, scale_result))


if __name__ == "__main__":
    main()
