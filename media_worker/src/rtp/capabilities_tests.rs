//! Unit tests of `capabilities.rs`.

use super::*;
use crate::error::ErrorKind;
use serde_json::json;

#[test]
fn every_supported_codec_is_one_str0m_knows() {
    for codec in SUPPORTED_CODECS {
        let name = codec.mime_type.split_once('/').unwrap().1;
        let str0m_codec = str0m::format::Codec::from(name);
        assert_ne!(str0m_codec, str0m::format::Codec::Unknown, "{}", codec.mime_type);
        let str0m_kind = if str0m_codec.kind() == str0m::media::MediaKind::Audio {
            MediaKind::Audio
        } else {
            MediaKind::Video
        };
        assert_eq!(str0m_kind, codec.kind, "{}", codec.mime_type);
    }
}

#[test]
fn every_header_extension_is_one_str0m_knows_or_is_given_a_serializer() {
    use str0m::rtp::Extension::*;
    let known: Vec<String> = [
        AbsoluteSendTime, AbsoluteCaptureTime, AudioLevel, TransmissionTimeOffset,
        VideoOrientation, TransportSequenceNumber, PlayoutDelay, RtpStreamId,
        RepairedRtpStreamId, RtpMid,
    ]
    .iter()
    .map(|ext| ext.as_uri().to_owned())
    .chain([crate::rtp::codecs::dependency_descriptor::URI.to_owned()])
    .collect();
    for ext in SUPPORTED_HEADER_EXTENSIONS {
        assert!(known.iter().any(|uri| uri == ext.uri), "{}", ext.uri);
        let mapped = crate::rtp::codec_table::str0m_extension(ext.uri).expect("mapped");
        assert_eq!(mapped.as_uri(), ext.uri);
    }
    let ids: BTreeSet<_> = SUPPORTED_HEADER_EXTENSIONS.iter().map(|ext| ext.preferred_id).collect();
    assert_eq!(ids.len(), SUPPORTED_HEADER_EXTENSIONS.len(), "preferred ids are unique");
}

#[test]
fn default_capabilities_have_rtx_for_every_video_codec_and_unique_payload_types() {
    let caps = room_rtp_capabilities(None).unwrap();
    let names: Vec<_> = caps.codecs.iter().map(|codec| codec.mime_type.as_str()).collect();
    assert_eq!(
        names,
        ["audio/opus", "video/VP8", "video/rtx", "video/VP9", "video/rtx", "video/H264", "video/rtx", "video/AV1", "video/rtx"]
    );
    let pts: BTreeSet<_> = caps.codecs.iter().map(|codec| codec.preferred_payload_type).collect();
    assert_eq!(pts.len(), caps.codecs.len());
    for pair in caps.codecs.windows(2) {
        if pair[1].mime_type == "video/rtx" {
            assert_eq!(pair[1].parameters["apt"], json!(pair[0].preferred_payload_type));
        }
    }
    assert_eq!(caps.codecs[0].channels, Some(2));
    assert!(caps.header_extensions.iter().any(|ext| ext.uri.ends_with("sdes:mid") && ext.kind == MediaKind::Audio));
}

#[test]
fn requested_payload_types_are_kept_and_others_avoid_them() {
    let caps = room_rtp_capabilities(Some(&json!([
        {"kind": "video", "mimeType": "video/VP8", "preferredPayloadType": 101},
        {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2},
        {"kind": "audio", "mimeType": "audio/PCMU"},
    ])))
    .unwrap();
    let pts: Vec<_> = caps.codecs.iter().map(|codec| codec.preferred_payload_type).collect();
    assert_eq!(pts, [101, 100, 102, 0]);
}

#[test]
fn bad_media_codecs_fail_with_the_field_named() {
    let cases = [
        (json!("opus"), ErrorKind::TypeError, "mediaCodecs must be a list"),
        (json!([]), ErrorKind::ValueError, "at least one"),
        (json!([1]), ErrorKind::TypeError, "mediaCodecs[0] must be a dict"),
        (json!([{"mimeType": "audio/opus"}]), ErrorKind::TypeError, "mediaCodecs[0].kind is required"),
        (json!([{"kind": "sound", "mimeType": "audio/opus"}]), ErrorKind::ValueError, "'audio' or 'video'"),
        (json!([{"kind": "video", "mimeType": "audio/opus"}]), ErrorKind::ValueError, "does not match kind"),
        (json!([{"kind": "video", "mimeType": "video/H265"}]), ErrorKind::UnsupportedError, "video/H265"),
        (json!([{"kind": "video", "mimeType": "video/rtx"}]), ErrorKind::ValueError, "RTX"),
        (json!([{"kind": "audio", "mimeType": "audio/opus", "clockRate": 44100}]), ErrorKind::UnsupportedError, "44100"),
        (json!([{"kind": "audio", "mimeType": "audio/opus", "clockRate": "48000"}]), ErrorKind::TypeError, "clockRate must be an int"),
        (json!([{"kind": "video", "mimeType": "video/VP8", "channels": 2}]), ErrorKind::ValueError, "no channels"),
        (json!([{"kind": "video", "mimeType": "video/VP8", "preferredPayloadType": 300}]), ErrorKind::ValueError, "must be an int of 0-127, not 300"),
        (json!([{"kind": "video", "mimeType": "video/VP8", "preferredPayloadType": 72}]), ErrorKind::ValueError, "collide with RTCP"),
        (json!([{"kind": "video", "mimeType": "video/VP8", "parameters": {"x": [1]}}]), ErrorKind::TypeError, "parameters['x']"),
        (json!([{"kind": "video", "mimeType": "video/VP8", "rtcpFeedback": [{"parameter": "pli"}]}]), ErrorKind::TypeError, "needs a 'type'"),
        (json!([{"kind": "video", "mimeType": "video/VP8", "bogus": 1}]), ErrorKind::TypeError, "unknown key 'bogus'"),
        (
            json!([{"kind": "video", "mimeType": "video/VP8", "preferredPayloadType": 100},
                   {"kind": "video", "mimeType": "video/VP9", "preferredPayloadType": 100}]),
            ErrorKind::ValueError,
            "mediaCodecs[1].preferredPayloadType 100 is already used",
        ),
    ];
    for (input, kind, needle) in cases {
        let err = room_rtp_capabilities(Some(&input)).unwrap_err();
        assert_eq!(err.kind, kind, "{input}: {err}");
        assert!(err.message.contains(needle), "{input}: {err}");
    }
}

#[test]
fn mime_types_are_matched_case_insensitively_and_normalised() {
    let caps = room_rtp_capabilities(Some(&json!([{"kind": "video", "mimeType": "video/vp8"}]))).unwrap();
    assert_eq!(caps.codecs[0].mime_type, "video/VP8");
}

fn codec<'a>(mime_type: &'a str, clock_rate: u32, channels: Option<u64>, parameters: &'a Map<String, Value>) -> CodecRef<'a> {
    CodecRef { mime_type, clock_rate, channels, parameters }
}

fn fmtp(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

#[test]
fn codecs_match_by_mime_type_clock_rate_channels_and_the_parameters_that_decide_decoding() {
    let none = Map::new();
    // Case aside; audio channels (1 when absent); not the clock rate.
    assert_eq!(codec_match(codec("audio/opus", 48000, Some(2), &none), codec("audio/OPUS", 48000, Some(2), &none)), Some(0));
    assert_eq!(codec_match(codec("audio/opus", 48000, Some(2), &none), codec("audio/opus", 48000, None, &none)), None);
    assert_eq!(codec_match(codec("audio/PCMU", 8000, None, &none), codec("audio/PCMU", 8000, Some(1), &none)), Some(0));
    assert_eq!(codec_match(codec("video/VP8", 90000, None, &none), codec("video/VP8", 48000, None, &none)), None);
    // VP9: the profile (0 when absent), numbers or strings alike.
    let (profile0, profile2) = (fmtp(json!({"profile-id": 0})), fmtp(json!({"profile-id": "2"})));
    assert_eq!(codec_match(codec("video/VP9", 90000, None, &none), codec("video/VP9", 90000, None, &profile0)), Some(0));
    assert_eq!(codec_match(codec("video/VP9", 90000, None, &none), codec("video/VP9", 90000, None, &profile2)), None);
    // H264: the packetization mode decides, the profile ranks.
    let room = fmtp(json!({"packetization-mode": 1, "profile-level-id": "42e01f"}));
    let h264 = |parameters: Value| {
        let parameters = fmtp(parameters);
        codec_match(codec("video/H264", 90000, None, &room), codec("video/H264", 90000, None, &parameters))
    };
    assert_eq!(h264(json!({"packetization-mode": "1", "profile-level-id": "42E01F"})), Some(0));
    assert_eq!(h264(json!({"packetization-mode": 1, "profile-level-id": "42001f"})), Some(1));
    assert_eq!(h264(json!({"packetization-mode": 1, "profile-level-id": "640032"})), Some(2));
    assert_eq!(h264(json!({"profile-level-id": "42e01f"})), None);
}
