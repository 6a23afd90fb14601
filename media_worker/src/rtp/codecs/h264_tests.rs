//! Unit tests of `h264.rs`: packetisations as Chromium writes them.

use super::*;

#[test]
fn sps_and_idr_begin_keyframes_in_single_nal_units_aggregates_and_first_fragments() {
    assert!(inspect(&[0x67, 0x42, 0xe0]).keyframe); // SPS
    assert!(inspect(&[0x65, 0x88]).keyframe); // IDR slice
    assert!(!inspect(&[0x41, 0x9a]).keyframe); // non-IDR slice
    assert!(!inspect(&[0x68, 0xce]).keyframe); // PPS alone
    // STAP-A: an SEI (2 bytes), then an SPS.
    assert!(inspect(&[0x78, 0x00, 0x02, 0x06, 0x05, 0x00, 0x03, 0x67, 0x42, 0xe0]).keyframe);
    assert!(!inspect(&[0x78, 0x00, 0x02, 0x06, 0x05, 0x00, 0x02, 0x68, 0xce]).keyframe);
    // FU-A of an IDR slice: the first fragment begins it, the others do not.
    assert!(inspect(&[0x7c, 0x85, 0x88]).keyframe);
    assert!(!inspect(&[0x7c, 0x05, 0x88]).keyframe);
    assert!(!inspect(&[0x7c, 0x81, 0x9a]).keyframe);
}

#[test]
fn truncated_payloads_begin_nothing() {
    for payload in [&[][..], &[0x78], &[0x78, 0x00], &[0x78, 0x00, 0x05], &[0x78, 0x00, 0x00, 0x67], &[0x7c]] {
        assert!(!inspect(payload).keyframe, "{payload:?}");
    }
}
