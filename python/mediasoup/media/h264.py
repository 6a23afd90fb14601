"""The H.264 RTP payload format (RFC 6184, packetization-mode 1): single NAL
unit packets, STAP-A and FU-A both ways; frames in Annex B byte stream format."""

from __future__ import annotations

import struct
from collections.abc import Sequence

START_CODE = b"\x00\x00\x00\x01"
STAP_A = 24
FU_A = 28
# NAL unit types a decoder can start from: an IDR slice, or the SPS before one.
_KEYFRAME_NALS = frozenset((5, 7))


def splitAnnexB(frame: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream, without start codes."""
    # A NAL unit ends with its stop bit, so trailing zeros are the next start
    # code's leading zero or cabac_zero_words: both may go.
    return [nal for nal in (part.rstrip(b"\x00") for part in frame.split(b"\x00\x00\x01")) if nal]


split_annex_b = splitAnnexB


class H264PayloadFormat:
    """Packetizes Annex B access units and depacketizes RFC 6184 payloads."""

    def __init__(self, mtu: int = 1200) -> None:
        if mtu < 16:
            raise ValueError(f"an H.264 packet needs an mtu of at least 16 bytes, not {mtu}")
        self._mtu = mtu

    def packetize(self, frame: bytes, keyframe: bool = False) -> list[bytes]:
        """One access unit (Annex B) in payloads of at most ``mtu`` bytes: small
        NAL units aggregated in STAP-A, large ones split in FU-A."""
        payloads: list[bytes] = []
        pending: list[bytes] = []
        pending_size = 1  # the STAP-A header
        for nal in splitAnnexB(frame):
            if len(nal) > self._mtu:
                self._flush(pending, payloads)
                pending, pending_size = [], 1
                payloads.extend(self._fragment(nal))
                continue
            if pending_size + 2 + len(nal) > self._mtu:
                self._flush(pending, payloads)
                pending, pending_size = [], 1
            pending.append(nal)
            pending_size += 2 + len(nal)
        self._flush(pending, payloads)
        return payloads

    @staticmethod
    def _flush(pending: list[bytes], payloads: list[bytes]) -> None:
        if len(pending) == 1:
            payloads.append(pending[0])
        elif pending:
            forbidden = max(nal[0] & 0x80 for nal in pending)
            nri = max(nal[0] & 0x60 for nal in pending)
            parts = [bytes((forbidden | nri | STAP_A,))]
            for nal in pending:
                parts.append(struct.pack("!H", len(nal)))
                parts.append(nal)
            payloads.append(b"".join(parts))

    def _fragment(self, nal: bytes) -> list[bytes]:
        indicator = bytes((nal[0] & 0xE0 | FU_A,))
        nal_type = nal[0] & 0x1F
        body = nal[1:]
        room = self._mtu - 2
        count = -(-len(body) // room)
        chunk = -(-len(body) // count)
        fragments = []
        for offset in range(0, len(body), chunk):
            header = nal_type
            if offset == 0:
                header |= 0x80  # S
            if offset + chunk >= len(body):
                header |= 0x40  # E
            fragments.append(indicator + bytes((header,)) + body[offset : offset + chunk])
        return fragments

    def depacketize(self, payloads: Sequence[bytes]) -> bytes:
        """The access unit (Annex B) in ``payloads`` (one frame's, in order);
        ValueError for a malformed payload or a type packetization-mode 1 does not allow."""
        out = bytearray()
        in_fragment = False
        for payload in payloads:
            if not payload:
                raise ValueError("an empty H.264 payload")
            nal_type = payload[0] & 0x1F
            if 1 <= nal_type <= 23:
                out += START_CODE
                out += payload
            elif nal_type == STAP_A:
                offset = 1
                while offset < len(payload):
                    if offset + 2 > len(payload):
                        raise ValueError(f"a STAP-A NAL size at byte {offset} of {len(payload)}")
                    (size,) = struct.unpack_from("!H", payload, offset)
                    offset += 2
                    if size == 0 or offset + size > len(payload):
                        raise ValueError(f"a STAP-A NAL unit of {size} bytes at byte {offset} of {len(payload)}")
                    out += START_CODE
                    out += payload[offset : offset + size]
                    offset += size
            elif nal_type == FU_A:
                if len(payload) < 3:
                    raise ValueError(f"an FU-A payload of {len(payload)} bytes")
                header = payload[1]
                if header & 0x80:
                    out += START_CODE
                    out.append(payload[0] & 0xE0 | header & 0x1F)
                    in_fragment = True
                elif not in_fragment:
                    raise ValueError("an FU-A fragment without its start")
                out += payload[2:]
                if header & 0x40:
                    in_fragment = False
            else:
                raise ValueError(f"H.264 NAL unit type {nal_type}: packetization-mode 1 takes 1-23, 24 (STAP-A) or 28 (FU-A)")
        return bytes(out)

    def startsKeyframe(self, payload: bytes) -> bool:
        """True if ``payload`` starts an IDR picture or its SPS: a NAL unit of
        either, any of a STAP-A's (an encoder may put an access unit
        delimiter or SEI first), or the first fragment of one."""
        if not payload:
            return False
        nal_type = payload[0] & 0x1F
        if nal_type == STAP_A:
            offset = 1
            while offset + 2 < len(payload):
                if payload[offset + 2] & 0x1F in _KEYFRAME_NALS:
                    return True
                offset += 2 + (payload[offset] << 8 | payload[offset + 1])
            return False
        if nal_type == FU_A:
            return len(payload) > 1 and bool(payload[1] & 0x80) and payload[1] & 0x1F in _KEYFRAME_NALS
        return nal_type in _KEYFRAME_NALS

    starts_keyframe = startsKeyframe
