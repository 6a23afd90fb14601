//! A transport's payload-type table and header-extension map. str0m fixes
//! both when the `Rtc` is built: it drops RTP whose payload type is not in
//! the table, and reads and writes header extensions at the map's ids. So
//! both are decided before the first packet (docs/transports.md, "Payload
//! types"). The payload-type table comes from:
//! 1. the peer's own capabilities, with their RTX: an SDP endpoint sends
//!    with the payload types it offered and expects them on what it receives,
//!    so a sender writes the room's codec at the peer's payload type for it
//!    ([`SendTables::payload_types_of`]);
//! 2. the room's codecs at the room's preferred payload types, where free:
//!    what mediasoup clients (whose capabilities are the room's) use;
//! 3. every other usable dynamic payload type as a placeholder, so RTP from
//!    a publisher whose codecs are only named later (`receive()`) is not lost.
//!
//! The extension map holds the room's extensions, at the peer's ids where its
//! capabilities name them (what its client sends and expects), else at the
//! room's (what mediasoup clients use).

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use str0m::format::{Codec, CodecConfig, FormatParams};
use str0m::media::{Frequency, Pt};
use str0m::rtp::{Extension, ExtensionMap};

use crate::rtp::capabilities::{codec_match, dynamic_payload_types, is_usable_payload_type, CodecRef, RtpCapabilities, RtpCodecCapability};
use crate::rtp::codecs::dependency_descriptor::{self, DescriptorExtension};

/// One codec of a capabilities list (room's or peer's), as the table needs it.
struct CodecRow {
    mime_type: String,
    payload_type: u8,
    clock_rate: u32,
    channels: Option<u8>,
    parameters: Map<String, Value>,
}

/// A codec a transport's table holds, at a payload type and with the RTX
/// payload type that repairs it: what a sender on that transport writes for
/// one of the room's codecs.
#[derive(Debug, Clone)]
pub struct TableCodec {
    pub payload_type: u8,
    pub rtx: Option<u8>,
    mime_type: String,
    clock_rate: u32,
    channels: Option<u8>,
    parameters: Map<String, Value>,
}

/// The highest header-extension id str0m reads and writes.
pub const MAX_EXTENSION_ID: u8 = 16;

/// What a sender writes on a transport: payload types and header-extension ids.
#[derive(Debug, Clone)]
pub struct SendTables {
    /// The codecs of the table, the peer's first (placeholders left out).
    pub codecs: Vec<TableCodec>,
    pub extensions: ExtensionMap,
}

impl SendTables {
    /// The tables a transport of a room with `room` capabilities would have,
    /// for a peer whose capabilities are `peer`.
    pub fn new(room: &RtpCapabilities, peer: Option<&Value>) -> Self {
        Self { codecs: table_codecs(room, peer), extensions: transport_extension_map(room, peer) }
    }

    /// The payload type (and RTX payload type) at which this table holds the
    /// room's `codec`: the peer's own where its capabilities name the codec
    /// (what an SDP endpoint offered), else the room's; the closest match
    /// ([`codec_match`]) first.
    pub fn payload_types_of(&self, codec: &RtpCodecCapability) -> Option<(u8, Option<u8>)> {
        self.codecs
            .iter()
            .filter_map(|entry| {
                let carried = CodecRef {
                    mime_type: &entry.mime_type,
                    clock_rate: entry.clock_rate,
                    channels: entry.channels.map(u64::from),
                    parameters: &entry.parameters,
                };
                Some((entry, codec_match(CodecRef::of_room(codec), carried)?))
            })
            .min_by_key(|(_, rank)| *rank)
            .map(|(entry, _)| (entry.payload_type, entry.rtx))
    }

    /// The clock rate of the codec at `payload_type`.
    pub fn clock_rate_of(&self, payload_type: u8) -> Option<u32> {
        self.codecs.iter().find(|entry| entry.payload_type == payload_type).map(|entry| entry.clock_rate)
    }
}

/// What str0m fixes when a transport's `Rtc` is built.
pub struct RtpTables {
    pub codecs: CodecConfig,
    pub send: SendTables,
    /// Whether the endpoint can feed str0m's send-side estimate: its
    /// capabilities name the transport-wide sequence number (or are not
    /// known yet). One that cannot (aiortc) reports REMB instead, and is
    /// sent no probes or padding it would not answer.
    pub transport_cc: bool,
    /// Whether the room asks its transports to estimate the bandwidth
    /// toward their endpoints (`Room(bandwidthEstimation)`; set by the worker).
    pub bandwidth_estimation: bool,
}

const TRANSPORT_CC_URI: &str = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";

/// The tables for a transport of a room with `room` capabilities, for a
/// peer whose capabilities (normalised) are `peer`.
pub fn transport_tables(room: &RtpCapabilities, peer: Option<&Value>) -> RtpTables {
    let send = SendTables::new(room, peer);
    let transport_cc = peer.is_none_or(|peer| {
        peer["headerExtensions"].as_array().is_some_and(|extensions| extensions.iter().any(|ext| ext["uri"].as_str() == Some(TRANSPORT_CC_URI)))
    });
    RtpTables { codecs: codec_config(&send.codecs), send, transport_cc, bandwidth_estimation: false }
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
        dependency_descriptor::URI => Extension::with_serializer(dependency_descriptor::URI, DescriptorExtension),
        _ => return None,
    })
}

/// str0m's table: each RTX payload type first as a plain entry, then
/// `codecs`, then placeholders at every other usable dynamic payload type.
///
/// str0m reads a packet whose payload type it first finds as some codec's
/// RTX as a retransmission, whatever its SSRC. A publisher's media may take
/// such a number: mediasoup-client sends with the browser's own payload
/// types, which no table built before `receive()` can know (Chromium's H264
/// at 108 is the room's AV1 RTX), and every packet was unwrapped as a
/// retransmission. Found as plain entries first, payload types never make a
/// repair: str0m knows repairs by their SSRC (the RTX SSRCs the receive
/// parameters declare) or their repaired-rid; the codec entries after them
/// still give senders their RTX payload types.
fn codec_config(codecs: &[TableCodec]) -> CodecConfig {
    let mut table = CodecConfig::empty();
    let mut taken = BTreeSet::new();
    for rtx in codecs.iter().filter_map(|entry| entry.rtx).collect::<BTreeSet<u8>>() {
        table.add_config(Pt::from(rtx), None, Codec::Vp8, Frequency::NINETY_KHZ, None, FormatParams::default());
    }
    for entry in codecs {
        let Some(clock_rate) = Frequency::new(entry.clock_rate) else { continue };
        let codec = Codec::from(entry.mime_type.split_once('/').map(|(_, name)| name).unwrap_or_default());
        taken.insert(entry.payload_type);
        taken.extend(entry.rtx);
        table.add_config(Pt::from(entry.payload_type), entry.rtx.map(Pt::from), codec, clock_rate, entry.channels, FormatParams::default());
    }
    for payload_type in dynamic_payload_types().filter(|pt| !taken.contains(pt)) {
        table.add_config(Pt::from(payload_type), None, Codec::Vp8, Frequency::NINETY_KHZ, None, FormatParams::default());
    }
    table
}

/// The codecs a transport's table holds: the peer's own payload types first
/// (an SDP endpoint sends and expects those), then the room's where they are
/// free (what mediasoup clients use); each payload type once.
fn table_codecs(room: &RtpCapabilities, peer: Option<&Value>) -> Vec<TableCodec> {
    let room_rows: Vec<CodecRow> = room
        .codecs
        .iter()
        .map(|codec| CodecRow {
            mime_type: codec.mime_type.clone(),
            payload_type: codec.preferred_payload_type,
            clock_rate: codec.clock_rate,
            channels: codec.channels,
            parameters: codec.parameters.clone(),
        })
        .collect();
    let peer_rows: Vec<CodecRow> = peer
        .and_then(|peer| peer["codecs"].as_array())
        .map(|codecs| codecs.iter().filter_map(peer_row).collect())
        .unwrap_or_default();
    let mut codecs = Vec::new();
    let mut taken = BTreeSet::new();
    for mut entry in entries(&peer_rows).into_iter().chain(entries(&room_rows)) {
        if taken.contains(&entry.payload_type) || Frequency::new(entry.clock_rate).is_none() {
            continue;
        }
        entry.rtx = entry.rtx.filter(|rtx| !taken.contains(rtx));
        taken.insert(entry.payload_type);
        taken.extend(entry.rtx);
        codecs.push(entry);
    }
    codecs
}

fn peer_row(codec: &Value) -> Option<CodecRow> {
    Some(CodecRow {
        mime_type: codec["mimeType"].as_str()?.to_owned(),
        payload_type: u8::try_from(codec["preferredPayloadType"].as_u64()?).ok()?,
        clock_rate: u32::try_from(codec["clockRate"].as_u64()?).ok()?,
        channels: codec["channels"].as_u64().and_then(|channels| u8::try_from(channels).ok()),
        parameters: codec["parameters"].as_object().cloned().unwrap_or_default(),
    })
}

/// Media codecs with the RTX payload type that names each (`apt`); codecs
/// str0m does not know, and unusable payload types, are left out.
fn entries(rows: &[CodecRow]) -> Vec<TableCodec> {
    let apt = |row: &CodecRow| row.parameters.get("apt").and_then(Value::as_u64);
    rows.iter()
        .filter(|row| !is_rtx(&row.mime_type) && is_usable_payload_type(row.payload_type))
        .filter_map(|row| {
            let codec = Codec::from(row.mime_type.split_once('/')?.1);
            if matches!(codec, Codec::Unknown | Codec::Rtx | Codec::Red) {
                return None;
            }
            let rtx = rows
                .iter()
                .find(|other| is_rtx(&other.mime_type) && apt(other) == Some(u64::from(row.payload_type)) && is_usable_payload_type(other.payload_type))
                .map(|other| other.payload_type);
            Some(TableCodec {
                payload_type: row.payload_type,
                rtx,
                mime_type: row.mime_type.clone(),
                clock_rate: row.clock_rate,
                channels: row.channels,
                parameters: row.parameters.clone(),
            })
        })
        .collect()
}

fn is_rtx(mime_type: &str) -> bool {
    mime_type.split_once('/').is_some_and(|(_, name)| name.eq_ignore_ascii_case("rtx"))
}

#[cfg(test)]
#[path = "codec_table_tests.rs"]
mod tests;
