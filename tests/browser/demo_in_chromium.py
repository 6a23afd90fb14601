"""Runs the browser demo with headless Chromium pages and prints what they
decoded, as JSON. Run it in a network namespace with only loopback (see
tests/test_browser.py):

    unshare -n sh -c "ip link set lo up && python tests/browser/demo_in_chromium.py SCREENSHOT.png"
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import pathlib
import socket
import sys
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def decoding(page: Any, streams: int) -> dict[str, Any]:
    """Waits until `page` decodes audio and video of `streams` other participants."""
    deadline = time.monotonic() + 30
    while True:
        stats = await page.evaluate("window.receivedStats ? window.receivedStats() : null")
        if stats is not None:
            inbound = list(stats["inbound"].values())
            video = [s for s in inbound if s["kind"] == "video" and s["framesDecoded"] >= 10]
            audio = [s for s in inbound if s["kind"] == "audio" and s["totalSamplesReceived"] > 0]
            if len(stats["streams"]) >= streams and len(video) >= streams and len(audio) >= streams:
                return stats
        if time.monotonic() > deadline:
            raise AssertionError(f"no decoding of {streams} participants after 30 s: {stats}")
        await asyncio.sleep(0.25)


async def main(screenshot: pathlib.Path) -> None:
    from playwright.async_api import async_playwright

    spec = importlib.util.spec_from_file_location("browser_demo", ROOT / "examples" / "browser_demo" / "app.py")
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    port = free_port()
    server = asyncio.ensure_future(demo.serve("127.0.0.1", port))
    url = f"http://127.0.0.1:{port}/"
    result: dict[str, Any] = {}
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=FLAGS)
            for _ in range(100):
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    await asyncio.sleep(0.1)
            pages = [await browser.new_page(viewport={"width": 1100, "height": 640}) for _ in range(2)]
            for page in pages:
                await page.goto(url)
            result["two"] = [await decoding(page, 1) for page in pages]
            late = await browser.new_page(viewport={"width": 1100, "height": 640})
            await late.goto(url)
            result["late"] = await decoding(late, 2)
            result["three"] = [await decoding(page, 2) for page in pages]
            await pages[0].wait_for_timeout(500)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            await pages[0].screenshot(path=str(screenshot))
            result["screenshot"] = str(screenshot)
            for page in [*pages, late]:
                await page.close()
            # WHIP and WHEP with fetch: a page publishes into room "live",
            # a demo page of that room and a WHEP page decode it.
            publisher = await browser.new_page()
            await publisher.goto(f"{url}whip.html?room=live")
            viewer = await browser.new_page(viewport={"width": 1100, "height": 640})
            await viewer.goto(f"{url}?room=live")
            result["whip_in_room"] = await decoding(viewer, 1)
            player = await browser.new_page()
            await player.goto(f"{url}whep.html?room=live")
            result["whep"] = await decoding(player, 1)
            result["whip"] = await publisher.evaluate("window.receivedStats()")
            await browser.close()
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main(pathlib.Path(sys.argv[1])))
