//! RTP packets as bytes, for the transports that see them in the clear
//! without str0m (direct and plain transports): the fixed header read from
//! a packet Python or a plain RTP endpoint wrote, and a forwarded packet
//! written out (RFC 3550, one-byte
//! header extensions of RFC 8285).

use std::ops::Range;

/// The fixed header of a packet, and where its payload lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpFields {
    pub ssrc: u32,
    pub payload_type: u8,
    pub sequence_number: u16,
    pub timestamp: u32,
    pub marker: bool,
    /// The payload, without the header, its extensions or its padding.
    pub payload: Range<usize>,
}

/// Reads a packet's header; why it is not an RTP packet otherwise.
pub fn read_rtp(packet: &[u8]) -> Result<RtpFields, &'static str> {
    let Some(fixed) = packet.get(..12) else { return Err("shorter than an RTP header") };
    if fixed[0] >> 6 != 2 {
        return Err("not RTP version 2");
    }
    let payload_type = fixed[1] & 0x7f;
    if (64..=95).contains(&payload_type) {
        return Err("an RTCP packet type, not RTP");
    }
    let mut start = 12 + 4 * usize::from(fixed[0] & 0x0f);
    if fixed[0] & 0x10 != 0 {
        let Some(head) = packet.get(start..start + 4) else { return Err("its header extension is cut") };
        start += 4 + 4 * usize::from(u16::from_be_bytes([head[2], head[3]]));
    }
    let mut end = packet.len();
    if fixed[0] & 0x20 != 0 {
        let padding = usize::from(packet[end - 1]);
        if padding == 0 {
            return Err("a padding length of 0");
        }
        end = end.saturating_sub(padding);
    }
    if start > end {
        return Err("its header, extensions and padding are longer than the packet");
    }
    Ok(RtpFields {
        ssrc: u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]),
        payload_type,
        sequence_number: u16::from_be_bytes([fixed[2], fixed[3]]),
        timestamp: u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
        marker: fixed[1] & 0x80 != 0,
        payload: start..end,
    })
}

/// Appends a packet to `out`: the header of `fields` (its `payload` range
/// is not read), the `extensions` (RFC 8285: in the one-byte form where
/// they all fit it, id 1-14 and 1-16 bytes, else in the two-byte form, id
/// 1-255 and 1-255 bytes; others are left out), then `payload`.
pub fn write_rtp(fields: &RtpFields, extensions: &[(u8, &[u8])], payload: &[u8], out: &mut Vec<u8>) {
    let extensions: Vec<&(u8, &[u8])> = extensions.iter().filter(|(id, value)| *id != 0 && (1..=255).contains(&value.len())).collect();
    let two_byte = extensions.iter().any(|(id, value)| *id > 14 || value.len() > 16);
    let header = if two_byte { 2 } else { 1 };
    let block_len: usize = extensions.iter().map(|(_, value)| header + value.len()).sum();
    let words = block_len.div_ceil(4);
    out.reserve(12 + if words > 0 { 4 + 4 * words } else { 0 } + payload.len());
    out.push(0x80 | if words > 0 { 0x10 } else { 0 });
    out.push(fields.payload_type & 0x7f | if fields.marker { 0x80 } else { 0 });
    out.extend_from_slice(&fields.sequence_number.to_be_bytes());
    out.extend_from_slice(&fields.timestamp.to_be_bytes());
    out.extend_from_slice(&fields.ssrc.to_be_bytes());
    if words > 0 {
        out.extend_from_slice(if two_byte { &[0x10, 0x00] } else { &[0xbe, 0xde] });
        out.extend_from_slice(&(words as u16).to_be_bytes());
        for (id, value) in extensions {
            if two_byte {
                out.extend_from_slice(&[*id, value.len() as u8]);
            } else {
                out.push(id << 4 | (value.len() as u8 - 1));
            }
            out.extend_from_slice(value);
        }
        out.extend(std::iter::repeat_n(0u8, 4 * words - block_len));
    }
    out.extend_from_slice(payload);
}

/// The 64-bit sequence number of a stream's 16-bit ones (RFC 3550 A.1
/// without probation): it goes on across the wrap-around, and a late
/// packet from before it keeps its place.
#[derive(Debug, Default, Clone, Copy)]
pub struct SequenceExtender {
    highest: Option<u64>,
}

impl SequenceExtender {
    pub fn extend(&mut self, sequence_number: u16) -> u64 {
        let Some(highest) = self.highest else {
            // Start a cycle up, so a late packet before the first one still has a place.
            let first = (1 << 16) + u64::from(sequence_number);
            self.highest = Some(first);
            return first;
        };
        let cycle = highest & !0xffff;
        let candidates = [cycle.wrapping_sub(1 << 16), cycle, cycle + (1 << 16)].map(|base| base + u64::from(sequence_number));
        let extended = candidates.into_iter().min_by_key(|candidate| candidate.abs_diff(highest)).unwrap_or(highest);
        self.highest = Some(highest.max(extended));
        extended
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
