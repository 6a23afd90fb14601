//! The `RtpParameters` a publisher sends with (`rtpReceiver.receive()`):
//! validated against the receiver's kind and the room's codecs, normalised
//! for dumps, and mapped onto the room's codecs for the router.
//!
//! What clients hand over uses their own payload types and header-extension
//! ids, may carry keys the server does not use (`msid`, `encodings[].dtx`,
//! `active`, `scaleResolutionDownBy`…), and for simulcast may name encodings
//! by `rid` only: all accepted. Normalisation drops keys whose value is None
//! and adds the empty defaults (`headerExtensions: []`, `rtcp: {}`); every
//! other key is kept as given.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::error::WorkerError;
use crate::rtp::codecs::PayloadFormat;
use crate::error::{int_in, json_type, required_int, required_str};
use crate::rtp::capabilities::{codec_match, is_usable_payload_type, CodecRef, MediaKind, RtpCapabilities, RtpCodecCapability};

/// A publisher's media codec and the room codec it is forwarded as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecMapping {
    pub payload_type: u8,
    pub rtx_payload_type: Option<u8>,
    pub room_payload_type: u8,
    pub clock_rate: u32,
    /// What the router reads in its payloads.
    pub format: PayloadFormat,
}

/// One encoding (a simulcast layer, or the only stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoding {
    pub ssrc: Option<u32>,
    pub rid: Option<String>,
    pub rtx_ssrc: Option<u32>,
}

/// Validated parameters: the normalised dict, and what the router needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiveParameters {
    pub normalised: Value,
    pub mid: Option<String>,
    pub codecs: Vec<CodecMapping>,
    pub encodings: Vec<Encoding>,
}

/// Encodings a stream may have: as many simulcast layers as the router
/// tells apart (`router::layer_selector::MAX_SPATIAL_LAYERS`).
pub const MAX_ENCODINGS: usize = 4;

impl ReceiveParameters {
    /// The id its header extensions give `uri`, if they name it.
    pub fn extension_id(&self, uri: &str) -> Option<u8> {
        self.normalised["headerExtensions"]
            .as_array()?
            .iter()
            .find(|extension| extension["uri"].as_str() == Some(uri))
            .and_then(|extension| u8::try_from(extension["id"].as_u64()?).ok())
    }

    /// Whether a stream's dependency descriptor is forwarded with it: for
    /// AV1 SVC alone, one stream whose structure and frame numbers go on
    /// unchanged. A simulcast encoding switched to would bring its own
    /// numbers (a subscriber's decoder would take them for old frames);
    /// VP8 and H264 decode without it.
    pub fn forwards_descriptor(&self) -> bool {
        self.encodings.len() <= 1 && self.codecs.iter().any(|codec| codec.format == PayloadFormat::Av1)
    }
}

pub fn parse_receive_parameters(value: &Value, kind: MediaKind, room: &RtpCapabilities) -> Result<ReceiveParameters, WorkerError> {
    let normalised = without_nulls(value);
    let object = normalised.as_object().ok_or_else(|| {
        WorkerError::type_error(format!("rtpParameters must be a dict, not {}", json_type(value)))
    })?;
    let mid = match object.get("mid") {
        None => None,
        Some(Value::String(mid)) if !mid.is_empty() => Some(sdes_item(mid, "rtpParameters.mid")?),
        Some(other) => return Err(WorkerError::type_error(format!("rtpParameters.mid must be a non-empty str, not {}", json_type(other)))),
    };
    let codecs = object
        .get("codecs")
        .and_then(Value::as_array)
        .ok_or_else(|| WorkerError::type_error("rtpParameters.codecs must be a list"))?;
    if codecs.is_empty() {
        return Err(WorkerError::value_error("rtpParameters.codecs is empty: a stream needs a codec"));
    }
    let mut payload_types = BTreeSet::new();
    let mut parsed = Vec::new();
    for (index, codec) in codecs.iter().enumerate() {
        let at = format!("rtpParameters.codecs[{index}]");
        let codec = codec.as_object().ok_or_else(|| WorkerError::type_error(format!("{at} must be a dict")))?;
        let mime_type = codec
            .get("mimeType")
            .and_then(Value::as_str)
            .ok_or_else(|| WorkerError::type_error(format!("{at}.mimeType must be a str")))?;
        let (mime_kind, name) = mime_type
            .split_once('/')
            .ok_or_else(|| WorkerError::value_error(format!("{at}.mimeType must look like 'video/VP8', not '{mime_type}'")))?;
        if !mime_kind.eq_ignore_ascii_case(kind.as_str()) {
            return Err(WorkerError::value_error(format!("{at}.mimeType '{mime_type}' does not match the receiver's kind '{}'", kind.as_str())));
        }
        let payload_type = required_int(codec, "payloadType", &at, 0..=127)?;
        let payload_type = u8::try_from(payload_type).ok().filter(|pt| is_usable_payload_type(*pt)).ok_or_else(|| {
            WorkerError::value_error(format!("{at}.payloadType must be 0-63 or 96-127, not {payload_type}"))
        })?;
        if !payload_types.insert(payload_type) {
            return Err(WorkerError::value_error(format!("{at}.payloadType {payload_type} is used by another codec")));
        }
        let clock_rate = required_int(codec, "clockRate", &at, 1..=u64::from(u32::MAX))? as u32;
        let channels = match codec.get("channels") {
            None => None,
            Some(value) => Some(value.as_u64().filter(|count| (1..=255).contains(count)).ok_or_else(|| {
                WorkerError::value_error(format!("{at}.channels must be an int of 1-255, not {value}"))
            })?),
        };
        parsed.push(ParsedCodec {
            at,
            is_rtx: name.eq_ignore_ascii_case("rtx"),
            mime_type: mime_type.to_owned(),
            payload_type,
            clock_rate,
            channels,
            parameters: codec.get("parameters").cloned(),
        });
    }

    let mut mappings = Vec::new();
    for codec in parsed.iter().filter(|codec| !codec.is_rtx) {
        let room_codec = room
            .codecs
            .iter()
            .find(|room_codec| matches_room_codec(room_codec, codec))
            .ok_or_else(|| {
                WorkerError::unsupported(format!(
                    "{} '{}' ({} Hz{}) is not among the room's codecs",
                    codec.at,
                    codec.mime_type,
                    codec.clock_rate,
                    codec.channels.map(|c| format!(", {c} channels")).unwrap_or_default()
                ))
            })?;
        let rtx = parsed
            .iter()
            .find(|other| other.is_rtx && other.apt() == Some(u64::from(codec.payload_type)))
            .map(|other| other.payload_type);
        mappings.push(CodecMapping {
            payload_type: codec.payload_type,
            rtx_payload_type: rtx,
            room_payload_type: room_codec.preferred_payload_type,
            clock_rate: codec.clock_rate,
            format: PayloadFormat::of_mime_type(&room_codec.mime_type),
        });
    }
    if mappings.is_empty() {
        return Err(WorkerError::value_error("rtpParameters.codecs has only RTX: a stream needs a media codec"));
    }
    for codec in parsed.iter().filter(|codec| codec.is_rtx) {
        if !codec.apt().is_some_and(|apt| mappings.iter().any(|mapping| u64::from(mapping.payload_type) == apt)) {
            return Err(WorkerError::value_error(format!("{} is RTX for no media codec of the list (parameters.apt)", codec.at)));
        }
    }

    let encodings = parse_encodings(object.get("encodings"), &payload_types)?;
    if let Some(extensions) = object.get("headerExtensions") {
        let extensions = extensions.as_array().ok_or_else(|| WorkerError::type_error("rtpParameters.headerExtensions must be a list"))?;
        let mut ids = BTreeSet::new();
        for (index, extension) in extensions.iter().enumerate() {
            let at = format!("rtpParameters.headerExtensions[{index}]");
            let extension = extension.as_object().ok_or_else(|| WorkerError::type_error(format!("{at} must be a dict, not {}", json_type(extension))))?;
            required_str(extension, "uri", &at)?;
            let id = required_int(extension, "id", &at, 1..=255)?;
            if !ids.insert(id) {
                return Err(WorkerError::value_error(format!("{at}.id {id} is used twice")));
            }
        }
    }
    if let Some(rtcp) = object.get("rtcp") {
        let rtcp = rtcp.as_object().ok_or_else(|| WorkerError::type_error("rtpParameters.rtcp must be a dict"))?;
        match rtcp.get("cname") {
            None | Some(Value::Null) => {}
            Some(Value::String(cname)) => {
                sdes_item(cname, "rtpParameters.rtcp.cname")?;
            }
            Some(_) => return Err(WorkerError::type_error("rtpParameters.rtcp.cname must be a str")),
        }
    }

    let mut normalised = normalised.clone();
    if let Some(object) = normalised.as_object_mut() {
        object.entry("headerExtensions").or_insert_with(|| json!([]));
        object.entry("rtcp").or_insert_with(|| json!({}));
    }
    Ok(ReceiveParameters { normalised, mid, codecs: mappings, encodings })
}

fn parse_encodings(value: Option<&Value>, payload_types: &BTreeSet<u8>) -> Result<Vec<Encoding>, WorkerError> {
    let Some(value) = value else {
        return Err(WorkerError::value_error("rtpParameters.encodings is missing: name the stream by ssrc or rid"));
    };
    let list = value.as_array().ok_or_else(|| WorkerError::type_error("rtpParameters.encodings must be a list"))?;
    if list.is_empty() {
        return Err(WorkerError::value_error("rtpParameters.encodings is empty: name the stream by ssrc or rid"));
    }
    if list.len() > MAX_ENCODINGS {
        return Err(WorkerError::value_error(format!("rtpParameters.encodings has {} entries: a stream has {MAX_ENCODINGS} at most", list.len())));
    }
    let mut encodings = Vec::new();
    for (index, encoding) in list.iter().enumerate() {
        let at = format!("rtpParameters.encodings[{index}]");
        let encoding = encoding.as_object().ok_or_else(|| WorkerError::type_error(format!("{at} must be a dict")))?;
        let ssrc = optional_ssrc(encoding, "ssrc", &at)?;
        let rid = match encoding.get("rid") {
            None => None,
            Some(Value::String(rid)) if !rid.is_empty() => Some(sdes_item(rid, &format!("{at}.rid"))?),
            Some(_) => return Err(WorkerError::type_error(format!("{at}.rid must be a non-empty str"))),
        };
        if ssrc.is_none() && rid.is_none() {
            return Err(WorkerError::value_error(format!("{at} has neither ssrc nor rid")));
        }
        for (key, minimum) in ENCODING_NUMBERS {
            let Some(value) = encoding.get(key) else { continue };
            if !value.is_number() {
                return Err(WorkerError::type_error(format!("{at}.{key} must be a number, not {}", json_type(value))));
            }
            if !value.as_f64().is_some_and(|number| number >= minimum) {
                return Err(WorkerError::value_error(format!("{at}.{key} must be a number >= {minimum}, not {value}")));
            }
        }
        let rtx_ssrc = match encoding.get("rtx") {
            None => None,
            Some(Value::Object(rtx)) => optional_ssrc(rtx, "ssrc", &format!("{at}.rtx"))?,
            Some(_) => return Err(WorkerError::type_error(format!("{at}.rtx must be a dict"))),
        };
        if let Some(pt) = encoding.get("codecPayloadType") {
            let named = pt.as_u64().and_then(|pt| u8::try_from(pt).ok());
            if !named.is_some_and(|pt| payload_types.contains(&pt)) {
                return Err(WorkerError::value_error(format!("{at}.codecPayloadType {pt} names no codec of rtpParameters.codecs")));
            }
        }
        encodings.push(Encoding { ssrc, rid, rtx_ssrc });
    }
    let ssrcs: Vec<u32> = encodings.iter().flat_map(|e| e.ssrc.into_iter().chain(e.rtx_ssrc)).collect();
    if ssrcs.iter().collect::<BTreeSet<_>>().len() != ssrcs.len() {
        return Err(WorkerError::value_error("rtpParameters.encodings use an ssrc twice"));
    }
    Ok(encodings)
}

/// The optional numbers of an encoding, each with its least value (mediasoup's
/// `RtpEncodingParameters`; W3C's `scaleResolutionDownBy` is at least 1).
const ENCODING_NUMBERS: [(&str, f64); 3] = [("maxBitrate", 0.0), ("maxFramerate", 0.0), ("scaleResolutionDownBy", 1.0)];

/// A mid, rid or CNAME: each travels as an RTCP SDES item or an RTP header
/// extension, which carry at most 255 bytes.
fn sdes_item(text: &str, at: &str) -> Result<String, WorkerError> {
    if text.len() > 255 {
        return Err(WorkerError::value_error(format!("{at} has at most 255 bytes, not {}", text.len())));
    }
    Ok(text.to_owned())
}

fn optional_ssrc(object: &Map<String, Value>, key: &str, at: &str) -> Result<Option<u32>, WorkerError> {
    match object.get(key) {
        None => Ok(None),
        Some(value) => Ok(Some(int_in(value, &format!("{at}.{key}"), 0..=u64::from(u32::MAX))? as u32)),
    }
}

/// A codec of the given parameters, checked.
struct ParsedCodec {
    at: String,
    is_rtx: bool,
    mime_type: String,
    payload_type: u8,
    clock_rate: u32,
    channels: Option<u64>,
    parameters: Option<Value>,
}

impl ParsedCodec {
    fn apt(&self) -> Option<u64> {
        self.parameters.as_ref().and_then(|parameters| parameters.get("apt")).and_then(Value::as_u64)
    }
}

/// Whether `codec` is the room's `room_codec` ([`codec_match`]).
fn matches_room_codec(room_codec: &RtpCodecCapability, codec: &ParsedCodec) -> bool {
    let no_parameters = Map::new();
    let parameters = codec.parameters.as_ref().and_then(Value::as_object).unwrap_or(&no_parameters);
    let codec = CodecRef { mime_type: &codec.mime_type, clock_rate: codec.clock_rate, channels: codec.channels, parameters };
    codec_match(CodecRef::of_room(room_codec), codec).is_some()
}

/// `value` without the keys whose value is None, at every depth.
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), without_nulls(v))).collect(),
        ),
        Value::Array(list) => Value::Array(list.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
#[path = "parameters_tests.rs"]
mod tests;
