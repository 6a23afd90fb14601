//! The streams of a transport without str0m: AV1's dependency descriptor
//! read from a received packet (in the two-byte form when it is long) and
//! written into the forwarded one, where it is forwarded (AV1, one encoding);
//! the audio level read in the same pass.

use std::time::Instant;

use serde_json::json;

use super::RtpStreams;
use crate::rtp::capabilities::{room_rtp_capabilities, MediaKind};
use crate::rtp::codec_table::SendTables;
use crate::rtp::codecs::dependency_descriptor;
use crate::rtp::packet::{OutgoingRtp, ReadableExtensions};
use crate::rtp::parameters::parse_receive_parameters;
use crate::rtp::stream_ids::for_each_extension;
use crate::rtp::wire::{write_rtp, RtpFields};

const AUDIO_LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

fn packet(ssrc: u32, extensions: &[(u8, &[u8])]) -> Vec<u8> {
    let fields = RtpFields { ssrc, payload_type: 96, sequence_number: 9, timestamp: 3_000, marker: true, payload: 0..0 };
    let mut packet = Vec::new();
    write_rtp(&fields, extensions, b"frame", &mut packet);
    packet
}

fn streams() -> (RtpStreams, crate::rtp::capabilities::RtpCapabilities) {
    let room = room_rtp_capabilities(None).unwrap();
    let tables = SendTables::new(&room, Some(&serde_json::to_value(&room).unwrap()));
    (RtpStreams::new("a test transport", &tables), room)
}

#[test]
fn an_av1_stream_s_descriptor_crosses_whole_and_a_simulcast_one_s_does_not() {
    let (mut streams, room) = streams();
    let av1 = |encodings: serde_json::Value| {
        json!({
            "codecs": [{"mimeType": "video/AV1", "payloadType": 96, "clockRate": 90000}],
            "encodings": encodings,
            "headerExtensions": [{"uri": dependency_descriptor::URI, "id": 12}],
        })
    };
    let svc = parse_receive_parameters(&av1(json!([{"ssrc": 1}])), MediaKind::Video, &room).unwrap();
    let (_, readable) = streams.add_receiver("t", "svc", MediaKind::Video, &svc).unwrap();
    assert!(readable.dependency_descriptor);
    let simulcast = parse_receive_parameters(&av1(json!([{"ssrc": 2}, {"ssrc": 3}])), MediaKind::Video, &room).unwrap();
    let (_, layered) = streams.add_receiver("t", "simulcast", MediaKind::Video, &simulcast).unwrap();
    assert!(!layered.dependency_descriptor);

    let descriptor: Vec<u8> = (1..=40).collect();
    let now = Instant::now();
    let (receiver, received) = streams.read(&packet(1, &[(12, &descriptor)]), now).unwrap();
    assert_eq!(&*receiver, "svc");
    assert_eq!(received.content().descriptor, Some(&descriptor[..]));
    let (_, other) = streams.read(&packet(2, &[(12, &descriptor)]), now).unwrap();
    assert_eq!(other.content().descriptor, None, "not read for a simulcast stream");
    let (_, short) = streams.read(&packet(1, &[(12, &[1, 2])]), now).unwrap();
    assert_eq!(short.content().descriptor, None, "a descriptor is 3 bytes at least");

    // Forwarded on a sender, at the id of the transport's table, in the two-byte form.
    streams.add_sender("0", 77);
    let rtp = OutgoingRtp { ssrc: 77, payload_type: 45, sequence_number: 1, timestamp: 3_000, marker: true, nackable: false, vp8_ids: None, drops_queued: false };
    let written = streams.write(&rtp, &received, readable).unwrap().to_vec();
    assert_eq!(written[12..14], [0x10, 0x00]);
    let mut found = Vec::new();
    for_each_extension(&written, |id, value| found.push((id, value.to_vec())));
    assert_eq!(found, vec![(8, descriptor.clone())], "the room's id for the descriptor");
    // Not where the receiver's extensions say it is not forwarded.
    let written = streams.write(&rtp, &received, ReadableExtensions::default()).unwrap().to_vec();
    assert_eq!(written[0] & 0x10, 0, "no extension");
}

#[test]
fn the_audio_level_is_read_where_the_publisher_writes_it() {
    let (mut streams, room) = streams();
    let opus = json!({
        "codecs": [{"mimeType": "audio/opus", "payloadType": 100, "clockRate": 48000, "channels": 2}],
        "encodings": [{"ssrc": 5}],
        "headerExtensions": [{"uri": AUDIO_LEVEL, "id": 3}],
    });
    let parameters = parse_receive_parameters(&opus, MediaKind::Audio, &room).unwrap();
    let (_, readable) = streams.add_receiver("t", "voice", MediaKind::Audio, &parameters).unwrap();
    assert!(readable.audio_level && !readable.dependency_descriptor);
    let (_, received) = streams.read(&packet(5, &[(1, &[0x99]), (3, &[0x80 | 42])]), Instant::now()).unwrap();
    assert_eq!(received.incoming.audio_level, Some(-42));
    assert_eq!(received.extensions.audio_level, Some(-42));
}
