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
use std::time::Instant;

use serde_json::{json, Value};

use super::rtp_streams::RtpStreams;
use crate::channel::media::{FrameKind, FrameQueue, DIRECT_QUEUE_BYTES};
use crate::error::WorkerError;
use crate::rtp::capabilities::MediaKind;
use crate::rtp::codec_table::SendTables;
use crate::rtp::packet::{OutgoingRtp, ReadableExtensions, ReceivedRtp};
use crate::rtp::parameters::ReceiveParameters;
use crate::rtp::stats::Traffic;

mod data;

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
    streams: RtpStreams,
    received: Vec<(Rc<str>, ReceivedRtp)>,
    pub(super) queue: FrameQueue,
    /// A message being written (no allocation per message once warm).
    pub(super) scratch: Vec<u8>,
    counters: Counters,
    /// Why the last discarded packet was, for the dump.
    last_discard: Option<String>,
    data: data::DirectChannels,
}

impl DirectTransport {
    /// The transport of `peer_id`, whose senders write the payload types and
    /// extension ids of `tables`.
    pub fn new(id: String, peer_id: String, handle: u32, tables: SendTables) -> Self {
        Self {
            streams: RtpStreams::new("a direct transport", &tables),
            id,
            peer_id,
            handle,
            tables,
            cname_for_receivers: None,
            closed: false,
            received: Vec::new(),
            queue: FrameQueue::new(DIRECT_QUEUE_BYTES),
            scratch: Vec::new(),
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
        self.streams.add_receiver(&self.id, receiver_id, kind, parameters)
    }

    pub fn remove_receiver(&mut self, receiver_id: &str) {
        self.streams.remove_receiver(receiver_id);
    }

    pub fn add_sender(&mut self, mid: &str, ssrc: u32) {
        self.streams.add_sender(mid, ssrc);
    }

    pub fn remove_sender(&mut self, ssrc: u32) {
        self.streams.remove_sender(ssrc);
    }

    /// A packet Python wrote for one of its receivers.
    pub fn receive_rtp(&mut self, packet: &[u8], now: Instant) {
        if self.closed {
            return;
        }
        match self.streams.read(packet, now) {
            Ok(received) => {
                self.counters.packets_received += 1;
                self.counters.bytes_received += packet.len() as u64;
                self.received.push(received);
            }
            Err(reason) => self.discard(reason),
        }
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
    pub fn send_rtp(&mut self, rtp: &OutgoingRtp, packet: &ReceivedRtp, readable: ReadableExtensions, now: Instant) {
        if self.closed {
            return;
        }
        let Some(bytes) = self.streams.write(rtp, packet, readable) else { return };
        let length = bytes.len() as u64;
        if self.queue.push(FrameKind::Rtp, self.handle, rtp.ssrc, bytes) {
            self.streams.count_sent(rtp, length as usize, now);
            self.counters.packets_sent += 1;
            self.counters.bytes_sent += length;
        } else {
            self.streams.count_dropped(rtp);
            self.counters.packets_dropped += 1;
        }
    }

    /// A subscriber of the stream Python publishes on `ssrc` wants a keyframe.
    pub fn request_keyframe(&mut self, ssrc: u32) {
        if !self.closed && self.streams.receiver(ssrc).is_some() && !self.queue.push(FrameKind::KeyframeRequest, self.handle, ssrc, &[]) {
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
        let (receivers, senders) = self.streams.dump();
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
        entries.extend(self.streams.outbound_stats("direct-outbound", now_ms));
        entries.extend(self.data_channels_json(Some(now_ms)));
        Value::Array(entries)
    }
}
