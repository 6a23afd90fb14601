//! H.264 payloads (RFC 6184): a packet begins a keyframe where it carries
//! a sequence parameter set (which precedes an IDR picture) or the start of
//! an IDR slice, as a single NAL unit, inside a STAP-A aggregate, or as the
//! first fragment of an FU-A. H.264 without SVC has no layers to read.

use super::FrameInfo;

const IDR: u8 = 5;
const SPS: u8 = 7;
const STAP_A: u8 = 24;
const FU_A: u8 = 28;

fn starts_keyframe(nal_type: u8) -> bool {
    nal_type == IDR || nal_type == SPS
}

pub fn inspect(payload: &[u8]) -> FrameInfo {
    let Some(&first) = payload.first() else { return FrameInfo::default() };
    let keyframe = match first & 0x1f {
        STAP_A => {
            let mut offset = 1;
            let mut found = false;
            while let (Some(&high), Some(&low)) = (payload.get(offset), payload.get(offset + 1)) {
                let size = usize::from(u16::from_be_bytes([high, low]));
                let Some(&header) = payload.get(offset + 2).filter(|_| size > 0) else { break };
                if starts_keyframe(header & 0x1f) {
                    found = true;
                    break;
                }
                offset += 2 + size;
            }
            found
        }
        FU_A => payload.get(1).is_some_and(|fu| fu & 0x80 != 0 && starts_keyframe(fu & 0x1f)),
        nal_type => starts_keyframe(nal_type),
    };
    FrameInfo { keyframe, ..FrameInfo::default() }
}

#[cfg(test)]
#[path = "h264_tests.rs"]
mod tests;
