//! Unit tests of `parameters.rs`.

use super::*;
use crate::error::ErrorKind;
use crate::rtp::capabilities::room_rtp_capabilities;

fn room() -> RtpCapabilities {
    room_rtp_capabilities(None).unwrap()
}

/// What Chromium's mediasoup-client sends for a VP8 camera with RTX.
fn chromium_video() -> Value {
    json!({
        "mid": "0",
        "codecs": [
            {"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000, "parameters": {},
             "rtcpFeedback": [{"type": "goog-remb", "parameter": ""}, {"type": "nack", "parameter": "pli"}]},
            {"mimeType": "video/rtx", "payloadType": 97, "clockRate": 90000, "parameters": {"apt": 96}, "rtcpFeedback": []},
        ],
        "headerExtensions": [{"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 4, "encrypt": false, "parameters": {}}],
        "encodings": [{"ssrc": 1111, "rtx": {"ssrc": 2222}, "dtx": false, "active": true, "scaleResolutionDownBy": 1.0, "maxBitrate": 500000}],
        "rtcp": {"cname": "abc", "reducedSize": true},
        "msid": "stream track",
    })
}

#[test]
fn a_chromium_stream_maps_onto_the_rooms_codec_and_keeps_its_keys() {
    let parsed = parse_receive_parameters(&chromium_video(), MediaKind::Video, &room()).unwrap();
    let vp8 = room().codecs.iter().find(|c| c.mime_type == "video/VP8").unwrap().preferred_payload_type;
    assert_eq!(parsed.codecs, vec![CodecMapping { payload_type: 96, rtx_payload_type: Some(97), room_payload_type: vp8, clock_rate: 90000, format: PayloadFormat::Vp8 }]);
    assert_eq!(parsed.encodings, vec![Encoding { ssrc: Some(1111), rid: None, rtx_ssrc: Some(2222) }]);
    assert_eq!(parsed.mid.as_deref(), Some("0"));
    // Normalised: equal to what was given, keys the server does not use included.
    assert_eq!(parsed.normalised, chromium_video());
}

#[test]
fn simulcast_by_rid_only_is_accepted() {
    let mut parameters = chromium_video();
    parameters["encodings"] = json!([{"rid": "r0", "scalabilityMode": "L1T3"}, {"rid": "r1"}, {"rid": "r2"}]);
    let parsed = parse_receive_parameters(&parameters, MediaKind::Video, &room()).unwrap();
    assert_eq!(parsed.encodings.iter().map(|e| e.rid.clone().unwrap()).collect::<Vec<_>>(), ["r0", "r1", "r2"]);
}

#[test]
fn a_stream_has_four_encodings_at_most() {
    let mut parameters = chromium_video();
    parameters["encodings"] = json!([{"ssrc": 1}, {"ssrc": 2}, {"ssrc": 3}, {"ssrc": 4}]);
    assert_eq!(parse_receive_parameters(&parameters, MediaKind::Video, &room()).unwrap().encodings.len(), 4);
    parameters["encodings"] = json!([{"ssrc": 1}, {"ssrc": 2}, {"ssrc": 3}, {"ssrc": 4}, {"ssrc": 5}]);
    let error = parse_receive_parameters(&parameters, MediaKind::Video, &room()).unwrap_err();
    assert!(error.to_string().contains("has 5 entries: a stream has 4 at most"), "{error}");
}

#[test]
fn none_values_are_dropped_and_defaults_added() {
    let parameters = json!({
        "mid": null,
        "codecs": [{"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2, "parameters": null}],
        "encodings": [{"ssrc": 5, "rid": null}],
    });
    let parsed = parse_receive_parameters(&parameters, MediaKind::Audio, &room()).unwrap();
    assert_eq!(parsed.normalised, json!({
        "codecs": [{"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2}],
        "encodings": [{"ssrc": 5}],
        "headerExtensions": [],
        "rtcp": {},
    }));
}

#[test]
fn bad_parameters_name_the_field() {
    let with = |path: &str, value: Value| {
        let mut parameters = chromium_video();
        let mut target = &mut parameters;
        let parts: Vec<&str> = path.split('.').collect();
        for part in &parts[..parts.len() - 1] {
            target = match part.parse::<usize>() {
                Ok(index) => &mut target[index],
                Err(_) => &mut target[*part],
            };
        }
        let last = parts[parts.len() - 1];
        match last.parse::<usize>() {
            Ok(index) => target[index] = value,
            Err(_) => target[last] = value,
        }
        parameters
    };
    let cases = [
        (json!(null), ErrorKind::TypeError, "rtpParameters must be a dict"),
        (with("codecs", json!([])), ErrorKind::ValueError, "codecs is empty"),
        (with("codecs.0.mimeType", json!("audio/opus")), ErrorKind::ValueError, "does not match the receiver's kind 'video'"),
        (with("codecs.0.mimeType", json!("video/H265")), ErrorKind::UnsupportedError, "not among the room's codecs"),
        (with("codecs.0.clockRate", json!(8000)), ErrorKind::UnsupportedError, "8000 Hz"),
        (with("codecs.1.payloadType", json!(96)), ErrorKind::ValueError, "payloadType 96 is used by another codec"),
        (with("codecs.1.payloadType", json!(72)), ErrorKind::ValueError, "0-63 or 96-127"),
        (with("codecs.1.parameters", json!({"apt": 100})), ErrorKind::ValueError, "RTX for no media codec"),
        (with("encodings", json!([])), ErrorKind::ValueError, "encodings is empty"),
        (with("encodings.0", json!({"maxBitrate": 1})), ErrorKind::ValueError, "neither ssrc nor rid"),
        (with("encodings.0.ssrc", json!(-1)), ErrorKind::ValueError, "ssrc must be an int of 0-4294967295, not -1"),
        (with("encodings.0.ssrc", json!(1.5)), ErrorKind::TypeError, "ssrc must be an int, not float"),
        (with("encodings.0.maxBitrate", json!("fast")), ErrorKind::TypeError, "maxBitrate must be a number, not str"),
        (with("encodings.0.maxBitrate", json!(true)), ErrorKind::TypeError, "maxBitrate must be a number, not bool"),
        (with("encodings.0.rtx", json!({"ssrc": 1111})), ErrorKind::ValueError, "ssrc twice"),
        (with("encodings.0.codecPayloadType", json!(120)), ErrorKind::ValueError, "codecPayloadType 120 names no codec"),
        (with("headerExtensions.0.id", json!(0)), ErrorKind::ValueError, "id must be an int of 1-255, not 0"),
        (with("mid", json!(3)), ErrorKind::TypeError, "mid must be a non-empty str"),
    ];
    for (input, kind, needle) in cases {
        let err = parse_receive_parameters(&input, MediaKind::Video, &room()).unwrap_err();
        assert_eq!(err.kind, kind, "{input}: {err}");
        assert!(err.message.contains(needle), "{input}: {err}");
    }
}

#[test]
fn h264_matches_only_the_same_packetization_mode() {
    let parameters = json!({
        "codecs": [{"mimeType": "video/H264", "payloadType": 102, "clockRate": 90000,
                    "parameters": {"packetization-mode": 0, "profile-level-id": "42e01f"}}],
        "encodings": [{"ssrc": 1}],
    });
    let err = parse_receive_parameters(&parameters, MediaKind::Video, &room()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::UnsupportedError);
    let mut mode_one = parameters.clone();
    mode_one["codecs"][0]["parameters"]["packetization-mode"] = json!(1);
    assert!(parse_receive_parameters(&mode_one, MediaKind::Video, &room()).is_ok());
}

#[test]
fn numbers_out_of_their_range_are_refused_naming_the_field() {
    let cases: [(&str, Value, &str); 6] = [
        ("/encodings/0/maxBitrate", json!(-1), "rtpParameters.encodings[0].maxBitrate must be a number >= 0, not -1"),
        ("/encodings/0/maxBitrate", json!(-0.5), "rtpParameters.encodings[0].maxBitrate must be a number >= 0, not -0.5"),
        ("/encodings/0/scaleResolutionDownBy", json!(0.5), "scaleResolutionDownBy must be a number >= 1"),
        ("/encodings/0/maxFramerate", json!(-30), "maxFramerate must be a number >= 0"),
        ("/codecs/0/channels", json!(0), "rtpParameters.codecs[0].channels must be an int of 1-255, not 0"),
        ("/codecs/0/clockRate", json!(0), "rtpParameters.codecs[0].clockRate must be an int of 1-4294967295, not 0"),
    ];
    for (pointer, value, expected) in cases {
        let mut parameters = chromium_video();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        parameters.pointer_mut(parent).unwrap()[key] = value;
        let err = parse_receive_parameters(&parameters, MediaKind::Video, &room()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::ValueError, "{pointer}");
        assert!(err.message.contains(expected), "{pointer}: {err}");
    }
}

#[test]
fn mids_rids_and_cnames_longer_than_an_sdes_item_are_refused() {
    for (pointer, at) in [("/mid", "rtpParameters.mid"), ("/rtcp/cname", "rtpParameters.rtcp.cname")] {
        let mut parameters = chromium_video();
        *parameters.pointer_mut(pointer).unwrap() = json!("m".repeat(255));
        parse_receive_parameters(&parameters, MediaKind::Video, &room()).unwrap();
        *parameters.pointer_mut(pointer).unwrap() = json!("m".repeat(256));
        let err = parse_receive_parameters(&parameters, MediaKind::Video, &room()).unwrap_err();
        assert!(err.message.contains(&format!("{at} has at most 255 bytes, not 256")), "{err}");
    }
}
