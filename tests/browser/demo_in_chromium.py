"""Runs the browser demo with headless Chromium pages, as people use it
(a name to join with, chat, a file, mute, leave), and prints what the pages
received, as JSON: one entry per step, ``{"error": ...}`` for a step that
failed (the others still run). Run it in a network namespace with only
loopback (see tests/test_browser.py):

    unshare -n sh -c "ip link set lo up && python tests/browser/demo_in_chromium.py SCREENSHOT.png FILE"

FILE is sent in the chat (its SHA-256 is compared by the test).
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import re
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]
VIEWPORT = {"width": 1100, "height": 640}


def tone_wav(path: pathlib.Path) -> pathlib.Path:
    """Two seconds of a voice-like sound, 48 kHz mono: three partials whose
    loudness swings four times a second (a steady tone would be taken for
    noise and suppressed), never silent. It is the pages' microphone
    (Chromium loops it): Chromium's own beep is too short to speak, and the
    active speaker needs voice for half of an interval."""
    import math
    import struct
    import wave

    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48_000)
        def sample(n: int) -> int:
            t = n / 48_000
            envelope = 0.6 + 0.4 * math.sin(2 * math.pi * 4 * t)
            voice = sum(math.sin(2 * math.pi * f * t) / k for k, f in enumerate((220, 660, 1320), 1))
            return int(0.9 * 32767 * envelope * voice / 1.84)

        out.writeframes(b"".join(struct.pack("<h", sample(n)) for n in range(96_000)))
    return path
CHAT_MESSAGES = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def listening(port: int) -> None:
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port}")


async def until(page: Any, expression: str, what: str, timeout: float = 20) -> Any:
    """Polls `expression` in `page` until it is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout:.0f} s")
        await asyncio.sleep(0.2)


async def decoding(page: Any, streams: int) -> dict[str, Any]:
    """Waits until `page` decodes audio and video of `streams` other participants."""
    deadline = time.monotonic() + 30
    while True:
        stats: dict[str, Any] | None = await page.evaluate("window.receivedStats ? window.receivedStats() : null")
        if stats is not None:
            inbound = list(stats["inbound"].values())
            video = [s for s in inbound if s["kind"] == "video" and s["framesDecoded"] >= 10]
            audio = [s for s in inbound if s["kind"] == "audio" and s["totalSamplesReceived"] > 0]
            if len(stats["streams"]) >= streams and len(video) >= streams and len(audio) >= streams:
                return stats
        if time.monotonic() > deadline:
            raise AssertionError(f"no decoding of {streams} participants after 30 s: {stats}")
        await asyncio.sleep(0.25)


async def join(page: Any, url: str, name: str) -> None:
    """Opens the page and joins the call as `name` (the join screen's form)."""
    await page.goto(url)
    await page.fill("#name", name)
    await page.click("#join")
    await page.wait_for_selector("#call-screen:not([hidden])", timeout=10_000)


async def energy(page: Any, publisher: str, seconds: float) -> float:
    """The audio energy `page` received from `publisher` during `seconds`."""

    async def total() -> float:
        stats = await page.evaluate("window.receivedStats()")
        return float(sum(s["totalAudioEnergy"] for s in stats["inbound"].values() if s["kind"] == "audio" and s["peer"] == publisher))

    before = await total()
    await asyncio.sleep(seconds)
    return await total() - before


class Steps:
    """The result of each step; a failing step is recorded and the next runs."""

    def __init__(self) -> None:
        self.result: dict[str, Any] = {}

    async def run(self, name: str, step: Callable[[], Awaitable[Any]]) -> None:
        try:
            self.result[name] = await step()
        except Exception as failure:  # noqa: BLE001 (recorded for the test to report)
            self.result[name] = {"error": f"{type(failure).__name__}: {failure}", "trace": traceback.format_exc()[-1500:]}


async def call_steps(browser: Any, url: str, screenshot: pathlib.Path, file: pathlib.Path, steps: Steps) -> None:
    """Three people in a call: names, media, chat, a file, the pointer, the
    active speaker, mute, leave; then a page that opens no chat channel."""
    alice, bob, carol = [await browser.new_page(viewport=VIEWPORT) for _ in range(3)]
    await join(alice, url, "alice")
    await join(bob, url, "bob")
    await steps.run("two", lambda: asyncio.gather(decoding(alice, 1), decoding(bob, 1)))
    await steps.run("name_taken", lambda: name_taken(carol, url))
    await join(carol, url, "carol")

    async def three() -> dict[str, Any]:
        late = await decoding(carol, 2)
        return {"late": late, "others": [await decoding(page, 2) for page in (alice, bob)]}

    await steps.run("three", three)
    people = {"alice": alice, "bob": bob, "carol": carol}
    await steps.run("channels", lambda: channels_open(people))
    if "error" in steps.result["channels"]:
        for step in ("chat", "file", "cursor"):
            steps.result[step] = {"error": "skipped: the data channels did not open"}
    else:
        await steps.run("chat", lambda: chat(people))
        await steps.run("file", lambda: file_transfer(people, file))
        await steps.run("cursor", lambda: cursor(alice, bob))
    await steps.run("activespeaker", lambda: active_speaker(alice))
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    await alice.wait_for_timeout(1500)  # a second of stats in the overlays
    await alice.screenshot(path=str(screenshot))
    steps.result["screenshot"] = str(screenshot)
    steps.result["overlay"] = await alice.evaluate("[...document.querySelectorAll('.tile:not(.local) .stats')].map((e) => e.textContent)")
    await steps.run("mute", lambda: mute(alice, bob))
    await steps.run("leave", lambda: leave(carol, alice, bob))
    await steps.run("channel_from_server", lambda: channel_from_server(browser, url, alice))
    for page in (alice, bob, carol):
        await page.close()


async def name_taken(page: Any, url: str) -> dict[str, Any]:
    await page.goto(url)
    await page.fill("#name", "alice")
    await page.click("#join")
    error = await until(page, "document.getElementById('join-error').textContent", "the error of a taken name")
    return {"error_shown": error, "join_screen": await page.is_visible("#join-form")}


async def channels_open(people: dict[str, Any]) -> list[str]:
    """Waits until every page's own 'chat' and 'cursor' channels are open."""
    for name, page in people.items():
        await until(page, "Boolean(call && call.channel('chat') && call.channel('cursor'))", f"the data channels at {name}", timeout=10)
    return ["chat", "cursor"]


async def chat(people: dict[str, Any]) -> dict[str, Any]:
    """alice and bob type in turns; each page gets the others' messages in order."""
    for index in range(CHAT_MESSAGES):
        for name in ("alice", "bob"):
            await people[name].fill("#chat-input", f"{name} says {index}")
            await people[name].press("#chat-input", "Enter")
    received = {}
    for name, page in people.items():
        expected = CHAT_MESSAGES * (2 if name == "carol" else 1)
        received[name] = await until(
            page,
            f"(() => {{ const m = window.demo.chat.filter((m) => m.kind === 'channel'); return m.length >= {expected} && m; }})()",
            f"{expected} chat messages at {name}",
            timeout=10,
        )
    return received


async def file_transfer(people: dict[str, Any], file: pathlib.Path) -> dict[str, Any]:
    """alice sends `file` with the chat's file button; bob and carol get it whole."""
    started = time.monotonic()
    await people["alice"].set_input_files("#file-input", str(file))
    received = {}
    for name in ("bob", "carol"):
        files = await until(people[name], "window.demo.files.length > 0 && window.demo.files", f"the file at {name}", timeout=30)
        received[name] = files[0]
    return {"received": received, "sent": await people["alice"].evaluate("window.demo.sentFiles"), "seconds": time.monotonic() - started}


async def cursor(alice: Any, bob: Any) -> dict[str, Any]:
    """alice's pointer over the stage, on the unordered unreliable channel."""
    box = await alice.locator("#stage").bounding_box()
    assert box is not None
    for index in range(40):
        await alice.mouse.move(box["x"] + 20 + index * 10, box["y"] + box["height"] / 2)
        await asyncio.sleep(0.04)
    sent = await alice.evaluate("window.demo.sentCursors")
    await bob.wait_for_timeout(500)
    received = await bob.evaluate("window.demo.cursors.filter((c) => c.from === 'alice')")
    return {"sent": sent, "received": received, "shown": await bob.locator(".pointer").count()}


async def active_speaker(page: Any) -> dict[str, Any]:
    # The pages' microphone plays a tone (tone_wav): someone speaks.
    speakers = await until(page, "window.demo.speakers.length > 0 && window.demo.speakers", "an activespeaker message", timeout=10)
    highlighted = await until(page, "document.querySelectorAll('.tile.speaking').length", "a highlighted tile", timeout=5)
    return {"speakers": speakers, "highlighted": highlighted, "levels": await page.evaluate("window.demo.levels.slice(-3)")}


async def mute(alice: Any, bob: Any) -> dict[str, Any]:
    """alice mutes (bob hears silence, sees her muted), stops her camera, and undoes both."""
    tile = "[...document.querySelectorAll('.tile')].find((t) => t.querySelector('.name').textContent === 'alice')"
    heard = await energy(bob, "alice", 2)
    await alice.click("#mic")
    await until(bob, f"{tile}.classList.contains('no-audio')", "alice's tile shown muted at bob")
    # What alice said before muting may still be in bob's jitter buffer: let it play out.
    await asyncio.sleep(2)
    muted = await energy(bob, "alice", 2)
    await alice.click("#camera")
    await until(bob, f"{tile}.classList.contains('no-video')", "alice's tile without video at bob")
    buttons = await alice.evaluate("[document.getElementById('mic').textContent, document.getElementById('camera').textContent]")
    await alice.click("#mic")
    await alice.click("#camera")
    await until(bob, f"!{tile}.classList.contains('no-audio') && !{tile}.classList.contains('no-video')", "alice back at bob")
    return {"energy_before": heard, "energy_muted": muted, "buttons": buttons}


async def leave(carol: Any, alice: Any, bob: Any) -> dict[str, Any]:
    """carol leaves: her page is back at the join screen, her tile goes elsewhere."""
    await carol.click("#leave")
    await carol.wait_for_selector("#join-screen:not([hidden])", timeout=5000)
    tiles = {}
    for page, name in ((alice, "alice"), (bob, "bob")):
        await until(page, "document.querySelectorAll('.tile').length === 2", f"carol's tile gone at {name}", timeout=10)
        tiles[name] = await page.evaluate("[...document.querySelectorAll('.tile .name')].map((e) => e.textContent)")
    return {"tiles": tiles, "carol_state": await carol.evaluate("window.receivedStats()")}


async def channel_from_server(browser: Any, url: str, alice: Any) -> dict[str, Any]:
    """A page that opens no 'chat' channel of its own gets the server's (ondatachannel)."""
    dave = await browser.new_page(viewport=VIEWPORT)
    await dave.add_init_script("window.DEMO_CHANNELS = {cursor: {ordered: false, maxRetransmits: 0}};")
    try:
        await join(dave, url, "dave")
        await decoding(dave, 2)
        await until(dave, "Boolean(call && call.channel('cursor'))", "dave's own cursor channel", timeout=10)
        # alice's message is relayed to dave on a 'chat' channel the server opens.
        await alice.evaluate("call.sendChat('hello dave')")
        received = await until(dave, "window.demo.chat.filter((m) => m.kind === 'channel').map((m) => m.text).join('|')", "alice's message at dave", timeout=10)
        await dave.evaluate("call.sendChat('hello alice')")
        answered = await until(alice, "window.demo.chat.some((m) => m.text === 'hello alice' && m.from === 'dave')", "dave's message at alice")
        return {"received": received, "answered": answered}
    finally:
        await dave.close()


async def whip_steps(browser: Any, url: str, steps: Steps) -> None:
    # WHIP and WHEP with fetch: a page publishes into room "live", a demo
    # page of that room and a WHEP page decode it.
    publisher = await browser.new_page()
    await publisher.goto(f"{url}whip.html?room=live")
    viewer = await browser.new_page(viewport=VIEWPORT)
    await join(viewer, f"{url}?room=live", "viewer")
    await steps.run("whip_in_room", lambda: decoding(viewer, 1))
    player = await browser.new_page()
    await player.goto(f"{url}whep.html?room=live")
    await steps.run("whep", lambda: decoding(player, 1))
    steps.result["whip"] = await publisher.evaluate("window.receivedStats()")
    for page in (publisher, viewer, player):
        await page.close()


async def tls_steps(browser: Any, steps: Steps) -> None:
    """The app as a user starts it for other devices (``--host 0.0.0.0
    --tls``): two pages on https, the self-signed certificate accepted."""
    port = free_port()
    with tempfile.TemporaryFile("w+") as log:
        app = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mediasoup", "demo", "--host", "0.0.0.0", "--port", str(port), "--tls", stdout=asyncio.subprocess.PIPE, stderr=log
        )
        try:
            assert app.stdout is not None
            printed = (await asyncio.wait_for(app.stdout.readline(), 30)).decode()
            found = re.search(r"(https://\S+/)", printed)
            assert found is not None, f"no https address printed: {printed!r}"
            url = found.group(1)
            context = await browser.new_context(ignore_https_errors=True, viewport=VIEWPORT)
            pages = [await context.new_page() for _ in range(2)]
            for page, name in zip(pages, ("erin", "frank")):
                await join(page, url, name)
            decoded = [await decoding(page, 1) for page in pages]
            secure = await pages[0].evaluate("[location.protocol, window.isSecureContext]")
            await context.close()
            steps.result["tls"] = {"printed": printed.strip(), "url": url, "secure": secure, "decoded": decoded}
        finally:
            app.terminate()
            await asyncio.wait_for(app.wait(), 15)
            log.seek(0)
            steps.result["tls_log"] = log.read()[-2000:]


async def main(screenshot: pathlib.Path, file: pathlib.Path) -> None:
    from playwright.async_api import async_playwright

    from mediasoup.demo import app as demo

    port = free_port()
    server = asyncio.ensure_future(demo.serve("127.0.0.1", port))
    url = f"http://127.0.0.1:{port}/"
    steps = Steps()
    try:
        async with async_playwright() as playwright:
            microphone = tone_wav(file.with_name("microphone.wav"))
            flags = [*FLAGS, f"--use-file-for-fake-audio-capture={microphone}"]
            browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=flags)
            await listening(port)
            await call_steps(browser, url, screenshot, file, steps)
            await whip_steps(browser, url, steps)
            await steps.run("tls_run", lambda: tls_steps(browser, steps))
            await browser.close()
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
    print(json.dumps(steps.result))


if __name__ == "__main__":
    asyncio.run(main(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])))
