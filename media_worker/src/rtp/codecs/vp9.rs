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
//! point for the temporal layer.

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
        Some((tid, switching_up, sid)) => (Some(tid), switching_up, sid),
        None => (None, false, 0),
    };
    let inter_predicted = first & 0x40 != 0;
    let begins_frame = first & 0x08 != 0;
    FrameInfo { keyframe: begins_frame && !inter_predicted && spatial == 0, temporal, layer_sync, vp8: None }
}

#[cfg(test)]
#[path = "vp9_tests.rs"]
mod tests;
