"""The benchmark's adapter to mediasoup's own C++ worker, npm release 3.8.4
(built by bench/build-mediasoup-cpp into the user's cache), under the same
load as this project: Node runs bench/mediasoup_cpp.js, one Worker and one
Router, and takes the load generator's parameters through mediasoup's ORTC
API (no SDP). The CPU measured is the `mediasoup-worker` process's alone,
as this project's worker's alone is: Node, like the Python driver, is the
control plane and idle during the window."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import pathlib
import shutil
import time
from typing import Any

from .loadgen import AUDIO_SSRC, MID_URI, VIDEO_RTX_SSRC, VIDEO_SSRC, Loadgen, pin, stop

VERSION = "3.8.4"
#: Where bench/build-mediasoup-cpp unpacks and builds the release.
HOME = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache") / "mediasoup-python-bench" / f"mediasoup-{VERSION}"
WORKER_BINARY = HOME / "worker" / "out" / "Release" / "mediasoup-worker"
DRIVER = pathlib.Path(__file__).with_name("mediasoup_cpp.js")
#: The header extensions the load generator's clients use, as this project's transports write them.
EXTENSIONS = (MID_URI, "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
              "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01")
#: The RTCP feedback the load generator's video takes part in (a browser's, less REMB and FIR).
VIDEO_FEEDBACK = ({"type": "nack"}, {"type": "nack", "parameter": "pli"}, {"type": "transport-cc"})


def installed() -> bool:
    return WORKER_BINARY.exists() and shutil.which("node") is not None


class MediasoupCpp:
    """mediasoup 3.8.4's C++ worker under load: `setup()` the publisher, `join_one()` a subscriber."""

    name = f"mediasoup {VERSION} (C++ worker)"
    #: A new consumer forwards video from the next keyframe (every 2 s; the load generator ignores PLIs).
    settle = 2.5

    def __init__(self, loadgen: Loadgen, cpu: int | None) -> None:
        self.loadgen = loadgen
        self.cpu = cpu
        self.process: asyncio.subprocess.Process | None = None
        self.pid = 0
        self.subscribers = 0
        self._requests = itertools.count(1)
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def setup(self) -> None:
        """Node, the worker (pinned) and its router; the publisher connected."""
        self.process = await asyncio.create_subprocess_exec(
            "node", str(DRIVER), str(HOME), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "MEDIASOUP_WORKER_BIN": str(WORKER_BINARY)}, limit=1 << 24)
        assert self.process.stdout is not None
        ready = json.loads(await asyncio.wait_for(self.process.stdout.readline(), 30))
        self.pid = ready["pid"]
        pin(self.pid, self.cpu)
        self._reader = asyncio.ensure_future(self._read())
        self._capabilities(ready["rtpCapabilities"])
        created = await self._request("transport")
        connected = self.loadgen.connect("publisher", "publisher", created["server"], self.extensions, self.codecs, [
            {"mid": "0", "kind": "video", "ssrc": VIDEO_SSRC, "rtx": VIDEO_RTX_SSRC, "pt": self._vp8["preferredPayloadType"]},
            {"mid": "1", "kind": "audio", "ssrc": AUDIO_SSRC, "rtx": None, "pt": self._opus["preferredPayloadType"]},
        ])
        await self._request("produce", transport=created["transport"], kind="video", rtpParameters={
            "mid": "0",
            "codecs": [
                {"mimeType": "video/VP8", "payloadType": self._vp8["preferredPayloadType"], "clockRate": 90000,
                 "rtcpFeedback": list(VIDEO_FEEDBACK)},
                {"mimeType": "video/rtx", "payloadType": self._rtx["preferredPayloadType"], "clockRate": 90000,
                 "parameters": {"apt": self._vp8["preferredPayloadType"]}},
            ],
            "headerExtensions": self._header_extensions,
            "encodings": [{"ssrc": VIDEO_SSRC, "rtx": {"ssrc": VIDEO_RTX_SSRC}}],
            "rtcp": {"cname": "loadgen"},
        })
        await self._request("produce", transport=created["transport"], kind="audio", rtpParameters={
            "mid": "1",
            "codecs": [{"mimeType": "audio/opus", "payloadType": self._opus["preferredPayloadType"], "clockRate": 48000, "channels": 2}],
            "headerExtensions": self._header_extensions,
            "encodings": [{"ssrc": AUDIO_SSRC}],
            "rtcp": {"cname": "loadgen"},
        })
        await self._request("connect", transport=created["transport"], dtlsParameters=self.loadgen.dtls_parameters)
        await asyncio.wait_for(connected, 10)

    def _capabilities(self, router: dict[str, Any]) -> None:
        """From the router's capabilities: the payload types and extension
        ids of VP8 (with RTX) and Opus, and the capabilities of the load
        generator's subscribers (what a client would intersect them to)."""
        codecs = router["codecs"]
        self._vp8 = next(c for c in codecs if c["mimeType"] == "video/VP8")
        self._rtx = next(c for c in codecs if c["mimeType"] == "video/rtx" and c["parameters"]["apt"] == self._vp8["preferredPayloadType"])
        self._opus = next(c for c in codecs if c["mimeType"] == "audio/opus")
        self.codecs = [
            {"pt": self._vp8["preferredPayloadType"], "rtx": self._rtx["preferredPayloadType"], "mime": "video/VP8", "clock": 90000, "channels": None},
            {"pt": self._opus["preferredPayloadType"], "rtx": None, "mime": "audio/opus", "clock": 48000, "channels": 2},
        ]
        ids = {extension["uri"]: extension["preferredId"] for extension in router["headerExtensions"]}
        self.extensions = [[ids[uri], uri] for uri in EXTENSIONS]
        self._header_extensions = [{"uri": uri, "id": ids[uri]} for uri in EXTENSIONS]
        self._subscriber_capabilities = {
            "codecs": [{**self._vp8, "rtcpFeedback": list(VIDEO_FEEDBACK)}, self._rtx, self._opus],
            "headerExtensions": [extension for extension in router["headerExtensions"] if extension["uri"] in EXTENSIONS],
        }

    async def join_one(self) -> float:
        """One subscriber, a consumer of video and one of audio, from
        createWebRtcTransport to DTLS connected: answers the time it took (ms)."""
        index = self.subscribers
        self.subscribers += 1
        started = time.perf_counter()
        created = await self._request("transport")
        consumed = await self._request("consume", transport=created["transport"], rtpCapabilities=self._subscriber_capabilities)
        streams = []
        extensions: dict[int, str] = {}
        for consumer in consumed["consumers"]:
            parameters = consumer["rtpParameters"]
            encoding = parameters["encodings"][0]
            streams.append({"mid": parameters["mid"], "kind": consumer["kind"], "ssrc": encoding["ssrc"],
                            "rtx": encoding.get("rtx", {}).get("ssrc")})
            extensions.update((extension["id"], extension["uri"]) for extension in parameters["headerExtensions"])
        connected = self.loadgen.connect(f"subscriber-{index}", "subscriber", created["server"], [list(item) for item in extensions.items()],
                                         self.codecs, streams)
        await self._request("connect", transport=created["transport"], dtlsParameters=self.loadgen.dtls_parameters)
        await asyncio.wait_for(connected, 30)
        return (time.perf_counter() - started) * 1000

    async def _request(self, op: str, **body: Any) -> dict[str, Any]:
        assert self.process is not None and self.process.stdin is not None
        request = next(self._requests)
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[request] = reply
        self.process.stdin.write((json.dumps({"id": request, "op": op, **body}) + "\n").encode())
        answer = await asyncio.wait_for(reply, 30)
        if "error" in answer:
            raise RuntimeError(f"mediasoup {op}: {answer['error']}")
        return answer

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while line := await self.process.stdout.readline():
            message = json.loads(line)
            reply = self._replies.pop(message["id"], None)
            if reply is not None and not reply.done():
                reply.set_result(message)

    async def close(self) -> None:
        """Ends Node (closing its stdin), which closes the worker."""
        if self.process is not None and self.process.stdin is not None:
            self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except asyncio.TimeoutError:
                await stop(self.process)
        if self._reader is not None:
            self._reader.cancel()
