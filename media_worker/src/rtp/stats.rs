//! The statistics of one RTP stream, computed as packets pass (sans-IO: the
//! arrival time is an argument): bitrate, RFC 3550 interarrival jitter and
//! cumulative loss; and what str0m's RTCP bookkeeping reports about a stream
//! (NACK, PLI and FIR counts, round-trip time, the remote end's reports).

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use str0m::stats::{MediaEgressStats, MediaIngressStats};

/// The bitrate is measured over windows of this length.
const RATE_WINDOW: Duration = Duration::from_secs(1);

/// Bits per second over the last complete window.
#[derive(Debug, Default, Clone, Copy)]
pub struct RateWindow {
    window_start: Option<Instant>,
    bytes: u64,
    bitrate: u64,
    measured_at: Option<Instant>,
}

impl RateWindow {
    pub fn record(&mut self, bytes: usize, now: Instant) {
        let start = *self.window_start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= RATE_WINDOW {
            self.bitrate = (self.bytes as u128 * 8 * 1_000_000 / elapsed.as_micros()) as u64;
            self.measured_at = Some(now);
            self.window_start = Some(now);
            self.bytes = 0;
        }
        self.bytes += bytes as u64;
    }

    /// Whether a whole window was measured (before, [`Self::bitrate`] is 0
    /// for want of a measure, not of traffic).
    pub fn is_measured(&self) -> bool {
        self.measured_at.is_some()
    }

    /// The last measured bitrate; 0 once nothing arrived for two windows.
    pub fn bitrate(&self, now: Instant) -> u64 {
        match self.window_start {
            Some(start) if now.saturating_duration_since(start) < 2 * RATE_WINDOW => self.bitrate,
            _ => 0,
        }
    }
}

/// What arrived on one SSRC: counters, loss and jitter (RFC 3550 §6.4.1, A.3, A.8).
#[derive(Debug, Clone, Copy)]
pub struct InboundStream {
    pub packets: u64,
    pub bytes: u64,
    pub payload_type: u8,
    pub first_sequence_number: u64,
    pub highest_sequence_number: u64,
    clock_rate: u32,
    /// The reference for arrival times in RTP units.
    epoch: Instant,
    /// The previous packet's transit time (arrival - RTP timestamp), in RTP units.
    last_transit: Option<u32>,
    /// Interarrival jitter in RTP units, times 16 (RFC 3550 A.8).
    jitter_x16: u64,
    rate: RateWindow,
}

impl InboundStream {
    pub fn new(sequence_number: u64, clock_rate: u32, now: Instant) -> Self {
        Self {
            packets: 0,
            bytes: 0,
            payload_type: 0,
            first_sequence_number: sequence_number,
            highest_sequence_number: sequence_number,
            clock_rate: clock_rate.max(1),
            epoch: now,
            last_transit: None,
            jitter_x16: 0,
            rate: RateWindow::default(),
        }
    }

    /// A packet with extended `sequence_number` and RTP `timestamp`, arrived at `arrival`.
    pub fn record(&mut self, sequence_number: u64, timestamp: u32, payload_type: u8, payload_len: usize, arrival: Instant) {
        self.packets += 1;
        self.bytes += payload_len as u64;
        self.payload_type = payload_type;
        self.first_sequence_number = self.first_sequence_number.min(sequence_number);
        self.highest_sequence_number = self.highest_sequence_number.max(sequence_number);
        self.rate.record(payload_len, arrival);
        let since_epoch = arrival.saturating_duration_since(self.epoch);
        let arrival_units = (since_epoch.as_micros() * u128::from(self.clock_rate) / 1_000_000) as u32;
        let transit = arrival_units.wrapping_sub(timestamp);
        if let Some(last) = self.last_transit {
            let difference = u64::from((transit.wrapping_sub(last) as i32).unsigned_abs());
            // J += (|D| - J) / 16, kept times 16 to stay in integers.
            self.jitter_x16 = self.jitter_x16 + difference - (self.jitter_x16 + 8) / 16;
        }
        self.last_transit = Some(transit);
    }

    /// Packets expected (by sequence number) and not received; never negative.
    pub fn packets_lost(&self) -> u64 {
        let expected = self.highest_sequence_number - self.first_sequence_number + 1;
        expected.saturating_sub(self.packets)
    }

    /// Interarrival jitter in RTP timestamp units.
    pub fn jitter(&self) -> u64 {
        self.jitter_x16 / 16
    }

    pub fn bitrate(&self, now: Instant) -> u64 {
        self.rate.bitrate(now)
    }
}

/// What str0m's RTCP bookkeeping says about one stream, at its last stats
/// interval: counts of feedback sent (incoming stream) or received
/// (outgoing stream), and the round-trip time and reports of the remote end.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct RtcpCounters {
    pub nack_count: u64,
    pub pli_count: u64,
    pub fir_count: u64,
    pub round_trip_time: Option<Duration>,
    pub fraction_lost: Option<f32>,
    /// From the subscriber's receiver reports (outgoing streams only).
    pub remote_packets_lost: Option<u64>,
    pub remote_jitter: Option<u32>,
}

impl RtcpCounters {
    pub fn from_ingress(stats: &MediaIngressStats) -> Self {
        Self::counts(stats.nacks, stats.plis, stats.firs, stats.rtt, stats.loss)
    }

    pub fn from_egress(stats: &MediaEgressStats) -> Self {
        Self {
            remote_packets_lost: stats.remote.as_ref().map(|remote| remote.packets_lost),
            remote_jitter: stats.remote.as_ref().map(|remote| remote.jitter),
            ..Self::counts(stats.nacks, stats.plis, stats.firs, stats.rtt, stats.loss)
        }
    }

    fn counts(nack_count: u64, pli_count: u64, fir_count: u64, round_trip_time: Option<Duration>, fraction_lost: Option<f32>) -> Self {
        Self { nack_count, pli_count, fir_count, round_trip_time, fraction_lost, remote_packets_lost: None, remote_jitter: None }
    }

    /// Adds `nackCount`, `pliCount`, `firCount` and `roundTripTime` (seconds) to a stats entry.
    pub fn write_common(&self, entry: &mut Value) {
        entry["nackCount"] = json!(self.nack_count);
        entry["pliCount"] = json!(self.pli_count);
        entry["firCount"] = json!(self.fir_count);
        entry["roundTripTime"] = json!(self.round_trip_time.map(|rtt| rtt.as_secs_f64()));
    }

    /// The outbound entry's view of the subscriber: also `packetsLost`,
    /// `jitter` and `fractionLost` from its receiver reports.
    pub fn write_outbound(&self, entry: &mut Value) {
        self.write_common(entry);
        entry["packetsLost"] = json!(self.remote_packets_lost.unwrap_or(0));
        entry["jitter"] = json!(self.remote_jitter.unwrap_or(0));
        entry["fractionLost"] = json!(self.fraction_lost.unwrap_or(0.0));
    }
}

/// What a transport moved and the feedback it carried, since it opened:
/// summed over a worker's transports (and kept when one closes) it makes
/// the worker's metrics, counters that only grow.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Traffic {
    pub bytes_received: u64,
    pub packets_received: u64,
    pub bytes_sent: u64,
    pub packets_sent: u64,
    /// Feedback sent to publishers about the streams received.
    pub nacks_sent: u64,
    pub plis_sent: u64,
    pub firs_sent: u64,
    /// Feedback received from subscribers about the streams sent.
    pub nacks_received: u64,
    pub plis_received: u64,
    pub firs_received: u64,
    /// Packets of the streams sent that subscribers reported lost.
    pub outbound_packets_lost: u64,
}

impl Traffic {
    /// Adds a stream's RTCP counters: feedback sent for an incoming stream.
    pub fn add_ingress(&mut self, counters: &RtcpCounters) {
        self.nacks_sent += counters.nack_count;
        self.plis_sent += counters.pli_count;
        self.firs_sent += counters.fir_count;
    }

    /// Adds a stream's RTCP counters: feedback and reports received for an outgoing stream.
    pub fn add_egress(&mut self, counters: &RtcpCounters) {
        self.nacks_received += counters.nack_count;
        self.plis_received += counters.pli_count;
        self.firs_received += counters.fir_count;
        self.outbound_packets_lost += counters.remote_packets_lost.unwrap_or(0);
    }
}

impl std::ops::AddAssign for Traffic {
    fn add_assign(&mut self, other: Self) {
        self.bytes_received += other.bytes_received;
        self.packets_received += other.packets_received;
        self.bytes_sent += other.bytes_sent;
        self.packets_sent += other.packets_sent;
        self.nacks_sent += other.nacks_sent;
        self.plis_sent += other.plis_sent;
        self.firs_sent += other.firs_sent;
        self.nacks_received += other.nacks_received;
        self.plis_received += other.plis_received;
        self.firs_received += other.firs_received;
        self.outbound_packets_lost += other.outbound_packets_lost;
    }
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod tests;
