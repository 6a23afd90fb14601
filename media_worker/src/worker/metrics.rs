//! What a deployment watches (`worker.getMetrics`, read by Python's
//! Prometheus exporter): how many objects the worker holds, what it moved
//! since it started and what its streams carry now. The totals are
//! counters that only grow: what a transport or a receiver counted is kept
//! in [`Ended`] when it closes, so the end of a call takes nothing away.
//! The process's CPU time and memory are the shell's to add (nothing here
//! reads the operating system).

use std::time::Instant;

use serde_json::{json, Value};

use super::Worker;
use crate::rtp::stats::Traffic;
use crate::transport::Transport;

/// What closed transports and receivers had counted.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Ended {
    pub traffic: Traffic,
    /// Packets lost on the way in to receivers that closed.
    pub inbound_packets_lost: u64,
}

impl Worker {
    pub(super) fn metrics(&self, now: Instant) -> Value {
        let mut traffic = self.ended.traffic;
        let mut inbound_packets_lost = self.ended.inbound_packets_lost;
        let (mut incoming_bitrate, mut outgoing_bitrate) = (0, 0);
        for room in self.rooms.values() {
            inbound_packets_lost += room.router.packets_lost();
            let (incoming, outgoing) = room.router.bitrates(now);
            incoming_bitrate += incoming;
            outgoing_bitrate += outgoing;
        }
        for transport in self.transports.values() {
            traffic += transport.traffic();
        }
        let direct = self.transports.values().filter(|t| matches!(t, Transport::Direct(_))).count();
        let plain = self.transports.values().filter(|t| matches!(t, Transport::Plain(_))).count();
        json!({
            "uptimeMs": self.millis_since_start(now),
            "rooms": self.rooms.len(),
            "peers": self.peers.len(),
            "transports": self.transports.len() - direct - plain,
            "directTransports": direct,
            "plainTransports": plain,
            "rtpReceivers": self.receiver_rooms.len(),
            "rtpSenders": self.sender_rooms.len(),
            "dataReceivers": self.data_receiver_rooms.len(),
            "dataSenders": self.data_sender_rooms.len(),
            "bytesReceived": traffic.bytes_received,
            "packetsReceived": traffic.packets_received,
            "bytesSent": traffic.bytes_sent,
            "packetsSent": traffic.packets_sent,
            "inboundPacketsLost": inbound_packets_lost,
            "outboundPacketsLost": traffic.outbound_packets_lost,
            "nacksSent": traffic.nacks_sent,
            "nacksReceived": traffic.nacks_received,
            "plisSent": traffic.plis_sent,
            "plisReceived": traffic.plis_received,
            "firsSent": traffic.firs_sent,
            "firsReceived": traffic.firs_received,
            "incomingBitrate": incoming_bitrate,
            "outgoingBitrate": outgoing_bitrate,
            "datagramsUnrouted": self.datagrams_unrouted,
        })
    }
}
