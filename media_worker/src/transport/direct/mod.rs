//! A transport with no network: its endpoint is the Python process that
//! holds the server (mediasoup's DirectTransport). The streams its
//! RtpReceivers publish are packets Python wrote (`rtpReceiver.sendRtp`),
//! read here and handed to the router like any others; the packets its
//! RtpSenders send, as the router rewrote them, are queued as media frames
//! for Python ([`crate::channel::media`]), as are the keyframe requests of
//! its receivers' subscribers. The queue is bounded: a Python consumer
//! that does not keep up loses (and counts) its own packets, and nothing
//! else waits for it.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use rustc_hash::FxHashMap;
use serde_json::{json, Value};
use str0m::rtp::{Extension, ExtensionValues};

use crate::channel::media::{FrameKind, FrameQueue, DIRECT_QUEUE_BYTES};
use crate::error::WorkerError;
use crate::rtp::capabilities::MediaKind;
use crate::rtp::codec_table::SendTables;
use crate::rtp::packet::{IncomingRtp, OutgoingRtp, ReadableExtensions, ReceivedRtp};
use crate::rtp::parameters::ReceiveParameters;
use crate::rtp::stats::Traffic;
use crate::rtp::stream_ids::read_audio_level;
use crate::rtp::wire::{read_rtp, write_rtp, RtpFields, SequenceExtender};

mod data;

const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// A stream Python publishes on the transport.
#[derive(Debug)]
struct DirectReceiver {
    receiver: Rc<str>,
    mid: String,
    /// The id Python writes the RFC 6464 level at, if it does.
    audio_level_id: Option<u8>,
    sequence: SequenceExtender,
}

/// A stream the transport sends to Python.
#[derive(Debug, Default)]
struct DirectSender {
    mid: String,
    packets: u64,
    bytes: u64,
    dropped: u64,
}

/// Packets each way, and those lost on the way.
#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    packets_received: u64,
    bytes_received: u64,
    /// Written by Python but not a packet of one of its receivers.
    packets_discarded: u64,
    packets_sent: u64,
    bytes_sent: u64,
    /// Not queued for Python: its queue was full.
    packets_dropped: u64,
}

pub struct DirectTransport {
    pub id: String,
    pub peer_id: String,
    /// The transport in media frames (its key in the worker).
    pub handle: u32,
    tables: SendTables,
    pub cname_for_receivers: Option<String>,
    pub(super) closed: bool,
    receivers: FxHashMap<u32, DirectReceiver>,
    received: Vec<(Rc<str>, ReceivedRtp)>,
    senders: FxHashMap<u32, DirectSender>,
    pub(super) queue: FrameQueue,
    /// A forwarded packet or message being written (no allocation per packet once warm).
    pub(super) scratch: Vec<u8>,
    audio_level_id: Option<u8>,
    video_orientation_id: Option<u8>,
    counters: Counters,
    /// Why the last discarded packet was, for the dump.
    last_discard: Option<String>,
    data: data::DirectChannels,
}

impl DirectTransport {
    /// The transport of `peer_id`, whose senders write the payload types and
    /// extension ids of `tables`.
    pub fn new(id: String, peer_id: String, handle: u32, tables: SendTables) -> Self {
        let audio_level_id = tables.extensions.id_of(Extension::AudioLevel);
        let video_orientation_id = tables.extensions.id_of(Extension::VideoOrientation);
        Self {
            id,
            peer_id,
            handle,
            tables,
            cname_for_receivers: None,
            closed: false,
            receivers: FxHashMap::default(),
            received: Vec::new(),
            senders: FxHashMap::default(),
            queue: FrameQueue::new(DIRECT_QUEUE_BYTES),
            scratch: Vec::new(),
            audio_level_id,
            video_orientation_id,
            counters: Counters::default(),
            last_discard: None,
            data: data::DirectChannels::default(),
        }
    }

    pub fn close(&mut self) {
        self.closed = true;
        self.queue = FrameQueue::new(0);
        self.received.clear();
    }

    pub fn can_send_media(&self) -> bool {
        !self.closed
    }

    pub fn send_tables(&self) -> &SendTables {
        &self.tables
    }

    /// Starts receiving a stream Python publishes: every encoding must name
    /// its SSRC (Python writes it; there is no rid to learn it from).
    pub fn add_receiver(&mut self, receiver_id: &str, kind: MediaKind, parameters: &ReceiveParameters) -> Result<(String, ReadableExtensions), WorkerError> {
        let mut ssrcs = Vec::new();
        for (index, encoding) in parameters.encodings.iter().enumerate() {
            let ssrc = encoding.ssrc.ok_or_else(|| {
                WorkerError::value_error(format!("rtpParameters.encodings[{index}].ssrc is missing: a direct transport's stream names its SSRCs"))
            })?;
            if self.receivers.contains_key(&ssrc) || ssrcs.contains(&ssrc) {
                return Err(WorkerError::value_error(format!("ssrc {ssrc} is received already on transport {}", self.id)));
            }
            ssrcs.push(ssrc);
        }
        let mid = match &parameters.mid {
            Some(mid) => mid.clone(),
            None => (0..).map(|index| format!("r{index}")).find(|mid| !self.receivers.values().any(|r| &r.mid == mid)).unwrap_or_default(),
        };
        let audio_level_id = match kind {
            MediaKind::Audio => parameters.normalised["headerExtensions"].as_array().and_then(|extensions| {
                extensions
                    .iter()
                    .find(|extension| extension["uri"].as_str() == Some(AUDIO_LEVEL_URI))
                    .and_then(|extension| u8::try_from(extension["id"].as_u64()?).ok())
            }),
            MediaKind::Video => None,
        };
        let receiver: Rc<str> = Rc::from(receiver_id);
        for ssrc in ssrcs {
            let stream = DirectReceiver { receiver: receiver.clone(), mid: mid.clone(), audio_level_id, sequence: SequenceExtender::default() };
            self.receivers.insert(ssrc, stream);
        }
        let readable = ReadableExtensions { audio_level: audio_level_id.is_some(), ..ReadableExtensions::default() };
        Ok((mid, readable))
    }

    pub fn remove_receiver(&mut self, receiver_id: &str) {
        self.receivers.retain(|_, stream| &*stream.receiver != receiver_id);
    }

    pub fn add_sender(&mut self, mid: &str, ssrc: u32) {
        self.senders.insert(ssrc, DirectSender { mid: mid.to_owned(), ..DirectSender::default() });
    }

    pub fn remove_sender(&mut self, ssrc: u32) {
        self.senders.remove(&ssrc);
    }

    /// A packet Python wrote for one of its receivers.
    pub fn receive_rtp(&mut self, packet: &[u8], now: Instant) {
        if self.closed {
            return;
        }
        let fields = match read_rtp(packet) {
            Ok(fields) => fields,
            Err(reason) => return self.discard(format!("not an RTP packet: {reason}")),
        };
        let Some(stream) = self.receivers.get_mut(&fields.ssrc) else {
            return self.discard(format!("ssrc {} is no stream of this transport", fields.ssrc));
        };
        let audio_level = stream.audio_level_id.and_then(|id| read_audio_level(packet, id)).map(|(_, level)| level);
        let payload: Arc<[u8]> = Arc::from(&packet[fields.payload.clone()]);
        let received = ReceivedRtp {
            incoming: IncomingRtp {
                ssrc: fields.ssrc,
                sequence_number: stream.sequence.extend(fields.sequence_number),
                timestamp: fields.timestamp,
                marker: fields.marker,
                payload_len: payload.len(),
                arrival: now,
                audio_level,
            },
            payload_type: fields.payload_type,
            payload,
            extensions: ExtensionValues { audio_level, ..ExtensionValues::default() },
        };
        self.counters.packets_received += 1;
        self.counters.bytes_received += packet.len() as u64;
        self.received.push((stream.receiver.clone(), received));
    }

    pub(super) fn discard(&mut self, reason: String) {
        self.counters.packets_discarded += 1;
        if self.counters.packets_discarded == 1 {
            tracing::warn!("direct transport {}: a packet from Python was discarded: {reason}", self.id);
        }
        self.last_discard = Some(reason);
    }

    pub fn drain_rtp(&mut self, into: &mut Vec<(Rc<str>, ReceivedRtp)>) {
        into.append(&mut self.received);
    }

    /// Queues a forwarded packet for Python, or counts it dropped.
    pub fn send_rtp(&mut self, rtp: &OutgoingRtp, packet: &ReceivedRtp, readable: ReadableExtensions) {
        if self.closed {
            return;
        }
        let Some(sender) = self.senders.get_mut(&rtp.ssrc) else { return };
        let level = packet.extensions.audio_level.filter(|_| readable.audio_level).map(|level| {
            let voiced = if packet.extensions.voice_activity == Some(true) { 0x80 } else { 0 };
            voiced | (level.unsigned_abs() & 0x7f)
        });
        let orientation = packet.extensions.video_orientation.filter(|_| readable.video_orientation).map(|orientation| orientation as u8);
        let mut extensions: Vec<(u8, &[u8])> = Vec::new();
        let level_byte = level.map(|byte| [byte]);
        let orientation_byte = orientation.map(|byte| [byte]);
        if let (Some(id), Some(byte)) = (self.audio_level_id, &level_byte) {
            extensions.push((id, byte));
        }
        if let (Some(id), Some(byte)) = (self.video_orientation_id, &orientation_byte) {
            extensions.push((id, byte));
        }
        let fields = RtpFields {
            ssrc: rtp.ssrc,
            payload_type: rtp.payload_type,
            sequence_number: rtp.sequence_number as u16,
            timestamp: rtp.timestamp,
            marker: rtp.marker,
            payload: 0..0,
        };
        self.scratch.clear();
        write_rtp(&fields, &extensions, &rtp.payload(&packet.payload), &mut self.scratch);
        if self.queue.push(FrameKind::Rtp, self.handle, rtp.ssrc, &self.scratch) {
            sender.packets += 1;
            sender.bytes += self.scratch.len() as u64;
            self.counters.packets_sent += 1;
            self.counters.bytes_sent += self.scratch.len() as u64;
        } else {
            sender.dropped += 1;
            self.counters.packets_dropped += 1;
        }
    }

    /// A subscriber of the stream Python publishes on `ssrc` wants a keyframe.
    pub fn request_keyframe(&mut self, ssrc: u32) {
        if !self.closed && self.receivers.contains_key(&ssrc) && !self.queue.push(FrameKind::KeyframeRequest, self.handle, ssrc, &[]) {
            self.counters.packets_dropped += 1;
        }
    }

    /// Moves queued frames for Python to `out`, about `budget` bytes; answers how many.
    pub fn take_media(&mut self, out: &mut Vec<u8>, budget: usize) -> usize {
        self.queue.take(out, budget)
    }

    pub fn has_media(&self) -> bool {
        !self.queue.is_empty()
    }

    /// The bound of its queue for Python (its share of the worker's).
    pub fn set_queue_limit(&mut self, limit: usize) {
        if !self.closed {
            self.queue.set_limit(limit);
        }
    }

    pub fn dump(&self) -> Value {
        let mut receivers: Vec<Value> = self
            .receivers
            .iter()
            .map(|(ssrc, stream)| json!({"rtpReceiverId": &*stream.receiver, "mid": stream.mid, "ssrc": ssrc}))
            .collect();
        receivers.sort_by_key(|entry| entry["ssrc"].as_u64());
        let mut senders: Vec<Value> = self.senders.iter().map(|(ssrc, sender)| json!({"mid": sender.mid, "ssrc": ssrc})).collect();
        senders.sort_by_key(|entry| entry["ssrc"].as_u64());
        json!({
            "id": self.id,
            "peerId": self.peer_id,
            "direct": true,
            "receiving": receivers,
            "sending": senders,
            "queuedBytes": self.queue.len(),
            "queueLimit": self.queue.limit(),
            "lastDiscarded": self.last_discard,
            "dataChannels": self.data_channels_json(None),
        })
    }

    /// Packets each way (Python's, and those queued for it).
    pub fn traffic(&self) -> Traffic {
        let counters = self.counters;
        Traffic {
            bytes_received: counters.bytes_received,
            packets_received: counters.packets_received,
            bytes_sent: counters.bytes_sent,
            packets_sent: counters.packets_sent,
            ..Traffic::default()
        }
    }

    pub fn stats(&self, now_ms: u64) -> Value {
        let counters = self.counters;
        let mut entries = vec![json!({
            "type": "direct-transport",
            "transportId": self.id,
            "timestamp": now_ms,
            "packetsReceived": counters.packets_received,
            "bytesReceived": counters.bytes_received,
            "packetsDiscarded": counters.packets_discarded,
            "packetsSent": counters.packets_sent,
            "bytesSent": counters.bytes_sent,
            "packetsDropped": counters.packets_dropped,
            "queuedBytes": self.queue.len(),
        })];
        let mut senders: Vec<_> = self.senders.iter().collect();
        senders.sort_by_key(|(ssrc, _)| **ssrc);
        entries.extend(senders.into_iter().map(|(ssrc, sender)| {
            json!({
                "type": "direct-outbound",
                "timestamp": now_ms,
                "mid": sender.mid,
                "ssrc": ssrc,
                "packetsSent": sender.packets,
                "bytesSent": sender.bytes,
                "packetsDropped": sender.dropped,
            })
        }));
        entries.extend(self.data_channels_json(Some(now_ms)));
        Value::Array(entries)
    }
}
