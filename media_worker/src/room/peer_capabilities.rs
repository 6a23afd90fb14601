//! The `RtpCapabilities` an endpoint can receive (`peer.setCapabilities`),
//! e.g. `device.rtpCapabilities` of mediasoup-client or pymediasoup:
//! validated and normalised. Keys the server does not use are dropped, and
//! None stands for an absent optional value, as pydantic dumps write it.

use serde_json::{json, Map, Value};

use crate::error::{int_in, json_type, required_int, required_str, WorkerError};
use crate::rtp::capabilities::is_usable_payload_type;

/// The most codecs an endpoint can list: one payload type each (7 bits).
pub const MAX_CODECS: usize = 128;
/// The most header extensions: an id of 1-255 each, per kind.
pub const MAX_HEADER_EXTENSIONS: usize = 2 * 255;

/// `list` at `at`, refused past `most` entries (what an endpoint cannot
/// mean, and what would make every stream of its room slow to set up).
fn bounded<'a>(list: &'a Value, at: &str, most: usize) -> Result<&'a Vec<Value>, WorkerError> {
    let entries = as_array(list, at)?;
    if entries.len() > most {
        return Err(WorkerError::value_error(format!("{at} has {} entries: at most {most}", entries.len())));
    }
    Ok(entries)
}

/// The normalised capabilities, or an error naming the field.
pub fn parse_peer_capabilities(value: &Value) -> Result<Value, WorkerError> {
    let object = as_object(value, "rtpCapabilities")?;
    let codecs = match present(object, "codecs") {
        None => Vec::new(),
        Some(codecs) => bounded(codecs, "rtpCapabilities.codecs", MAX_CODECS)?
            .iter()
            .enumerate()
            .map(|(index, codec)| parse_codec(codec, &format!("rtpCapabilities.codecs[{index}]")))
            .collect::<Result<_, _>>()?,
    };
    let header_extensions = match present(object, "headerExtensions") {
        None => Vec::new(),
        Some(extensions) => bounded(extensions, "rtpCapabilities.headerExtensions", MAX_HEADER_EXTENSIONS)?
            .iter()
            .enumerate()
            .map(|(index, extension)| {
                parse_header_extension(extension, &format!("rtpCapabilities.headerExtensions[{index}]"))
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(json!({"codecs": codecs, "headerExtensions": header_extensions}))
}

fn parse_codec(value: &Value, at: &str) -> Result<Value, WorkerError> {
    let object = as_object(value, at)?;
    let mime_type = required_str(object, "mimeType", at)?;
    let Some((mime_kind, _)) = mime_type.split_once('/') else {
        return Err(WorkerError::value_error(format!("{at}.mimeType must look like 'video/VP8', not '{mime_type}'")));
    };
    let mime_kind = mime_kind.to_ascii_lowercase();
    if mime_kind != "audio" && mime_kind != "video" {
        return Err(WorkerError::value_error(format!("{at}.mimeType '{mime_type}' is neither audio nor video")));
    }
    if let Some(kind) = present(object, "kind") {
        let kind = kind.as_str().ok_or_else(|| WorkerError::type_error(format!("{at}.kind must be a str")))?;
        if kind != mime_kind {
            return Err(WorkerError::value_error(format!("{at}.kind '{kind}' does not match mimeType '{mime_type}'")));
        }
    }
    let payload_type = required_int(object, "preferredPayloadType", at, 0..=127)?;
    if !u8::try_from(payload_type).is_ok_and(is_usable_payload_type) {
        return Err(WorkerError::value_error(format!(
            "{at}.preferredPayloadType must be 0-63 or 96-127 (64-95 collide with RTCP), not {payload_type}"
        )));
    }
    let clock_rate = required_int(object, "clockRate", at, 1..=u64::from(u32::MAX))?;
    let mut codec = json!({
        "kind": mime_kind,
        "mimeType": mime_type,
        "preferredPayloadType": payload_type,
        "clockRate": clock_rate,
        "parameters": optional_object(object, "parameters", at)?,
        "rtcpFeedback": optional_array(object, "rtcpFeedback", at)?,
    });
    if let Some(channels) = present(object, "channels") {
        let channels = int_in(channels, &format!("{at}.channels"), 1..=255)?;
        codec["channels"] = json!(channels);
    }
    Ok(codec)
}

fn parse_header_extension(value: &Value, at: &str) -> Result<Value, WorkerError> {
    let object = as_object(value, at)?;
    let uri = required_str(object, "uri", at)?;
    let id = required_int(object, "preferredId", at, 1..=255)?;
    if !(1..=255).contains(&id) {
        return Err(WorkerError::value_error(format!("{at}.preferredId must be 1-255, not {id}")));
    }
    let mut extension = json!({"uri": uri, "preferredId": id});
    if let Some(kind) = present(object, "kind") {
        extension["kind"] = json!(kind.as_str().ok_or_else(|| WorkerError::type_error(format!("{at}.kind must be a str")))?);
    }
    if let Some(encrypt) = present(object, "preferredEncrypt") {
        extension["preferredEncrypt"] = json!(encrypt.as_bool().ok_or_else(|| WorkerError::type_error(format!("{at}.preferredEncrypt must be a bool")))?);
    }
    if let Some(direction) = present(object, "direction") {
        extension["direction"] = json!(direction.as_str().ok_or_else(|| WorkerError::type_error(format!("{at}.direction must be a str")))?);
    }
    Ok(extension)
}

fn present<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|value| !value.is_null())
}

fn as_object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, WorkerError> {
    value.as_object().ok_or_else(|| WorkerError::type_error(format!("{at} must be a dict, not {}", json_type(value))))
}

fn as_array<'a>(value: &'a Value, at: &str) -> Result<&'a Vec<Value>, WorkerError> {
    value.as_array().ok_or_else(|| WorkerError::type_error(format!("{at} must be a list, not {}", json_type(value))))
}

fn optional_object(object: &Map<String, Value>, key: &str, at: &str) -> Result<Value, WorkerError> {
    match present(object, key) {
        None => Ok(json!({})),
        Some(value) => Ok(Value::Object(as_object(value, &format!("{at}.{key}"))?.clone())),
    }
}

fn optional_array(object: &Map<String, Value>, key: &str, at: &str) -> Result<Value, WorkerError> {
    match present(object, key) {
        None => Ok(json!([])),
        Some(value) => Ok(Value::Array(as_array(value, &format!("{at}.{key}"))?.clone())),
    }
}

#[cfg(test)]
#[path = "peer_capabilities_tests.rs"]
mod tests;
