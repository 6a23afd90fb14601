"""Plain RTP transports with real plain RTP endpoints: ffmpeg (Debian's)
publishes a VP8 test pattern (over SRTP) and an Opus tone (in the clear)
into a room, and a pymediasoup subscriber decodes both; ffmpeg records
what an aiortc publisher sends, from plain transports (video over SRTP)
through an SDP file that `mediasoup.transport.sdp` wrote, into a file PyAV
decodes; two rooms joined by hand through plain transports with AES-GCM;
GStreamer publishing a colour and recording it back into a file."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import mediasoup
import numpy
import pytest
from mediasoup.errors import InvalidStateError

from .clients import MediasoupClient, colour_track, dominant_frequency, mean_colour, tone_track, until

VIDEO_SSRC, AUDIO_SSRC = 0x1111, 0x2222


def free_udp_ports(count: int) -> list[int]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


async def test_ffmpeg_publishes_a_test_pattern_and_a_tone_that_a_pymediasoup_subscriber_decodes(server: mediasoup.Server) -> None:
    room = await server.Room()
    ffmpeg = await room.Peer("ffmpeg")
    # Video as mediasoup's own ffmpeg example has it (RTCP on a port of its
    # own, both learnt), with SRTP: ffmpeg's keys given, the transport's
    # unused (ffmpeg only sends); audio in the clear with RTCP muxed.
    video = await ffmpeg.createPlainTransport(rtcpMux=False, comedia=True, enableSrtp=True)
    audio = await ffmpeg.createPlainTransport(comedia=True)
    assert isinstance(video, mediasoup.PlainTransport) and video.rtcpTuple is not None and audio.rtcpTuple is None
    assert video.srtpParameters is not None and video.srtpParameters["cryptoSuite"] == "AES_CM_128_HMAC_SHA1_80"
    ffmpeg_key = base64.b64encode(os.urandom(30)).decode()
    await video.connect(srtpParameters={"cryptoSuite": "AES_CM_128_HMAC_SHA1_80", "keyBase64": ffmpeg_key})
    learnt: list[dict[str, Any]] = []
    video.on("tuple", learnt.append)
    camera = ffmpeg.RtpReceiver("video", video)
    await camera.receive({"codecs": [{"mimeType": "video/VP8", "payloadType": 101, "clockRate": 90000}], "encodings": [{"ssrc": VIDEO_SSRC}]})
    voice = ffmpeg.RtpReceiver("audio", audio)
    await voice.receive({"codecs": [{"mimeType": "audio/opus", "payloadType": 100, "clockRate": 48000, "channels": 2}], "encodings": [{"ssrc": AUDIO_SSRC}]})

    bob = await room.Peer("bob")
    client = MediasoupClient(room, bob)
    await client.load()
    await bob.setCapabilities(client.device.rtpCapabilities.model_dump(exclude_none=True))
    transport = await bob.createTransport()
    receiving = client._client_transport(transport, "recv")
    consumers = {}
    for sender in bob.rtpSenders:
        await sender.setTransport(transport)
        consumers[sender.kind] = await receiving.consume(
            id=sender.id, producerId=sender.associatedRtpReceiver.id, kind=sender.kind, rtpParameters=sender.rtpParameters
        )
    frames: list[Any] = []
    heard: list[numpy.ndarray] = []

    async def watch() -> None:
        while True:
            frames.append(await consumers["video"].track.recv())

    async def listen() -> None:
        while True:
            frame = await consumers["audio"].track.recv()
            heard.append(frame.to_ndarray().reshape(-1, 2)[:, 0].astype(float))

    tasks = [asyncio.ensure_future(watch()), asyncio.ensure_future(listen())]
    video_port, video_rtcp_port, audio_port = video.tuple["localPort"], video.rtcpTuple["localPort"], audio.tuple["localPort"]
    command = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30",
        "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000",
        "-t", "6",
        "-map", "0:v", "-c:v", "libvpx", "-deadline", "realtime", "-b:v", "400k", "-g", "30",
        "-ssrc", str(VIDEO_SSRC), "-payload_type", "101",
        "-f", "rtp", "-srtp_out_suite", "AES_CM_128_HMAC_SHA1_80", "-srtp_out_params", ffmpeg_key,
        f"srtp://127.0.0.1:{video_port}?rtcpport={video_rtcp_port}&pkt_size=1200",
        "-map", "1:a", "-c:a", "libopus", "-ac", "2", "-b:a", "64k",
        "-ssrc", str(AUDIO_SSRC), "-payload_type", "100",
        "-f", "rtp", f"rtp://127.0.0.1:{audio_port}?rtcpport={audio_port}",
    ]  # fmt: skip
    publisher = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        await until(lambda: len(frames) >= 60 and len(heard) >= 100, 20, lambda: f"{len(frames)} frames, {len(heard)} audio frames")
    finally:
        if publisher.returncode is None:
            publisher.kill()
        _, stderr = await publisher.communicate()
        for task in tasks:
            task.cancel()
        await client.close()
    assert publisher.returncode in (0, -9), stderr.decode()
    # comedia learnt where ffmpeg sends from.
    assert learnt and learnt[0]["remoteIp"] == "127.0.0.1" and video.tuple["remotePort"] == learnt[0]["remotePort"]
    assert video.rtcpTuple["remotePort"] != video.tuple["remotePort"]
    # The test pattern's size, and the tone at 660 Hz.
    assert (frames[-1].width, frames[-1].height) == (320, 240)
    assert abs(dominant_frequency(numpy.concatenate(heard[-50:])) - 660) < 15
    stats = await video.getStats()
    assert stats[0]["type"] == "plain-transport" and stats[0]["rtpPacketsReceived"] > 50 and stats[0]["rtcpPacketsReceived"] >= 1, stats
    assert stats[0]["packetsDiscarded"] == 0, stats


async def test_ffmpeg_records_an_aiortc_publisher_from_plain_transports_through_the_sdp_helper(server: mediasoup.Server, tmp_path: Path) -> None:
    import av

    room = await server.Room()
    alice = await room.Peer("alice")
    client = MediasoupClient(room, alice)
    await client.load()
    await alice.setCapabilities(client.device.rtpCapabilities.model_dump(exclude_none=True))
    sending = await alice.createTransport()
    await client.publish(sending, [colour_track((200, 40, 40)), tone_track(0.3, 440.0)])

    recorder = await room.Peer("recorder")
    await recorder.setCapabilities(room.rtpCapabilities)
    ports = free_udp_ports(2)
    senders = sorted(recorder.rtpSenders, key=lambda sender: sender.kind, reverse=True)
    assert [sender.kind for sender in senders] == ["video", "audio"]
    for sender, port in zip(senders, ports):
        # Video over SRTP (ffmpeg sends nothing: no keys of its own are needed,
        # but connect() takes some), audio in the clear.
        srtp = sender.kind == "video"
        plain = await recorder.createPlainTransport(enableSrtp=srtp)
        await sender.setTransport(plain)
        keys = {"cryptoSuite": "AES_CM_128_HMAC_SHA1_80", "keyBase64": base64.b64encode(os.urandom(30)).decode()}
        await plain.connect("127.0.0.1", port, srtpParameters=keys if srtp else None)
        assert plain.tuple["remotePort"] == port
    sdp = mediasoup.transport.sdp(senders)
    assert sdp.count("m=") == 2 and "a=rtcp-mux" in sdp
    assert "RTP/SAVP" in sdp and f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{senders[0].transport.srtpParameters['keyBase64']}" in sdp
    (tmp_path / "room.sdp").write_text(sdp)
    output = tmp_path / "room.mkv"
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-protocol_whitelist", "file,udp,rtp",
               "-i", str(tmp_path / "room.sdp"), "-t", "4", "-c", "copy", "-y", str(output)]  # fmt: skip
    recording = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # ffmpeg binds its ports and waits for a keyframe: ask until one came.
        for _ in range(20):
            await asyncio.sleep(0.5)
            await senders[0].requestKeyFrame()
            if recording.poll() is not None:
                break
        _, stderr = await asyncio.to_thread(recording.communicate, timeout=30)
    finally:
        if recording.poll() is None:
            recording.kill()
        await client.close()
    assert recording.returncode == 0, stderr.decode()
    with av.open(str(output)) as container:
        video_frames = [frame for frame in container.decode(video=0)]
    with av.open(str(output)) as container:
        samples = numpy.concatenate([frame.to_ndarray()[0].astype(float) for frame in container.decode(audio=0)])
    assert len(video_frames) >= 30, len(video_frames)
    red, green, blue = mean_colour(video_frames[-1])
    assert red > 150 and green < 90 and blue < 90, (red, green, blue)
    assert abs(dominant_frequency(samples[-48_000:]) - 440) < 15
    stats = await senders[0].transport.getStats()
    assert stats[0]["rtpPacketsSent"] > 30 and stats[0]["rtcpPacketsSent"] >= 1, stats


async def test_bad_plain_transport_options_get_clear_errors(server: mediasoup.Server) -> None:
    room = await server.Room()
    peer = await room.Peer("gateway")
    with pytest.raises(ValueError, match="srtpCryptoSuite"):
        await peer.createPlainTransport(srtpCryptoSuite="ROT13")
    with pytest.raises(TypeError, match="rtcpMux must be a bool"):
        await peer.createPlainTransport(rtcpMux=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="listen addresses"):
        await peer.createPlainTransport(listenIp="192.0.2.1")
    plain = await peer.createPlainTransport(listenIp="127.0.0.1", rtcpMux=False)
    with pytest.raises(ValueError, match="rtcpPort is needed"):
        await plain.connect("127.0.0.1", 5004)
    with pytest.raises(ValueError, match="port must be an int"):
        await plain.connect("127.0.0.1", 70000, 5005)
    with pytest.raises(ValueError, match="ip must be an IP address"):
        await plain.connect("localhost", 5004, 5005)
    await plain.connect("127.0.0.1", 5004, 5005)
    assert plain.tuple["remotePort"] == 5004 and plain.rtcpTuple["remotePort"] == 5005
    with pytest.raises(InvalidStateError, match="connected already"):
        await plain.connect("127.0.0.1", 5006, 5007)
    comedia = await peer.createPlainTransport(comedia=True)
    with pytest.raises(InvalidStateError, match="comedia"):
        await comedia.connect("127.0.0.1", 5004)
    with pytest.raises(InvalidStateError, match="carries no data channels"):
        peer.DataReceiver(comedia)
    with pytest.raises(InvalidStateError, match="comedia without SRTP"):
        await comedia.connect()
    secure = await peer.createPlainTransport(enableSrtp=True, srtpCryptoSuite="AEAD_AES_128_GCM")
    assert secure.srtpParameters is not None and len(base64.b64decode(secure.srtpParameters["keyBase64"])) == 28
    assert comedia.srtpParameters is None
    with pytest.raises(ValueError, match="needs srtpParameters"):
        await secure.connect("127.0.0.1", 5004)
    with pytest.raises(ValueError, match="takes no srtpParameters"):
        await plain.connect("127.0.0.1", 5006, 5007, srtpParameters=secure.srtpParameters)
    for bad, match in [
        ({"cryptoSuite": "AEAD_AES_128_GCM"}, "must be"),
        ({"cryptoSuite": "NULL_CIPHER", "keyBase64": "AAAA"}, "cryptoSuite must be one of"),
        ({"cryptoSuite": "AEAD_AES_128_GCM", "keyBase64": "not base64!"}, "not base64"),
        ({"cryptoSuite": "AEAD_AES_256_GCM", "keyBase64": secure.srtpParameters["keyBase64"]}, "44 bytes, not 28"),
        ({"cryptoSuite": "AEAD_AES_128_GCM", "keyBase64": "A" * 4_000_000}, "28 bytes, not 3000000"),
        ({"cryptoSuite": "AEAD_AES_128_GCM", "keyBase64": 28}, "not base64"),
        ({"cryptoSuite": ["AEAD_AES_128_GCM"], "keyBase64": "AAAA"}, "cryptoSuite must be one of"),
    ]:
        with pytest.raises(ValueError, match=match):
            await secure.connect("127.0.0.1", 5004, srtpParameters=bad)  # type: ignore[arg-type]
    await secure.connect("127.0.0.1", 5004, srtpParameters={"cryptoSuite": "AES_CM_128_HMAC_SHA1_32", "keyBase64": base64.b64encode(bytes(30)).decode()})
    # The shared port: one for the worker's transports that ask, each told apart by its endpoint.
    with pytest.raises(TypeError, match="sharedPort must be a bool"):
        await peer.createPlainTransport(sharedPort="yes")  # type: ignore[arg-type]
    for options in ({"comedia": True}, {"rtcpMux": False}):
        with pytest.raises(ValueError, match="takes rtcpMux and no comedia"):
            await peer.createPlainTransport(sharedPort=True, **options)  # type: ignore[arg-type]
    first, second = await peer.createPlainTransport(sharedPort=True), await peer.createPlainTransport(sharedPort=True)
    assert first.sharedPort and not plain.sharedPort
    assert first.tuple["localPort"] == second.tuple["localPort"] != plain.tuple["localPort"]
    await first.connect("127.0.0.1", 6000)
    with pytest.raises(ValueError, match="is connected to 127.0.0.1:6000 already"):
        await second.connect("127.0.0.1", 6000)
    await second.connect("127.0.0.1", 6002)
    first.close()
    second.close()
    plain.close()
    await asyncio.sleep(0.2)
    metrics = await server.getMetrics()
    assert sum(worker["plainTransports"] for worker in metrics.values()) == 2, metrics


async def test_two_rooms_joined_by_hand_through_plain_transports_with_aes_gcm(server: mediasoup.Server) -> None:
    """What a pipe does, by hand: room A's sender leaves on a plain transport
    (AEAD_AES_256_GCM) to room B's comedia transport, where a receiver
    publishes it; a pymediasoup subscriber in room B sees room A's colour;
    its keyframe requests travel back as SRTCP."""
    room_a, room_b = await server.Room(), await server.Room()
    alice = await room_a.Peer("alice")
    publisher = MediasoupClient(room_a, alice)
    await publisher.load()
    await alice.setCapabilities(publisher.device.rtpCapabilities.model_dump(exclude_none=True))
    await publisher.publish(await alice.createTransport(), [colour_track((30, 60, 200))])

    entry = await room_b.Peer("entry")
    inbound = await entry.createPlainTransport(comedia=True, enableSrtp=True, srtpCryptoSuite="AEAD_AES_256_GCM")
    exit_peer = await room_a.Peer("exit")
    await exit_peer.setCapabilities(room_a.rtpCapabilities)
    outbound = await exit_peer.createPlainTransport(enableSrtp=True, srtpCryptoSuite="AEAD_AES_256_GCM")
    [sender] = exit_peer.rtpSenders
    await sender.setTransport(outbound)
    assert inbound.srtpParameters is not None and outbound.srtpParameters is not None
    await outbound.connect(inbound.tuple["localIp"], inbound.tuple["localPort"], srtpParameters=inbound.srtpParameters)
    await inbound.connect(srtpParameters=outbound.srtpParameters)
    copy = entry.RtpReceiver("video", inbound)
    await copy.receive(sender.rtpParameters)

    bob = await room_b.Peer("bob")
    viewer = MediasoupClient(room_b, bob)
    await viewer.load()
    await bob.setCapabilities(viewer.device.rtpCapabilities.model_dump(exclude_none=True))
    receiving_transport = await bob.createTransport()
    receiving = viewer._client_transport(receiving_transport, "recv")
    [to_bob] = bob.rtpSenders
    await to_bob.setTransport(receiving_transport)
    consumer = await receiving.consume(id=to_bob.id, producerId=copy.id, kind="video", rtpParameters=to_bob.rtpParameters)
    try:
        frame = None
        for _ in range(90):
            frame = await asyncio.wait_for(consumer.track.recv(), 10)
        assert frame is not None
        red, green, blue = mean_colour(frame)
        assert blue > 150 and red < 80 and green < 110, (red, green, blue)
        await until(lambda: inbound.tuple.get("remotePort") == outbound.tuple["localPort"], 5, lambda: inbound.tuple)
        # Bob's keyframe requests reach room A's transport through the SRTCP back.
        before = await stat(outbound, "keyFrameRequestsReceived")
        for _ in range(10):
            await to_bob.requestKeyFrame()
            await asyncio.sleep(0.6)
            if await stat(outbound, "keyFrameRequestsReceived") > before:
                break
        assert await stat(outbound, "keyFrameRequestsReceived") > before
        stats = (await inbound.getStats())[0]
        assert stats["rtpPacketsReceived"] >= 90 and stats["packetsDiscarded"] == 0, stats
    finally:
        await viewer.close()
        await publisher.close()


async def stat(transport: mediasoup.PlainTransport, name: str) -> int:
    return int((await transport.getStats())[0][name])



async def test_gstreamer_publishes_and_records_through_a_room(server: mediasoup.Server, tmp_path: Path) -> None:
    """GStreamer (Debian's gst-launch-1.0) publishes a solid-colour VP8
    stream (rtpvp8pay ! udpsink, comedia) and a second GStreamer records it
    from a plain transport (udpsrc ! rtpvp8depay ! matroskamux) into a
    file PyAV decodes in that colour."""
    import av

    room = await server.Room()
    camera_peer = await room.Peer("gstreamer")
    inbound = await camera_peer.createPlainTransport(comedia=True)
    camera = camera_peer.RtpReceiver("video", inbound)
    await camera.receive({"codecs": [{"mimeType": "video/VP8", "payloadType": 101, "clockRate": 90000}], "encodings": [{"ssrc": VIDEO_SSRC}]})
    recorder = await room.Peer("recorder")
    await recorder.setCapabilities(room.rtpCapabilities)
    [sender] = recorder.rtpSenders
    outbound = await recorder.createPlainTransport()
    await sender.setTransport(outbound)
    [port] = free_udp_ports(1)
    await outbound.connect("127.0.0.1", port)
    payload_type = sender.rtpParameters["codecs"][0]["payloadType"]
    output = tmp_path / "recorded.mkv"
    record = [
        "gst-launch-1.0", "-e", "-q",
        "udpsrc", "address=127.0.0.1", f"port={port}", "num-buffers=150",
        f"caps=application/x-rtp,media=video,encoding-name=VP8,clock-rate=90000,payload={payload_type}",
        "!", "rtpjitterbuffer", "!", "rtpvp8depay", "!", "matroskamux", "!", "filesink", f"location={output}",
    ]  # fmt: skip
    publish = [
        "gst-launch-1.0", "-q",
        "videotestsrc", "is-live=true", "pattern=solid-color", "foreground-color=0xff2050d0", "num-buffers=300",
        "!", "video/x-raw,width=320,height=240,framerate=30/1",
        "!", "vp8enc", "deadline=1", "keyframe-max-dist=15",
        "!", "rtpvp8pay", "pt=101", f"ssrc={VIDEO_SSRC}", "mtu=1200",
        "!", "udpsink", "host=127.0.0.1", f"port={inbound.tuple['localPort']}",
    ]  # fmt: skip
    recording = subprocess.Popen(record, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    publishing = subprocess.Popen(publish, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, stderr = await asyncio.to_thread(recording.communicate, timeout=30)
        assert recording.returncode == 0, stderr.decode()
    finally:
        for process in (recording, publishing):
            if process.poll() is None:
                process.kill()
            process.wait()
    with av.open(str(output)) as container:
        frames = [frame for frame in container.decode(video=0)]
    assert len(frames) >= 30 and (frames[-1].width, frames[-1].height) == (320, 240), len(frames)
    red, green, blue = mean_colour(frames[-1])
    assert red < 80 and 50 < green < 120 and blue > 160, (red, green, blue)
    stats = (await inbound.getStats())[0]
    assert stats["rtpPacketsReceived"] >= 100 and stats["packetsDiscarded"] == 0, stats
