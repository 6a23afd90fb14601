"""Two headless Chromium pages with mediasoup-client (the bundle of
tests/browser/mediasoup_client) publish to each other through this server,
once per case (a video codec, or simulcast), each case in a room of its own;
prints what each page sent and decoded, as JSON. In the case "data" the pages
exchange messages instead, each with ``produceData`` and ``consumeData``
(DataReceiver and DataSender here); it prints what each page sent and
received. The signalling is the application's part: a WebSocket whose
messages call the Python API. Run it in a network namespace with only
loopback (see tests/test_mediasoup_client.py):

    unshare -n sh -c "ip link set lo up && python tests/browser/mediasoup_client_in_chromium.py vp8 h264 simulcast data"
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

import mediasoup

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from demo_in_chromium import FLAGS, free_port  # noqa: E402

PAGE = pathlib.Path(__file__).resolve().parent / "mediasoup_client"
INDEX = "<!doctype html><meta charset=utf-8><title>mediasoup-client</title><body><script src=bundle.js></script>"

# case → page query
CASES = {
    "vp8": "codec=vp8",
    "vp9": "codec=vp9",
    "h264": "codec=h264",
    "h264-baseline": "codec=h264",
    "simulcast": "codec=vp8&simulcast=1",
    "data": "data=1",
}
# Messages each page sends in the case "data" (text and binary in turns).
CHAT_MESSAGES = 40

# A room's codecs per case, where not the default (whose H264 is
# constrained baseline, 42e01f): the baseline profile Chromium offers first.
ROOM_CODECS = {
    "h264-baseline": [
        {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2},
        {"kind": "video", "mimeType": "video/H264", "clockRate": 90000,
         "parameters": {"packetization-mode": 1, "level-asymmetry-allowed": 1, "profile-level-id": "42001f"}},
    ],
}


def transport_options(transport: mediasoup.Transport) -> dict[str, Any]:
    options: dict[str, Any] = {
        "id": transport.id,
        "iceParameters": transport.iceLocalParameters,
        "iceCandidates": transport.iceLocalCandidates,
        "dtlsParameters": transport.dtlsLocalParameters,
    }
    if transport.sctpParameters is not None:
        options["sctpParameters"] = transport.sctpParameters
    return options


class Participant:
    """The server side of one page: a peer with a send and a receive transport."""

    def __init__(self, room: mediasoup.Room, ws: web.WebSocketResponse, name: str) -> None:
        self.room = room
        self.ws = ws
        self.peer = room.Peer(name)
        self.ready = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.transports: dict[str, mediasoup.Transport] = {}
        self.peer.on("newrtpsender", lambda sender: self.tasks.append(asyncio.ensure_future(self.offer(sender))))
        self.peer.on("newdatasender", lambda sender: self.tasks.append(asyncio.ensure_future(self.offer_data(sender))))

    async def offer(self, sender: mediasoup.RtpSender) -> None:
        await self.ready.wait()
        await sender.setTransport(self.transports["recv"])
        data = {
            "id": sender.id,
            "producerId": sender.associatedRtpReceiver.id,
            "kind": sender.kind,
            "rtpParameters": sender.rtpParameters,
        }
        await self.ws.send_json({"method": "consume", "data": data})

    async def offer_data(self, sender: mediasoup.DataSender) -> None:
        await self.ready.wait()
        await sender.setTransport(self.transports["recv"])
        data = {
            "id": sender.id,
            "dataProducerId": sender.associatedDataReceiver.id,
            "sctpStreamParameters": sender.sctpStreamParameters,
            "label": sender.label,
            "protocol": sender.protocol,
        }
        await self.ws.send_json({"method": "consumeData", "data": data})

    async def handle(self, method: str, data: dict[str, Any]) -> Any:
        if method == "join":
            await self.peer
            for direction in ("send", "recv"):
                self.transports[direction] = await self.peer.createTransport(tcp=False, enableSctp=bool(data.get("sctp")))
            return {
                "routerRtpCapabilities": self.room.rtpCapabilities,
                "send": transport_options(self.transports["send"]),
                "recv": transport_options(self.transports["recv"]),
            }
        if method == "capabilities":
            await self.peer.setCapabilities(data["rtpCapabilities"])
            return None
        if method == "connect":
            transport = next(t for t in self.transports.values() if t.id == data["transportId"])
            await transport.setRemoteDtlsParameters(data["dtlsParameters"])
            return None
        if method == "produce":
            receiver = self.peer.RtpReceiver(data["kind"], self.transports["send"])
            await receiver.receive(data["rtpParameters"])
            return receiver.id
        if method == "producedata":
            data_receiver = self.peer.DataReceiver(self.transports["send"])
            await data_receiver.receive({key: data[key] for key in ("sctpStreamParameters", "label", "protocol")})
            return data_receiver.id
        if method == "ready":
            self.ready.set()
            return None
        raise ValueError(f"unknown method {method!r}")

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.peer.close()


def make_app(server: mediasoup.Server, rooms: dict[str, mediasoup.Room]) -> web.Application:
    """The page and its signalling; a room per case, created in `rooms` when its first page joins."""

    async def index(_: web.Request) -> web.Response:
        return web.Response(text=INDEX, content_type="text/html")

    async def bundle(_: web.Request) -> web.FileResponse:
        return web.FileResponse(PAGE / "build" / "bundle.js")

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        room_name = request.query["room"]
        if room_name not in rooms:
            rooms[room_name] = server.Room(mediaCodecs=ROOM_CODECS.get(room_name))
        participant = Participant(rooms[room_name], ws, request.query["name"])
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                call = json.loads(message.data)
                try:
                    result = await participant.handle(call["method"], call["data"])
                    await ws.send_json({"id": call["id"], "data": result})
                except Exception as error:  # the page shows it in its log
                    await ws.send_json({"id": call["id"], "error": f"{type(error).__name__}: {error}"})
        finally:
            participant.close()
        return ws

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/bundle.js", bundle)
    app.router.add_get("/ws", websocket)
    return app


async def decoding(page: Any, timeout: float = 20) -> dict[str, Any]:
    """What `page` reports once it decodes the other page's audio and video (or at the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        stats: dict[str, Any] = await page.evaluate("window.receivedStats()")
        video = [s for s in stats["inbound"] if s["kind"] == "video" and s["framesDecoded"] >= 10]
        audio = [s for s in stats["inbound"] if s["kind"] == "audio" and s["totalSamplesReceived"] > 0]
        if (video and audio) or time.monotonic() > deadline:
            return stats
        await asyncio.sleep(0.25)


async def exchanging_data(pages: list[Any], room: mediasoup.Room, timeout: float = 20) -> list[dict[str, Any]]:
    """Once each page's data producer and consumer are open, both send
    CHAT_MESSAGES; what each page sent and received (at the timeout, what it
    has), with the room's data senders' statistics."""

    async def until(predicate: Callable[[], Awaitable[bool]]) -> None:
        deadline = time.monotonic() + timeout
        while not await predicate() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    async def all_open() -> bool:
        return all([await page.evaluate("window.chatOpen()") for page in pages])

    async def all_received() -> bool:
        counts = [await page.evaluate("window.dataResult().received.length") for page in pages]
        return all(count >= CHAT_MESSAGES * (len(pages) - 1) for count in counts)

    await until(all_open)
    if await all_open():
        await asyncio.gather(*(page.evaluate(f"window.sendChat({CHAT_MESSAGES})") for page in pages))
        await until(all_received)
    results: list[dict[str, Any]] = [await page.evaluate("window.dataResult()") for page in pages]
    for result, peer_name in zip(results, ("alice", "bob")):
        peer = next(peer for peer in room.peers if peer.name == peer_name)
        result["dataSenderStats"] = [stats for sender in peer.dataSenders for stats in await sender.getStats()]
    return results


async def main(cases: list[str], port_per_worker: bool) -> None:
    from playwright.async_api import async_playwright

    port = free_port()
    # What each case's room ran on, and the ports its transports announced.
    result: dict[str, Any] = {"ports": []}
    rooms: dict[str, mediasoup.Room] = {}
    async with mediasoup.Server(numWorkers=1, logLevel="warn", rtcListenIPv4="127.0.0.1", rtcListenIPv6=False,
                                rtcPortPerWorker=port_per_worker) as server:
        runner = web.AppRunner(make_app(server, rooms))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=FLAGS)
                for case in cases:
                    pages = [await browser.new_page() for _ in range(2)]
                    for name, page in zip(("alice", "bob"), pages):
                        await page.goto(f"http://127.0.0.1:{port}/?room={case}&name={name}&{CASES[case]}")
                    if case == "data":
                        result[case] = await exchanging_data(pages, rooms[case])
                    else:
                        result[case] = [await decoding(page) for page in pages]
                    transports = [transport for peer in rooms[case].peers for transport in peer.transports]
                    result["ports"] += sorted({c["port"] for transport in transports for c in transport.iceLocalCandidates})
                    for page in pages:
                        await page.close()
                await browser.close()
        finally:
            await runner.cleanup()
    print(json.dumps(result))


if __name__ == "__main__":
    # --port-per-worker: the server's transports share the worker's one port.
    arguments = [argument for argument in sys.argv[1:] if not argument.startswith("--")]
    asyncio.run(main(arguments or list(CASES), "--port-per-worker" in sys.argv))
