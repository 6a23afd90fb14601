//! A plain transport's RTCP: what the endpoint's compound packets say
//! (keyframe requests, NACKs answered from the history, reception
//! reports), and what it sends: sender reports once a second, PLIs, NACKs
//! of what is missing; SRTCP when SRTP is on.

use std::net::SocketAddr;
use std::time::{Instant, UNIX_EPOCH};

use str0m::net::Protocol;

use super::{PlainTransport, NTP_UNIX_OFFSET, REPORT_INTERVAL};
use crate::rtp::rtcp::{nacked, read_compound, write_nack, write_pli, write_sender_report, Feedback, SenderInfo};
use crate::transport::retransmission::NackGenerator;
use crate::transport::{KeyframeRequested, OutgoingDatagram};

impl PlainTransport {
    /// Acts on what a compound RTCP packet says (up to a malformed part).
    pub(super) fn handle_rtcp(&mut self, contents: &[u8], now: Instant) -> Result<(), &'static str> {
        let mut feedback = std::mem::take(&mut self.feedback);
        feedback.clear();
        let read = read_compound(contents, &mut feedback);
        if let Err(reason) = read {
            self.last_discard = Some(format!("RTCP: {reason}"));
        }
        for item in &feedback {
            match *item {
                Feedback::KeyframeRequest { media_ssrc } => {
                    if let Some(sender) = self.streams.sender(media_ssrc) {
                        self.counters.keyframe_requests_received += 1;
                        let request = KeyframeRequested { mid: sender.mid.clone(), ssrc: Some(media_ssrc) };
                        if !self.keyframe_requests.contains(&request) {
                            self.keyframe_requests.push(request);
                        }
                    }
                }
                Feedback::ReceptionReport { media_ssrc, fraction_lost } => {
                    if let Some(sender) = self.streams.sender(media_ssrc) {
                        self.loss_reports.push((sender.mid.clone(), Some(f32::from(fraction_lost) / 256.0)));
                    }
                }
                Feedback::Nack { media_ssrc, first, mask } => {
                    if self.streams.sender(media_ssrc).is_none() {
                        continue;
                    }
                    self.counters.nacks += 1;
                    self.counters.nacked += u64::from(1 + mask.count_ones());
                    self.retransmit(media_ssrc, first, mask, now);
                }
                Feedback::SenderReport { .. } => {}
            }
        }
        self.feedback = feedback;
        read
    }

    /// Sends again, as they left, the packets of `ssrc` a NACK entry names (those still kept).
    fn retransmit(&mut self, ssrc: u32, first: u16, mask: u16, now: Instant) {
        let (Some(history), Some(destination)) = (&self.history, self.remote) else { return };
        for sequence in nacked(first, mask) {
            if let Some(bytes) = history.get(ssrc, sequence, now) {
                self.counters.retransmitted += 1;
                self.counters.rtp_packets_sent += 1;
                self.counters.rtp_bytes_sent += bytes.len() as u64;
                let contents = bytes.to_vec();
                self.outgoing.push_back(OutgoingDatagram { protocol: Protocol::Udp, source: self.rtp_socket.address, destination, contents });
            }
        }
    }

    /// NACKs of what is missing (with `enableNack`); sender reports, once
    /// a second, for the streams that sent.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.send_nacks(now);
        if now < self.next_report {
            return;
        }
        self.next_report = now + REPORT_INTERVAL;
        let Some(destination) = self.rtcp_destination() else { return };
        let ntp = self.ntp_time(now);
        let cname = self.cname_for_receivers.clone().unwrap_or_else(|| self.id.clone());
        let mut reports = Vec::new();
        for (ssrc, sender) in self.streams.senders() {
            let Some((timestamp, payload_type, sent_at)) = sender.last_sent else { continue };
            let clock_rate = self.tables.clock_rate_of(payload_type).unwrap_or(90_000);
            let elapsed = now.saturating_duration_since(sent_at);
            let ticks = (elapsed.as_secs_f64() * f64::from(clock_rate)) as u64;
            let info = SenderInfo {
                ssrc,
                ntp,
                rtp_timestamp: timestamp.wrapping_add(ticks as u32),
                packets: sender.packets as u32,
                octets: sender.bytes as u32,
            };
            let mut report = Vec::new();
            write_sender_report(&info, &cname, &mut report);
            reports.push(report);
        }
        for report in reports {
            self.send_rtcp(destination, report);
        }
    }

    /// The next sender reports, while some stream has sent; the next NACK.
    pub fn next_timeout(&self) -> Option<Instant> {
        if self.closed || self.rtcp_destination().is_none() {
            return None;
        }
        let report = self.streams.any_sent().then_some(self.next_report);
        let nack = self.nacker.as_ref().and_then(NackGenerator::next_timeout);
        match (report, nack) {
            (Some(report), Some(nack)) => Some(report.min(nack)),
            (report, nack) => report.or(nack),
        }
    }

    fn send_nacks(&mut self, now: Instant) {
        let Some(destination) = self.rtcp_destination() else { return };
        let Some(nacker) = &mut self.nacker else { return };
        for (ssrc, lost) in nacker.poll(now) {
            let mut nack = Vec::new();
            write_nack(self.rtcp_ssrc, ssrc, &lost, &mut nack);
            self.counters.nacks_sent += 1;
            self.send_rtcp(destination, nack);
        }
    }

    /// `now` on the wall clock, as NTP time.
    fn ntp_time(&self, now: Instant) -> u64 {
        let (instant, wall) = self.epoch;
        let since_unix = (wall + now.saturating_duration_since(instant)).duration_since(UNIX_EPOCH).unwrap_or_default();
        let seconds = since_unix.as_secs() + NTP_UNIX_OFFSET;
        let fraction = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
        (seconds << 32) | fraction
    }

    pub(super) fn rtcp_destination(&self) -> Option<SocketAddr> {
        if self.options.rtcp_mux {
            self.remote
        } else {
            self.rtcp_remote
        }
    }

    fn send_rtcp(&mut self, destination: SocketAddr, mut contents: Vec<u8>) {
        let source = self.rtcp_socket.unwrap_or(self.rtp_socket).address;
        if let Some(srtp) = &mut self.srtp {
            if srtp.outbound.protect_rtcp(&mut contents).is_err() {
                return;
            }
        }
        self.counters.rtcp_packets_sent += 1;
        self.counters.rtcp_bytes_sent += contents.len() as u64;
        self.outgoing.push_back(OutgoingDatagram { protocol: Protocol::Udp, source, destination, contents });
    }

    /// Asks the endpoint for a keyframe of the stream it publishes on `ssrc` (a PLI).
    pub fn request_keyframe(&mut self, ssrc: u32) {
        if self.closed || self.streams.receiver(ssrc).is_none() {
            return;
        }
        let Some(destination) = self.rtcp_destination() else { return };
        let mut pli = Vec::new();
        write_pli(self.rtcp_ssrc, ssrc, &mut pli);
        self.counters.plis_sent += 1;
        self.send_rtcp(destination, pli);
    }
}
