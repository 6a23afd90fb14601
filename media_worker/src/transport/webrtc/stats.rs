//! What a WebRTC transport shows: bytes and packets both ways, str0m's
//! RTCP counters per stream, its dump and `getStats()`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::rtp::stats::{RtcpCounters, Traffic};
use super::WebRtcTransport;
use super::ice::Tuple;

/// How often str0m reports a transport's RTCP counters.
pub(super) const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// Bytes and packets in each direction, as the event loop moved them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counters {
    pub bytes_received: u64,
    pub packets_received: u64,
    pub bytes_sent: u64,
    pub packets_sent: u64,
}

impl WebRtcTransport {
    /// str0m's RTCP counters of a stream this transport receives.
    pub fn ingress_counters(&self, mid: &str, rid: Option<&str>) -> RtcpCounters {
        self.ingress_counters.get(&(mid.to_owned(), rid.map(str::to_owned))).copied().unwrap_or_default()
    }

    /// str0m's RTCP counters of a stream this transport sends.
    pub fn egress_counters(&self, mid: &str) -> RtcpCounters {
        self.egress_counters.get(mid).copied().unwrap_or_default()
    }

    /// The fraction lost the subscriber reported for each stream it
    /// receives (by mid), at each stats interval since the last call.
    pub fn take_loss_reports(&mut self) -> Vec<(String, Option<f32>)> {
        std::mem::take(&mut self.loss_reports)
    }

    /// Bytes and packets both ways, and the RTCP feedback of every stream,
    /// those removed included.
    pub fn traffic(&self) -> Traffic {
        let counters = self.counters;
        let mut traffic = Traffic {
            bytes_received: counters.bytes_received,
            packets_received: counters.packets_received,
            bytes_sent: counters.bytes_sent,
            packets_sent: counters.packets_sent,
            ..self.removed_streams
        };
        self.ingress_counters.values().for_each(|stream| traffic.add_ingress(stream));
        self.egress_counters.values().for_each(|stream| traffic.add_egress(stream));
        traffic
    }

    pub fn dump(&mut self) -> Value {
        let mut dump = self.local_parameters();
        dump["id"] = json!(self.id);
        dump["peerId"] = json!(self.peer_id);
        dump["iceRole"] = json!("controlled");
        dump["iceState"] = json!(self.ice_state.as_str());
        dump["iceSelectedTuple"] = self.selected_tuple.map(Tuple::to_json).unwrap_or(Value::Null);
        dump["dtlsState"] = json!(self.dtls_state.as_str());
        dump["maxBitrate"] = json!(self.max_bitrate);
        dump["headerExtensions"] = self.header_extensions();
        if self.sctp {
            dump["dataChannels"] = Value::Array(self.data_channels_dump());
        }
        dump
    }

    pub fn stats(&mut self, now_ms: u64) -> Value {
        let counters = self.counters;
        let transport = json!({
            "type": "transport",
            "transportId": self.id,
            "timestamp": now_ms,
            "iceRole": "controlled",
            "iceState": self.ice_state.as_str(),
            "iceSelectedTuple": self.selected_tuple.map(Tuple::to_json),
            "dtlsState": self.dtls_state.as_str(),
            "bytesReceived": counters.bytes_received,
            "bytesSent": counters.bytes_sent,
            "packetsReceived": counters.packets_received,
            "packetsSent": counters.packets_sent,
            "maxBitrate": self.max_bitrate,
            "roundTripTime": self.round_trip_time.map(|rtt| rtt.as_secs_f64()),
            "availableOutgoingBitrate": self.bandwidth.estimate(),
        });
        let mut entries = vec![transport];
        entries.extend(self.data_channel_stats(now_ms));
        Value::Array(entries)
    }
}

