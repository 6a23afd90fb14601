"""The data-channel benchmark: one publisher sends 1 KiB messages on a
'chat' channel at a fixed rate, and the SFU relays them to N subscribers,
for N = 10, 50, 100, 200…: this project (its label relay; each subscriber
opened its own 'chat', as pages do) and an aiortc relay (the publisher's
channel's messages sent on a channel per subscriber: what a Python
developer writes without an SFU). The load generator's str0m clients speak
real ICE, DTLS and SCTP; the SFU is pinned to one core, the load generator
to the other.

    unshare -n sh -c "ip link set lo up && .venv/bin/python -m bench.data [--sizes 10,50,100,200] [--rate 500] [--duration 10] [--sfu ours,relay] [--json FILE] [--perf FILE]"

Per N: the SFU's CPU % of one core, messages delivered per second (what
arrived), CPU µs per delivered message, loss %, latency p50/p99 (send to
arrival, one clock), what SCTP refused at the publisher (its own buffer
full: that load was not offered), and the load generator's CPU %.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import mediasoup
from mediasoup.webrtc import sdp

from .loadgen import Loadgen
from .ours import Ours, _server_side
from .relay import ADDRESS as RELAY_ADDRESS
from .relay import Relay
from .run import cores, measured_window, settled_stats
from .sdp_clients import data_answer, data_offer, ice, server_side

LABEL = "chat"


class OursData(Ours):
    """This project (bench/ours.py's server and room), its peers' transports carrying SCTP."""

    def __init__(self, loadgen: Loadgen, cpu: int | None) -> None:
        super().__init__(loadgen, cpu)
        self.transports: list[mediasoup.Transport] = []

    async def dropped(self) -> int:
        """Messages the worker gave up (its queues full, or SCTP refused them)."""
        total = 0
        for transport in self.transports:
            total += sum(entry.get("messagesDropped", 0) for entry in await transport.getStats() if entry["type"] == "data-channel")
        return total

    async def join(self, name: str, role: str, data: dict[str, Any]) -> None:
        assert self.room is not None
        peer = await self.room.Peer(name)
        transport = await peer.createTransport(tcp=False, enableSctp=True)
        self.transports.append(transport)
        connected = self.loadgen.connect(name, role, _server_side(transport), [], [], [], data=data)
        await transport.setRemoteDtlsParameters(self.loadgen.dtls_parameters)
        await asyncio.wait_for(connected, 30)


class RelayData(Relay):
    """The aiortc relay (bench/relay.py) with data channels only."""

    async def join(self, name: str, role: str, data: dict[str, Any]) -> None:
        local = ice()
        if role == "publisher":
            answer = sdp.parse((await self._call({"op": "publish", "sdp": data_offer(self.loadgen, local, RELAY_ADDRESS)}))["sdp"])
            server, setup = server_side(answer)
            # The offerer is ICE-controlling: aiortc makes the controlling side the SCTP client.
            connected = self.loadgen.connect(name, role, server, [], [], [], local=local, dtls_client=setup == "passive",
                                             data={**data, "sctp_client": True})
        else:
            index = self.subscribers
            self.subscribers += 1
            offer = sdp.parse((await self._call({"op": "subscribe", "id": index, "data": True}))["sdp"])
            server, _ = server_side(offer)
            connected = self.loadgen.connect(name, role, server, [], [], [], local=local, dtls_client=False,
                                             ice_controlling=False, data={**data, "sctp_client": False})
            await self._call({"op": "answer", "id": index, "sdp": data_answer(offer, self.loadgen, local, RELAY_ADDRESS)})
        await asyncio.wait_for(connected, 30)

    async def setup(self) -> None:
        raise NotImplementedError("RelayData.start() starts it; publish with join()")

    async def dropped(self) -> int | None:
        """aiortc's channels queue without bound: it drops nothing (and says nothing)."""
        return None


async def run(sizes: list[int], rate: int, duration: float, sfu_name: str = "ours", size: int = 1024,
              perf: str | None = None) -> list[dict[str, Any]]:
    """One row per size; with `perf`, a cpu-clock profile of the SFU during the last size's window."""
    sfu_core, loadgen_core = cores()
    loadgen = await Loadgen.start(threads=1, cpu=loadgen_core)
    sfu: OursData | RelayData = OursData(loadgen, sfu_core) if sfu_name == "ours" else RelayData(loadgen, sfu_core)
    rows: list[dict[str, Any]] = []
    try:
        await sfu.start()
        joined, published = 0, False
        for subscribers in sizes:
            while joined < subscribers:
                batch = min(50, subscribers - joined)
                await asyncio.gather(*(sfu.join(f"subscriber-{joined + index}", "subscriber", {"label": LABEL}) for index in range(batch)))
                joined += batch
            if not published:
                # Last, so every subscriber's channel is open when the messages start.
                await sfu.join("publisher", "publisher", {"label": LABEL, "rate": rate, "size": size})
                published = True
            await asyncio.sleep(1.5)
            cpu, loadgen_cpu, elapsed = await measured_window(loadgen, sfu.pid, duration, perf if subscribers == sizes[-1] else None)
            stats = await settled_stats(loadgen, arrived=lambda stats: stats["data"]["received"])
            sent, received = stats["data"]["sent"], stats["data"]["received"]
            latency = stats["latencyMicros"]
            rows.append({
                "sfu": sfu.name,
                "subscribers": subscribers,
                "rate": rate,
                "messageBytes": size,
                "sfuCpuPercent": 100 * cpu / elapsed,
                "deliveredPerSecond": received / elapsed,
                "cpuMicrosPerMessage": 1e6 * cpu / received if received else None,
                "lossPercent": 100 * (1 - received / (sent * subscribers)) if sent else None,
                "latencyMicros": {"p50": latency["p50"], "p99": latency["p99"]},
                "refusedAtPublisher": stats["data"]["refused"],
                "droppedInSfu": await sfu.dropped(),
                "loadgenCpuPercent": 100 * loadgen_cpu / elapsed,
            })
            print(json.dumps(rows[-1]), flush=True)
    finally:
        await sfu.close()
        await loadgen.close()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| SFU | subscribers | msgs/s offered | delivered msgs/s | SFU CPU % | CPU µs/msg | loss % | latency p50 / p99 (µs) | refused at publisher | dropped in SFU | load generator CPU % |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        micros = f"{row['cpuMicrosPerMessage']:.1f}" if row["cpuMicrosPerMessage"] else "–"
        loss = f"{row['lossPercent']:.2f}" if row["lossPercent"] is not None else "–"
        lines.append(f"| {row['sfu']} | {row['subscribers']} | {row['rate'] * row['subscribers']:,} | {row['deliveredPerSecond']:,.0f} | "
                     f"{row['sfuCpuPercent']:.0f} | {micros} | {loss} | {row['latencyMicros']['p50']} / {row['latencyMicros']['p99']} | "
                     f"{row['refusedAtPublisher']} | {row['droppedInSfu'] if row['droppedInSfu'] is not None else '–'} | {row['loadgenCpuPercent']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,50,100,200", help="subscriber counts, comma-separated")
    parser.add_argument("--rate", type=int, default=500, help="messages a second from the publisher")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per size")
    parser.add_argument("--sfu", default="ours,relay", help="which SFUs: ours, relay")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--perf", help="profile the SFU (perf record -e cpu-clock -g) during the last size's window, into this file")
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]
    rows: list[dict[str, Any]] = []
    for sfu in options.sfu.split(","):
        rows += asyncio.run(run(sizes, options.rate, options.duration, sfu, perf=options.perf))
    print(table(rows))
    if options.json:
        with open(options.json, "w") as out:
            json.dump(rows, out, indent=2)


if __name__ == "__main__":
    main()
