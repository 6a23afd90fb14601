"""The Opus RTP payload format (RFC 7587): one Opus packet per RTP packet."""

from __future__ import annotations

from collections.abc import Sequence


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
