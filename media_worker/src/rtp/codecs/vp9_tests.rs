//! Unit tests of `vp9.rs`.

use super::*;

#[test]
fn a_keyframe_begins_at_the_base_spatial_layer_of_a_picture_not_predicted() {
    // I, B; a 15-bit picture id.
    assert!(inspect(&[0x88, 0x81, 0x02, 0x00]).keyframe);
    // P set: an inter-predicted picture.
    assert!(!inspect(&[0xc8, 0x81, 0x02, 0x00]).keyframe);
    // L: TID 2, U, SID 0; then TL0PICIDX (non-flexible).
    let info = inspect(&[0xe8, 0x81, 0x02, 0b0101_0000, 0x07]);
    assert_eq!((info.keyframe, info.temporal, info.layer_sync), (false, Some(2), true));
    // SID 1 of a key picture is not where a decoder starts.
    assert!(!inspect(&[0xa8, 0x81, 0x02, 0b0000_0010, 0x07]).keyframe);
    assert!(inspect(&[0xa8, 0x81, 0x02, 0b0000_0000, 0x07]).keyframe);
}

#[test]
fn truncated_payloads_say_nothing() {
    for payload in [&[][..], &[0x80], &[0x80, 0x81], &[0xa0]] {
        assert_eq!(inspect(payload), FrameInfo::default(), "{payload:?}");
    }
}
