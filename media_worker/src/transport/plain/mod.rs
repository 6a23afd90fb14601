//! A transport for endpoints that speak RTP without ICE or DTLS: ffmpeg,
//! GStreamer, SIP gateways, recorders (mediasoup's PlainTransport). RTP and
//! RTCP over UDP, on one port (`rtcpMux`) or two, to the address the app
//! gives (`connect`) or the one the first packet comes from (`comedia`);
//! from any other address nothing is taken.
//!
//! Its receivers publish what the endpoint sends, by SSRC
//! ([`super::rtp_streams`]); its senders' packets leave as the router
//! rewrote them, with a sender report per stream every second (the NTP
//! time a recorder lines audio and video up by). The endpoint's keyframe
//! requests (PLI, FIR) reach the publishers it receives from, and the
//! router's reach the endpoint as PLIs. With `enableNack` (pipes) it keeps
//! what it sent and sends again what the endpoint NACKs, and NACKs what
//! goes missing of what it receives ([`super::retransmission`]); without,
//! a NACK is counted. With SRTP ([`super::srtp`]), keys given through the API
//! (SDES-style: the transport's own in `srtpParameters`, the endpoint's
//! with `connect`), nothing is taken before the endpoint's keys are known
//! or that does not authenticate, and comedia learns only from a packet
//! that does. Tested through the whole worker: worker/plain_tests.rs.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};
use str0m::net::Protocol;

use super::retransmission::{Arrival, NackGenerator, SendHistory};
use super::rtp_streams::RtpStreams;
use super::srtp::{CryptoSuite, SrtpContext};
use super::{BoundSocket, KeyframeRequested, OutgoingDatagram, TransportNotification};
use crate::channel::NotificationEvent;
use crate::error::WorkerError;
use crate::rtp::capabilities::MediaKind;
use crate::rtp::codec_table::SendTables;
use crate::rtp::packet::{OutgoingRtp, ReadableExtensions, ReceivedRtp};
use crate::rtp::parameters::ReceiveParameters;
use crate::rtp::rtcp::{is_rtcp, Feedback};
use crate::rtp::stats::Traffic;

mod rtcp;

/// How often each stream sent gets a sender report.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// The most SRTP adds to a packet (an HMAC-SHA1-80 tag, or GCM's 16 bytes).
const SRTP_MAX_TRAILER: usize = 16;

/// Seconds from the NTP epoch (1900) to the Unix one.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// The options of `peer.createPlainTransport()` the worker acts on.
#[derive(Debug, Clone, Copy)]
pub struct PlainOptions {
    pub rtcp_mux: bool,
    pub comedia: bool,
    /// NACKs both ways: what was sent is kept and sent again when asked.
    pub nack: bool,
    /// On the port the worker's plain transports share.
    pub shared_port: bool,
}

/// A suite and its master key and salt: the transport's own (what it
/// sends is protected with) or its endpoint's (what it receives is read with).
#[derive(Clone)]
pub struct SrtpKeys {
    pub suite: CryptoSuite,
    pub master: Vec<u8>,
    /// `master` as the API shows it.
    pub key_base64: String,
}

/// The SRTP of a transport created with it: its own keys' context, and its
/// endpoint's once `connect` gave them.
struct Srtp {
    local: SrtpKeys,
    outbound: SrtpContext,
    inbound: Option<SrtpContext>,
    /// Where a packet is decrypted (it arrives in a borrowed buffer).
    clear: Vec<u8>,
}

/// Packets each way, and those not taken.
#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    rtp_packets_received: u64,
    rtp_bytes_received: u64,
    rtcp_packets_received: u64,
    rtcp_bytes_received: u64,
    rtp_packets_sent: u64,
    rtp_bytes_sent: u64,
    rtcp_packets_sent: u64,
    rtcp_bytes_sent: u64,
    /// From an address not the endpoint's, malformed, or of no stream of it.
    packets_discarded: u64,
    /// NACKs received, and the packets they asked to be sent again.
    nacks: u64,
    nacked: u64,
    /// Packets sent again on a NACK (with `enableNack`).
    retransmitted: u64,
    /// NACKs sent, and the packets missing that arrived afterwards.
    nacks_sent: u64,
    repaired: u64,
    keyframe_requests_received: u64,
    plis_sent: u64,
}

pub struct PlainTransport {
    pub id: String,
    pub peer_id: String,
    tables: SendTables,
    pub cname_for_receivers: Option<String>,
    closed: bool,
    options: PlainOptions,
    streams: RtpStreams,
    /// Where RTP (and, muxed, RTCP) is sent from and arrives.
    rtp_socket: BoundSocket,
    /// Where RTCP is, without `rtcpMux`.
    rtcp_socket: Option<BoundSocket>,
    remote: Option<SocketAddr>,
    rtcp_remote: Option<SocketAddr>,
    /// Set by `connect` (not learnt): `connect` is called once.
    connected: bool,
    just_connected: bool,
    received: Vec<(Rc<str>, ReceivedRtp)>,
    outgoing: VecDeque<OutgoingDatagram>,
    notifications: Vec<TransportNotification>,
    keyframe_requests: Vec<KeyframeRequested>,
    loss_reports: Vec<(String, Option<f32>)>,
    counters: Counters,
    last_discard: Option<String>,
    /// The SSRC its own RTCP (keyframe requests) is sent from.
    rtcp_ssrc: u32,
    /// An instant and the wall clock then: NTP times of sender reports.
    epoch: (Instant, SystemTime),
    next_report: Instant,
    feedback: Vec<Feedback>,
    srtp: Option<Srtp>,
    /// With `enableNack`: what it sent, and what is missing of what it receives.
    history: Option<SendHistory>,
    nacker: Option<NackGenerator>,
}

impl PlainTransport {
    /// The transport of `peer_id` on its bound sockets (a second one for
    /// RTCP without `rtcpMux`), whose senders write the payload types and
    /// extension ids of `tables`; with SRTP, what it sends is protected by `srtp`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        peer_id: String,
        tables: SendTables,
        rtp_socket: BoundSocket,
        rtcp_socket: Option<BoundSocket>,
        options: PlainOptions,
        srtp: Option<SrtpKeys>,
        rtcp_ssrc: u32,
        now: Instant,
    ) -> Result<Self, WorkerError> {
        let srtp = match srtp {
            Some(local) => {
                let outbound = SrtpContext::new(local.suite, &local.master).map_err(|error| WorkerError::value_error(error.to_string()))?;
                Some(Srtp { local, outbound, inbound: None, clear: Vec::new() })
            }
            None => None,
        };
        Ok(Self {
            id,
            peer_id,
            streams: RtpStreams::new("a plain transport", &tables),
            tables,
            cname_for_receivers: None,
            closed: false,
            options,
            rtp_socket,
            rtcp_socket: rtcp_socket.filter(|_| !options.rtcp_mux),
            remote: None,
            rtcp_remote: None,
            connected: false,
            just_connected: false,
            received: Vec::new(),
            outgoing: VecDeque::new(),
            notifications: Vec::new(),
            keyframe_requests: Vec::new(),
            loss_reports: Vec::new(),
            counters: Counters::default(),
            last_discard: None,
            rtcp_ssrc,
            epoch: (now, SystemTime::now()),
            next_report: now + REPORT_INTERVAL,
            feedback: Vec::new(),
            srtp,
            history: options.nack.then(SendHistory::default),
            nacker: options.nack.then(NackGenerator::default),
        })
    }

    /// What `createPlainTransport` answers: `{'tuple', 'rtcpTuple', 'rtcpMux', 'comedia', 'srtpParameters'}`.
    pub fn local_parameters(&self) -> Value {
        json!({
            "tuple": tuple_json(&self.rtp_socket, self.remote),
            "rtcpTuple": self.rtcp_socket.as_ref().map(|socket| tuple_json(socket, self.rtcp_remote)),
            "rtcpMux": self.options.rtcp_mux,
            "comedia": self.options.comedia,
            "enableNack": self.options.nack,
            "sharedPort": self.options.shared_port,
            "srtpParameters": self.srtp.as_ref().map(|srtp| json!({"cryptoSuite": srtp.local.suite.name(), "keyBase64": srtp.local.key_base64})),
        })
    }

    /// `connect(ip, port, rtcpPort, srtpParameters)`: where the endpoint is
    /// (none with comedia) and, with SRTP, its keys. Answers the tuples.
    pub fn connect(&mut self, remote: Option<SocketAddr>, rtcp_port: Option<u16>, remote_srtp: Option<SrtpKeys>) -> Result<Value, WorkerError> {
        if self.connected {
            return Err(WorkerError::invalid_state(format!("plain transport {} is connected already", self.id)));
        }
        let inbound = match (&self.srtp, remote_srtp) {
            (Some(_), None) => return Err(WorkerError::value_error("srtpParameters are needed: the transport was created with enableSrtp")),
            (None, Some(_)) => return Err(WorkerError::value_error("srtpParameters given to a transport created without enableSrtp")),
            (Some(_), Some(keys)) => Some(SrtpContext::new(keys.suite, &keys.master).map_err(|error| WorkerError::value_error(format!("srtpParameters: {error}")))?),
            (None, None) => None,
        };
        let remote = match (self.options.comedia, remote) {
            (true, _) if remote.is_some() || inbound.is_none() => {
                let takes = if self.srtp.is_some() { "only srtpParameters" } else { "none" };
                return Err(WorkerError::invalid_state(format!("a comedia transport learns its endpoint's address from its first packet: connect() takes {takes}")));
            }
            (true, _) => None,
            (false, None) => return Err(WorkerError::value_error("connect() needs the endpoint's ip and port")),
            (false, Some(remote)) => Some(remote),
        };
        if let Some(remote) = remote {
            self.check_remote(remote, rtcp_port)?;
        } else if rtcp_port.is_some() {
            return Err(WorkerError::invalid_state("a comedia transport learns its endpoint's RTCP port too: connect() takes no rtcpPort"));
        }
        self.connected = true;
        if let (Some(srtp), Some(inbound)) = (&mut self.srtp, inbound) {
            srtp.inbound = Some(inbound);
        }
        if let Some(remote) = remote {
            self.remote = Some(remote);
            self.rtcp_remote = rtcp_port.filter(|_| !self.options.rtcp_mux).map(|port| SocketAddr::new(remote.ip(), port));
            self.just_connected = true;
        }
        Ok(self.local_parameters())
    }

    /// Whether `remote` and `rtcp_port` can be the endpoint's.
    fn check_remote(&self, remote: SocketAddr, rtcp_port: Option<u16>) -> Result<(), WorkerError> {
        if remote.is_ipv4() != self.rtp_socket.address.is_ipv4() {
            return Err(WorkerError::value_error(format!("ip {} is not of the family of the transport's address {}", remote.ip(), self.rtp_socket.address.ip())));
        }
        if remote.port() == 0 || rtcp_port == Some(0) {
            return Err(WorkerError::value_error("port and rtcpPort must be 1 to 65535"));
        }
        match (self.options.rtcp_mux, rtcp_port) {
            (true, Some(port)) if port != remote.port() => {
                return Err(WorkerError::value_error("rtcpPort is the port with rtcpMux: leave it out or give the same"));
            }
            (false, None) => return Err(WorkerError::value_error("rtcpPort is needed without rtcpMux")),
            _ => {}
        }
        Ok(())
    }

    pub fn close(&mut self) {
        self.closed = true;
        self.received.clear();
        self.outgoing.clear();
    }

    pub fn can_send_media(&self) -> bool {
        !self.closed && self.remote.is_some()
    }

    pub fn send_tables(&self) -> &SendTables {
        &self.tables
    }

    /// Where it receives RTP, and whether that port is the worker's shared one.
    pub fn rtp_socket(&self) -> (SocketAddr, bool) {
        (self.rtp_socket.address, self.options.shared_port)
    }

    /// Its endpoint's address, once known.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.remote
    }

    // Datagrams and time.

    /// A datagram that arrived on one of its sockets.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, local: SocketAddr, contents: &[u8]) {
        if self.closed {
            return;
        }
        let on_rtcp_socket = self.rtcp_socket.is_some_and(|socket| socket.address == local);
        let rtcp = on_rtcp_socket || is_rtcp(contents);
        if !rtcp && contents.first().is_none_or(|byte| byte >> 6 != 2) {
            return self.discard(format!("not RTP or RTCP from {source}"));
        }
        let expected = if on_rtcp_socket { self.rtcp_remote } else { self.remote };
        match expected {
            Some(address) if address != source => return self.discard(format!("from {source}, not from the endpoint at {address}")),
            None if !self.options.comedia => return self.discard(format!("from {source} before connect()")),
            _ => {}
        }
        // comedia: the first packet that reads right (and, with SRTP,
        // authenticates) names the endpoint; on the RTP port, an RTP packet
        // (ffmpeg sends RTCP from another port of its own, and may send it first).
        let learning = expected.is_none();
        if learning && rtcp && !on_rtcp_socket {
            return self.discard(format!("RTCP from {source} before the first RTP packet"));
        }
        let Some(srtp) = &mut self.srtp else {
            return self.handle_clear(now, source, contents, rtcp, on_rtcp_socket, learning);
        };
        let mut clear = std::mem::take(&mut srtp.clear);
        match decrypt(srtp.inbound.as_mut(), contents, rtcp, &mut clear) {
            Ok(contents) => self.handle_clear(now, source, contents, rtcp, on_rtcp_socket, learning),
            Err(reason) => self.discard(format!("{reason}, from {source}")),
        }
        if let Some(srtp) = &mut self.srtp {
            srtp.clear = clear;
        }
    }

    /// A datagram from the endpoint (or, learning, from who may be it), in the clear.
    fn handle_clear(&mut self, now: Instant, source: SocketAddr, contents: &[u8], rtcp: bool, on_rtcp_socket: bool, learning: bool) {
        if rtcp {
            let read = self.handle_rtcp(contents, now);
            if learning && read.is_err() {
                return self.discard(format!("RTCP that does not read, from {source}"));
            }
            if learning {
                self.learn(on_rtcp_socket, source);
            }
            self.counters.rtcp_packets_received += 1;
            self.counters.rtcp_bytes_received += contents.len() as u64;
        } else {
            match self.streams.read(contents, now) {
                Ok(received) => {
                    if learning {
                        self.learn(false, source);
                    }
                    if let Some(nacker) = &mut self.nacker {
                        let (ssrc, sequence) = (be32(contents, 8), u16::from_be_bytes([contents[2], contents[3]]));
                        if nacker.on_packet(ssrc, sequence, now) == Arrival::Repaired {
                            self.counters.repaired += 1;
                        }
                    }
                    self.counters.rtp_packets_received += 1;
                    self.counters.rtp_bytes_received += contents.len() as u64;
                    self.received.push(received);
                }
                Err(reason) => self.discard(reason),
            }
        }
    }

    /// comedia: the endpoint is where its first packet came from.
    fn learn(&mut self, rtcp: bool, source: SocketAddr) {
        let (event, name, socket) = if rtcp {
            self.rtcp_remote = Some(source);
            (NotificationEvent::TransportRtcpTuple, "rtcpTuple", self.rtcp_socket.unwrap_or(self.rtp_socket))
        } else {
            self.remote = Some(source);
            self.just_connected = true;
            (NotificationEvent::TransportTuple, "tuple", self.rtp_socket)
        };
        tracing::debug!("plain transport {}: the endpoint is at {source} ({name})", self.id);
        self.notifications.push(TransportNotification { event, data: json!({ name: tuple_json(&socket, Some(source)) }) });
    }

    fn discard(&mut self, reason: String) {
        self.counters.packets_discarded += 1;
        if self.counters.packets_discarded == 1 {
            tracing::debug!("plain transport {}: a datagram was discarded: {reason}", self.id);
        }
        self.last_discard = Some(reason);
    }

    pub fn poll_datagram(&mut self) -> Option<OutgoingDatagram> {
        self.outgoing.pop_front()
    }

    pub fn take_notifications(&mut self) -> Vec<TransportNotification> {
        std::mem::take(&mut self.notifications)
    }

    // Streams.

    pub fn add_receiver(&mut self, receiver_id: &str, kind: MediaKind, parameters: &ReceiveParameters) -> Result<(String, ReadableExtensions), WorkerError> {
        self.streams.add_receiver(&self.id, receiver_id, kind, parameters)
    }

    pub fn remove_receiver(&mut self, receiver_id: &str) {
        let ssrcs = self.streams.remove_receiver(receiver_id);
        // Their SRTP state goes too: a context keeps a bounded number of streams.
        if let Some(inbound) = self.srtp.as_mut().and_then(|srtp| srtp.inbound.as_mut()) {
            for ssrc in ssrcs {
                inbound.remove_stream(ssrc);
            }
        }
    }

    pub fn add_sender(&mut self, mid: &str, ssrc: u32) {
        self.streams.add_sender(mid, ssrc);
    }

    pub fn remove_sender(&mut self, ssrc: u32) {
        self.streams.remove_sender(ssrc);
        if let Some(history) = &mut self.history {
            history.remove(ssrc);
        }
        if let Some(srtp) = &mut self.srtp {
            srtp.outbound.remove_stream(ssrc);
        }
    }

    /// Whether its SRTP keeps state for `ssrc`, received or sent (for tests).
    #[cfg(test)]
    pub fn srtp_has_stream(&self, received: bool, ssrc: u32) -> bool {
        self.srtp.as_ref().is_some_and(|srtp| if received { srtp.inbound.as_ref().is_some_and(|inbound| inbound.has_stream(ssrc)) } else { srtp.outbound.has_stream(ssrc) })
    }

    /// Sends a forwarded packet to the endpoint (nothing before its address is known).
    pub fn send_rtp(&mut self, rtp: &OutgoingRtp, packet: &ReceivedRtp, readable: ReadableExtensions, now: Instant) {
        let Some(destination) = self.remote.filter(|_| !self.closed) else { return };
        // Written into the datagram's own buffer, room left for SRTP's tag.
        let mut contents = Vec::with_capacity(12 + 64 + packet.payload.len() + SRTP_MAX_TRAILER);
        if !self.streams.write_into(rtp, packet, readable, &mut contents) {
            return;
        }
        if let Some(srtp) = &mut self.srtp {
            if srtp.outbound.protect_rtp(&mut contents).is_err() {
                return;
            }
        }
        if let Some(history) = &mut self.history {
            history.store(be32(&contents, 8), u16::from_be_bytes([contents[2], contents[3]]), &contents, now);
        }
        self.streams.count_sent(rtp, contents.len(), now);
        self.counters.rtp_packets_sent += 1;
        self.counters.rtp_bytes_sent += contents.len() as u64;
        self.outgoing.push_back(OutgoingDatagram { protocol: Protocol::Udp, source: self.rtp_socket.address, destination, contents });
    }

    pub fn drain_rtp(&mut self, into: &mut Vec<(Rc<str>, ReceivedRtp)>) {
        into.append(&mut self.received);
    }

    pub fn take_keyframe_requests(&mut self) -> Vec<KeyframeRequested> {
        std::mem::take(&mut self.keyframe_requests)
    }

    pub fn take_loss_reports(&mut self) -> Vec<(String, Option<f32>)> {
        std::mem::take(&mut self.loss_reports)
    }

    /// Whether the endpoint's address became known since the last call.
    pub fn take_just_connected(&mut self) -> bool {
        std::mem::take(&mut self.just_connected)
    }

    // What the API shows.

    pub fn dump(&self) -> Value {
        let (receivers, senders) = self.streams.dump();
        let mut dump = self.local_parameters();
        dump["id"] = json!(self.id);
        dump["peerId"] = json!(self.peer_id);
        dump["plain"] = json!(true);
        dump["receiving"] = json!(receivers);
        dump["sending"] = json!(senders);
        dump["lastDiscarded"] = json!(self.last_discard);
        dump
    }

    pub fn traffic(&self) -> Traffic {
        let counters = self.counters;
        Traffic {
            bytes_received: counters.rtp_bytes_received + counters.rtcp_bytes_received,
            packets_received: counters.rtp_packets_received + counters.rtcp_packets_received,
            bytes_sent: counters.rtp_bytes_sent + counters.rtcp_bytes_sent,
            packets_sent: counters.rtp_packets_sent + counters.rtcp_packets_sent,
            plis_sent: counters.plis_sent,
            plis_received: counters.keyframe_requests_received,
            nacks_received: counters.nacks,
            nacks_sent: counters.nacks_sent,
            ..Traffic::default()
        }
    }

    pub fn stats(&self, now_ms: u64) -> Value {
        let counters = self.counters;
        let mut entries = vec![json!({
            "type": "plain-transport",
            "transportId": self.id,
            "timestamp": now_ms,
            "tuple": tuple_json(&self.rtp_socket, self.remote),
            "rtcpTuple": self.rtcp_socket.as_ref().map(|socket| tuple_json(socket, self.rtcp_remote)),
            "rtpPacketsReceived": counters.rtp_packets_received,
            "rtpBytesReceived": counters.rtp_bytes_received,
            "rtcpPacketsReceived": counters.rtcp_packets_received,
            "rtcpBytesReceived": counters.rtcp_bytes_received,
            "rtpPacketsSent": counters.rtp_packets_sent,
            "rtpBytesSent": counters.rtp_bytes_sent,
            "rtcpPacketsSent": counters.rtcp_packets_sent,
            "rtcpBytesSent": counters.rtcp_bytes_sent,
            "packetsDiscarded": counters.packets_discarded,
            "nackedPackets": counters.nacked,
            "retransmittedPackets": counters.retransmitted,
            "nacksSent": counters.nacks_sent,
            "repairedPackets": counters.repaired,
            "keyFrameRequestsReceived": counters.keyframe_requests_received,
        })];
        entries.extend(self.streams.outbound_stats("plain-outbound", now_ms));
        Value::Array(entries)
    }
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// An SRTP or SRTCP packet read into `clear` with the endpoint's keys.
fn decrypt<'a>(inbound: Option<&mut SrtpContext>, contents: &[u8], rtcp: bool, clear: &'a mut Vec<u8>) -> Result<&'a [u8], String> {
    let inbound = inbound.ok_or("SRTP before connect() gave the endpoint's keys")?;
    clear.clear();
    clear.extend_from_slice(contents);
    let length = if rtcp { inbound.unprotect_rtcp(clear) } else { inbound.unprotect_rtp(clear) };
    let length = length.map_err(|error| error.to_string())?;
    Ok(&clear[..length])
}

/// `{'localIp', 'localPort', 'protocol', 'remoteIp'?, 'remotePort'?}`.
fn tuple_json(socket: &BoundSocket, remote: Option<SocketAddr>) -> Value {
    let local = socket.candidate_address();
    let mut tuple = json!({"localIp": local.ip().to_string(), "localPort": local.port(), "protocol": "udp"});
    if let Some(remote) = remote {
        tuple["remoteIp"] = json!(remote.ip().to_string());
        tuple["remotePort"] = json!(remote.port());
    }
    tuple
}
