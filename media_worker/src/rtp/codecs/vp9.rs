//! The VP9 payload descriptor (RFC 9628 §4.2), as far as layers go:
//!
//! ```text
//!  |I|P|L|F|B|E|V|Z|        always
//!  |M| PICTURE ID  |        if I (a second byte if M)
//!  |TID|U| SID |D  |        if L
//!  |   TL0PICIDX   |        if L and not F (non-flexible mode)
//! ```
//!
//! A keyframe begins where the base spatial layer's frame begins (B) and is
//! not predicted from an earlier picture (not P); U marks a switching-up
//! point for the temporal layer. With SVC one stream carries every spatial
//! layer: the frames of one picture (one timestamp) follow each other, SID
//! 0 first, each from a packet with B to one with E; the marker bit ends
//! the picture.

use super::FrameInfo;

pub fn inspect(payload: &[u8]) -> FrameInfo {
    let Some(&first) = payload.first() else { return FrameInfo::default() };
    let mut offset = 1;
    if first & 0x80 != 0 {
        let Some(&picture) = payload.get(offset) else { return FrameInfo::default() };
        offset += if picture & 0x80 != 0 { 2 } else { 1 };
    }
    let layers = if first & 0x20 != 0 {
        let Some(&byte) = payload.get(offset) else { return FrameInfo::default() };
        Some((byte >> 5, byte & 0x10 != 0, (byte >> 1) & 0x07))
    } else {
        None
    };
    let (temporal, layer_sync, spatial) = match layers {
        Some((tid, switching_up, sid)) => (Some(tid), switching_up, Some(sid)),
        None => (None, false, None),
    };
    let inter_predicted = first & 0x40 != 0;
    let begins_frame = first & 0x08 != 0;
    FrameInfo {
        keyframe: begins_frame && !inter_predicted && spatial.unwrap_or(0) == 0,
        temporal,
        layer_sync,
        spatial,
        ends_layer_frame: first & 0x04 != 0,
        vp8: None,
    }
}

/// A VP9 payload (non-flexible mode, 15-bit picture id, layer indices),
/// for tests: a packet of spatial layer `sid`, temporal layer `tid`, its
/// frame's first (B) and last (E) packets marked.
#[cfg(test)]
pub fn packet(picture_id: u16, key: bool, sid: u8, tid: u8, switching_up: bool, begins: bool, ends: bool) -> Vec<u8> {
    let mut first = 0xa0; // I, L
    if !key {
        first |= 0x40;
    }
    if begins {
        first |= 0x08;
    }
    if ends {
        first |= 0x04;
    }
    let [high, low] = (picture_id | 0x8000).to_be_bytes();
    let layer = (tid << 5) | (u8::from(switching_up) << 4) | (sid << 1) | u8::from(key && sid > 0);
    vec![first, high, low, layer, 0x00, 0xaa, 0xbb]
}

#[cfg(test)]
#[path = "vp9_tests.rs"]
mod tests;
