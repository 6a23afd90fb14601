//! A WebRTC transport: one str0m `Rtc` (ICE-lite, controlled; DTLS; SRTP)
//! and the state the API shows (`iceState`, `dtlsState`, the selected tuple…).
//!
//! Sans-IO like str0m: datagrams and times go in ([`WebRtcTransport::handle_datagram`],
//! [`WebRtcTransport::handle_timeout`]); datagrams to send, notifications and the
//! next deadline come out. Sockets belong to the event loop, which tells the
//! transport the socket address a datagram arrived on (its *bound* address;
//! candidates may announce another IP).
//!
//! Three things str0m leaves to its user are done here:
//! - the client's ICE username fragment: mediasoup-style clients never send
//!   it over signalling, so it is learnt from the first binding request that
//!   passes the integrity check with our password;
//! - the remote certificate: checked against every fingerprint algorithm
//!   SDP knows (see [`crypto`]), and kept for `dtlsRemoteCert`;
//! - DTLS records that arrive before `setRemoteDtlsParameters` are held, and
//!   fed to str0m once DTLS starts, instead of being dropped.
//!
//! This file holds the transport and its loop around str0m (input, output,
//! events, timers); the rest by concept: [`ice`], [`dtls`] (with the
//! [`crypto`] hook), the RTP [`streams`], [`sctp`] and what it shows
//! ([`stats`]).

mod bandwidth;
pub mod crypto;
mod dtls;
mod ice;
mod sctp;
mod stats;
mod streams;

pub use dtls::{DtlsState, RemoteDtlsParameters};
pub use ice::{IceState, Tuple};
pub use sctp::{DataChannels, DataEvent, SendRefused};
pub use stats::Counters;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;
use serde_json::{json, Value};
use str0m::{Candidate, Event, IceConnectionState, IceCreds, Input, Output, Rtc, RtcConfig};
use str0m::config::DtlsCert;
use str0m::media::KeyframeRequestKind;
use str0m::net::{Protocol, Receive, TcpType};
use str0m::rtp::{Extension, Ssrc};

use crate::channel::NotificationEvent;
use crate::channel::message::TransportCreate;
use crate::error::WorkerError;
use crate::rtp::codec_table::{RtpTables, SendTables};
use crate::rtp::packet::ReceivedRtp;
use crate::rtp::stats::{RtcpCounters, Traffic};
use crate::rtp::stream_ids::{read_audio_level, rtp_ssrc, RidLayers};
use crate::sctp::SCTP_MAX_MESSAGE_SIZE;
use crate::transport::{BoundSocket, KeyframeRequested, OutgoingDatagram, TransportNotification};

use crypto::crypto_provider;
use dtls::{HeldDatagram, MAX_HELD_DTLS};
use ice::candidate_json;
use sctp::SCTP_SEND_BUFFER;
use stats::STATS_INTERVAL;
use streams::REMB_INTERVAL;

pub struct WebRtcTransport {
    pub id: String,
    pub peer_id: String,
    rtc: Rtc,
    sockets: Vec<BoundSocket>,
    candidates: Vec<Value>,
    ice_state: IceState,
    dtls_state: DtlsState,
    selected_tuple: Option<Tuple>,
    local_credentials: IceCreds,
    remote_ufrag: Option<String>,
    remote_dtls: Option<RemoteDtlsParameters>,
    local_is_client: Option<bool>,
    held_dtls: Vec<HeldDatagram>,
    own_certificate: Vec<u8>,
    remote_certificate: Option<Vec<u8>>,
    /// The payload types and header-extension ids str0m writes (and reads) on this transport.
    send_tables: SendTables,
    sctp: bool,
    /// Its data channels, when `sctp`.
    data: DataChannels,
    max_bitrate: Option<u64>,
    /// When the last REMB asked publishers to keep under `max_bitrate`.
    remb_sent_at: Option<Instant>,
    /// str0m's RTCP counters of each stream received (by mid and rid) and
    /// sent (by mid), and the round-trip time, at its last stats interval.
    ingress_counters: HashMap<(String, Option<String>), RtcpCounters>,
    egress_counters: HashMap<String, RtcpCounters>,
    /// The loss each stream's receiver reports said since the last call (by mid), for the senders' scores.
    loss_reports: Vec<(String, Option<f32>)>,
    /// The feedback counted for streams that were removed (for the metrics).
    removed_streams: Traffic,
    round_trip_time: Option<Duration>,
    /// The bandwidth estimate toward the endpoint (send-side, from its transport-cc feedback; else its REMB).
    bandwidth: bandwidth::BandwidthEstimate,
    counters: Counters,
    dtls_deadline: Option<Instant>,
    next_timeout: Option<Instant>,
    /// Why the transport ended by itself (an internal failure), if it did.
    ended: Option<String>,
    notifications: Vec<TransportNotification>,
    outgoing: VecDeque<OutgoingDatagram>,
    /// The streams this transport receives: receiver id by mid and by SSRC.
    /// (Receiver ids are shared, not copied, per packet.)
    receiver_mids: FxHashMap<String, Rc<str>>,
    receiver_ssrcs: FxHashMap<u32, Rc<str>>,
    /// Simulcast layers named by rid alone, until their SSRCs are learnt.
    rid_layers: RidLayers,
    /// Layers learnt since the last [`Self::take_learnt_layers`]: (receiver, SSRC, rid).
    learnt_layers: Vec<(Rc<str>, u32, String)>,
    /// RTP that arrived since the last [`Self::drain_rtp`], with its receiver.
    received: Vec<(Rc<str>, ReceivedRtp)>,
    /// Audio streams whose level extension str0m cannot read (the publisher
    /// writes it at another id than this transport's map): SSRC → its id.
    /// Their level is read from the datagram (header extensions are not
    /// encrypted) and put on the packet str0m hands over.
    raw_audio_levels: FxHashMap<u32, u8>,
    /// The level read from the datagram being handled, for its packet.
    raw_level: Option<(u32, i8)>,
    /// The mids of the streams this transport sends.
    sender_mids: Vec<String>,
    keyframe_requests: Vec<KeyframeRequested>,
    /// The CNAME of every stream received on this transport: the first one
    /// given (an endpoint's streams share one, for lip sync), or a generated
    /// one when the first stream came without (rid-only simulcast from
    /// Chromium names none). Subscribers take a stream's id from it.
    pub cname_for_receivers: Option<String>,
    /// Keyframe requests made before DTLS connected, by SSRC.
    pending_keyframes: Vec<u32>,
    /// DTLS connected since the worker last looked: the streams it sends
    /// start at a keyframe (see [`Self::take_just_connected`]).
    just_connected: bool,
}

impl WebRtcTransport {
    /// The transport `createTransport()` asked for (`options`), with host
    /// candidates on `sockets`, not yet connected, carrying the payload
    /// types and header extensions of `tables` (see `codec_table.rs`).
    pub fn new(
        options: &TransportCreate,
        certificate: &DtlsCert,
        sockets: Vec<BoundSocket>,
        tables: RtpTables,
        now: Instant,
    ) -> Result<Self, WorkerError> {
        let mut config = RtcConfig::new()
            .set_ice_lite(true)
            .set_dtls_cert(certificate.clone())
            .set_fingerprint_verification(false)
            .set_crypto_provider(crypto_provider())
            .set_rtp_mode(true)
            // NACK/PLI/FIR counts, round-trip times and the remote end's reports for getStats().
            .set_stats_interval(Some(STATS_INTERVAL))
            .set_sctp_max_message_size(SCTP_MAX_MESSAGE_SIZE as u32)
            .set_sctp_max_buffered_amount(SCTP_SEND_BUFFER);
        if tables.bandwidth_estimation && tables.transport_cc {
            // Send-side bandwidth estimation: the layers each subscriber gets.
            config = config.enable_bwe(Some(str0m::bwe::Bitrate::bps(bandwidth::INITIAL_BANDWIDTH_ESTIMATE)));
        }
        *config.codec_config() = tables.codecs;
        let send_tables = tables.send;
        let tables_estimate = tables.bandwidth_estimation;
        config = config.set_extension_map(send_tables.extensions.clone());
        let mut rtc = catch_unwind(AssertUnwindSafe(|| config.build(now)))
            .map_err(|_| WorkerError::internal("the DTLS certificate was refused by str0m"))?;
        let local_credentials = IceCreds::new();
        rtc.direct_api().set_ice_controlling(false);
        rtc.direct_api().set_local_ice_credentials(local_credentials.clone());
        if send_tables.extensions.id_of(Extension::TransportSequenceNumber).is_some() {
            // Transport-wide congestion control feedback to publishers that
            // number their packets (browsers); str0m's direct API leaves it off.
            rtc.direct_api().enable_twcc_feedback();
        }
        let mut candidates = Vec::new();
        for socket in &sockets {
            let address = socket.candidate_address();
            let candidate = match socket.protocol {
                Protocol::Udp => Candidate::host(address, Protocol::Udp),
                _ => Candidate::builder().tcp().host(address).tcptype(TcpType::Passive).build(),
            }
            .map_err(|err| WorkerError::internal(format!("candidate {address} refused: {err}")))?;
            rtc.add_local_candidate(candidate);
            candidates.push(candidate_json(socket, address, options));
        }
        // Preferred candidates first, as mediasoup lists them.
        candidates.sort_by_key(|candidate| std::cmp::Reverse(candidate["priority"].as_u64().unwrap_or(0)));
        let mut transport = Self {
            id: options.transport_id.clone(),
            peer_id: options.peer_id.clone(),
            rtc,
            sockets,
            candidates,
            ice_state: IceState::New,
            dtls_state: DtlsState::New,
            selected_tuple: None,
            local_credentials,
            remote_ufrag: None,
            remote_dtls: None,
            local_is_client: None,
            held_dtls: Vec::new(),
            own_certificate: certificate.certificate.clone(),
            remote_certificate: None,
            send_tables,
            sctp: options.enable_sctp,
            data: DataChannels::default(),
            max_bitrate: None,
            remb_sent_at: None,
            ingress_counters: HashMap::new(),
            egress_counters: HashMap::new(),
            loss_reports: Vec::new(),
            removed_streams: Traffic::default(),
            round_trip_time: None,
            bandwidth: bandwidth::BandwidthEstimate::new(tables_estimate),
            counters: Counters::default(),
            dtls_deadline: None,
            next_timeout: None,
            ended: None,
            notifications: Vec::new(),
            outgoing: VecDeque::new(),
            receiver_mids: FxHashMap::default(),
            receiver_ssrcs: FxHashMap::default(),
            rid_layers: RidLayers::default(),
            learnt_layers: Vec::new(),
            raw_audio_levels: FxHashMap::default(),
            raw_level: None,
            received: Vec::new(),
            sender_mids: Vec::new(),
            keyframe_requests: Vec::new(),
            cname_for_receivers: None,
            pending_keyframes: Vec::new(),
            just_connected: false,
        };
        transport.drain(now);
        Ok(transport)
    }

    /// `iceLocalParameters`, `iceLocalCandidates`, `dtlsLocalParameters`, `sctpParameters`.
    pub fn local_parameters(&self) -> Value {
        json!({
            "iceLocalParameters": self.ice_local_parameters(),
            "iceLocalCandidates": self.candidates,
            "dtlsLocalParameters": self.dtls_local_parameters(),
            "sctpParameters": self.sctp_parameters(),
        })
    }

    /// The local ICE username fragment (binding requests name it).
    pub fn local_ufrag(&self) -> &str {
        &self.local_credentials.ufrag
    }

    pub fn sockets(&self) -> &[BoundSocket] {
        &self.sockets
    }

    pub fn ice_state(&self) -> IceState {
        self.ice_state
    }

    pub fn dtls_state(&self) -> DtlsState {
        self.dtls_state
    }

    /// Drains str0m after packets were written with [`Self::send_rtp`].
    ///
    /// str0m's pacer lets written packets out at a timeout that the write
    /// makes due at once: it runs here, so they leave in this loop turn
    /// (it replaces the timer that would have run it). Left to the worker's
    /// timers, every forwarded packet would wait for epoll's next
    /// millisecond: 1.3 ms (docs/benchmarks.md).
    pub fn drain_after_writes(&mut self, now: Instant) {
        if self.ended.is_none() {
            let _ = self.with_rtc(|rtc| rtc.handle_input(Input::Timeout(now)).map_err(|err| err.to_string()));
        }
        self.drain(now);
    }

    /// A datagram that arrived on the bound socket `local`. Whatever it
    /// holds, a panic while handling it ends this transport, never the worker.
    pub fn handle_datagram(&mut self, now: Instant, protocol: Protocol, source: SocketAddr, local: SocketAddr, contents: &[u8]) {
        let handled = catch_unwind(AssertUnwindSafe(|| self.receive(now, protocol, source, local, contents)));
        if handled.is_err() {
            tracing::error!("transport {}: a datagram made the WebRTC stack panic; the transport ends", self.id);
            self.end("an internal error in the WebRTC stack");
        }
    }

    fn receive(&mut self, now: Instant, protocol: Protocol, source: SocketAddr, local: SocketAddr, contents: &[u8]) {
        self.counters.bytes_received += contents.len() as u64;
        self.counters.packets_received += 1;
        if self.ended.is_some() || self.dtls_state == DtlsState::Failed {
            return;
        }
        let Some(destination) = self
            .sockets
            .iter()
            .find(|socket| socket.address == local && socket.protocol == protocol)
            .map(BoundSocket::candidate_address)
        else {
            return;
        };
        let first = contents.first().copied().unwrap_or(0);
        if (20..64).contains(&first) && self.remote_dtls.is_none() {
            if self.held_dtls.len() < MAX_HELD_DTLS {
                self.held_dtls.push(HeldDatagram { protocol, source, destination, contents: contents.to_vec() });
            }
            return;
        }
        if first < 2 {
            self.learn_from_binding_request(now, protocol, source, destination, contents);
        }
        // RTP from the endpoint ICE chose, while a rid-only layer waits for its SSRC.
        if (128..192).contains(&first) && self.rid_layers.waiting() && self.selected_tuple.as_ref().is_some_and(|tuple| tuple.remote == source) {
            self.learn_rid_layer(contents);
        }
        if (128..192).contains(&first) && !self.raw_audio_levels.is_empty() {
            self.raw_level = rtp_ssrc(contents)
                .and_then(|ssrc| self.raw_audio_levels.get(&ssrc).copied())
                .and_then(|id| read_audio_level(contents, id));
        }
        self.feed(now, protocol, source, destination, contents);
        self.drain(now);
    }

    fn feed(&mut self, now: Instant, protocol: Protocol, source: SocketAddr, destination: SocketAddr, contents: &[u8]) {
        let Ok(receive) = Receive::new(protocol, source, destination, contents) else { return };
        let input = Input::Receive(now, receive);
        if !self.rtc.accepts(&input) {
            return;
        }
        if let Err(reason) = self.with_rtc(|rtc| rtc.handle_input(input).map_err(|err| err.to_string())) {
            // A bad DTLS record does not end the connection (a spoofed one
            // could otherwise); before DTLS connects it is only logged.
            tracing::debug!("transport {}: input refused: {reason}", self.id);
        }
    }

    /// Runs str0m's timers if they are due, and this transport's own.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.ended.is_some() {
            return;
        }
        if self.dtls_deadline.is_some_and(|deadline| now >= deadline) && self.dtls_state == DtlsState::Connecting {
            self.fail_dtls("DTLS did not connect in time");
        }
        if self.next_timeout.is_some_and(|due| now >= due) {
            let _ = self.with_rtc(|rtc| rtc.handle_input(Input::Timeout(now)).map_err(|err| err.to_string()));
            self.drain(now);
        }
        if self.remb_sent_at.is_none_or(|at| now.saturating_duration_since(at) >= REMB_INTERVAL) {
            self.send_remb(now);
        }
    }

    /// When [`Self::handle_timeout`] wants to run next.
    pub fn next_timeout(&self) -> Option<Instant> {
        if self.ended.is_some() || self.dtls_state == DtlsState::Failed {
            return None;
        }
        let dtls = self.dtls_deadline.filter(|_| self.dtls_state == DtlsState::Connecting);
        match (self.next_timeout, dtls) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs `call` on the `Rtc`; a panic inside str0m ends this transport,
    /// never the worker.
    fn with_rtc<T>(&mut self, call: impl FnOnce(&mut Rtc) -> Result<T, String>) -> Result<T, String> {
        let rtc = &mut self.rtc;
        match catch_unwind(AssertUnwindSafe(|| call(rtc))) {
            Ok(result) => result,
            Err(_) => {
                tracing::error!("transport {}: str0m panicked; the transport ends", self.id);
                self.end("an internal error in the WebRTC stack");
                Err("panicked".into())
            }
        }
    }

    /// Polls str0m until it has nothing more: datagrams, events, the next
    /// timeout. Keyframe requests that waited for DTLS go out once it connects.
    pub fn drain(&mut self, now: Instant) {
        self.drain_once();
        if self.data.has_queued() {
            // SCTP may have room again (acknowledged data, a channel now open).
            self.flush_data();
            self.drain_once();
        }
        if self.dtls_state == DtlsState::Connected && !self.pending_keyframes.is_empty() {
            let ssrcs = std::mem::take(&mut self.pending_keyframes);
            let _ = self.with_rtc(|rtc| {
                let mut api = rtc.direct_api();
                for ssrc in ssrcs {
                    if let Some(stream) = api.stream_rx(&Ssrc::from(ssrc)) {
                        stream.request_keyframe(KeyframeRequestKind::Pli);
                    }
                }
                Ok(())
            });
            self.drain_once();
        }
        // A due time in the past means "again now"; never spin on it.
        if let Some(due) = self.next_timeout.filter(|due| *due <= now) {
            self.next_timeout = Some(due.max(now + Duration::from_millis(1)));
        }
    }

    fn drain_once(&mut self) {
        for _ in 0..10_000 {
            if self.ended.is_some() || !self.rtc.is_alive() {
                break;
            }
            let rtc = &mut self.rtc;
            let output = match catch_unwind(AssertUnwindSafe(|| rtc.poll_output())) {
                Ok(Ok(output)) => output,
                Ok(Err(err)) => {
                    self.collect_remote_certificate();
                    self.fail_dtls(&err.to_string());
                    break;
                }
                Err(_) => {
                    tracing::error!("transport {}: str0m panicked; the transport ends", self.id);
                    self.end("an internal error in the WebRTC stack");
                    break;
                }
            };
            // The peer's certificate is checked the moment str0m sees it, so
            // a wrong one stops the handshake before our next flight leaves
            // (once connected there is none to see: forwarding skips the look).
            if self.dtls_state != DtlsState::Connected && self.collect_remote_certificate() && !self.remote_certificate_matches() {
                self.fail_dtls("the remote certificate does not match its fingerprint");
                break;
            }
            match output {
                Output::Transmit(transmit) => {
                    let Some(socket) = self
                        .sockets
                        .iter()
                        .find(|socket| socket.candidate_address() == transmit.source && socket.protocol == transmit.proto)
                    else {
                        continue;
                    };
                    let contents: Vec<u8> = transmit.contents.into();
                    self.counters.bytes_sent += contents.len() as u64;
                    self.counters.packets_sent += 1;
                    self.outgoing.push_back(OutgoingDatagram {
                        protocol: transmit.proto,
                        source: socket.address,
                        destination: transmit.destination,
                        contents,
                    });
                }
                Output::Timeout(due) => {
                    self.next_timeout = Some(due);
                    break;
                }
                Output::Event(event) => self.handle_event(event),
            }
        }
        if self.dtls_state != DtlsState::Connected {
            self.collect_remote_certificate();
        }
    }

    fn handle_event(&mut self, event: Event) {
        match event {
            Event::IceConnectionStateChange(state) => match state {
                IceConnectionState::Completed | IceConnectionState::Connected => {
                    self.set_ice_state(IceState::Completed);
                }
                IceConnectionState::Disconnected => self.set_ice_state(IceState::Disconnected),
                _ => {}
            },
            Event::Connected => {
                self.collect_remote_certificate();
                self.verify_remote_certificate();
            }
            Event::RtpPacket(mut packet) => {
                if self.raw_audio_levels.contains_key(&*packet.header.ssrc) {
                    // Whatever str0m read at its own id is not this stream's level.
                    let raw = self.raw_level.take().filter(|(ssrc, _)| *ssrc == *packet.header.ssrc);
                    packet.header.ext_vals.audio_level = raw.map(|(_, level)| level);
                }
                let receiver = self.receiver_ssrcs.get(&*packet.header.ssrc).or_else(|| {
                    let mid = packet.header.ext_vals.mid?;
                    self.receiver_mids.get(&*mid)
                });
                if let Some(receiver) = receiver {
                    self.received.push((receiver.clone(), streams::received_rtp(packet)));
                }
            }
            Event::KeyframeRequest(request) => self.keyframe_requests.push(KeyframeRequested { mid: request.mid.to_string(), ssrc: None }),
            Event::MediaIngressStats(stats) => {
                let key = (stats.mid.to_string(), stats.rid.map(|rid| rid.to_string()));
                self.ingress_counters.insert(key, RtcpCounters::from_ingress(&stats));
            }
            Event::MediaEgressStats(stats) => {
                self.loss_reports.push((stats.mid.to_string(), stats.loss));
                self.egress_counters.insert(stats.mid.to_string(), RtcpCounters::from_egress(&stats));
            }
            Event::PeerStats(stats) => self.round_trip_time = stats.rtt.or(self.round_trip_time),
            Event::EgressBitrateEstimate(kind) => self.bandwidth.update(kind),
            Event::ChannelOpen(id, label) => self.channel_opened(id, label),
            Event::ChannelData(data) => self.channel_data(data.id, data.binary, data.data),
            Event::ChannelClose(id) => self.channel_closed(id),
            Event::Closed => {
                self.set_dtls_state(DtlsState::Closed, None);
                tracing::debug!("transport {}: the remote endpoint closed DTLS", self.id);
                self.end("the remote endpoint closed the connection");
            }
            _ => {}
        }
    }

    /// The transport cannot go on (the remote closed it, or str0m panicked):
    /// Python closes it.
    fn end(&mut self, reason: &str) {
        if self.ended.is_some() {
            return;
        }
        self.ended = Some(reason.to_owned());
        self.rtc.disconnect();
        self.notifications.push(TransportNotification {
            event: NotificationEvent::TransportClosed,
            data: json!({"reason": reason}),
        });
    }

    fn check_alive(&self) -> Result<(), WorkerError> {
        match &self.ended {
            Some(reason) => Err(WorkerError::invalid_state(format!("transport {} ended: {reason}", self.id))),
            None => Ok(()),
        }
    }

    /// The next datagram to send, oldest first.
    pub fn poll_datagram(&mut self) -> Option<OutgoingDatagram> {
        self.outgoing.pop_front()
    }

    /// All notifications since the last call.
    pub fn take_notifications(&mut self) -> Vec<TransportNotification> {
        std::mem::take(&mut self.notifications)
    }

    /// Closes the connection at once; no notification (Python closed it).
    pub fn close(&mut self) {
        self.rtc.disconnect();
        self.ice_state = IceState::Closed;
        self.dtls_state = DtlsState::Closed;
        self.outgoing.clear();
    }

}

#[cfg(test)]
#[path = "webrtc_tests.rs"]
mod tests;
