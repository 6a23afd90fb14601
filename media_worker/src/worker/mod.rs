//! The worker as a state machine: Channel requests, datagrams and times in;
//! answers, datagrams to send, notifications and the next deadline out. It
//! holds the objects (rooms with their routers, peers, transports), answers
//! each request and closes what a close takes with it; sockets stay behind
//! [`Network`], so the event loop in [`crate::shell`] only moves bytes and
//! time, and tests drive the whole worker without a socket.
//!
//! By concept: requests on rooms and peers ([`rooms`]), on transports and
//! the packets and timers that reach them ([`transports`]), on receivers and
//! senders, and the glue between transports and routers ([`media`]); the
//! same for data channels, and the rooms' audio levels ([`data`]); direct
//! transports and the media path to Python ([`direct`]); plain RTP
//! transports ([`plain`]); what a deployment
//! watches ([`metrics`]); which transport a
//! datagram is for ([`demux`]); deadlines ([`timers`]); and what leaves
//! ([`outbox`]).

mod data;
mod direct;
mod plain;
pub mod demux;
mod media;
mod metrics;
pub mod outbox;
mod rooms;
pub mod timers;
mod transports;

use std::net::IpAddr;
use std::rc::Rc;
use std::time::Instant;

use rustc_hash::FxHashMap;
use serde_json::{json, Value};
use str0m::config::DtlsCert;

use crate::channel::media::MediaFrameReader;
use crate::channel::message::{DataReceiverRef, DataSenderRef, DataSenderTransport, PeerDataListener, PeerRef, PeerSetCapabilities, RoomDumpPage, RoomRef, RtpReceiverRef, RtpSenderActive, RtpSenderPreferredLayers, RtpSenderPriority, RtpSenderRef, RtpSenderTransport, TransportRef};
use crate::channel::{Notification, Request};
use crate::channel::logging::LogFilter;
use crate::error::WorkerError;
use crate::room::peer::Peer;
use crate::room::peer_capabilities::parse_peer_capabilities;
use crate::room::Room;
use crate::router::layer_selector::Layers;
use crate::rtp::packet::ReceivedRtp;
pub use crate::router::TransportKey;
use crate::transport::webrtc::DataEvent;
use crate::transport::{BoundSocket, Transport};
use demux::Demux;
use metrics::Ended;
use outbox::Outbox;
use crate::channel::settings::{decode_hex, WorkerSettings};
use timers::Timers;

/// The sockets a new transport needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketPlan {
    pub udp: bool,
    pub tcp: bool,
    /// Listen address and the address announced for it, per family.
    pub addresses: Vec<(IpAddr, Option<IpAddr>)>,
    /// The worker's port sub-range, inclusive.
    pub ports: (u16, u16),
}

/// Where sockets come from: the event loop's real ones, or a test's.
pub trait Network {
    /// Binds one port of `plan.ports` for every address and protocol of the plan.
    fn open_sockets(&mut self, key: TransportKey, plan: &SocketPlan) -> Result<Vec<BoundSocket>, WorkerError>;
    /// Binds `plan.ports.0` for every address and protocol of the plan, for
    /// all the worker's transports: they live as long as the worker.
    fn open_shared_sockets(&mut self, plan: &SocketPlan) -> Result<Vec<BoundSocket>, WorkerError>;
    /// Binds a free port of `plan.ports` (UDP) that transports share, for
    /// as long as the worker lives: plain transports' `sharedPort`.
    fn open_shared_port(&mut self, plan: &SocketPlan) -> Result<Vec<BoundSocket>, WorkerError>;
    /// Closes every socket (and TCP connection) of the transport.
    fn close_sockets(&mut self, key: TransportKey);
}

pub struct Worker {
    pid: u32,
    log_filter: LogFilter,
    settings: Option<WorkerSettings>,
    certificate: Option<DtlsCert>,
    rooms: FxHashMap<String, Room>,
    /// Room ids in creation order, for dumps.
    room_order: Vec<String>,
    peers: FxHashMap<String, Peer>,
    /// The room of each receiver and sender (whose router holds it).
    receiver_rooms: FxHashMap<String, String>,
    sender_rooms: FxHashMap<String, String>,
    /// The room of each data receiver and data sender.
    data_receiver_rooms: FxHashMap<String, String>,
    data_sender_rooms: FxHashMap<String, String>,
    transports: FxHashMap<TransportKey, Transport>,
    transport_keys: FxHashMap<String, TransportKey>,
    /// Whether the event loop carries a media path (direct transports need one).
    media_path: bool,
    media_reader: MediaFrameReader,
    /// The direct transports, in creation order, and the one whose frames
    /// for Python were taken last.
    direct_keys: Vec<TransportKey>,
    media_cursor: usize,
    next_key: TransportKey,
    /// Seeds each room's SSRC generator.
    ssrc_seed: u64,
    demux: Demux,
    /// The sockets its plain transports share (`sharedPort`), one per listen address.
    shared_plain: Vec<BoundSocket>,
    timers: Timers,
    outbox: Outbox,
    /// A buffer reused by every `collect` (no allocation per packet once warm).
    rtp_buffer: Vec<(Rc<str>, ReceivedRtp)>,
    /// The same for data-channel events.
    data_events: Vec<DataEvent>,
    /// The earliest end of a room's audio-level interval.
    audio_deadline: Option<Instant>,
    notifications: Vec<Notification>,
    started_at: Instant,
    /// What closed transports and receivers counted, for the metrics.
    ended: Ended,
    /// Datagrams and TCP frames that reached a shared port for no transport
    /// (from a tuple no transport has learnt, and not a binding request
    /// naming a live one), for the metrics.
    datagrams_unrouted: u64,
}

impl Worker {
    /// A worker of process `pid`, started at `now`; its rooms' SSRCs come
    /// from `ssrc_seed` (the shell gives it entropy: nothing here reads a clock).
    pub fn new(pid: u32, log_filter: LogFilter, now: Instant, ssrc_seed: u64) -> Self {
        Self {
            pid,
            log_filter,
            settings: None,
            certificate: None,
            rooms: FxHashMap::default(),
            room_order: Vec::new(),
            peers: FxHashMap::default(),
            receiver_rooms: FxHashMap::default(),
            sender_rooms: FxHashMap::default(),
            data_receiver_rooms: FxHashMap::default(),
            data_sender_rooms: FxHashMap::default(),
            transports: FxHashMap::default(),
            transport_keys: FxHashMap::default(),
            media_path: false,
            media_reader: MediaFrameReader::default(),
            direct_keys: Vec::new(),
            media_cursor: 0,
            next_key: 1,
            ssrc_seed,
            demux: Demux::default(),
            shared_plain: Vec::new(),
            timers: Timers::default(),
            outbox: Outbox::default(),
            rtp_buffer: Vec::new(),
            data_events: Vec::new(),
            audio_deadline: None,
            notifications: Vec::new(),
            started_at: now,
            ended: Ended::default(),
            datagrams_unrouted: 0,
        }
    }

    /// The event loop carries a media path: direct transports can be created.
    pub fn enable_media_path(&mut self) {
        self.media_path = true;
    }

    /// Handles one request. Every failure is an answer; nothing here panics
    /// on what the Channel carries.
    pub fn handle_request(&mut self, request: Request, now: Instant, network: &mut dyn Network) -> Result<Value, WorkerError> {
        if let Request::WorkerInit(settings) = request {
            return self.init(settings, network);
        }
        if self.settings.is_none() {
            return Err(WorkerError::invalid_state("worker.init must be the first request"));
        }
        match request {
            Request::WorkerInit(_) => Err(WorkerError::invalid_state("worker.init was already received")),
            Request::WorkerDump => Ok(self.dump(now)),
            Request::WorkerGetMetrics => Ok(self.metrics(now)),
            Request::WorkerUpdateSettings(update) => {
                self.log_filter.set(update.log_level);
                tracing::info!("logLevel is now {}", update.log_level);
                Ok(json!({ "logLevel": update.log_level }))
            }
            Request::RoomCreate(create) => self.create_room(create),
            Request::RoomClose(RoomRef { room_id }) => self.close_room(&room_id, now, network),
            Request::RoomDump(RoomDumpPage { room_id, from_peer }) => self.dump_room(&room_id, from_peer),
            Request::RoomCreatePeer(create) => self.create_peer(create),
            Request::PeerClose(PeerRef { peer_id }) => self.close_peer(&peer_id, now, network),
            Request::PeerDump(PeerRef { peer_id }) => Ok(self.peer(&peer_id)?.dump()),
            Request::PeerSetCapabilities(PeerSetCapabilities { peer_id, rtp_capabilities }) => {
                let capabilities = parse_peer_capabilities(&rtp_capabilities)?;
                let peer = self.peers.get_mut(&peer_id).ok_or_else(|| unknown("peer", &peer_id))?;
                peer.capabilities = Some(capabilities.clone());
                Ok(capabilities)
            }
            Request::PeerCreateTransport(create) => self.create_transport(create, now, network),
            Request::PeerCreateDirectTransport(create) => self.create_direct_transport(create),
            Request::PeerCreatePlainTransport(create) => self.create_plain_transport(create, now, network),
            Request::TransportConnect(connect) => self.connect_plain_transport(connect, now),
            Request::TransportClose(TransportRef { transport_id }) => self.close_transport(&transport_id, now, network),
            Request::TransportDump(TransportRef { transport_id }) => {
                let key = self.transport_key(&transport_id)?;
                Ok(self.transport_mut(key)?.dump())
            }
            Request::TransportGetStats(TransportRef { transport_id }) => {
                let key = self.transport_key(&transport_id)?;
                let now_ms = self.millis_since_start(now);
                Ok(self.transport_mut(key)?.stats(now_ms))
            }
            Request::TransportSetRemoteDtlsParameters(remote) => {
                let key = self.transport_key(&remote.transport_id)?;
                let transport = self.transport_mut(key)?.as_webrtc_mut("setRemoteDtlsParameters")?;
                let answer = transport.set_remote_dtls_parameters(&remote.dtls_parameters, now);
                self.collect(key, now);
                answer
            }
            Request::TransportSetMaxBitrate(limit) => {
                let key = self.transport_key(&limit.transport_id)?;
                if limit.bitrate == 0 {
                    return Err(WorkerError::value_error("bitrate must be > 0"));
                }
                self.transport_mut(key)?.as_webrtc_mut("setMaxBitrate")?.set_max_bitrate(limit.bitrate, now);
                self.collect(key, now);
                Ok(Value::Null)
            }
            Request::TransportRestartIce(TransportRef { transport_id }) => {
                let key = self.transport_key(&transport_id)?;
                let transport = self.transport_mut(key)?.as_webrtc_mut("restartIce")?;
                let answer = transport.restart_ice(now);
                let ufrag = transport.local_ufrag().to_owned();
                self.demux.set_ufrag(key, &ufrag);
                self.collect(key, now);
                answer
            }
            Request::RtpReceiverReceive(receive) => self.receive(receive, now),
            Request::RtpReceiverClose(RtpReceiverRef { receiver_id }) => {
                self.close_receiver(&receiver_id, now).ok_or_else(|| unknown("rtpReceiver", &receiver_id))?;
                Ok(Value::Null)
            }
            Request::RtpReceiverDump(RtpReceiverRef { receiver_id }) => self.dump_receiver(&receiver_id),
            Request::RtpReceiverGetStats(RtpReceiverRef { receiver_id }) => self.receiver_stats(&receiver_id, now),
            Request::RtpSenderCreate(create) => self.create_sender(create),
            Request::RtpSenderSetTransport(RtpSenderTransport { sender_id, transport_id, mid }) => {
                self.set_sender_transport(&sender_id, &transport_id, mid, now)
            }
            Request::RtpSenderSetActive(RtpSenderActive { sender_id, active }) => {
                let room_id = self.sender_room(&sender_id)?;
                let router = &mut self.room_mut(&room_id)?.router;
                router.set_sender_active(&sender_id, active, now)?;
                let requests = router.take_keyframe_requests();
                self.request_keyframes(requests, now);
                self.report_layers(&room_id);
                Ok(Value::Null)
            }
            Request::RtpSenderSetPriority(RtpSenderPriority { sender_id, priority }) => {
                let room_id = self.sender_room(&sender_id)?;
                self.room_mut(&room_id)?.router.set_priority(&sender_id, priority)?;
                Ok(Value::Null)
            }
            Request::RtpSenderSetPreferredLayers(RtpSenderPreferredLayers { sender_id, spatial_layer, temporal_layer }) => {
                let room_id = self.sender_room(&sender_id)?;
                let preferred = Layers { spatial: spatial_layer, temporal: temporal_layer.unwrap_or(u8::MAX) };
                self.room_mut(&room_id)?.router.set_preferred_layers(&sender_id, preferred)?;
                self.report_layers(&room_id);
                Ok(Value::Null)
            }
            Request::RtpSenderRequestKeyFrame(RtpSenderRef { sender_id }) => self.request_sender_keyframe(&sender_id, now),
            Request::RtpSenderClose(RtpSenderRef { sender_id }) => {
                self.close_sender(&sender_id, now).ok_or_else(|| unknown("rtpSender", &sender_id))?;
                Ok(Value::Null)
            }
            Request::RtpSenderDump(RtpSenderRef { sender_id }) => self.dump_sender(&sender_id, now),
            Request::RtpSenderGetStats(RtpSenderRef { sender_id }) => self.sender_stats(&sender_id, now),
            Request::PeerSendData(send) => self.send_data(send, now),
            Request::PeerSetDataListener(PeerDataListener { peer_id, enabled }) => {
                self.peers.get_mut(&peer_id).ok_or_else(|| unknown("peer", &peer_id))?.data_listener = enabled;
                Ok(Value::Null)
            }
            Request::DataReceiverReceive(receive) => self.receive_data(receive, now),
            Request::DataReceiverClose(DataReceiverRef { data_receiver_id: id }) => {
                self.close_data_receiver(&id, now).ok_or_else(|| unknown("dataReceiver", &id))?;
                Ok(Value::Null)
            }
            Request::DataReceiverDump(DataReceiverRef { data_receiver_id: id }) => self.dump_data_receiver(&id),
            Request::DataReceiverGetStats(DataReceiverRef { data_receiver_id: id }) => self.data_receiver_stats(&id, now),
            Request::DataSenderCreate(create) => self.create_data_sender(create),
            Request::DataSenderSetTransport(DataSenderTransport { data_sender_id, transport_id }) => {
                self.set_data_sender_transport(&data_sender_id, &transport_id, now)
            }
            Request::DataSenderClose(DataSenderRef { data_sender_id: id }) => {
                self.close_data_sender(&id, now).ok_or_else(|| unknown("dataSender", &id))?;
                Ok(Value::Null)
            }
            Request::DataSenderDump(DataSenderRef { data_sender_id: id }) => self.dump_data_sender(&id),
            Request::DataSenderGetStats(DataSenderRef { data_sender_id: id }) => self.data_sender_stats(&id, now),
        }
    }

    /// Notifications for Python since the last call.
    pub fn take_notifications(&mut self) -> Vec<Notification> {
        std::mem::take(&mut self.notifications)
    }

    /// Milliseconds since the worker started: the `timestamp` of stats.
    fn millis_since_start(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.started_at).as_millis() as u64
    }

    fn init(&mut self, settings: WorkerSettings, network: &mut dyn Network) -> Result<Value, WorkerError> {
        if self.settings.is_some() {
            return Err(WorkerError::invalid_state("worker.init was already received"));
        }
        settings.validate()?;
        let certificate = DtlsCert {
            certificate: decode_hex(&settings.dtls_certificate_der, "dtlsCertificateDer")?,
            private_key: decode_hex(&settings.dtls_private_key_der, "dtlsPrivateKeyDer")?,
        };
        self.log_filter.set(settings.log_level);
        if settings.rtc_port_per_worker {
            let port = settings.rtc_min_port;
            let plan = SocketPlan { udp: true, tcp: true, addresses: listen_addresses(&settings), ports: (port, port) };
            let sockets = network.open_shared_sockets(&plan)?;
            self.demux.add_shared(sockets);
            tracing::info!("ready on port {port}, shared by every transport");
        } else {
            tracing::info!("ready on ports {}-{}", settings.rtc_min_port, settings.rtc_max_port);
        }
        self.settings = Some(settings);
        self.certificate = Some(certificate);
        Ok(json!({ "pid": self.pid }))
    }

    fn dump(&self, now: Instant) -> Value {
        let Some(settings) = &self.settings else { return Value::Null };
        json!({
            "pid": self.pid,
            "logLevel": self.log_filter.get(),
            "rtcMinPort": settings.rtc_min_port,
            "rtcMaxPort": settings.rtc_max_port,
            "rtcPortPerWorker": settings.rtc_port_per_worker,
            "rtcListenIPv4": settings.rtc_listen_ipv4,
            "rtcListenIPv6": settings.rtc_listen_ipv6,
            "rtcAnnouncedIPv4": settings.rtc_announced_ipv4,
            "rtcAnnouncedIPv6": settings.rtc_announced_ipv6,
            "uptimeMs": self.millis_since_start(now),
            "rooms": self.room_order,
            "peerCount": self.peers.len(),
            "transportCount": self.transports.len(),
        })
    }

    fn peer(&self, peer_id: &str) -> Result<&Peer, WorkerError> {
        self.peers.get(peer_id).ok_or_else(|| unknown("peer", peer_id))
    }

    fn room_mut(&mut self, room_id: &str) -> Result<&mut Room, WorkerError> {
        self.rooms.get_mut(room_id).ok_or_else(|| unknown("room", room_id))
    }

    fn transport_key(&self, transport_id: &str) -> Result<TransportKey, WorkerError> {
        self.transport_keys.get(transport_id).copied().ok_or_else(|| unknown("transport", transport_id))
    }

    fn transport_mut(&mut self, key: TransportKey) -> Result<&mut Transport, WorkerError> {
        self.transports.get_mut(&key).ok_or_else(|| WorkerError::invalid_state("the transport is closed"))
    }
}

/// The addresses media is bound on, each with the one announced for it.
fn listen_addresses(settings: &WorkerSettings) -> Vec<(IpAddr, Option<IpAddr>)> {
    let v4 = settings.rtc_listen_ipv4.map(|ip| (IpAddr::V4(ip), settings.rtc_announced_ipv4.map(IpAddr::V4)));
    let v6 = settings.rtc_listen_ipv6.map(|ip| (IpAddr::V6(ip), settings.rtc_announced_ipv6.map(IpAddr::V6)));
    v4.into_iter().chain(v6).collect()
}

fn unknown(kind: &str, id: &str) -> WorkerError {
    WorkerError::invalid_state(format!("no {kind} with id '{id}' in this worker"))
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "forwarding_tests.rs"]
mod forwarding_tests;

#[cfg(test)]
#[path = "direct_tests.rs"]
mod direct_tests;
