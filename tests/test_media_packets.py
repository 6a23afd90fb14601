"""The sans-IO pieces of mediasoup.media: RTP packets, payload formats, jitter buffer, keyframe requests (fake time)."""

from __future__ import annotations

import math
import struct

import pytest

pytest.importorskip("av")

from mediasoup.media.h264 import H264PayloadFormat, splitAnnexB  # noqa: E402
from mediasoup.media.jitter_buffer import Frame, JitterBuffer  # noqa: E402
from mediasoup.media.keyframe_requests import KeyframeRequests  # noqa: E402
from mediasoup.media.opus import OpusPayloadFormat  # noqa: E402
from mediasoup.media.rtp import RtpPacket  # noqa: E402
from mediasoup.media.vp8 import Vp8Descriptor, Vp8PayloadFormat  # noqa: E402

# --- RTP ---------------------------------------------------------------------


def _raw_packet() -> bytes:
    """V=2 P X CC=2, M, PT 111, seq 4660, ts 0xdeadbeef, ssrc 0x01020304, one-byte extension, 3 bytes padding."""
    header = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 2, 0x80 | 111, 4660, 0xDEADBEEF, 0x01020304)
    csrcs = struct.pack("!II", 7, 8)
    # id 1 length 1 (value 0xaa), id 3 length 3 (value 01 02 03), then padding to a word.
    extension = bytes((0x10, 0xAA, 0x32, 1, 2, 3, 0, 0))
    return header + csrcs + struct.pack("!HH", 0xBEDE, 2) + extension + b"payload" + b"\x00\x00\x03"


def test_rtp_packet_parses_every_header_field() -> None:
    packet = RtpPacket.parse(_raw_packet())
    assert (packet.payloadType, packet.marker, packet.sequenceNumber) == (111, True, 4660)
    assert (packet.timestamp, packet.ssrc, packet.csrcs) == (0xDEADBEEF, 0x01020304, (7, 8))
    assert packet.extensionProfile == 0xBEDE and len(packet.extension) == 8
    assert packet.headerExtensions() == {1: b"\xaa", 3: b"\x01\x02\x03"}
    assert (packet.payload, packet.paddingSize) == (b"payload", 3)


def test_rtp_packet_serializes_to_the_bytes_it_was_parsed_from() -> None:
    raw = _raw_packet()
    assert RtpPacket.parse(raw).serialize() == raw
    plain = RtpPacket(96, False, 65535, 1, 2, b"x")
    assert RtpPacket.parse(plain.serialize()).sequenceNumber == 65535
    assert len(plain.serialize()) == 13


def test_rtp_packet_reads_two_byte_header_extensions() -> None:
    body = bytes((5, 0, 7, 2, 0xAB, 0xCD, 0, 0))  # id 5 empty, id 7 two bytes
    packet = RtpPacket(96, extensionProfile=0x1000, extension=body)
    assert RtpPacket.parse(packet.serialize()).headerExtensions() == {5: b"", 7: b"\xab\xcd"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x80" * 11, "at least 12 bytes"),
        (b"\x40" + bytes(11), "RTP version 1"),
        (b"\x83" + bytes(11), "3 CSRCs"),
        (b"\x90" + bytes(11) + b"\xbe\xde\x00\x05", "header extension of 5 words"),
        (b"\xa0" + bytes(11) + b"\x09", "padding of 9 bytes"),
    ],
)
def test_malformed_rtp_packets_raise_value_error_saying_what_is_wrong(raw: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RtpPacket.parse(raw)


# --- payload formats -----------------------------------------------------------


def test_vp8_descriptor_reads_picture_id_tl0picidx_tid_and_keyidx() -> None:
    # X S PID=0 | I L T K | M + 15-bit PictureID 0x1234 | TL0PICIDX 9 | TID 2 Y KEYIDX 5
    descriptor = Vp8Descriptor.parse(bytes((0x90, 0xF0, 0x92, 0x34, 9, 0x80 | 0x20 | 5)) + b"\x00vp8")
    assert descriptor.startOfPartition and descriptor.partitionIndex == 0
    assert (descriptor.pictureId, descriptor.tl0PicIdx, descriptor.temporalLayer, descriptor.keyIdx) == (0x1234, 9, 2, 5)
    assert descriptor.layerSync and descriptor.size == 6
    short = Vp8Descriptor.parse(bytes((0x80, 0x80, 0x15)) + b"vp8")  # 7-bit PictureID
    assert (short.pictureId, short.startOfPartition, short.size) == (0x15, False, 3)
    with pytest.raises(ValueError, match="extension bits"):
        Vp8Descriptor.parse(bytes((0x80, 0x80)))


def test_vp8_frames_split_under_the_mtu_and_join_back() -> None:
    sender, receiver = Vp8PayloadFormat(mtu=1200, pictureId=0x7FFF), Vp8PayloadFormat()
    keyframe = b"\x00" + bytes(range(256)) * 20  # P bit 0: a keyframe
    payloads = sender.packetize(keyframe, keyframe=True)
    assert len(payloads) == 5 and all(len(payload) <= 1200 for payload in payloads)
    descriptors = [Vp8Descriptor.parse(payload) for payload in payloads]
    assert [descriptor.startOfPartition for descriptor in descriptors] == [True, False, False, False, False]
    assert {descriptor.pictureId for descriptor in descriptors} == {0x7FFF}
    assert receiver.depacketize(payloads) == keyframe
    assert receiver.startsKeyframe(payloads[0]) and not receiver.startsKeyframe(payloads[1])
    delta = sender.packetize(b"\x01delta")
    assert Vp8Descriptor.parse(delta[0]).pictureId == 0  # wrapped at 15 bits
    assert not receiver.startsKeyframe(delta[0])
    with pytest.raises(ValueError, match="expected partition 0 with S=1"):
        receiver.depacketize(payloads[1:])


def test_h264_access_units_go_as_stap_a_and_fu_a_and_come_back_as_annex_b() -> None:
    sps, pps = b"\x67\x42\xe0\x1f\x8c", b"\x68\xce\x3c\x80"
    idr = b"\x65" + bytes(range(1, 256)) * 12
    access_unit = b"\x00\x00\x00\x01" + sps + b"\x00\x00\x01" + pps + b"\x00\x00\x00\x01" + idr
    h264 = H264PayloadFormat(mtu=1200)
    payloads = h264.packetize(access_unit)
    assert payloads[0][0] & 0x1F == 24  # SPS and PPS in one STAP-A
    assert [payload[0] & 0x1F for payload in payloads[1:]] == [28, 28, 28]
    assert all(len(payload) <= 1200 for payload in payloads)
    assert splitAnnexB(h264.depacketize(payloads)) == [sps, pps, idr]
    assert h264.startsKeyframe(payloads[0]) and not h264.startsKeyframe(payloads[2])
    assert not h264.startsKeyframe(b"\x41\x9a")  # a non-IDR slice
    delimiter, sei = b"\x09\xf0", b"\x06\x05\x01\x80"
    [first, *_] = h264.packetize(b"\x00\x00\x00\x01" + delimiter + b"\x00\x00\x00\x01" + sei + b"\x00\x00\x00\x01" + sps + b"\x00\x00\x01" + pps + b"\x00\x00\x00\x01" + idr)
    assert first[0] & 0x1F == 24 and h264.startsKeyframe(first)  # the SPS is the STAP-A's third unit
    assert not h264.startsKeyframe(b"\x18\x00\x02" + delimiter + b"\x00\x04" + sei + b"\x00\x02\x41\x9a")
    assert not h264.startsKeyframe(b"\x18\x00\x09" + delimiter)  # a size past the end: no unit read beyond it
    assert h264.depacketize([b"\x41\x9a"]) == b"\x00\x00\x00\x01\x41\x9a"
    with pytest.raises(ValueError, match="without its start"):
        h264.depacketize(payloads[2:])
    with pytest.raises(ValueError, match="type 25"):
        h264.depacketize([b"\x19\x00"])


def test_opus_is_one_packet_per_frame() -> None:
    opus = OpusPayloadFormat()
    assert opus.packetize(b"\xfc\x01") == [b"\xfc\x01"]
    assert opus.depacketize([b"\xfc\x01"]) == b"\xfc\x01"
    with pytest.raises(ValueError, match="not 2"):
        opus.depacketize([b"a", b"b"])


# --- jitter buffer ---------------------------------------------------------------


def _audio(sequence_number: int) -> RtpPacket:
    return RtpPacket(100, False, sequence_number & 0xFFFF, sequence_number * 960, 1, b"\xfc" + bytes([sequence_number & 0xFF]))


def _video_frame(vp8: Vp8PayloadFormat, first_sequence_number: int, timestamp: int, keyframe: bool, packets: int = 3) -> list[RtpPacket]:
    frame = (b"\x00" if keyframe else b"\x01") + bytes(1195 * packets - 1)
    payloads = vp8.packetize(frame, keyframe)
    assert len(payloads) == packets
    return [
        RtpPacket(101, index == packets - 1, (first_sequence_number + index) & 0xFFFF, timestamp, 1, payload)
        for index, payload in enumerate(payloads)
    ]


def _drain(buffer: JitterBuffer, now: float) -> list[Frame]:
    frames = []
    while (frame := buffer.pop(now)) is not None:
        frames.append(frame)
    return frames


def test_jitter_buffer_reorders_audio_within_the_window() -> None:
    buffer = JitterBuffer("audio", OpusPayloadFormat().startsKeyframe, maxDelay=0.1)
    for number, now in ((10, 0.0), (12, 0.01), (11, 0.02), (13, 0.03)):
        buffer.push(_audio(number), now)
    assert [frame.sequenceNumber for frame in _drain(buffer, 0.03)] == [10, 11, 12, 13]
    assert buffer.packetsLost == 0


def test_jitter_buffer_skips_a_lost_audio_packet_after_max_delay() -> None:
    buffer = JitterBuffer("audio", OpusPayloadFormat().startsKeyframe, maxDelay=0.1)
    for number in (1, 2, 4, 5):
        buffer.push(_audio(number), 1.0)
    assert [frame.sequenceNumber for frame in _drain(buffer, 1.05)] == [1, 2]
    assert buffer.nextTimeout() == pytest.approx(1.1)
    assert [frame.sequenceNumber for frame in _drain(buffer, 1.1)] == [4, 5]
    assert buffer.packetsLost == 1 and not buffer.keyframeNeeded
    buffer.push(_audio(3), 1.2)  # the lost one, after its frame's place was passed
    assert _drain(buffer, 1.2) == [] and buffer.latePackets == 1


def test_jitter_buffer_assembles_video_frames_from_reordered_packets() -> None:
    vp8 = Vp8PayloadFormat()
    buffer = JitterBuffer("video", vp8.startsKeyframe)
    packets = _video_frame(vp8, 100, 0, True) + _video_frame(vp8, 103, 3000, False)
    for packet in (packets[1], packets[0], packets[4], packets[2], packets[5], packets[3]):
        buffer.push(packet, 0.0)
    frames = _drain(buffer, 0.0)
    assert [(frame.timestamp, frame.keyframe, len(frame.payloads)) for frame in frames] == [(0, True, 3), (3000, False, 3)]
    assert vp8.depacketize(frames[0].payloads)[:1] == b"\x00"


def test_jitter_buffer_drops_video_until_a_keyframe_after_a_loss() -> None:
    vp8 = Vp8PayloadFormat()
    buffer = JitterBuffer("video", vp8.startsKeyframe, maxDelay=0.1)
    frames = [_video_frame(vp8, 3 * index, 3000 * index, keyframe=index in (0, 4)) for index in range(6)]
    del frames[1][1]  # the middle packet of frame 1
    for frame in frames[:4]:
        for packet in frame:
            buffer.push(packet, 0.0)
    assert [frame.timestamp for frame in _drain(buffer, 0.0)] == [0]
    assert not buffer.keyframeNeeded
    assert _drain(buffer, 0.1) == []  # frames 2 and 3 reference the lost one
    assert buffer.keyframeNeeded and buffer.packetsLost == 1
    for frame in frames[4:]:
        for packet in frame:
            buffer.push(packet, 0.2)
    assert [(frame.timestamp, frame.keyframe) for frame in _drain(buffer, 0.2)] == [(12000, True), (15000, False)]
    assert not buffer.keyframeNeeded


def test_jitter_buffer_waits_for_a_keyframe_at_start() -> None:
    vp8 = Vp8PayloadFormat()
    buffer = JitterBuffer("video", vp8.startsKeyframe)
    assert buffer.keyframeNeeded
    for packet in _video_frame(vp8, 7, 0, False) + _video_frame(vp8, 10, 3000, True):
        buffer.push(packet, 0.0)
    assert [frame.timestamp for frame in _drain(buffer, 0.0)] == [3000]
    assert buffer.packetsDropped == 3


def test_jitter_buffer_follows_sequence_numbers_across_65535() -> None:
    buffer = JitterBuffer("audio", OpusPayloadFormat().startsKeyframe)
    numbers = [65533, 65534, 0, 65535, 1, 2]  # 0 arrives before 65535
    for number in numbers:
        buffer.push(_audio(number), 0.0)
    assert [frame.sequenceNumber for frame in _drain(buffer, 0.0)] == [65533, 65534, 65535, 0, 1, 2]
    vp8 = Vp8PayloadFormat()
    video = JitterBuffer("video", vp8.startsKeyframe)
    for packet in _video_frame(vp8, 65534, 0, True, packets=4):
        video.push(packet, 0.0)
    [frame] = _drain(video, 0.0)
    assert frame.sequenceNumber == 65534 and len(frame.payloads) == 4


def test_jitter_buffer_counts_and_drops_duplicates() -> None:
    buffer = JitterBuffer("audio", OpusPayloadFormat().startsKeyframe)
    for number in (1, 1, 2, 2, 3):
        buffer.push(_audio(number), 0.0)
    assert [frame.sequenceNumber for frame in _drain(buffer, 0.0)] == [1, 2, 3]
    buffer.push(_audio(3), 0.0)  # after its frame left: late, not duplicate
    assert (buffer.duplicatePackets, buffer.latePackets) == (2, 1)


def test_jitter_buffer_declares_loss_at_once_when_full() -> None:
    buffer = JitterBuffer("audio", OpusPayloadFormat().startsKeyframe, maxDelay=10.0, capacity=8)
    buffer.push(_audio(0), 0.0)
    assert [frame.sequenceNumber for frame in _drain(buffer, 0.0)] == [0]
    for number in range(2, 10):
        buffer.push(_audio(number), 0.0)
    assert [frame.sequenceNumber for frame in _drain(buffer, 0.0)] == list(range(2, 10))
    assert len(buffer) == 0 and (buffer.packetsLost, buffer.packetsDropped) == (1, 0)


def test_jitter_buffer_read_slower_than_the_stream_keeps_the_newest_packets() -> None:
    """Nothing lost, nobody popping: the buffer holds ``capacity`` packets,
    the oldest going (they used to pile up without end)."""
    audio = JitterBuffer("audio", OpusPayloadFormat().startsKeyframe, capacity=64)
    for number in range(10_000):
        audio.push(_audio(number), number * 0.02)
        assert len(audio) <= 64
    assert [frame.sequenceNumber for frame in _drain(audio, 200.0)] == list(range(10_000 - 64, 10_000))
    assert (audio.packetsDropped, audio.packetsLost) == (10_000 - 64, 0)
    # Video goes on from the next keyframe (what follows the dropped frames references them).
    vp8 = Vp8PayloadFormat()
    video = JitterBuffer("video", vp8.startsKeyframe, capacity=16)
    frames = [_video_frame(vp8, 3 * index, 3000 * index, keyframe=index in (0, 9)) for index in range(12)]
    for frame in frames[:8]:
        for packet in frame:
            video.push(packet, 0.0)
    assert len(video) == 16 and video.keyframeNeeded
    assert _drain(video, 0.0) == []  # no keyframe among the newest
    for frame in frames[8:]:
        for packet in frame:
            video.push(packet, 0.0)
    assert [frame.timestamp for frame in _drain(video, 0.0)] == [27000, 30000, 33000]


def test_keyframe_requests_ask_at_once_for_each_new_need_then_every_interval() -> None:
    requests = KeyframeRequests(0.5)
    assert requests.nextDue(False) is None and not requests.due(False, 0.0)
    assert requests.nextDue(True) == -math.inf  # the start: at once
    assert requests.due(True, 0.0) and not requests.due(True, 0.3)
    assert requests.nextDue(True) == 0.5 and requests.due(True, 0.5)
    assert not requests.due(False, 0.6)  # a keyframe came
    assert requests.nextDue(True) == -math.inf and requests.due(True, 0.7)  # a new loss: at once, not at 1.0
    assert not requests.due(True, 1.0) and requests.due(True, 1.2)
    for interval in (0, -1.0, math.nan):
        with pytest.raises(ValueError, match="expected seconds > 0"):
            KeyframeRequests(interval)


def test_jitter_buffer_restarts_for_a_sender_that_restarted_not_for_late_retransmissions() -> None:
    buffer = JitterBuffer("audio", OpusPayloadFormat().startsKeyframe, maxDelay=0.1)
    for number in range(1000, 1300):
        if not 1100 <= number < 1200:  # lost, then retransmitted late
            buffer.push(_audio(number), 0.0)
    assert [frame.sequenceNumber for frame in _drain(buffer, 0.2)][-1] == 1299 and buffer.packetsLost == 100
    for number in range(1100, 1200):
        buffer.push(_audio(number), 0.3)
    for number in range(1300, 1310):
        buffer.push(_audio(number), 0.3)
    assert [frame.sequenceNumber for frame in _drain(buffer, 0.3)] == list(range(1300, 1310))
    assert (buffer.latePackets, buffer.packetsLost) == (100, 100)
    # A restarted sender: another sequence, another timestamp base, behind the window.
    restarted = [RtpPacket(100, False, number, 0x70000000 + number * 960, 1, b"\xfc\x01") for number in range(500, 600)]
    for packet in restarted:
        buffer.push(packet, 0.4)
    frames = _drain(buffer, 0.4)
    assert frames and frames[0].sequenceNumber == 500 + 63 and frames[-1].sequenceNumber == 599


def test_jitter_buffer_before_its_first_frame_does_not_rewind_over_what_it_dropped() -> None:
    vp8 = Vp8PayloadFormat()
    buffer = JitterBuffer("video", vp8.startsKeyframe, maxDelay=0.1)
    delta, key = _video_frame(vp8, 10, 0, False), _video_frame(vp8, 13, 3000, True)
    for packet in delta:
        buffer.push(packet, 0.0)
    assert _drain(buffer, 0.0) == [] and buffer.packetsDropped == 3  # no keyframe yet
    buffer.push(delta[0], 0.01)  # a copy of a dropped packet: late, not the window's new start
    for packet in key:
        buffer.push(packet, 0.01)
    assert [frame.timestamp for frame in _drain(buffer, 0.01)] == [3000]  # at once, nothing lost
    assert (buffer.packetsLost, buffer.latePackets) == (0, 1)


def test_jitter_buffer_passes_over_padding_only_packets_without_a_frame_or_a_loss() -> None:
    # Chromium probes bandwidth with padding-only packets on its audio SSRC:
    # the previous packet's timestamp, an empty payload once the padding is off.
    buffer = JitterBuffer("audio", OpusPayloadFormat().startsKeyframe, maxDelay=0.1)
    probe = RtpPacket(100, False, 3, 2 * 960, 1, b"", paddingSize=200)
    for packet in (_audio(1), _audio(2), probe, _audio(4)):
        buffer.push(packet, 0.0)
    assert [frame.sequenceNumber for frame in _drain(buffer, 0.0)] == [1, 2, 4]  # at once: nothing waits for a hole
    assert (buffer.packetsLost, buffer.packetsDropped, len(buffer)) == (0, 0, 0)
    vp8 = Vp8PayloadFormat()
    video = JitterBuffer("video", vp8.startsKeyframe)
    first, second = _video_frame(vp8, 10, 0, True), _video_frame(vp8, 14, 3000, False)
    for packet in [*first, RtpPacket(101, False, 13, 0, 1, b"", paddingSize=255), *second]:
        video.push(packet, 0.0)
    assert [(frame.timestamp, len(frame.payloads)) for frame in _drain(video, 0.0)] == [(0, 3), (3000, 3)]
    assert not video.keyframeNeeded and video.packetsDropped == 0
