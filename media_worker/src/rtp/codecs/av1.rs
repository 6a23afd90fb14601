//! The AV1 payload's aggregation header (AV1 RTP specification §4.4):
//!
//! ```text
//!  |Z|Y| W |N|-|-|-|
//! ```
//!
//! N is set on the first packet of a coded video sequence: a keyframe, where
//! a decoder can start. Layers are not read here: the OBU headers that name
//! them are not in every packet; the dependency descriptor names them
//! ([`super::dependency_descriptor`]).

use super::FrameInfo;

pub fn inspect(payload: &[u8]) -> FrameInfo {
    FrameInfo { keyframe: payload.first().is_some_and(|header| header & 0x08 != 0), ..FrameInfo::default() }
}

/// An AV1 payload for tests: its aggregation header (N if `keyframe`) and a few bytes.
#[cfg(test)]
pub fn packet(keyframe: bool) -> Vec<u8> {
    vec![if keyframe { 0x18 } else { 0x10 }, 0x0a, 0x0b, 0x0c]
}

#[cfg(test)]
#[path = "av1_tests.rs"]
mod tests;
