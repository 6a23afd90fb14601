//! Retransmission over a plain transport's hop (pipes): the sender keeps
//! the last packets of each stream as they left ([`SendHistory`]: a ring
//! per SSRC, its buffers reused) and sends one again when the other end
//! NACKs it; the receiver notices what is missing ([`NackGenerator`]) and
//! asks for it, again while it is worth waiting for. The packet goes again
//! as it went, same SSRC and sequence number (and the same SRTP bytes: a
//! packet the receiver never got is no replay to it). Sans-IO: sequence
//! numbers and instants in, NACKs and packets out; tested with fake time.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use crate::rtp::wire::SequenceExtender;

/// Packets kept per stream sent: ≈ 2.5 s of video at 100 packets/s.
pub const HISTORY_PACKETS: usize = 256;
/// A packet older than this is not sent again (it would come too late).
pub const MAX_AGE: Duration = Duration::from_millis(1000);
/// How long a gap waits before its first NACK (a packet merely reordered fills it).
pub const REORDER_WAIT: Duration = Duration::from_millis(5);
/// Between two NACKs of the same packet.
pub const NACK_INTERVAL: Duration = Duration::from_millis(30);
/// NACKs per packet before it is given up.
pub const MAX_NACKS: u8 = 5;
/// A jump this large is a new start, not a loss: nothing is asked for.
pub const MAX_GAP: u64 = 1000;

/// The packets of the streams a transport sent, as they left.
#[derive(Debug, Default)]
pub struct SendHistory {
    streams: FxHashMap<u32, Vec<Slot>>,
}

#[derive(Debug, Default)]
struct Slot {
    sequence: Option<u16>,
    sent_at: Option<Instant>,
    bytes: Vec<u8>,
}

impl SendHistory {
    /// Keeps `datagram` (an RTP packet of `ssrc` with `sequence`, as sent).
    pub fn store(&mut self, ssrc: u32, sequence: u16, datagram: &[u8], now: Instant) {
        let ring = self.streams.entry(ssrc).or_insert_with(|| (0..HISTORY_PACKETS).map(|_| Slot::default()).collect());
        let slot = &mut ring[usize::from(sequence) % HISTORY_PACKETS];
        slot.sequence = Some(sequence);
        slot.sent_at = Some(now);
        slot.bytes.clear();
        slot.bytes.extend_from_slice(datagram);
    }

    /// The packet of `ssrc` with `sequence`, if kept and still worth sending.
    pub fn get(&self, ssrc: u32, sequence: u16, now: Instant) -> Option<&[u8]> {
        let slot = &self.streams.get(&ssrc)?[usize::from(sequence) % HISTORY_PACKETS];
        let fresh = slot.sent_at.is_some_and(|sent| now.saturating_duration_since(sent) <= MAX_AGE);
        (slot.sequence == Some(sequence) && fresh).then_some(&slot.bytes[..])
    }

    /// Forgets a stream (its sender left).
    pub fn remove(&mut self, ssrc: u32) {
        self.streams.remove(&ssrc);
    }
}

/// What is missing of the streams a transport receives, and when to ask.
#[derive(Debug, Default)]
pub struct NackGenerator {
    streams: FxHashMap<u32, Gaps>,
}

#[derive(Debug, Default)]
struct Gaps {
    extender: SequenceExtender,
    highest: Option<u64>,
    /// Extended sequence number → (when it was found missing, NACKs sent, the last one's instant).
    missing: BTreeMap<u64, Missing>,
}

#[derive(Debug, Clone, Copy)]
struct Missing {
    since: Instant,
    nacks: u8,
    last: Option<Instant>,
}

/// What [`NackGenerator::on_packet`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// In order, or the first.
    New,
    /// One that was missing: a retransmission (or a late one).
    Repaired,
    /// Older than what is missing, or a duplicate.
    Late,
}

impl NackGenerator {
    /// A packet of `ssrc` with `sequence` arrived.
    pub fn on_packet(&mut self, ssrc: u32, sequence: u16, now: Instant) -> Arrival {
        let gaps = self.streams.entry(ssrc).or_default();
        let extended = gaps.extender.extend(sequence);
        let Some(highest) = gaps.highest else {
            gaps.highest = Some(extended);
            return Arrival::New;
        };
        if extended > highest {
            if extended - highest > MAX_GAP {
                gaps.missing.clear();
            } else {
                for lost in highest + 1..extended {
                    gaps.missing.insert(lost, Missing { since: now, nacks: 0, last: None });
                }
            }
            gaps.highest = Some(extended);
            return Arrival::New;
        }
        if gaps.missing.remove(&extended).is_some() {
            Arrival::Repaired
        } else {
            Arrival::Late
        }
    }

    /// The NACKs due now, per SSRC (sequence numbers, oldest first); what
    /// was asked for too often or too long ago is given up.
    pub fn poll(&mut self, now: Instant) -> Vec<(u32, Vec<u16>)> {
        let mut due = Vec::new();
        for (&ssrc, gaps) in &mut self.streams {
            gaps.missing.retain(|_, missing| missing.nacks < MAX_NACKS && now.saturating_duration_since(missing.since) <= MAX_AGE);
            let mut lost = Vec::new();
            for (&extended, missing) in &mut gaps.missing {
                if is_due(missing, now) {
                    missing.nacks += 1;
                    missing.last = Some(now);
                    lost.push(extended as u16);
                }
            }
            if !lost.is_empty() {
                due.push((ssrc, lost));
            }
        }
        due.sort_unstable_by_key(|(ssrc, _)| *ssrc);
        due
    }

    /// When the next NACK (or giving one up) is due.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.streams.values().flat_map(|gaps| gaps.missing.values()).map(next_due).min()
    }

    /// Packets still missing, over every stream.
    pub fn missing(&self) -> usize {
        self.streams.values().map(|gaps| gaps.missing.len()).sum()
    }

    /// Forgets a stream (its receiver left).
    pub fn remove(&mut self, ssrc: u32) {
        self.streams.remove(&ssrc);
    }
}

fn next_due(missing: &Missing) -> Instant {
    match missing.last {
        None => missing.since + REORDER_WAIT,
        Some(last) => last + NACK_INTERVAL,
    }
}

fn is_due(missing: &Missing, now: Instant) -> bool {
    next_due(missing) <= now
}

#[cfg(test)]
#[path = "retransmission_tests.rs"]
mod tests;
