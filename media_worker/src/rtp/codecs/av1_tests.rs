//! Unit tests of `av1.rs`.

use super::*;

#[test]
fn a_keyframe_begins_a_coded_video_sequence() {
    assert!(inspect(&packet(true)).keyframe);
    assert!(!inspect(&packet(false)).keyframe);
    // Z and Y (an OBU continued from the last packet and into the next) without N.
    assert!(!inspect(&[0xd0, 0x00]).keyframe);
    assert_eq!(inspect(&[]), FrameInfo::default());
}
