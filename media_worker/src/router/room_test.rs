//! A room's router driven by tests, without str0m or a socket: a publisher
//! whose packets are made up in a line (a single stream, three simulcast
//! layers of VP8 in three temporal layers each, or one VP9 or AV1 stream in
//! three spatial and three temporal layers), fake time, and a sink that
//! records what each subscriber's transport would have written, payloads
//! included.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::rtp_receiver::RtpReceiver;
use super::{NewSender, Router, RtpSink, TransportKey};
use crate::rtp::capabilities::{room_rtp_capabilities, MediaKind, RtpCapabilities};
use crate::rtp::codec_table::SendTables;
use crate::rtp::codecs::dependency_descriptor::testing::{descriptor, L3T3_KEY};
use crate::rtp::codecs::dependency_descriptor::DescriptorReader;
use crate::rtp::codecs::{av1, vp8, vp9, FrameInfo, PayloadFormat};
use crate::rtp::packet::{IncomingRtp, OutgoingRtp, ReadableExtensions, RtpContent};
use crate::rtp::parameters::parse_receive_parameters;

/// The publisher's transport; subscribers are on 2, 3…
pub const PUBLISHER: TransportKey = 1;

/// The SSRCs of the simulcast publisher's layers 0, 1 and 2.
pub const LAYER_SSRCS: [u32; 3] = [1111, 3333, 5555];

/// The SSRC of the SVC publisher's stream.
pub const SVC_SSRC: u32 = 7777;

/// The payload type of the SVC publisher's codec (VP9 or AV1).
pub const SVC_PAYLOAD_TYPE: u8 = 98;

/// The payload bytes of each layer's packets: at 30 fps and two packets a
/// frame, 96 kbit/s, 288 kbit/s and 864 kbit/s.
pub const PACKET_SIZES: [usize; 3] = [200, 600, 1_800];

/// What the transports would have written, and which of them can send.
#[derive(Default)]
pub struct Sink {
    pub ready: HashSet<TransportKey>,
    pub written: Vec<(TransportKey, OutgoingRtp)>,
    /// The payload of each written packet, as its transport would send it.
    pub payloads: Vec<Vec<u8>>,
    /// The dependency descriptor each written packet carries (the received one's).
    pub descriptors: Vec<Option<Vec<u8>>>,
}

impl RtpSink for Sink {
    fn can_send(&self, transport: TransportKey) -> bool {
        self.ready.contains(&transport)
    }

    fn send(&mut self, transport: TransportKey, rtp: &OutgoingRtp, _extensions: ReadableExtensions) {
        self.written.push((transport, *rtp));
    }
}

impl Sink {
    pub fn ready(keys: &[TransportKey]) -> Self {
        Self { ready: keys.iter().copied().collect(), ..Self::default() }
    }

    /// (sequence number, timestamp) of what `key` was written, in order.
    pub fn numbers(&self, key: TransportKey) -> Vec<(u64, u32)> {
        self.written.iter().filter(|(to, _)| *to == key).map(|(_, rtp)| (rtp.sequence_number, rtp.timestamp)).collect()
    }

    /// What `key` was written: (sequence number, timestamp, the payload's VP8 info), in order.
    pub fn vp8(&self, key: TransportKey) -> Vec<(u64, u32, crate::rtp::codecs::FrameInfo)> {
        self.read(key, PayloadFormat::Vp8).into_iter().map(|(rtp, frame)| (rtp.sequence_number, rtp.timestamp, frame)).collect()
    }

    /// What `key` was written, each packet with what its payload (and,
    /// for AV1, its dependency descriptor) says, read as `format`.
    pub fn read(&self, key: TransportKey, format: PayloadFormat) -> Vec<(OutgoingRtp, FrameInfo)> {
        let mut descriptors = DescriptorReader::default();
        self.written
            .iter()
            .zip(self.payloads.iter().zip(&self.descriptors))
            .filter(|((to, _), _)| *to == key)
            .map(|((_, rtp), (payload, descriptor))| {
                let frame = format.inspect(payload);
                let read = descriptor.as_deref().and_then(|bytes| descriptors.read(bytes));
                (*rtp, read.map_or(frame, |read| frame.with_descriptor(&read)))
            })
            .collect()
    }
}

pub struct Room {
    pub capabilities: RtpCapabilities,
    pub router: Router,
    pub start: Instant,
}

impl Room {
    pub fn new() -> Self {
        Self { capabilities: room_rtp_capabilities(None).unwrap(), router: Router::new(7), start: Instant::now() }
    }

    /// Alice publishes `id` on the publisher's transport: VP8 (SSRC 1111,
    /// RTX 2222), or Opus (SSRC 4444) for audio.
    pub fn publish(&mut self, id: &str, kind: MediaKind) {
        let parameters = match kind {
            MediaKind::Video => json!({
                "codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000},
                           {"mimeType": "video/rtx", "payloadType": 97, "clockRate": 90000, "parameters": {"apt": 96}}],
                "encodings": [{"ssrc": 1111, "rtx": {"ssrc": 2222}}],
                "rtcp": {"cname": "alice"},
            }),
            MediaKind::Audio => json!({
                "codecs": [{"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2}],
                "encodings": [{"ssrc": 4444}],
            }),
        };
        self.add_receiver(id, kind, &parameters);
    }

    /// Alice publishes `id` as three VP8 simulcast layers (SSRCs [`LAYER_SSRCS`]).
    pub fn publish_simulcast(&mut self, id: &str) {
        let encodings: Vec<_> = LAYER_SSRCS.iter().map(|ssrc| json!({"ssrc": ssrc})).collect();
        let parameters = json!({
            "codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000}],
            "encodings": encodings,
            "rtcp": {"cname": "alice"},
        });
        self.add_receiver(id, MediaKind::Video, &parameters);
    }

    /// Alice publishes `id` as one stream carrying three spatial layers
    /// (SVC; SSRC [`SVC_SSRC`]) of VP9 or AV1 (`format`).
    pub fn publish_svc(&mut self, id: &str, format: PayloadFormat) {
        let codec = match format {
            PayloadFormat::Av1 => json!({"mimeType": "video/AV1", "payloadType": SVC_PAYLOAD_TYPE, "clockRate": 90000}),
            _ => json!({"mimeType": "video/VP9", "payloadType": SVC_PAYLOAD_TYPE, "clockRate": 90000, "parameters": {"profile-id": 0}}),
        };
        let parameters = json!({
            "codecs": [codec],
            "encodings": [{"ssrc": SVC_SSRC}],
            "rtcp": {"cname": "alice"},
        });
        self.add_receiver(id, MediaKind::Video, &parameters);
    }

    fn add_receiver(&mut self, id: &str, kind: MediaKind, parameters: &serde_json::Value) {
        let parsed = parse_receive_parameters(parameters, kind, &self.capabilities).unwrap();
        let receiver = RtpReceiver::new(id.into(), "alice".into(), ("alice-transport".into(), PUBLISHER), kind, parsed, "0".into());
        self.router.add_receiver(receiver).unwrap();
    }

    /// A subscriber (with the room's capabilities) to `receiver_id`, on transport `key`.
    pub fn subscribe(&mut self, sender_id: &str, receiver_id: &str, key: TransportKey) {
        self.add_sender(sender_id, receiver_id, key, false);
    }

    /// A pipe's sender of `receiver_id` (every encoding), on transport `key`.
    pub fn pipe(&mut self, sender_id: &str, receiver_id: &str, key: TransportKey) {
        self.add_sender(sender_id, receiver_id, key, true);
    }

    fn add_sender(&mut self, sender_id: &str, receiver_id: &str, key: TransportKey, every_layer: bool) {
        let capabilities = serde_json::to_value(&self.capabilities).unwrap();
        let tables = SendTables::new(&self.capabilities, Some(&capabilities));
        let peer_id = format!("peer-{key}");
        let new = NewSender { id: sender_id, peer_id: &peer_id, capabilities: &capabilities, receiver_id, tables: &tables, every_layer };
        self.router.create_sender(new, &self.capabilities, || format!("s{key}")).unwrap();
        let (placed, _) = self.router.sender_placed_on(sender_id, &self.capabilities, &capabilities, &tables, None).unwrap();
        self.router.place_sender(placed, &format!("transport-{key}"), key, self.start);
    }

    /// A packet of `ssrc` arriving `at_ms` after the start, with its RTP timestamp from the 90 kHz clock.
    pub fn packet(&self, ssrc: u32, sequence_number: u64, at_ms: u64) -> IncomingRtp {
        IncomingRtp {
            ssrc,
            sequence_number,
            timestamp: (at_ms * 90) as u32,
            marker: false,
            payload_len: 1_000,
            arrival: self.start + Duration::from_millis(at_ms),
            audio_level: None,
        }
    }

    /// Forwards a packet whose payload is a VP8 delta frame with no picture ids.
    pub fn forward(&mut self, receiver_id: &str, packet: IncomingRtp, sink: &mut Sink) {
        self.forward_payload(receiver_id, packet, 96, &[0x10, 0x01, 0x00, 0x00], sink);
    }

    /// Forwards a packet with `payload`; the sink records what each transport would send.
    pub fn forward_payload(&mut self, receiver_id: &str, packet: IncomingRtp, payload_type: u8, payload: &[u8], sink: &mut Sink) {
        self.forward_content(receiver_id, packet, RtpContent { payload_type, payload, descriptor: None }, sink);
    }

    /// Forwards a packet with `content`; the sink records what each transport would send.
    pub fn forward_content(&mut self, receiver_id: &str, packet: IncomingRtp, content: RtpContent<'_>, sink: &mut Sink) {
        let shared: Arc<[u8]> = Arc::from(content.payload);
        let before = sink.written.len();
        self.router.forward(receiver_id, &packet, content, packet.arrival, sink);
        for (_, rtp) in &sink.written[before..] {
            sink.payloads.push(rtp.payload(&shared).to_vec());
            sink.descriptors.push(content.descriptor.map(<[u8]>::to_vec));
        }
    }
}

/// A simulcast publisher of three VP8 layers at 30 fps, each in three
/// temporal layers (0, 2, 1, 2…, as libwebrtc's), two packets per frame,
/// with picture ids, TL0PICIDX and sequence numbers of each layer's own.
pub struct Publisher {
    /// The next frame's index.
    pub frame: u64,
    sequence_numbers: [u64; 3],
    picture_ids: [u16; 3],
    tl0_pic_idx: [u8; 3],
    /// The layers it sends (a publisher short of bandwidth stops the upper ones).
    pub sending: [bool; 3],
    /// The layers whose next frame is a keyframe.
    pub keyframe_due: [bool; 3],
}

impl Publisher {
    pub fn new() -> Self {
        Self {
            frame: 0,
            sequence_numbers: [100, 20_000, 40_000],
            picture_ids: [10, 5_000, 32_760],
            tl0_pic_idx: [0, 100, 250],
            sending: [true; 3],
            keyframe_due: [true; 3],
        }
    }

    /// The temporal layer of frame `index` and whether it is a layer-sync frame.
    pub fn temporal(index: u64) -> (u8, bool) {
        match index % 4 {
            0 => (0, false),
            1 => (2, true),
            2 => (1, true),
            _ => (2, false),
        }
    }

    /// Sends the next frame of every layer it sends (33 ms apart), through the room.
    pub fn send_frame(&mut self, room: &mut Room, receiver_id: &str, sink: &mut Sink) {
        let at_ms = self.frame * 33;
        let (tid, sync) = Self::temporal(self.frame);
        for layer in 0..3 {
            if !self.sending[layer] {
                continue;
            }
            let keyframe = std::mem::take(&mut self.keyframe_due[layer]);
            let tid = if keyframe { 0 } else { tid };
            if tid == 0 {
                self.tl0_pic_idx[layer] = self.tl0_pic_idx[layer].wrapping_add(1);
            }
            self.picture_ids[layer] = (self.picture_ids[layer] + 1) & 0x7fff;
            for part in 0..2 {
                let payload = vp8::packet(part == 0, keyframe, self.picture_ids[layer], self.tl0_pic_idx[layer], tid, sync && !keyframe);
                self.sequence_numbers[layer] += 1;
                let mut packet = room.packet(LAYER_SSRCS[layer], self.sequence_numbers[layer], at_ms);
                packet.payload_len = PACKET_SIZES[layer];
                packet.timestamp = packet.timestamp.wrapping_add(layer as u32 * 1_000_000);
                packet.marker = part == 1;
                room.forward_payload(receiver_id, packet, 96, &payload, sink);
            }
        }
        self.frame += 1;
    }

    /// The keyframe requests the router made: each asks the layer of its SSRC for a keyframe.
    pub fn take_requests(&mut self, room: &mut Room) -> Vec<u32> {
        let ssrcs: Vec<u32> = room.router.take_keyframe_requests().into_iter().map(|request| request.ssrc).collect();
        for ssrc in &ssrcs {
            if let Some(layer) = LAYER_SSRCS.iter().position(|s| s == ssrc) {
                self.keyframe_due[layer] = true;
            }
        }
        ssrcs
    }
}

/// An SVC publisher: one VP9 or AV1 stream at 30 fps whose every picture
/// has three spatial layers (K-SVC: the upper ones predicted from the lower
/// ones at keyframes only), in three temporal layers, two packets per layer
/// frame ([`PACKET_SIZES`] bytes each), the marker bit on the picture's
/// last. AV1's layers are named by a dependency descriptor on every packet
/// ([`L3T3_KEY`]; frame number 3 × picture + spatial layer), its
/// structure attached to a keyframe's first packet.
pub struct SvcPublisher {
    pub format: PayloadFormat,
    pub frame: u64,
    sequence_number: u64,
    picture_id: u16,
    /// Whether the next picture is a keyframe.
    pub keyframe_due: bool,
    /// The spatial layers it sends (a publisher short of bandwidth drops the upper ones).
    pub layers: u8,
}

impl SvcPublisher {
    pub fn new(format: PayloadFormat) -> Self {
        Self { format, frame: 0, sequence_number: 60_000, picture_id: 32_000, keyframe_due: true, layers: 3 }
    }

    /// Sends the next picture (33 ms after the previous one) through the room.
    pub fn send_frame(&mut self, room: &mut Room, receiver_id: &str, sink: &mut Sink) {
        let at_ms = self.frame * 33;
        let key = std::mem::take(&mut self.keyframe_due);
        let (tid, sync) = if key { (0, false) } else { Publisher::temporal(self.frame) };
        self.picture_id = (self.picture_id + 1) & 0x7fff;
        for sid in 0..self.layers {
            for part in 0..2 {
                let (payload, descriptor) = match self.format {
                    PayloadFormat::Av1 => {
                        let template = usize::from(sid) * 4 + if key { 0 } else { usize::from(tid) + 1 };
                        let frame_number = (self.frame * 3 + u64::from(sid)) as u16;
                        let attach = key && sid == 0 && part == 0;
                        (av1::packet(key && sid == 0 && part == 0), Some(descriptor(L3T3_KEY, template, frame_number, attach, (part == 0, part == 1))))
                    }
                    _ => (vp9::packet(self.picture_id, key, sid, tid, sync, part == 0, part == 1), None),
                };
                self.sequence_number += 1;
                let mut packet = room.packet(SVC_SSRC, self.sequence_number, at_ms);
                packet.payload_len = PACKET_SIZES[usize::from(sid)];
                packet.marker = part == 1 && sid + 1 == self.layers;
                let content = RtpContent { payload_type: SVC_PAYLOAD_TYPE, payload: &payload, descriptor: descriptor.as_deref() };
                room.forward_content(receiver_id, packet, content, sink);
            }
        }
        self.frame += 1;
    }

    /// The keyframe requests the router made (SSRCs); any makes the next picture a keyframe.
    pub fn take_requests(&mut self, room: &mut Room) -> Vec<u32> {
        let ssrcs: Vec<u32> = room.router.take_keyframe_requests().into_iter().map(|request| request.ssrc).collect();
        self.keyframe_due |= !ssrcs.is_empty();
        ssrcs
    }
}
