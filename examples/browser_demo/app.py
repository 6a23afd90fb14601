"""The browser demo: each tab that opens the page joins one room, publishes
its camera and microphone, and shows every other participant.

    python examples/browser_demo/app.py [--host 127.0.0.1] [--port 8080]

Signalling is one WebSocket per tab carrying JSON messages:

- page → server: ``{"type": "offer", "sdp"}`` (once, to join), then
  ``{"type": "answer", "sdp"}`` to each offer the server sends;
- server → page: ``{"type": "answer", "sdp"}``, ``{"type": "offer", "sdp"}``
  (when other participants' streams are to be added: ``negotiationneeded``),
  ``{"type": "peers", "names": [...]}`` whenever the room changes.

The server side of each tab is a :class:`mediasoup.webrtc.RTCPeerConnection`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import pathlib
from typing import Any

from aiohttp import WSMsgType, web

import mediasoup
from mediasoup.webrtc import RTCPeerConnection

_logger = logging.getLogger("browser_demo")
PAGE = pathlib.Path(__file__).with_name("index.html")


class Demo:
    """One room, and the tabs in it."""

    def __init__(self, server: mediasoup.Server) -> None:
        self.server = server
        self.room: mediasoup.Room | None = None
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.numbers = itertools.count(1)

    async def page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(PAGE)

    async def broadcast_peers(self) -> None:
        names = sorted(self.sockets)
        for socket in list(self.sockets.values()):
            if not socket.closed:
                await socket.send_json({"type": "peers", "names": names})

    async def signalling(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(heartbeat=20)
        await socket.prepare(request)
        if self.room is None or self.room.closed:
            self.room = await self.server.Room()
        name = f"participant-{next(self.numbers)}"
        peer = await self.room.Peer(name)
        pc = RTCPeerConnection(peer)
        self.sockets[name] = socket
        renegotiating = asyncio.Lock()

        async def renegotiate() -> None:
            # One offer at a time; the page's answer comes back on the socket.
            async with renegotiating:
                if pc.signalingState != "stable" or socket.closed:
                    return
                offer = await pc.createOffer()
                await pc.setLocalDescription(offer)
                await socket.send_json(offer.toJSON())

        pc.on("negotiationneeded", renegotiate)
        _logger.info("%s joined", name)
        await self.broadcast_peers()
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                data: dict[str, Any] = message.json()
                if data.get("type") == "offer":
                    await pc.setRemoteDescription(data)
                    answer = await pc.createAnswer()
                    await pc.setLocalDescription(answer)
                    await socket.send_json(answer.toJSON())
                elif data.get("type") == "answer":
                    # Streams that arrived meanwhile make negotiationneeded fire again.
                    await pc.setRemoteDescription(data)
        except (ValueError, mediasoup.errors.MediasoupError) as error:
            _logger.warning("%s: %s", name, error)
            await socket.send_json({"type": "error", "message": str(error)})
        finally:
            del self.sockets[name]
            pc.close()
            peer.close()
            _logger.info("%s left", name)
            await self.broadcast_peers()
        return socket


async def serve(host: str, port: int) -> None:
    async with mediasoup.Server(numWorkers=1, rtcListenIPv4=host if host != "localhost" else "127.0.0.1", rtcListenIPv6=False) as server:
        demo = Demo(server)
        app = web.Application()
        app.router.add_get("/", demo.page)
        app.router.add_get("/ws", demo.signalling)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        print(f"the demo is at http://{host}:{port}/ (open it in two tabs)", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="the address to serve the page and media on")
    parser.add_argument("--port", type=int, default=8080)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    try:
        asyncio.run(serve(arguments.host, arguments.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
