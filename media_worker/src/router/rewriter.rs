//! How a sender numbers what it forwards: one SSRC of its own, sequence
//! numbers continuous from the first packet it sent, timestamps continuous
//! across a change of source, and, for VP8, picture ids and TL0PICIDX
//! continuous too. Packets of a temporal layer not forwarded take their
//! numbers (and their frames' picture ids) with them: the subscriber's
//! jitter buffer, NACKs and decoder see one stream with no hole, whatever
//! the publisher's encodings did.

use std::collections::VecDeque;
use std::time::Instant;

use crate::rtp::codecs::vp8::PictureIds;
use crate::rtp::packet::IncomingRtp;

/// Numbers skipped are remembered this many at most; a packet older than
/// the oldest one forgotten is dropped.
const MAX_SKIPPED: usize = 512;

/// Extended incoming numbers to extended outgoing ones: continuous from the
/// last one given out when a source (re)starts, gaps and order kept, and
/// the numbers [`Self::skip`]ped taken out.
#[derive(Debug, Clone, Default)]
pub struct Renumbering {
    /// (first incoming number, its outgoing number) since the last (re)start.
    base: Option<(u64, u64)>,
    /// Incoming numbers skipped since the base, ascending.
    skipped: VecDeque<u64>,
    /// The highest outgoing number given.
    last: u64,
    /// Whether the first source keeps its own numbers (else they start at 1).
    identity_first: bool,
    started: bool,
}

impl Renumbering {
    /// A renumbering whose first source keeps its numbers.
    pub fn keeping_first() -> Self {
        Self { identity_first: true, ..Self::default() }
    }

    /// The next number in goes on from the last one out.
    pub fn restart(&mut self) {
        self.base = None;
        self.skipped.clear();
    }

    /// `number` is not forwarded and leaves no gap.
    pub fn skip(&mut self, number: u64) {
        let Some((base_in, _)) = self.base else { return };
        if number < base_in {
            return;
        }
        let at = self.skipped.partition_point(|skipped| *skipped < number);
        if self.skipped.get(at) != Some(&number) {
            self.skipped.insert(at, number);
        }
        if self.skipped.len() > MAX_SKIPPED {
            // The oldest skipped number moves into the base: older packets are dropped.
            let oldest = self.skipped.pop_front().unwrap_or(number);
            if let Some((base_in, base_out)) = self.base {
                self.base = Some((oldest + 1, base_out + (oldest - base_in)));
            }
        }
    }

    /// The outgoing number of `number`, or None if it was skipped or is
    /// older than the base (its number is taken).
    pub fn map(&mut self, number: u64) -> Option<u64> {
        let (base_in, base_out) = *self.base.get_or_insert_with(|| {
            let out = if !self.started && self.identity_first { number } else { self.last + 1 };
            (number, out)
        });
        self.started = true;
        if number < base_in || self.skipped.binary_search(&number).is_ok() {
            return None;
        }
        let skipped_before = self.skipped.partition_point(|skipped| *skipped < number) as u64;
        let out = base_out + (number - base_in) - skipped_before;
        self.last = self.last.max(out);
        Some(out)
    }

    /// The highest outgoing number given.
    pub fn last(&self) -> u64 {
        self.last
    }
}

/// A wrapping counter of `bits` bits, extended to 64 (nearest to the last one seen).
#[derive(Debug, Clone, Copy, Default)]
struct Unwrapper {
    last: Option<u64>,
}

impl Unwrapper {
    fn extend(&mut self, value: u16, bits: u32) -> u64 {
        let modulus = 1u64 << bits;
        let value = u64::from(value) % modulus;
        let extended = match self.last {
            None => value + (modulus << 8),
            Some(last) => {
                let candidate = (last & !(modulus - 1)) | value;
                let half = modulus / 2;
                if candidate + half < last {
                    candidate + modulus
                } else if candidate > last + half && candidate >= modulus {
                    candidate - modulus
                } else {
                    candidate
                }
            }
        };
        self.last = Some(self.last.map_or(extended, |last| last.max(extended)));
        extended
    }
}

/// VP8's picture ids and TL0PICIDX as a sender writes them.
#[derive(Debug, Clone)]
struct Vp8Numbering {
    picture_ids: Renumbering,
    unwrapper: Unwrapper,
    /// Added (mod 256) to the source's TL0PICIDX, and the last one written.
    tl0_offset: u8,
    last_tl0: Option<u8>,
}

impl Default for Vp8Numbering {
    fn default() -> Self {
        Self { picture_ids: Renumbering::keeping_first(), unwrapper: Unwrapper::default(), tl0_offset: 0, last_tl0: None }
    }
}

#[derive(Debug, Clone)]
pub struct Rewriter {
    clock_rate: u32,
    sequence: Renumbering,
    /// Added (mod 2^32) to the source's timestamps.
    timestamp_offset: u32,
    /// The timestamp of the highest packet sent and when it arrived.
    last_timestamp: Option<(u32, Instant)>,
    vp8: Vp8Numbering,
    /// The source's first TL0PICIDX is yet to be joined to the last one written.
    tl0_restart: bool,
}

impl Rewriter {
    pub fn new(clock_rate: u32) -> Self {
        Self { clock_rate, sequence: Renumbering::default(), timestamp_offset: 0, last_timestamp: None, vp8: Vp8Numbering::default(), tl0_restart: false }
    }

    /// `packet` starts a new source: its first timestamp follows the last one
    /// sent by the time that passed (at least one tick), and its numbers go
    /// on from the last ones sent. The first source keeps its own timestamps
    /// and picture ids.
    pub fn start_source(&mut self, packet: &IncomingRtp) {
        self.sequence.restart();
        self.vp8.picture_ids.restart();
        self.vp8.unwrapper = Unwrapper::default();
        self.tl0_restart = true;
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
    pub fn pause(&mut self) {
        self.sequence.restart();
    }

    /// A packet of the current source that is not forwarded (a temporal
    /// layer above the one forwarded): its number, and its frame's picture
    /// id, leave no gap.
    pub fn skip(&mut self, packet: &IncomingRtp, ids: Option<PictureIds>) {
        self.sequence.skip(packet.sequence_number);
        if let Some((picture_id, long)) = ids.and_then(|ids| ids.picture_id) {
            let extended = self.vp8.unwrapper.extend(picture_id, if long { 15 } else { 7 });
            self.vp8.picture_ids.skip(extended);
        }
    }

    /// The outgoing (extended sequence number, timestamp) of a packet of the
    /// current source. Gaps and order are kept, so the subscriber's NACKs
    /// name the packets that are missing; a packet older than the first one
    /// forwarded since the last (re)start is dropped (its number is taken).
    pub fn rewrite(&mut self, packet: &IncomingRtp) -> Option<(u64, u32)> {
        let sequence_number = self.sequence.map(packet.sequence_number)?;
        let timestamp = packet.timestamp.wrapping_add(self.timestamp_offset);
        if sequence_number >= self.sequence.last() {
            self.last_timestamp = Some((timestamp, packet.arrival));
        }
        Some((sequence_number, timestamp))
    }

    /// The VP8 ids to write into a forwarded packet's payload in place of
    /// its own, or None where they are its own.
    pub fn rewrite_vp8(&mut self, ids: PictureIds) -> Option<(u16, Option<u8>)> {
        let vp8 = &mut self.vp8;
        let tl0 = ids.tl0_pic_idx.map(|tl0| {
            if std::mem::take(&mut self.tl0_restart) {
                vp8.tl0_offset = vp8.last_tl0.map_or(0, |last| last.wrapping_add(1).wrapping_sub(tl0));
            }
            let out = tl0.wrapping_add(vp8.tl0_offset);
            vp8.last_tl0 = Some(out);
            out
        });
        let (picture_id, long) = ids.picture_id?;
        let extended = vp8.unwrapper.extend(picture_id, if long { 15 } else { 7 });
        let out = vp8.picture_ids.map(extended).unwrap_or(extended) as u16 & if long { 0x7fff } else { 0x7f };
        (out != picture_id || tl0 != ids.tl0_pic_idx).then_some((out, tl0))
    }
}

#[cfg(test)]
#[path = "rewriter_tests.rs"]
mod tests;
