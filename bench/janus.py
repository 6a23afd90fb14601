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
import secrets
import shutil
import tempfile
import time
from typing import Any

from mediasoup.webrtc import sdp

from .loadgen import Loadgen, pin

VETH = "jveth0"
ADDRESS = "127.0.0.2"
ROOM = 4242
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
VIDEO_SSRC, VIDEO_RTX_SSRC, AUDIO_SSRC = 0x11110000, 0x11110001, 0x22220000
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


def _ice() -> dict[str, str]:
    return {"ufrag": secrets.token_hex(4), "pwd": secrets.token_hex(12)}


def _transport_lines(local: dict[str, str], fingerprint: str, setup: str, candidate: str) -> list[sdp.Attribute]:
    host, port = candidate.rsplit(":", 1)
    return [
        sdp.Attribute("ice-ufrag", local["ufrag"]),
        sdp.Attribute("ice-pwd", local["pwd"]),
        sdp.Attribute("fingerprint", fingerprint),
        sdp.Attribute("setup", setup),
        sdp.Attribute("rtcp-mux"),
        sdp.Attribute("rtcp-rsize"),
        sdp.Attribute("candidate", f"1 1 udp 2130706431 {host} {port} typ host"),
        sdp.Attribute("end-of-candidates"),
    ]


def _description(sections: list[sdp.MediaSection]) -> str:
    description = sdp.SessionDescription(origin=f"- {secrets.randbelow(2**31)} 1 IN IP4 {ADDRESS}")
    description.attributes = [sdp.Attribute("group", "BUNDLE " + " ".join(s.mid or "" for s in sections)),
                              sdp.Attribute("msid-semantic", " WMS *")]
    description.media = sections
    return sdp.write(description)


def _server_side(parsed: sdp.SessionDescription) -> tuple[dict[str, Any], str]:
    """The SFU's ICE, candidate and fingerprint from its SDP, and its a=setup."""
    first = next(section for section in parsed.media if section.port != 0)
    ufrag = first.value("ice-ufrag") or parsed.value("ice-ufrag")
    pwd = first.value("ice-pwd") or parsed.value("ice-pwd")
    algorithm, value = (first.fingerprints() or parsed.fingerprints())[0]
    candidate = next(c for section in parsed.media for c in section.candidates() if c.protocol.lower() == "udp")
    setup = first.value("setup") or parsed.value("setup") or "actpass"
    return {"address": f"{candidate.ip}:{candidate.port}", "ufrag": ufrag, "pwd": pwd,
            "fingerprint": f"{algorithm} {value}"}, setup


def _extensions(parsed: sdp.SessionDescription) -> list[list[Any]]:
    seen: dict[str, int] = {}
    for section in parsed.media:
        for extmap in section.extmaps():
            seen.setdefault(extmap.uri, extmap.id)
    return [[extension_id, uri] for uri, extension_id in seen.items()]


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
        local = _ice()
        address = self.loadgen.addresses[0]
        video = sdp.MediaSection("video", 9, "UDP/TLS/RTP/SAVPF", ["96", "97"], [f"c=IN IP4 {ADDRESS}"])
        video.attributes = [sdp.Attribute("mid", "0"), sdp.Attribute("sendonly"),
                            *_transport_lines(local, self.loadgen.fingerprint, "actpass", address),
                            sdp.Attribute("extmap", f"1 {MID_URI}"),
                            sdp.Attribute("rtpmap", "96 VP8/90000"), sdp.Attribute("rtcp-fb", "96 nack"),
                            sdp.Attribute("rtcp-fb", "96 nack pli"), sdp.Attribute("rtcp-fb", "96 ccm fir"),
                            sdp.Attribute("rtpmap", "97 rtx/90000"), sdp.Attribute("fmtp", "97 apt=96"),
                            sdp.Attribute("msid", "loadgen video"),
                            sdp.Attribute("ssrc-group", f"FID {VIDEO_SSRC} {VIDEO_RTX_SSRC}"),
                            sdp.Attribute("ssrc", f"{VIDEO_SSRC} cname:loadgen"), sdp.Attribute("ssrc", f"{VIDEO_RTX_SSRC} cname:loadgen")]
        audio = sdp.MediaSection("audio", 9, "UDP/TLS/RTP/SAVPF", ["111"], [f"c=IN IP4 {ADDRESS}"])
        audio.attributes = [sdp.Attribute("mid", "1"), sdp.Attribute("sendonly"),
                            *_transport_lines(local, self.loadgen.fingerprint, "actpass", address),
                            sdp.Attribute("extmap", f"1 {MID_URI}"),
                            sdp.Attribute("rtpmap", "111 opus/48000/2"), sdp.Attribute("msid", "loadgen audio"),
                            sdp.Attribute("ssrc", f"{AUDIO_SSRC} cname:loadgen")]
        offer = _description([video, audio])
        published = await self._request(handle, {"request": "publish", "audio": True, "video": True},
                                         jsep={"type": "offer", "sdp": offer})
        answer = sdp.parse(published["jsep"]["sdp"])
        server, setup = _server_side(answer)
        codecs: list[dict[str, Any]] = [{"pt": 96, "rtx": 97, "mime": "video/VP8", "clock": 90000, "channels": None},
                                         {"pt": 111, "rtx": None, "mime": "audio/opus", "clock": 48000, "channels": 2}]
        streams: list[dict[str, Any]] = [{"mid": "0", "kind": "video", "ssrc": VIDEO_SSRC, "rtx": VIDEO_RTX_SSRC, "pt": 96},
                                         {"mid": "1", "kind": "audio", "ssrc": AUDIO_SSRC, "rtx": None, "pt": 111}]
        connected = self.loadgen.connect("publisher", "publisher", server, _extensions(answer), codecs, streams,
                                         local=local, dtls_client=setup == "passive")
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
        server, _ = _server_side(offer)
        local = _ice()
        sections: list[sdp.MediaSection] = []
        streams: list[dict[str, Any]] = []
        codecs: list[dict[str, Any]] = []
        for section in offer.media:
            if section.port == 0 or section.kind not in ("audio", "video"):
                continue
            offered = section.codecs()
            main = offered[0]
            rtx = next((c for c in offered if c.mime_type.lower().endswith("/rtx") and c.parameters.get("apt") == str(main.payload_type)), None)
            ssrcs = list(section.ssrc_attributes())
            repairs = {group[1]: group[0] for semantics, group in section.ssrc_groups() if semantics == "FID" and len(group) == 2}
            ssrc = next(s for s in ssrcs if s not in repairs)
            rtx_ssrc = next((repair for repair, original in repairs.items() if original == ssrc), None)
            streams.append({"mid": section.mid, "kind": section.kind, "ssrc": ssrc, "rtx": rtx_ssrc if rtx else None})
            codecs.append({"pt": main.payload_type, "rtx": rtx.payload_type if rtx else None, "mime": main.mime_type,
                           "clock": main.clock_rate, "channels": main.channels})
            chosen = [main, *([rtx] if rtx else [])]
            answer = sdp.MediaSection(section.kind, 9, section.protocol, [str(c.payload_type) for c in chosen], [f"c=IN IP4 {ADDRESS}"])
            answer.attributes = [sdp.Attribute("mid", section.mid), sdp.Attribute("recvonly"),
                                 *_transport_lines(local, self.loadgen.fingerprint, "passive", self.loadgen.addresses[0])]
            answer.attributes += [sdp.Attribute("extmap", f"{e.id} {e.uri}") for e in section.extmaps() if e.uri == MID_URI]
            for codec in chosen:
                name = codec.mime_type.split("/", 1)[1]
                answer.attributes.append(sdp.Attribute("rtpmap", f"{codec.payload_type} {name}/{codec.clock_rate}" + (f"/{codec.channels}" if codec.channels else "")))
                if codec is rtx:
                    answer.attributes.append(sdp.Attribute("fmtp", f"{codec.payload_type} apt={main.payload_type}"))
                elif section.kind == "video":
                    answer.attributes += [sdp.Attribute("rtcp-fb", f"{codec.payload_type} nack"), sdp.Attribute("rtcp-fb", f"{codec.payload_type} nack pli")]
            sections.append(answer)
        connected = self.loadgen.connect(f"subscriber-{index}", "subscriber", server, _extensions(offer), codecs, streams,
                                         local=local, dtls_client=False)
        await self._request(handle, {"request": "start"}, jsep={"type": "answer", "sdp": _description(sections)})
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
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
