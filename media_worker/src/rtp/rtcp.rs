//! RTCP as bytes, for the transports that see it in the clear without
//! str0m (plain RTP): telling RTCP from RTP on one port (RFC 5761), what a
//! compound packet from the endpoint asks or reports (keyframe requests,
//! NACKs, reception reports), and the packets written to it (sender
//! reports, keyframe requests, NACKs) — RFC 3550 and RFC 4585.

/// Sender report, receiver report, transport and payload-specific feedback.
const SR: u8 = 200;
const RR: u8 = 201;
const RTPFB: u8 = 205;
const PSFB: u8 = 206;
/// Feedback message types: generic NACK (RTPFB), PLI and FIR (PSFB).
const FMT_NACK: u8 = 1;
const FMT_PLI: u8 = 1;
const FMT_FIR: u8 = 4;

/// Whether a datagram on a port that carries both is RTCP (RFC 5761 §4:
/// RTCP packet types 192–223 fall where RTP would have marker and payload
/// type 64–95, which dynamic payload types avoid).
pub fn is_rtcp(datagram: &[u8]) -> bool {
    datagram.len() >= 8 && datagram[0] >> 6 == 2 && (192..=223).contains(&datagram[1])
}

/// What one packet of a compound RTCP packet says, as far as a plain
/// transport acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// PLI or FIR: the endpoint wants a keyframe of the stream it receives on `media_ssrc`.
    KeyframeRequest { media_ssrc: u32 },
    /// One entry of a generic NACK: packets of `media_ssrc` it lacks,
    /// `first` and those of `first + 1 + i` for each bit `i` of `mask`.
    Nack { media_ssrc: u32, first: u16, mask: u16 },
    /// A reception report (in an SR or RR) on a stream it receives: the
    /// fraction lost since the last one, out of 256.
    ReceptionReport { media_ssrc: u32, fraction_lost: u8 },
    /// The endpoint's sender report on a stream it sends.
    SenderReport { ssrc: u32 },
}

/// Reads a compound RTCP packet: what its packets say, in order; an error
/// names the first malformed packet (what came before it is kept).
pub fn read_compound(mut packet: &[u8], into: &mut Vec<Feedback>) -> Result<(), &'static str> {
    while !packet.is_empty() {
        if packet.len() < 4 {
            return Err("a truncated RTCP header");
        }
        if packet[0] >> 6 != 2 {
            return Err("not RTCP version 2");
        }
        let count = packet[0] & 0x1f;
        let packet_type = packet[1];
        let length = (usize::from(u16::from_be_bytes([packet[2], packet[3]])) + 1) * 4;
        if length > packet.len() {
            return Err("an RTCP packet longer than the datagram");
        }
        let body = &packet[4..length];
        match packet_type {
            SR | RR => {
                // SR: sender SSRC and 20 bytes of sender info; RR: sender SSRC.
                let fixed = if packet_type == SR { 24 } else { 4 };
                if body.len() < fixed + 24 * usize::from(count) {
                    return Err("a report shorter than its report count");
                }
                if packet_type == SR {
                    into.push(Feedback::SenderReport { ssrc: be32(body, 0) });
                }
                for block in body[fixed..].chunks_exact(24).take(usize::from(count)) {
                    into.push(Feedback::ReceptionReport { media_ssrc: be32(block, 0), fraction_lost: block[4] });
                }
            }
            RTPFB | PSFB => {
                if body.len() < 8 {
                    return Err("a feedback message without its SSRCs");
                }
                let media_ssrc = be32(body, 4);
                match (packet_type, count) {
                    (PSFB, FMT_PLI) => into.push(Feedback::KeyframeRequest { media_ssrc }),
                    // FIR names its media SSRCs in its entries (8 bytes each).
                    (PSFB, FMT_FIR) => into.extend(body[8..].chunks_exact(8).map(|entry| Feedback::KeyframeRequest { media_ssrc: be32(entry, 0) })),
                    (RTPFB, FMT_NACK) => into.extend(body[8..].chunks_exact(4).map(|entry| Feedback::Nack {
                        media_ssrc,
                        first: u16::from_be_bytes([entry[0], entry[1]]),
                        mask: u16::from_be_bytes([entry[2], entry[3]]),
                    })),
                    _ => {}
                }
            }
            // SDES, BYE, APP, XR and the rest: nothing to act on.
            _ => {}
        }
        packet = &packet[length..];
    }
    Ok(())
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn header(out: &mut Vec<u8>, count: u8, packet_type: u8, words_after: u16) {
    out.extend_from_slice(&[0x80 | count, packet_type]);
    out.extend_from_slice(&words_after.to_be_bytes());
}

/// Appends a PLI from `sender_ssrc` asking for a keyframe of `media_ssrc` (RFC 4585 §6.3.1).
pub fn write_pli(sender_ssrc: u32, media_ssrc: u32, out: &mut Vec<u8>) {
    header(out, FMT_PLI, PSFB, 2);
    out.extend_from_slice(&sender_ssrc.to_be_bytes());
    out.extend_from_slice(&media_ssrc.to_be_bytes());
}

/// The sequence numbers a NACK entry names: `first`, then `first + 1 + i`
/// for each bit `i` of `mask`.
pub fn nacked(first: u16, mask: u16) -> impl Iterator<Item = u16> {
    std::iter::once(first).chain((0..16u16).filter(move |bit| mask & (1 << bit) != 0).map(move |bit| first.wrapping_add(bit + 1)))
}

/// Appends a generic NACK from `sender_ssrc` for the packets `lost` of
/// `media_ssrc` (RFC 4585 §6.2.1), in as few entries as they fit: each
/// names a packet and the 16 after it. `lost` in sending order.
pub fn write_nack(sender_ssrc: u32, media_ssrc: u32, lost: &[u16], out: &mut Vec<u8>) {
    let mut entries: Vec<(u16, u16)> = Vec::new();
    for &sequence in lost {
        match entries.last_mut() {
            Some((first, mask)) if (1..=16).contains(&sequence.wrapping_sub(*first)) => *mask |= 1 << (sequence.wrapping_sub(*first) - 1),
            Some((first, _)) if *first == sequence => {}
            _ => entries.push((sequence, 0)),
        }
    }
    header(out, FMT_NACK, RTPFB, 2 + entries.len() as u16);
    out.extend_from_slice(&sender_ssrc.to_be_bytes());
    out.extend_from_slice(&media_ssrc.to_be_bytes());
    for (first, mask) in entries {
        out.extend_from_slice(&first.to_be_bytes());
        out.extend_from_slice(&mask.to_be_bytes());
    }
}

/// What a sender report says of a stream sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    pub ssrc: u32,
    /// NTP time (RFC 5905: seconds since 1900 in the high 32 bits).
    pub ntp: u64,
    /// The same instant on the stream's RTP clock.
    pub rtp_timestamp: u32,
    pub packets: u32,
    pub octets: u32,
}

/// Appends a sender report without reception reports (RFC 3550 §6.4.1),
/// and the SDES CNAME a compound packet needs (§6.5.1).
pub fn write_sender_report(info: &SenderInfo, cname: &str, out: &mut Vec<u8>) {
    header(out, 0, SR, 6);
    out.extend_from_slice(&info.ssrc.to_be_bytes());
    out.extend_from_slice(&info.ntp.to_be_bytes());
    out.extend_from_slice(&info.rtp_timestamp.to_be_bytes());
    out.extend_from_slice(&info.packets.to_be_bytes());
    out.extend_from_slice(&info.octets.to_be_bytes());
    // SDES: one chunk (SSRC, CNAME item, end), padded to 32 bits.
    let cname = &cname.as_bytes()[..cname.len().min(255)];
    let chunk = 4 + 2 + cname.len() + 1;
    let padded = chunk.div_ceil(4) * 4;
    header(out, 1, 202, (padded / 4) as u16);
    out.extend_from_slice(&info.ssrc.to_be_bytes());
    out.extend_from_slice(&[1, cname.len() as u8]);
    out.extend_from_slice(cname);
    out.resize(out.len() + padded - chunk + 1, 0);
}

#[cfg(test)]
#[path = "rtcp_tests.rs"]
mod tests;
