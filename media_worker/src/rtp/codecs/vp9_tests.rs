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

#[test]
fn the_spatial_layer_and_the_end_of_its_frame_are_read() {
    // P, L, E: TID 1, SID 2.
    let info = inspect(&[0xe4, 0x81, 0x02, 0b0010_0100, 0x07]);
    assert_eq!((info.spatial, info.temporal, info.ends_layer_frame, info.keyframe), (Some(2), Some(1), true, false));
    // No layer indices: no spatial layer named.
    assert_eq!(inspect(&[0x88, 0x81, 0x02]).spatial, None);
    // The test builder writes what is read.
    let built = inspect(&packet(300, true, 1, 0, false, true, false));
    assert_eq!((built.spatial, built.keyframe, built.ends_layer_frame), (Some(1), false, false));
    assert!(inspect(&packet(300, true, 0, 0, false, true, true)).keyframe);
}
