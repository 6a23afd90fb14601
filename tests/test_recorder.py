"""Recording through the worker: a pymediasoup (aiortc) client publishes a
440 Hz tone and a red picture; a Python peer records them with
mediasoup.media.Recorder; PyAV reads the files back. Also the example
(examples/recorder/recorder.py) recording a room."""

from __future__ import annotations

import asyncio
import importlib.util
import pathlib
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import av
import numpy

import mediasoup
from mediasoup import media

from .clients import MediasoupClient, colour_track, dominant_frequency, mean_colour, tone_track, until

ROOT = pathlib.Path(__file__).resolve().parents[1]
RED = (200, 30, 30)


async def publisher(room: mediasoup.Room, name: str) -> tuple[mediasoup.Peer, MediasoupClient]:
    """A pymediasoup client of peer `name` publishing the tone and the red picture."""
    peer = await room.Peer(name)
    client = MediasoupClient(room, peer)
    await client.load()
    await peer.setCapabilities(client.device.rtpCapabilities.model_dump(exclude_none=True))
    await client.publish(await peer.createTransport(), [tone_track(0.3, 440.0), colour_track(RED)])
    return peer, client


def read_back(path: pathlib.Path) -> tuple[Any, dict[str, list[Any]], list[Any]]:
    """The container, its decoded frames by kind, and its video packets."""
    container = av.open(str(path))
    frames: dict[str, list[Any]] = {"audio": [], "video": []}
    for frame in container.decode(*container.streams):
        frames["audio" if isinstance(frame, av.AudioFrame) else "video"].append(frame)
    container.seek(0)
    packets = [packet for packet in container.demux(video=0) if packet.pts is not None] if container.streams.video else []
    return container, frames, packets


def seconds(packet: Any) -> float:
    return float(packet.pts * packet.time_base)


def close_to(colour: tuple[float, float, float], expected: tuple[int, int, int], tolerance: float = 15) -> bool:
    return all(abs(a - b) < tolerance for a, b in zip(colour, expected))


def tone_of(frames: list[Any]) -> float:
    samples = numpy.concatenate([frame.to_ndarray().reshape(frame.layout.nb_channels, -1)[0] for frame in frames])
    return dominant_frequency(samples.astype(float))


async def test_five_seconds_of_a_call_recorded_to_webm(server: mediasoup.Server, tmp_path: pathlib.Path) -> None:
    room = await server.Room()
    alice, client = await publisher(room, "alice")
    me = await room.Peer("recorder")
    direct = await me.createDirectTransport()
    recorder = await media.recordPeer(alice, direct, tmp_path / "alice.webm")
    await asyncio.sleep(5)
    await recorder.stop()
    await client.close()

    container, frames, packets = read_back(tmp_path / "alice.webm")
    assert sorted(stream.type for stream in container.streams) == ["audio", "video"]
    duration = container.duration / 1e6
    assert abs(duration - 5.0) < 0.5, duration
    assert abs(tone_of(frames["audio"][-100:]) - 440.0) < 5
    assert all(frame.sample_rate == 48_000 for frame in frames["audio"])
    assert close_to(mean_colour(frames["video"][-1]), RED), mean_colour(frames["video"][-1])
    assert close_to(mean_colour(frames["video"][len(frames["video"]) // 2]), RED)
    # Every frame the client sent once the video started (at the first keyframe) is in.
    video_duration = seconds(packets[-1]) - seconds(packets[0]) + 1 / 30
    assert abs(len(frames["video"]) - 30 * video_duration) <= 3 * video_duration, (len(frames["video"]), video_duration)
    assert abs(len(frames["video"]) - 30 * duration) < 0.1 * 30 * duration, (len(frames["video"]), duration)
    assert packets[0].is_keyframe


async def test_the_audio_alone_recorded_to_ogg(server: mediasoup.Server, tmp_path: pathlib.Path) -> None:
    room = await server.Room()
    alice, client = await publisher(room, "alice")
    me = await room.Peer("recorder")
    direct = await me.createDirectTransport()
    audio = next(sender for sender in me.rtpSenders if sender.kind == "audio")
    await audio.setTransport(direct)
    recorder = media.Recorder(tmp_path / "alice.ogg")
    recorder.addSource(audio)
    await recorder.start()
    await asyncio.sleep(2)
    await recorder.stop()
    await client.close()

    container, frames, _ = read_back(tmp_path / "alice.ogg")
    assert [stream.type for stream in container.streams] == ["audio"]
    assert abs(container.duration / 1e6 - 2.0) < 0.2, container.duration
    assert abs(tone_of(frames["audio"][-50:]) - 440.0) < 5


class DroppingSource:
    """An RtpSender whose `drop`-th packet (from 1) never reaches the recorder."""

    def __init__(self, sender: mediasoup.RtpSender, drop: int) -> None:
        self.sender = sender
        self.drop = drop
        self.passed = 0
        # How many packets had passed at each keyframe request.
        self.keyFrameRequests: list[int] = []

    @property
    def kind(self) -> str:
        return self.sender.kind

    @property
    def rtpParameters(self) -> dict[str, Any]:
        return self.sender.rtpParameters

    def packets(self) -> AsyncIterator[bytes]:
        return self._filter(self.sender.packets())

    async def _filter(self, packets: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for packet in packets:
            self.passed += 1
            if self.passed != self.drop:
                yield packet

    async def requestKeyFrame(self) -> None:
        self.keyFrameRequests.append(self.passed)
        await self.sender.requestKeyFrame()


async def test_a_lost_video_packet_skips_to_the_next_keyframe(server: mediasoup.Server, tmp_path: pathlib.Path) -> None:
    room = await server.Room()
    alice, client = await publisher(room, "alice")
    me = await room.Peer("recorder")
    direct = await me.createDirectTransport()
    senders = {sender.kind: sender for sender in me.rtpSenders}
    video = DroppingSource(senders["video"], drop=60)
    recorder = media.Recorder(tmp_path / "alice.webm")
    recorder.addSource(senders["audio"])
    stream = recorder.addSource(video)
    for sender in senders.values():
        await sender.setTransport(direct)
    await recorder.start()
    await until(lambda: video.passed > 100, 15, lambda: video.passed)
    await recorder.stop()
    await client.close()

    assert stream.jitterBuffer.packetsLost >= 1
    assert any(requested >= video.drop for requested in video.keyFrameRequests), video.keyFrameRequests
    _, frames, packets = read_back(tmp_path / "alice.webm")
    times = [seconds(packet) for packet in packets]
    gaps = [index for index in range(1, len(times)) if times[index] - times[index - 1] > 0.05]
    # The frames from the lost one to the next keyframe are not in the file;
    # after every gap, the video goes on with a keyframe.
    assert gaps, times
    assert all(packets[index].is_keyframe for index in gaps), [(times[index], packets[index].is_keyframe) for index in gaps]
    assert len(frames["video"]) == len(packets)  # every frame decodes
    assert close_to(mean_colour(frames["video"][-1]), RED)


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("recorder_example", ROOT / "examples" / "recorder" / "recorder.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_example_records_each_participant_until_it_leaves(server: mediasoup.Server, tmp_path: pathlib.Path) -> None:
    example = load_example()
    room = await server.Room()
    room_recorder = await example.record_room(room, tmp_path)
    alice, client = await publisher(room, "alice/../bob")  # a name is not a path
    await until(lambda: len(room_recorder.files) == 1, 10, lambda: room_recorder.files)
    recording = room_recorder.recorders[alice]
    await asyncio.sleep(3)
    await client.close()
    alice.close()  # alice leaves: her streams end, her file is finalized
    await asyncio.wait_for(recording.wait(), 5)
    await room_recorder.close()

    assert room_recorder.files == [tmp_path / "alice_.._bob.webm"]
    container, frames, _ = read_back(tmp_path / "alice_.._bob.webm")
    assert sorted(stream.type for stream in container.streams) == ["audio", "video"]
    assert abs(container.duration / 1e6 - 3.0) < 0.4, container.duration
    assert abs(tone_of(frames["audio"][-50:]) - 440.0) < 5
    assert close_to(mean_colour(frames["video"][-1]), RED)
