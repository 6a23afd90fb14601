"""Direct transports: Python as a peer's endpoint, with real clients on the
other side. Packets a pymediasoup (aiortc) publisher sends reach Python
byte-equal; packets Python writes are decoded by a pymediasoup subscriber;
keyframe requests reach Python; a Python process that stops reading loses
its own packets only, within bounded memory."""

from __future__ import annotations

import asyncio
import fractions
import math
import os
import struct
import time
from typing import Any

import mediasoup
import numpy
import pytest
from aiortc.rtp import RtpPacket
from mediasoup.errors import InvalidStateError

from bench.loadgen import Loadgen, rss_bytes
from bench.ours import Ours
from bench.run import settled_stats

from .clients import MediasoupClient, dominant_frequency, tone_track, until, use_loopback_only

OPUS_SSRC = 0x5EED0001


def opus_packets(frequency: float, seconds: float, ssrc: int = OPUS_SSRC, payload_type: int = 100) -> list[bytes]:
    """A tone encoded by PyAV's Opus encoder, one RTP packet per 20 ms frame."""
    import av

    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48_000, "stereo", "s16"
    encoder.time_base = fractions.Fraction(1, 48_000)
    packets: list[bytes] = []
    frames = int(seconds * 50)
    for index in range(frames):
        t = (numpy.arange(960) + index * 960) / 48_000
        mono = (0.3 * 32767 * numpy.sin(2 * math.pi * frequency * t)).astype(numpy.int16)
        frame = av.AudioFrame.from_ndarray(numpy.repeat(mono, 2).reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = 48_000, index * 960, fractions.Fraction(1, 48_000)
        for encoded in encoder.encode(frame):
            sequence = len(packets)
            header = struct.pack("!BBHII", 0x80, payload_type, sequence & 0xFFFF, (sequence * 960) & 0xFFFFFFFF, ssrc)
            packets.append(header + bytes(encoded))
    return packets


def opus_parameters(ssrc: int = OPUS_SSRC) -> dict[str, Any]:
    return {
        "codecs": [{"mimeType": "audio/opus", "payloadType": 100, "clockRate": 48000, "channels": 2}],
        "encodings": [{"ssrc": ssrc}],
        "rtcp": {"cname": "python"},
    }


async def test_the_packets_a_pymediasoup_publisher_sends_reach_python_byte_equal(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiortc.rtcdtlstransport import RTCDtlsTransport

    sent: list[bytes] = []
    original = RTCDtlsTransport._send_rtp

    async def record(self: Any, data: bytes) -> None:
        # What aiortc encrypts and sends: the publisher's packets in the clear.
        if 128 <= data[0] < 192 and not 200 <= data[1] <= 207:
            sent.append(data)
        await original(self, data)

    monkeypatch.setattr(RTCDtlsTransport, "_send_rtp", record)
    room = await server.Room()
    alice = await room.Peer("alice")
    client = MediasoupClient(room, alice)
    await client.load()
    await alice.setCapabilities(client.device.rtpCapabilities.model_dump(exclude_none=True))
    transport = await alice.createTransport()
    [receiver] = await client.publish(transport, [tone_track(0.3)])

    bot = await room.Peer("bot")
    direct = await bot.createDirectTransport()
    assert isinstance(direct, mediasoup.DirectTransport) and direct in bot.transports
    [sender] = bot.rtpSenders
    assert sender.associatedRtpReceiver is receiver
    received: list[bytes] = []
    sender.on("rtp", received.append)
    await sender.setTransport(direct)
    await until(lambda: len(received) >= 100, 10, lambda: f"{len(received)} packets")
    await client.close()

    sent_payloads = [RtpPacket.parse(packet).payload for packet in sent]
    parsed = [RtpPacket.parse(packet) for packet in received]
    payloads = [packet.payload for packet in parsed]
    encoding, codec = sender.rtpParameters["encodings"][0], sender.rtpParameters["codecs"][0]
    # The packets are a run of those the publisher sent, byte for byte in
    # their payloads, in order, none missing, rewritten to the sender's SSRC
    # and payload type.
    starts = [start for start in range(len(sent_payloads)) if sent_payloads[start : start + len(payloads)] == payloads]
    assert starts, "the payloads Python got are not a run of those sent"
    assert {packet.ssrc for packet in parsed} == {encoding["ssrc"]}
    assert {packet.payload_type for packet in parsed} == {codec["payloadType"]}
    assert all((b.sequence_number - a.sequence_number) % 65536 == 1 for a, b in zip(parsed, parsed[1:]))
    stats = await direct.getStats()
    assert stats[0]["type"] == "direct-transport" and stats[0]["packetsSent"] >= len(received) and stats[0]["packetsDropped"] == 0


async def test_python_publishes_a_tone_that_a_pymediasoup_subscriber_hears(server: mediasoup.Server) -> None:
    room = await server.Room()
    bot = await room.Peer("bot")
    direct = await bot.createDirectTransport()
    receiver = bot.RtpReceiver("audio", direct)
    await receiver.receive(opus_parameters())

    bob = await room.Peer("bob")
    client = MediasoupClient(room, bob)
    await client.load()
    await bob.setCapabilities(client.device.rtpCapabilities.model_dump(exclude_none=True))
    transport = await bob.createTransport()
    [sender] = bob.rtpSenders
    await sender.setTransport(transport)
    consumer_transport = client._client_transport(transport, "recv")
    consumer = await consumer_transport.consume(
        id=sender.id, producerId=receiver.id, kind="audio", rtpParameters=sender.rtpParameters
    )
    heard: list[numpy.ndarray] = []

    async def listen() -> None:
        while True:
            frame = await consumer.track.recv()
            heard.append(frame.to_ndarray().reshape(-1, 2)[:, 0].astype(float))

    listening = asyncio.ensure_future(listen())
    packets = opus_packets(660.0, 3.0)
    started = time.perf_counter()
    for index, packet in enumerate(packets):
        assert receiver.sendRtp(packet) is True
        # Paced as an encoder would send them.
        await asyncio.sleep(max(0.0, started + (index + 1) * 0.02 - time.perf_counter()))
    await until(lambda: len(heard) >= 100, 5, lambda: f"{len(heard)} frames heard")
    listening.cancel()
    await client.close()
    # The last second heard (the decoder settled) is the tone Python sent.
    assert abs(dominant_frequency(numpy.concatenate(heard[-50:])) - 660.0) < 10
    stats = await receiver.getStats()
    assert stats[0]["packetsReceived"] >= len(packets) * 0.99


async def test_a_subscriber_keyframe_request_reaches_python_and_python_can_ask_one(server: mediasoup.Server) -> None:
    room = await server.Room()
    bot = await room.Peer("bot")
    direct = await bot.createDirectTransport()
    camera = bot.RtpReceiver("video", direct)
    await camera.receive({
        "codecs": [{"mimeType": "video/VP8", "payloadType": 101, "clockRate": 90000, "rtcpFeedback": [{"type": "nack", "parameter": "pli"}]}],
        "encodings": [{"ssrc": 0x0CAFE}],
    })
    asked: list[float] = []
    camera.on("keyframerequest", lambda: asked.append(time.perf_counter()))
    viewer = await room.Peer("viewer")
    viewer_direct = await viewer.createDirectTransport()
    [sender] = viewer.rtpSenders
    await sender.setTransport(viewer_direct)
    # A subscriber that starts needs a keyframe: the encoder (Python) is told.
    await until(lambda: len(asked) == 1, 5, lambda: asked)
    await asyncio.sleep(0.6)
    await sender.requestKeyFrame()
    await until(lambda: len(asked) == 2, 5, lambda: asked)


async def test_what_a_direct_transport_refuses_is_said_and_changes_nothing(server: mediasoup.Server) -> None:
    room = await server.Room()
    bot = await room.Peer("bot")
    direct = await bot.createDirectTransport()
    receiver = bot.RtpReceiver("audio", direct)
    packet = opus_packets(440, 0.02)[0]
    with pytest.raises(InvalidStateError, match="call receive"):
        receiver.sendRtp(packet)
    with pytest.raises(ValueError, match="ssrc is missing"):
        await receiver.receive({"codecs": opus_parameters()["codecs"], "encodings": [{"rid": "r0"}]})
    await receiver.receive(opus_parameters())
    with pytest.raises(ValueError, match="SSRC 7 is none of the stream's"):
        receiver.sendRtp(packet[:8] + (7).to_bytes(4, "big") + packet[12:])
    with pytest.raises(ValueError, match="not an RTP packet: 5 bytes"):
        receiver.sendRtp(b"short")
    with pytest.raises(ValueError, match="version is not 2"):
        receiver.sendRtp(b"\x00" * 8 + OPUS_SSRC.to_bytes(4, "big"))
    with pytest.raises(TypeError, match="bytes, not str"):
        receiver.sendRtp("packet")  # type: ignore[arg-type]
    assert receiver.sendRtp(bytearray(packet)) is True

    other = await room.Peer("other")
    await other.setCapabilities(room.rtpCapabilities)
    webrtc = await other.createTransport()
    with pytest.raises(ValueError, match="belongs to another peer"):
        bot.RtpReceiver("audio", webrtc)
    with pytest.raises(TypeError, match="transport must be a Transport, a DirectTransport or a PlainTransport"):
        bot.RtpReceiver("audio", "direct")  # type: ignore[arg-type]
    with pytest.raises(InvalidStateError, match="not on a DirectTransport"):
        other.RtpReceiver("audio", webrtc).sendRtp(packet)
    [sender] = other.rtpSenders
    with pytest.raises(ValueError, match="queueSize must be >= 1"):
        sender.packets(queueSize=0)
    with pytest.raises(TypeError, match="queueSize must be an int"):
        sender.packets(queueSize=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidStateError, match="has no transport yet"):
        await sender.requestKeyFrame()

    # The worker counted the one good packet, and nothing else reached it.
    await asyncio.sleep(0.3)
    [inbound] = await receiver.getStats()
    assert inbound["packetsReceived"] == 1
    [transport_stats] = await direct.getStats()
    assert transport_stats["packetsReceived"] == 1 and transport_stats["packetsDiscarded"] == 0
    direct.close()
    assert receiver.closed and direct not in bot.transports
    with pytest.raises(InvalidStateError):
        receiver.sendRtp(packet)
    bot.close()
    with pytest.raises(InvalidStateError):
        await bot.createDirectTransport()


async def test_packets_as_an_async_iterator_bounded_for_a_slow_reader(server: mediasoup.Server) -> None:
    room = await server.Room()
    bot = await room.Peer("bot")
    direct = await bot.createDirectTransport()
    receiver = bot.RtpReceiver("audio", direct)
    await receiver.receive(opus_parameters())
    listener = await room.Peer("listener")
    listener_direct = await listener.createDirectTransport()
    [sender] = listener.rtpSenders
    await sender.setTransport(listener_direct)
    packets = sender.packets(queueSize=10)
    for packet in opus_packets(440, 1.0):
        receiver.sendRtp(packet)
    await until(lambda: packets.dropped == 40, 5, lambda: packets.dropped)
    # The ten newest wait; the reader gets them in order, then the iterator ends with the sender.
    got = [RtpPacket.parse(await packets.__anext__()).sequence_number for _ in range(10)]
    assert got == sorted(got) and len(set(got)) == 10
    receiver.close()
    assert [packet async for packet in packets] == []


async def test_a_python_process_that_stops_reading_loses_its_own_packets_only() -> None:
    # Six load-generator publishers (~0.9 Mbit/s of video each, and audio);
    # Python subscribes to all of them on a direct transport, a load-generator
    # subscriber (the witness, another process) to the first one. Then the
    # Python process blocks for 10 s: nothing reads the media path.
    witness = await Loadgen.start(threads=1)
    load = await Loadgen.start(threads=1)
    sfu = Ours(witness, cpu=None)
    try:
        await sfu.setup()
        for index in range(5):
            await sfu.add_publisher(load, f"load-{index}")
        await sfu.join_one(publisher="publisher")
        assert sfu.room is not None
        bot = await sfu.room.Peer("bot")
        direct = await bot.createDirectTransport()
        arrived = [0]
        for sender in bot.rtpSenders:
            sender.on("rtp", lambda packet: arrived.__setitem__(0, arrived[0] + 1))
            await sender.setTransport(direct)
        assert len(bot.rtpSenders) == 12
        await until(lambda: arrived[0] > 500, 10, lambda: arrived)
        [before] = [entry for entry in await direct.getStats() if entry["type"] == "direct-transport"]
        assert before["packetsDropped"] == 0
        worker_memory, own_memory = rss_bytes(sfu.pid), rss_bytes(os.getpid())

        await witness.window(True)
        time.sleep(10)  # the stall: this process's event loop runs nothing
        stalled_worker, stalled_own = rss_bytes(sfu.pid), rss_bytes(os.getpid())
        await asyncio.sleep(1)
        await witness.window(False)
        stats = await settled_stats(witness)

        [after] = [entry for entry in await direct.getStats() if entry["type"] == "direct-transport"]
        resumed = arrived[0]
        await until(lambda: arrived[0] > resumed + 500, 5, lambda: (resumed, arrived))
    finally:
        await sfu.close()
        await witness.close()
        await load.close()
    # The other subscriber lost nothing, in a window that held the stall.
    assert stats["sent"]["video"] >= 1000 and stats["received"]["video"] == stats["sent"]["video"], stats
    assert stats["received"]["audio"] >= stats["sent"]["audio"] * 0.99, stats
    # What did not fit Python's queues was dropped and counted, in bounded memory.
    assert after["packetsDropped"] > 1000, after
    assert after["queuedBytes"] <= 1024 * 1024
    assert stalled_worker - worker_memory < 16 * 1024 * 1024, (worker_memory, stalled_worker)
    assert stalled_own - own_memory < 32 * 1024 * 1024, (own_memory, stalled_own)


async def test_data_crosses_a_direct_transport_both_ways_with_pymediasoup(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from pymediasoup.sctp_parameters import SctpStreamParameters

    use_loopback_only(monkeypatch)
    room = await server.Room()
    alice_peer = await room.Peer("alice")
    alice = MediasoupClient(room, alice_peer)
    await alice.load()
    bot = await room.Peer("bot")
    direct = await bot.createDirectTransport()
    try:
        sctp, sctp_send = await alice_peer.createTransport(enableSctp=True), await alice_peer.createTransport(enableSctp=True)
        # Python sends on a channel of its own; alice's client consumes it.
        python_channel = bot.DataReceiver(direct)
        await python_channel.receive({"label": "answers", "protocol": "text"})
        await until(lambda: len(alice_peer.dataSenders) == 1, 5, lambda: alice_peer.dataSenders)
        [to_alice] = alice_peer.dataSenders
        await to_alice.setTransport(sctp)
        client_send, client_receive = alice.sctp_transport(sctp_send, "send"), alice.sctp_transport(sctp, "recv")
        consumer = await client_receive.consumeData(
            id=to_alice.id, dataProducerId=python_channel.id, label="answers", protocol="text",
            sctpStreamParameters=SctpStreamParameters(**to_alice.sctpStreamParameters),
        )
        heard: list[Any] = []
        consumer.on("message", heard.append)

        # alice's client sends on a channel it produces; Python gets its messages.
        receivers: list[mediasoup.DataReceiver] = []

        @client_send.on("producedata")
        async def on_produce_data(sctpStreamParameters: Any, label: str, protocol: str, appData: Any) -> str:
            receiver = alice_peer.DataReceiver(sctp_send)
            await receiver.receive({"sctpStreamParameters": sctpStreamParameters.model_dump(exclude_none=True), "label": label, "protocol": protocol})
            receivers.append(receiver)
            return receiver.id

        producer = await client_send.produceData(label="questions")
        await until(lambda: len(bot.dataSenders) == 1, 5, lambda: bot.dataSenders)
        [from_alice] = bot.dataSenders
        assert from_alice.associatedDataReceiver is receivers[0]
        got: list[str | bytes] = []
        from_alice.on("message", got.append)
        await from_alice.setTransport(direct)
        await until(lambda: producer.readyState == "open" and consumer.readyState == "open", 10, lambda: (producer.readyState, consumer.readyState))

        questions: list[str | bytes] = ["what time is it?", "¿qué hora es?", b"\x00\xff" * 5000]
        for question in questions:
            producer.send(question)
        await until(lambda: len(got) == len(questions), 10, lambda: got)
        assert got == questions, "in order, text as str and binary as bytes, byte-equal"

        answers: list[str | bytes] = ["noon", b"\x01" * 60_000]
        for answer in answers:
            assert python_channel.send(answer) is True
        await until(lambda: len(heard) == len(answers), 10, lambda: heard)
        assert heard == answers
        [stats] = [entry for entry in await direct.getStats() if entry["type"] == "data-channel" and entry["label"] == "questions"]
        assert stats["messagesSent"] == 3 and stats["messagesDropped"] == 0
    finally:
        await alice.close()


async def test_what_direct_data_refuses_is_said(server: mediasoup.Server) -> None:
    room = await server.Room()
    bot = await room.Peer("bot")
    direct = await bot.createDirectTransport()
    channel = bot.DataReceiver(direct)
    with pytest.raises(InvalidStateError, match="call receive"):
        channel.send("early")
    await channel.receive({"label": "notes"})
    assert channel.sctpStreamParameters == {"streamId": 0, "ordered": True}
    second = bot.DataReceiver(direct)
    await second.receive({"label": "more"})
    assert second.sctpStreamParameters is not None and second.sctpStreamParameters["streamId"] == 1
    taken = bot.DataReceiver(direct)
    with pytest.raises(ValueError, match="streamId 1 is taken"):
        await taken.receive({"label": "again", "sctpStreamParameters": {"streamId": 1}})
    with pytest.raises(ValueError, match="at most 262144 bytes"):
        channel.send(b"x" * 262_145)
    with pytest.raises(TypeError, match="str or bytes, not int"):
        channel.send(5)  # type: ignore[arg-type]
    other = await room.Peer("other")
    sctp = await other.createTransport(enableSctp=True)
    sctp_channel = other.DataReceiver(sctp)
    await sctp_channel.receive({"label": "x", "sctpStreamParameters": {"streamId": 2}})
    with pytest.raises(InvalidStateError, match="not on a DirectTransport"):
        sctp_channel.send("x")
    channel.close()
    with pytest.raises(InvalidStateError, match="closed"):
        channel.send("late")
