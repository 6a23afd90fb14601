"""Decoded media through the worker (mediasoup.media on direct transports),
with pymediasoup (aiortc) clients on the other side: Python hears and sees
what a client publishes, and a client hears and sees what Python publishes."""

from __future__ import annotations

import asyncio
from typing import Any

import mediasoup
import numpy
import pytest
from mediasoup import media

from .clients import MediasoupClient, colour_track, dominant_frequency, mean_colour, tone_track, until

RED = (200, 30, 30)
BLUE = (20, 40, 190)


async def client_for(room: mediasoup.Room, name: str) -> tuple[mediasoup.Peer, MediasoupClient, mediasoup.Transport]:
    peer = await room.Peer(name)
    client = MediasoupClient(room, peer)
    await client.load()
    await peer.setCapabilities(client.device.rtpCapabilities.model_dump(exclude_none=True))
    return peer, client, await peer.createTransport()


def close_to(colour: tuple[float, float, float], expected: tuple[int, int, int], tolerance: float = 12) -> bool:
    return all(abs(a - b) < tolerance for a, b in zip(colour, expected))


async def test_python_hears_and_sees_what_a_pymediasoup_client_publishes(server: mediasoup.Server) -> None:
    room = await server.Room()
    alice, client, transport = await client_for(room, "alice")
    await client.publish(transport, [tone_track(0.3, 440.0), colour_track(RED)])

    agent = await room.Peer("agent")
    direct = await agent.createDirectTransport()
    tracks = {sender.kind: await media.subscribe(sender, direct) for sender in agent.rtpSenders}
    assert set(tracks) == {"audio", "video"}
    audio = [await tracks["audio"].recv() for _ in range(100)]
    video = [await tracks["video"].recv() for _ in range(20)]
    for track in tracks.values():
        track.stop()
    # A stopped track's sender queues nothing more for it.
    assert [sender._queues for sender in agent.rtpSenders] == [[], []]
    await client.close()

    samples = numpy.concatenate([frame.to_ndarray().reshape(-1, 2)[:, 0] for frame in audio[-50:]]).astype(float)
    assert abs(dominant_frequency(samples) - 440.0) < 5
    assert all(frame.sample_rate == 48_000 for frame in audio)
    assert close_to(mean_colour(video[-1]), RED), mean_colour(video[-1])
    assert (video[-1].width, video[-1].height) == (320, 240)


async def test_a_pymediasoup_client_hears_and_sees_what_python_publishes(server: mediasoup.Server) -> None:
    room = await server.Room()
    agent = await room.Peer("agent")
    direct = await agent.createDirectTransport()
    voice = await media.publish(direct, tone_track(0.3, 660.0))
    camera = await media.publish(direct, colour_track(BLUE))

    bob, client, transport = await client_for(room, "bob")
    receive = client._client_transport(transport, "recv")
    consumers: dict[str, Any] = {}
    for sender in bob.rtpSenders:
        await sender.setTransport(transport)
        consumers[sender.kind] = await receive.consume(
            id=sender.id, producerId=sender.associatedRtpReceiver.id, kind=sender.kind, rtpParameters=sender.rtpParameters
        )
    assert set(consumers) == {"audio", "video"}
    audio = [await consumers["audio"].track.recv() for _ in range(100)]
    video = [await consumers["video"].track.recv() for _ in range(20)]
    voice.stop()
    camera.stop()
    await client.close()

    samples = numpy.concatenate([frame.to_ndarray().reshape(-1)[::2] for frame in audio[-50:]]).astype(float)
    assert abs(dominant_frequency(samples) - 660.0) < 5
    assert close_to(mean_colour(video[-1]), BLUE), mean_colour(video[-1])
    assert voice.packetsSent >= 100 and camera.keyFramesEncoded >= 1
    await until(lambda: not voice.active and not camera.active, 2, lambda: (voice.active, camera.active))


async def test_a_publish_that_fails_leaves_no_receiver_and_one_whose_receiver_closes_stops_quietly(
    server: mediasoup.Server, caplog: Any
) -> None:
    from mediasoup.errors import UnsupportedError

    room = await server.Room(mediaCodecs=[{"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2},
                                          {"kind": "video", "mimeType": "video/VP8", "clockRate": 90000}])
    agent = await room.Peer("agent")
    direct = await agent.createDirectTransport()
    with pytest.raises(ValueError, match="cannot be published as"):
        await media.publish(direct, tone_track(0.3, 660.0), mimeType="video/VP8")
    with pytest.raises(UnsupportedError):
        await media.publish(direct, colour_track(BLUE), mimeType="video/H264")  # not among the room's codecs
    assert agent.rtpReceivers == [] and (await agent.dump())["rtpReceiverIds"] == []
    voice = await media.publish(direct, tone_track(0.3, 660.0))
    [receiver] = agent.rtpReceivers
    await until(lambda: voice.packetsSent > 10, 5, lambda: voice.packetsSent)
    receiver.close()  # the stream ends: the publisher stops, no error
    await asyncio.wait_for(voice.wait(), 2)
    assert not [record for record in caplog.records if "failed" in record.getMessage()], caplog.text
