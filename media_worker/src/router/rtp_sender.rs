//! An RtpSender in the worker: one receiver's stream forwarded to one other
//! peer, with its own SSRC (and RTX SSRC), the payload type its transport
//! gives the codec (the subscriber's own, else the room's), the encoding it
//! forwards ([`LayerSelector`]) and numbers of its own ([`Rewriter`]); a
//! pipe's sender forwards every encoding instead ([`EveryLayer`]).

use std::time::Instant;

use serde_json::{json, Map, Value};

use str0m::rtp::ExtensionMap;

use super::every_layer::EveryLayer;
use super::layer_selector::{LayerActivity, LayerSelector, Layers, Selection, StreamShape};
use super::rewriter::Rewriter;
use super::rtp_receiver::RtpReceiver;
use crate::error::WorkerError;
use crate::rtp::capabilities::{MediaKind, RtpCapabilities, RtpCodecCapability};
use crate::rtp::codec_table::{str0m_extension, SendTables};
use crate::rtp::codecs::dependency_descriptor;
use crate::rtp::codecs::FrameInfo;
use crate::rtp::packet::{IncomingRtp, OutgoingRtp};
use crate::rtp::stats::{RateWindow, RtcpCounters};

/// Header extensions a subscriber is given when its capabilities name them:
/// per-packet media information, and the ones its transport writes (mid,
/// abs-send-time, transport-wide sequence numbers). rid and repaired-rid
/// name a publisher's encodings and never reach a subscriber.
const FORWARDED_EXTENSIONS: &[&str] = &[
    "urn:ietf:params:rtp-hdrext:sdes:mid",
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "urn:3gpp:video-orientation",
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time",
    "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
    dependency_descriptor::URI,
];

/// Who a sender is: its id, the subscribing peer, the mid it is sent under
/// on any of that peer's transports, and its SSRC and RTX SSRC; a pipe's
/// sender (`every_layer`) has an SSRC per encoding of the stream, the first
/// of them `ssrcs.0`, and no RTX.
pub struct SenderIdentity {
    pub id: String,
    pub peer_id: String,
    pub mid: String,
    pub ssrcs: (u32, u32),
    pub every_layer: Option<Vec<u32>>,
}

#[derive(Debug, Clone)]
pub struct RtpSender {
    pub id: String,
    /// The subscribing peer.
    pub peer_id: String,
    pub receiver_id: String,
    pub kind: MediaKind,
    /// The consumer `rtpParameters` the subscriber's client is given.
    pub parameters: Value,
    pub ssrc: u32,
    /// The RTX SSRC, where the sender's transport can retransmit.
    pub rtx_ssrc: Option<u32>,
    /// The RTX SSRC it has, should its transport retransmit.
    rtx_candidate: u32,
    /// The payload type of its codec on its transport (the peer's, else the room's).
    pub payload_type: u8,
    /// The room's codec it sends, and that codec's RTX if the peer takes it.
    codec: RtpCodecCapability,
    rtx_codec: Option<RtpCodecCapability>,
    /// The mid the stream is declared under on the subscriber's transport.
    pub mid: String,
    /// Set by `setTransport`, with the worker's key of that transport.
    pub transport_id: Option<String>,
    pub transport_key: Option<u32>,
    layers: LayerSelector,
    rewriter: Rewriter,
    /// A pipe's sender: every encoding forwarded (`layers` and `rewriter` unused).
    every_layer: Option<EveryLayer>,
    /// `disable()`d: nothing is forwarded.
    pub paused: bool,
    pub packets_sent: u64,
    pub bytes_sent: u64,
    rate: RateWindow,
    /// The fraction of its packets the subscriber's latest receiver report said were lost.
    pub fraction_lost: Option<f32>,
    /// The score last reported (see [`Self::take_score_change`]).
    reported_score: Option<u8>,
    /// `setPriority`: its share of its transport's bandwidth (1 to 255; see [`super::bandwidth`]).
    pub priority: u8,
}

impl RtpSender {
    /// A sender of `receiver`'s stream for a peer with `capabilities`, or
    /// `UnsupportedError` if that peer cannot decode it. `tables` are those
    /// of a transport of that peer (see [`Self::adopt`] for when the
    /// sender's transport has others).
    pub fn new(identity: SenderIdentity, receiver: &RtpReceiver, room: &RtpCapabilities, capabilities: &Value, tables: &SendTables) -> Result<Self, WorkerError> {
        let SenderIdentity { id, peer_id, mid, ssrcs, every_layer } = identity;
        let mapping = receiver
            .parameters
            .codecs
            .first()
            .ok_or_else(|| WorkerError::internal("a receiver without codecs"))?;
        let room_codec = room
            .codecs
            .iter()
            .find(|codec| codec.preferred_payload_type == mapping.room_payload_type)
            .ok_or_else(|| WorkerError::internal("a receiver's codec is not the room's"))?;
        let peer_codecs = capabilities["codecs"].as_array().cloned().unwrap_or_default();
        let decodes = |mime: &str, clock_rate: u32| {
            peer_codecs.iter().any(|codec| {
                codec["mimeType"].as_str().is_some_and(|m| m.eq_ignore_ascii_case(mime))
                    && codec["clockRate"].as_u64() == Some(u64::from(clock_rate))
            })
        };
        if !decodes(&room_codec.mime_type, room_codec.clock_rate) {
            return Err(WorkerError::unsupported(format!(
                "peer {peer_id} cannot decode {} ({} Hz)",
                room_codec.mime_type, room_codec.clock_rate
            )));
        }
        let rtx_codec = room
            .codecs
            .iter()
            .find(|codec| codec.mime_type == "video/rtx" && codec.parameters.get("apt") == Some(&json!(room_codec.preferred_payload_type)))
            .filter(|_| decodes("video/rtx", 90000))
            .cloned();
        let (ssrc, rtx_candidate) = ssrcs;
        let cname = receiver.parameters.normalised["rtcp"]["cname"].as_str().unwrap_or("mediasoup").to_owned();
        let mut sender = Self {
            id,
            peer_id,
            receiver_id: receiver.id.clone(),
            kind: receiver.kind,
            parameters: json!({"mid": mid, "rtcp": {"cname": cname, "reducedSize": true}}),
            ssrc,
            rtx_ssrc: None,
            rtx_candidate,
            payload_type: room_codec.preferred_payload_type,
            codec: room_codec.clone(),
            rtx_codec,
            mid,
            transport_id: None,
            transport_key: None,
            layers: LayerSelector::default(),
            rewriter: Rewriter::new(room_codec.clock_rate),
            every_layer: every_layer.map(|ssrcs| EveryLayer::new(&ssrcs, room_codec.clock_rate, receiver.parameters.normalised["encodings"].clone())),
            paused: false,
            packets_sent: 0,
            bytes_sent: 0,
            rate: RateWindow::default(),
            fraction_lost: None,
            reported_score: None,
            priority: 1,
        };
        sender.adopt(room, capabilities, tables).map_err(|error| WorkerError::unsupported(error.to_string()))?;
        Ok(sender)
    }

    /// How a received packet of spatial layer `spatial` leaves this sender,
    /// or None if it does not: its SSRC and payload type, a sequence number
    /// continuous with what it sent before, a timestamp continuous across a
    /// change of source, and VP8 ids to write where its own would jump.
    /// `true` in the second field says the subscriber needs a keyframe: a
    /// source replaced another without starting at one (a codec whose
    /// keyframes are not read), or an SVC stream restarted lower (see
    /// [`Selection::Restart`]).
    pub fn rewrite(&mut self, packet: &IncomingRtp, frame: &FrameInfo, spatial: u8, stream: StreamShape<'_>) -> (Option<OutgoingRtp>, bool) {
        if let Some(every_layer) = &mut self.every_layer {
            // Simulcast: the spatial layer is the encoding; otherwise (SVC too) one encoding carries all.
            let encoding = if stream.encodings > 1 { spatial } else { 0 };
            let Some(piped) = every_layer.rewrite(encoding, packet, frame) else { return (None, false) };
            self.count(packet);
            let rtp = OutgoingRtp {
                ssrc: piped.ssrc,
                payload_type: self.payload_type,
                sequence_number: piped.sequence_number,
                timestamp: piped.timestamp,
                marker: packet.marker,
                nackable: false,
                vp8_ids: piped.vp8_ids,
                drops_queued: false,
            };
            return (Some(rtp), piped.needs_keyframe);
        }
        let before = self.layers.current_spatial();
        let (needs_keyframe, drops_queued) = match self.layers.select(packet, frame, spatial, stream) {
            Selection::Forward => (false, false),
            Selection::Restart => (true, true),
            Selection::Drop => return (None, false),
            Selection::Skip => {
                self.rewriter.skip(packet, frame.vp8);
                return (None, false);
            }
            Selection::Start { replaced } => {
                self.rewriter.start_source(packet);
                (replaced && !frame.keyframe, frame.keyframe && before.is_some_and(|before| spatial < before))
            }
        };
        let Some((sequence_number, timestamp)) = self.rewriter.rewrite(packet) else { return (None, needs_keyframe) };
        let vp8_ids = frame.vp8.and_then(|ids| self.rewriter.rewrite_vp8(ids));
        self.count(packet);
        let rtp = OutgoingRtp {
            ssrc: self.ssrc,
            payload_type: self.payload_type,
            sequence_number,
            timestamp,
            marker: packet.marker || self.layers.ends_picture(frame, spatial),
            // str0m resends from its buffer only where an RTX SSRC exists.
            nackable: self.rtx_ssrc.is_some(),
            vp8_ids,
            drops_queued,
        };
        (Some(rtp), needs_keyframe)
    }

    fn count(&mut self, packet: &IncomingRtp) {
        self.packets_sent += 1;
        self.bytes_sent += packet.payload_len as u64;
        self.rate.record(packet.payload_len, packet.arrival);
    }

    /// Whether it is a pipe's sender, forwarding every encoding.
    pub fn forwards_every_layer(&self) -> bool {
        self.every_layer.is_some()
    }

    /// The SSRCs its packets leave with (one per encoding for a pipe's sender).
    pub fn media_ssrcs(&self) -> Vec<u32> {
        match &self.every_layer {
            Some(every_layer) => every_layer.ssrcs().collect(),
            None => vec![self.ssrc],
        }
    }

    /// Whether it writes `ssrc` (media or RTX).
    pub fn writes_ssrc(&self, ssrc: u32) -> bool {
        self.ssrc == ssrc || self.rtx_ssrc == Some(ssrc) || self.every_layer.as_ref().is_some_and(|every_layer| every_layer.encoding_of(ssrc).is_some())
    }

    /// The encoding a pipe's sender sends on `ssrc`.
    pub fn encoding_of(&self, ssrc: u32) -> Option<u8> {
        self.every_layer.as_ref()?.encoding_of(ssrc)
    }

    /// The spatial layer whose keyframe it waits for (to switch to it).
    pub fn wants_keyframe(&self) -> Option<u8> {
        self.layers.wants_keyframe()
    }

    /// `setPreferredLayers`.
    pub fn set_preferred_layers(&mut self, preferred: Layers) {
        self.layers.set_preferred(preferred);
    }

    /// The highest layers its transport's bandwidth allows; `limited`: the
    /// estimate set them (not the preference or the layers sent).
    pub fn set_bandwidth_cap(&mut self, cap: Option<Layers>, limited: bool) {
        self.layers.set_bandwidth_cap(cap, limited);
    }

    /// Whether the bandwidth held it down too recently for its spatial layer to climb.
    pub fn climb_held(&self, now: Instant) -> bool {
        self.layers.climb_held(now)
    }

    /// The spatial layer it forwards now, if any.
    pub fn current_spatial(&self) -> Option<u8> {
        self.layers.current_spatial()
    }

    /// The highest layers it wants (`setPreferredLayers`).
    pub fn preferred_layers(&self) -> Layers {
        self.layers.preferred()
    }

    /// The layers it forwards, given what the publisher sends.
    pub fn current_layers(&self, activity: &LayerActivity) -> Option<Layers> {
        self.layers.current(activity)
    }

    /// The layers it forwards, if they changed since the last call (for `layerschange`).
    pub fn take_layers_change(&mut self, activity: &LayerActivity) -> Option<Option<Layers>> {
        self.layers.take_change(activity)
    }

    /// How well its subscriber receives the stream now, 0 to 10 (see [`score`]).
    pub fn score(&self, activity: &LayerActivity, now: Instant) -> u8 {
        if self.every_layer.is_some() {
            // Everything the publisher sends is forwarded: only the loss counts.
            let forwarding = (self.packets_sent > 0).then_some(0);
            return score(self.fraction_lost, forwarding, None);
        }
        let best = activity.best_at_most(self.layers.preferred().spatial, now);
        score(self.fraction_lost, self.layers.current_spatial(), best)
    }

    /// Its score, if it changed since the last call (for the `score` event).
    pub fn take_score_change(&mut self, activity: &LayerActivity, now: Instant) -> Option<u8> {
        let score = self.score(activity, now);
        (self.reported_score != Some(score)).then(|| {
            self.reported_score = Some(score);
            score
        })
    }

    /// The mid it is sent under (unique among the subscriber's streams).
    pub fn set_mid(&mut self, mid: String) {
        self.parameters["mid"] = json!(mid);
        self.mid = mid;
    }

    /// The sender writes the payload types and header-extension ids of its
    /// transport's `tables`: the parameters follow them. True if they
    /// changed (the client is told with `parameterschange`); an error if
    /// those tables cannot carry the sender's codec.
    pub fn adopt(&mut self, room: &RtpCapabilities, capabilities: &Value, tables: &SendTables) -> Result<bool, WorkerError> {
        let (payload_type, rtx_payload_type) = tables.payload_types_of(&self.codec).ok_or_else(|| {
            WorkerError::value_error(format!("peer {}'s transport has no payload type for {}", self.peer_id, self.codec.mime_type))
        })?;
        let codec = &self.codec;
        let mut codecs = vec![codec_parameters(&codec.mime_type, payload_type, codec.clock_rate, codec.channels, &codec.parameters, json!(codec.rtcp_feedback))];
        // A pipe's sender has no RTX: its transport (plain, with NACKs) sends a packet again as it was.
        let rtx = self.rtx_codec.as_ref().zip(rtx_payload_type).filter(|_| self.every_layer.is_none());
        if let Some((rtx, rtx_payload_type)) = rtx {
            let mut parameters = rtx.parameters.clone();
            parameters.insert("apt".into(), json!(payload_type));
            codecs.push(codec_parameters("video/rtx", rtx_payload_type, rtx.clock_rate, None, &parameters, json!([])));
        }
        let rtx_ssrc = rtx.map(|_| self.rtx_candidate);
        let mut encoding = json!({"ssrc": self.ssrc});
        if let Some(rtx_ssrc) = rtx_ssrc {
            encoding["rtx"] = json!({"ssrc": rtx_ssrc});
        }
        let header_extensions = subscriber_extensions(self.kind, room, capabilities, &tables.extensions);
        let before = self.parameters.clone();
        self.parameters["codecs"] = Value::Array(codecs);
        self.parameters["headerExtensions"] = header_extensions;
        self.parameters["encodings"] = match &self.every_layer {
            Some(every_layer) => every_layer.parameters(),
            None => json!([encoding]),
        };
        self.payload_type = payload_type;
        self.rtx_ssrc = rtx_ssrc;
        Ok(self.parameters != before)
    }

    /// `disable()`: stop forwarding. What is skipped leaves no gap: on
    /// resume the numbers go on from the last one sent.
    pub fn pause(&mut self) {
        self.paused = true;
        self.rewriter.pause();
        if let Some(every_layer) = &mut self.every_layer {
            every_layer.pause();
        }
    }

    pub fn resume(&mut self) {
        self.paused = false;
    }

    /// `activity`: what its receiver's publisher sends.
    pub fn dump(&self, activity: &LayerActivity, now: Instant) -> Value {
        json!({
            "id": self.id,
            "peerId": self.peer_id,
            "rtpReceiverId": self.receiver_id,
            "kind": self.kind.as_str(),
            "transportId": self.transport_id,
            "mid": self.mid,
            "paused": self.paused,
            "sourceSsrc": self.layers.current_ssrc(),
            "everyLayer": self.every_layer.is_some(),
            "preferredLayers": layers_value(Some(self.layers.preferred())),
            "currentLayers": layers_value(self.layers.current(activity)),
            "score": self.score(activity, now),
            "priority": self.priority,
            "rtpParameters": self.parameters,
        })
    }

    /// Bits per second of payload sent.
    pub fn bitrate(&self, now: Instant) -> u64 {
        self.rate.bitrate(now)
    }

    /// `rtcp`: what the subscriber's feedback and reports said, as its
    /// transport last counted it.
    pub fn stats(&self, now: Instant, now_ms: u64, rtcp: RtcpCounters) -> Value {
        let mut entry = json!({
            "type": "outbound-rtp",
            "timestamp": now_ms,
            "kind": self.kind.as_str(),
            "ssrc": self.ssrc,
            "payloadType": self.payload_type,
            "packetsSent": self.packets_sent,
            "bytesSent": self.bytes_sent,
            "bitrate": self.rate.bitrate(now),
        });
        rtcp.write_outbound(&mut entry);
        let Some(every_layer) = &self.every_layer else { return json!([entry]) };
        // A pipe's sender: an entry per encoding; the first has the bitrate and RTCP of all.
        let entries: Vec<Value> = every_layer
            .counts()
            .enumerate()
            .map(|(index, (ssrc, packets, bytes))| {
                let mut encoding = if index == 0 { entry.clone() } else { json!({"type": "outbound-rtp", "timestamp": now_ms, "kind": self.kind.as_str(), "payloadType": self.payload_type}) };
                encoding["ssrc"] = json!(ssrc);
                encoding["packetsSent"] = json!(packets);
                encoding["bytesSent"] = json!(bytes);
                encoding
            })
            .collect();
        Value::Array(entries)
    }
}

/// A sender's score: how well its subscriber receives the stream, from 0
/// (nothing forwarded) to 10. From the loss its subscriber reports
/// (`10 × (1 − loss)⁴`, rounded: 1 % lost scores 10, 5 % 8, 10 % 7, 20 %
/// 4), less [`LAYER_GAP_PENALTY`] per spatial layer between the one
/// forwarded (`current`) and the best it would get at its preference from
/// what the publisher sends (`best`): a subscriber held down by its
/// bandwidth scores lower; one held down by its own preference does not.
pub fn score(fraction_lost: Option<f32>, current: Option<u8>, best: Option<u8>) -> u8 {
    let Some(current) = current else { return 0 };
    let lost = fraction_lost.filter(|lost| lost.is_finite()).unwrap_or(0.0);
    let delivered = 1.0 - f64::from(lost).clamp(0.0, 1.0);
    let from_loss = (10.0 * delivered.powi(4)).round() as u8;
    let gap = best.map_or(0, |best| best.saturating_sub(current));
    from_loss.saturating_sub(gap.saturating_mul(LAYER_GAP_PENALTY))
}

/// What each spatial layer a sender is below its best costs its score.
pub const LAYER_GAP_PENALTY: u8 = 2;

/// Layers as the API writes them: `{'spatialLayer', 'temporalLayer'}`, or
/// None; a preference for the highest layers is None too.
/// A temporal layer of `u8::MAX` (the highest) is written None.
pub fn layers_value(layers: Option<Layers>) -> Value {
    match layers {
        Some(layers) if layers.spatial != u8::MAX => {
            let temporal = (layers.temporal != u8::MAX).then_some(layers.temporal);
            json!({"spatialLayer": layers.spatial, "temporalLayer": temporal})
        }
        _ => Value::Null,
    }
}

/// The consumer's `headerExtensions`: the room's extensions of this kind
/// that the subscriber's capabilities name, at the ids of the transport's
/// map (which are the subscriber's own where they could be honoured).
fn subscriber_extensions(kind: MediaKind, room: &RtpCapabilities, capabilities: &Value, extensions: &ExtensionMap) -> Value {
    let peer = capabilities["headerExtensions"].as_array().cloned().unwrap_or_default();
    let extensions: Vec<Value> = room
        .header_extensions
        .iter()
        .filter(|ext| ext.kind == kind && FORWARDED_EXTENSIONS.contains(&ext.uri.as_str()))
        .filter_map(|ext| {
            peer.iter().find(|theirs| {
                theirs["uri"].as_str() == Some(ext.uri.as_str())
                    && theirs["kind"].as_str().is_none_or(|their_kind| their_kind == kind.as_str())
            })?;
            let id = extensions.id_of(str0m_extension(&ext.uri)?)?;
            Some(json!({"uri": ext.uri, "id": id, "encrypt": false, "parameters": {}}))
        })
        .collect();
    Value::Array(extensions)
}

fn codec_parameters(mime_type: &str, payload_type: u8, clock_rate: u32, channels: Option<u8>, parameters: &Map<String, Value>, feedback: Value) -> Value {
    let mut codec = json!({
        "mimeType": mime_type,
        "payloadType": payload_type,
        "clockRate": clock_rate,
        "parameters": parameters,
        "rtcpFeedback": feedback,
    });
    if let Some(channels) = channels {
        codec["channels"] = json!(channels);
    }
    codec
}

#[cfg(test)]
#[path = "rtp_sender_tests.rs"]
mod tests;
