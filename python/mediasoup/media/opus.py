"""The Opus RTP payload format (RFC 7587): one Opus packet per RTP packet;
and the duration of an Opus packet from its TOC byte (RFC 6716 §3.1)."""

from __future__ import annotations

from collections.abc import Sequence

# Frame sizes in 48 kHz samples by TOC configuration (RFC 6716 §3.1, table 2):
# SILK 10/20/40/60 ms (0-11), hybrid 10/20 ms (12-15), CELT 2.5/5/10/20 ms (16-31).
_FRAME_SAMPLES = (480, 960, 1920, 2880) * 3 + (480, 960) * 2 + (120, 240, 480, 960) * 4


def opusPacketSamples(packet: bytes) -> int:
    """The 48 kHz samples an Opus packet decodes to; ValueError if it is empty
    or a code-3 packet without its frame count."""
    if not packet:
        raise ValueError("an empty Opus packet has no TOC byte")
    toc = packet[0]
    code = toc & 0x03
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    elif len(packet) < 2:
        raise ValueError("a code-3 Opus packet without its frame count byte")
    else:
        frames = packet[1] & 0x3F
    return frames * _FRAME_SAMPLES[toc >> 3]


opus_packet_samples = opusPacketSamples


class OpusPayloadFormat:
    """Packetizes and depacketizes Opus: the RTP payload is the Opus packet."""

    def packetize(self, frame: bytes, keyframe: bool = False) -> list[bytes]:
        """``[frame]``: 20 ms of Opus never needs more than one packet."""
        return [frame]

    def depacketize(self, payloads: Sequence[bytes]) -> bytes:
        """The Opus packet of a one-packet frame."""
        if len(payloads) != 1:
            raise ValueError(f"an Opus frame is one RTP packet, not {len(payloads)}")
        return payloads[0]

    def startsKeyframe(self, payload: bytes) -> bool:
        """True: every Opus packet decodes on its own."""
        return True

    starts_keyframe = startsKeyframe
