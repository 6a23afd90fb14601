"""The benchmark's Python baseline: an aiortc relay, one publisher forwarded
to N subscribers with aiortc's `MediaRelay` (what a Python developer writes
without an SFU). aiortc decodes what it receives and encodes it again for
each subscriber, so the load generator sends it real media (bench/clip.py)
and counts what arrives by video frame rather than by packet trailer.

The relay runs in its own process (`python -m bench.relay`, pinned like
the other SFUs), driven in JSON lines on stdin/stdout:

- `{"tx", "op": "publish", "sdp": offer}` → `{"tx", "sdp": answer}`;
- `{"tx", "op": "subscribe", "id", "data"?}` → `{"tx", "sdp": offer}` (a new
  peer connection with the publisher's tracks through the relay; with
  `data`, a 'chat' data channel to which every message the publisher sends
  on its channels is relayed: the data-channel benchmark, bench/data.py);
- `{"tx", "op": "answer", "id", "sdp"}` → `{"tx"}`.

Three settings in the relay process: aioice offers 127.0.0.1 (it skips
loopback on its own); aiortc's senders keep the publisher's RTP timestamps
(each picks a random origin otherwise) so that the load generator matches
a frame's arrival to its sending; and they encode at the clip's 1 Mbit/s
from the start (aiortc starts at 500 kbit/s and follows REMB, which the
load generator does not send), so the relay sends what it receives.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from mediasoup.webrtc import sdp

from .clip import VIDEO_BITRATE
from .clip import write as write_clip
from .loadgen import ROOT, Loadgen, stop
from .sdp_clients import PUBLISHER_CODECS, PUBLISHER_STREAMS, extensions, ice, publisher_offer, server_side, subscriber_answer

ADDRESS = "127.0.0.1"
CLIP = ROOT / "target" / "bench-clip-1.bin"


class Relay:
    """The aiortc relay under load: `setup()` the publisher, `join_one()` a subscriber."""

    name = "aiortc relay"
    #: Loss counts video frames (bench/run.py).
    counts_frames = True
    #: It decodes and encodes per subscriber: it saturates at a few.
    sizes = [1, 2, 4, 8]
    join_count = 10

    def __init__(self, loadgen: Loadgen, cpu: int | None) -> None:
        self.loadgen = loadgen
        self.cpu = cpu
        self.process: asyncio.subprocess.Process | None = None
        self.subscribers = 0
        self._transactions = 0
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        """The relay process, pinned, with nothing published yet."""
        command = [sys.executable, "-m", "bench.relay"]
        if self.cpu is not None:
            command = ["taskset", "-c", str(self.cpu), *command]
        self.process = await asyncio.create_subprocess_exec(*command, cwd=ROOT, stdin=asyncio.subprocess.PIPE,
                                                            stdout=asyncio.subprocess.PIPE, limit=1 << 22)
        self._reader = asyncio.ensure_future(self._read())

    async def setup(self) -> None:
        clip = await asyncio.to_thread(write_clip, CLIP)
        await self.start()
        local = ice()
        reply = await self._call({"op": "publish", "sdp": publisher_offer(self.loadgen, local, ADDRESS)})
        answer = sdp.parse(reply["sdp"])
        server, setup = server_side(answer)
        connected = self.loadgen.connect("publisher", "publisher", server, extensions(answer), PUBLISHER_CODECS,
                                         PUBLISHER_STREAMS, local=local, dtls_client=setup == "passive", clip=str(clip))
        await asyncio.wait_for(connected, 20)

    async def join_one(self) -> float:
        """One subscriber, from its offer to DTLS connected: answers the time it took (ms)."""
        index = self.subscribers
        self.subscribers += 1
        started = time.perf_counter()
        offer = sdp.parse((await self._call({"op": "subscribe", "id": index}))["sdp"])
        server, _ = server_side(offer)
        local = ice()
        answer, codecs, streams = subscriber_answer(offer, self.loadgen, local, ADDRESS)
        connected = self.loadgen.connect(f"subscriber-{index}", "subscriber", server, extensions(offer), codecs, streams,
                                         local=local, dtls_client=False, ice_controlling=False, frames=True)
        await self._call({"op": "answer", "id": index, "sdp": answer})
        await asyncio.wait_for(connected, 30)
        return (time.perf_counter() - started) * 1000

    async def _call(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.process is not None and self.process.stdin is not None
        self._transactions += 1
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[self._transactions] = reply
        self.process.stdin.write((json.dumps({**message, "tx": self._transactions}) + "\n").encode())
        result = await asyncio.wait_for(reply, 30)
        if "error" in result:
            raise RuntimeError(f"aiortc relay: {result['error']}")
        return result

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while line := await self.process.stdout.readline():
            message = json.loads(line)
            reply = self._replies.pop(message.get("tx", 0), None)
            if reply is not None and not reply.done():
                reply.set_result(message)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await stop(self.process)


async def serve() -> None:
    """The relay process: one publisher, its tracks relayed to every subscriber."""
    import aioice.ice
    import aiortc.codecs.vpx
    import aiortc.rtcrtpsender
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaRelay

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [ADDRESS]
    aiortc.rtcrtpsender.uint32_add = lambda a, b: b & 0xFFFFFFFF  # origin + timestamp → timestamp
    # Re-encode at the rate received (aiortc starts at 500 kbit/s and waits for REMB).
    aiortc.codecs.vpx.DEFAULT_BITRATE = VIDEO_BITRATE
    relay = MediaRelay()
    tracks: dict[str, Any] = {}
    connections: dict[int, RTCPeerConnection] = {}
    publishers: list[RTCPeerConnection] = []
    # The subscribers' data channels: what a publisher's channels carry goes to each.
    channels: list[Any] = []

    def relay_channel(channel: Any) -> None:
        @channel.on("message")
        def on_message(message: Any) -> None:
            for subscriber in channels:
                if subscriber.readyState == "open":
                    subscriber.send(message)

    def configuration() -> RTCConfiguration:
        return RTCConfiguration(iceServers=[])

    async def handle(message: dict[str, Any]) -> dict[str, Any]:
        if message["op"] == "publish":
            connection = RTCPeerConnection(configuration())
            publishers.append(connection)
            connection.on("track", lambda track: tracks.__setitem__(track.kind, track))
            connection.on("datachannel", relay_channel)
            await connection.setRemoteDescription(RTCSessionDescription(message["sdp"], "offer"))
            await connection.setLocalDescription(await connection.createAnswer())
            return {"sdp": connection.localDescription.sdp}
        if message["op"] == "subscribe":
            connection = RTCPeerConnection(configuration())
            connections[message["id"]] = connection
            for kind in ("video", "audio"):
                if kind in tracks:
                    connection.addTrack(relay.subscribe(tracks[kind], buffered=False))
            if message.get("data"):
                channels.append(connection.createDataChannel("chat"))
            await connection.setLocalDescription(await connection.createOffer())
            return {"sdp": connection.localDescription.sdp}
        if message["op"] == "answer":
            await connections[message["id"]].setRemoteDescription(RTCSessionDescription(message["sdp"], "answer"))
            return {}
        raise ValueError(f"unknown op {message['op']!r}")

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 22)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def answer(message: dict[str, Any]) -> None:
        try:
            reply = await handle(message)
        except Exception as error:  # the driver is told, the relay goes on
            reply = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps({**reply, "tx": message.get("tx")}) + "\n")
        sys.stdout.flush()

    pending: set[asyncio.Task[None]] = set()
    while line := await reader.readline():
        task = asyncio.ensure_future(answer(json.loads(line)))
        pending.add(task)
        task.add_done_callback(pending.discard)
    for connection in [*connections.values(), *publishers]:
        await connection.close()


if __name__ == "__main__":
    asyncio.run(serve())
