"""Time to adapt: how fast a subscriber's layer follows its bandwidth.

Headless Chromium publishes 1280×720 in three layers (VP8 and H264
simulcast, VP9 and AV1 SVC) into a room with ``bandwidthEstimation=True``; a viewer
page receives it through a UDP relay that, once the viewer decodes the top
layer, limits the way toward it to 250 kbit/s for 14 s, then lifts the
limit (the scenario of tests/test_simulcast.py, driver
tests/browser/simulcast_in_chromium.py). Per run: seconds from the limit
to the first lower layer decoded, the longest stall under the limit, how
long the picture had been still when the limit was lifted, and seconds
from its end to the top layer decoded again. Printed as p50/p99/max
per codec over ``--runs`` runs (p99 of ten runs is their maximum).

    bench/adapt [--runs 10] [--codecs vp8,h264,vp9,av1] [--json FILE] [--trace]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import sys
from typing import Any

import mediasoup

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "browser"))
import simulcast_in_chromium as driver  # type: ignore[import-not-found]  # noqa: E402
from demo_in_chromium import FLAGS, free_port  # type: ignore[import-not-found]  # noqa: E402

from .run import percentile  # noqa: E402

FIGURES = ("fellAfter", "longestStall", "stillAtEnd", "climbedAfter")


async def runs(codecs: list[str], count: int, trace: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Each codec's adaptations, `count` runs each, on one server and one
    browser; with `trace`, what the estimate and the layer did in each run
    (else only in runs that climbed back late or ended the limit still)."""
    from playwright.async_api import async_playwright

    results: dict[str, list[dict[str, Any]]] = {codec: [] for codec in codecs}
    async with mediasoup.Server(numWorkers=1, logLevel="warn", rtcListenIPv4="127.0.0.1", rtcListenIPv6=False) as server:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=FLAGS)
            for index in range(count):
                for codec in codecs:
                    result = await driver.bottleneck(browser, server, free_port(), codec)
                    results[codec].append(result["dave_adaptation"])
                    print(f"{codec} run {index + 1}: {json.dumps(result['dave_adaptation'])}", file=sys.stderr, flush=True)
                    climbed = result["dave_adaptation"]["climbedAfter"]
                    if trace or climbed is None or climbed > 10 or result["dave_adaptation"]["stillAtEnd"] > 2:
                        # What the estimate, the sender's layer and the bottleneck did meanwhile:
                        # [time, bit/s, spatial layer, datagrams dropped so far].
                        print(f"  estimates: {json.dumps(result['dave_estimates'])}", file=sys.stderr, flush=True)
            await browser.close()
    return results


def table(results: dict[str, list[dict[str, Any]]]) -> str:
    lines = ["| codec | runs | to a lower layer p50/p99/max s | longest stall p50/p99/max s | still at the limit's end p50/p99/max s | back to the top p50/p99/max s | never adapted |",
             "|---|---:|---|---|---|---|---:|"]
    for codec, adaptations in results.items():
        cells = []
        for figure in FIGURES:
            values = [a[figure] for a in adaptations if a[figure] is not None]
            cells.append("/".join(f"{v:.1f}" for v in (percentile(values, 0.5), percentile(values, 0.99), max(values))) if values else "–")
        never = sum(1 for a in adaptations if a["fellAfter"] is None or a["climbedAfter"] is None)
        lines.append(f"| {codec} | {len(adaptations)} | {' | '.join(cells)} | {never} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--codecs", default="vp8,h264,vp9,av1")
    parser.add_argument("--json", help="also write each run's figures to this file")
    parser.add_argument("--trace", action="store_true", help="print what the estimate and the layer did in every run")
    arguments = parser.parse_args()
    results = asyncio.run(runs(arguments.codecs.split(","), arguments.runs, arguments.trace))
    if arguments.json:
        with open(arguments.json, "w") as file:
            json.dump(results, file, indent=2)
    print(table(results))


if __name__ == "__main__":
    main()
