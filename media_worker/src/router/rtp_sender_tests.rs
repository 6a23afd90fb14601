//! Unit tests of `rtp_sender.rs`.

use super::*;
use std::time::Duration;
use crate::rtp::codec_table::SendTables;
use crate::rtp::capabilities::{room_rtp_capabilities, RtpCapabilities};
use crate::rtp::parameters::parse_receive_parameters;
use crate::router::layer_selector::LayerActivity;

/// A single stream of VP8, as a sender sees it.
fn single(activity: &LayerActivity) -> StreamShape<'_> {
    StreamShape { encodings: 1, keyframes_known: true, svc: false, activity }
}

/// The sender's decision for a packet of a delta frame (or a `keyframe`).
fn send(sender: &mut RtpSender, packet: &IncomingRtp, keyframe: bool) -> (Option<OutgoingRtp>, bool) {
    let activity = LayerActivity::default();
    let frame = FrameInfo { keyframe, ..FrameInfo::default() };
    sender.rewrite(packet, &frame, 0, single(&activity))
}

fn receiver(kind: MediaKind, parameters: Value) -> RtpReceiver {
    let room = room_rtp_capabilities(None).unwrap();
    let parsed = parse_receive_parameters(&parameters, kind, &room).unwrap();
    RtpReceiver::new("r".into(), "alice".into(), ("t".into(), 1), kind, parsed, "0".into())
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

fn identity() -> SenderIdentity {
    SenderIdentity { id: "s".into(), peer_id: "bob".into(), mid: "s0".into(), ssrcs: (5, 6), every_layer: None }
}

fn vp8_sender(room: &RtpCapabilities) -> RtpSender {
    let caps = capabilities(&[("video/VP8", 90000)]);
    RtpSender::new(identity(), &video_receiver(), room, &caps, &SendTables::new(room, Some(&caps))).unwrap()
}

/// A sender for a subscriber with `caps`, on a transport made for them.
fn sender_for(room: &RtpCapabilities, caps: &Value) -> Result<RtpSender, WorkerError> {
    RtpSender::new(identity(), &video_receiver(), room, caps, &SendTables::new(room, Some(caps)))
}

const MS: Duration = Duration::from_millis(1);

/// A packet of SSRC 1111 (or `ssrc`) with extended `sequence_number`.
fn packet(ssrc: u32, sequence_number: u64, timestamp: u32, arrival: Instant) -> IncomingRtp {
    IncomingRtp { ssrc, sequence_number, timestamp, marker: false, payload_len: 1_000, arrival, audio_level: None }
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
fn consumer_parameters_use_the_rooms_payload_types_for_room_capabilities_and_fresh_ssrcs() {
    let room = room_rtp_capabilities(None).unwrap();
    let vp8 = room.codecs.iter().find(|c| c.mime_type == "video/VP8").unwrap();
    // What a mediasoup client's device reports: the room's own capabilities.
    let caps = serde_json::to_value(&room).unwrap();
    let sender = sender_for(&room, &caps).unwrap();
    assert_eq!(sender.parameters["mid"], json!("s0"));
    assert_eq!(sender.parameters["codecs"][0]["payloadType"], json!(vp8.preferred_payload_type));
    assert_eq!(sender.payload_type, vp8.preferred_payload_type);
    assert_eq!(sender.parameters["codecs"][1]["mimeType"], json!("video/rtx"));
    assert_eq!(sender.parameters["codecs"][1]["parameters"]["apt"], json!(vp8.preferred_payload_type));
    assert_eq!(sender.parameters["encodings"], json!([{"ssrc": 5, "rtx": {"ssrc": 6}}]));
    assert_eq!(sender.parameters["rtcp"]["cname"], json!("alice-cname"));
    // Without RTX in the subscriber's capabilities: no RTX, and nothing nackable.
    let no_rtx = sender_for(&room, &capabilities(&[("video/VP8", 90000)])).unwrap();
    assert_eq!(no_rtx.parameters["codecs"].as_array().unwrap().len(), 1);
    assert_eq!(no_rtx.rtx_ssrc, None);
}

#[test]
fn an_sdp_endpoint_gets_its_own_payload_types() {
    let room = room_rtp_capabilities(None).unwrap();
    // Chromium's: VP8 96 + RTX 97; H264 in two packetization modes; opus 111.
    let caps = json!({"codecs": [
        {"kind": "video", "mimeType": "video/VP8", "preferredPayloadType": 96, "clockRate": 90000, "parameters": {}},
        {"kind": "video", "mimeType": "video/rtx", "preferredPayloadType": 97, "clockRate": 90000, "parameters": {"apt": 96}},
        {"kind": "video", "mimeType": "video/H264", "preferredPayloadType": 103, "clockRate": 90000,
         "parameters": {"packetization-mode": 0, "profile-level-id": "42e01f"}},
        {"kind": "video", "mimeType": "video/H264", "preferredPayloadType": 105, "clockRate": 90000,
         "parameters": {"packetization-mode": 1, "profile-level-id": "42001f"}},
        {"kind": "video", "mimeType": "video/H264", "preferredPayloadType": 107, "clockRate": 90000,
         "parameters": {"packetization-mode": 1, "profile-level-id": "42e01f"}},
        {"kind": "audio", "mimeType": "audio/opus", "preferredPayloadType": 111, "clockRate": 48000, "channels": 2, "parameters": {}},
    ]});
    let sender = sender_for(&room, &caps).unwrap();
    assert_eq!(sender.payload_type, 96);
    assert_eq!(sender.parameters["codecs"][0]["payloadType"], json!(96));
    assert_eq!(sender.parameters["codecs"][1]["payloadType"], json!(97));
    assert_eq!(sender.parameters["codecs"][1]["parameters"]["apt"], json!(96));
    assert_eq!(sender.rtx_ssrc, Some(6));
    // H264: the packetization mode must match, the same profile-level-id is preferred.
    let tables = SendTables::new(&room, Some(&caps));
    let h264 = |mode: u64, profile: &str| {
        let mut codec = room.codecs.iter().find(|c| c.mime_type == "video/VP8").unwrap().clone();
        codec.mime_type = "video/H264".into();
        codec.parameters = json!({"packetization-mode": mode, "profile-level-id": profile}).as_object().unwrap().clone();
        tables.payload_types_of(&codec).map(|(pt, _)| pt)
    };
    assert_eq!(h264(1, "42e01f"), Some(107));
    assert_eq!(h264(1, "42001f"), Some(105));
    assert_eq!(h264(0, "42e01f"), Some(103));
    assert_eq!(h264(1, "640032"), Some(105), "another profile: the first of the same mode");
}

#[test]
fn consumer_header_extensions_are_the_subscribers_ids_for_what_it_supports() {
    let room = room_rtp_capabilities(None).unwrap();
    let mut caps = capabilities(&[("video/VP8", 90000)]);
    caps["headerExtensions"] = json!([
        {"kind": "video", "uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "preferredId": 9},
        {"kind": "video", "uri": "urn:3gpp:video-orientation", "preferredId": 11},
        {"kind": "video", "uri": "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", "preferredId": 2},
        {"kind": "audio", "uri": "urn:ietf:params:rtp-hdrext:ssrc-audio-level", "preferredId": 10},
        {"uri": "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", "preferredId": 4},
    ]);
    let sender = sender_for(&room, &caps).unwrap();
    let extensions: Vec<(String, u64)> = sender.parameters["headerExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ext| (ext["uri"].as_str().unwrap().to_owned(), ext["id"].as_u64().unwrap()))
        .collect();
    // rid never reaches a subscriber, audio level is audio's, the rest at the subscriber's ids.
    assert_eq!(
        extensions,
        [
            ("urn:ietf:params:rtp-hdrext:sdes:mid".to_owned(), 9),
            ("http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time".to_owned(), 4),
            ("urn:3gpp:video-orientation".to_owned(), 11),
        ]
    );
    // On a transport with other ids (created before the capabilities were
    // set), the parameters follow the transport's.
    let mut sender = sender;
    let other = SendTables { extensions: ExtensionMap::standard(), ..SendTables::new(&room, Some(&caps)) };
    assert!(sender.adopt(&room, &caps, &other).unwrap());
    assert_eq!(sender.parameters["headerExtensions"][0], json!({"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 4, "encrypt": false, "parameters": {}}));
    assert!(!sender.adopt(&room, &caps, &other).unwrap());
}

#[test]
fn sequence_numbers_start_at_one_and_keep_gaps_order_and_wrap_around() {
    let room = room_rtp_capabilities(None).unwrap();
    let mut sender = vp8_sender(&room);
    let now = Instant::now();
    // Extended numbers across the 16-bit wrap: 65534, 65535, 65536 (= 0 on the wire), a gap, a late one.
    let incoming = [65_534u64, 65_535, 65_536, 65_539, 65_537];
    let outgoing: Vec<u64> = incoming.iter().map(|seq| send(&mut sender, &packet(1111, *seq, 0, now), false).0.unwrap().sequence_number).collect();
    assert_eq!(outgoing, [1, 2, 3, 6, 4]);
    // Older than the first forwarded packet: its number is taken, it is dropped.
    assert_eq!(send(&mut sender, &packet(1111, 65_500, 0, now), false).0, None);
    assert_eq!(sender.packets_sent, 5);
}

#[test]
fn a_pause_leaves_no_gap_in_the_sequence_numbers() {
    let room = room_rtp_capabilities(None).unwrap();
    let mut sender = vp8_sender(&room);
    let now = Instant::now();
    let number = |sender: &mut RtpSender, seq: u64| send(sender, &packet(1111, seq, 0, now), false).0.unwrap().sequence_number;
    assert_eq!([10u64, 11, 12].map(|seq| number(&mut sender, seq)), [1, 2, 3]);
    sender.pause();
    // 13..=99 are not forwarded while paused; on resume the numbers go on.
    sender.resume();
    assert_eq!([100u64, 101, 103].map(|seq| number(&mut sender, seq)), [4, 5, 7]);
}

#[test]
fn timestamps_pass_through_and_wrap_around() {
    let room = room_rtp_capabilities(None).unwrap();
    let mut sender = vp8_sender(&room);
    let start = Instant::now();
    let first = u32::MAX - 3_000;
    for index in 0..4u32 {
        let timestamp = first.wrapping_add(index * 3_000);
        let rtp = send(&mut sender, &packet(1111, 1 + u64::from(index), timestamp, start + index * 33 * MS), false).0.unwrap();
        assert_eq!((rtp.ssrc, rtp.payload_type, rtp.timestamp), (5, sender.payload_type, timestamp));
    }
}

#[test]
fn a_new_source_continues_the_numbers_and_the_clock() {
    let room = room_rtp_capabilities(None).unwrap();
    let mut sender = vp8_sender(&room);
    let start = Instant::now();
    // Source A: 30 fps for one second.
    for index in 0..30u32 {
        let (rtp, switched) = send(&mut sender, &packet(1111, 500 + u64::from(index), 1_000_000 + index * 3_000, start + index * 33 * MS), false);
        assert!(!switched);
        assert!(rtp.is_some());
    }
    let last = send(&mut sender, &packet(1111, 530, 1_090_000, start + 990 * MS), false).0.unwrap();
    // Another SSRC of the stream while A is alive is not forwarded.
    assert_eq!(send(&mut sender, &packet(3333, 7, 5, start + 1_000 * MS), true), (None, false));
    // A falls silent (the publisher restarted its encoder); B (own numbers,
    // own clock near the 32-bit wrap) takes over 1.5 s later, at a keyframe.
    let at = start + 2_490 * MS;
    assert_eq!(send(&mut sender, &packet(3333, 8_999, u32::MAX - 3_010, at - 33 * MS), false), (None, false));
    let (first_b, switched) = send(&mut sender, &packet(3333, 9_000, u32::MAX - 10, at), true);
    assert!(!switched, "it starts at a keyframe: none is asked for");
    let first_b = first_b.unwrap();
    assert_eq!(first_b.sequence_number, last.sequence_number + 1);
    // 1.5 s at 90 kHz after the last timestamp sent.
    assert_eq!(first_b.timestamp, last.timestamp.wrapping_add(135_000));
    // B's next frame is 3000 ticks later, across its own wrap.
    let next_b = send(&mut sender, &packet(3333, 9_001, (u32::MAX - 10).wrapping_add(3_000), at + 33 * MS), false).0.unwrap();
    assert_eq!(next_b.sequence_number, first_b.sequence_number + 1);
    assert_eq!(next_b.timestamp, first_b.timestamp.wrapping_add(3_000));
    // A comes back: B is alive, A is not forwarded.
    assert_eq!(send(&mut sender, &packet(1111, 531, 1_093_000, at + 40 * MS), true), (None, false));
}

#[test]
fn the_score_falls_with_the_loss_reported_and_with_each_layer_below_the_best() {
    // (fraction lost, layer forwarded, best layer at its preference) → score.
    let cases = [
        (None, Some(2), Some(2), 10),
        (Some(0.01), Some(0), Some(0), 10),
        (Some(0.05), Some(0), Some(0), 8),
        (Some(0.1), Some(1), Some(1), 7),
        (Some(0.2), Some(0), Some(0), 4),
        (Some(1.0), Some(0), Some(0), 0),
        (None, Some(1), Some(2), 8),
        (None, Some(0), Some(2), 6),
        (Some(0.2), Some(0), Some(2), 0),
        // Forwarding above the best (moving down at the next keyframe): no gap.
        (None, Some(2), Some(1), 10),
        // Nothing forwarded yet.
        (None, None, Some(0), 0),
        // Out of range values are bounded.
        (Some(-3.0), Some(0), None, 10),
        (Some(f32::NAN), Some(0), None, 10),
    ];
    for (loss, current, best, expected) in cases {
        assert_eq!(score(loss, current, best), expected, "{loss:?} {current:?} {best:?}");
    }
}
