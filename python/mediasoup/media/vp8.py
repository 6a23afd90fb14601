"""The VP8 RTP payload format (RFC 7741): the payload descriptor, keyframe
detection, and frames split into packets of at most ``mtu`` bytes."""

from __future__ import annotations

import random
from collections.abc import Sequence


class Vp8Descriptor:
    """The VP8 payload descriptor at the start of every VP8 RTP payload (RFC 7741 §4.2).

    ``pictureId``, ``tl0PicIdx``, ``temporalLayer`` and ``keyIdx`` are None when
    absent; ``size`` is the descriptor's length, where the VP8 data starts.
    """

    __slots__ = ("nonReference", "startOfPartition", "partitionIndex", "pictureId", "tl0PicIdx",
                 "temporalLayer", "layerSync", "keyIdx", "size")

    def __init__(self) -> None:
        self.nonReference = False
        self.startOfPartition = False
        self.partitionIndex = 0
        self.pictureId: int | None = None
        self.tl0PicIdx: int | None = None
        self.temporalLayer: int | None = None
        self.layerSync = False
        self.keyIdx: int | None = None
        self.size = 1

    @classmethod
    def parse(cls, payload: bytes) -> Vp8Descriptor:
        """The descriptor of ``payload``; ValueError if it is truncated."""
        size = len(payload)
        if size < 1:
            raise ValueError("an empty VP8 payload has no descriptor")
        descriptor = cls()
        first = payload[0]
        descriptor.nonReference = bool(first & 0x20)
        descriptor.startOfPartition = bool(first & 0x10)
        descriptor.partitionIndex = first & 0x07
        offset = 1
        if first & 0x80:
            if size < 2:
                raise ValueError("a VP8 descriptor with X set and no extension byte")
            extension = payload[1]
            offset = 2
            try:
                if extension & 0x80:  # I: PictureID, 7 or 15 bits (M)
                    if payload[offset] & 0x80:
                        descriptor.pictureId = (payload[offset] & 0x7F) << 8 | payload[offset + 1]
                        offset += 2
                    else:
                        descriptor.pictureId = payload[offset]
                        offset += 1
                if extension & 0x40:  # L
                    descriptor.tl0PicIdx = payload[offset]
                    offset += 1
                if extension & 0x30:  # T or K: one byte TID|Y|KEYIDX
                    byte = payload[offset]
                    if extension & 0x20:
                        descriptor.temporalLayer = byte >> 6
                        descriptor.layerSync = bool(byte & 0x20)
                    if extension & 0x10:
                        descriptor.keyIdx = byte & 0x1F
                    offset += 1
            except IndexError:
                raise ValueError(f"a VP8 descriptor with extension bits {extension:#04x} in {size} bytes") from None
        if offset > size:
            raise ValueError(f"a VP8 descriptor of {offset} bytes in a {size}-byte payload")
        descriptor.size = offset
        return descriptor


class Vp8PayloadFormat:
    """Packetizes VP8 frames with a 15-bit PictureID and depacketizes any
    RFC 7741 payload (one instance per direction: the PictureID is state)."""

    def __init__(self, mtu: int = 1200, pictureId: int | None = None) -> None:
        if mtu < 16:
            raise ValueError(f"a VP8 packet needs an mtu of at least 16 bytes, not {mtu}")
        self._mtu = mtu
        self._picture_id = random.getrandbits(15) if pictureId is None else pictureId & 0x7FFF

    def packetize(self, frame: bytes, keyframe: bool = False) -> list[bytes]:
        """``frame`` (one encoded VP8 frame) in payloads of at most ``mtu``
        bytes, of equal size, the first with S set; the PictureID advances per frame."""
        picture_id = self._picture_id
        self._picture_id = (picture_id + 1) & 0x7FFF
        room = self._mtu - 4
        count = max(1, -(-len(frame) // room))
        chunk = -(-len(frame) // count)
        tail = bytes((0x80, 0x80 | picture_id >> 8, picture_id & 0xFF))  # X; I; M + 15-bit PictureID
        first = b"\x90" + tail  # X, S, PID 0
        rest = b"\x80" + tail
        return [(first if offset == 0 else rest) + frame[offset : offset + chunk]
                for offset in range(0, max(len(frame), 1), chunk or 1)]

    def depacketize(self, payloads: Sequence[bytes]) -> bytes:
        """The VP8 frame in ``payloads`` (one frame's, in order); ValueError if
        the first does not start the frame."""
        if not payloads:
            raise ValueError("a VP8 frame of no packets")
        parts = []
        for index, payload in enumerate(payloads):
            descriptor = Vp8Descriptor.parse(payload)
            if index == 0 and not (descriptor.startOfPartition and descriptor.partitionIndex == 0):
                raise ValueError(f"a VP8 frame starting in partition {descriptor.partitionIndex} "
                                 f"with S={int(descriptor.startOfPartition)}, expected partition 0 with S=1")
            parts.append(payload[descriptor.size :])
        return b"".join(parts)

    def startsKeyframe(self, payload: bytes) -> bool:
        """True if ``payload`` is the first packet of a keyframe (S=1, PID=0, P=0)."""
        try:
            descriptor = Vp8Descriptor.parse(payload)
        except ValueError:
            return False
        return (descriptor.startOfPartition and descriptor.partitionIndex == 0
                and len(payload) > descriptor.size and not payload[descriptor.size] & 0x01)

    starts_keyframe = startsKeyframe
