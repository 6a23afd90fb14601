"""Real media for an SFU that decodes (the aiortc relay): ten seconds of
VP8 (640×360, 25 frames/s, ≈ 1 Mbit/s, a keyframe every 2 s) and Opus
(20 ms packets), encoded here with PyAV (libvpx, libopus), written in the
load generator's clip format: records of a kind byte (`V`, `A`), a flags
byte (1: keyframe), a big-endian u32 length and the bytes."""

from __future__ import annotations

import fractions
import math
import pathlib
import struct

WIDTH, HEIGHT, FPS = 640, 360, 25
SECONDS = 10
VIDEO_BITRATE = 1_000_000
SAMPLE_RATE = 48_000
SAMPLES_PER_PACKET = 960


def _video_frames() -> list[tuple[bytes, bool]]:
    import av
    import numpy

    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.time_base = fractions.Fraction(1, FPS)
    codec.bit_rate = VIDEO_BITRATE
    codec.gop_size = 2 * FPS
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "minrate": str(VIDEO_BITRATE),
                     "maxrate": str(VIDEO_BITRATE), "bufsize": str(VIDEO_BITRATE), "kf-max-dist": str(2 * FPS),
                     "kf-min-dist": str(2 * FPS)}
    rows, columns = numpy.mgrid[0:HEIGHT, 0:WIDTH]
    noise = numpy.random.default_rng(7)
    frames: list[tuple[bytes, bool]] = []
    for index in range(SECONDS * FPS):
        # A moving gradient, a bouncing square and some grain: enough detail
        # for the encoder to spend its bitrate on.
        image = numpy.empty((HEIGHT, WIDTH, 3), numpy.uint8)
        image[..., 0] = (columns + 4 * index) % 256
        image[..., 1] = (rows * 2 + 3 * index) % 256
        image[..., 2] = ((columns + rows) // 2 + index) % 256
        x = int((WIDTH - 80) * (0.5 + 0.5 * math.sin(index / 9)))
        y = int((HEIGHT - 80) * (0.5 + 0.5 * math.cos(index / 7)))
        image[y:y + 80, x:x + 80] = 255
        image = numpy.clip(image.astype(numpy.int16) + noise.integers(-12, 12, image.shape), 0, 255).astype(numpy.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        frame.time_base = codec.time_base
        if index % (2 * FPS) == 0:
            frame.pict_type = av.video.frame.PictureType.I
        frames += [(bytes(packet), bool(packet.is_keyframe)) for packet in codec.encode(frame)]
    frames += [(bytes(packet), bool(packet.is_keyframe)) for packet in codec.encode(None)]
    return frames


def _audio_packets() -> list[bytes]:
    import av
    import numpy

    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.format, codec.layout = SAMPLE_RATE, "s16", "stereo"
    codec.bit_rate = 40_000
    codec.time_base = fractions.Fraction(1, SAMPLE_RATE)
    packets: list[bytes] = []
    for index in range(SECONDS * SAMPLE_RATE // SAMPLES_PER_PACKET):
        t = (numpy.arange(SAMPLES_PER_PACKET) + index * SAMPLES_PER_PACKET) / SAMPLE_RATE
        tone = (8000 * numpy.sin(2 * math.pi * 440 * t)).astype(numpy.int16)
        frame = av.AudioFrame.from_ndarray(numpy.repeat(tone, 2).reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate, frame.pts = SAMPLE_RATE, index * SAMPLES_PER_PACKET
        packets += [bytes(packet) for packet in codec.encode(frame)]
    return packets


def write(path: pathlib.Path) -> pathlib.Path:
    """Encodes the clip into `path` (once: an existing file is kept)."""
    if path.exists():
        return path
    frames = _video_frames()
    if not frames or not frames[0][1]:
        raise RuntimeError("the VP8 clip must start with a keyframe")
    records = [struct.pack(">cBI", b"V", int(keyframe), len(data)) + data for data, keyframe in frames]
    records += [struct.pack(">cBI", b"A", 0, len(data)) + data for data in _audio_packets()]
    partial = path.with_suffix(".partial")
    partial.write_bytes(b"".join(records))
    partial.rename(path)
    return path


if __name__ == "__main__":
    import sys

    target = write(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "clip.bin"))
    print(target, target.stat().st_size, "bytes")
