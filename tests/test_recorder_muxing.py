"""The Recorder's muxing without a worker: fake sources hand it real Opus,
VP8 and H264 RTP packets (made by the media layer's own encoders and payload
formats); PyAV reads back what it wrote."""

from __future__ import annotations

import asyncio
import fractions
import functools
import math
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import av
import numpy
import pytest

from mediasoup.media import Recorder, RtpPacket, findCodec
from mediasoup.media.encoders import AudioEncoder, VideoEncoder

from .clients import dominant_frequency, mean_colour

GREEN = (40, 180, 60)


class FakeSource:
    """An RtpSource replaying `packets` (bytes, each after its delay in seconds)."""

    def __init__(self, mimeType: str, packets: list[tuple[float, bytes]]) -> None:
        codec = findCodec(mimeType)
        self.kind = codec.kind
        self.rtpParameters: dict[str, Any] = {"codecs": [codec.rtpCodec()], "encodings": [{"ssrc": 1}]}
        self._packets = packets
        self.packetsSent = 0
        # packetsSent at each keyframe request.
        self.keyFrameRequests: list[int] = []

    def packets(self) -> AsyncIterator[bytes]:
        return self._replay()

    async def _replay(self) -> AsyncIterator[bytes]:
        for delay, packet in self._packets:
            if delay:
                await asyncio.sleep(delay)
            self.packetsSent += 1
            yield packet

    async def requestKeyFrame(self) -> None:
        self.keyFrameRequests.append(self.packetsSent)


def rtp(mimeType: str, frames: list[tuple[bytes, int, bool]], first_timestamp: int = 0, first_sequence: int = 0) -> list[bytes]:
    """`frames` (bitstream, timestamp from 0, keyframe) as RTP packets."""
    codec = findCodec(mimeType)
    payload_format = codec.payloadFormat(1200)
    packets, sequence = [], first_sequence
    for bitstream, timestamp, keyframe in frames:
        payloads = payload_format.packetize(bitstream, keyframe)
        for index, payload in enumerate(payloads):
            marker = codec.kind == "video" and index == len(payloads) - 1
            packets.append(RtpPacket(codec.payloadType, marker, sequence & 0xFFFF,
                                     (first_timestamp + timestamp) & 0xFFFFFFFF, 1, payload).serialize())
            sequence += 1
    return packets


@functools.lru_cache
def tone_frames(seconds: float, frequency: float = 440.0) -> list[tuple[bytes, int, bool]]:
    encoder = AudioEncoder(findCodec("audio/opus"), 64_000)
    frames = []
    for index in range(int(seconds * 50)):
        t = (numpy.arange(960) + index * 960) / 48_000
        pcm = (0.3 * 32767 * numpy.sin(2 * math.pi * frequency * t)).astype(numpy.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 48_000, index * 960, fractions.Fraction(1, 48_000)
        frames.extend(encoder.encode(frame))
    return frames


# Encoded once per test session (libvpx takes ~40 ms a frame here).
@functools.lru_cache
def colour_frames(mimeType: str, seconds: float, keyframes: tuple[int, ...] = (0,)) -> list[tuple[bytes, int, bool]]:
    encoder = VideoEncoder(findCodec(mimeType), 500_000)
    image = numpy.zeros((240, 320, 3), dtype=numpy.uint8)
    image[:, :] = GREEN
    frames = []
    for index in range(int(seconds * 30)):
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = index * 3000, fractions.Fraction(1, 90_000)
        frames.extend(encoder.encode(frame, index * 3000, index in keyframes))
    return frames


def paced(packets: list[bytes], first_delay: float = 0.0, interval: float = 0.0) -> list[tuple[float, bytes]]:
    """`packets` at once after `first_delay`, or one every `interval` seconds."""
    return [(first_delay if index == 0 else interval, packet) for index, packet in enumerate(packets)]


def read_back(path: pathlib.Path) -> tuple[Any, dict[str, list[Any]]]:
    """The container and its decoded frames by kind."""
    container = av.open(str(path))
    frames: dict[str, list[Any]] = {"audio": [], "video": []}
    for frame in container.decode(*container.streams):
        frames["audio" if isinstance(frame, av.AudioFrame) else "video"].append(frame)
    return container, frames


async def test_opus_and_vp8_into_webm_decode_with_their_duration(tmp_path: pathlib.Path) -> None:
    audio = FakeSource("audio/opus", paced(rtp("audio/opus", tone_frames(2.0, 440.0), first_timestamp=0xFFFF_0000, first_sequence=0xFFF0)))
    video = FakeSource("video/VP8", paced(rtp("video/VP8", colour_frames("video/VP8", 2.0, (0,)), first_timestamp=0xFFFF_FF00)))
    recorder = Recorder(tmp_path / "call.webm")
    recorder.addSource(audio)
    recorder.addSource(video)
    await recorder.start()
    await asyncio.wait_for(recorder.wait(), 10)  # the sources end: the file is finalized

    container, frames = read_back(tmp_path / "call.webm")
    assert container.format.name.startswith("matroska")
    assert sorted(stream.type for stream in container.streams) == ["audio", "video"]
    video_stream = container.streams.video[0]
    assert (video_stream.codec_context.width, video_stream.codec_context.height) == (320, 240)
    assert container.streams.audio[0].codec_context.extradata[:8] == b"OpusHead"
    # Both timestamps wrapped past 2^32 during the recording: the duration is still 2 s.
    assert container.duration is not None and abs(container.duration / 1e6 - 2.0) < 0.1, container.duration
    assert len(frames["video"]) == 60 and len(frames["audio"]) == 100
    samples = numpy.concatenate([frame.to_ndarray()[0] for frame in frames["audio"][-50:]]).astype(float)
    assert abs(dominant_frequency(samples) - 440.0) < 5
    assert all(abs(a - b) < 15 for a, b in zip(mean_colour(frames["video"][-1]), GREEN))
    assert [stream.framesRecorded for stream in recorder.streams] == [100, 60]
    assert not recorder.active


async def test_a_track_starting_later_starts_later_in_the_file(tmp_path: pathlib.Path) -> None:
    audio = FakeSource("audio/opus", paced(rtp("audio/opus", tone_frames(1.0, 440.0))))
    # The video's first frame arrives 0.5 s after the audio's first: it starts 0.5 s in.
    video = FakeSource("video/VP8", paced(rtp("video/VP8", colour_frames("video/VP8", 1.0, (0,))), first_delay=0.5))
    recorder = Recorder(tmp_path / "call.mkv")
    recorder.addSource(audio)
    recorder.addSource(video)
    await recorder.start()
    await asyncio.wait_for(recorder.wait(), 10)

    container = av.open(str(tmp_path / "call.mkv"))
    first_pts: dict[str, float] = {}
    for packet in container.demux():
        if packet.pts is not None:
            first_pts.setdefault(packet.stream.type, float(packet.pts * packet.time_base))
    assert first_pts["audio"] == 0.0
    assert 0.45 < first_pts["video"] < 0.6, first_pts


async def test_h264_and_opus_into_mp4(tmp_path: pathlib.Path) -> None:
    audio = FakeSource("audio/opus", paced(rtp("audio/opus", tone_frames(1.0, 440.0))))
    video = FakeSource("video/H264", paced(rtp("video/H264", colour_frames("video/H264", 1.0))))
    recorder = Recorder(tmp_path / "call.mp4")
    recorder.addSource(audio)
    recorder.addSource(video)
    await recorder.start()
    await asyncio.wait_for(recorder.wait(), 10)

    container, frames = read_back(tmp_path / "call.mp4")
    assert container.streams.video[0].codec_context.name == "h264"
    assert container.streams.video[0].codec_context.extradata[:1] == b"\x01"  # avcC, not Annex B
    assert len(frames["video"]) == 30 and len(frames["audio"]) == 50
    assert all(abs(a - b) < 15 for a, b in zip(mean_colour(frames["video"][-1]), GREEN))


async def test_opus_alone_into_ogg(tmp_path: pathlib.Path) -> None:
    recorder = Recorder(tmp_path / "voice.ogg")
    recorder.addSource(FakeSource("audio/opus", paced(rtp("audio/opus", tone_frames(1.0, 660.0)))))
    await recorder.start()
    await asyncio.wait_for(recorder.wait(), 10)

    container, frames = read_back(tmp_path / "voice.ogg")
    assert container.format.name == "ogg" and len(frames["audio"]) == 50
    assert abs(container.duration / 1e6 - 1.0) < 0.05, container.duration
    samples = numpy.concatenate([frame.to_ndarray()[0] for frame in frames["audio"][-25:]]).astype(float)
    assert abs(dominant_frequency(samples) - 660.0) < 5


async def test_video_waits_for_a_keyframe_after_a_loss_and_asks_for_it(tmp_path: pathlib.Path) -> None:
    packets = rtp("video/VP8", colour_frames("video/VP8", 2.0, (0, 40)))
    assert len(packets) == 60  # a packet per frame
    lost = 20  # a delta frame: the frames until the keyframe at 40 are skipped
    video = FakeSource("video/VP8", paced(packets[:lost] + packets[lost + 1 :], interval=0.01))
    recorder = Recorder(tmp_path / "video.webm", maxDelay=0.05)
    stream = recorder.addSource(video)
    await recorder.start()
    await asyncio.wait_for(recorder.wait(), 10)

    assert stream.jitterBuffer.packetsLost == 1
    # Asked once the loss was declared (maxDelay later), long before the next keyframe came.
    assert [requested for requested in video.keyFrameRequests if lost < requested < 30] != [], video.keyFrameRequests
    container = av.open(str(tmp_path / "video.webm"))
    packets_read = [packet for packet in container.demux() if packet.pts is not None]
    times = [float((packet.pts or 0) * packet.time_base) for packet in packets_read]
    gaps = [index for index in range(1, len(times)) if times[index] - times[index - 1] > 0.05]
    assert len(gaps) == 1, times
    assert packets_read[gaps[0]].is_keyframe and abs(times[gaps[0]] - 40 / 30) < 0.01
    assert len(packets_read) == 60 - (40 - lost)
    container = av.open(str(tmp_path / "video.webm"))
    decoded = list(container.decode(video=0))  # no decode error
    assert len(decoded) == len(packets_read)


def test_the_container_must_take_the_codec(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError, match=r"extension '\.avi'"):
        Recorder(tmp_path / "call.avi")
    with pytest.raises(ValueError, match="format 'flv' is not one of"):
        Recorder(tmp_path / "call", format="flv")
    with pytest.raises(ValueError, match="ogg does not take video/VP8.*webm or matroska"):
        Recorder(tmp_path / "call.ogg").addSource(FakeSource("video/VP8", []))
    with pytest.raises(ValueError, match="webm does not take video/H264.*matroska or mp4"):
        Recorder(tmp_path / "call.webm").addSource(FakeSource("video/H264", []))
    assert Recorder(tmp_path / "call", format="mp4").format == "mp4"


async def test_a_source_without_frames_is_left_out_after_the_start_timeout(tmp_path: pathlib.Path) -> None:
    silent_camera = FakeSource("video/VP8", [(5.0, b"")])
    recorder = Recorder(tmp_path / "call.webm", startTimeout=0.3)
    recorder.addSource(FakeSource("audio/opus", paced(rtp("audio/opus", tone_frames(1.0, 440.0)))))
    recorder.addSource(silent_camera)
    await recorder.start()
    await asyncio.sleep(0.5)
    await recorder.stop()

    container, frames = read_back(tmp_path / "call.webm")
    assert [stream.type for stream in container.streams] == ["audio"] and len(frames["audio"]) == 50
    assert silent_camera.keyFrameRequests != []


async def test_nothing_received_writes_no_file(tmp_path: pathlib.Path) -> None:
    recorder = Recorder(tmp_path / "call.webm")
    recorder.addSource(FakeSource("audio/opus", [(5.0, b"")]))
    await recorder.start()
    await recorder.stop()
    assert not (tmp_path / "call.webm").exists()
    await recorder.wait()


async def test_a_file_that_cannot_be_made_fails_the_recording_with_its_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError, match="no folder"):
        missing = Recorder(tmp_path / "missing" / "call.webm")
        missing.addSource(FakeSource("audio/opus", []))
        await missing.start()
    # The folder goes after start(): the file cannot be opened at the first frame.
    folder = tmp_path / "gone"
    folder.mkdir()
    recorder = Recorder(folder / "call.webm")
    source = FakeSource("audio/opus", paced(rtp("audio/opus", tone_frames(1.0, 440.0)), first_delay=0.2, interval=0.02))
    recorder.addSource(source)
    ended: list[bool] = []
    recorder.on("ended", lambda: ended.append(True))
    await recorder.start()
    folder.rmdir()
    with pytest.raises(FileNotFoundError):
        await asyncio.wait_for(recorder.wait(), 5)
    assert ended == [True] and not recorder.active and isinstance(recorder.error, FileNotFoundError)
    assert source.packetsSent < 50  # the source was stopped, not read to its end
    await recorder.stop()  # no error: the recording ended already


async def test_a_source_closed_before_start_ends_its_stream(tmp_path: pathlib.Path) -> None:
    class Closed(FakeSource):
        def packets(self) -> AsyncIterator[bytes]:
            raise RuntimeError("the sender is closed")

    recorder = Recorder(tmp_path / "call.webm")
    recorder.addSource(FakeSource("audio/opus", paced(rtp("audio/opus", tone_frames(0.5, 440.0)))))
    recorder.addSource(Closed("video/VP8", []))
    await recorder.start()
    await asyncio.wait_for(recorder.wait(), 10)  # every source ended: finalized without stop()
    container, frames = read_back(tmp_path / "call.webm")
    assert [stream.type for stream in container.streams] == ["audio"] and len(frames["audio"]) == 25


async def test_the_start_timeout_counts_from_the_first_frame(tmp_path: pathlib.Path) -> None:
    # Nothing for longer than startTimeout, then audio, and video 0.1 s later:
    # both are in the file (the wait for the others starts at the first frame).
    recorder = Recorder(tmp_path / "call.webm", startTimeout=1.0)
    recorder.addSource(FakeSource("audio/opus", paced(rtp("audio/opus", tone_frames(1.0, 440.0)), first_delay=1.5)))
    recorder.addSource(FakeSource("video/VP8", paced(rtp("video/VP8", colour_frames("video/VP8", 1.0)), first_delay=1.6)))
    await recorder.start()
    await asyncio.wait_for(recorder.wait(), 10)
    container, frames = read_back(tmp_path / "call.webm")
    assert sorted(stream.type for stream in container.streams) == ["audio", "video"]
    assert len(frames["video"]) == 30
