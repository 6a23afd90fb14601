"""mediasoup.media end to end without a worker: a TrackPublisher's packets go
through an in-memory loopback (what a direct RtpReceiver → RtpSender pair does
in the worker, optionally losing packets) into a RemoteTrack that decodes them."""

from __future__ import annotations

import asyncio
import fractions
import pathlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

av = pytest.importorskip("av")
np = pytest.importorskip("numpy")
mediastreams = pytest.importorskip("aiortc.mediastreams")
contrib_media = pytest.importorskip("aiortc.contrib.media")

from mediasoup._events import EventEmitter  # noqa: E402
from mediasoup.media import MediaStreamError, MediaStreamTrack, Recorder, RemoteTrack, RtpPacket, TrackPublisher, findCodec, producerRtpParameters  # noqa: E402
from mediasoup.media.encoders import AudioEncoder  # noqa: E402
from mediasoup.media.vp8 import Vp8PayloadFormat  # noqa: E402

RED = (200, 30, 30)


class Loopback(EventEmitter):
    """An RtpSink and the RtpSource of the same stream: sent packets come out
    of ``packets()`` unless ``drop(index, packet)`` says they are lost."""

    def __init__(self, kind: str, drop: Callable[[int, RtpPacket], bool] = lambda index, packet: False, held: bool = False) -> None:
        super().__init__()
        self.kind = kind
        self.rtpParameters: dict[str, Any] = {}
        self.sent: list[bytes] = []
        self.keyFrameRequests = 0
        self._drop = drop
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        # `held`: everything comes out at once when it closes (a burst, then the end).
        self._held: list[bytes] | None = [] if held else None

    def sendRtp(self, packet: bytes) -> None:
        index = len(self.sent)
        self.sent.append(packet)
        if not self._drop(index, RtpPacket.parse(packet)):
            if self._held is not None:
                self._held.append(packet)
            else:
                self._queue.put_nowait(packet)

    async def packets(self) -> AsyncIterator[bytes]:
        while (packet := await self._queue.get()) is not None:
            yield packet

    async def requestKeyFrame(self) -> None:
        self.keyFrameRequests += 1
        self.emit("keyframerequest")

    def close(self) -> None:
        for packet in self._held or []:
            self._queue.put_nowait(packet)
        self._queue.put_nowait(None)


class ToneTrack(MediaStreamTrack):
    """``count`` frames of 10 ms of a mono sine at 44.1 kHz, as fast as asked (unpaced)."""

    kind = "audio"

    def __init__(self, frequency: float, count: int) -> None:
        super().__init__()
        self._frequency, self._count, self._index = frequency, count, 0

    async def recv(self) -> Any:
        if self._index == self._count:
            self.stop()
            raise MediaStreamError
        rate, samples = 44100, 441
        t = (np.arange(samples) + self._index * samples) / rate
        frame = av.AudioFrame.from_ndarray((np.sin(2 * np.pi * self._frequency * t) * 12000).astype(np.int16).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, self._index * samples, fractions.Fraction(1, rate)
        self._index += 1
        return frame


class ColourTrack(MediaStreamTrack):
    """``count`` frames of one colour at 30 fps, as fast as asked (unpaced)
    unless ``interval`` seconds should pass between them."""

    kind = "video"

    def __init__(self, colour: tuple[int, int, int], count: int, size: tuple[int, int] = (320, 240), interval: float = 0.0) -> None:
        super().__init__()
        self._image = np.full((size[1], size[0], 3), colour, np.uint8)
        self._count, self._index, self._interval = count, 0, interval

    async def recv(self) -> Any:
        if self._index == self._count:
            self.stop()
            raise MediaStreamError
        if self._interval and self._index:
            await asyncio.sleep(self._interval)
        frame = av.VideoFrame.from_ndarray(self._image, format="rgb24")
        frame.pts, frame.time_base = self._index * 3000, fractions.Fraction(1, 90000)
        self._index += 1
        return frame


async def _publish(track: Any, loopback: Loopback, **options: Any) -> TrackPublisher:
    """Publishes ``track`` into ``loopback``; the loopback closes when the publisher stops."""
    publisher = TrackPublisher(track, loopback, **options)
    loopback.rtpParameters = publisher.rtpParameters
    publisher.on("ended", loopback.close)
    publisher.start()
    return publisher


async def _receive_all(track: RemoteTrack) -> list[Any]:
    frames = []
    while True:
        try:
            frames.append(await track.recv())
        except MediaStreamError:
            return frames


def _rtp_frames(sent: list[bytes]) -> list[list[RtpPacket]]:
    """The sent packets grouped by frame (timestamp), in order."""
    frames: list[list[RtpPacket]] = []
    for packet in map(RtpPacket.parse, sent):
        if frames and frames[-1][0].timestamp == packet.timestamp:
            frames[-1].append(packet)
        else:
            frames.append([packet])
    return frames


async def test_a_440_hz_tone_is_received_as_440_hz() -> None:
    loopback = Loopback("audio")
    publisher = await _publish(ToneTrack(440, count=100), loopback)
    frames = await _receive_all(RemoteTrack(loopback))
    await publisher.wait()
    assert {(frame.format.name, frame.sample_rate, frame.layout.name, frame.samples) for frame in frames} == {("s16", 48000, "stereo", 960)}
    assert [frame.pts for frame in frames] == [960 * index for index in range(len(frames))]
    assert frames[0].time_base == fractions.Fraction(1, 48000)
    left = np.concatenate([frame.to_ndarray().reshape(-1, 2)[:, 0] for frame in frames]).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(left[4800:]))  # after the encoder's first 100 ms
    dominant = np.fft.rfftfreq(len(left) - 4800, 1 / 48000)[np.argmax(spectrum)]
    assert abs(dominant - 440) <= 5, dominant
    assert len(frames) >= 49  # 1 s of audio, 20 ms per frame


async def test_a_padding_only_packet_in_the_stream_does_not_end_the_audio_decoder() -> None:
    # An empty av.Packet is FFmpeg's end of stream: decoded, it would make
    # every later packet fail (what Chromium's bandwidth probes did).
    loopback = Loopback("audio")
    publisher = await _publish(ToneTrack(440, count=100), loopback)
    await publisher.wait()
    packets = [RtpPacket.parse(packet) for packet in loopback.sent]
    source = Loopback("audio")
    source.rtpParameters = loopback.rtpParameters
    shift = 0
    for index, packet in enumerate(packets):
        packet.sequenceNumber = (packet.sequenceNumber + shift) & 0xFFFF
        source.sendRtp(packet.serialize())
        if index == 10:
            shift = 1
            source.sendRtp(RtpPacket(packet.payloadType, False, (packet.sequenceNumber + 1) & 0xFFFF, packet.timestamp, packet.ssrc, b"", paddingSize=224).serialize())
    source.close()
    track = RemoteTrack(source)
    frames = await _receive_all(track)
    assert len(frames) == len(packets) and track.decodeErrors == 0
    assert track.jitterBuffer.packetsLost == 0


async def test_a_video_frame_of_no_data_does_not_end_the_decoder_or_the_recording(tmp_path: pathlib.Path) -> None:
    # A bare VP8 descriptor with the marker set is a frame of no data: given to
    # FFmpeg it would end the decoder's stream (every later frame failing).
    loopback = Loopback("video")
    publisher = await _publish(ColourTrack(RED, count=30), loopback)
    await publisher.wait()
    packets = [RtpPacket.parse(packet) for packet in loopback.sent]
    frames = _rtp_frames(loopback.sent)
    after = sum(len(frame) for frame in frames[:10])  # the empty frame goes between frames 9 and 10
    empty = RtpPacket(packets[0].payloadType, True, 0, frames[9][0].timestamp + 1500, packets[0].ssrc, b"\x10")
    replayed = [*packets[:after], empty, *packets[after:]]
    for number, packet in enumerate(replayed):
        packet.sequenceNumber = (packets[0].sequenceNumber + number) & 0xFFFF

    def replay() -> Loopback:
        source = Loopback("video")
        source.rtpParameters = loopback.rtpParameters
        for packet in replayed:
            source.sendRtp(packet.serialize())
        source.close()
        return source

    track = RemoteTrack(replay())
    decoded = await _receive_all(track)
    assert len(decoded) == 30 and track.decodeErrors == 0
    assert decoded[-1].pts == 3000 * 29
    recorder = Recorder(str(tmp_path / "empty.webm"))
    stream = recorder.addSource(replay())
    await recorder.start()
    await recorder.wait()
    assert (stream.framesRecorded, stream.framesDiscarded) == (30, 1)


async def test_audio_rtp_timestamps_advance_960_per_20_ms_packet() -> None:
    loopback = Loopback("audio")
    publisher = await _publish(ToneTrack(440, count=20), loopback, ssrc=1234)
    await publisher.wait()
    packets = [RtpPacket.parse(packet) for packet in loopback.sent]
    assert len(packets) >= 9
    assert {(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in zip(packets, packets[1:])} == {960}
    assert {(b.sequenceNumber - a.sequenceNumber) & 0xFFFF for a, b in zip(packets, packets[1:])} == {1}
    assert {(packet.ssrc, packet.payloadType) for packet in packets} == {(1234, 100)}
    assert publisher.rtpParameters["encodings"] == [{"ssrc": 1234}]
    assert publisher.rtpParameters["codecs"][0]["mimeType"] == "audio/opus"


@pytest.mark.parametrize("mime_type", ["video/VP8", "video/H264"])
async def test_a_solid_colour_round_trips(mime_type: str) -> None:
    loopback = Loopback("video")
    publisher = await _publish(ColourTrack(RED, count=15, size=(640, 360)), loopback, mimeType=mime_type)
    track = RemoteTrack(loopback)
    frames = await _receive_all(track)
    await publisher.wait()
    assert track.codec.mimeType == mime_type
    assert len(frames) == 15 and {frame.format.name for frame in frames} == {"yuv420p"}
    assert {(frame.width, frame.height) for frame in frames} == {(640, 360)}
    assert [frame.pts for frame in frames] == [3000 * index for index in range(15)]
    errors = [np.abs(frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0) - RED).max() for frame in frames]
    # The first keyframe is coarser (the rate control starts cautious); the picture settles.
    assert max(errors) < 16 and errors[-1] < 6, errors


async def test_video_rtp_timestamps_advance_3000_per_frame_at_30_fps_with_the_marker_on_each_last_packet() -> None:
    loopback = Loopback("video")
    publisher = await _publish(ColourTrack(RED, count=10, size=(1280, 720)), loopback)
    await publisher.wait()
    frames = _rtp_frames(loopback.sent)
    assert len(frames) == 10 and len(frames[0]) > 1  # the keyframe of 720p spans packets
    assert {(b[0].timestamp - a[0].timestamp) & 0xFFFFFFFF for a, b in zip(frames, frames[1:])} == {3000}
    assert all([packet.marker for packet in frame] == [False] * (len(frame) - 1) + [True] for frame in frames)
    assert all(len(packet) <= 1200 + 12 for packet in loopback.sent)


async def test_a_source_whose_time_jumps_back_or_forward_is_sent_on_one_clock() -> None:
    # A file played in a loop starts its pts again at 0; another source's
    # time may leap an hour ahead: the stream's timestamps go on by the time
    # that passed, and the publisher does not wait an hour.
    class Jumping(ColourTrack):
        async def recv(self) -> Any:
            index = self._index
            frame = await super().recv()
            frame.pts = [index, index - 10, index + 3600 * 30][index // 10] * 3000  # back at 10, an hour ahead at 20
            return frame

    loopback = Loopback("video")
    publisher = await _publish(Jumping(RED, count=30, interval=1 / 30), loopback)
    await asyncio.wait_for(publisher.wait(), 10)
    timestamps = [frame[0].timestamp for frame in _rtp_frames(loopback.sent)]
    steps = [(b - a) & 0xFFFFFFFF for a, b in zip(timestamps, timestamps[1:])]
    assert len(timestamps) == 30 and all(0 < step < 45_000 for step in steps), f"{steps}"  # at a jump: the time that passed
    assert steps.count(3000) >= 20  # the source's own time, outside the two jumps


async def test_a_keyframe_request_makes_the_next_vp8_frame_a_keyframe() -> None:
    requested_after: list[int] = []

    def request_at_frame_20(index: int, packet: RtpPacket) -> bool:
        if packet.marker and not requested_after and len(_rtp_frames(loopback.sent)) == 20:
            requested_after.append(20)
            loopback.emit("keyframerequest")
        return False

    loopback = Loopback("video", drop=request_at_frame_20)
    publisher = await _publish(ColourTrack(RED, count=30), loopback)
    await publisher.wait()
    vp8 = Vp8PayloadFormat()
    keyframes = [index for index, frame in enumerate(_rtp_frames(loopback.sent)) if vp8.startsKeyframe(frame[0].payload)]
    assert requested_after == [20] and keyframes == [0, 20]  # frame 20 is the 21st: the one after the request
    assert publisher.keyFramesEncoded == 2


async def test_a_publisher_makes_a_keyframe_for_a_request_naming_its_encoding_or_none() -> None:
    """A sink that names encodings (as an RtpReceiver does, for a simulcast
    stream published one SSRC per TrackPublisher): a request for another
    SSRC makes no keyframe, one for the publisher's own does, and a request
    naming none still does."""

    own = 5678

    def request(index: int, packet: RtpPacket) -> bool:
        frames = len(_rtp_frames(loopback.sent))
        if packet.marker and frames in (10, 20, 25) and frames not in asked:
            asked.append(frames)
            if frames != 25:
                loopback.emit("encodingkeyframerequest", 1234 if frames == 10 else own)
            loopback.emit("keyframerequest")
        return False

    asked: list[int] = []
    loopback = Loopback("video", drop=request)
    publisher = await _publish(ColourTrack(RED, count=30), loopback, ssrc=own)
    await publisher.wait()
    vp8 = Vp8PayloadFormat()
    keyframes = [index for index, frame in enumerate(_rtp_frames(loopback.sent)) if vp8.startsKeyframe(frame[0].payload)]
    assert asked == [10, 20, 25] and keyframes == [0, 20, 25]


async def test_lost_video_packets_make_the_track_ask_for_a_keyframe_and_recover() -> None:
    lost_timestamp: list[int] = []

    def lose_frame_10(index: int, packet: RtpPacket) -> bool:
        if len(_rtp_frames(loopback.sent)) == 11 and not lost_timestamp:
            lost_timestamp.append(packet.timestamp)
        return bool(lost_timestamp) and packet.timestamp == lost_timestamp[0]

    loopback = Loopback("video", drop=lose_frame_10)
    # Paced by the track itself: a stalled loop cannot make the publisher send
    # the rest in a burst and end before the keyframe it is asked for.
    publisher = await _publish(ColourTrack(RED, count=45, interval=1 / 30), loopback)
    track = RemoteTrack(loopback, keyFrameRequestInterval=0.1)
    frames = await _receive_all(track)
    await publisher.wait()
    assert lost_timestamp
    assert track.jitterBuffer.packetsLost >= 1
    assert track.keyFrameRequests >= 2 and loopback.keyFrameRequests == track.keyFrameRequests  # at start, after the loss
    assert publisher.keyFramesEncoded >= 2
    pts = [frame.pts for frame in frames]
    assert 3000 * 10 not in pts  # the lost frame
    assert pts[-1] == 3000 * 44  # recovered: decodes to the end
    colour = frames[-1].to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
    assert np.abs(colour - RED).max() < 8


async def test_frames_waiting_behind_a_lost_packet_when_the_source_ends_are_decoded() -> None:
    # Everything arrives in one burst, a packet missing, then the source ends:
    # the frames behind the hole were left in the buffer, the loss not counted.
    loopback = Loopback("audio", drop=lambda index, packet: index == 20, held=True)
    publisher = await _publish(ToneTrack(440, count=100), loopback)
    track = RemoteTrack(loopback)
    frames = await _receive_all(track)
    await publisher.wait()
    sent = len(loopback.sent)
    assert sent > 40 and (len(frames), track.jitterBuffer.packetsLost) == (sent - 1, 1), (sent, len(frames))


async def test_media_recorder_records_received_tracks_that_pyav_reads_back(tmp_path: pathlib.Path) -> None:
    audio, video = Loopback("audio"), Loopback("video")
    publishers = [await _publish(ToneTrack(440, count=100), audio), await _publish(ColourTrack(RED, count=30), video)]
    # One file per track: aiortc's recorder writes a file's header at its first
    # packet, before a video stream that starts later has its size.
    paths = {"audio": tmp_path / "audio.ogg", "video": tmp_path / "video.webm"}
    recorders = []
    for track in (RemoteTrack(audio), RemoteTrack(video)):
        recorder = contrib_media.MediaRecorder(str(paths[track.kind]))
        recorder.addTrack(track)
        await recorder.start()
        recorders.append(recorder)
    await asyncio.gather(*(publisher.wait() for publisher in publishers))
    await asyncio.sleep(0.3)  # the last frames through the recorders
    for recorder in recorders:
        await recorder.stop()
    with av.open(str(paths["audio"])) as container:
        audio_seconds = sum(frame.samples / frame.sample_rate for frame in container.decode(audio=0))
    with av.open(str(paths["video"])) as container:
        video_frames = [frame for frame in container.decode(video=0)]
    assert 0.8 <= audio_seconds <= 1.2, audio_seconds
    assert 25 <= len(video_frames) <= 30
    assert float(video_frames[-1].time - video_frames[0].time) == pytest.approx(29 / 30, abs=0.1)
    colour = video_frames[-1].to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
    assert np.abs(colour - RED).max() < 8, colour


async def test_media_relay_and_blackhole_take_a_received_track() -> None:
    loopback = Loopback("video")
    publisher = await _publish(ColourTrack(RED, count=20), loopback)
    track = RemoteTrack(loopback)
    relay = contrib_media.MediaRelay()
    blackhole = contrib_media.MediaBlackhole()
    blackhole.addTrack(relay.subscribe(track))
    await blackhole.start()
    frames = await _receive_all(relay.subscribe(track))
    await publisher.wait()
    await blackhole.stop()
    assert isinstance(track, mediastreams.MediaStreamTrack)
    assert 15 <= len(frames) <= 20 and track.framesDecoded == 20


async def test_an_unpaced_source_is_sent_in_real_time() -> None:
    loopback = Loopback("audio")
    start = time.monotonic()
    publisher = await _publish(ToneTrack(440, count=50), loopback)  # 0.5 s of audio, made at once
    await publisher.wait()
    elapsed = time.monotonic() - start
    packets = len(loopback.sent)
    assert elapsed >= 0.8 * (packets - 1) * 0.020, (elapsed, packets)


async def test_a_self_paced_aiortc_track_publishes() -> None:
    loopback = Loopback("audio")
    source = mediastreams.AudioStreamTrack()  # silence, paced by aiortc
    publisher = await _publish(source, loopback)
    await asyncio.sleep(0.3)
    source.stop()
    await publisher.wait()
    assert publisher.packetsSent >= 5 and not publisher.active


async def test_opus_decode_throughput(capsys: pytest.CaptureFixture[str]) -> None:
    """Bench-ish: how many real-time Opus streams one process decodes (printed, not asserted)."""
    loopback = Loopback("audio")
    loopback.rtpParameters = producerRtpParameters("audio/opus", ssrc=1, cname="bench")
    encoder, tone = AudioEncoder(findCodec("audio/opus"), 64_000), ToneTrack(440, count=1000)
    for sequence_number, (opus, timestamp, _) in enumerate([item for _ in range(1000) for item in encoder.encode(await tone.recv())]):
        loopback.sendRtp(RtpPacket(100, False, sequence_number, timestamp, 1, opus).serialize())
    loopback.close()
    track = RemoteTrack(loopback)
    start = time.perf_counter()
    frames = await _receive_all(track)
    elapsed = time.perf_counter() - start
    audio_seconds = len(frames) * 0.020
    with capsys.disabled():
        print(f"\nOpus: {len(frames)} frames ({audio_seconds:.1f} s) received and decoded in {elapsed:.3f} s: "
              f"{audio_seconds / elapsed:.0f} real-time streams per core")
    assert len(frames) == len(loopback.sent) >= 490
