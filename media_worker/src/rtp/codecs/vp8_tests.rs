//! Unit tests of `vp8.rs`: descriptors as Chromium and aiortc write them.

use super::*;

#[test]
fn a_keyframe_begins_where_partition_zero_starts_with_the_p_bit_clear() {
    let info = inspect(&packet(true, true, 300, 7, 0, true));
    assert!(info.keyframe);
    assert_eq!((info.temporal, info.layer_sync), (Some(0), true));
    assert_eq!(info.vp8, Some(PictureIds { picture_id: Some((300, true)), tl0_pic_idx: Some(7) }));
    // A delta frame, and the second packet of a keyframe, begin none.
    assert!(!inspect(&packet(true, false, 301, 7, 2, false)).keyframe);
    assert!(!inspect(&packet(false, true, 300, 7, 0, false)).keyframe);
    assert_eq!(inspect(&packet(true, false, 301, 7, 2, false)).temporal, Some(2));
}

#[test]
fn aiortc_descriptors_with_a_7_bit_picture_id_and_no_layers_are_read() {
    // X, S; I; M clear: a 7-bit picture id; then the payload header of a keyframe.
    let payload = [0x90, 0x80, 0x05, 0x10, 0x02, 0x00, 0x9d];
    let info = inspect(&payload);
    assert!(info.keyframe);
    assert_eq!(info.temporal, None);
    assert_eq!(info.vp8, Some(PictureIds { picture_id: Some((5, false)), tl0_pic_idx: None }));
    // The minimal descriptor: one byte, S set, partition 0.
    assert!(inspect(&[0x10, 0x00, 0x00]).keyframe);
    assert!(!inspect(&[0x10, 0x01, 0x00]).keyframe);
}

#[test]
fn short_or_truncated_payloads_say_nothing() {
    for payload in [&[][..], &[0x80], &[0x80, 0x80], &[0x80, 0x80, 0x85], &[0x90, 0xe0, 0x80, 0x01, 0x02, 0x03]] {
        assert_eq!(inspect(payload), FrameInfo::default(), "{payload:?}");
        assert!(!write_ids(&mut payload.to_vec(), 1, Some(1)));
    }
}

#[test]
fn ids_are_written_at_the_width_the_publisher_used() {
    let mut long = packet(true, false, 300, 7, 1, false);
    assert!(write_ids(&mut long, 0x1234, Some(200)));
    assert_eq!(inspect(&long).vp8, Some(PictureIds { picture_id: Some((0x1234, true)), tl0_pic_idx: Some(200) }));
    // Only the ids change.
    let mut expected = packet(true, false, 0x1234, 200, 1, false);
    expected[2] |= 0x80;
    assert_eq!(long, expected);
    // 15 bits wrap; a 7-bit id keeps 7 bits.
    assert!(write_ids(&mut long, 0x8001, None));
    assert_eq!(inspect(&long).vp8.unwrap().picture_id, Some((1, true)));
    let mut short = vec![0x90, 0x80, 0x05, 0x10, 0x02, 0x00, 0x9d];
    assert!(write_ids(&mut short, 130, Some(9)));
    assert_eq!(short, [0x90, 0x80, 0x02, 0x10, 0x02, 0x00, 0x9d]);
}
