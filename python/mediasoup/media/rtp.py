"""RTP packets (RFC 3550): the fixed header, CSRCs, the header extension
block kept as raw bytes (RFC 8285 one-byte and two-byte elements readable with
:meth:`RtpPacket.headerExtensions`), and padding.

One ``struct`` call per packet each way: the media path parses every packet.
"""

from __future__ import annotations

import struct

_HEADER = struct.Struct("!BBHII")
_EXTENSION_HEADER = struct.Struct("!HH")
RTP_VERSION = 2
ONE_BYTE_PROFILE = 0xBEDE
# RFC 8285 §4.3: 0x100 followed by 4 "appbits".
TWO_BYTE_PROFILE_MASK = 0xFFF0
TWO_BYTE_PROFILE = 0x1000


class RtpPacket:
    """One RTP packet, parsed with :meth:`parse`, written with :meth:`serialize`.

    ``extensionProfile`` is 0 when the packet has no header extension;
    ``extension`` is then empty, else the extension's body (a multiple of 4
    bytes, without its 4-byte header). ``paddingSize`` is the padding that
    :meth:`serialize` appends (the payload never includes it). The fields are
    plain slots named like mediasoup's dicts, without snake_case aliases.
    """

    __slots__ = (
        "payloadType",
        "marker",
        "sequenceNumber",
        "timestamp",
        "ssrc",
        "csrcs",
        "extensionProfile",
        "extension",
        "payload",
        "paddingSize",
    )

    def __init__(
        self,
        payloadType: int = 0,
        marker: bool = False,
        sequenceNumber: int = 0,
        timestamp: int = 0,
        ssrc: int = 0,
        payload: bytes = b"",
        csrcs: tuple[int, ...] = (),
        extensionProfile: int = 0,
        extension: bytes = b"",
        paddingSize: int = 0,
    ) -> None:
        self.payloadType = payloadType
        self.marker = marker
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.payload = payload
        self.csrcs = csrcs
        self.extensionProfile = extensionProfile
        self.extension = extension
        self.paddingSize = paddingSize

    def __repr__(self) -> str:
        return (
            f"RtpPacket(pt={self.payloadType} seq={self.sequenceNumber} ts={self.timestamp} "
            f"ssrc={self.ssrc} marker={int(self.marker)} payload={len(self.payload)} bytes)"
        )

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """The packet in ``data``; ValueError if it is not a well-formed RTP packet."""
        size = len(data)
        if size < 12:
            raise ValueError(f"an RTP packet has at least 12 bytes, not {size}")
        first, second, sequence_number, timestamp, ssrc = _HEADER.unpack_from(data)
        if first >> 6 != RTP_VERSION:
            raise ValueError(f"RTP version {first >> 6}, expected {RTP_VERSION}")
        offset = 12
        csrc_count = first & 0x0F
        csrcs: tuple[int, ...] = ()
        if csrc_count:
            end = offset + 4 * csrc_count
            if end > size:
                raise ValueError(f"{csrc_count} CSRCs need {end} bytes, the packet has {size}")
            csrcs = struct.unpack_from(f"!{csrc_count}I", data, offset)
            offset = end
        profile = 0
        extension = b""
        if first & 0x10:
            if offset + 4 > size:
                raise ValueError(f"the header extension starts at byte {offset} of a {size}-byte packet")
            profile, words = _EXTENSION_HEADER.unpack_from(data, offset)
            end = offset + 4 + 4 * words
            if end > size:
                raise ValueError(f"a header extension of {words} words ends at byte {end}, the packet has {size}")
            extension = bytes(data[offset + 4 : end])
            offset = end
        end = size
        padding = 0
        if first & 0x20:
            padding = data[-1]
            if padding == 0 or offset + padding > size:
                raise ValueError(f"padding of {padding} bytes in a packet with {size - offset} bytes after its header")
            end -= padding
        return cls(second & 0x7F, bool(second & 0x80), sequence_number, timestamp, ssrc,
                   bytes(data[offset:end]), csrcs, profile, extension, padding)

    def serialize(self) -> bytes:
        """The packet on the wire."""
        first = RTP_VERSION << 6 | len(self.csrcs)
        if self.extensionProfile:
            first |= 0x10
        if self.paddingSize:
            first |= 0x20
        parts = [_HEADER.pack(first, self.payloadType | (0x80 if self.marker else 0),
                              self.sequenceNumber, self.timestamp, self.ssrc)]
        if self.csrcs:
            parts.append(struct.pack(f"!{len(self.csrcs)}I", *self.csrcs))
        if self.extensionProfile:
            if len(self.extension) % 4:
                raise ValueError(f"a header extension's body is a multiple of 4 bytes, not {len(self.extension)}")
            parts.append(_EXTENSION_HEADER.pack(self.extensionProfile, len(self.extension) // 4))
            parts.append(self.extension)
        parts.append(self.payload)
        if self.paddingSize:
            parts.append(bytes(self.paddingSize - 1) + bytes((self.paddingSize,)))
        return b"".join(parts)

    def headerExtensions(self) -> dict[int, bytes]:
        """The RFC 8285 elements of the header extension, by id (empty for
        another profile); ValueError if an element overruns the block."""
        if self.extensionProfile == ONE_BYTE_PROFILE:
            return _elements(self.extension, one_byte=True)
        if self.extensionProfile & TWO_BYTE_PROFILE_MASK == TWO_BYTE_PROFILE:
            return _elements(self.extension, one_byte=False)
        return {}

    header_extensions = headerExtensions


def _elements(block: bytes, one_byte: bool) -> dict[int, bytes]:
    elements: dict[int, bytes] = {}
    offset, size = 0, len(block)
    while offset < size:
        if block[offset] == 0:  # padding between elements
            offset += 1
            continue
        if one_byte:
            element_id, length = block[offset] >> 4, (block[offset] & 0x0F) + 1
            if element_id == 15:  # RFC 8285 §4.2: stop parsing
                break
            offset += 1
        else:
            if offset + 1 >= size:
                raise ValueError(f"a two-byte header extension element at byte {offset} of {size}")
            element_id, length = block[offset], block[offset + 1]
            offset += 2
        if offset + length > size:
            raise ValueError(f"header extension element {element_id} of {length} bytes overruns the {size}-byte block")
        elements[element_id] = block[offset : offset + length]
        offset += length
    return elements

