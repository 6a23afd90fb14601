//! The VP8 payload descriptor (RFC 7741 §4.2) and the start of the VP8
//! payload header (its keyframe bit):
//!
//! ```text
//!  |X|R|N|S|R| PID |   always
//!  |I|L|T|K| RSV   |   if X
//!  |M| PictureID   |   if I (a second byte if M: 15 bits)
//!  |   TL0PICIDX   |   if L
//!  |TID|Y| KEYIDX  |   if T or K
//! ```

use super::FrameInfo;

/// A frame's picture id (7 or 15 bits, as the publisher wrote it) and the
/// index of the latest base-layer frame (TL0PICIDX).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PictureIds {
    /// (value, whether it is 15 bits long).
    pub picture_id: Option<(u16, bool)>,
    pub tl0_pic_idx: Option<u8>,
}

/// Where the descriptor's fields are in a payload.
struct Layout {
    /// Offset of the picture id and whether it is 15 bits.
    picture_id: Option<(usize, bool)>,
    tl0_pic_idx: Option<usize>,
    /// Offset of the TID/Y/KEYIDX byte.
    tid: Option<usize>,
    /// Offset of the VP8 payload itself.
    header: usize,
}

fn layout(payload: &[u8]) -> Option<Layout> {
    let first = *payload.first()?;
    let mut offset = 1;
    let mut layout = Layout { picture_id: None, tl0_pic_idx: None, tid: None, header: 0 };
    if first & 0x80 != 0 {
        let extension = *payload.get(offset)?;
        offset += 1;
        if extension & 0x80 != 0 {
            let long = *payload.get(offset)? & 0x80 != 0;
            layout.picture_id = Some((offset, long));
            offset += if long { 2 } else { 1 };
        }
        if extension & 0x40 != 0 {
            layout.tl0_pic_idx = Some(offset);
            offset += 1;
        }
        if extension & 0x30 != 0 {
            // T names the TID; K alone carries only a KEYIDX.
            layout.tid = (extension & 0x20 != 0).then_some(offset);
            offset += 1;
        }
    }
    (offset < payload.len()).then_some(Layout { header: offset, ..layout })
}

/// What a VP8 payload says: a keyframe where it starts partition 0 of a
/// frame whose header's P bit is 0.
pub fn inspect(payload: &[u8]) -> FrameInfo {
    let Some(layout) = layout(payload) else { return FrameInfo::default() };
    let first = payload[0];
    let starts_frame = first & 0x10 != 0 && first & 0x07 == 0;
    let keyframe = starts_frame && payload[layout.header] & 0x01 == 0;
    let tid_byte = layout.tid.map(|offset| payload[offset]);
    let picture_id = layout.picture_id.map(|(offset, long)| {
        let value = if long { u16::from(payload[offset] & 0x7f) << 8 | u16::from(payload[offset + 1]) } else { u16::from(payload[offset] & 0x7f) };
        (value, long)
    });
    FrameInfo {
        keyframe,
        temporal: tid_byte.map(|byte| byte >> 6),
        layer_sync: tid_byte.is_some_and(|byte| byte & 0x20 != 0),
        vp8: Some(PictureIds { picture_id, tl0_pic_idx: layout.tl0_pic_idx.map(|offset| payload[offset]) }),
        ..FrameInfo::default()
    }
}

/// Writes a picture id (at the width the payload has: the value is taken
/// modulo 2^7 or 2^15) and a TL0PICIDX into a payload's descriptor, where
/// it has those fields. False if the payload is not a VP8 one.
pub fn write_ids(payload: &mut [u8], picture_id: u16, tl0_pic_idx: Option<u8>) -> bool {
    let Some(layout) = layout(payload) else { return false };
    if let Some((offset, long)) = layout.picture_id {
        if long {
            payload[offset] = 0x80 | ((picture_id >> 8) as u8 & 0x7f);
            payload[offset + 1] = picture_id as u8;
        } else {
            payload[offset] = picture_id as u8 & 0x7f;
        }
    }
    if let (Some(offset), Some(value)) = (layout.tl0_pic_idx, tl0_pic_idx) {
        payload[offset] = value;
    }
    true
}

/// A VP8 packet as a publisher with 15-bit picture ids and temporal
/// layers writes it (for tests): the start of a frame or a later packet of
/// it, a keyframe or not, with `tid` and its layer sync bit.
#[cfg(test)]
pub(crate) fn packet(starts_frame: bool, keyframe: bool, picture_id: u16, tl0_pic_idx: u8, tid: u8, layer_sync: bool) -> Vec<u8> {
    let first = 0x80 | if starts_frame { 0x10 } else { 0 };
    let tid_byte = tid << 6 | if layer_sync { 0x20 } else { 0 };
    let header = if keyframe { 0x00 } else { 0x01 };
    vec![first, 0xe0, 0x80 | (picture_id >> 8) as u8 & 0x7f, picture_id as u8, tl0_pic_idx, tid_byte, header, 0, 0, 0x9d]
}

#[cfg(test)]
#[path = "vp8_tests.rs"]
mod tests;
