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
//!   SDP knows (see [`crate::transport::webrtc::crypto`]), and kept for `dtlsRemoteCert`;
//! - DTLS records that arrive before `setRemoteDtlsParameters` are held, and
//!   fed to str0m once DTLS starts, instead of being dropped.

pub mod crypto;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use str0m::config::{DtlsCert, Fingerprint};
use str0m::media::{KeyframeRequestKind, Mid, Pt, Rid};
use str0m::rtp::{Extension, ExtensionValues, RtpPacket, RtpWrite, SeqNo, Ssrc};
use str0m::ice::StunMessage;
use str0m::net::{Protocol, Receive, TcpType};
use str0m::{Candidate, Event, IceConnectionState, IceCreds, Input, Output, Rtc, RtcConfig};

use crate::channel::message::TransportCreate;
use crate::channel::NotificationEvent;
use crate::rtp::codec_table::{str0m_extension, RtpTables, SendTables};
use crate::transport::webrtc::crypto::{certificate_pem, crypto_provider, fingerprint, sdp_form, take_hashed_certificate};
use crate::error::WorkerError;
use crate::rtp::capabilities::{json_type, MediaKind};
use crate::rtp::parameters::ReceiveParameters;
use crate::rtp::packet::{OutgoingRtp, ReadableExtensions};
use crate::transport::{BoundSocket, OutgoingDatagram, TransportNotification};
use crate::rtp::stats::RtcpCounters;
use crate::rtp::stream_ids::{rtp_ssrc, RidLayers, StreamIdExtensions};

/// How long DTLS may take to connect once started before it is 'failed'.
const DTLS_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How often str0m reports a transport's RTCP counters.
const STATS_INTERVAL: Duration = Duration::from_secs(1);
/// How often a REMB carrying `setMaxBitrate`'s limit is repeated to publishers.
const REMB_INTERVAL: Duration = Duration::from_secs(1);
/// DTLS records kept while waiting for the remote DTLS parameters.
const MAX_HELD_DTLS: usize = 32;
/// The SCTP parameters a transport offers (mediasoup's defaults).
const SCTP_PORT: u16 = 5000;
const SCTP_STREAMS: u16 = 1024;
const SCTP_MAX_MESSAGE_SIZE: u32 = 262_144;

/// What `createTransport()` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportOptions {
    pub udp: bool,
    pub tcp: bool,
    pub prefer_ipv4: bool,
    pub prefer_ipv6: bool,
    pub prefer_udp: bool,
    pub prefer_tcp: bool,
    pub enable_sctp: bool,
}

impl TransportOptions {
    pub fn of(create: &TransportCreate) -> Self {
        Self {
            udp: create.udp,
            tcp: create.tcp,
            prefer_ipv4: create.prefer_ipv4,
            prefer_ipv6: create.prefer_ipv6,
            prefer_udp: create.prefer_udp,
            prefer_tcp: create.prefer_tcp,
            enable_sctp: create.enable_sctp,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceState {
    New,
    Connected,
    Completed,
    Disconnected,
    Closed,
}

impl IceState {
    pub fn as_str(self) -> &'static str {
        match self {
            IceState::New => "new",
            IceState::Connected => "connected",
            IceState::Completed => "completed",
            IceState::Disconnected => "disconnected",
            IceState::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsState {
    New,
    Connecting,
    Connected,
    Failed,
    Closed,
}

impl DtlsState {
    pub fn as_str(self) -> &'static str {
        match self {
            DtlsState::New => "new",
            DtlsState::Connecting => "connecting",
            DtlsState::Connected => "connected",
            DtlsState::Failed => "failed",
            DtlsState::Closed => "closed",
        }
    }
}

/// The ICE 5-tuple in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuple {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub protocol: Protocol,
}

impl Tuple {
    fn to_json(self) -> Value {
        json!({
            "localIP": self.local.ip().to_string(),
            "localPort": self.local.port(),
            "remoteIP": self.remote.ip().to_string(),
            "remotePort": self.remote.port(),
            "protocol": protocol_name(self.protocol),
        })
    }
}

fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Udp => "udp",
        _ => "tcp",
    }
}

/// The remote DTLS parameters, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteDtlsParameters {
    /// Whether this side is the DTLS client.
    pub local_is_client: bool,
    /// (algorithm, digest) pairs; at least one algorithm this worker knows.
    pub fingerprints: Vec<(String, Vec<u8>)>,
}

impl RemoteDtlsParameters {
    /// `{'role'?, 'fingerprint': {...}}` or `{'role'?, 'fingerprints': [...]}`.
    pub fn parse(value: &Value) -> Result<Self, WorkerError> {
        let object = value.as_object().ok_or_else(|| {
            WorkerError::type_error(format!("dtlsParameters must be a dict, not {}", json_type(value)))
        })?;
        let local_is_client = match object.get("role") {
            None | Some(Value::Null) => true,
            Some(Value::String(role)) => match role.as_str() {
                "auto" | "server" => true,
                "client" => false,
                other => {
                    return Err(WorkerError::value_error(format!(
                        "dtlsParameters.role must be 'auto', 'client' or 'server', not '{other}'"
                    )))
                }
            },
            Some(other) => {
                return Err(WorkerError::type_error(format!(
                    "dtlsParameters.role must be a str, not {}",
                    json_type(other)
                )))
            }
        };
        let entries: Vec<&Value> = match (object.get("fingerprints"), object.get("fingerprint")) {
            (Some(Value::Array(list)), _) => list.iter().collect(),
            (Some(other), _) if !other.is_null() => {
                return Err(WorkerError::type_error(format!(
                    "dtlsParameters.fingerprints must be a list, not {}",
                    json_type(other)
                )))
            }
            (_, Some(single)) if !single.is_null() => vec![single],
            _ => {
                return Err(WorkerError::type_error(
                    "dtlsParameters needs 'fingerprints' (a list) or 'fingerprint' (a dict)",
                ))
            }
        };
        let mut fingerprints = Vec::new();
        let mut unknown = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let at = format!("dtlsParameters.fingerprints[{index}]");
            let field = |name: &str| match entry.get(name) {
                Some(Value::String(text)) => Ok(text.as_str()),
                _ => Err(WorkerError::type_error(format!("{at}.{name} must be a str"))),
            };
            let algorithm = field("algorithm")?.to_ascii_lowercase();
            let text = field("value")?;
            let digest = parse_sdp_fingerprint(text)
                .ok_or_else(|| WorkerError::value_error(format!("{at}.value '{text}' is not hex pairs joined by colons")))?;
            match fingerprint(b"", &algorithm) {
                Some(empty) if empty.len() == digest.len() => fingerprints.push((algorithm, digest)),
                Some(empty) => {
                    return Err(WorkerError::value_error(format!(
                        "{at}.value has {} bytes; a {algorithm} fingerprint has {}",
                        digest.len(),
                        empty.len()
                    )))
                }
                None => unknown.push(algorithm),
            }
        }
        if fingerprints.is_empty() {
            return Err(WorkerError::unsupported(format!(
                "dtlsParameters has no fingerprint in sha-1, sha-256, sha-384 or sha-512 (got: {})",
                if unknown.is_empty() { "none".to_owned() } else { unknown.join(", ") }
            )));
        }
        Ok(Self { local_is_client, fingerprints })
    }
}

fn parse_sdp_fingerprint(text: &str) -> Option<Vec<u8>> {
    text.split(':')
        .map(|pair| (pair.len() == 2).then(|| u8::from_str_radix(pair, 16).ok()).flatten())
        .collect()
}

/// A DTLS datagram waiting for DTLS to start.
struct HeldDatagram {
    protocol: Protocol,
    source: SocketAddr,
    destination: SocketAddr,
    contents: Vec<u8>,
}

/// Bytes and packets in each direction, as the event loop moved them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counters {
    pub bytes_received: u64,
    pub packets_received: u64,
    pub bytes_sent: u64,
    pub packets_sent: u64,
}

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
    max_bitrate: Option<u64>,
    /// When the last REMB asked publishers to keep under `max_bitrate`.
    remb_sent_at: Option<Instant>,
    /// str0m's RTCP counters of each stream received (by mid and rid) and
    /// sent (by mid), and the round-trip time, at its last stats interval.
    ingress_counters: HashMap<(String, Option<String>), RtcpCounters>,
    egress_counters: HashMap<String, RtcpCounters>,
    round_trip_time: Option<Duration>,
    counters: Counters,
    dtls_deadline: Option<Instant>,
    next_timeout: Option<Instant>,
    /// Why the transport ended by itself (an internal failure), if it did.
    ended: Option<String>,
    notifications: Vec<TransportNotification>,
    outgoing: VecDeque<OutgoingDatagram>,
    /// The streams this transport receives: receiver id by mid and by SSRC.
    /// (Receiver ids are shared, not copied, per packet.)
    receiver_mids: HashMap<String, Rc<str>>,
    receiver_ssrcs: HashMap<u32, Rc<str>>,
    /// Simulcast layers named by rid alone, until their SSRCs are learnt.
    rid_layers: RidLayers,
    /// Layers learnt since the last [`Self::take_learnt_layers`]: (receiver, SSRC, rid).
    learnt_layers: Vec<(Rc<str>, u32, String)>,
    /// RTP that arrived since the last [`Self::drain_rtp`], with its receiver.
    received: Vec<(Rc<str>, RtpPacket)>,
    /// The mids of the streams this transport sends.
    sender_mids: Vec<String>,
    keyframe_requests: Vec<String>,
    /// The CNAME of every stream received on this transport: the first one
    /// given (an endpoint's streams share one, for lip sync), or a generated
    /// one when the first stream came without (rid-only simulcast from
    /// Chromium names none). Subscribers take a stream's id from it.
    pub cname_for_receivers: Option<String>,
    /// Keyframe requests made before DTLS connected, by SSRC.
    pending_keyframes: Vec<u32>,
}

impl WebRtcTransport {
    /// A transport with host candidates on `sockets`, not yet connected,
    /// carrying the payload types and header extensions of `tables` (see
    /// `codec_table.rs`).
    pub fn new(
        id: String,
        peer_id: String,
        certificate: &DtlsCert,
        sockets: Vec<BoundSocket>,
        options: TransportOptions,
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
            .set_stats_interval(Some(STATS_INTERVAL));
        *config.codec_config() = tables.codecs;
        let send_tables = tables.send;
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
            id,
            peer_id,
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
            max_bitrate: None,
            remb_sent_at: None,
            ingress_counters: HashMap::new(),
            egress_counters: HashMap::new(),
            round_trip_time: None,
            counters: Counters::default(),
            dtls_deadline: None,
            next_timeout: None,
            ended: None,
            notifications: Vec::new(),
            outgoing: VecDeque::new(),
            receiver_mids: HashMap::new(),
            receiver_ssrcs: HashMap::new(),
            rid_layers: RidLayers::default(),
            learnt_layers: Vec::new(),
            received: Vec::new(),
            sender_mids: Vec::new(),
            keyframe_requests: Vec::new(),
            cname_for_receivers: None,
            pending_keyframes: Vec::new(),
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

    fn ice_local_parameters(&self) -> Value {
        let credentials = &self.local_credentials;
        json!({"usernameFragment": credentials.ufrag, "password": credentials.pass, "iceLite": true})
    }

    fn dtls_local_parameters(&self) -> Value {
        let role = match self.local_is_client {
            None => "auto",
            Some(true) => "client",
            Some(false) => "server",
        };
        let fingerprints: Vec<Value> = ["sha-256", "sha-384", "sha-512"]
            .iter()
            .filter_map(|algorithm| {
                fingerprint(&self.own_certificate, algorithm)
                    .map(|digest| json!({"algorithm": algorithm, "value": sdp_form(&digest)}))
            })
            .collect();
        json!({"role": role, "fingerprints": fingerprints})
    }

    fn sctp_parameters(&self) -> Value {
        if !self.sctp {
            return Value::Null;
        }
        json!({"port": SCTP_PORT, "OS": SCTP_STREAMS, "MIS": SCTP_STREAMS, "maxMessageSize": SCTP_MAX_MESSAGE_SIZE})
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

    /// Starts DTLS with the remote role and fingerprints; answers the local role.
    pub fn set_remote_dtls_parameters(&mut self, value: &Value, now: Instant) -> Result<Value, WorkerError> {
        if self.remote_dtls.is_some() {
            return Err(WorkerError::invalid_state("the remote DTLS parameters were set already"));
        }
        let remote = RemoteDtlsParameters::parse(value)?;
        self.check_alive()?;
        let local_is_client = remote.local_is_client;
        // str0m's own check is off; it still wants a fingerprint before the
        // peer's certificate arrives. The real check is in verify_remote_certificate.
        let for_str0m = remote
            .fingerprints
            .iter()
            .find(|(algorithm, _)| algorithm == "sha-256")
            .map(|(algorithm, digest)| Fingerprint { hash_func: algorithm.clone(), bytes: digest.clone() })
            .unwrap_or_else(|| Fingerprint { hash_func: "sha-256".into(), bytes: vec![0; 32] });
        let sctp = self.sctp;
        let started = self.with_rtc(now, |rtc| {
            let mut api = rtc.direct_api();
            api.set_remote_fingerprint(for_str0m);
            api.start_dtls(local_is_client).map_err(|err| err.to_string())?;
            if sctp {
                api.start_sctp(local_is_client);
            }
            Ok(())
        });
        if let Err(reason) = started {
            self.fail_dtls(&reason);
            return Err(WorkerError::internal(format!("DTLS could not start: {reason}")));
        }
        self.remote_dtls = Some(remote);
        self.local_is_client = Some(local_is_client);
        self.dtls_deadline = Some(now + DTLS_CONNECT_TIMEOUT);
        self.set_dtls_state(DtlsState::Connecting, None);
        for held in std::mem::take(&mut self.held_dtls) {
            self.feed(now, held.protocol, held.source, held.destination, &held.contents);
        }
        self.drain(now);
        Ok(json!({"role": if local_is_client { "client" } else { "server" }}))
    }

    /// ICE restart: new local credentials. Returns `iceLocalParameters`.
    pub fn restart_ice(&mut self, now: Instant) -> Result<Value, WorkerError> {
        self.check_alive()?;
        let credentials = IceCreds::new();
        let for_rtc = credentials.clone();
        self.with_rtc(now, |rtc| {
            rtc.direct_api().set_local_ice_credentials(for_rtc);
            Ok(())
        })
        .map_err(WorkerError::internal)?;
        self.local_credentials = credentials;
        self.drain(now);
        Ok(self.ice_local_parameters())
    }

    /// Starts receiving a published stream: its mid and encodings are
    /// declared to str0m. Answers the mid it is received under, and which of
    /// its header extensions this transport reads.
    pub fn add_receiver(&mut self, receiver_id: &str, kind: MediaKind, parameters: &ReceiveParameters, now: Instant) -> Result<(String, ReadableExtensions), WorkerError> {
        self.check_alive()?;
        let mid = match &parameters.mid {
            Some(mid) => mid.clone(),
            None => (0..).map(|index| format!("r{index}")).find(|mid| !self.receiver_mids.contains_key(mid)).unwrap_or_default(),
        };
        if mid.len() > 16 {
            return Err(WorkerError::value_error(format!("rtpParameters.mid '{mid}' is longer than 16 bytes")));
        }
        if self.receiver_mids.contains_key(&mid) {
            return Err(WorkerError::value_error(format!("rtpParameters.mid '{mid}' is used by another stream of this transport")));
        }
        // A mid a sender of the same kind uses: an SDP section that is sendrecv.
        let shared = self.sender_mids.contains(&mid);
        for ssrc in parameters.encodings.iter().flat_map(|e| e.ssrc.into_iter().chain(e.rtx_ssrc)) {
            if self.receiver_ssrcs.contains_key(&ssrc) {
                return Err(WorkerError::value_error(format!("ssrc {ssrc} is used by another stream of this transport")));
            }
        }
        let str0m_kind = match kind {
            MediaKind::Audio => str0m::media::MediaKind::Audio,
            MediaKind::Video => str0m::media::MediaKind::Video,
        };
        let encodings = parameters.encodings.clone();
        let declared_mid = Mid::from(mid.as_str());
        if shared && self.rtc.media(declared_mid).map(|media| media.kind()) != Some(str0m_kind) {
            return Err(WorkerError::value_error(format!(
                "rtpParameters.mid '{mid}' is a stream of another kind than {} that this transport sends",
                kind.as_str()
            )));
        }
        self.with_rtc(now, |rtc| {
            let mut api = rtc.direct_api();
            // A shared mid is declared already; its rids stay any (str0m's default).
            if !shared {
                let media = api.declare_media(declared_mid, str0m_kind);
                for rid in encodings.iter().filter_map(|e| e.rid.as_deref()) {
                    media.expect_rid_rx(Rid::from(rid));
                }
            }
            for encoding in &encodings {
                let Some(ssrc) = encoding.ssrc else { continue };
                let rid = encoding.rid.as_deref().map(Rid::from);
                let stream = api.expect_stream_rx(Ssrc::from(ssrc), encoding.rtx_ssrc.map(Ssrc::from), declared_mid, rid);
                // Audio is not retransmitted: no NACK timer for it.
                stream.suppress_nack(kind == MediaKind::Audio);
            }
            Ok(())
        })
        .map_err(WorkerError::internal)?;
        let shared_id: Rc<str> = Rc::from(receiver_id);
        self.receiver_mids.insert(mid.clone(), shared_id.clone());
        for ssrc in parameters.encodings.iter().flat_map(|e| e.ssrc.into_iter().chain(e.rtx_ssrc)) {
            self.receiver_ssrcs.insert(ssrc, shared_id.clone());
        }
        let rid_only = parameters.encodings.iter().filter(|e| e.ssrc.is_none()).filter_map(|e| e.rid.clone());
        let ids = StreamIdExtensions::of_parameters(&parameters.normalised["headerExtensions"]);
        self.rid_layers.add(shared_id.clone(), &mid, rid_only, ids);
        self.drain(now);
        let readable = self.readable_extensions(kind, &parameters.normalised["headerExtensions"]);
        Ok((mid, readable))
    }

    /// The extensions of a publisher's parameters that str0m reads right:
    /// those it writes at the id this transport's map gives them. Clients
    /// write at their own ids (aiortc: audio level and abs-send-time both at
    /// 2), and str0m's map is fixed when the transport is built; an extension
    /// at another id is not forwarded rather than forwarded wrong.
    fn readable_extensions(&self, kind: MediaKind, extensions: &Value) -> ReadableExtensions {
        let reads = |uri: &str| {
            extensions.as_array().into_iter().flatten().any(|extension| {
                extension["uri"].as_str() == Some(uri)
                    && str0m_extension(uri)
                        .and_then(|known| self.send_tables.extensions.id_of(known))
                        .is_some_and(|id| extension["id"].as_u64() == Some(u64::from(id)))
            })
        };
        let readable = ReadableExtensions {
            audio_level: kind == MediaKind::Audio && reads("urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
            video_orientation: kind == MediaKind::Video && reads("urn:3gpp:video-orientation"),
            abs_capture_time: reads("http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time"),
            playout_delay: kind == MediaKind::Video && reads("http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"),
        };
        tracing::debug!("transport {}: a {} stream whose forwarded extensions are {readable:?}", self.id, kind.as_str());
        readable
    }

    /// The payload types and header-extension ids senders write on this transport.
    pub fn send_tables(&self) -> &SendTables {
        &self.send_tables
    }

    /// The header extensions of this transport, as `{'uri', 'id'}`.
    pub fn header_extensions(&self) -> Value {
        Value::Array(self.send_tables.extensions.iter().map(|(id, extension)| json!({"uri": extension.as_uri(), "id": id})).collect())
    }

    /// Stops receiving the stream of `receiver_id`.
    pub fn remove_receiver(&mut self, receiver_id: &str, now: Instant) {
        let mids: Vec<String> = self.receiver_mids.iter().filter(|(_, id)| &***id == receiver_id).map(|(mid, _)| mid.clone()).collect();
        let ssrcs: Vec<u32> = self.receiver_ssrcs.iter().filter(|(_, id)| &***id == receiver_id).map(|(ssrc, _)| *ssrc).collect();
        // A mid a sender shares (sendrecv) stays declared for it.
        let sender_mids = self.sender_mids.clone();
        let _ = self.with_rtc(now, |rtc| {
            let mut api = rtc.direct_api();
            for ssrc in &ssrcs {
                api.remove_stream_rx(Ssrc::from(*ssrc));
            }
            for mid in mids.iter().filter(|mid| !sender_mids.contains(mid)) {
                api.remove_media(Mid::from(mid.as_str()));
            }
            Ok(())
        });
        self.ingress_counters.retain(|(mid, _), _| !mids.contains(mid));
        self.receiver_mids.retain(|_, id| &**id != receiver_id);
        self.receiver_ssrcs.retain(|_, id| &**id != receiver_id);
        self.rid_layers.remove(receiver_id);
        self.received.retain(|(id, _)| &**id != receiver_id);
        self.drain(now);
    }

    /// Declares a stream this transport sends (an RtpSender's) under `mid`:
    /// a mid of its own, or the mid of a stream of the same kind this
    /// transport receives (an SDP section that is `sendrecv`).
    pub fn add_sender(&mut self, mid: &str, kind: MediaKind, ssrc: u32, rtx_ssrc: Option<u32>, now: Instant) -> Result<(), WorkerError> {
        self.check_alive()?;
        if mid.is_empty() || mid.len() > 16 {
            return Err(WorkerError::value_error(format!("mid '{mid}' must be 1 to 16 bytes")));
        }
        if self.sender_mids.iter().any(|other| other == mid) {
            return Err(WorkerError::value_error(format!("mid '{mid}' is used by another stream transport {} sends", self.id)));
        }
        let str0m_kind = match kind {
            MediaKind::Audio => str0m::media::MediaKind::Audio,
            MediaKind::Video => str0m::media::MediaKind::Video,
        };
        let declared_mid = Mid::from(mid);
        let shared = self.receiver_mids.contains_key(mid);
        if shared && self.rtc.media(declared_mid).map(|media| media.kind()) != Some(str0m_kind) {
            return Err(WorkerError::value_error(format!("mid '{mid}' is a stream of another kind than {} that transport {} receives", kind.as_str(), self.id)));
        }
        self.with_rtc(now, |rtc| {
            let mut api = rtc.direct_api();
            if !shared {
                api.declare_media(declared_mid, str0m_kind);
            }
            api.declare_stream_tx(Ssrc::from(ssrc), rtx_ssrc.map(Ssrc::from), declared_mid, None);
            Ok(())
        })
        .map_err(WorkerError::internal)?;
        self.sender_mids.push(mid.to_owned());
        self.drain(now);
        Ok(())
    }

    pub fn remove_sender(&mut self, mid: &str, ssrc: u32, now: Instant) {
        let shared = self.receiver_mids.contains_key(mid);
        let _ = self.with_rtc(now, |rtc| {
            let mut api = rtc.direct_api();
            api.remove_stream_tx(Ssrc::from(ssrc));
            if !shared {
                api.remove_media(Mid::from(mid));
            }
            Ok(())
        });
        self.sender_mids.retain(|other| other != mid);
        self.egress_counters.remove(mid);
        self.drain(now);
    }

    /// Whether media written now leaves (DTLS connected, not ended).
    pub fn can_send_media(&self) -> bool {
        self.ended.is_none() && self.dtls_state == DtlsState::Connected
    }

    /// Writes one forwarded packet on a declared sending stream.
    /// The header extensions the publisher set that travel with the media
    /// (audio level, orientation, playout delay, capture time…) are written
    /// at this transport's ids; str0m adds the mid, abs-send-time and the
    /// transport-wide sequence number of its own.
    pub fn send_rtp(&mut self, rtp: &OutgoingRtp, packet: &RtpPacket, readable: ReadableExtensions, now: Instant) {
        if !self.can_send_media() {
            return;
        }
        let payload = packet.payload.clone();
        let ext_vals = forwarded_extensions(readable, &packet.header.ext_vals);
        let _ = self.with_rtc(now, |rtc| {
            let mut api = rtc.direct_api();
            if let Some(stream) = api.stream_tx(&Ssrc::from(rtp.ssrc)) {
                let write = RtpWrite::new(Pt::from(rtp.payload_type), SeqNo::from(rtp.sequence_number), rtp.timestamp, now, payload)
                    .marker(rtp.marker)
                    .ext_vals(ext_vals)
                    .nackable(rtp.nackable);
                stream.write_rtp(write);
            }
            Ok(())
        });
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
            let _ = self.with_rtc(now, |rtc| rtc.handle_input(Input::Timeout(now)).map_err(|err| err.to_string()));
        }
        self.drain(now);
    }

    /// Asks the publisher of the stream on `ssrc` for a keyframe (PLI).
    /// Before SRTP is up str0m would drop the PLI: it waits for DTLS to connect.
    pub fn request_keyframe(&mut self, ssrc: u32, now: Instant) {
        if !self.can_send_media() {
            if !self.pending_keyframes.contains(&ssrc) {
                self.pending_keyframes.push(ssrc);
            }
            return;
        }
        let _ = self.with_rtc(now, |rtc| {
            if let Some(stream) = rtc.direct_api().stream_rx(&Ssrc::from(ssrc)) {
                stream.request_keyframe(KeyframeRequestKind::Pli);
            }
            Ok(())
        });
        self.drain(now);
    }

    /// The mids of sending streams whose subscriber asked for a keyframe.
    pub fn take_keyframe_requests(&mut self) -> Vec<String> {
        std::mem::take(&mut self.keyframe_requests)
    }

    /// Moves the RTP received since the last call, each with its receiver's
    /// id, to the end of `into` (both keep their capacity: no allocation
    /// per packet once warm).
    pub fn drain_rtp(&mut self, into: &mut Vec<(Rc<str>, RtpPacket)>) {
        into.append(&mut self.received);
    }

    /// Caps what the peer's publishers send: a REMB with `bitrate` goes to
    /// each of them now and every second (goog-remb senders such as aiortc
    /// follow it; transport-cc senders get str0m's feedback as well).
    pub fn set_max_bitrate(&mut self, bitrate: u64, now: Instant) {
        self.max_bitrate = Some(bitrate);
        self.send_remb(now);
    }

    fn send_remb(&mut self, now: Instant) {
        let Some(bitrate) = self.max_bitrate else { return };
        if !self.can_send_media() {
            return;
        }
        let ssrcs: Vec<u32> = self.receiver_ssrcs.keys().copied().collect();
        self.remb_sent_at = Some(now);
        let _ = self.with_rtc(now, |rtc| {
            let mut api = rtc.direct_api();
            for ssrc in ssrcs {
                if let Some(stream) = api.stream_rx(&Ssrc::from(ssrc)) {
                    stream.request_remb(str0m::bwe::Bitrate::bps(bitrate));
                }
            }
            Ok(())
        });
        self.drain(now);
    }

    /// str0m's RTCP counters of a stream this transport receives.
    pub fn ingress_counters(&self, mid: &str, rid: Option<&str>) -> RtcpCounters {
        self.ingress_counters.get(&(mid.to_owned(), rid.map(str::to_owned))).copied().unwrap_or_default()
    }

    /// str0m's RTCP counters of a stream this transport sends.
    pub fn egress_counters(&self, mid: &str) -> RtcpCounters {
        self.egress_counters.get(mid).copied().unwrap_or_default()
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
            self.learn_rid_layer(now, contents);
        }
        self.feed(now, protocol, source, destination, contents);
        self.drain(now);
    }

    /// A binding request that proves our password: learn the client's ufrag
    /// (str0m answers only once it knows it) and what it tells about ICE.
    fn learn_from_binding_request(&mut self, now: Instant, protocol: Protocol, source: SocketAddr, destination: SocketAddr, contents: &[u8]) {
        let Ok(message) = StunMessage::parse(contents) else { return };
        if !message.is_binding_request() {
            return;
        }
        let Some((local_ufrag, remote_ufrag)) = message.split_username() else { return };
        let credentials = &self.local_credentials;
        if local_ufrag != credentials.ufrag || !message.verify(credentials.pass.as_bytes(), hmac_sha1) {
            return;
        }
        if self.remote_ufrag.as_deref() != Some(remote_ufrag) {
            let remote = IceCreds { ufrag: remote_ufrag.to_owned(), pass: String::new() };
            self.remote_ufrag = Some(remote.ufrag.clone());
            let _ = self.with_rtc(now, |rtc| {
                rtc.direct_api().set_remote_ice_credentials(remote);
                Ok(())
            });
            self.drain(now);
        }
        let tuple = Tuple { local: destination, remote: source, protocol };
        if message.use_candidate() {
            self.select_tuple(tuple);
            self.set_ice_state(IceState::Completed);
        } else if matches!(self.ice_state, IceState::New | IceState::Disconnected) {
            if self.selected_tuple.is_none() {
                self.select_tuple(tuple);
            }
            self.set_ice_state(IceState::Connected);
        }
    }

    /// The SSRC of a simulcast layer named by rid alone, read at the
    /// publisher's own extension ids (str0m's map may hold others), is
    /// declared to str0m before the packet that names it is handled.
    fn learn_rid_layer(&mut self, now: Instant, packet: &[u8]) {
        if rtp_ssrc(packet).is_none_or(|ssrc| self.receiver_ssrcs.contains_key(&ssrc)) {
            return;
        }
        let Some(learnt) = self.rid_layers.learn(packet) else { return };
        tracing::debug!("transport {}: ssrc {} is layer {} of mid {}", self.id, learnt.new_ssrc, learnt.rid, learnt.mid);
        let declared = self.with_rtc(now, |rtc| {
            let mid = Mid::from(learnt.mid.as_str());
            let rid = Some(Rid::from(learnt.rid.as_str()));
            rtc.direct_api().expect_stream_rx(Ssrc::from(learnt.ssrc), learnt.rtx_ssrc.map(Ssrc::from), mid, rid);
            Ok(())
        });
        if declared.is_ok() {
            if learnt.new_ssrc == learnt.ssrc {
                self.learnt_layers.push((learnt.receiver.clone(), learnt.ssrc, learnt.rid));
            }
            self.receiver_ssrcs.insert(learnt.new_ssrc, learnt.receiver);
        }
    }

    /// The layers learnt since the last call: (receiver id, SSRC, rid).
    pub fn take_learnt_layers(&mut self) -> Vec<(Rc<str>, u32, String)> {
        std::mem::take(&mut self.learnt_layers)
    }

    fn feed(&mut self, now: Instant, protocol: Protocol, source: SocketAddr, destination: SocketAddr, contents: &[u8]) {
        let Ok(receive) = Receive::new(protocol, source, destination, contents) else { return };
        let input = Input::Receive(now, receive);
        if !self.rtc.accepts(&input) {
            return;
        }
        if let Err(reason) = self.with_rtc(now, |rtc| rtc.handle_input(input).map_err(|err| err.to_string())) {
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
            let _ = self.with_rtc(now, |rtc| rtc.handle_input(Input::Timeout(now)).map_err(|err| err.to_string()));
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
    fn with_rtc<T>(&mut self, _now: Instant, call: impl FnOnce(&mut Rtc) -> Result<T, String>) -> Result<T, String> {
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
        if self.dtls_state == DtlsState::Connected && !self.pending_keyframes.is_empty() {
            let ssrcs = std::mem::take(&mut self.pending_keyframes);
            let _ = self.with_rtc(now, |rtc| {
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
            // a wrong one stops the handshake before our next flight leaves.
            if self.collect_remote_certificate() && !self.remote_certificate_matches() {
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
        self.collect_remote_certificate();
    }

    /// Takes the certificate str0m last hashed; true if it is a new remote one.
    fn collect_remote_certificate(&mut self) -> bool {
        match take_hashed_certificate() {
            Some(der) if der != self.own_certificate && self.remote_certificate.as_ref() != Some(&der) => {
                self.remote_certificate = Some(der);
                true
            }
            _ => false,
        }
    }

    fn remote_certificate_matches(&self) -> bool {
        let (Some(remote), Some(der)) = (&self.remote_dtls, &self.remote_certificate) else { return false };
        remote
            .fingerprints
            .iter()
            .any(|(algorithm, digest)| fingerprint(der, algorithm).as_deref() == Some(digest.as_slice()))
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
            Event::RtpPacket(packet) => {
                let receiver = self.receiver_ssrcs.get(&*packet.header.ssrc).or_else(|| {
                    let mid = packet.header.ext_vals.mid?;
                    self.receiver_mids.get(&*mid)
                });
                if let Some(receiver) = receiver {
                    self.received.push((receiver.clone(), packet));
                }
            }
            Event::KeyframeRequest(request) => self.keyframe_requests.push(request.mid.to_string()),
            Event::MediaIngressStats(stats) => {
                let key = (stats.mid.to_string(), stats.rid.map(|rid| rid.to_string()));
                self.ingress_counters.insert(key, RtcpCounters::from_ingress(&stats));
            }
            Event::MediaEgressStats(stats) => {
                self.egress_counters.insert(stats.mid.to_string(), RtcpCounters::from_egress(&stats));
            }
            Event::PeerStats(stats) => self.round_trip_time = stats.rtt.or(self.round_trip_time),
            Event::Closed => {
                self.set_dtls_state(DtlsState::Closed, None);
                tracing::debug!("transport {}: the remote endpoint closed DTLS", self.id);
                self.end("the remote endpoint closed the connection");
            }
            _ => {}
        }
    }

    /// DTLS connected: the peer's certificate must match one of the
    /// fingerprints it announced, or nothing flows.
    fn verify_remote_certificate(&mut self) {
        match &self.remote_certificate {
            Some(der) if self.remote_certificate_matches() => {
                let pem = certificate_pem(der);
                self.dtls_deadline = None;
                self.set_dtls_state(DtlsState::Connected, Some(pem));
            }
            Some(_) => self.fail_dtls("the remote certificate does not match its fingerprint"),
            None => self.fail_dtls("the remote certificate is unknown"),
        }
    }

    fn fail_dtls(&mut self, reason: &str) {
        if matches!(self.dtls_state, DtlsState::Failed | DtlsState::Closed) {
            return;
        }
        tracing::warn!("transport {}: DTLS failed: {reason}", self.id);
        self.rtc.disconnect();
        self.dtls_deadline = None;
        self.set_dtls_state(DtlsState::Failed, None);
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

    fn set_ice_state(&mut self, state: IceState) {
        if self.ice_state == state {
            return;
        }
        self.ice_state = state;
        self.notifications.push(TransportNotification {
            event: NotificationEvent::TransportIceStateChange,
            data: json!({"iceState": state.as_str()}),
        });
    }

    fn select_tuple(&mut self, tuple: Tuple) {
        if self.selected_tuple == Some(tuple) {
            return;
        }
        self.selected_tuple = Some(tuple);
        self.notifications.push(TransportNotification {
            event: NotificationEvent::TransportIceSelectedTupleChange,
            data: json!({"iceSelectedTuple": tuple.to_json()}),
        });
    }

    fn set_dtls_state(&mut self, state: DtlsState, remote_certificate_pem: Option<String>) {
        if self.dtls_state == state {
            return;
        }
        self.dtls_state = state;
        self.notifications.push(TransportNotification {
            event: NotificationEvent::TransportDtlsStateChange,
            data: json!({"dtlsState": state.as_str(), "dtlsRemoteCert": remote_certificate_pem}),
        });
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
        dump
    }

    pub fn stats(&mut self, now_ms: u64) -> Value {
        let counters = self.counters;
        json!([{
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
        }])
    }
}

/// The extensions of a received packet that its forwarded copy carries.
fn forwarded_extensions(readable: ReadableExtensions, received: &ExtensionValues) -> ExtensionValues {
    ExtensionValues {
        audio_level: received.audio_level.filter(|_| readable.audio_level),
        voice_activity: received.voice_activity.filter(|_| readable.audio_level),
        video_orientation: received.video_orientation.filter(|_| readable.video_orientation),
        abs_capture_time: received.abs_capture_time.filter(|_| readable.abs_capture_time),
        play_delay_min: received.play_delay_min.filter(|_| readable.playout_delay),
        play_delay_max: received.play_delay_max.filter(|_| readable.playout_delay),
        ..ExtensionValues::default()
    }
}

/// A mediasoup `IceCandidate` for `socket`, priority by RFC 8445 §5.1.2.1:
/// UDP above TCP unless preferTcp, the preferred family above the other.
fn candidate_json(socket: &BoundSocket, address: SocketAddr, options: TransportOptions) -> Value {
    let is_udp = socket.protocol == Protocol::Udp;
    let is_ipv4 = address.is_ipv4();
    let type_preference: u32 = if is_udp != options.prefer_tcp { 126 } else { 110 };
    let mut local_preference: u32 = if is_ipv4 { 10000 } else { 20000 };
    if options.prefer_ipv4 && is_ipv4 || options.prefer_ipv6 && !is_ipv4 {
        local_preference += 30000;
    }
    let priority = (type_preference << 24) + (local_preference << 8) + 255;
    let mut candidate = json!({
        "foundation": if is_udp { "udpcandidate" } else { "tcpcandidate" },
        "priority": priority,
        "ip": address.ip().to_string(),
        "protocol": protocol_name(socket.protocol),
        "port": address.port(),
        "type": "host",
    });
    if !is_udp {
        candidate["tcpType"] = json!("passive");
    }
    candidate
}

fn hmac_sha1(key: &[u8], payloads: &[&[u8]]) -> [u8; 20] {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let mut context = hmac::Context::with_key(&key);
    for payload in payloads {
        context.update(payload);
    }
    let mut tag = [0u8; 20];
    tag.copy_from_slice(context.sign().as_ref());
    tag
}

#[cfg(test)]
#[path = "webrtc_tests.rs"]
pub(crate) mod tests;
