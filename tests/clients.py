"""Real WebRTC clients for the tests: pymediasoup (mediasoup-client over
aiortc), aiortc through SDP, and a minimal ICE-over-TCP client (RFC 6544 /
RFC 4571 framing)."""

from __future__ import annotations

import asyncio
import os
import random
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Callable

import mediasoup
from mediasoup.webrtc import RTCPeerConnection


async def until(predicate: Callable[[], bool], timeout: float, what: Callable[[], Any]) -> None:
    """Waits for `predicate`; fails with `what()` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, what()
        await asyncio.sleep(0.05)


def use_loopback_only(monkeypatch: Any, address: str = "127.0.0.1") -> None:
    """aioice never offers loopback on its own; make it offer `address` only."""
    import aioice.ice

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [address])


def count_frames(client: Any, frames: dict[str, int], tasks: list[Any]) -> None:
    """Counts, per kind, the frames an aiortc `RTCPeerConnection` decodes
    from every track it receives (the tasks reading them go to `tasks`)."""

    async def count(track: Any) -> None:
        while True:
            try:
                await track.recv()
            except Exception:
                return
            frames[track.kind] = frames.get(track.kind, 0) + 1

    client.on("track", lambda track: tasks.append(asyncio.ensure_future(count(track))))


async def offer_sdp(client: Any) -> str:
    """An aiortc connection's offer, gathered: what a WHIP or WHEP client POSTs."""
    await client.setLocalDescription(await client.createOffer())
    return str(client.localDescription.sdp)


class Viewer:
    """An aiortc WHEP viewer that counts the frames it decodes, per kind."""

    def __init__(self) -> None:
        from aiortc import RTCConfiguration, RTCPeerConnection

        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.frames: dict[str, int] = {}
        self.tasks: list[asyncio.Task[None]] = []
        count_frames(self.pc, self.frames, self.tasks)
        self.pc.addTransceiver("audio", direction="recvonly")
        self.pc.addTransceiver("video", direction="recvonly")

    def decoded(self, audio: int = 50, video: int = 20) -> bool:
        return self.frames.get("audio", 0) >= audio and self.frames.get("video", 0) >= video

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.pc.close()


class SdpEndpoint:
    """An aiortc peer connection joined to `peer` through SDP, with the
    data channels it opens before its offer, and those the server opens."""

    def __init__(self, peer: mediasoup.Peer) -> None:
        from aiortc import RTCConfiguration
        from aiortc import RTCPeerConnection as AiortcPeerConnection

        self.peer = peer
        self.client = AiortcPeerConnection(RTCConfiguration(iceServers=[]))
        self.server = RTCPeerConnection(peer)
        self.channels: dict[str, Any] = {}
        self.received: dict[str, list[Any]] = {}
        self.client.on("datachannel", self._adopt)

    def _adopt(self, channel: Any) -> None:
        self.channels[channel.label] = channel
        channel.on("message", lambda message: self.received.setdefault(channel.label, []).append(message))

    def open(self, label: str, **options: Any) -> Any:
        channel = self.client.createDataChannel(label, **options)
        self._adopt(channel)
        return channel

    async def connect(self) -> None:
        from aiortc import RTCSessionDescription as AiortcDescription

        await self.client.setLocalDescription(await self.client.createOffer())
        await self.server.setRemoteDescription({"type": "offer", "sdp": self.client.localDescription.sdp})
        await self.server.setLocalDescription()
        assert self.server.localDescription is not None
        await self.client.setRemoteDescription(AiortcDescription(sdp=self.server.localDescription.sdp, type="answer"))

    async def opened(self, label: str) -> Any:
        await until(lambda: label in self.channels and self.channels[label].readyState == "open", 10, lambda: self.channels)
        return self.channels[label]

    async def close(self) -> None:
        await self.client.close()
        self.server.close()


class MediasoupClient:
    """A pymediasoup Device whose transports connect to `peer`'s, with the
    signalling an application would write."""

    def __init__(self, room: mediasoup.Room, peer: mediasoup.Peer) -> None:
        from pymediasoup import AiortcHandler, Device

        self.room = room
        self.peer = peer
        self.device = Device(handlerFactory=AiortcHandler.createFactory(tracks=[]))
        self.connect_parameters: list[dict[str, Any]] = []
        self.tamper_fingerprint = False
        self.transports: list[Any] = []
        self.producers: list[Any] = []
        # Rewrites the server's candidates (e.g. to go through a LossyRelay).
        self.candidates: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] = lambda candidates: candidates

    async def load(self) -> None:
        from pymediasoup.rtp_parameters import RtpCapabilities

        await self.device.load(RtpCapabilities(**self.room.rtpCapabilities))

    def _client_transport(self, server: mediasoup.Transport, direction: str) -> Any:
        from pymediasoup.models.transport import DtlsParameters, IceCandidate, IceParameters
        from pymediasoup.sctp_parameters import SctpParameters

        create = self.device.createSendTransport if direction == "send" else self.device.createRecvTransport
        client = create(
            id=server.id,
            iceParameters=IceParameters(**server.iceLocalParameters),
            iceCandidates=[IceCandidate(**candidate) for candidate in self.candidates(server.iceLocalCandidates)],
            dtlsParameters=DtlsParameters(**server.dtlsLocalParameters),
            sctpParameters=SctpParameters(**server.sctpParameters) if server.sctpParameters else None,
            iceServers=[],
        )

        @client.on("connect")
        async def on_connect(dtlsParameters: Any) -> None:
            parameters = dtlsParameters.model_dump(exclude_none=True)
            self.connect_parameters.append(parameters)
            if self.tamper_fingerprint:
                for fingerprint in parameters["fingerprints"]:
                    value = fingerprint["value"]
                    fingerprint["value"] = ("00" if value[:2] != "00" else "11") + value[2:]
            await server.setRemoteDtlsParameters(parameters)

        self.transports.append(client)
        return client

    def sctp_transport(self, server: mediasoup.Transport, direction: str) -> Any:
        """A client transport for `server` (created with enableSctp), for produceData or consumeData."""
        return self._client_transport(server, direction)

    async def send_audio(self, server: mediasoup.Transport) -> Any:
        """A send transport producing a (silent) audio track: starts ICE and DTLS."""
        from aiortc.mediastreams import AudioStreamTrack

        client = self._client_transport(server, "send")

        @client.on("produce")
        async def on_produce(kind: str, rtpParameters: Any, appData: Any) -> str:
            # No receiver yet on the server side: any id will do for the client.
            return "producer-" + kind

        await client.produce(track=AudioStreamTrack(), stopTracks=False)
        return client

    async def publish(self, server: mediasoup.Transport, tracks: list[Any]) -> list[mediasoup.RtpReceiver]:
        """A send transport producing `tracks`; each produce becomes an
        RtpReceiver of the peer, as an application's signalling would do."""
        client = self._client_transport(server, "send")
        receivers: list[mediasoup.RtpReceiver] = []

        @client.on("produce")
        async def on_produce(kind: str, rtpParameters: Any, appData: Any) -> str:
            receiver = self.peer.RtpReceiver(kind, server)
            await receiver.receive(rtpParameters.model_dump(exclude_none=True))
            receivers.append(receiver)
            return receiver.id

        for track in tracks:
            self.producers.append(await client.produce(track=track, stopTracks=False))
        return receivers

    async def receive_audio(self, server: mediasoup.Transport) -> Any:
        """A receive transport consuming an (idle) audio stream: starts ICE and DTLS."""
        client = self._client_transport(server, "recv")
        opus = next(c for c in self.room.rtpCapabilities["codecs"] if c["mimeType"] == "audio/opus")
        await client.consume(
            id="consumer-1",
            producerId="producer-1",
            kind="audio",
            rtpParameters={
                "mid": "0",
                "codecs": [{**opus, "payloadType": opus["preferredPayloadType"]}],
                "headerExtensions": [],
                "encodings": [{"ssrc": 11111111}],
                "rtcp": {"cname": "server", "reducedSize": True},
            },
        )
        return client

    async def close(self) -> None:
        for transport in self.transports:
            await transport.close()


async def wait_for_state(transport: mediasoup.Transport, dtls: str, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while transport.dtlsState != dtls:
        if loop.time() > deadline:
            raise AssertionError(f"dtlsState is {transport.dtlsState!r}, not {dtls!r}, after {timeout}s")
        await asyncio.sleep(0.02)


class StunOverTcp:
    """The ICE side of a client that reaches a passive TCP candidate."""

    def __init__(self, transport: mediasoup.Transport, ufrag: str = "clientufrag") -> None:
        self.server_ufrag = transport.iceLocalParameters["usernameFragment"]
        self.server_password = transport.iceLocalParameters["password"]
        self.ufrag = ufrag
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self, candidate: dict[str, Any]) -> None:
        self.reader, self.writer = await asyncio.open_connection(candidate["ip"], candidate["port"])

    def binding_request(self, use_candidate: bool = True, password: str | None = None) -> bytes:
        from aioice import stun

        request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
        request.attributes["USERNAME"] = f"{self.server_ufrag}:{self.ufrag}"
        request.attributes["PRIORITY"] = 1853824767
        request.attributes["ICE-CONTROLLING"] = int.from_bytes(os.urandom(8), "big")
        if use_candidate:
            request.attributes["USE-CANDIDATE"] = None
        request.add_message_integrity((password or self.server_password).encode())
        request.add_fingerprint()
        return bytes(request)

    def send_framed(self, packet: bytes) -> None:
        assert self.writer is not None
        self.writer.write(struct.pack("!H", len(packet)) + packet)

    async def read_framed(self, timeout: float = 5.0) -> bytes:
        assert self.reader is not None
        header = await asyncio.wait_for(self.reader.readexactly(2), timeout)
        return await asyncio.wait_for(self.reader.readexactly(struct.unpack("!H", header)[0]), timeout)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class Subscriber:
    """A pymediasoup client that consumes every stream the server offers its peer."""

    def __init__(self, room: mediasoup.Room, peer: mediasoup.Peer, relay: LossyRelay | None = None) -> None:
        self.client = MediasoupClient(room, peer)
        self.peer = peer
        self.relay = relay
        self.transport: mediasoup.Transport | None = None
        self.receive_transport: Any = None
        self.frames: dict[str, int] = {}
        # Frames decoded per (publishing peer's name, kind).
        self.frames_from: dict[tuple[str, str], int] = {}
        # The RTP timestamp (pts) of each decoded frame, per kind.
        self.timestamps: dict[str, list[int]] = {}
        self.consumers: dict[str, Any] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._consuming: asyncio.Lock = asyncio.Lock()

    async def start(self) -> None:
        from pymediasoup.models.transport import DtlsParameters, IceCandidate, IceParameters

        await self.client.load()
        await self.peer.setCapabilities(self.client.device.rtpCapabilities.model_dump(exclude_none=True))
        self.transport = await self.peer.createTransport()
        if self.relay is not None:
            await self.relay.start(self.transport)
            self.client.candidates = self.relay.rewrite
        self.receive_transport = self.client._client_transport(self.transport, "recv")
        self.peer.on("newrtpsender", self._on_sender)
        for sender in self.peer.rtpSenders:
            self._on_sender(sender)

    def _on_sender(self, sender: mediasoup.RtpSender) -> None:
        self._tasks.append(asyncio.ensure_future(self._consume(sender)))

    async def _consume(self, sender: mediasoup.RtpSender) -> None:
        assert self.transport is not None
        async with self._consuming:
            await sender.setTransport(self.transport)
            consumer = await self.receive_transport.consume(
                id=sender.id,
                producerId=sender.associatedRtpReceiver.id,
                kind=sender.kind,
                rtpParameters=sender.rtpParameters,
            )
        self.consumers[sender.kind] = consumer
        self.frames[sender.kind] = 0
        self.frames_from[sender.associatedRtpReceiver.peer.name, sender.kind] = 0
        timestamps = self.timestamps.setdefault(sender.kind, [])
        while True:
            try:
                frame = await consumer.track.recv()
            except Exception:
                return
            self.frames[sender.kind] += 1
            self.frames_from[sender.associatedRtpReceiver.peer.name, sender.kind] += 1
            timestamps.append(frame.pts)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.client.close()


class LossyRelay:
    """A UDP relay between a client and a server candidate that drops a
    share of the RTP packets going one way (never STUN, DTLS or RTCP):
    to the server (`toward='server'`) or to the client. The client is given
    the relay's address instead of the candidate's."""

    def __init__(self, loss: float, toward: str = "server", seed: int = 5) -> None:
        self.loss = loss
        self.toward = toward
        self.random = random.Random(seed)
        self.rtp_forwarded = 0
        self.rtp_dropped = 0
        # The first RTP/SRTP datagrams the client sent, for tests that mutate them.
        self.recorded: list[bytes] = []
        self.client_address: Any = None
        self.server_address: tuple[str, int] | None = None
        self.facing_client: asyncio.DatagramTransport | None = None
        self.facing_server: asyncio.DatagramTransport | None = None

    async def start(self, server: mediasoup.Transport) -> None:
        """Listens for the client; relays to `server`'s UDP IPv4 candidate."""
        loop = asyncio.get_running_loop()
        candidate = next(c for c in server.iceLocalCandidates if c["protocol"] == "udp" and ":" not in c["ip"])
        self.server_address = (candidate["ip"], candidate["port"])
        relay = self

        class FromClient(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, address: Any) -> None:
                relay.client_address = address
                if relay.facing_server is not None and relay._passes(data, "server"):
                    relay.facing_server.sendto(data, relay.server_address)

        class FromServer(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, address: Any) -> None:
                if relay.facing_client is not None and relay.client_address is not None and relay._passes(data, "client"):
                    relay.facing_client.sendto(data, relay.client_address)

        self.facing_client, _ = await loop.create_datagram_endpoint(FromClient, local_addr=("127.0.0.1", 0))
        self.facing_server, _ = await loop.create_datagram_endpoint(FromServer, local_addr=("127.0.0.1", 0))

    def inject(self, data: bytes) -> None:
        """Sends `data` to the server as if the client had sent it."""
        assert self.facing_server is not None and self.server_address is not None
        self.facing_server.sendto(data, self.server_address)

    def _passes(self, data: bytes, toward: str) -> bool:
        if toward == "server" and self._is_rtp(data) and len(self.recorded) < 300:
            self.recorded.append(data)
        if toward != self.toward or not self._is_rtp(data):
            return True
        if self.random.random() < self.loss:
            self.rtp_dropped += 1
            return False
        self.rtp_forwarded += 1
        return True

    @staticmethod
    def _is_rtp(data: bytes) -> bool:
        # RTP/RTCP start with version 2; RTCP packet types are 200-207 (RFC 5761).
        return len(data) > 12 and 128 <= data[0] <= 191 and not 200 <= data[1] <= 207

    def rewrite(self, candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The candidate list a client is given: only the relay."""
        assert self.facing_client is not None
        port = self.facing_client.get_extra_info("sockname")[1]
        udp = next(c for c in candidates if c["protocol"] == "udp" and ":" not in c["ip"])
        return [{**udp, "port": port}]

    def close(self) -> None:
        for transport in (self.facing_client, self.facing_server):
            if transport is not None:
                transport.close()


def tone_track(amplitude: float, frequency: float = 440.0) -> Any:
    """An aiortc audio track playing a sine (mono, 48 kHz, 20 ms frames) at
    `amplitude` (0..1 of full scale; aiortc writes its RFC 6464 level into
    every packet). Its `amplitude` attribute changes it live (0: silence)."""
    import fractions
    import math

    import av
    import numpy
    from aiortc.mediastreams import MediaStreamTrack

    class Tone(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self.amplitude = amplitude
            self._samples = 0
            self._start: float | None = None

        async def recv(self) -> Any:
            loop = asyncio.get_running_loop()
            if self._start is None:
                self._start = loop.time()
            due = self._start + self._samples / 48_000
            await asyncio.sleep(max(0.0, due - loop.time()))
            t = (numpy.arange(960) + self._samples) / 48_000
            pcm = (self.amplitude * 32767 * numpy.sin(2 * math.pi * frequency * t)).astype(numpy.int16)
            frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 48_000, self._samples, fractions.Fraction(1, 48_000)
            self._samples += 960
            return frame

    return Tone()


def colour_track(rgb: tuple[int, int, int], size: tuple[int, int] = (320, 240)) -> Any:
    """An aiortc video track of one solid colour, 30 frames a second (paced)."""
    import fractions

    import av
    import numpy
    from aiortc.mediastreams import MediaStreamTrack

    class Colour(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self._index = 0
            self._start: float | None = None
            image = numpy.zeros((size[1], size[0], 3), dtype=numpy.uint8)
            image[:, :] = rgb
            self._image = image

        async def recv(self) -> Any:
            loop = asyncio.get_running_loop()
            if self._start is None:
                self._start = loop.time()
            await asyncio.sleep(max(0.0, self._start + self._index / 30 - loop.time()))
            frame = av.VideoFrame.from_ndarray(self._image, format="rgb24")
            frame.pts, frame.time_base = self._index * 3000, fractions.Fraction(1, 90_000)
            self._index += 1
            return frame

    return Colour()


def mean_colour(frame: Any) -> tuple[float, float, float]:
    """The mean RGB of a decoded video frame."""
    rgb = frame.to_ndarray(format="rgb24")
    return tuple(float(channel) for channel in rgb.reshape(-1, 3).mean(axis=0))  # type: ignore[return-value]


def dominant_frequency(samples: Any, rate: int = 48_000) -> float:
    """The frequency of the strongest bin of `samples` (a 1-D numpy array)."""
    import numpy

    spectrum = numpy.abs(numpy.fft.rfft(samples * numpy.hanning(len(samples))))
    return float(numpy.fft.rfftfreq(len(samples), 1 / rate)[int(numpy.argmax(spectrum))])


@dataclass
class Call:
    """alice publishes tracks in a room (a pymediasoup client); bob's
    Subscriber decodes them."""

    room: mediasoup.Room
    alice: mediasoup.Peer
    bob: mediasoup.Peer
    publishing: mediasoup.Transport
    publisher: MediasoupClient
    subscriber: Subscriber
    receivers: dict[str, mediasoup.RtpReceiver]

    def sender(self, kind: str) -> mediasoup.RtpSender:
        return next(s for s in self.bob.rtpSenders if s.kind == kind)

    def producer(self, kind: str) -> Any:
        return next(p for p in self.publisher.producers if p.kind == kind)

    @property
    def frames(self) -> int:
        """Video frames bob decoded."""
        return self.subscriber.frames.get("video", 0)


@asynccontextmanager
async def call_in(room: mediasoup.Room, tracks: list[Any], relay: LossyRelay | None = None, subscriber_relay: LossyRelay | None = None) -> AsyncIterator[Call]:
    """A call in `room`: alice publishes `tracks` (through `relay`, if
    given), bob subscribes (behind `subscriber_relay`); it starts once bob
    decoded 10 frames of each kind, and ends with both clients and relays
    closed."""
    alice, bob = await room.Peer("alice"), await room.Peer("bob")
    subscriber = Subscriber(room, bob, subscriber_relay)
    publisher = MediasoupClient(room, alice)
    try:
        await subscriber.start()
        await publisher.load()
        publishing = await alice.createTransport()
        if relay is not None:
            await relay.start(publishing)
            publisher.candidates = relay.rewrite
        receivers = await publisher.publish(publishing, tracks)
        kinds = {track.kind for track in tracks}
        await until(lambda: all(subscriber.frames.get(kind, 0) >= 10 for kind in kinds), 20, lambda: subscriber.frames)
        yield Call(room, alice, bob, publishing, publisher, subscriber, {r.kind: r for r in receivers})
    finally:
        await publisher.close()
        await subscriber.close()
        for each in (relay, subscriber_relay):
            if each is not None:
                each.close()
