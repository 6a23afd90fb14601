//! Unit tests of `codec_table.rs`.

use super::*;
use crate::rtp::capabilities::room_rtp_capabilities;
use serde_json::json;
use str0m::rtp::ExtensionMap;

fn table_of(config: &CodecConfig) -> Vec<(u8, Option<u8>, String)> {
    config
        .params()
        .iter()
        .map(|params| (*params.pt(), params.resend().map(|pt| *pt), params.spec().codec.to_string()))
        .collect()
}

#[test]
fn the_rooms_codecs_keep_their_payload_types_and_rtx() {
    let room = room_rtp_capabilities(None).unwrap();
    let table = table_of(&transport_tables(&room, None).codecs);
    for codec in room.codecs.iter().filter(|codec| codec.mime_type != "video/rtx") {
        let rtx = room
            .codecs
            .iter()
            .find(|other| other.parameters.get("apt") == Some(&json!(codec.preferred_payload_type)))
            .map(|other| other.preferred_payload_type);
        assert!(
            table.iter().any(|(pt, resend, _)| *pt == codec.preferred_payload_type && *resend == rtx),
            "{} at {} with rtx {rtx:?}: {table:?}",
            codec.mime_type,
            codec.preferred_payload_type
        );
    }
}

#[test]
fn a_peers_own_payload_types_come_first_then_the_rooms_then_placeholders() {
    let room = room_rtp_capabilities(Some(&json!([
        {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2},
        {"kind": "video", "mimeType": "video/VP8", "clockRate": 90000},
    ])))
    .unwrap();
    // A client whose VP8 is at 96 with RTX 97, and whose opus clashes with the room's 100.
    let peer = json!({"codecs": [
        {"kind": "video", "mimeType": "video/VP8", "preferredPayloadType": 96, "clockRate": 90000, "parameters": {}},
        {"kind": "video", "mimeType": "video/rtx", "preferredPayloadType": 97, "clockRate": 90000, "parameters": {"apt": 96}},
        {"kind": "audio", "mimeType": "audio/opus", "preferredPayloadType": 100, "clockRate": 48000, "channels": 2, "parameters": {}},
    ]});
    let full = table_of(&transport_tables(&room, Some(&peer)).codecs);
    // First every RTX payload type as a plain entry (str0m finds repairs by
    // SSRC, never by payload type), then the codecs.
    let repairs: BTreeSet<u8> = full.iter().filter_map(|(_, resend, _)| *resend).collect();
    assert_eq!(full[..repairs.len()].iter().map(|(pt, ..)| *pt).collect::<BTreeSet<u8>>(), repairs);
    assert!(full[..repairs.len()].iter().all(|(_, resend, _)| resend.is_none()));
    let table = full[repairs.len()..].to_vec();
    assert_eq!(table[0], (96, Some(97), "VP8".into()));
    assert_eq!(table[1], (100, None, "opus".into()));
    // The room's VP8 (a mediasoup client's) stays at the room's payload types.
    let vp8 = room.codecs.iter().find(|codec| codec.mime_type == "video/VP8").unwrap();
    assert!(table.iter().any(|(pt, resend, _)| *pt == vp8.preferred_payload_type && resend.is_some()), "{table:?}");
    let payload_types: Vec<u8> = table.iter().map(|(pt, ..)| *pt).collect();
    let unique: BTreeSet<u8> = payload_types.iter().copied().collect();
    assert_eq!(unique.len(), payload_types.len(), "each payload type once: {table:?}");
    assert!(!unique.contains(&97), "97 is VP8's RTX, not a codec of its own");
    // Every usable dynamic payload type is in the table, as a codec or an RTX.
    let repairs: BTreeSet<u8> = table.iter().filter_map(|(_, resend, _)| *resend).collect();
    for pt in dynamic_payload_types() {
        assert!(unique.contains(&pt) || repairs.contains(&pt), "{pt} missing");
    }
    assert!(payload_types.iter().all(|pt| !(64..=95).contains(pt)));
}

#[test]
fn the_extension_map_takes_the_peers_ids_then_the_rooms() {
    let room = room_rtp_capabilities(None).unwrap();
    let ids = |map: &ExtensionMap| -> Vec<(u8, String)> { map.iter().map(|(id, ext)| (id, ext.as_uri().to_owned())).collect() };
    let rooms = ids(&transport_extension_map(&room, None));
    assert!(rooms.contains(&(1, "urn:ietf:params:rtp-hdrext:sdes:mid".to_owned())), "{rooms:?}");
    assert!(rooms.contains(&(5, "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01".to_owned())), "{rooms:?}");
    // Chromium's ids: mid at 4, transport-cc at 3; abs-send-time wants 2 and a
    // bogus entry wants 1 for an unknown URI; the room's ids fill in the rest
    // where they are free.
    let peer = json!({"codecs": [], "headerExtensions": [
        {"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "preferredId": 4},
        {"uri": "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01", "preferredId": 3},
        {"uri": "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", "preferredId": 2},
        {"uri": "urn:example:unknown", "preferredId": 1},
        {"uri": "urn:3gpp:video-orientation", "preferredId": 200},
    ]});
    let mapped = ids(&transport_extension_map(&room, Some(&peer)));
    let id_of = |uri: &str| mapped.iter().find(|(_, u)| u == uri).map(|(id, _)| *id);
    assert_eq!(id_of("urn:ietf:params:rtp-hdrext:sdes:mid"), Some(4));
    assert_eq!(id_of("http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"), Some(3));
    assert_eq!(id_of("http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"), Some(2));
    // rid wants the room's 2 (taken): it stays out rather than share an id.
    assert_eq!(id_of("urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"), None);
    // 200 is beyond what str0m reads: the room's 11.
    assert_eq!(id_of("urn:3gpp:video-orientation"), Some(11));
    assert_eq!(id_of("urn:ietf:params:rtp-hdrext:ssrc-audio-level"), Some(10));
    let mut seen: Vec<u8> = mapped.iter().map(|(id, _)| *id).collect();
    seen.dedup();
    assert_eq!(seen.len(), mapped.len(), "an id is given once: {mapped:?}");
}

#[test]
fn bandwidth_estimation_is_for_endpoints_that_send_transport_cc_or_are_not_known_yet() {
    let room = room_rtp_capabilities(None).unwrap();
    assert!(transport_tables(&room, None).transport_cc);
    let twcc = json!({"codecs": [], "headerExtensions": [{"kind": "video", "uri": TRANSPORT_CC_URI, "preferredId": 5}]});
    assert!(transport_tables(&room, Some(&twcc)).transport_cc);
    // aiortc's: abs-send-time and REMB, no transport-wide sequence numbers.
    let remb_only = json!({"codecs": [], "headerExtensions": [{"kind": "video", "uri": "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", "preferredId": 3}]});
    assert!(!transport_tables(&room, Some(&remb_only)).transport_cc);
    assert!(!transport_tables(&room, Some(&json!({"codecs": []}))).transport_cc);
}
