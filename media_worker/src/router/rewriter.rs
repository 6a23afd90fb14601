//! How a sender numbers what it forwards: one SSRC of its own, sequence
//! numbers continuous from the first packet it sent, and timestamps
//! continuous across a change of source. The subscriber's jitter buffer
//! and NACKs see one stream, whatever the publisher's encodings did.

use std::time::Instant;

use crate::rtp::packet::IncomingRtp;

#[derive(Debug, Clone)]
pub struct Rewriter {
    clock_rate: u32,
    /// (first incoming extended sequence number, first outgoing one) since
    /// the sender started, resumed or changed source.
    sequence_base: Option<(u64, u64)>,
    /// Added (mod 2^32) to the source's timestamps.
    timestamp_offset: u32,
    /// The highest outgoing sequence number sent.
    last_sequence: u64,
    /// The timestamp of that packet and when it arrived.
    last_timestamp: Option<(u32, Instant)>,
}

impl Rewriter {
    pub fn new(clock_rate: u32) -> Self {
        Self { clock_rate, sequence_base: None, timestamp_offset: 0, last_sequence: 0, last_timestamp: None }
    }

    /// `packet` starts a new source: its first timestamp follows the last one
    /// sent by the time that passed (at least one tick), and its numbers go
    /// on from the last one sent. The first source keeps its own timestamps.
    pub fn start_source(&mut self, packet: &IncomingRtp) {
        self.sequence_base = None;
        self.timestamp_offset = match self.last_timestamp {
            None => 0,
            Some((last, at)) => {
                let elapsed = packet.arrival.saturating_duration_since(at);
                let ticks = (elapsed.as_micros() * u128::from(self.clock_rate) / 1_000_000).max(1);
                last.wrapping_add(ticks as u32).wrapping_sub(packet.timestamp)
            }
        };
    }

    /// What is skipped from now on (a pause) leaves no gap: the numbers go on
    /// from the last one sent.
    pub fn skip(&mut self) {
        self.sequence_base = None;
    }

    /// The outgoing (extended sequence number, timestamp) of a packet of the
    /// current source. Gaps and order are kept, so the subscriber's NACKs
    /// name the packets that are missing; a packet older than the first one
    /// forwarded since the last (re)start is dropped (its number is taken).
    pub fn rewrite(&mut self, packet: &IncomingRtp) -> Option<(u64, u32)> {
        let next = self.last_sequence + 1;
        let (first_in, first_out) = *self.sequence_base.get_or_insert((packet.sequence_number, next));
        let sequence_number = (first_out + packet.sequence_number).checked_sub(first_in).filter(|out| *out >= first_out)?;
        let timestamp = packet.timestamp.wrapping_add(self.timestamp_offset);
        if sequence_number >= self.last_sequence {
            self.last_sequence = sequence_number;
            self.last_timestamp = Some((timestamp, packet.arrival));
        }
        Some((sequence_number, timestamp))
    }
}
