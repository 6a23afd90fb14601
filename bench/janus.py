"""The benchmark's adapter to Janus's videoroom (Debian's `janus`), through
its REST API with SDP, under the same load as this project.

Janus skips loopback interfaces when it gathers ICE candidates, so it runs
in a private network namespace (made by `bench/run.py --sfu janus`) where
127.0.0.2/32 sits on a veth: `--interface=127.0.0.2 --ice-enforce-list=<veth>
--ice-lite`, `event_loops = 2`; the load generator binds 127.0.0.2 too.
"""

from __future__ import annotations

import asyncio
import itertools
import pathlib
import shutil
import tempfile
import time
from typing import Any

from mediasoup.webrtc import sdp

from .loadgen import Loadgen, pin, stop
from .sdp_clients import PUBLISHER_CODECS, PUBLISHER_STREAMS, extensions, ice, publisher_offer, server_side, subscriber_answer

VETH = "jveth0"
ADDRESS = "127.0.0.2"
ROOM = 4242
PLUGINS = "/usr/lib/x86_64-linux-gnu/janus/plugins"
#: Plugins and transports left out: only the videoroom over plain HTTP is used.
UNUSED_PLUGINS = ("voicemail", "recordplay", "audiobridge", "duktape", "echotest", "lua", "nosip", "sip", "streaming",
                  "textroom", "videocall")
UNUSED_TRANSPORTS = ("rabbitmq", "mqtt", "nanomsg", "pfunix", "websockets")


def _configuration() -> pathlib.Path:
    """Debian's configuration with two event loops and only what is used."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="janus-conf-"))
    for file in pathlib.Path("/etc/janus").glob("*.jcfg"):
        shutil.copy(file, folder / file.name)
    main = folder / "janus.jcfg"
    text = main.read_text()
    text = text.replace("\t#event_loops = 8", "\tevent_loops = 2", 1)
    text = text.replace('\t#disable = "libjanus_voicemail.so,libjanus_recordplay.so"',
                        '\tdisable = "' + ",".join(f"libjanus_{name}.so" for name in UNUSED_PLUGINS) + '"')
    text = text.replace('\t#disable = "libjanus_rabbitmq.so"',
                        '\tdisable = "' + ",".join(f"libjanus_{name}.so" for name in UNUSED_TRANSPORTS) + '"')
    main.write_text(text)
    return folder


class Janus:
    """Janus's videoroom under load: `setup()` the publisher, `join_one()` a subscriber."""

    name = "Janus videoroom"

    def __init__(self, loadgen: Loadgen, cpu: int | None) -> None:
        self.loadgen = loadgen
        self.cpu = cpu
        self.process: asyncio.subprocess.Process | None = None
        self.subscribers = 0
        self._transactions = itertools.count(1)
        self._events: dict[int, asyncio.Queue[dict[str, Any]]] = {}
        self._poller: asyncio.Task[None] | None = None
        self._http: Any = None
        self.session = 0
        self.publisher_id = 0
        self._folder: pathlib.Path | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def setup(self) -> None:
        import aiohttp

        self._folder = _configuration()
        self.process = await asyncio.create_subprocess_exec(
            "janus", "-F", str(self._folder), "-P", PLUGINS, f"--interface={ADDRESS}", f"--ice-enforce-list={VETH}",
            "--ice-lite", "-d", "2", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        pin(self.process.pid, self.cpu)
        self._http = aiohttp.ClientSession(base_url="http://127.0.0.1:8088")
        for _ in range(100):
            try:
                self.session = (await self._post("/janus", {"janus": "create"}))["data"]["id"]
                break
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)
        else:
            raise RuntimeError("Janus did not start")
        self._poller = asyncio.ensure_future(self._poll())
        handle = await self._attach()
        created = await self._message(handle, {"request": "create", "room": ROOM, "publishers": 1, "videocodec": "vp8",
                                                "audiocodec": "opus", "bitrate": 0, "fir_freq": 0, "notify_joining": False,
                                                "audiolevel_ext": False, "videoorient_ext": False, "playoutdelay_ext": False,
                                                "transport_wide_cc_ext": False})
        assert created["plugindata"]["data"].get("videoroom") == "created", created
        joined = await self._request(handle, {"request": "join", "ptype": "publisher", "room": ROOM, "display": "loadgen"})
        self.publisher_id = joined["plugindata"]["data"]["id"]
        local = ice()
        published = await self._request(handle, {"request": "publish", "audio": True, "video": True},
                                         jsep={"type": "offer", "sdp": publisher_offer(self.loadgen, local, ADDRESS)})
        answer = sdp.parse(published["jsep"]["sdp"])
        server, setup = server_side(answer)
        connected = self.loadgen.connect("publisher", "publisher", server, extensions(answer), PUBLISHER_CODECS,
                                         PUBLISHER_STREAMS, local=local, dtls_client=setup == "passive")
        await asyncio.wait_for(connected, 10)

    async def join_one(self) -> float:
        """One subscriber, from attach to DTLS connected: answers the time it took (ms)."""
        index = self.subscribers
        self.subscribers += 1
        started = time.perf_counter()
        handle = await self._attach()
        attached = await self._request(handle, {"request": "join", "ptype": "subscriber", "room": ROOM,
                                                "streams": [{"feed": self.publisher_id}]})
        offer = sdp.parse(attached["jsep"]["sdp"])
        server, _ = server_side(offer)
        local = ice()
        answer, codecs, streams = subscriber_answer(offer, self.loadgen, local, ADDRESS)
        connected = self.loadgen.connect(f"subscriber-{index}", "subscriber", server, extensions(offer), codecs, streams,
                                         local=local, dtls_client=False)
        await self._request(handle, {"request": "start"}, jsep={"type": "answer", "sdp": answer})
        await asyncio.wait_for(connected, 30)
        return (time.perf_counter() - started) * 1000

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": str(next(self._transactions))}
        async with self._http.post(path, json=body) as response:
            reply: dict[str, Any] = await response.json(content_type=None)
        if reply.get("janus") == "error":
            raise RuntimeError(f"Janus: {reply['error']}")
        return reply

    async def _attach(self) -> int:
        reply = await self._post(f"/janus/{self.session}", {"janus": "attach", "plugin": "janus.plugin.videoroom"})
        handle: int = reply["data"]["id"]
        self._events[handle] = asyncio.Queue()
        return handle

    async def _message(self, handle: int, body: dict[str, Any], jsep: dict[str, str] | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            message["jsep"] = jsep
        return await self._post(f"/janus/{self.session}/{handle}", message)

    async def _request(self, handle: int, body: dict[str, Any], jsep: dict[str, str] | None = None) -> dict[str, Any]:
        """An asynchronous videoroom request: its event (and jsep), from the long poll."""
        await self._message(handle, body, jsep)
        while True:
            event = await asyncio.wait_for(self._events[handle].get(), 30)
            if event.get("janus") != "event":
                continue
            data = event.get("plugindata", {}).get("data", {})
            if "error" in data:
                raise RuntimeError(f"Janus videoroom: {data['error']}")
            return event

    async def _poll(self) -> None:
        while True:
            try:
                async with self._http.get(f"/janus/{self.session}", params={"maxev": "50"}) as response:
                    events = await response.json(content_type=None)
            except Exception:
                await asyncio.sleep(0.1)
                continue
            for event in events if isinstance(events, list) else [events]:
                queue = self._events.get(event.get("sender", 0))
                if queue is not None:
                    queue.put_nowait(event)

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
        if self._http is not None:
            await self._http.close()
        await stop(self.process)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
