"""aiortc (in this process) and a headless Chromium page in one room, both
through SDP (``mediasoup.webrtc.RTCPeerConnection``), each with a 'chat'
data channel opened before its offer. Both send text and binary messages on
it; then Python sends on the page's channel (``peer.sendData``) while it
listens to what the page sends (``datachannelmessage``). Prints, as JSON,
what each side sent and received and what Python heard. Run it in a network
namespace with only loopback (see tests/test_data_channels_in_chromium.py):

    unshare -n sh -c "ip link set lo up && python tests/browser/data_channels_in_chromium.py"
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import pathlib
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import aioice.ice

import mediasoup
from mediasoup.webrtc import RTCPeerConnection

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from demo_in_chromium import FLAGS  # noqa: E402

from tests.clients import SdpEndpoint  # noqa: E402

MESSAGES = 40  # each side sends, text and binary in turns
BINARY_SIZES = [1, 1000, 16384, 65536]  # up to what the server relays
FROM_PYTHON: list[str | bytes] = ["from python ✓", b"\x00\xff from python"]

# The page: its 'chat' channel before the offer; the offer goes to Python
# through the exposed window.answerOffer(), which returns the server's answer.
PAGE = """<!doctype html><meta charset=utf-8><title>chat</title><script>
const pc = new RTCPeerConnection();
const chat = pc.createDataChannel('chat');
chat.binaryType = 'arraybuffer';
window.sent = [];
window.received = [];
chat.onmessage = ({data}) => window.received.push(encodeMessage(data));
function encodeMessage(message) {
  if (typeof message === 'string') return {text: message};
  let binary = '';
  for (const byte of new Uint8Array(message)) binary += String.fromCharCode(byte);
  return {binary: btoa(binary)};
}
window.connect = async () => {
  await pc.setLocalDescription(await pc.createOffer());
  const sdp = await window.answerOffer(pc.localDescription.sdp);
  await pc.setRemoteDescription({type: 'answer', sdp});
};
window.chatOpen = () => chat.readyState === 'open';
window.sendChat = (count, sizes) => {
  for (let index = 0; index < count; index++) {
    const message = index % 2 === 0
      ? (index === 10 ? `page ${index} ${'é'.repeat(30000)}` : `page says ${index} ✓`)
      : crypto.getRandomValues(new Uint8Array(sizes[(index >> 1) % sizes.length]));
    chat.send(message);
    window.sent.push(encodeMessage(typeof message === 'string' ? message : message.buffer));
  }
};
</script>"""


def encoded(message: str | bytes) -> dict[str, str]:
    """A message as JSON carries it, as the page encodes it: {text} or {binary: base64}."""
    if isinstance(message, str):
        return {"text": message}
    return {"binary": base64.b64encode(message).decode()}


def aiortc_messages() -> list[str | bytes]:
    """What aiortc sends: text and random bytes in turns, one text of 60,000 UTF-8 bytes."""
    messages: list[str | bytes] = []
    for index in range(MESSAGES):
        if index % 2 == 0:
            messages.append(f"aiortc {index} {'é' * 30000}" if index == 10 else f"aiortc says {index} ✓")
        else:
            messages.append(os.urandom(BINARY_SIZES[(index >> 1) % len(BINARY_SIZES)]))
    return messages


async def until(predicate: Callable[[], Awaitable[bool]], timeout: float = 20) -> bool:
    """Polls `predicate` until it holds or `timeout` passes; whether it held."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def exchange(browser: Any, room: mediasoup.Room, result: dict[str, Any]) -> None:
    """Fills `result` step by step (what arrived so far stays in it if a step fails)."""
    aiortc_side = SdpEndpoint(await room.Peer("aiortc"))
    page_peer = await room.Peer("page")
    page_server = RTCPeerConnection(page_peer)
    heard: list[tuple[str, str | bytes]] = []
    page_peer.on("datachannelmessage", lambda label, data: heard.append((label, data)))
    page = await browser.new_page()

    async def answer_offer(offer: str) -> str:
        await page_server.setRemoteDescription({"type": "offer", "sdp": offer})
        await page_server.setLocalDescription()
        assert page_server.localDescription is not None
        return page_server.localDescription.sdp

    try:
        await page.expose_function("answerOffer", answer_offer)
        await page.set_content(PAGE)
        aiortc_side.open("chat")
        await aiortc_side.connect()
        await page.evaluate("window.connect()")
        aiortc_chat = await aiortc_side.opened("chat")

        async def page_open() -> bool:
            return bool(await page.evaluate("window.chatOpen()"))

        result["page_open"] = await until(page_open)
        # aiortc and the page send at once, each on its own 'chat' channel.
        sent = aiortc_messages()
        for message in sent:
            aiortc_chat.send(message)
        await page.evaluate(f"window.sendChat({MESSAGES}, {json.dumps(BINARY_SIZES)})")
        result["aiortc_sent"] = [encoded(message) for message in sent]

        async def page_received(count: int) -> bool:
            return bool(await page.evaluate(f"window.received.length >= {count}"))

        async def aiortc_received() -> bool:
            return len(aiortc_side.received.get("chat", [])) >= MESSAGES

        async def python_heard() -> bool:
            return len(heard) >= MESSAGES

        await until(lambda: page_received(MESSAGES))
        await until(aiortc_received)
        await until(python_heard)
        # Python writes on the page's channel, behind what aiortc sent.
        for message in FROM_PYTHON:
            await page_peer.sendData("chat", message)
        result["python_sent"] = [encoded(message) for message in FROM_PYTHON]
        await until(lambda: page_received(MESSAGES + len(FROM_PYTHON)))
    finally:
        result["page_sent"] = await page.evaluate("window.sent")
        result["page_received"] = await page.evaluate("window.received")
        result["aiortc_received"] = [encoded(message) for message in aiortc_side.received.get("chat", [])]
        result["python_heard"] = [[label, encoded(data)] for label, data in heard]
        await page.close()
        await aiortc_side.close()
        page_server.close()


async def main() -> None:
    from playwright.async_api import async_playwright

    # aioice never offers loopback on its own (tests/clients.py use_loopback_only).
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    result: dict[str, Any] = {}
    started = time.monotonic()
    async with mediasoup.Server(numWorkers=1, logLevel="warn", rtcListenIPv4="127.0.0.1", rtcListenIPv6=False) as server:
        room = await server.Room()
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=FLAGS)
            try:
                await exchange(browser, room, result)
            except Exception as failure:  # noqa: BLE001 (reported for the test to show)
                result["error"] = f"{type(failure).__name__}: {failure}\n{traceback.format_exc()[-1500:]}"
            finally:
                await browser.close()
    result["seconds"] = time.monotonic() - started
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
