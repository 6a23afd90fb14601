//! An RtpReceiver in the worker: one stream a peer publishes (its encodings,
//! by SSRC or rid) on one of its transports, and what arrived of it; the
//! router takes its packets to the room's senders.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{json, Value};

use super::layer_selector::{LayerActivity, Layers, StreamShape, MAX_SPATIAL_LAYERS};
use super::keyframes::KEYFRAME_REQUEST_INTERVAL;
use super::TransportKey;
use crate::rtp::capabilities::MediaKind;
use crate::rtp::codecs::dependency_descriptor::DescriptorReader;
use crate::rtp::codecs::{FrameInfo, PayloadFormat};
use crate::rtp::packet::{IncomingRtp, ReadableExtensions};
use crate::rtp::parameters::ReceiveParameters;
use crate::rtp::stats::{InboundStream, RtcpCounters};

#[derive(Debug)]
pub struct RtpReceiver {
    pub id: String,
    pub peer_id: String,
    pub transport_id: String,
    /// The worker's key of that transport: where keyframe requests go.
    pub transport_key: TransportKey,
    pub kind: MediaKind,
    pub parameters: ReceiveParameters,
    /// The mid the transport declared the stream under.
    pub mid: String,
    /// The header extensions its transport reads right, forwarded with the media.
    pub readable: ReadableExtensions,
    streams: BTreeMap<u32, InboundStream>,
    /// The SSRCs its transport learnt for layers named by rid alone.
    learnt_layers: BTreeMap<u32, String>,
    /// What its publisher sends now, per spatial layer.
    pub activity: LayerActivity,
    /// When each spatial layer was last asked for a keyframe for a sender switching to it.
    layer_keyframes: [Option<Instant>; MAX_SPATIAL_LAYERS],
    /// The spatial layers no sender wants, as last reported (simulcast only).
    pub unused_layers: Option<Vec<u8>>,
    /// Each SSRC's dependency descriptors, read in arrival order.
    descriptors: BTreeMap<u32, DescriptorReader>,
}

impl RtpReceiver {
    /// A receiver of a stream arriving on transport (`transport_id`, `transport_key`).
    pub fn new(id: String, peer_id: String, transport: (String, TransportKey), kind: MediaKind, parameters: ReceiveParameters, mid: String) -> Self {
        let (transport_id, transport_key) = transport;
        Self {
            id,
            peer_id,
            transport_id,
            transport_key,
            kind,
            parameters,
            mid,
            readable: ReadableExtensions::default(),
            streams: BTreeMap::new(),
            learnt_layers: BTreeMap::new(),
            activity: LayerActivity::default(),
            layer_keyframes: [None; MAX_SPATIAL_LAYERS],
            unused_layers: None,
            descriptors: BTreeMap::new(),
        }
    }

    /// What the payload of a packet that arrived with `payload_type` says,
    /// with the layers its dependency descriptor (`descriptor`) names where
    /// the payload names none, and
    /// the spatial layer it belongs to (noted as sent now).
    pub fn inspect(&mut self, packet: &IncomingRtp, payload_type: u8, payload: &[u8], descriptor: Option<&[u8]>) -> (FrameInfo, u8) {
        let format = self.format_of(payload_type);
        let mut frame = if self.kind == MediaKind::Video { format.inspect(payload) } else { FrameInfo::default() };
        if let Some(bytes) = descriptor.filter(|_| self.kind == MediaKind::Video) {
            if let Some(read) = self.descriptors.entry(packet.ssrc).or_default().read(bytes) {
                frame = frame.with_descriptor(&read);
            }
        }
        let spatial = match frame.spatial {
            Some(sid) if self.parameters.encodings.len() <= 1 => sid.min(MAX_SPATIAL_LAYERS as u8 - 1),
            _ => self.spatial_of(packet.ssrc),
        };
        self.activity.record(spatial, packet.ssrc, packet.arrival, frame.temporal, packet.payload_len);
        (frame, spatial)
    }

    /// The stream as its senders' layer selectors see it.
    pub fn shape(&self, payload_type: u8) -> StreamShape<'_> {
        StreamShape {
            encodings: self.parameters.encodings.len(),
            keyframes_known: self.format_of(payload_type).knows_keyframes(),
            svc: self.parameters.encodings.len() <= 1 && self.format_of(payload_type).has_spatial_layers(),
            activity: &self.activity,
        }
    }

    /// Whether its stream comes in spatial layers: simulcast (several
    /// encodings) or SVC (one encoding of a codec that has them).
    pub fn is_layered(&self) -> bool {
        let encodings = self.parameters.encodings.len();
        self.kind == MediaKind::Video
            && (encodings > 1 || (encodings == 1 && self.parameters.codecs.first().is_some_and(|codec| codec.format.has_spatial_layers())))
    }

    /// What each layer a sender preferring `preferred` could forward now
    /// costs, lowest first ([`LayerActivity::claimable`]); with SVC a
    /// spatial layer is forwarded with those below it: their bitrates add up.
    pub fn claimable(&self, preferred: Layers, now: Instant) -> Vec<(Layers, u64)> {
        let svc = self.parameters.encodings.len() <= 1 && self.is_layered();
        self.activity.claimable(preferred, svc, now)
    }

    /// The payload format of the codec at the publisher's `payload_type` (or its RTX's).
    fn format_of(&self, payload_type: u8) -> PayloadFormat {
        self.parameters
            .codecs
            .iter()
            .find(|codec| codec.payload_type == payload_type || codec.rtx_payload_type == Some(payload_type))
            .map_or(PayloadFormat::Opaque, |codec| codec.format)
    }

    /// The spatial layer of an SSRC: the index of its encoding (by SSRC, or
    /// by the rid learnt for it), 0 where unknown.
    pub fn spatial_of(&self, ssrc: u32) -> u8 {
        let encodings = &self.parameters.encodings;
        let index = encodings.iter().position(|e| e.ssrc == Some(ssrc)).or_else(|| {
            let rid = self.learnt_layers.get(&ssrc)?;
            encodings.iter().position(|e| e.rid.as_ref() == Some(rid))
        });
        index.map_or(0, |index| index.min(MAX_SPATIAL_LAYERS - 1) as u8)
    }

    /// The SSRC to ask for a keyframe of spatial layer `spatial`, for a
    /// sender switching to it: at most once per interval per layer.
    pub fn layer_keyframe_request(&mut self, spatial: u8, now: Instant) -> Option<u32> {
        let ssrc = self.activity.ssrc_of(spatial)?;
        let last = &mut self.layer_keyframes[usize::from(spatial).min(MAX_SPATIAL_LAYERS - 1)];
        if last.is_some_and(|at| now.saturating_duration_since(at) < KEYFRAME_REQUEST_INTERVAL) {
            return None;
        }
        *last = Some(now);
        Some(ssrc)
    }

    /// Counts a packet of this stream (RTX already unwrapped by str0m) that
    /// arrived with the publisher's `payload_type` (a repair keeps its RTX
    /// payload type: it counts as the codec it repairs).
    pub fn record(&mut self, packet: &IncomingRtp, payload_type: u8) {
        let codec = self
            .parameters
            .codecs
            .iter()
            .find(|codec| codec.payload_type == payload_type || codec.rtx_payload_type == Some(payload_type));
        let payload_type = codec.map_or(payload_type, |codec| codec.payload_type);
        let clock_rate = codec.or(self.parameters.codecs.first()).map_or(90_000, |codec| codec.clock_rate);
        self.streams
            .entry(packet.ssrc)
            .or_insert_with(|| InboundStream::new(packet.sequence_number, clock_rate, packet.arrival))
            .record(packet.sequence_number, packet.timestamp, payload_type, packet.payload_len, packet.arrival);
    }

    /// The rid of the encoding an SSRC belongs to, if it has one.
    pub fn rid_of(&self, ssrc: u32) -> Option<&str> {
        let named = self.parameters.encodings.iter().find(|e| e.ssrc == Some(ssrc)).and_then(|e| e.rid.as_deref());
        named.or_else(|| self.learnt_layers.get(&ssrc).map(String::as_str))
    }

    /// The SSRCs of its encodings (not RTX): those its parameters name, and
    /// those learnt for layers named by rid alone; keyframe requests go there.
    pub fn media_ssrcs(&self) -> Vec<u32> {
        let named = self.parameters.encodings.iter().filter_map(|e| e.ssrc);
        named.chain(self.learnt_layers.keys().copied()).collect()
    }

    /// `ssrc` is the layer `rid` (learnt from its packets).
    pub fn learn_layer(&mut self, ssrc: u32, rid: String) {
        self.learnt_layers.insert(ssrc, rid);
    }

    /// The SSRCs that arrived, in order.
    pub fn ssrcs(&self) -> impl Iterator<Item = u32> + '_ {
        self.streams.keys().copied()
    }

    pub fn dump(&self) -> Value {
        json!({
            "id": self.id,
            "peerId": self.peer_id,
            "transportId": self.transport_id,
            "kind": self.kind.as_str(),
            "mid": self.mid,
            "rtpParameters": self.parameters.normalised,
            "layersUnused": self.unused_layers,
        })
    }

    /// One `inbound-rtp` entry per SSRC; `rtcp(ssrc)` tells what this
    /// worker's RTCP did for it (NACKs and PLIs sent…).
    /// Packets lost on the way in, over its streams (by sequence number).
    pub fn packets_lost(&self) -> u64 {
        self.streams.values().map(InboundStream::packets_lost).sum()
    }

    /// Bits per second arriving, over its streams.
    pub fn bitrate(&self, now: Instant) -> u64 {
        self.streams.values().map(|stream| stream.bitrate(now)).sum()
    }

    pub fn stats(&self, now: Instant, now_ms: u64, rtcp: impl Fn(u32) -> RtcpCounters) -> Value {
        let entries: Vec<Value> = self
            .streams
            .iter()
            .map(|(ssrc, stream)| {
                let mut entry = json!({
                    "type": "inbound-rtp",
                    "timestamp": now_ms,
                    "kind": self.kind.as_str(),
                    "ssrc": ssrc,
                    "rid": self.rid_of(*ssrc),
                    "payloadType": stream.payload_type,
                    "packetsReceived": stream.packets,
                    "bytesReceived": stream.bytes,
                    "packetsLost": stream.packets_lost(),
                    "jitter": stream.jitter(),
                    "highestSequenceNumber": stream.highest_sequence_number,
                    "bitrate": stream.bitrate(now),
                });
                if self.is_layered() {
                    let layers: Vec<Value> = self
                        .activity
                        .layers_of(*ssrc, now)
                        .into_iter()
                        .map(|(spatial, bitrate, temporal_layers)| json!({"spatialLayer": spatial, "temporalLayers": temporal_layers, "bitrate": bitrate}))
                        .collect();
                    entry["layers"] = Value::Array(layers);
                }
                rtcp(*ssrc).write_common(&mut entry);
                entry
            })
            .collect();
        Value::Array(entries)
    }
}
