"""Simulcast from headless Chromium through ``mediasoup.webrtc.RTCPeerConnection``:
a page publishes its fake camera at 1280×720 in three encodings (rids q, h,
f at ¼, ½ and full size), the answer naming them (``a=rid``/``a=simulcast``),
or for VP9 and AV1 in one encoding of three spatial layers (SVC, ``L3T3_KEY``);
two viewer pages receive it, one unconstrained, one whose sender prefers
the lowest layer; then the preferences change (the second viewer to the
middle layer, the first to the base temporal layer). Then, in a room with
bandwidth estimation, a third viewer receives through a UDP relay that
becomes a bottleneck for a while. Once per codec (VP8, H264, VP9 SVC, AV1 SVC). Prints, as JSON per codec, what each page
decoded over time (frame sizes, frames decoded), what the publisher sent
per rid, and the server's view: each sender's ``currentLayers``, ``score``,
``layerschange`` and ``score`` events, the receiver's statistics per layer. Run it in a
network namespace with only loopback (see tests/test_simulcast.py):

    unshare -n sh -c "ip link set lo up && python tests/browser/simulcast_in_chromium.py vp8 h264"
"""

from __future__ import annotations

import asyncio
import collections
import json
import pathlib
import sys
import time
from typing import Any

from aiohttp import web

import mediasoup
from mediasoup.webrtc import RTCPeerConnection

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from demo_in_chromium import FLAGS, free_port  # noqa: E402

PAGE = """<!doctype html><meta charset=utf-8><title>simulcast</title><body><script type=module>
const query = new URLSearchParams(location.search);
const pc = new RTCPeerConnection();
window.pc = pc;
if (query.get('role') === 'publisher') {
  const stream = await navigator.mediaDevices.getUserMedia({video: {width: 1280, height: 720, frameRate: 30}});
  const sendEncodings = query.get('svc') ? [{scalabilityMode: query.get('svc')}] : [
    {rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 200000},
    {rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 600000},
    {rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1800000},
  ];
  pc.addTransceiver(stream.getVideoTracks()[0], {direction: 'sendonly', streams: [stream], sendEncodings});
} else {
  const transceiver = pc.addTransceiver('video', {direction: 'recvonly'});
  // Chromium offers the dependency descriptor only to send; a viewer asks for it (AV1 SVC's is forwarded).
  const descriptor = 'https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension';
  transceiver.setHeaderExtensionsToNegotiate(transceiver.getHeaderExtensionsToNegotiate().map(
    extension => extension.uri === descriptor ? {...extension, direction: 'recvonly'} : extension));
  pc.ontrack = ({track}) => {
    const video = document.createElement('video');
    video.srcObject = new MediaStream([track]);
    video.muted = true;
    video.autoplay = true;
    document.body.appendChild(video);
  };
}
await pc.setLocalDescription(await pc.createOffer());
const response = await fetch(`/offer?${query}`, {method: 'POST', body: pc.localDescription.sdp});
if (!response.ok) throw new Error(await response.text());
await pc.setRemoteDescription({type: 'answer', sdp: await response.text()});
window.ready = true;
window.report = async () => {
  const result = {inbound: null, outbound: []};
  for (const report of (await pc.getStats()).values()) {
    if (report.type === 'inbound-rtp' && report.kind === 'video') {
      result.extensions = pc.getReceivers().flatMap(receiver => receiver.getParameters().headerExtensions.map(extension => extension.uri));
      result.inbound = {frameWidth: report.frameWidth || 0, frameHeight: report.frameHeight || 0, framesDecoded: report.framesDecoded || 0,
                        framesPerSecond: report.framesPerSecond || 0, freezeCount: report.freezeCount || 0};
    }
    if (report.type === 'outbound-rtp' && report.kind === 'video') {
      result.outbound.push({rid: report.rid, frameWidth: report.frameWidth || 0, packetsSent: report.packetsSent, scalabilityMode: report.scalabilityMode,
                            qualityLimitationReason: report.qualityLimitationReason});
    }
  }
  result.outbound.sort((a, b) => (a.rid < b.rid ? -1 : 1));
  return result;
};
</script>"""

# Dave's downlink while limited, in bits per second.
LIMIT = 250_000

CODECS = {
    "vp8": {"kind": "video", "mimeType": "video/VP8", "clockRate": 90000},
    "h264": {"kind": "video", "mimeType": "video/H264", "clockRate": 90000,
             "parameters": {"packetization-mode": 1, "level-asymmetry-allowed": 1, "profile-level-id": "42e01f"}},
    "vp9": {"kind": "video", "mimeType": "video/VP9", "clockRate": 90000, "parameters": {"profile-id": 0}},
    "av1": {"kind": "video", "mimeType": "video/AV1", "clockRate": 90000},
}

# The codecs published with SVC (one encoding), and the scalability mode asked of Chromium
# (libaom encodes AV1 here; its layers are named by the dependency descriptor).
SVC = {"vp9": "L3T3_KEY", "av1": "L3T3_KEY"}


class ShapedRelay(asyncio.DatagramProtocol):
    """A UDP relay between a page and the server's UDP candidate whose way
    toward the page is a bottleneck when `rate` is set: datagrams leave at
    `rate` bits per second from a queue of at most `QUEUE` seconds of it,
    the rest is dropped (as at a congested link). The other way is free."""

    QUEUE = 0.2

    def __init__(self, server: tuple[str, int]) -> None:
        self.server = server
        self.rate: int | None = None
        self.page: tuple[str, int] | None = None
        self.toward_page: asyncio.DatagramTransport | None = None
        self.toward_server: asyncio.DatagramTransport | None = None
        # (when it arrived, the datagram)
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.queued = 0
        self.dropped = 0
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        relay = self

        class FromServer(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, address: Any) -> None:
                relay.from_server(data)

        self.toward_page, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self.toward_server, _ = await loop.create_datagram_endpoint(FromServer, remote_addr=self.server)
        self.task = asyncio.ensure_future(self.drain())
        return int(self.toward_page.get_extra_info("sockname")[1])

    def datagram_received(self, data: bytes, address: Any) -> None:
        self.page = address
        assert self.toward_server is not None
        self.toward_server.sendto(data)

    def from_server(self, data: bytes) -> None:
        if self.rate is not None and self.queued + len(data) > self.rate / 8 * self.QUEUE:
            self.dropped += 1
            return
        self.queue.append((asyncio.get_running_loop().time(), data))
        self.queued += len(data)
        self.wake.set()

    async def drain(self) -> None:
        loop = asyncio.get_running_loop()
        # When the link is free again: each datagram takes its time at
        # `rate` from then (or from its arrival, if the link was idle), so
        # the event loop's lateness does not make the link slower than `rate`.
        free_at = 0.0
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.queue:
                arrived, data = self.queue.popleft()
                self.queued -= len(data)
                if self.page is not None and self.toward_page is not None:
                    self.toward_page.sendto(data, self.page)
                if self.rate is not None:
                    free_at = max(free_at, arrived) + len(data) * 8 / self.rate
                    await asyncio.sleep(max(0.0, free_at - loop.time()))

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        for transport in (self.toward_page, self.toward_server):
            if transport is not None:
                transport.close()


def through_relay(answer: str, port: int) -> str:
    """An answer whose only candidate is the relay's (UDP on `port`); the server's UDP port is kept aside."""
    lines = []
    for line in answer.split("\r\n"):
        if line.startswith("a=candidate:"):
            parts = line.split()
            if parts[2].lower() != "udp":
                continue
            parts[5] = str(port)
            line = " ".join(parts)
        lines.append(line)
    return "\r\n".join(lines)


def udp_candidate(answer: str) -> tuple[str, int]:
    for line in answer.split("\r\n"):
        if line.startswith("a=candidate:") and line.split()[2].lower() == "udp":
            parts = line.split()
            return parts[4], int(parts[5])
    raise ValueError("the answer has no UDP candidate")


class Call:
    """One room: the publisher's and the viewers' peers, and what their senders reported."""

    def __init__(self, server: mediasoup.Server, codec: str, bandwidth_estimation: bool) -> None:
        self.room = server.Room(mediaCodecs=[CODECS[codec]], bandwidthEstimation=bandwidth_estimation)
        self.connections: dict[str, RTCPeerConnection] = {}
        self.senders: dict[str, mediasoup.RtpSender] = {}
        self.changes: dict[str, list[Any]] = {}
        self.scores: dict[str, list[Any]] = {}
        self.relays: dict[str, ShapedRelay] = {}

    async def answer(self, request: web.Request) -> web.Response:
        name = request.query["name"]
        peer = await self.room.Peer(name)
        pc = RTCPeerConnection(peer)
        self.connections[name] = pc
        changes = self.changes.setdefault(name, [])
        scores = self.scores.setdefault(name, [])

        def track(sender: mediasoup.RtpSender) -> None:
            self.senders[name] = sender
            sender.on("layerschange", lambda layers: changes.append([round(time.monotonic(), 3), layers]))
            sender.on("score", lambda score: scores.append([round(time.monotonic(), 3), score]))

        peer.on("newrtpsender", track)
        for sender in peer.rtpSenders:
            track(sender)
        await pc.setRemoteDescription({"type": "offer", "sdp": await request.text()})
        if "spatial" in request.query:
            await self.senders[name].setPreferredLayers(int(request.query["spatial"]))
        await pc.setLocalDescription(await pc.createAnswer())
        assert pc.localDescription is not None
        answer = pc.localDescription.sdp
        if "relay" in request.query:
            relay = self.relays[name] = ShapedRelay(udp_candidate(answer))
            answer = through_relay(answer, await relay.start())
        return web.Response(text=answer, content_type="application/sdp")

    async def server_view(self) -> dict[str, Any]:
        (receiver,) = [receiver for peer in self.room.peers for receiver in peer.rtpReceivers]
        stats = await receiver.getStats()
        return {
            "receiverStats": [{"rid": s.get("rid"), "packetsReceived": s["packetsReceived"], "layers": s.get("layers")} for s in stats],
            "currentLayers": {name: sender.currentLayers for name, sender in self.senders.items()},
            "preferredLayers": {name: sender.preferredLayers for name, sender in self.senders.items()},
            "changes": self.changes,
            "scores": {name: sender.score for name, sender in self.senders.items()},
            "estimates": {name: await self.estimate(name) for name in self.senders},
        }

    async def estimate(self, name: str) -> int | None:
        """The bandwidth estimate toward a viewer (its transport's ``availableOutgoingBitrate``)."""
        transport = self.connections[name].transport
        if transport is None:
            return None
        stats = await transport.getStats()
        value = stats[0].get("availableOutgoingBitrate")
        return int(value) if value is not None else None

    async def follow_estimate(self, name: str, into: list[Any]) -> None:
        """Appends [time, estimate toward `name`, its sender's spatial layer,
        datagrams its relay dropped so far] every half second."""
        while True:
            layers = self.senders[name].currentLayers
            relay = self.relays.get(name)
            sample = [round(time.monotonic(), 3), await self.estimate(name), layers and layers["spatialLayer"], relay and relay.dropped]
            into.append(sample)
            await asyncio.sleep(0.5)

    def close(self) -> None:
        for relay in self.relays.values():
            relay.close()
        for pc in self.connections.values():
            pc.close()
        self.room.close()


async def watch(pages: dict[str, Any], seconds: float, until: Any = None, steady: float = 3) -> list[dict[str, Any]]:
    """Every viewer page's report every 250 ms for `seconds`, or less once
    `until(reports)` has held for `steady` seconds."""
    samples: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    held_since = None
    while time.monotonic() < deadline:
        reports = {name: await page.evaluate("window.report()") for name, page in pages.items()}
        now = time.monotonic()
        samples.append({"at": round(now, 3), **reports})
        if until is not None:
            held_since = (held_since or now) if until(reports) else None
            if held_since is not None and now - held_since >= steady:
                break
        await asyncio.sleep(0.25)
    return samples


def width(reports: dict[str, Any], name: str) -> int:
    inbound = reports[name]["inbound"]
    return int(inbound["frameWidth"]) if inbound else 0


def still_at_end(samples: list[dict[str, Any]], name: str) -> float:
    """How long `name` had decoded no new frame at the last sample: from the
    first sample that showed its final count (0 for a picture still moving;
    the samples are 0.25 s apart)."""

    def decoded(sample: dict[str, Any]) -> int:
        inbound = sample[name]["inbound"]
        return int(inbound["framesDecoded"]) if inbound else 0

    final = decoded(samples[-1])
    first = next(s for s in samples if decoded(s) >= final)
    return float(samples[-1]["at"] - first["at"])


def longest_stall(samples: list[dict[str, Any]], name: str) -> float:
    """The longest time between two samples in which `name` decoded no frame."""
    longest, since = 0.0, samples[0]["at"]
    for previous, sample in zip(samples, samples[1:]):
        if sample[name]["inbound"]["framesDecoded"] > previous[name]["inbound"]["framesDecoded"]:
            since = sample["at"]
        longest = max(longest, sample["at"] - since)
    return longest


def adaptation(limited: list[dict[str, Any]], lifted: list[dict[str, Any]]) -> dict[str, float | None]:
    """How Dave's view followed the bottleneck: seconds from the limit to
    the first lower layer decoded, the longest stall under the limit, and
    seconds from its end to the top layer decoded again (None: it never was);
    and how long the picture had been still when the limit was lifted."""
    fell = next((s["at"] for s in limited if 0 < width(s, "dave") < 1280), None)
    climbed = next((s["at"] for s in lifted if width(s, "dave") == 1280), None)
    return {
        "fellAfter": None if fell is None else round(fell - limited[0]["at"], 3),
        "longestStall": round(longest_stall(limited, "dave"), 3),
        "stillAtEnd": round(still_at_end(limited, "dave"), 3),
        "climbedAfter": None if climbed is None else round(climbed - lifted[0]["at"], 3),
    }


async def serve(call: Call, port: int) -> web.AppRunner:
    """The page and the offer endpoint of `call` on `port`."""
    app = web.Application()
    app.router.add_get("/", lambda _: web.Response(text=PAGE, content_type="text/html"))
    app.router.add_post("/offer", call.answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def open_page(browser: Any, port: int, query: str) -> Any:
    page = await browser.new_page()
    await page.goto(f"http://127.0.0.1:{port}/?{query}")
    await page.wait_for_function("window.ready === true", timeout=15_000)
    return page


async def publishing(browser: Any, port: int, codec: str) -> Any:
    """The publisher's page, once its bandwidth estimate lets it send all three layers."""
    svc = SVC.get(codec)
    publisher = await open_page(browser, port, "role=publisher&name=alice" + (f"&svc={svc}" if svc else ""))
    for _ in range(80):
        outbound = (await publisher.evaluate("window.report()"))["outbound"]
        sending = all(o["packetsSent"] > 0 and o["frameWidth"] > 0 for o in outbound)
        if sending and (len(outbound) == 3 or (svc is not None and len(outbound) == 1 and outbound[0]["frameWidth"] == 1280)):
            break
        await asyncio.sleep(0.25)
    return publisher


async def preferences(browser: Any, server: mediasoup.Server, port: int, codec: str) -> dict[str, Any]:
    """Bob unconstrained and Carol preferring layer 0, then 1 (Bob the base
    temporal layer), in a room without bandwidth estimation: the layers
    follow the preferences and the publisher alone."""
    call = Call(server, codec, bandwidth_estimation=False)
    runner = await serve(call, port)
    result: dict[str, Any] = {}
    try:
        publisher = await publishing(browser, port, codec)
        pages = {name: await open_page(browser, port, f"role=viewer&name={name}{query}") for name, query in (("bob", ""), ("carol", "&spatial=0"))}
        # Bob settles on the top layer, Carol on the lowest: 3 s steady.
        result["first"] = await watch(pages, 30, lambda r: width(r, "bob") == 1280 and width(r, "carol") == 320)
        result["publisher"] = await publisher.evaluate("window.report()")
        result["server_first"] = await call.server_view()
        # Carol now prefers the middle layer, Bob the base temporal layer of the top one.
        await call.senders["carol"].setPreferredLayers(1)
        await call.senders["bob"].setPreferredLayers(2, 0)
        result["second"] = await watch(pages, 15, lambda r: width(r, "carol") == 640)
        result["server_second"] = await call.server_view()
        for page in (publisher, *pages.values()):
            await page.close()
    finally:
        call.close()
        await runner.cleanup()
    return result


async def bottleneck(browser: Any, server: mediasoup.Server, port: int, codec: str) -> dict[str, Any]:
    """Dave, in a room with bandwidth estimation, receives through a relay:
    unlimited, then LIMIT, then unlimited again."""
    call = Call(server, codec, bandwidth_estimation=True)
    runner = await serve(call, port)
    result: dict[str, Any] = {}
    try:
        publisher = await publishing(browser, port, codec)
        dave = {"dave": await open_page(browser, port, "role=viewer&name=dave&relay=1")}
        result["dave_free"] = await watch(dave, 30, lambda r: width(r, "dave") == 1280)
        result["dave_estimate_free"] = await call.estimate("dave")
        estimates = asyncio.ensure_future(call.follow_estimate("dave", result.setdefault("dave_estimates", [])))
        call.relays["dave"].rate = LIMIT
        result["dave_limited"] = await watch(dave, 10, lambda r: 0 < width(r, "dave") < 1280, steady=2)
        result["dave_limited"] += await watch(dave, 8)
        result["dave_estimate_limited"] = await call.estimate("dave")
        call.relays["dave"].rate = None
        result["dave_lifted"] = await watch(dave, 30, lambda r: width(r, "dave") == 1280, steady=2)
        result["dave_estimate_lifted"] = await call.estimate("dave")
        estimates.cancel()
        result["dave_adaptation"] = adaptation(result["dave_limited"], result["dave_lifted"])
        result["dave_changes"] = call.changes["dave"]
        result["dave_scores"] = call.scores["dave"]
        result["relay_dropped"] = call.relays["dave"].dropped
        for page in (publisher, *dave.values()):
            await page.close()
    finally:
        call.close()
        await runner.cleanup()
    return result


async def run_case(browser: Any, server: mediasoup.Server, codec: str) -> dict[str, Any]:
    return {**await preferences(browser, server, free_port(), codec), **await bottleneck(browser, server, free_port(), codec)}


async def main(codecs: list[str]) -> None:
    from playwright.async_api import async_playwright

    result: dict[str, Any] = {}
    async with mediasoup.Server(numWorkers=1, logLevel="warn", rtcListenIPv4="127.0.0.1", rtcListenIPv6=False) as server:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=FLAGS)
            for codec in codecs:
                try:
                    result[codec] = await run_case(browser, server, codec)
                except Exception as failure:  # the test shows it with the others
                    result[codec] = {"error": f"{type(failure).__name__}: {failure}"}
            await browser.close()
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or list(CODECS)))
