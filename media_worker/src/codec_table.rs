//! A transport's payload-type table and header-extension map. str0m fixes
//! both when the `Rtc` is built: it drops RTP whose payload type is not in
//! the table, and reads and writes header extensions at the map's ids. So
//! both are decided before the first packet (docs/transports.md, "Payload
//! types"). The payload-type table comes from:
//! 1. the room's codecs at the room's preferred payload types, with their
//!    RTX: what every sender of the room sends;
//! 2. the peer's own capabilities, for payload types the room does not use;
//! 3. every other usable dynamic payload type as a placeholder, so RTP from
//!    a publisher whose codecs are only named later (`receive()`) is not lost.
//!
//! The extension map holds the room's extensions, at the peer's ids where its
//! capabilities name them (what its client sends and expects), else at the
//! room's (what mediasoup clients use).

use std::collections::BTreeSet;

use serde_json::Value;
use str0m::format::{Codec, CodecConfig, FormatParams};
use str0m::media::{Frequency, Pt};
use str0m::rtp::{Extension, ExtensionMap};

use crate::rtp_capabilities::{dynamic_payload_types, is_usable_payload_type, RtpCapabilities};

/// One codec of a capabilities list (room's or peer's), as the table needs it.
struct CodecRow {
    mime_type: String,
    payload_type: u8,
    clock_rate: u32,
    channels: Option<u8>,
    /// For RTX: the payload type it repairs.
    apt: Option<u64>,
}

/// A codec the table registers, with its RTX payload type.
struct Entry {
    payload_type: u8,
    codec: Codec,
    clock_rate: u32,
    channels: Option<u8>,
    rtx: Option<u8>,
}

/// The highest header-extension id str0m reads and writes.
pub const MAX_EXTENSION_ID: u8 = 16;

/// What str0m fixes when a transport's `Rtc` is built.
pub struct RtpTables {
    pub codecs: CodecConfig,
    pub extensions: ExtensionMap,
}

/// The tables for a transport of a room with `room` capabilities, for a
/// peer whose capabilities (normalised) are `peer`.
pub fn transport_tables(room: &RtpCapabilities, peer: Option<&Value>) -> RtpTables {
    RtpTables { codecs: transport_codec_config(room, peer), extensions: transport_extension_map(room, peer) }
}

/// The header-extension map: each of the room's extensions str0m knows, at
/// the id the peer's capabilities give it, else at the room's id; an id is
/// never given twice (str0m reads ids 1-16).
pub fn transport_extension_map(room: &RtpCapabilities, peer: Option<&Value>) -> ExtensionMap {
    let peer_ids: Vec<(&str, u8)> = peer
        .and_then(|peer| peer["headerExtensions"].as_array())
        .map(|extensions| {
            extensions
                .iter()
                .filter_map(|ext| Some((ext["uri"].as_str()?, u8::try_from(ext["preferredId"].as_u64()?).ok()?)))
                .collect()
        })
        .unwrap_or_default();
    let mut map = ExtensionMap::empty();
    let mut taken = BTreeSet::new();
    let mut mapped = BTreeSet::new();
    let room_uris: Vec<(&str, u8)> = room.header_extensions.iter().map(|ext| (ext.uri.as_str(), ext.preferred_id)).collect();
    let candidates = room_uris
        .iter()
        .filter_map(|(uri, _)| peer_ids.iter().find(|(peer_uri, _)| peer_uri == uri).copied())
        .chain(room_uris.iter().copied());
    for (uri, id) in candidates {
        let Some(extension) = str0m_extension(uri) else { continue };
        if (1..=MAX_EXTENSION_ID).contains(&id) && !taken.contains(&id) && mapped.insert(uri) {
            taken.insert(id);
            map.set(id, extension);
        }
    }
    map
}

/// The str0m extension of a URI the room offers.
pub fn str0m_extension(uri: &str) -> Option<Extension> {
    Some(match uri {
        "urn:ietf:params:rtp-hdrext:sdes:mid" => Extension::RtpMid,
        "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id" => Extension::RtpStreamId,
        "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id" => Extension::RepairedRtpStreamId,
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time" => Extension::AbsoluteSendTime,
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01" => Extension::TransportSequenceNumber,
        "urn:ietf:params:rtp-hdrext:ssrc-audio-level" => Extension::AudioLevel,
        "urn:3gpp:video-orientation" => Extension::VideoOrientation,
        "urn:ietf:params:rtp-hdrext:toffset" => Extension::TransmissionTimeOffset,
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time" => Extension::AbsoluteCaptureTime,
        "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay" => Extension::PlayoutDelay,
        _ => return None,
    })
}

/// The payload-type table for a transport of a room with `room` capabilities, for a peer
/// whose capabilities (normalised, see `peer_capabilities.rs`) are `peer`.
pub fn transport_codec_config(room: &RtpCapabilities, peer: Option<&Value>) -> CodecConfig {
    let room_rows: Vec<CodecRow> = room
        .codecs
        .iter()
        .map(|codec| CodecRow {
            mime_type: codec.mime_type.clone(),
            payload_type: codec.preferred_payload_type,
            clock_rate: codec.clock_rate,
            channels: codec.channels,
            apt: codec.parameters.get("apt").and_then(Value::as_u64),
        })
        .collect();
    let peer_rows: Vec<CodecRow> = peer
        .and_then(|peer| peer["codecs"].as_array())
        .map(|codecs| codecs.iter().filter_map(peer_row).collect())
        .unwrap_or_default();
    let mut table = CodecConfig::empty();
    let mut taken = BTreeSet::new();
    for entry in entries(&room_rows).into_iter().chain(entries(&peer_rows)) {
        if taken.contains(&entry.payload_type) {
            continue;
        }
        let Some(clock_rate) = Frequency::new(entry.clock_rate) else { continue };
        let rtx = entry.rtx.filter(|rtx| !taken.contains(rtx));
        taken.insert(entry.payload_type);
        taken.extend(rtx);
        table.add_config(Pt::from(entry.payload_type), rtx.map(Pt::from), entry.codec, clock_rate, entry.channels, FormatParams::default());
    }
    for payload_type in dynamic_payload_types().filter(|pt| !taken.contains(pt)) {
        table.add_config(Pt::from(payload_type), None, Codec::Vp8, Frequency::NINETY_KHZ, None, FormatParams::default());
    }
    table
}

fn peer_row(codec: &Value) -> Option<CodecRow> {
    Some(CodecRow {
        mime_type: codec["mimeType"].as_str()?.to_owned(),
        payload_type: u8::try_from(codec["preferredPayloadType"].as_u64()?).ok()?,
        clock_rate: u32::try_from(codec["clockRate"].as_u64()?).ok()?,
        channels: codec["channels"].as_u64().and_then(|channels| u8::try_from(channels).ok()),
        apt: codec["parameters"]["apt"].as_u64(),
    })
}

/// Media codecs with the RTX payload type that names each (`apt`); codecs
/// str0m does not know, and unusable payload types, are left out.
fn entries(rows: &[CodecRow]) -> Vec<Entry> {
    rows.iter()
        .filter(|row| !is_rtx(&row.mime_type) && is_usable_payload_type(row.payload_type))
        .filter_map(|row| {
            let codec = Codec::from(row.mime_type.split_once('/')?.1);
            if matches!(codec, Codec::Unknown | Codec::Rtx | Codec::Red) {
                return None;
            }
            let rtx = rows
                .iter()
                .find(|other| {
                    is_rtx(&other.mime_type)
                        && other.apt == Some(u64::from(row.payload_type))
                        && is_usable_payload_type(other.payload_type)
                })
                .map(|other| other.payload_type);
            Some(Entry { payload_type: row.payload_type, codec, clock_rate: row.clock_rate, channels: row.channels, rtx })
        })
        .collect()
}

fn is_rtx(mime_type: &str) -> bool {
    mime_type.split_once('/').is_some_and(|(_, name)| name.eq_ignore_ascii_case("rtx"))
}

#[cfg(test)]
#[path = "codec_table_tests.rs"]
mod tests;
