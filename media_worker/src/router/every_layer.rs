//! How a pipe's sender forwards a stream: every encoding, each on an SSRC
//! of its own, and every temporal layer, so that the room at the pipe's
//! other end selects layers per subscriber as this one would (mediasoup's
//! PipeConsumer). Nothing is selected or skipped: each encoding keeps its
//! sequence numbers, timestamps and VP8 ids, renumbered only to stay
//! continuous when the publisher's SSRC for it changes.

use serde_json::{json, Value};

use super::rewriter::Rewriter;
use crate::rtp::codecs::FrameInfo;
use crate::rtp::packet::IncomingRtp;

/// One encoding as the pipe sends it.
#[derive(Debug, Clone)]
struct PipedEncoding {
    ssrc: u32,
    /// The publisher's SSRC it forwards now.
    source: Option<u32>,
    rewriter: Rewriter,
    packets: u64,
    bytes: u64,
}

/// A packet of one encoding as it leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipedPacket {
    pub ssrc: u32,
    pub sequence_number: u64,
    pub timestamp: u32,
    pub vp8_ids: Option<(u16, Option<u8>)>,
    /// The publisher's SSRC for the encoding changed (an encoder restarted)
    /// and this packet is no keyframe: the other end needs one.
    pub needs_keyframe: bool,
}

#[derive(Debug, Clone)]
pub struct EveryLayer {
    encodings: Vec<PipedEncoding>,
    /// The receiver's `encodings` (normalised).
    original: Value,
}

impl EveryLayer {
    /// One encoding per SSRC of `ssrcs`, in the order of the receiver's
    /// `original` encodings (its normalised parameters').
    pub fn new(ssrcs: &[u32], clock_rate: u32, original: Value) -> Self {
        let encodings = ssrcs
            .iter()
            .map(|&ssrc| PipedEncoding { ssrc, source: None, rewriter: Rewriter::new(clock_rate), packets: 0, bytes: 0 })
            .collect();
        Self { encodings, original }
    }

    /// The SSRCs it sends on, one per encoding.
    pub fn ssrcs(&self) -> impl Iterator<Item = u32> + '_ {
        self.encodings.iter().map(|encoding| encoding.ssrc)
    }

    /// The index of the encoding sent on `ssrc`.
    pub fn encoding_of(&self, ssrc: u32) -> Option<u8> {
        self.encodings.iter().position(|encoding| encoding.ssrc == ssrc).map(|index| index as u8)
    }

    /// How a packet of encoding `index` (its receiver's; past the last, the
    /// last) leaves: on that encoding's SSRC, numbered on from what it sent.
    pub fn rewrite(&mut self, index: u8, packet: &IncomingRtp, frame: &FrameInfo) -> Option<PipedPacket> {
        let last = self.encodings.len().checked_sub(1)?;
        let encoding = &mut self.encodings[usize::from(index).min(last)];
        let mut needs_keyframe = false;
        if encoding.source != Some(packet.ssrc) {
            // A first source, or one after a pause, is started with a keyframe asked for when the sender was placed or resumed.
            needs_keyframe = encoding.source.is_some() && !frame.keyframe;
            encoding.source = Some(packet.ssrc);
            encoding.rewriter.start_source(packet);
        }
        let (sequence_number, timestamp) = encoding.rewriter.rewrite(packet)?;
        let vp8_ids = frame.vp8.and_then(|ids| encoding.rewriter.rewrite_vp8(ids));
        encoding.packets += 1;
        encoding.bytes += packet.payload_len as u64;
        Some(PipedPacket { ssrc: encoding.ssrc, sequence_number, timestamp, vp8_ids, needs_keyframe })
    }

    /// What is skipped from now on (a pause) leaves no gap: each encoding
    /// goes on from the last numbers it sent.
    pub fn pause(&mut self) {
        for encoding in &mut self.encodings {
            encoding.source = None;
        }
    }

    /// The `encodings` of its `rtpParameters`: an SSRC each, with what the
    /// receiver's say of them besides their SSRC, rid and RTX (the
    /// scalability mode, the bitrate...).
    pub fn parameters(&self) -> Value {
        let encodings: Vec<Value> = self
            .encodings
            .iter()
            .enumerate()
            .map(|(index, encoding)| {
                let mut entry = self.original.get(index).and_then(Value::as_object).cloned().unwrap_or_default();
                for name in ["ssrc", "rid", "rtx"] {
                    entry.remove(name);
                }
                entry.insert("ssrc".into(), json!(encoding.ssrc));
                Value::Object(entry)
            })
            .collect();
        Value::Array(encodings)
    }

    /// `(ssrc, packets, payload bytes)` per encoding.
    pub fn counts(&self) -> impl Iterator<Item = (u32, u64, u64)> + '_ {
        self.encodings.iter().map(|encoding| (encoding.ssrc, encoding.packets, encoding.bytes))
    }
}

#[cfg(test)]
#[path = "every_layer_tests.rs"]
mod tests;
