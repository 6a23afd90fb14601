"""The forwarding benchmark: one publisher (synthetic VP8 ≈ 0.9 Mbit/s,
100 packets/s, and Opus-sized audio, 50 packets/s) and N subscribers, each
receiving both, for N = 100, 200, 400, 800… until delivery falls under
99.9 % (saturation), for this project, mediasoup's own C++ worker (the
npm release 3.8.4), Janus's videoroom and an aiortc relay (real VP8 and
Opus of the same rates: it decodes; N = 1, 2, 4, 8…), one SFU at a time.
The SFU is pinned to one core, the load generator to the other.

    bench/run [--sizes 100,200,400,800] [--duration 10] [--sfu ours,mediasoup-cpp,janus,relay]
              [--json results.json] [--plot cpu.png] [--perf perf.data]

(`bench/run` installs what is needed and runs this module in a private
network namespace, which Janus needs: see bench/janus.py.)

Per N: SFU CPU % of one core (/proc/<pid>/stat), forwarded packets/s (what
arrived), CPU µs per forwarded packet, loss %, latency p50/p99/p999 (send to
arrival, same clock), SFU RSS per subscriber; the load generator's own CPU
per received packet; and join time (createTransport → DTLS connected)
p50/p99 for 100 subscribers joining at once. Per SFU, its capacity: the
largest load measured with loss < 0.1 % and p99 latency < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

from . import mediasoup_cpp
from .loadgen import Loadgen, cpu_seconds, rss_bytes
from .ours import Ours, OursOwnSockets, OursPortPerWorker, OursSimulcast, idle_peer_kib
from .relay import ADDRESS as RELAY_ADDRESS
from .relay import Relay

SATURATED = 0.999
#: Capacity: the largest load measured without saturation (loss < 0.1 %) and with p99 latency under this bound.
CAPACITY_P99_MICROS = 50_000


def cores() -> tuple[int | None, int | None]:
    """(the SFU's core, the load generator's), when there are two to give."""
    available = sorted(os.sched_getaffinity(0))
    return (available[0], available[1]) if len(available) >= 2 else (None, None)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def measure(sfu: Ours, loadgen: Loadgen, subscribers: int, duration: float, batch: int = 50,
                  perf: str | None = None) -> dict[str, Any]:
    """Brings the SFU to `subscribers`, then measures one window (with
    `perf`: a cpu-clock profile of the SFU during it, written there). A
    saturated SFU may fail to connect new peers: joining stops at the first
    batch with a failure, the window measures those connected, and the row
    is saturated."""
    failed = 0
    while sfu.subscribers < subscribers and not failed:
        joins = await asyncio.gather(*(sfu.join_one() for _ in range(min(batch, subscribers - sfu.subscribers))),
                                     return_exceptions=True)
        failed = sum(isinstance(join, BaseException) for join in joins)
    receivers = sfu.subscribers - failed
    # Until every new subscriber forwards (a simulcast sender starts at its layer's keyframe).
    await asyncio.sleep(getattr(sfu, "settle", 1.0))
    sfu_cpu, loadgen_cpu, elapsed = await measured_window(loadgen, sfu.pid, duration, perf)
    stats = await settled_stats(loadgen)
    sent, received = stats["sent"], stats["received"]
    if getattr(sfu, "counts_frames", False):
        # The relay's media: video frames matched by RTP timestamp (its audio
        # is re-timed by its encoder: only counted, by arrival).
        expected = sent["video"] * receivers
        delivery = received["video"] / expected if expected else 0.0
    else:
        expected = (sent["video"] + sent["audio"]) * receivers
        delivery = (received["video"] + received["audio"]) / expected if expected else 0.0
    # Every packet that reached a subscriber while the window was open.
    arrived = stats["packets"]["video"] + stats["packets"]["audio"]
    latency = stats["latencyMicros"]
    return {
        "subscribers": subscribers,
        "joined": receivers,
        "streams": 2 * receivers,
        "sfuCpuPercent": 100 * sfu_cpu / elapsed,
        "forwardedPerSecond": arrived / elapsed,
        "cpuMicrosPerPacket": 1e6 * sfu_cpu / arrived if arrived else None,
        "lossPercent": 100 * (1 - delivery),
        "videoLossPercent": 100 * (1 - received["video"] / (sent["video"] * receivers)) if sent["video"] and receivers else None,
        "audioLossPercent": 100 * (1 - received["audio"] / (sent["audio"] * receivers)) if sent["audio"] and receivers else None,
        "latencyMicros": {"p50": latency["p50"], "p99": latency["p99"], "p999": latency["p999"]},
        "sfuRssPerSubscriberKiB": rss_bytes(sfu.pid) / 1024 / (receivers + 1),
        "loadgenCpuPercent": 100 * loadgen_cpu / elapsed,
        "loadgenCpuMicrosPerPacket": 1e6 * loadgen_cpu / arrived if arrived else None,
        "joinFailures": failed,
        "saturated": delivery < SATURATED or failed > 0,
        "loadgenSaturated": loadgen_cpu / elapsed > 0.95,
    }


async def measured_window(loadgen: Loadgen, pid: int, duration: float, perf: str | None = None) -> tuple[float, float, float]:
    """Opens the load generator's window for `duration` seconds (with
    `perf`: a cpu-clock profile of process `pid` during it, written there):
    answers the CPU seconds `pid` and the load generator took, and the
    seconds it lasted."""
    await loadgen.window(True)
    await asyncio.sleep(0.1)
    cpu, loadgen_cpu, started = cpu_seconds(pid), cpu_seconds(loadgen.pid), time.perf_counter()
    if perf is not None:
        profiler = await asyncio.create_subprocess_exec(
            "perf", "record", "-q", "-e", "cpu-clock", "-g", "-o", perf, "-p", str(pid), "--", "sleep", str(duration),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        await profiler.wait()
    else:
        await asyncio.sleep(duration)
    await loadgen.window(False)
    elapsed = time.perf_counter() - started
    return cpu_seconds(pid) - cpu, cpu_seconds(loadgen.pid) - loadgen_cpu, elapsed


async def settled_stats(loadgen: Loadgen, limit: float = 5.0, arrived: Callable[[dict[str, Any]], Any] = lambda stats: stats["received"]) -> dict[str, Any]:
    """The load generator's figures once what was sent last has arrived (and
    its retransmissions): at least 0.5 s after the window, then until the
    counts of what arrived (`arrived(stats)`: media received by default)
    stop moving for 0.5 s (a relay that lags under load still delivers
    late), at most `limit` seconds."""
    await asyncio.sleep(0.5)
    stats = await loadgen.stats()
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        await asyncio.sleep(0.5)
        later = await loadgen.stats()
        if arrived(later) == arrived(stats):
            return later
        stats = later
    return stats


async def join_times(sfu_factory: Any, loadgen_core: int | None, count: int, bind: str) -> dict[str, float]:
    """`count` subscribers joining at once, on a fresh SFU and load
    generator (gone after): createTransport → DTLS connected."""
    loadgen = await Loadgen.start(threads=1, cpu=loadgen_core, bind=bind)
    sfu = sfu_factory(loadgen)
    try:
        await sfu.setup()
        # One at a time first: what a single peer waits.
        alone = [await sfu.join_one() for _ in range(10)]
        times = await asyncio.gather(*(sfu.join_one() for _ in range(count)))
    finally:
        await sfu.close()
        await loadgen.close()
    return {"count": count, "p50": percentile(times, 0.5), "p99": percentile(times, 0.99), "max": max(times),
            "aloneP50": percentile(alone, 0.5)}


#: The SFUs the benchmark knows: adapter class and the address its clients use.
SFUS: dict[str, tuple[Any, str]] = {"ours": (Ours, "127.0.0.1"), "ours-simulcast": (OursSimulcast, "127.0.0.1"),
                                    "ours-sockets": (OursOwnSockets, "127.0.0.1"), "ours-port": (OursPortPerWorker, "127.0.0.1"),
                                    "relay": (Relay, RELAY_ADDRESS)}


def _known_sfus() -> None:
    """Janus and mediasoup's C++ worker, where installed (bench/run installs both)."""
    if shutil.which("janus"):
        from .janus import ADDRESS, Janus

        SFUS["janus"] = (Janus, ADDRESS)
    if mediasoup_cpp.installed():
        SFUS["mediasoup-cpp"] = (mediasoup_cpp.MediasoupCpp, "127.0.0.1")


async def run_sfu(kind: str, sizes: list[int], duration: float, until_saturated: bool, perf: str | None = None) -> dict[str, Any]:
    factory, bind = SFUS[kind]
    sfu_core, loadgen_core = cores()
    if hasattr(factory, "sizes"):
        # Its own scale (the relay saturates at a few subscribers), doubled until it does.
        sizes, until_saturated = factory.sizes, True
    joins = await join_times(lambda lg: factory(lg, sfu_core), loadgen_core, getattr(factory, "join_count", 100), bind)
    loadgen = await Loadgen.start(threads=1, cpu=loadgen_core, bind=bind)
    rows = []
    idle: float | None = None
    try:
        sfu = factory(loadgen, sfu_core)
        try:
            await sfu.setup()
            size_list = list(sizes)
            while size_list:
                size = size_list.pop(0)
                row = await measure(sfu, loadgen, size, duration, perf=perf if not size_list else None)
                rows.append(row)
                print(f"{kind}: {json.dumps(row)}", file=sys.stderr, flush=True)
                if row["saturated"] or row["loadgenSaturated"]:
                    break
                if until_saturated and not size_list:
                    size_list.append(size * 2)
            idle = await sfu.idle_cpu_percent() if kind == "ours" else None
        finally:
            await sfu.close()
    finally:
        await loadgen.close()
    result = {"sfu": factory.name, "key": kind, "rows": rows, "join": joins, "loadgenErrors": loadgen.errors[:5]}
    result["capacity"] = capacity(result)
    if kind == "ours":
        result["idlePeerKiB"] = await idle_peer_kib()
        result["idleCpu"] = {"subscribers": sfu.subscribers, "percent": idle}
    return result


def within_capacity(row: dict[str, Any]) -> bool:
    """Loss < 0.1 % (not saturated) and p99 latency under CAPACITY_P99_MICROS."""
    return not row["saturated"] and row["latencyMicros"]["p99"] < CAPACITY_P99_MICROS and bool(row["cpuMicrosPerPacket"])


def capacity(result: dict[str, Any]) -> dict[str, Any] | None:
    """An SFU's capacity: its largest load measured within_capacity (None if
    none was), the first larger load measured (`beyond`: what exceeded it),
    and the streams one core would forward at its CPU per stream there
    (extrapolated: worth saying only where no load measured exceeded it)."""
    rows = [row for row in result["rows"] if within_capacity(row)]
    if not rows:
        return None
    best = max(rows, key=lambda row: row["subscribers"])
    beyond = next((row for row in result["rows"] if row["subscribers"] > best["subscribers"]), None)
    return {"subscribers": best["subscribers"], "streams": best["streams"], "cpuMicrosPerPacket": best["cpuMicrosPerPacket"],
            "p99Micros": best["latencyMicros"]["p99"], "beyond": beyond,
            "extrapolatedStreams": best["streams"] * 100 / best["sfuCpuPercent"] if best["sfuCpuPercent"] > 0 else None,
            "loadgenSaturated": any(row["loadgenSaturated"] for row in result["rows"])}


def _exceeded(row: dict[str, Any]) -> str:
    """How a load measured past an SFU's capacity exceeded it."""
    if row["saturated"]:
        return f"{row['subscribers']}: loss {row['lossPercent']:.2f} %" + (f", {row['joinFailures']} joins failed" if row.get("joinFailures") else "")
    return f"{row['subscribers']}: p99 {row['latencyMicros']['p99'] / 1000:.0f} ms"


def capacities(results: list[dict[str, Any]]) -> str:
    """Every SFU's capacity, one table."""
    lines = [f"**Capacity**: the largest load measured with loss < 0.1 % and p99 latency < {CAPACITY_P99_MICROS / 1000:.0f} ms", "",
             f"| SFU | capacity: subscribers (streams) | CPU µs/pkt there | p99 there ms (< {CAPACITY_P99_MICROS / 1000:.0f}) | "
             "the next load measured exceeded it |",
             "|---|---:|---:|---:|---|"]
    for result in results:
        most = capacity(result)
        if most is None:
            lines.append(f"| {result['sfu']} | none | | | {_exceeded(result['rows'][0]) if result['rows'] else ''} |")
            continue
        beyond = _exceeded(most["beyond"]) if most["beyond"] else "none larger measured"
        lines.append(f"| {result['sfu']} | {most['subscribers']} ({most['streams']}) | {most['cpuMicrosPerPacket']:.2f} | "
                     f"{most['p99Micros'] / 1000:.1f} | {beyond} |")
    return "\n".join(lines)


def ratios(results: list[dict[str, Any]]) -> str:
    """This project against each other SFU: CPU per forwarded packet at each
    size both measured, and at each one's capacity."""
    by_key = {result["key"]: result for result in results}
    lines = []
    for other in results:
        # The shared port against per-transport ports with the same load generator (a socket per client).
        ours = by_key.get("ours-sockets") if other["key"] == "ours-port" and "ours-sockets" in by_key else by_key.get("ours")
        if ours is None or other is ours:
            continue
        theirs = {row["subscribers"]: row for row in other["rows"]}
        if other["key"] == "ours-port":
            lines += [f"**One port per worker ÷ {ours['sfu']}** (CPU µs per forwarded packet; < 1: the shared port is cheaper)", ""]
        elif other["key"] == "ours-simulcast":
            lines += ["**Simulcast ÷ single stream** (CPU µs per forwarded packet, this project both: what layer selection costs)", ""]
        else:
            lines += [f"**{other['sfu']} ÷ this project** (CPU µs per forwarded packet; > 1: this project is cheaper)", ""]
        shared = [(row, theirs[row["subscribers"]]) for row in ours["rows"]
                  if row["subscribers"] in theirs and row["cpuMicrosPerPacket"] and theirs[row["subscribers"]]["cpuMicrosPerPacket"]]
        if shared:
            lines += ["| subscribers | this project µs/pkt | theirs µs/pkt | ratio |", "|---:|---:|---:|---:|"]
            lines += [f"| {mine['subscribers']} | {mine['cpuMicrosPerPacket']:.2f} | {match['cpuMicrosPerPacket']:.2f} | "
                      f"{match['cpuMicrosPerPacket'] / mine['cpuMicrosPerPacket']:.1f}× |" for mine, match in shared]
            lines.append("")
        mine_most, their_most = capacity(ours), capacity(other)
        if mine_most and their_most:
            lines.append(
                f"At each one's capacity ({mine_most['subscribers']} and {their_most['subscribers']} subscribers): "
                f"{mine_most['cpuMicrosPerPacket']:.2f} and {their_most['cpuMicrosPerPacket']:.2f} µs/pkt, "
                f"**{their_most['cpuMicrosPerPacket'] / mine_most['cpuMicrosPerPacket']:.1f}×**; streams within capacity: "
                f"{mine_most['streams']} and {their_most['streams']}.")
            lines.append("")
        elif mine_most or their_most:
            lines += [f"{other['sfu'] if mine_most else 'This project'} has no capacity: no load measured was within it.", ""]
    return "\n".join(lines)


def plot(results: list[dict[str, Any]], path: str) -> None:
    """CPU % of one core against streams, one line per SFU (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    figure, axes = pyplot.subplots(figsize=(7, 4.2), dpi=120)
    for result in results:
        rows = result["rows"]
        axes.plot([row["streams"] for row in rows], [row["sfuCpuPercent"] for row in rows], marker="o", label=result["sfu"])
        for row in rows:
            if row["saturated"]:
                axes.annotate("saturated", (row["streams"], row["sfuCpuPercent"]), textcoords="offset points", xytext=(4, -12), fontsize=8)
    axes.set_xscale("log")
    axes.set_xlabel("streams forwarded (video + audio, to N subscribers; log scale)")
    axes.set_ylabel("SFU CPU, % of one core")
    axes.set_ylim(0, 105)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)


def table(result: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    lines = [
        f"**{result['sfu']}**: join (createTransport → DTLS connected), {result['join']['count']} at once: "
        f"p50 {result['join']['p50']:.1f} ms, p99 {result['join']['p99']:.1f} ms; one at a time: p50 {result['join'].get('aloneP50', 0):.1f} ms"
        + (f"; an idle peer with one transport: {result['idlePeerKiB']:.0f} KiB" if "idlePeerKiB" in result else "")
        + (f"; {result['idleCpu']['subscribers']} connected peers with nothing to forward: {result['idleCpu']['percent']:.1f} % CPU"
           if result.get("idleCpu", {}).get("percent") is not None else ""),
        "",
        "| subscribers | streams | SFU CPU % | forwarded pkt/s | CPU µs/pkt | loss % | latency p50/p99/p999 µs | RSS/subscriber KiB | loadgen CPU % | loadgen µs/pkt |",
        "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for row in result["rows"]:
        latency = row["latencyMicros"]
        mark = " (saturated)" if row["saturated"] else ""
        if not row["saturated"] and row["latencyMicros"]["p99"] >= CAPACITY_P99_MICROS:
            mark = " (p99 over the capacity bound)"
        if row.get("joinFailures"):
            mark = f" (saturated: {row['joinFailures']} of the last 50 joins failed)"
        lines.append(
            f"| {row['subscribers']}{mark} | {row['streams']} | {row['sfuCpuPercent']:.1f} | {row['forwardedPerSecond']:.0f} | "
            f"{row['cpuMicrosPerPacket'] or 0:.2f} | {row['lossPercent']:.3f} | {latency['p50']}/{latency['p99']}/{latency['p999']} | "
            f"{row['sfuRssPerSubscriberKiB']:.0f} | {row['loadgenCpuPercent']:.1f} | {row['loadgenCpuMicrosPerPacket'] or 0:.2f} |"
        )
    most = capacity(result)
    if most and most["extrapolatedStreams"] and most["beyond"] is None:
        why = "the load generator saturated first" if most["loadgenSaturated"] else "no load measured exceeded its capacity"
        lines += ["", f"*Extrapolated* ({why}): at {most['cpuMicrosPerPacket']:.2f} µs per packet, one core would forward "
                      f"≈ {most['extrapolatedStreams']:.0f} streams."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,200,400,800", help="subscriber counts, comma-separated")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per size")
    parser.add_argument("--until-saturated", action="store_true", help="go on doubling past the last size until saturation")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--perf", help="profile the SFU (perf record -e cpu-clock -g) during the last size's window, into this file")
    parser.add_argument("--sfu", default="ours,mediasoup-cpp,janus,relay",
                        help="which SFUs, comma-separated: ours, ours-simulcast (the publisher in three simulcast layers), "
                             "mediasoup-cpp (mediasoup 3.8.4's C++ worker; skipped if not built: bench/build-mediasoup-cpp), "
                             "janus (skipped if not installed), relay (aiortc)")
    parser.add_argument("--plot", help="write the CPU-against-streams plot (PNG) here")
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]
    _known_sfus()
    kinds = [kind for kind in arguments.sfu.split(",") if kind in SFUS]
    results = [asyncio.run(run_sfu(kind, sizes, arguments.duration, arguments.until_saturated,
                                   arguments.perf if kind.startswith("ours") else None)) for kind in kinds]
    if arguments.json:
        with open(arguments.json, "w") as file:
            json.dump(results, file, indent=2)
    if arguments.plot:
        plot(results, arguments.plot)
    print("\n\n".join(table(result) for result in results))
    print()
    print(capacities(results))
    print()
    print(ratios(results))


if __name__ == "__main__":
    main()
