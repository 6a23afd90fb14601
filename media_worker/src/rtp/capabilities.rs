//! The room's codecs: the table of what str0m can carry, the validation of a
//! user's `mediaCodecs`, and the mediasoup `RtpCapabilities` a room offers
//! (unique preferred payload types, RTX for every video codec, header
//! extensions). The extension calls [`room_rtp_capabilities`] to fail at once
//! in Python; the worker calls it again on `room.create` for its own state.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{int_in, json_type, required_str, WorkerError};
use crate::rtp::codecs::dependency_descriptor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Audio,
    Video,
}

impl MediaKind {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "audio" => Some(MediaKind::Audio),
            "video" => Some(MediaKind::Video),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
        }
    }
}

/// A codec the worker can forward.
pub struct SupportedCodec {
    pub kind: MediaKind,
    pub mime_type: &'static str,
    pub clock_rate: u32,
    pub channels: Option<u8>,
    /// The static payload type of RFC 3551, if it has one.
    pub static_payload_type: Option<u8>,
    pub rtcp_feedback: &'static [(&'static str, &'static str)],
}

const AUDIO_FEEDBACK: &[(&str, &str)] = &[("nack", ""), ("transport-cc", "")];
const VIDEO_FEEDBACK: &[(&str, &str)] = &[
    ("nack", ""),
    ("nack", "pli"),
    ("ccm", "fir"),
    ("goog-remb", ""),
    ("transport-cc", ""),
];

/// Every codec str0m carries and the worker forwards. One source of truth:
/// validation, defaults and docs derive from it.
pub const SUPPORTED_CODECS: &[SupportedCodec] = &[
    SupportedCodec { kind: MediaKind::Audio, mime_type: "audio/opus", clock_rate: 48000, channels: Some(2), static_payload_type: None, rtcp_feedback: AUDIO_FEEDBACK },
    SupportedCodec { kind: MediaKind::Audio, mime_type: "audio/PCMU", clock_rate: 8000, channels: Some(1), static_payload_type: Some(0), rtcp_feedback: &[] },
    SupportedCodec { kind: MediaKind::Audio, mime_type: "audio/PCMA", clock_rate: 8000, channels: Some(1), static_payload_type: Some(8), rtcp_feedback: &[] },
    SupportedCodec { kind: MediaKind::Audio, mime_type: "audio/G722", clock_rate: 8000, channels: Some(1), static_payload_type: Some(9), rtcp_feedback: &[] },
    SupportedCodec { kind: MediaKind::Audio, mime_type: "audio/telephone-event", clock_rate: 8000, channels: Some(1), static_payload_type: None, rtcp_feedback: &[] },
    SupportedCodec { kind: MediaKind::Video, mime_type: "video/VP8", clock_rate: 90000, channels: None, static_payload_type: None, rtcp_feedback: VIDEO_FEEDBACK },
    SupportedCodec { kind: MediaKind::Video, mime_type: "video/VP9", clock_rate: 90000, channels: None, static_payload_type: None, rtcp_feedback: VIDEO_FEEDBACK },
    SupportedCodec { kind: MediaKind::Video, mime_type: "video/H264", clock_rate: 90000, channels: None, static_payload_type: None, rtcp_feedback: VIDEO_FEEDBACK },
    SupportedCodec { kind: MediaKind::Video, mime_type: "video/AV1", clock_rate: 90000, channels: None, static_payload_type: None, rtcp_feedback: VIDEO_FEEDBACK },
];

/// A header extension the room offers, per kind.
pub struct SupportedHeaderExtension {
    pub uri: &'static str,
    pub preferred_id: u8,
    pub kinds: &'static [MediaKind],
}

const AV: &[MediaKind] = &[MediaKind::Audio, MediaKind::Video];
const A: &[MediaKind] = &[MediaKind::Audio];
const V: &[MediaKind] = &[MediaKind::Video];

pub const SUPPORTED_HEADER_EXTENSIONS: &[SupportedHeaderExtension] = &[
    SupportedHeaderExtension { uri: "urn:ietf:params:rtp-hdrext:sdes:mid", preferred_id: 1, kinds: AV },
    SupportedHeaderExtension { uri: "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", preferred_id: 2, kinds: V },
    SupportedHeaderExtension { uri: "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id", preferred_id: 3, kinds: V },
    SupportedHeaderExtension { uri: "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", preferred_id: 4, kinds: AV },
    SupportedHeaderExtension { uri: "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01", preferred_id: 5, kinds: AV },
    SupportedHeaderExtension { uri: "urn:ietf:params:rtp-hdrext:ssrc-audio-level", preferred_id: 10, kinds: A },
    SupportedHeaderExtension { uri: "urn:3gpp:video-orientation", preferred_id: 11, kinds: V },
    SupportedHeaderExtension { uri: "urn:ietf:params:rtp-hdrext:toffset", preferred_id: 12, kinds: V },
    SupportedHeaderExtension { uri: "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time", preferred_id: 13, kinds: AV },
    SupportedHeaderExtension { uri: "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay", preferred_id: 14, kinds: V },
    SupportedHeaderExtension { uri: dependency_descriptor::URI, preferred_id: 8, kinds: V },
];

/// Dynamic payload types in the order a room hands them out. 64-95 are left
/// out: RTP with those payload types reads as RTCP (RFC 5761 §4).
pub fn dynamic_payload_types() -> impl Iterator<Item = u8> {
    (100..=127).chain(96..=99).chain(35..=63)
}

/// Whether RTP can carry `pt` next to RTCP on one port (RFC 5761 §4).
pub fn is_usable_payload_type(pt: u8) -> bool {
    pt <= 127 && !(64..=95).contains(&pt)
}

/// What codec matching reads of a codec, wherever it comes from (the room's
/// capabilities, a peer's, `rtpParameters`, an SDP offer).
#[derive(Debug, Clone, Copy)]
pub struct CodecRef<'a> {
    pub mime_type: &'a str,
    pub clock_rate: u32,
    pub channels: Option<u64>,
    pub parameters: &'a Map<String, Value>,
}

impl<'a> CodecRef<'a> {
    pub fn of_room(codec: &'a RtpCodecCapability) -> Self {
        Self { mime_type: &codec.mime_type, clock_rate: codec.clock_rate, channels: codec.channels.map(u64::from), parameters: &codec.parameters }
    }

    /// A codec as JSON (`mimeType`, `clockRate`, `channels`, `parameters`), or None if it lacks one of the first two.
    pub fn of_json(codec: &'a Value, no_parameters: &'a Map<String, Value>) -> Option<Self> {
        Some(Self {
            mime_type: codec["mimeType"].as_str()?,
            clock_rate: u32::try_from(codec["clockRate"].as_u64()?).ok()?,
            channels: codec["channels"].as_u64(),
            parameters: codec["parameters"].as_object().unwrap_or(no_parameters),
        })
    }
}

/// How well `codec` carries the room's `room_codec`, as one codec of the
/// room is matched everywhere (a publisher's codecs, a subscriber's payload
/// types, an SDP offer's codecs): None if it does not (mime type, case
/// aside; clock rate; channels for audio, 1 when absent; for H264 the
/// packetization-mode, 0 when absent, as a decoder of one mode cannot take
/// the other; for VP9 the profile-id), else lower is closer (for H264: the
/// same profile-level-id 0, the same profile 1, another 2).
pub fn codec_match(room_codec: CodecRef<'_>, codec: CodecRef<'_>) -> Option<u8> {
    if !room_codec.mime_type.eq_ignore_ascii_case(codec.mime_type) || room_codec.clock_rate != codec.clock_rate {
        return None;
    }
    let audio = room_codec.mime_type.get(..6).is_some_and(|prefix| prefix.eq_ignore_ascii_case("audio/"));
    if audio && room_codec.channels.unwrap_or(1) != codec.channels.unwrap_or(1) {
        return None;
    }
    let parameter = |parameters: &Map<String, Value>, key: &str, default: &str| -> String {
        match parameters.get(key) {
            Some(Value::String(text)) => text.to_ascii_lowercase(),
            Some(Value::Number(number)) => number.to_string(),
            _ => default.to_owned(),
        }
    };
    let (ours, theirs) = (room_codec.parameters, codec.parameters);
    let name = room_codec.mime_type.split_once('/').map(|(_, name)| name.to_ascii_lowercase()).unwrap_or_default();
    match name.as_str() {
        "h264" => {
            if parameter(ours, "packetization-mode", "0") != parameter(theirs, "packetization-mode", "0") {
                return None;
            }
            let (ours, theirs) = (parameter(ours, "profile-level-id", ""), parameter(theirs, "profile-level-id", ""));
            Some(if ours == theirs {
                0
            } else if ours.get(..2).is_some() && ours.get(..2) == theirs.get(..2) {
                1
            } else {
                2
            })
        }
        "vp9" => (parameter(ours, "profile-id", "0") == parameter(theirs, "profile-id", "0")).then_some(0),
        _ => Some(0),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RtcpFeedback {
    #[serde(rename = "type")]
    pub kind: String,
    pub parameter: String,
}

/// A mediasoup `RtpCodecCapability`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RtpCodecCapability {
    pub kind: MediaKind,
    pub mime_type: String,
    pub preferred_payload_type: u8,
    pub clock_rate: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<u8>,
    pub parameters: Map<String, Value>,
    pub rtcp_feedback: Vec<RtcpFeedback>,
}

/// A mediasoup `RtpHeaderExtension` capability.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RtpHeaderExtension {
    pub kind: MediaKind,
    pub uri: String,
    pub preferred_id: u8,
    pub preferred_encrypt: bool,
    pub direction: &'static str,
}

/// A mediasoup `RtpCapabilities`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RtpCapabilities {
    pub codecs: Vec<RtpCodecCapability>,
    pub header_extensions: Vec<RtpHeaderExtension>,
}

/// The `mediaCodecs` a room gets when none are given: opus, VP8, VP9, H264
/// (packetization-mode 1) and AV1; RTX is added to each video codec.
pub fn default_media_codecs() -> Value {
    serde_json::json!([
        {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2},
        {"kind": "video", "mimeType": "video/VP8", "clockRate": 90000},
        {"kind": "video", "mimeType": "video/VP9", "clockRate": 90000, "parameters": {"profile-id": 0}},
        {"kind": "video", "mimeType": "video/H264", "clockRate": 90000, "parameters": {
            "packetization-mode": 1, "level-asymmetry-allowed": 1, "profile-level-id": "42e01f"}},
        {"kind": "video", "mimeType": "video/AV1", "clockRate": 90000},
    ])
}

/// Validates `media_codecs` (None: the default set) and builds the room's
/// capabilities. Errors name the entry and the field.
pub fn room_rtp_capabilities(media_codecs: Option<&Value>) -> Result<RtpCapabilities, WorkerError> {
    let defaults;
    let media_codecs = match media_codecs {
        Some(Value::Null) | None => {
            defaults = default_media_codecs();
            &defaults
        }
        Some(value) => value,
    };
    let entries = media_codecs
        .as_array()
        .ok_or_else(|| WorkerError::type_error(format!("mediaCodecs must be a list, not {}", json_type(media_codecs))))?;
    if entries.is_empty() {
        return Err(WorkerError::value_error("mediaCodecs must name at least one codec"));
    }
    let parsed = entries
        .iter()
        .enumerate()
        .map(|(index, entry)| parse_codec(index, entry))
        .collect::<Result<Vec<_>, _>>()?;

    let mut taken = BTreeSet::new();
    for (index, codec) in parsed.iter().enumerate() {
        if let Some(pt) = codec.requested_payload_type {
            if !taken.insert(pt) {
                return Err(WorkerError::value_error(format!(
                    "mediaCodecs[{index}].preferredPayloadType {pt} is already used by another codec"
                )));
            }
        }
    }
    let mut free = dynamic_payload_types().filter(|pt| !taken.contains(pt)).collect::<Vec<_>>().into_iter();
    let mut next_free = |what: &str| {
        free.next()
            .ok_or_else(|| WorkerError::value_error(format!("mediaCodecs: no payload type left for {what} (each codec and its RTX take one of the 61 dynamic ones)")))
    };

    let mut codecs = Vec::new();
    for codec in parsed {
        let payload_type = match codec.requested_payload_type {
            Some(pt) => pt,
            None => next_free(codec.mime_type.as_str())?,
        };
        let is_video = codec.kind == MediaKind::Video;
        codecs.push(RtpCodecCapability {
            kind: codec.kind,
            mime_type: codec.mime_type,
            preferred_payload_type: payload_type,
            clock_rate: codec.clock_rate,
            channels: codec.channels,
            parameters: codec.parameters,
            rtcp_feedback: codec.rtcp_feedback,
        });
        if is_video {
            let mut parameters = Map::new();
            parameters.insert("apt".into(), Value::from(payload_type));
            codecs.push(RtpCodecCapability {
                kind: MediaKind::Video,
                mime_type: "video/rtx".into(),
                preferred_payload_type: next_free("video/rtx")?,
                clock_rate: 90000,
                channels: None,
                parameters,
                rtcp_feedback: Vec::new(),
            });
        }
    }
    let header_extensions = SUPPORTED_HEADER_EXTENSIONS
        .iter()
        .flat_map(|ext| {
            ext.kinds.iter().map(|&kind| RtpHeaderExtension {
                kind,
                uri: ext.uri.to_owned(),
                preferred_id: ext.preferred_id,
                preferred_encrypt: false,
                direction: "sendrecv",
            })
        })
        .collect();
    Ok(RtpCapabilities { codecs, header_extensions })
}

struct ParsedCodec {
    kind: MediaKind,
    mime_type: String,
    clock_rate: u32,
    channels: Option<u8>,
    requested_payload_type: Option<u8>,
    parameters: Map<String, Value>,
    rtcp_feedback: Vec<RtcpFeedback>,
}

const CODEC_KEYS: &[&str] = &[
    "kind", "mimeType", "clockRate", "channels", "preferredPayloadType", "parameters", "rtcpFeedback",
];

fn parse_codec(index: usize, entry: &Value) -> Result<ParsedCodec, WorkerError> {
    let at = |field: &str| format!("mediaCodecs[{index}].{field}");
    let object = entry.as_object().ok_or_else(|| {
        WorkerError::type_error(format!("mediaCodecs[{index}] must be a dict, not {}", json_type(entry)))
    })?;
    if let Some(unknown) = object.keys().find(|key| !CODEC_KEYS.contains(&key.as_str())) {
        return Err(WorkerError::type_error(format!(
            "mediaCodecs[{index}] has an unknown key '{unknown}'; expected some of {}", CODEC_KEYS.join(", ")
        )));
    }
    let kind_text = required_str(object, "kind", &format!("mediaCodecs[{index}]"))?;
    let kind = MediaKind::parse(kind_text).ok_or_else(|| {
        WorkerError::value_error(format!("{} must be 'audio' or 'video', not '{kind_text}'", at("kind")))
    })?;
    let mime_type = required_str(object, "mimeType", &format!("mediaCodecs[{index}]"))?;
    let Some((mime_kind, codec_name)) = mime_type.split_once('/') else {
        return Err(WorkerError::value_error(format!(
            "{} must look like 'video/VP8', not '{mime_type}'",
            at("mimeType")
        )));
    };
    if mime_kind.to_ascii_lowercase() != kind.as_str() {
        return Err(WorkerError::value_error(format!(
            "{} '{mime_type}' does not match kind '{}'",
            at("mimeType"),
            kind.as_str()
        )));
    }
    if codec_name.eq_ignore_ascii_case("rtx") {
        return Err(WorkerError::value_error(format!(
            "{}: RTX is added by the room to every video codec; do not list it",
            at("mimeType")
        )));
    }
    let supported = SUPPORTED_CODECS
        .iter()
        .find(|codec| codec.mime_type.eq_ignore_ascii_case(mime_type))
        .ok_or_else(|| {
            let names: Vec<_> = SUPPORTED_CODECS.iter().map(|codec| codec.mime_type).collect();
            WorkerError::unsupported(format!(
                "codec '{mime_type}' ({}) is not supported; supported codecs: {}",
                at("mimeType"),
                names.join(", ")
            ))
        })?;

    let clock_rate = match object.get("clockRate") {
        None | Some(Value::Null) => supported.clock_rate,
        Some(value) => {
            let rate = int_in(value, &at("clockRate"), 1..=u64::from(u32::MAX))?;
            if rate != u64::from(supported.clock_rate) {
                return Err(WorkerError::unsupported(format!(
                    "{} {rate} is not supported for {}; it must be {}",
                    at("clockRate"),
                    supported.mime_type,
                    supported.clock_rate
                )));
            }
            supported.clock_rate
        }
    };
    let channels = match (object.get("channels"), kind) {
        (None | Some(Value::Null), _) => supported.channels,
        (Some(_), MediaKind::Video) => {
            return Err(WorkerError::value_error(format!("{}: video codecs have no channels", at("channels"))));
        }
        (Some(value), MediaKind::Audio) => {
            let count = int_in(value, &at("channels"), 1..=255)?;
            if Some(count) != supported.channels.map(u64::from) {
                return Err(WorkerError::unsupported(format!(
                    "{} {count} is not supported for {}; it must be {}",
                    at("channels"),
                    supported.mime_type,
                    supported.channels.unwrap_or(1)
                )));
            }
            supported.channels
        }
    };
    let requested_payload_type = match object.get("preferredPayloadType") {
        None | Some(Value::Null) => supported.static_payload_type,
        Some(value) => {
            let pt = int_in(value, &at("preferredPayloadType"), 0..=127)?;
            let pt = u8::try_from(pt).ok().filter(|pt| is_usable_payload_type(*pt)).ok_or_else(|| {
                WorkerError::value_error(format!(
                    "{} must be 0-63 or 96-127 (64-95 collide with RTCP), not {pt}",
                    at("preferredPayloadType")
                ))
            })?;
            Some(pt)
        }
    };
    let parameters = match object.get("parameters") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(parameters)) => {
            for (name, value) in parameters {
                if !(value.is_string() || value.is_u64() || value.is_i64()) {
                    return Err(WorkerError::type_error(format!(
                        "{}['{name}'] must be a str or an int, not {}",
                        at("parameters"),
                        json_type(value)
                    )));
                }
            }
            parameters.clone()
        }
        Some(value) => {
            return Err(WorkerError::type_error(format!(
                "{} must be a dict, not {}",
                at("parameters"),
                json_type(value)
            )));
        }
    };
    let rtcp_feedback = match object.get("rtcpFeedback") {
        None | Some(Value::Null) => supported
            .rtcp_feedback
            .iter()
            .map(|(kind, parameter)| RtcpFeedback { kind: (*kind).into(), parameter: (*parameter).into() })
            .collect(),
        Some(Value::Array(entries)) => entries
            .iter()
            .enumerate()
            .map(|(fb_index, fb)| parse_feedback(&at(&format!("rtcpFeedback[{fb_index}]")), fb))
            .collect::<Result<_, _>>()?,
        Some(value) => {
            return Err(WorkerError::type_error(format!(
                "{} must be a list, not {}",
                at("rtcpFeedback"),
                json_type(value)
            )));
        }
    };
    Ok(ParsedCodec {
        kind,
        mime_type: supported.mime_type.to_owned(),
        clock_rate,
        channels,
        requested_payload_type,
        parameters,
        rtcp_feedback,
    })
}

fn parse_feedback(at: &str, value: &Value) -> Result<RtcpFeedback, WorkerError> {
    let object = value
        .as_object()
        .ok_or_else(|| WorkerError::type_error(format!("{at} must be a dict, not {}", json_type(value))))?;
    let field = |name: &str| match object.get(name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(other) => Err(WorkerError::type_error(format!("{at}.{name} must be a str, not {}", json_type(other)))),
    };
    let kind = field("type")?;
    if kind.is_empty() {
        return Err(WorkerError::type_error(format!("{at} needs a 'type'")));
    }
    Ok(RtcpFeedback { kind, parameter: field("parameter")? })
}

#[cfg(test)]
#[path = "capabilities_tests.rs"]
mod tests;
