"""The benchmark's adapter to this project, through its Python API: a
server with one worker, a room, a publishing peer and N subscribing peers
whose transports the load generator's clients connect to."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import mediasoup

from .loadgen import AUDIO_SSRC, MID_URI, VIDEO_RTX_SSRC, VIDEO_SSRC, Loadgen, cpu_seconds, pin, rss_bytes


def _server_side(transport: mediasoup.Transport) -> dict[str, Any]:
    candidate = next(c for c in transport.iceLocalCandidates if c["protocol"] == "udp")
    fingerprint = next(f for f in transport.dtlsLocalParameters["fingerprints"] if f["algorithm"] == "sha-256")
    return {
        "address": f"{candidate['ip']}:{candidate['port']}",
        "ufrag": transport.iceLocalParameters["usernameFragment"],
        "pwd": transport.iceLocalParameters["password"],
        "fingerprint": f"sha-256 {fingerprint['value']}",
    }


async def _extensions(transport: mediasoup.Transport) -> list[list[Any]]:
    dump = await transport.dump()
    return [[extension["id"], extension["uri"]] for extension in dump["headerExtensions"]]


def _room_codecs(room: mediasoup.Room) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    codecs = room.rtpCapabilities["codecs"]
    vp8 = next(c for c in codecs if c["mimeType"] == "video/VP8")
    rtx = next(c for c in codecs if c["mimeType"] == "video/rtx" and c["parameters"].get("apt") == vp8["preferredPayloadType"])
    opus = next(c for c in codecs if c["mimeType"] == "audio/opus")
    return vp8, rtx, opus


#: A simulcast publisher's lower layers (SSRC, RTX SSRC), below the top one (VIDEO_SSRC).
LOWER_LAYERS = [(0x11120000, 0x11120001), (0x11130000, 0x11130001)]


class Ours:
    """This project under load: `setup()` the publisher, `join(n)` subscribers."""

    name = "mediasoup (this project)"
    #: The publisher sends its video as three simulcast layers (by SSRC).
    simulcast = False
    #: Every transport on the worker's one port (`rtcPortPerWorker`).
    port_per_worker = False
    #: Each load-generator client on a socket of its own (as browsers are).
    own_sockets = False

    def __init__(self, loadgen: Loadgen, cpu: int | None) -> None:
        self.loadgen = loadgen
        self.cpu = cpu
        self.server: mediasoup.Server | None = None
        self.room: mediasoup.Room | None = None
        self.pid = 0
        self.subscribers = 0

    async def start(self) -> None:
        """The server (one worker, pinned) and its room, empty."""
        self.server = mediasoup.Server(numWorkers=1, logLevel="warn", rtcListenIPv4="127.0.0.1", rtcListenIPv6=False,
                                       rtcMinPort=20000, rtcMaxPort=59999, rtcPortPerWorker=self.port_per_worker)
        await self.server
        dump = await self.server.dump()
        self.pid = next(iter(dump["workers"].values()))["pid"]
        pin(self.pid, self.cpu)
        self.room = await self.server.Room()

    async def setup(self) -> None:
        await self.start()
        await self.add_publisher(self.loadgen, "publisher")

    async def add_publisher(self, loadgen: Loadgen, name: str, clip: str | None = None) -> None:
        """A publisher of `loadgen` (VP8 with RTX, and Opus) as peer `name`,
        connected; with `clip` (bench/clip.py) it sends that real media."""
        assert self.room is not None
        vp8, rtx, opus = _room_codecs(self.room)
        self.codecs = [
            {"pt": vp8["preferredPayloadType"], "rtx": rtx["preferredPayloadType"], "mime": "video/VP8", "clock": 90000, "channels": None},
            {"pt": opus["preferredPayloadType"], "rtx": None, "mime": "audio/opus", "clock": 48000, "channels": 2},
        ]
        peer = await self.room.Peer(name)
        await peer.setCapabilities(self.room.rtpCapabilities)
        transport = await peer.createTransport(tcp=False)
        extensions = await _extensions(transport)
        mid_id = next(extension_id for extension_id, uri in extensions if uri == MID_URI)
        layers = LOWER_LAYERS if self.simulcast and clip is None else []
        streams = [
            {"mid": "0", "kind": "video", "ssrc": VIDEO_SSRC, "rtx": VIDEO_RTX_SSRC, "pt": vp8["preferredPayloadType"]},
            {"mid": "1", "kind": "audio", "ssrc": AUDIO_SSRC, "rtx": None, "pt": opus["preferredPayloadType"]},
        ]
        # Simulcast: the lower layers too, not counted as sent (the subscribers
        # get the top one); every layer with a rid for the load generator's str0m.
        if layers:
            streams[0]["rid"] = f"l{len(layers)}"
        streams += [{"mid": "0", "kind": "video", "ssrc": ssrc, "rtx": rtx, "pt": vp8["preferredPayloadType"], "counted": False,
                     "rid": f"l{index}"} for index, (ssrc, rtx) in enumerate(layers)]
        connected = loadgen.connect(name, "publisher", _server_side(transport), extensions, self.codecs, streams, clip=clip,
                                    own_socket=self.own_sockets)
        await transport.setRemoteDtlsParameters(loadgen.dtls_parameters)
        header_extensions = [{"uri": MID_URI, "id": mid_id}]
        video = peer.RtpReceiver("video", transport)
        await video.receive({
            "mid": "0",
            "codecs": [
                {"mimeType": "video/VP8", "payloadType": vp8["preferredPayloadType"], "clockRate": 90000,
                 "rtcpFeedback": [{"type": "nack"}, {"type": "nack", "parameter": "pli"}]},
                {"mimeType": "video/rtx", "payloadType": rtx["preferredPayloadType"], "clockRate": 90000,
                 "parameters": {"apt": vp8["preferredPayloadType"]}},
            ],
            "headerExtensions": header_extensions,
            "encodings": [*({"ssrc": ssrc, "rtx": {"ssrc": rtx}} for ssrc, rtx in layers), {"ssrc": VIDEO_SSRC, "rtx": {"ssrc": VIDEO_RTX_SSRC}}],
            "rtcp": {"cname": "loadgen"},
        })
        audio = peer.RtpReceiver("audio", transport)
        await audio.receive({
            "mid": "1",
            "codecs": [{"mimeType": "audio/opus", "payloadType": opus["preferredPayloadType"], "clockRate": 48000, "channels": 2}],
            "headerExtensions": header_extensions,
            "encodings": [{"ssrc": AUDIO_SSRC}],
            "rtcp": {"cname": "loadgen"},
        })
        await asyncio.wait_for(connected, 10)

    async def join_one(self, publisher: str | None = None) -> float:
        """One subscriber (of every stream, or of peer `publisher`'s only),
        from createTransport to DTLS connected: answers the time it took (ms)."""
        assert self.room is not None
        index = self.subscribers
        self.subscribers += 1
        peer = await self.room.Peer(f"subscriber-{index}")
        await peer.setCapabilities(self.room.rtpCapabilities)
        started = time.perf_counter()
        transport = await peer.createTransport(tcp=False)
        streams = []
        for sender in peer.rtpSenders:
            if publisher is not None and sender.associatedRtpReceiver.peer.name != publisher:
                continue
            await sender.setTransport(transport)
            encoding = sender.rtpParameters["encodings"][0]
            streams.append({"mid": sender.rtpParameters["mid"], "kind": sender.kind, "ssrc": encoding["ssrc"],
                            "rtx": encoding.get("rtx", {}).get("ssrc")})
        connected = self.loadgen.connect(f"subscriber-{index}", "subscriber", _server_side(transport),
                                         await _extensions(transport), self.codecs, streams, own_socket=self.own_sockets)
        await transport.setRemoteDtlsParameters(self.loadgen.dtls_parameters)
        await asyncio.wait_for(connected, 30)
        return (time.perf_counter() - started) * 1000

    async def idle_cpu_percent(self, seconds: float = 5.0) -> float:
        """The worker's CPU with every subscriber still connected but nothing
        to forward (the publisher's streams closed): what timers cost."""
        assert self.room is not None
        publisher = next(peer for peer in self.room.peers if peer.name == "publisher")
        for receiver in list(publisher.rtpReceivers):
            receiver.close()
        await asyncio.sleep(2.0)
        before, started = cpu_seconds(self.pid), time.perf_counter()
        await asyncio.sleep(seconds)
        return 100 * (cpu_seconds(self.pid) - before) / (time.perf_counter() - started)

    async def close(self) -> None:
        """Closes the server and waits for its worker to exit: the next SFU
        of the run may bind the same ports."""
        if self.server is not None:
            self.server.close()
        for _ in range(100):
            if not self.pid or not os.path.exists(f"/proc/{self.pid}"):
                return
            await asyncio.sleep(0.05)


class OursSimulcast(Ours):
    """The same, with the publisher's video in three simulcast layers (by
    SSRC, each as heavy as the single stream): every subscriber's sender
    selects the top layer, packet by packet, and drops the other two. Its
    CPU per forwarded packet against `Ours`'s, in the same run, is what
    layer selection costs."""

    name = "mediasoup (this project), simulcast: 3 layers in, 1 out"
    simulcast = True
    #: A new subscriber starts at the top layer's next keyframe (every 2 s; the load generator ignores PLIs).
    settle = 2.5


class OursOwnSockets(Ours):
    """The same, each client on a UDP socket of its own: the baseline of
    `OursPortPerWorker` (the same load generator)."""

    name = "mediasoup (this project), a port per transport"
    own_sockets = True


class OursPortPerWorker(Ours):
    """The same, with every transport on the worker's one port
    (`rtcPortPerWorker`): datagrams found by 5-tuple, the fan-out's copies
    leaving on one socket. Each client has a socket of its own (the server
    tells its clients apart by their addresses)."""

    name = "mediasoup (this project), one port per worker"
    port_per_worker = True
    own_sockets = True


async def idle_peer_kib(count: int = 300) -> float:
    """What an idle peer with one transport costs the worker (RSS, KiB)."""
    async with mediasoup.Server(numWorkers=1, logLevel="warn", rtcListenIPv4="127.0.0.1", rtcListenIPv6=False,
                                rtcMinPort=20000, rtcMaxPort=59999) as server:
        pid = next(iter((await server.dump())["workers"].values()))["pid"]
        room = await server.Room()
        before = rss_bytes(pid)
        for index in range(count):
            peer = await room.Peer(f"idle-{index}")
            await peer.setCapabilities(room.rtpCapabilities)
            await peer.createTransport(tcp=False)
        return (rss_bytes(pid) - before) / count / 1024
