//! Unit tests of `stream_ids.rs`.

use crate::testing::Noise;
use super::*;
use serde_json::json;
use std::rc::Rc;

const CHROMIUM: StreamIdExtensions = StreamIdExtensions { mid: Some(4), rid: Some(10), repaired_rid: Some(11) };

/// An RTP header with `csrcs` CSRCs and the extension block `extensions`
/// (profile, then the elements, padded to 32 bits), then a payload.
fn packet(payload_type: u8, csrcs: usize, profile: u16, elements: &[u8]) -> Vec<u8> {
    let extension = !elements.is_empty();
    let mut bytes = vec![0x80 | if extension { 0x10 } else { 0 } | csrcs as u8, payload_type, 0, 1, 0, 0, 0, 9, 0x12, 0x34, 0x56, 0x78];
    bytes.extend(std::iter::repeat_n(0xcc, 4 * csrcs));
    if extension {
        let mut block = elements.to_vec();
        while block.len() % 4 != 0 {
            block.push(0);
        }
        bytes.extend_from_slice(&profile.to_be_bytes());
        bytes.extend_from_slice(&((block.len() / 4) as u16).to_be_bytes());
        bytes.extend(block);
    }
    bytes.extend_from_slice(b"encrypted payload");
    bytes
}

#[test]
fn the_ids_come_from_the_publisher_s_parameters() {
    let extensions = json!([
        {"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 4},
        {"uri": "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", "id": 10},
        {"uri": "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id", "id": 11},
        {"uri": "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", "id": 2},
    ]);
    assert_eq!(StreamIdExtensions::of_parameters(&extensions), CHROMIUM);
    assert_eq!(StreamIdExtensions::of_parameters(&json!(null)), StreamIdExtensions::default());
}

#[test]
fn one_byte_extensions_name_the_mid_and_rid_of_a_layer() {
    // abs-send-time (id 2, 3 bytes), padding, mid "1" (id 4), rid "r2" (id 10).
    let elements = [0x22, 1, 2, 3, 0, 0x40, b'1', 0xa1, b'r', b'2'];
    let ids = read_stream_ids(&packet(96, 0, 0xbede, &elements), CHROMIUM).unwrap();
    assert_eq!(ids, StreamIds { ssrc: 0x1234_5678, mid: Some("1".into()), rid: Some("r2".into()), repaired_rid: None });
}

#[test]
fn two_byte_extensions_and_csrcs_are_read_too() {
    let elements = [4, 1, b'0', 0, 11, 2, b'r', b'0'];
    let ids = read_stream_ids(&packet(97, 2, 0x1000, &elements), CHROMIUM).unwrap();
    assert_eq!(ids, StreamIds { ssrc: 0x1234_5678, mid: Some("0".into()), rid: None, repaired_rid: Some("r0".into()) });
}

#[test]
fn rtcp_and_broken_headers_name_nothing() {
    assert_eq!(read_stream_ids(&packet(72, 0, 0xbede, &[0x40, b'1']), CHROMIUM), None, "RTCP (PT 200 & 0x7f)");
    assert_eq!(read_stream_ids(&[0x80, 96, 0, 1], CHROMIUM), None, "shorter than a header");
    let mut truncated = packet(96, 0, 0xbede, &[0xa1, b'r', b'2']);
    truncated.truncate(14);
    assert_eq!(read_stream_ids(&truncated, CHROMIUM), None, "the extension block is cut");
    // An element longer than its block.
    let overlong = packet(96, 0, 0xbede, &[0xaf, b'r']);
    assert_eq!(read_stream_ids(&overlong, CHROMIUM), None);
    // No extension: only the SSRC.
    assert_eq!(read_stream_ids(&packet(96, 0, 0, &[]), CHROMIUM).unwrap().rid, None);
}

#[test]
fn any_bytes_are_read_without_a_panic() {
    let mut noise = Noise::new(0x9e37_79b9_7f4a_7c15);
    for length in 0..2000 {
        let bytes = noise.bytes(length % 80);
        let mut rtp = bytes.clone();
        if let Some(first) = rtp.first_mut() {
            *first = 0x90 | (*first & 0x0f);
        }
        let _ = read_stream_ids(&bytes, CHROMIUM);
        let _ = read_stream_ids(&rtp, CHROMIUM);
    }
}

#[test]
fn a_layer_s_ssrc_and_then_its_rtx_ssrc_are_learnt_once() {
    let mut layers = RidLayers::default();
    let receiver: Rc<str> = Rc::from("video");
    layers.add(receiver.clone(), "1", ["r0".to_owned(), "r1".to_owned()], CHROMIUM);
    let with_ssrc = |mut bytes: Vec<u8>, ssrc: u32| {
        bytes[8..12].copy_from_slice(&ssrc.to_be_bytes());
        bytes
    };
    // A repair before its layer is known teaches nothing.
    let repair = packet(97, 0, 0xbede, &[0x40, b'1', 0xb1, b'r', b'1']);
    assert_eq!(layers.learn(&with_ssrc(repair.clone(), 22)), None);
    let r1 = packet(96, 0, 0xbede, &[0x40, b'1', 0xa1, b'r', b'1']);
    let learnt = layers.learn(&with_ssrc(r1.clone(), 11)).unwrap();
    assert_eq!(learnt, LearntLayer { receiver: receiver.clone(), mid: "1".into(), rid: "r1".into(), ssrc: 11, rtx_ssrc: None, new_ssrc: 11 });
    assert_eq!(layers.learn(&with_ssrc(r1, 11)), None, "known already");
    let learnt = layers.learn(&with_ssrc(repair, 22)).unwrap();
    assert_eq!((learnt.ssrc, learnt.rtx_ssrc, learnt.new_ssrc), (11, Some(22), 22));
    // Another mid's packets are not this stream's.
    let other_mid = packet(96, 0, 0xbede, &[0x40, b'7', 0xa1, b'r', b'0']);
    assert_eq!(layers.learn(&with_ssrc(other_mid, 33)), None);
    assert!(layers.waiting());
    layers.remove("video");
    assert!(!layers.waiting());
}
