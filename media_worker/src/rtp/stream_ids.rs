//! A publisher's mid and rid, read from an RTP packet's header at the
//! publisher's own header-extension ids (SRTP leaves the header clear).
//!
//! str0m reads extensions at one map per transport, fixed when it is built,
//! but ORTC clients write at their own ids, known only at `receive()`
//! (mediasoup-client in Chromium: mid 4, rid 10, repaired-rid 11). For a
//! stream named by rid alone, the transport learns each layer's SSRC here
//! and declares it to str0m, as mediasoup does per producer.

use std::rc::Rc;

use serde_json::Value;

const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
const RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
const REPAIRED_RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";

/// The ids a publisher writes its mid, rid and repaired rid at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamIdExtensions {
    pub mid: Option<u8>,
    pub rid: Option<u8>,
    pub repaired_rid: Option<u8>,
}

impl StreamIdExtensions {
    /// From `rtpParameters['headerExtensions']` (`[{'uri', 'id'}, …]`).
    pub fn of_parameters(header_extensions: &Value) -> Self {
        let id_of = |uri: &str| {
            header_extensions.as_array()?.iter().find(|extension| extension["uri"].as_str() == Some(uri)).and_then(|extension| {
                u8::try_from(extension["id"].as_u64()?).ok()
            })
        };
        Self { mid: id_of(MID_URI), rid: id_of(RID_URI), repaired_rid: id_of(REPAIRED_RID_URI) }
    }
}

/// What an RTP packet's header names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamIds {
    pub ssrc: u32,
    pub mid: Option<String>,
    pub rid: Option<String>,
    pub repaired_rid: Option<String>,
}

/// The SSRC of an RTP packet (not RTCP), from its first 12 bytes.
pub fn rtp_ssrc(packet: &[u8]) -> Option<u32> {
    let header: &[u8; 12] = packet.get(..12)?.try_into().ok()?;
    let payload_type = header[1] & 0x7f;
    // RFC 5761: payload types 64-95 on a muxed port are RTCP.
    if header[0] >> 6 != 2 || (64..=95).contains(&payload_type) {
        return None;
    }
    Some(u32::from_be_bytes([header[8], header[9], header[10], header[11]]))
}

/// The SSRC of an RTP packet, each of its header extensions (one-byte or
/// two-byte form, RFC 8285) handed to `found(id, value)`. None for RTCP or
/// a header that does not hold together (extensions read until then count).
pub fn for_each_extension(packet: &[u8], mut found: impl FnMut(u8, &[u8])) -> Option<u32> {
    let ssrc = rtp_ssrc(packet)?;
    if packet[0] & 0x10 == 0 {
        return Some(ssrc);
    }
    let csrc_count = usize::from(packet[0] & 0x0f);
    let start = 12 + 4 * csrc_count;
    let profile = u16::from_be_bytes([*packet.get(start)?, *packet.get(start + 1)?]);
    let words = usize::from(u16::from_be_bytes([*packet.get(start + 2)?, *packet.get(start + 3)?]));
    let block = packet.get(start + 4..start + 4 + 4 * words)?;
    let two_byte = profile & 0xfff0 == 0x1000;
    if profile != 0xbede && !two_byte {
        return Some(ssrc);
    }
    let mut index = 0;
    while index < block.len() {
        let (id, len, value_start) = if two_byte {
            let id = block[index];
            if id == 0 {
                index += 1;
                continue;
            }
            (id, usize::from(*block.get(index + 1)?), index + 2)
        } else {
            let byte = block[index];
            if byte == 0 {
                index += 1;
                continue;
            }
            let id = byte >> 4;
            if id == 15 {
                break;
            }
            (id, usize::from(byte & 0x0f) + 1, index + 1)
        };
        found(id, block.get(value_start..value_start + len)?);
        index = value_start + len;
    }
    Some(ssrc)
}

/// The SSRC and the stream ids of an RTP packet, its extensions read at
/// `ids`. None for RTCP or a header that does not hold together.
pub fn read_stream_ids(packet: &[u8], ids: StreamIdExtensions) -> Option<StreamIds> {
    let mut found = StreamIds::default();
    let text = |value: &[u8]| std::str::from_utf8(value).ok().map(|text| text.trim_end_matches('\0').to_owned());
    let ssrc = for_each_extension(packet, |id, value| {
        if Some(id) == ids.mid {
            found.mid = text(value);
        } else if Some(id) == ids.rid {
            found.rid = text(value);
        } else if Some(id) == ids.repaired_rid {
            found.repaired_rid = text(value);
        }
    })?;
    Some(StreamIds { ssrc, ..found })
}

/// The SSRC of an RTP packet and its RFC 6464 audio level (dBov, -127..0)
/// read at extension `id`, if it carries one.
pub fn read_audio_level(packet: &[u8], id: u8) -> Option<(u32, i8)> {
    let mut level = None;
    let ssrc = for_each_extension(packet, |found, value| {
        if found == id {
            level = value.first().map(|byte| -((byte & 0x7f) as i8));
        }
    })?;
    Some((ssrc, level?))
}

/// The layers of a transport's streams named by rid alone, until their
/// SSRCs (and their RTX SSRCs) are learnt from their packets.
#[derive(Debug, Default)]
pub struct RidLayers {
    layers: Vec<RidLayer>,
}

#[derive(Debug)]
struct RidLayer {
    receiver: Rc<str>,
    mid: String,
    rid: String,
    ids: StreamIdExtensions,
    ssrc: Option<u32>,
    rtx_ssrc: Option<u32>,
}

/// What a packet taught: `new_ssrc` belongs to layer `rid` of `mid`, whose
/// stream is now `ssrc` repaired by `rtx_ssrc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearntLayer {
    pub receiver: Rc<str>,
    pub mid: String,
    pub rid: String,
    pub ssrc: u32,
    pub rtx_ssrc: Option<u32>,
    pub new_ssrc: u32,
}

impl RidLayers {
    /// The layers `rids` of the stream `mid` of `receiver`, whose publisher
    /// writes the stream ids at `ids`.
    pub fn add(&mut self, receiver: Rc<str>, mid: &str, rids: impl IntoIterator<Item = String>, ids: StreamIdExtensions) {
        for rid in rids {
            self.layers.push(RidLayer { receiver: receiver.clone(), mid: mid.to_owned(), rid, ids, ssrc: None, rtx_ssrc: None });
        }
    }

    pub fn remove(&mut self, receiver: &str) {
        self.layers.retain(|layer| &*layer.receiver != receiver);
    }

    /// Whether a layer still waits for an SSRC.
    pub fn waiting(&self) -> bool {
        self.layers.iter().any(|layer| layer.ssrc.is_none() || layer.rtx_ssrc.is_none())
    }

    /// The layer a packet of an SSRC not known yet belongs to, if its
    /// header names one (by rid, or by repaired rid once the layer's own SSRC
    /// is known); the layer keeps what it learnt.
    pub fn learn(&mut self, packet: &[u8]) -> Option<LearntLayer> {
        let ssrc = rtp_ssrc(packet)?;
        if self.layers.iter().any(|layer| layer.ssrc == Some(ssrc) || layer.rtx_ssrc == Some(ssrc)) {
            return None;
        }
        for layer in &mut self.layers {
            let ids = read_stream_ids(packet, layer.ids)?;
            if ids.mid.as_ref().is_some_and(|mid| *mid != layer.mid) {
                continue;
            }
            if layer.ssrc.is_none() && ids.rid.as_deref() == Some(layer.rid.as_str()) {
                layer.ssrc = Some(ssrc);
            } else if layer.ssrc.is_some() && layer.rtx_ssrc.is_none() && ids.repaired_rid.as_deref() == Some(layer.rid.as_str()) {
                layer.rtx_ssrc = Some(ssrc);
            } else {
                continue;
            }
            return Some(LearntLayer {
                receiver: layer.receiver.clone(),
                mid: layer.mid.clone(),
                rid: layer.rid.clone(),
                ssrc: layer.ssrc?,
                rtx_ssrc: layer.rtx_ssrc,
                new_ssrc: ssrc,
            });
        }
        None
    }
}

#[cfg(test)]
#[path = "stream_ids_tests.rs"]
mod tests;
