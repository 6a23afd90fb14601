//! The worker as a state machine: Channel requests, datagrams and times in;
//! answers, datagrams to send, notifications and the next deadline out. It
//! owns the rooms, peers and transports; sockets stay behind [`Network`], so
//! the event loop in [`crate::shell::event_loop`] only moves bytes and time, and tests
//! drive the whole worker without a socket.

pub mod settings;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Instant;

use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::{json, Value};
use str0m::config::DtlsCert;
use str0m::net::Protocol;
use str0m::rtp::RtpPacket;

use crate::channel::message::{
    PeerCreate, PeerRef, PeerSetCapabilities, RoomCreate, RoomDumpPage, RoomRef, RtpReceiverReceive, RtpReceiverRef, RtpSenderCreate,
    RtpSenderActive, RtpSenderRef, RtpSenderTransport, TransportCreate, TransportRef,
};
use crate::channel::{Notification, Request};
use crate::rtp::codec_table::{transport_tables, SendTables};
use crate::error::WorkerError;
use crate::channel::logging::LogFilter;
use crate::room::peer::Peer;
use crate::room::peer_capabilities::parse_peer_capabilities;
use crate::room::{Room, DUMP_PAGE_BYTES, MAX_PEER_NAME_CHARS};
use crate::rtp::capabilities::MediaKind;
use crate::rtp::parameters::parse_receive_parameters;
use crate::router::rtp_receiver::RtpReceiver;
use crate::router::rtp_sender::{IncomingRtp, RtpSender, SenderIdentity};
use crate::worker::settings::{decode_hex, WorkerSettings};
use crate::transport::webrtc::{BoundSocket, OutgoingDatagram, Transport, TransportOptions};

/// At most one keyframe request per stream in this interval (PLI storms hurt publishers).
const KEYFRAME_REQUEST_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// A transport's handle between the worker and the event loop.
pub type TransportKey = u32;

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
    /// Closes every socket (and TCP connection) of the transport.
    fn close_sockets(&mut self, key: TransportKey);
}

pub struct Worker {
    pid: u32,
    log_filter: LogFilter,
    settings: Option<WorkerSettings>,
    certificate: Option<DtlsCert>,
    rooms: HashMap<String, Room>,
    /// Room ids in creation order, for dumps.
    room_order: Vec<String>,
    peers: HashMap<String, Peer>,
    receivers: FxHashMap<String, RtpReceiver>,
    senders: FxHashMap<String, RtpSender>,
    /// Receiver id → the ids of the senders that forward it.
    routes: FxHashMap<String, Vec<String>>,
    /// When each receiver was last asked for a keyframe (at most one per 500 ms).
    keyframe_requested: HashMap<String, Instant>,
    /// State of the SSRC generator (xorshift).
    ssrc_seed: u64,
    transports: FxHashMap<TransportKey, Transport>,
    transport_keys: FxHashMap<String, TransportKey>,
    next_key: TransportKey,
    /// Each transport's next deadline, and the same ordered by time.
    deadlines: FxHashMap<TransportKey, Instant>,
    timers: BTreeSet<(Instant, TransportKey)>,
    outgoing: VecDeque<(TransportKey, OutgoingDatagram)>,
    /// A buffer reused by every `collect` (no allocation per packet once warm).
    rtp_buffer: Vec<(Rc<str>, RtpPacket)>,
    /// The transports packets were written to in this loop turn, to be
    /// drained at its end ([`Worker::flush_writes`]), in order.
    sent_to: FxHashSet<TransportKey>,
    sent_order: VecDeque<TransportKey>,
    notifications: Vec<Notification>,
    started_at: Instant,
}

impl Worker {
    pub fn new(pid: u32, log_filter: LogFilter, now: Instant) -> Self {
        Self {
            pid,
            log_filter,
            settings: None,
            certificate: None,
            rooms: HashMap::new(),
            room_order: Vec::new(),
            peers: HashMap::new(),
            receivers: FxHashMap::default(),
            senders: FxHashMap::default(),
            routes: FxHashMap::default(),
            keyframe_requested: HashMap::new(),
            ssrc_seed: u64::from(pid) << 32 | u64::from(now.elapsed().subsec_nanos()) | 1,
            transports: FxHashMap::default(),
            transport_keys: FxHashMap::default(),
            next_key: 1,
            deadlines: FxHashMap::default(),
            timers: BTreeSet::new(),
            outgoing: VecDeque::new(),
            rtp_buffer: Vec::new(),
            sent_to: FxHashSet::default(),
            sent_order: VecDeque::new(),
            notifications: Vec::new(),
            started_at: now,
        }
    }

    /// Handles one request. Every failure is an answer; nothing here panics
    /// on what the Channel carries.
    pub fn handle_request(&mut self, request: Request, now: Instant, network: &mut dyn Network) -> Result<Value, WorkerError> {
        if let Request::WorkerInit(settings) = request {
            return self.init(settings);
        }
        if self.settings.is_none() {
            return Err(WorkerError::invalid_state("worker.init must be the first request"));
        }
        match request {
            Request::WorkerInit(_) => Err(WorkerError::invalid_state("worker.init was already received")),
            Request::WorkerDump => Ok(self.dump(now)),
            Request::WorkerUpdateSettings(update) => {
                self.log_filter.set(update.log_level);
                tracing::info!("logLevel is now {}", update.log_level);
                Ok(json!({ "logLevel": update.log_level }))
            }
            Request::RoomCreate(create) => self.create_room(create),
            Request::RoomClose(RoomRef { room_id }) => {
                let room = self.rooms.remove(&room_id).ok_or_else(|| unknown("room", &room_id))?;
                self.room_order.retain(|id| *id != room_id);
                for (_, peer_id) in room.peers {
                    self.remove_peer(&peer_id, now, network);
                }
                tracing::debug!("room {room_id} closed");
                Ok(Value::Null)
            }
            Request::RoomDump(RoomDumpPage { room_id, from_peer }) => {
                let room = self.rooms.get(&room_id).ok_or_else(|| unknown("room", &room_id))?;
                Ok(room.dump_page(from_peer, DUMP_PAGE_BYTES, |peer_id| {
                    let Some(peer) = self.peers.get(peer_id) else { return (Value::Null, serde_json::Map::new()) };
                    // Each stream it publishes, with the senders that forward it.
                    let routes = peer
                        .receiver_ids
                        .iter()
                        .map(|id| (id.clone(), json!(self.routes.get(id).cloned().unwrap_or_default())))
                        .collect();
                    (peer.dump(), routes)
                }))
            }
            Request::RoomCreatePeer(create) => self.create_peer(create),
            Request::PeerClose(PeerRef { peer_id }) => {
                let peer = self.peers.get(&peer_id).ok_or_else(|| unknown("peer", &peer_id))?;
                if let Some(room) = self.rooms.get_mut(&peer.room_id) {
                    room.peers.retain(|(_, id)| *id != peer_id);
                }
                self.remove_peer(&peer_id, now, network);
                Ok(Value::Null)
            }
            Request::PeerDump(PeerRef { peer_id }) => {
                Ok(self.peers.get(&peer_id).ok_or_else(|| unknown("peer", &peer_id))?.dump())
            }
            Request::PeerSetCapabilities(PeerSetCapabilities { peer_id, rtp_capabilities }) => {
                let capabilities = parse_peer_capabilities(&rtp_capabilities)?;
                let peer = self.peers.get_mut(&peer_id).ok_or_else(|| unknown("peer", &peer_id))?;
                peer.capabilities = Some(capabilities.clone());
                Ok(capabilities)
            }
            Request::PeerCreateTransport(create) => self.create_transport(create, now, network),
            Request::TransportClose(TransportRef { transport_id }) => {
                let key = self.transport_key(&transport_id)?;
                if let Some(peer) = self.transports.get(&key).and_then(|t| self.peers.get_mut(&t.peer_id)) {
                    peer.transport_ids.retain(|id| *id != transport_id);
                }
                self.remove_transport(key, now, network);
                Ok(Value::Null)
            }
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
                let answer = self.transport_mut(key)?.set_remote_dtls_parameters(&remote.dtls_parameters, now);
                self.collect(key, now);
                answer
            }
            Request::TransportSetMaxBitrate(limit) => {
                let key = self.transport_key(&limit.transport_id)?;
                if limit.bitrate == 0 {
                    return Err(WorkerError::value_error("bitrate must be > 0"));
                }
                self.transport_mut(key)?.set_max_bitrate(limit.bitrate, now);
                self.collect(key, now);
                Ok(Value::Null)
            }
            Request::TransportRestartIce(TransportRef { transport_id }) => {
                let key = self.transport_key(&transport_id)?;
                let answer = self.transport_mut(key)?.restart_ice(now);
                self.collect(key, now);
                answer
            }
            Request::RtpReceiverReceive(receive) => self.receive(receive, now),
            Request::RtpReceiverClose(RtpReceiverRef { receiver_id }) => {
                self.remove_receiver(&receiver_id, now).ok_or_else(|| unknown("rtpReceiver", &receiver_id))?;
                Ok(Value::Null)
            }
            Request::RtpReceiverDump(RtpReceiverRef { receiver_id }) => {
                Ok(self.receivers.get(&receiver_id).ok_or_else(|| unknown("rtpReceiver", &receiver_id))?.dump())
            }
            Request::RtpReceiverGetStats(RtpReceiverRef { receiver_id }) => {
                let receiver = self.receivers.get(&receiver_id).ok_or_else(|| unknown("rtpReceiver", &receiver_id))?;
                let transport = self.transport_keys.get(&receiver.transport_id).and_then(|key| self.transports.get(key));
                let rtcp = |ssrc| transport.map(|t| t.ingress_counters(&receiver.mid, receiver.rid_of(ssrc))).unwrap_or_default();
                Ok(receiver.stats(now, self.millis_since_start(now), rtcp))
            }
            Request::RtpSenderCreate(create) => self.create_sender(create),
            Request::RtpSenderSetTransport(RtpSenderTransport { sender_id, transport_id, mid }) => {
                self.set_sender_transport(&sender_id, &transport_id, mid, now)
            }
            Request::RtpSenderSetActive(RtpSenderActive { sender_id, active }) => {
                let sender = self.senders.get_mut(&sender_id).ok_or_else(|| unknown("rtpSender", &sender_id))?;
                if active && sender.paused {
                    sender.resume();
                    let receiver_id = sender.receiver_id.clone();
                    // The subscriber resumes decoding from a keyframe.
                    self.request_keyframe(&receiver_id, now, true);
                } else if !active {
                    sender.pause();
                }
                Ok(Value::Null)
            }
            Request::RtpSenderClose(RtpSenderRef { sender_id }) => {
                self.remove_sender(&sender_id, now).ok_or_else(|| unknown("rtpSender", &sender_id))?;
                Ok(Value::Null)
            }
            Request::RtpSenderDump(RtpSenderRef { sender_id }) => {
                Ok(self.senders.get(&sender_id).ok_or_else(|| unknown("rtpSender", &sender_id))?.dump())
            }
            Request::RtpSenderGetStats(RtpSenderRef { sender_id }) => {
                let sender = self.senders.get(&sender_id).ok_or_else(|| unknown("rtpSender", &sender_id))?;
                let rtcp = sender
                    .transport_id
                    .as_ref()
                    .and_then(|id| self.transport_keys.get(id))
                    .and_then(|key| self.transports.get(key))
                    .map(|transport| transport.egress_counters(&sender.mid))
                    .unwrap_or_default();
                Ok(sender.stats(now, self.millis_since_start(now), rtcp))
            }
        }
    }

    /// Milliseconds since the worker started: the `timestamp` of stats.
    fn millis_since_start(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.started_at).as_millis() as u64
    }

    fn next_ssrc(&mut self) -> u32 {
        loop {
            self.ssrc_seed ^= self.ssrc_seed << 13;
            self.ssrc_seed ^= self.ssrc_seed >> 7;
            self.ssrc_seed ^= self.ssrc_seed << 17;
            let ssrc = (self.ssrc_seed >> 16) as u32;
            let taken = self.senders.values().any(|sender| sender.ssrc == ssrc || sender.rtx_ssrc == Some(ssrc));
            if ssrc != 0 && !taken {
                return ssrc;
            }
        }
    }

    fn create_sender(&mut self, create: RtpSenderCreate) -> Result<Value, WorkerError> {
        if self.senders.contains_key(&create.sender_id) {
            return Err(WorkerError::value_error(format!("an rtpSender with id '{}' exists already", create.sender_id)));
        }
        let receiver = self.receivers.get(&create.receiver_id).ok_or_else(|| unknown("rtpReceiver", &create.receiver_id))?;
        let peer = self.peers.get(&create.peer_id).ok_or_else(|| unknown("peer", &create.peer_id))?;
        if peer.id == receiver.peer_id {
            return Err(WorkerError::value_error("a peer does not receive its own streams"));
        }
        let capabilities = peer.capabilities.clone().ok_or_else(|| WorkerError::invalid_state(format!("peer {} has no capabilities yet", peer.id)))?;
        let room = self.rooms.get(&peer.room_id).ok_or_else(|| unknown("room", &peer.room_id))?;
        let room_capabilities = room.rtp_capabilities.clone();
        let receiver_id = receiver.id.clone();
        // The payload types and ids its transports write: the newest one's,
        // else the ones a transport created now would have.
        let tables = peer
            .transport_ids
            .iter()
            .rev()
            .find_map(|id| self.transport_keys.get(id).and_then(|key| self.transports.get(key)))
            .map(|transport| transport.send_tables().clone())
            .unwrap_or_else(|| SendTables::new(&room_capabilities, Some(&capabilities)));
        let ssrcs = (self.next_ssrc(), self.next_ssrc());
        let receiver = self.receivers.get(&receiver_id).ok_or_else(|| unknown("rtpReceiver", &receiver_id))?;
        let identity = SenderIdentity { id: create.sender_id.clone(), peer_id: create.peer_id.clone(), mid: String::new(), ssrcs };
        let mut sender = RtpSender::new(identity, receiver, &room_capabilities, &capabilities, &tables)?;
        // The mid is given once the sender exists: a refused one takes none.
        let peer = self.peers.get_mut(&create.peer_id).ok_or_else(|| unknown("peer", &create.peer_id))?;
        sender.set_mid(peer.next_sender_mid());
        let answer = sender.parameters.clone();
        self.routes.entry(receiver_id).or_default().push(create.sender_id.clone());
        self.senders.insert(create.sender_id, sender);
        Ok(answer)
    }

    /// Puts a sender on one of its peer's transports, under `mid` if given
    /// (an SDP answer places it on the endpoint's section), else its own.
    /// Answers the new `rtpParameters` if the transport's payload types or
    /// header-extension ids changed them.
    fn set_sender_transport(&mut self, sender_id: &str, transport_id: &str, mid: Option<String>, now: Instant) -> Result<Value, WorkerError> {
        let key = self.transport_key(transport_id)?;
        let sender = self.senders.get(sender_id).ok_or_else(|| unknown("rtpSender", sender_id))?;
        if sender.transport_id.is_some() {
            return Err(WorkerError::invalid_state(format!("rtpSender {sender_id} has a transport already")));
        }
        let peer = self.peers.get(&sender.peer_id).ok_or_else(|| unknown("peer", &sender.peer_id))?;
        let room = self.rooms.get(&peer.room_id).ok_or_else(|| unknown("room", &peer.room_id))?;
        let capabilities = peer.capabilities.as_ref().ok_or_else(|| WorkerError::internal("a sender's peer has no capabilities"))?;
        let transport = self.transports.get(&key).ok_or_else(|| unknown("transport", transport_id))?;
        if transport.peer_id != sender.peer_id {
            return Err(WorkerError::value_error(format!("transport {transport_id} belongs to another peer")));
        }
        // Checked on a copy: a refusal changes nothing.
        let mut placed = sender.clone();
        let changed = placed.adopt(&room.rtp_capabilities, capabilities, transport.send_tables())?;
        let own_mid = sender.mid.clone();
        if let Some(mid) = mid {
            placed.set_mid(mid);
        }
        let transport = self.transport_mut(key)?;
        transport.add_sender(&placed.mid, placed.kind, placed.ssrc, placed.rtx_ssrc, now)?;
        self.collect(key, now);
        placed.transport_id = Some(transport_id.to_owned());
        placed.transport_key = Some(key);
        let answer = if changed || placed.mid != own_mid { json!({"rtpParameters": placed.parameters}) } else { Value::Null };
        let receiver_id = placed.receiver_id.clone();
        self.senders.insert(sender_id.to_owned(), placed);
        // A new subscriber needs a keyframe to start decoding.
        self.request_keyframe(&receiver_id, now, true);
        Ok(answer)
    }

    fn remove_sender(&mut self, sender_id: &str, now: Instant) -> Option<RtpSender> {
        let sender = self.senders.remove(sender_id)?;
        if let Some(senders) = self.routes.get_mut(&sender.receiver_id) {
            senders.retain(|id| id != sender_id);
        }
        if let Some(transport_id) = &sender.transport_id {
            if let Some(key) = self.transport_keys.get(transport_id).copied() {
                if let Some(transport) = self.transports.get_mut(&key) {
                    transport.remove_sender(&sender.mid, sender.ssrc, now);
                }
                self.collect(key, now);
            }
        }
        Some(sender)
    }

    /// PLI to the publisher of `receiver_id`: at most one per 500 ms when
    /// relayed from subscribers, always when a sender starts or resumes (`forced`).
    fn request_keyframe(&mut self, receiver_id: &str, now: Instant, forced: bool) {
        if !forced && self.keyframe_requested.get(receiver_id).is_some_and(|last| now.saturating_duration_since(*last) < KEYFRAME_REQUEST_INTERVAL) {
            return;
        }
        let Some(receiver) = self.receivers.get(receiver_id) else { return };
        if receiver.kind != MediaKind::Video {
            return;
        }
        let ssrcs = receiver.media_ssrcs();
        let Some(key) = self.transport_keys.get(&receiver.transport_id).copied() else { return };
        tracing::debug!("rtpReceiver {receiver_id}: keyframe requested from ssrcs {ssrcs:?}");
        self.keyframe_requested.insert(receiver_id.to_owned(), now);
        if let Some(transport) = self.transports.get_mut(&key) {
            for ssrc in ssrcs {
                transport.request_keyframe(ssrc, now);
            }
        }
        self.collect(key, now);
    }

    /// `rtpReceiver.receive`: validates the parameters against the room and
    /// starts receiving the stream on the transport.
    fn receive(&mut self, receive: RtpReceiverReceive, now: Instant) -> Result<Value, WorkerError> {
        if self.receivers.contains_key(&receive.receiver_id) {
            return Err(WorkerError::invalid_state(format!("rtpReceiver {} receives already", receive.receiver_id)));
        }
        let kind = MediaKind::parse(&receive.kind)
            .ok_or_else(|| WorkerError::value_error(format!("kind must be 'audio' or 'video', not '{}'", receive.kind)))?;
        let key = self.transport_key(&receive.transport_id)?;
        let peer_id = self.transport_mut(key)?.peer_id.clone();
        let peer = self.peers.get(&peer_id).ok_or_else(|| unknown("peer", &peer_id))?;
        let room = self.rooms.get(&peer.room_id).ok_or_else(|| unknown("room", &peer.room_id))?;
        let mut parameters = parse_receive_parameters(&receive.rtp_parameters, kind, &room.rtp_capabilities)?;
        if room.force_unique_payload_types {
            let room_peers: Vec<&str> = room.peers.iter().map(|(_, id)| id.as_str()).collect();
            for other in self.receivers.values().filter(|other| room_peers.contains(&other.peer_id.as_str())) {
                for codec in &parameters.codecs {
                    let taken = other.parameters.codecs.iter().any(|theirs| {
                        theirs.payload_type == codec.payload_type || theirs.rtx_payload_type == Some(codec.payload_type)
                    });
                    if taken {
                        return Err(WorkerError::value_error(format!(
                            "payload type {} is taken by rtpReceiver {} of this room (forceUniquePayloadTypes)",
                            codec.payload_type, other.id
                        )));
                    }
                }
            }
        }
        let given_cname = parameters.normalised["rtcp"]["cname"].as_str().filter(|cname| !cname.is_empty()).map(str::to_owned);
        let cname = match self.transport_mut(key)?.cname_for_receivers.clone().or(given_cname) {
            Some(cname) => cname,
            None => format!("{:08x}", self.next_ssrc()),
        };
        parameters.normalised["rtcp"]["cname"] = json!(cname);
        let transport = self.transport_mut(key)?;
        let (mid, readable) = transport.add_receiver(&receive.receiver_id, kind, &parameters, now)?;
        transport.cname_for_receivers = Some(cname);
        self.collect(key, now);
        let answer = parameters.normalised.clone();
        if let Some(peer) = self.peers.get_mut(&peer_id) {
            peer.receiver_ids.push(receive.receiver_id.clone());
        }
        tracing::debug!("rtpReceiver {} receives {} on transport {} (mid {mid})", receive.receiver_id, kind.as_str(), receive.transport_id);
        let mut receiver = RtpReceiver::new(receive.receiver_id.clone(), peer_id, receive.transport_id, kind, parameters, mid);
        receiver.readable = readable;
        self.receivers.insert(receive.receiver_id, receiver);
        Ok(answer)
    }

    fn remove_receiver(&mut self, receiver_id: &str, now: Instant) -> Option<RtpReceiver> {
        for sender_id in self.routes.remove(receiver_id).unwrap_or_default() {
            self.remove_sender(&sender_id, now);
        }
        self.keyframe_requested.remove(receiver_id);
        let receiver = self.receivers.remove(receiver_id)?;
        if let Some(key) = self.transport_keys.get(&receiver.transport_id).copied() {
            if let Some(transport) = self.transports.get_mut(&key) {
                transport.remove_receiver(receiver_id, now);
            }
            self.collect(key, now);
        }
        if let Some(peer) = self.peers.get_mut(&receiver.peer_id) {
            peer.receiver_ids.retain(|id| id != receiver_id);
        }
        Some(receiver)
    }

    fn init(&mut self, settings: WorkerSettings) -> Result<Value, WorkerError> {
        if self.settings.is_some() {
            return Err(WorkerError::invalid_state("worker.init was already received"));
        }
        settings.validate()?;
        let certificate = DtlsCert {
            certificate: decode_hex(&settings.dtls_certificate_der, "dtlsCertificateDer")?,
            private_key: decode_hex(&settings.dtls_private_key_der, "dtlsPrivateKeyDer")?,
        };
        self.log_filter.set(settings.log_level);
        tracing::info!("ready on ports {}-{}", settings.rtc_min_port, settings.rtc_max_port);
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

    fn create_room(&mut self, create: RoomCreate) -> Result<Value, WorkerError> {
        if self.rooms.contains_key(&create.room_id) {
            return Err(WorkerError::value_error(format!("a room with id '{}' exists already", create.room_id)));
        }
        let room = Room::new(create.room_id, create.media_codecs.as_ref(), create.force_unique_payload_types)?;
        tracing::debug!("room {} created", room.id);
        let answer = json!({ "rtpCapabilities": room.rtp_capabilities });
        self.room_order.push(room.id.clone());
        self.rooms.insert(room.id.clone(), room);
        Ok(answer)
    }

    fn create_peer(&mut self, create: PeerCreate) -> Result<Value, WorkerError> {
        if create.name.is_empty() {
            return Err(WorkerError::value_error("a peer name must not be empty"));
        }
        let chars = create.name.chars().count();
        if chars > MAX_PEER_NAME_CHARS {
            return Err(WorkerError::value_error(format!(
                "a peer name has at most {MAX_PEER_NAME_CHARS} characters, not {chars}"
            )));
        }
        if self.peers.contains_key(&create.peer_id) {
            return Err(WorkerError::value_error(format!("a peer with id '{}' exists already", create.peer_id)));
        }
        let room = self.rooms.get_mut(&create.room_id).ok_or_else(|| unknown("room", &create.room_id))?;
        if room.peer_named(&create.name).is_some() {
            return Err(WorkerError::value_error(format!(
                "room {} has an open peer named '{}' already",
                room.id, create.name
            )));
        }
        room.peers.push((create.name.clone(), create.peer_id.clone()));
        let peer = Peer::new(create.peer_id, create.name, create.room_id);
        tracing::debug!("peer {} ({}) joined room {}", peer.id, peer.name, peer.room_id);
        self.peers.insert(peer.id.clone(), peer);
        Ok(Value::Null)
    }

    fn remove_peer(&mut self, peer_id: &str, now: Instant, network: &mut dyn Network) {
        let subscribed: Vec<String> = self.senders.values().filter(|s| s.peer_id == peer_id).map(|s| s.id.clone()).collect();
        for sender_id in subscribed {
            self.remove_sender(&sender_id, now);
        }
        let Some(peer) = self.peers.remove(peer_id) else { return };
        for transport_id in peer.transport_ids {
            if let Some(key) = self.transport_keys.get(&transport_id).copied() {
                self.remove_transport(key, now, network);
            }
        }
    }

    fn create_transport(&mut self, create: TransportCreate, now: Instant, network: &mut dyn Network) -> Result<Value, WorkerError> {
        if !create.udp && !create.tcp {
            return Err(WorkerError::value_error("udp and tcp are both False"));
        }
        if self.transport_keys.contains_key(&create.transport_id) {
            return Err(WorkerError::value_error(format!("a transport with id '{}' exists already", create.transport_id)));
        }
        if !self.peers.contains_key(&create.peer_id) {
            return Err(unknown("peer", &create.peer_id));
        }
        let (Some(settings), Some(certificate)) = (&self.settings, &self.certificate) else {
            return Err(WorkerError::invalid_state("worker.init must be the first request"));
        };
        let mut addresses = Vec::new();
        if let Some(ip) = settings.rtc_listen_ipv4 {
            addresses.push((IpAddr::V4(ip), settings.rtc_announced_ipv4.map(IpAddr::V4)));
        }
        if let Some(ip) = settings.rtc_listen_ipv6 {
            addresses.push((IpAddr::V6(ip), settings.rtc_announced_ipv6.map(IpAddr::V6)));
        }
        let plan = SocketPlan {
            udp: create.udp,
            tcp: create.tcp,
            addresses,
            ports: (settings.rtc_min_port, settings.rtc_max_port),
        };
        let peer = self.peers.get(&create.peer_id);
        let room = peer.and_then(|peer| self.rooms.get(&peer.room_id)).ok_or_else(|| unknown("peer", &create.peer_id))?;
        let tables = transport_tables(&room.rtp_capabilities, peer.and_then(|peer| peer.capabilities.as_ref()));
        let key = self.next_key;
        self.next_key = self.next_key.wrapping_add(1).max(1);
        let sockets = network.open_sockets(key, &plan)?;
        let options = TransportOptions {
            udp: create.udp,
            tcp: create.tcp,
            prefer_ipv4: create.prefer_ipv4,
            prefer_ipv6: create.prefer_ipv6,
            prefer_udp: create.prefer_udp,
            prefer_tcp: create.prefer_tcp,
            enable_sctp: create.enable_sctp,
        };
        let transport = match Transport::new(create.transport_id.clone(), create.peer_id.clone(), certificate, sockets, options, tables, now) {
            Ok(transport) => transport,
            Err(error) => {
                network.close_sockets(key);
                return Err(error);
            }
        };
        let answer = transport.local_parameters();
        if let Some(peer) = self.peers.get_mut(&create.peer_id) {
            peer.transport_ids.push(create.transport_id.clone());
        }
        tracing::debug!("transport {} created for peer {}", create.transport_id, create.peer_id);
        self.transport_keys.insert(create.transport_id, key);
        self.transports.insert(key, transport);
        self.collect(key, now);
        Ok(answer)
    }

    fn remove_transport(&mut self, key: TransportKey, now: Instant, network: &mut dyn Network) {
        let ending: Vec<String> = match self.transports.get(&key) {
            Some(transport) => self.receivers.values().filter(|r| r.transport_id == transport.id).map(|r| r.id.clone()).collect(),
            None => Vec::new(),
        };
        // Its receivers end with it, and the senders forwarding them.
        for receiver_id in ending {
            self.remove_receiver(&receiver_id, now);
        }
        if let Some(mut transport) = self.transports.remove(&key) {
            // Senders on it stay (a new transport may take them); they stop sending.
            let transport_id = transport.id.clone();
            for sender in self.senders.values_mut().filter(|s| s.transport_id.as_deref() == Some(transport_id.as_str())) {
                sender.transport_id = None;
                sender.transport_key = None;
            }
            transport.close();
            self.transport_keys.remove(&transport.id);
            tracing::debug!("transport {} closed", transport.id);
        }
        self.schedule(key, None);
        self.outgoing.retain(|(owner, _)| *owner != key);
        network.close_sockets(key);
    }

    fn transport_key(&self, transport_id: &str) -> Result<TransportKey, WorkerError> {
        self.transport_keys.get(transport_id).copied().ok_or_else(|| unknown("transport", transport_id))
    }

    fn transport_mut(&mut self, key: TransportKey) -> Result<&mut Transport, WorkerError> {
        self.transports.get_mut(&key).ok_or_else(|| WorkerError::invalid_state("the transport is closed"))
    }

    /// A datagram for transport `key`, received on its socket `local`.
    pub fn handle_datagram(&mut self, key: TransportKey, now: Instant, protocol: Protocol, source: SocketAddr, local: SocketAddr, contents: &[u8]) {
        if let Some(transport) = self.transports.get_mut(&key) {
            transport.handle_datagram(now, protocol, source, local, contents);
            self.collect(key, now);
        }
    }

    /// Ends a loop turn: what was forwarded in it leaves (see
    /// [`Self::flush_writes`]), the timers that are due run, and what they
    /// forwarded leaves too (str0m releases held packets on a timeout).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.flush_writes(now, usize::MAX);
        while let Some(&(due, key)) = self.timers.first() {
            if due > now {
                break;
            }
            self.timers.remove(&(due, key));
            self.deadlines.remove(&key);
            if let Some(transport) = self.transports.get_mut(&key) {
                transport.handle_timeout(now);
                self.collect(key, now);
            }
        }
        self.flush_writes(now, usize::MAX);
    }

    /// The earliest deadline of any transport.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(due, _)| *due)
    }

    /// The next datagram to send, with the transport whose socket sends it.
    pub fn poll_datagram(&mut self) -> Option<(TransportKey, OutgoingDatagram)> {
        self.outgoing.pop_front()
    }

    /// Notifications for Python since the last call.
    pub fn take_notifications(&mut self) -> Vec<Notification> {
        std::mem::take(&mut self.notifications)
    }

    /// Forwards what transport `key` received, and moves what it produced
    /// into the worker's queues and re-arms its timer. The transports
    /// written to are drained at the end of the loop turn
    /// ([`Self::flush_writes`]).
    fn collect(&mut self, key: TransportKey, now: Instant) {
        self.forward_from(key, now);
        self.collect_one(key, now);
    }

    /// Forwards what transport `key` received to the senders of each receiver.
    fn forward_from(&mut self, key: TransportKey, now: Instant) {
        let Some(transport) = self.transports.get_mut(&key) else { return };
        let mut received = std::mem::take(&mut self.rtp_buffer);
        transport.drain_rtp(&mut received);
        for (receiver_id, ssrc, rid) in transport.take_learnt_layers() {
            if let Some(receiver) = self.receivers.get_mut(&*receiver_id) {
                receiver.learn_layer(ssrc, rid);
            }
        }
        let keyframe_mids = transport.take_keyframe_requests();
        let transport_id = if keyframe_mids.is_empty() { String::new() } else { transport.id.clone() };
        let mut switched_sources = Vec::new();
        for (receiver_id, packet) in received.drain(..) {
            let Some(receiver) = self.receivers.get_mut(&*receiver_id) else { continue };
            let incoming = IncomingRtp {
                ssrc: *packet.header.ssrc,
                sequence_number: *packet.seq_no,
                timestamp: packet.header.timestamp,
                marker: packet.header.marker,
                payload_len: packet.payload.len(),
                arrival: packet.timestamp,
            };
            receiver.record(&incoming, *packet.header.payload_type);
            let readable = receiver.readable;
            let Some(sender_ids) = self.routes.get(&*receiver_id) else { continue };
            for sender_id in sender_ids {
                let Some(sender) = self.senders.get_mut(sender_id).filter(|sender| !sender.paused) else { continue };
                let Some(target_key) = sender.transport_key else { continue };
                // Nothing is counted or numbered for a subscriber that cannot receive yet.
                if !self.transports.get(&target_key).is_some_and(Transport::can_send_media) {
                    continue;
                }
                let (rtp, switched) = sender.rewrite(&incoming);
                if switched && !switched_sources.contains(&receiver_id) {
                    switched_sources.push(receiver_id.clone());
                }
                let Some(rtp) = rtp else { continue };
                if let Some(target) = self.transports.get_mut(&target_key) {
                    target.send_rtp(&rtp, &packet, readable, now);
                    if self.sent_to.insert(target_key) {
                        self.sent_order.push_back(target_key);
                    }
                }
            }
        }
        self.rtp_buffer = received;
        // A sender that took another source decodes it from a keyframe.
        for receiver_id in switched_sources {
            self.request_keyframe(&receiver_id, now, true);
        }
        // A subscriber's PLI/FIR goes to the publisher of that stream.
        for mid in keyframe_mids {
            let receiver_id = self
                .senders
                .values()
                .find(|s| s.transport_id.as_deref() == Some(transport_id.as_str()) && s.mid == mid)
                .map(|s| s.receiver_id.clone());
            tracing::debug!("transport {transport_id}: keyframe request for mid {mid} (rtpReceiver {receiver_id:?})");
            if let Some(receiver_id) = receiver_id {
                self.request_keyframe(&receiver_id, now, false);
            }
        }
    }

    fn collect_one(&mut self, key: TransportKey, now: Instant) {
        if self.sent_to.contains(&key) {
            // Written to in this loop turn: it is drained at the turn's end.
            return;
        }
        let Some(transport) = self.transports.get_mut(&key) else { return };
        transport.drain(now);
        self.take_output(key);
    }

    /// Sends what was forwarded in this loop turn, from up to `limit`
    /// transports (in the order they were first written to); answers
    /// whether some are left. str0m's pacer releases a written packet only
    /// at a timeout that the write makes due at once: it runs here, once per
    /// transport however many packets it took this turn (under load a turn
    /// holds a batch of datagrams). Left to the worker's timers, every
    /// forwarded packet would wait for epoll's next millisecond: 1.3 ms
    /// (docs/benchmarks.md). The event loop sends each chunk's datagrams
    /// before encrypting the next, so the first subscribers of a large
    /// fan-out need not wait for the last.
    pub fn flush_writes(&mut self, now: Instant, limit: usize) -> bool {
        for _ in 0..limit {
            let Some(key) = self.sent_order.pop_front() else { break };
            self.sent_to.remove(&key);
            if let Some(transport) = self.transports.get_mut(&key) {
                transport.drain_after_writes(now);
                self.take_output(key);
            }
        }
        !self.sent_order.is_empty()
    }

    /// Moves what transport `key` produced into the worker's queues and
    /// re-arms its timer.
    fn take_output(&mut self, key: TransportKey) {
        let Some(transport) = self.transports.get_mut(&key) else { return };
        while let Some(datagram) = transport.poll_datagram() {
            self.outgoing.push_back((key, datagram));
        }
        for notification in transport.take_notifications() {
            self.notifications.push(Notification {
                event: notification.event,
                target_id: Some(transport.id.clone()),
                data: notification.data,
            });
        }
        let due = transport.next_timeout();
        self.schedule(key, due);
    }

    fn schedule(&mut self, key: TransportKey, due: Option<Instant>) {
        if let Some(previous) = self.deadlines.remove(&key) {
            self.timers.remove(&(previous, key));
        }
        if let Some(due) = due {
            self.deadlines.insert(key, due);
            self.timers.insert((due, key));
        }
    }
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
