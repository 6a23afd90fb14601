"""The data-channel benchmark: one publisher sends 1 KiB messages on a
'chat' channel at a fixed rate, and the worker relays them by label to N
subscribers (each opened its own 'chat', as pages do), for N = 10, 50, 100,
200… The load generator's str0m clients speak real ICE, DTLS and SCTP;
the worker is pinned to one core, the load generator to the other.

    .venv/bin/python -m bench.data [--sizes 10,50,100,200] [--rate 500] [--duration 10] [--json FILE]

Per N: the worker's CPU % of one core, messages delivered per second (what
arrived), CPU µs per delivered message, loss %, latency p50/p99 (send to
arrival, one clock), and what SCTP refused at the publisher (its own
buffer full: the offered load was not sent).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import mediasoup

from .loadgen import Loadgen, pin
from .ours import _server_side
from .run import cores, measured_window, settled_stats

LABEL = "chat"


async def run(sizes: list[int], rate: int, duration: float, size: int = 1024, perf: str | None = None) -> list[dict[str, Any]]:
    """One row per size; with `perf`, a cpu-clock profile of the worker during the last size's window."""
    worker_core, loadgen_core = cores()
    loadgen = await Loadgen.start(threads=1, cpu=loadgen_core)
    server = mediasoup.Server(numWorkers=1, logLevel="warn", rtcListenIPv4="127.0.0.1", rtcListenIPv6=False,
                              rtcMinPort=20000, rtcMaxPort=59999)
    rows: list[dict[str, Any]] = []
    try:
        await server
        pid = next(iter((await server.dump())["workers"].values()))["pid"]
        pin(pid, worker_core)
        room = await server.Room()
        joined = 0

        async def join(name: str, role: str, data: dict[str, Any]) -> None:
            peer = await room.Peer(name)
            transport = await peer.createTransport(tcp=False, enableSctp=True)
            connected = loadgen.connect(name, role, _server_side(transport), [], [], [], data=data)
            await transport.setRemoteDtlsParameters(loadgen.dtls_parameters)
            await asyncio.wait_for(connected, 30)

        for subscribers in sizes:
            while joined < subscribers:
                batch = min(50, subscribers - joined)
                await asyncio.gather(*(join(f"subscriber-{joined + index}", "subscriber", {"label": LABEL}) for index in range(batch)))
                joined += batch
            if not any(peer.name == "publisher" for peer in room.peers):
                # Last, so every subscriber's channel is open when the messages start.
                await join("publisher", "publisher", {"label": LABEL, "rate": rate, "size": size})
            await asyncio.sleep(1.5)
            cpu, loadgen_cpu, elapsed = await measured_window(loadgen, pid, duration, perf if subscribers == sizes[-1] else None)
            stats = await settled_stats(loadgen, arrived=lambda stats: stats["data"]["received"])
            sent, received = stats["data"]["sent"], stats["data"]["received"]
            latency = stats["latencyMicros"]
            rows.append({
                "subscribers": subscribers,
                "rate": rate,
                "messageBytes": size,
                "workerCpuPercent": 100 * cpu / elapsed,
                "deliveredPerSecond": received / elapsed,
                "cpuMicrosPerMessage": 1e6 * cpu / received if received else None,
                "lossPercent": 100 * (1 - received / (sent * subscribers)) if sent else None,
                "latencyMicros": {"p50": latency["p50"], "p99": latency["p99"]},
                "refusedAtPublisher": stats["data"]["refused"],
                "loadgenCpuPercent": 100 * loadgen_cpu / elapsed,
            })
            print(json.dumps(rows[-1]), flush=True)
    finally:
        server.close()
        await loadgen.close()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| subscribers | msgs/s offered | delivered msgs/s | worker CPU % | CPU µs/msg | loss % | latency p50 / p99 (µs) | load generator CPU % |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        micros = f"{row['cpuMicrosPerMessage']:.1f}" if row["cpuMicrosPerMessage"] else "–"
        loss = f"{row['lossPercent']:.2f}" if row["lossPercent"] is not None else "–"
        lines.append(f"| {row['subscribers']} | {row['rate'] * row['subscribers']:,} | {row['deliveredPerSecond']:,.0f} | "
                     f"{row['workerCpuPercent']:.0f} | {micros} | {loss} | {row['latencyMicros']['p50']} / {row['latencyMicros']['p99']} | "
                     f"{row['loadgenCpuPercent']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,50,100,200", help="subscriber counts, comma-separated")
    parser.add_argument("--rate", type=int, default=500, help="messages a second from the publisher")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per size")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--perf", help="profile the worker (perf record -e cpu-clock -g) during the last size's window, into this file")
    options = parser.parse_args()
    rows = asyncio.run(run([int(size) for size in options.sizes.split(",")], options.rate, options.duration, perf=options.perf))
    print(table(rows))
    if options.json:
        with open(options.json, "w") as out:
            json.dump(rows, out, indent=2)


if __name__ == "__main__":
    main()
