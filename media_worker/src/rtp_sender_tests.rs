//! Unit tests of `rtp_sender.rs`.

use super::*;
use crate::rtp_capabilities::room_rtp_capabilities;
use crate::rtp_parameters::parse_receive_parameters;

fn receiver(kind: MediaKind, parameters: Value) -> RtpReceiver {
    let room = room_rtp_capabilities(None).unwrap();
    let parsed = parse_receive_parameters(&parameters, kind, &room).unwrap();
    RtpReceiver::new("r".into(), "alice".into(), "t".into(), kind, parsed, "0".into())
}

fn video_receiver() -> RtpReceiver {
    receiver(
        MediaKind::Video,
        json!({
            "codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000},
                       {"mimeType": "video/rtx", "payloadType": 97, "clockRate": 90000, "parameters": {"apt": 96}}],
            "encodings": [{"ssrc": 1111, "rtx": {"ssrc": 2222}}],
            "rtcp": {"cname": "alice-cname"},
        }),
    )
}

fn capabilities(mime_types: &[(&str, u32)]) -> Value {
    let codecs: Vec<Value> = mime_types
        .iter()
        .enumerate()
        .map(|(index, (mime, clock))| json!({"mimeType": mime, "clockRate": clock, "preferredPayloadType": 100 + index}))
        .collect();
    json!({"codecs": codecs})
}

#[test]
fn consumer_parameters_use_the_rooms_payload_types_and_fresh_ssrcs() {
    let room = room_rtp_capabilities(None).unwrap();
    let vp8 = room.codecs.iter().find(|c| c.mime_type == "video/VP8").unwrap();
    let caps = capabilities(&[("video/VP8", 90000), ("video/rtx", 90000)]);
    let sender = RtpSender::new("s".into(), "bob".into(), &video_receiver(), &room, &caps, (5, 6)).unwrap();
    assert_eq!(sender.parameters["codecs"][0]["payloadType"], json!(vp8.preferred_payload_type));
    assert_eq!(sender.parameters["codecs"][1]["mimeType"], json!("video/rtx"));
    assert_eq!(sender.parameters["codecs"][1]["parameters"]["apt"], json!(vp8.preferred_payload_type));
    assert_eq!(sender.parameters["encodings"], json!([{"ssrc": 5, "rtx": {"ssrc": 6}}]));
    assert_eq!(sender.parameters["rtcp"]["cname"], json!("alice-cname"));
    // Without RTX in the subscriber's capabilities: no RTX, and nothing nackable.
    let no_rtx = RtpSender::new("s".into(), "bob".into(), &video_receiver(), &room, &capabilities(&[("video/VP8", 90000)]), (5, 6)).unwrap();
    assert_eq!(no_rtx.parameters["codecs"].as_array().unwrap().len(), 1);
    assert_eq!(no_rtx.rtx_ssrc, None);
}

#[test]
fn a_peer_that_cannot_decode_gets_no_sender() {
    let room = room_rtp_capabilities(None).unwrap();
    let err = RtpSender::new("s".into(), "bob".into(), &video_receiver(), &room, &capabilities(&[("video/H264", 90000)]), (5, 6)).unwrap_err();
    assert_eq!(err.kind, crate::error::ErrorKind::UnsupportedError);
    assert!(err.message.contains("cannot decode video/VP8"), "{err}");
}

#[test]
fn sequence_numbers_start_at_one_and_keep_gaps_order_and_wrap_around() {
    let room = room_rtp_capabilities(None).unwrap();
    let caps = capabilities(&[("video/VP8", 90000)]);
    let mut sender = RtpSender::new("s".into(), "bob".into(), &video_receiver(), &room, &caps, (5, 6)).unwrap();
    // Extended numbers across the 16-bit wrap: 65534, 65535, 65536 (= 0 on the wire), a gap, a late one.
    let incoming = [65_534u64, 65_535, 65_536, 65_539, 65_537];
    let outgoing: Vec<u64> = incoming.iter().map(|seq| sender.outgoing_sequence(*seq)).collect();
    assert_eq!(outgoing, [1, 2, 3, 6, 4]);
    // Older than the first forwarded packet: never before 1.
    assert_eq!(sender.outgoing_sequence(65_500), 1);
}

#[test]
fn a_pause_leaves_no_gap_in_the_sequence_numbers() {
    let room = room_rtp_capabilities(None).unwrap();
    let caps = capabilities(&[("video/VP8", 90000)]);
    let mut sender = RtpSender::new("s".into(), "bob".into(), &video_receiver(), &room, &caps, (5, 6)).unwrap();
    assert_eq!([10u64, 11, 12].map(|seq| sender.outgoing_sequence(seq)), [1, 2, 3]);
    sender.pause();
    // 13..=99 are not forwarded while paused; on resume the numbers go on.
    sender.resume();
    assert_eq!([100u64, 101, 103].map(|seq| sender.outgoing_sequence(seq)), [4, 5, 7]);
}
