//! An RtpReceiver in the worker: one stream a peer publishes (its encodings,
//! by SSRC or rid) on one of its transports, and what arrived of it. The
//! router will take its packets to the room's senders (issue 5).

use std::collections::BTreeMap;

use serde_json::{json, Value};
use str0m::rtp::RtpPacket;

use crate::rtp_capabilities::MediaKind;
use crate::rtp_parameters::ReceiveParameters;

/// What arrived on one SSRC of a receiver.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StreamCounters {
    pub packets: u64,
    pub bytes: u64,
    pub payload_type: u8,
    pub highest_sequence_number: u64,
}

#[derive(Debug)]
pub struct RtpReceiver {
    pub id: String,
    pub peer_id: String,
    pub transport_id: String,
    pub kind: MediaKind,
    pub parameters: ReceiveParameters,
    /// The mid the transport declared the stream under.
    pub mid: String,
    streams: BTreeMap<u32, StreamCounters>,
}

impl RtpReceiver {
    pub fn new(id: String, peer_id: String, transport_id: String, kind: MediaKind, parameters: ReceiveParameters, mid: String) -> Self {
        Self { id, peer_id, transport_id, kind, parameters, mid, streams: BTreeMap::new() }
    }

    /// Counts a packet of this stream (RTX already unwrapped by str0m).
    pub fn record(&mut self, packet: &RtpPacket) {
        let counters = self.streams.entry(*packet.header.ssrc).or_default();
        counters.packets += 1;
        counters.bytes += packet.payload.len() as u64;
        counters.payload_type = *packet.header.payload_type;
        counters.highest_sequence_number = counters.highest_sequence_number.max(*packet.seq_no);
    }

    pub fn dump(&self) -> Value {
        json!({
            "id": self.id,
            "peerId": self.peer_id,
            "transportId": self.transport_id,
            "kind": self.kind.as_str(),
            "mid": self.mid,
            "rtpParameters": self.parameters.normalised,
        })
    }

    pub fn stats(&self, now_ms: u64) -> Value {
        let entries: Vec<Value> = self
            .streams
            .iter()
            .map(|(ssrc, counters)| {
                let rid = self.parameters.encodings.iter().find(|e| e.ssrc == Some(*ssrc)).and_then(|e| e.rid.clone());
                json!({
                    "type": "inbound-rtp",
                    "timestamp": now_ms,
                    "kind": self.kind.as_str(),
                    "ssrc": ssrc,
                    "rid": rid,
                    "payloadType": counters.payload_type,
                    "packetsReceived": counters.packets,
                    "bytesReceived": counters.bytes,
                    "highestSequenceNumber": counters.highest_sequence_number,
                })
            })
            .collect();
        Value::Array(entries)
    }
}
