//! The one table of Channel messages. The extension serialises [`Request`]s
//! and reads [`WorkerMessage`]s; the worker does the reverse. A method or an
//! event exists exactly when it is a variant here.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::WorkerError;
use crate::channel::settings::{LogLevel, WorkerSettings};
pub use crate::channel::notification::{LogRecord, Notification, NotificationEvent};

/// A request from the extension, answered by exactly one [`Response`] with the
/// same `id`, in the order the requests were sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "data", deny_unknown_fields)]
pub enum Request {
    /// The first request a worker gets: its settings. Answers the worker's pid.
    #[serde(rename = "worker.init")]
    WorkerInit(WorkerSettings),
    #[serde(rename = "worker.dump")]
    WorkerDump,
    #[serde(rename = "worker.updateSettings")]
    WorkerUpdateSettings(UpdateSettings),
    /// Counts, totals since the worker started and current bitrates, with
    /// the process's CPU time and resident memory (the shell's).
    #[serde(rename = "worker.getMetrics")]
    WorkerGetMetrics,
    #[serde(rename = "room.create")]
    RoomCreate(RoomCreate),
    #[serde(rename = "room.close")]
    RoomClose(RoomRef),
    /// One page of the dump: the peers from `fromPeer` on, as many as fit
    /// [`crate::room::DUMP_PAGE_BYTES`]; `nextPeer` names the next page's start.
    #[serde(rename = "room.dump")]
    RoomDump(RoomDumpPage),
    #[serde(rename = "room.createPeer")]
    RoomCreatePeer(PeerCreate),
    #[serde(rename = "peer.close")]
    PeerClose(PeerRef),
    #[serde(rename = "peer.dump")]
    PeerDump(PeerRef),
    /// Answers the capabilities as stored (normalised).
    #[serde(rename = "peer.setCapabilities")]
    PeerSetCapabilities(PeerSetCapabilities),
    /// Answers the transport's local parameters.
    #[serde(rename = "peer.createTransport")]
    PeerCreateTransport(TransportCreate),
    /// A transport with no network: Python is its endpoint, its RTP crosses
    /// on the media path ([`crate::channel::media`]). Answers `{'handle'}`,
    /// the transport in media frames.
    #[serde(rename = "peer.createDirectTransport")]
    PeerCreateDirectTransport(DirectTransportCreate),
    /// RTP and RTCP over UDP without ICE or DTLS. Answers `{'tuple',
    /// 'rtcpTuple', 'rtcpMux', 'comedia'}`.
    #[serde(rename = "peer.createPlainTransport")]
    PeerCreatePlainTransport(PlainTransportCreate),
    #[serde(rename = "transport.close")]
    TransportClose(TransportRef),
    #[serde(rename = "transport.dump")]
    TransportDump(TransportRef),
    #[serde(rename = "transport.getStats")]
    TransportGetStats(TransportRef),
    /// Answers `{'role': local role}`.
    #[serde(rename = "transport.setRemoteDtlsParameters")]
    TransportSetRemoteDtlsParameters(TransportRemoteDtls),
    #[serde(rename = "transport.setMaxBitrate")]
    TransportSetMaxBitrate(TransportMaxBitrate),
    /// Answers the new `iceLocalParameters`.
    #[serde(rename = "transport.restartIce")]
    TransportRestartIce(TransportRef),
    /// Where a plain transport's endpoint is; answers its tuples.
    #[serde(rename = "transport.connect")]
    TransportConnect(TransportConnect),
    /// Creates the worker's receiver; answers the normalised `rtpParameters`.
    #[serde(rename = "rtpReceiver.receive")]
    RtpReceiverReceive(RtpReceiverReceive),
    #[serde(rename = "rtpReceiver.close")]
    RtpReceiverClose(RtpReceiverRef),
    #[serde(rename = "rtpReceiver.dump")]
    RtpReceiverDump(RtpReceiverRef),
    #[serde(rename = "rtpReceiver.getStats")]
    RtpReceiverGetStats(RtpReceiverRef),
    /// A sender of a receiver's stream for another peer; answers its consumer
    /// `rtpParameters`, or `UnsupportedError` if that peer cannot decode it.
    #[serde(rename = "rtpSender.create")]
    RtpSenderCreate(RtpSenderCreate),
    #[serde(rename = "rtpSender.setTransport")]
    RtpSenderSetTransport(RtpSenderTransport),
    /// `enable()` / `disable()`.
    #[serde(rename = "rtpSender.setActive")]
    RtpSenderSetActive(RtpSenderActive),
    /// The highest spatial and temporal layers the sender forwards (None: the highest).
    #[serde(rename = "rtpSender.setPreferredLayers")]
    RtpSenderSetPreferredLayers(RtpSenderPreferredLayers),
    /// The sender's share of its transport's bandwidth estimate (1 to 255).
    #[serde(rename = "rtpSender.setPriority")]
    RtpSenderSetPriority(RtpSenderPriority),
    /// Asks the publisher of the sender's stream for a keyframe (a decoder
    /// in Python starting, or one that lost a packet).
    #[serde(rename = "rtpSender.requestKeyFrame")]
    RtpSenderRequestKeyFrame(RtpSenderRef),
    #[serde(rename = "rtpSender.close")]
    RtpSenderClose(RtpSenderRef),
    #[serde(rename = "rtpSender.dump")]
    RtpSenderDump(RtpSenderRef),
    #[serde(rename = "rtpSender.getStats")]
    RtpSenderGetStats(RtpSenderRef),
    /// Sends a message to the peer on its channel with the label (opened
    /// in band on its newest SCTP transport if it has none).
    #[serde(rename = "peer.sendData")]
    PeerSendData(PeerSendData),
    /// Whether the peer's messages are notified (`datachannelmessage` has listeners).
    #[serde(rename = "peer.setDataListener")]
    PeerSetDataListener(PeerDataListener),
    /// Opens the channel a peer sends on (`produceData`); answers the
    /// normalised `{'label', 'protocol', 'sctpStreamParameters'}`.
    #[serde(rename = "dataReceiver.receive")]
    DataReceiverReceive(DataReceiverReceive),
    #[serde(rename = "dataReceiver.close")]
    DataReceiverClose(DataReceiverRef),
    #[serde(rename = "dataReceiver.dump")]
    DataReceiverDump(DataReceiverRef),
    #[serde(rename = "dataReceiver.getStats")]
    DataReceiverGetStats(DataReceiverRef),
    /// A sender of a data receiver's messages for another peer; answers
    /// `{'label', 'protocol', 'sctpStreamParameters'}` without `streamId`.
    #[serde(rename = "dataSender.create")]
    DataSenderCreate(DataSenderCreate),
    /// Opens the sender's channel on a transport (out of band, on a free
    /// stream); answers its `sctpStreamParameters` with the `streamId`.
    #[serde(rename = "dataSender.setTransport")]
    DataSenderSetTransport(DataSenderTransport),
    #[serde(rename = "dataSender.close")]
    DataSenderClose(DataSenderRef),
    #[serde(rename = "dataSender.dump")]
    DataSenderDump(DataSenderRef),
    #[serde(rename = "dataSender.getStats")]
    DataSenderGetStats(DataSenderRef),
}

impl Request {
    /// Every method, as the Channel names it: the extension exports them
    /// (`_mediasoup.CHANNEL_METHODS`) and a test checks that Python sends
    /// no other; another test, that they are exactly the variants above.
    pub const METHODS: [&'static str; 45] = [
        "worker.init",
        "worker.dump",
        "worker.updateSettings",
        "worker.getMetrics",
        "room.create",
        "room.close",
        "room.dump",
        "room.createPeer",
        "peer.close",
        "peer.dump",
        "peer.setCapabilities",
        "peer.createTransport",
        "peer.createDirectTransport",
        "peer.createPlainTransport",
        "transport.close",
        "transport.dump",
        "transport.getStats",
        "transport.setRemoteDtlsParameters",
        "transport.setMaxBitrate",
        "transport.restartIce",
        "transport.connect",
        "rtpReceiver.receive",
        "rtpReceiver.close",
        "rtpReceiver.dump",
        "rtpReceiver.getStats",
        "rtpSender.create",
        "rtpSender.setTransport",
        "rtpSender.setActive",
        "rtpSender.setPreferredLayers",
        "rtpSender.setPriority",
        "rtpSender.requestKeyFrame",
        "rtpSender.close",
        "rtpSender.dump",
        "rtpSender.getStats",
        "peer.sendData",
        "peer.setDataListener",
        "dataReceiver.receive",
        "dataReceiver.close",
        "dataReceiver.dump",
        "dataReceiver.getStats",
        "dataSender.create",
        "dataSender.setTransport",
        "dataSender.close",
        "dataSender.dump",
        "dataSender.getStats",
    ];
}

/// The options of `peer.createTransport()`, all bools, with their defaults:
/// the fields of [`TransportCreate`] besides the ids (a test ties them), and
/// what Python validates and fills in (`_mediasoup.TRANSPORT_OPTIONS`).
pub const TRANSPORT_OPTIONS: [(&str, bool); 7] = [
    ("udp", true),
    ("tcp", true),
    ("preferIPv4", false),
    ("preferIPv6", false),
    ("preferUdp", false),
    ("preferTcp", false),
    ("enableSctp", false),
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerSendData {
    pub peer_id: String,
    pub label: String,
    /// The message: text, or base64 when `binary`.
    pub data: String,
    pub binary: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerDataListener {
    pub peer_id: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataReceiverReceive {
    pub data_receiver_id: String,
    pub transport_id: String,
    /// mediasoup `SctpStreamParameters`, validated by [`crate::sctp`].
    pub sctp_stream_parameters: Value,
    #[serde(default)]
    pub label: Value,
    #[serde(default)]
    pub protocol: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataReceiverRef {
    pub data_receiver_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataSenderCreate {
    pub data_sender_id: String,
    pub peer_id: String,
    pub data_receiver_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataSenderTransport {
    pub data_sender_id: String,
    pub transport_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataSenderRef {
    pub data_sender_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RtpSenderCreate {
    pub sender_id: String,
    pub peer_id: String,
    pub receiver_id: String,
    /// A pipe's sender: every encoding of the stream, each on an SSRC of its own.
    #[serde(default)]
    pub pipe: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RtpSenderTransport {
    pub sender_id: String,
    pub transport_id: String,
    /// The mid to send under (an SDP answer's section); else the sender's own.
    #[serde(default)]
    pub mid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RtpSenderActive {
    pub sender_id: String,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RtpSenderPreferredLayers {
    pub sender_id: String,
    pub spatial_layer: u8,
    #[serde(default)]
    pub temporal_layer: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RtpSenderPriority {
    pub sender_id: String,
    pub priority: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RtpSenderRef {
    pub sender_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RtpReceiverReceive {
    pub receiver_id: String,
    pub transport_id: String,
    /// 'audio' or 'video'.
    pub kind: String,
    /// mediasoup `RtpParameters`, validated by [`crate::rtp::parameters`].
    pub rtp_parameters: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RtpReceiverRef {
    pub receiver_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerCreate {
    pub room_id: String,
    pub peer_id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerRef {
    pub peer_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerSetCapabilities {
    pub peer_id: String,
    /// A mediasoup `RtpCapabilities`, validated by the worker.
    pub rtp_capabilities: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransportCreate {
    pub peer_id: String,
    pub transport_id: String,
    pub udp: bool,
    pub tcp: bool,
    #[serde(rename = "preferIPv4")]
    pub prefer_ipv4: bool,
    #[serde(rename = "preferIPv6")]
    pub prefer_ipv6: bool,
    pub prefer_udp: bool,
    pub prefer_tcp: bool,
    pub enable_sctp: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DirectTransportCreate {
    pub peer_id: String,
    pub transport_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlainTransportCreate {
    pub peer_id: String,
    pub transport_id: String,
    /// One of the server's listen IPs (None: its IPv4 one if it has one).
    #[serde(default)]
    pub listen_ip: Option<String>,
    pub rtcp_mux: bool,
    pub comedia: bool,
    /// `enableSrtp`: the suite it protects what it sends with (None: no SRTP).
    #[serde(default)]
    pub srtp_crypto_suite: Option<String>,
    /// `enableNack`: NACKs both ways, what was sent kept to be sent again.
    #[serde(default)]
    pub enable_nack: bool,
    /// `sharedPort`: on the port the worker's plain transports share (one
    /// per listen address), told apart by their endpoint's address.
    #[serde(default)]
    pub shared_port: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransportConnect {
    pub transport_id: String,
    /// The endpoint's address; none with comedia.
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub rtcp_port: Option<u16>,
    /// The keys the endpoint protects what it sends with (with `enableSrtp`).
    #[serde(default)]
    pub srtp_parameters: Option<SrtpParameters>,
}

/// `{'cryptoSuite', 'keyBase64'}`: a suite and its master key and salt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SrtpParameters {
    pub crypto_suite: String,
    pub key_base64: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransportRef {
    pub transport_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransportRemoteDtls {
    pub transport_id: String,
    /// `{'role'?, 'fingerprint' | 'fingerprints'}`, validated by the transport.
    pub dtls_parameters: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransportMaxBitrate {
    pub transport_id: String,
    pub bitrate: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateSettings {
    pub log_level: LogLevel,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoomCreate {
    pub room_id: String,
    /// mediasoup `RtpCodecCapability` dictionaries as the user gave them, or
    /// none for the default set; validated by [`crate::rtp::capabilities`].
    #[serde(default)]
    pub media_codecs: Option<Value>,
    #[serde(default)]
    pub force_unique_payload_types: bool,
    /// Data channels relayed by label between the room's peers.
    #[serde(default = "yes")]
    pub data_channel_relay: bool,
    /// Milliseconds between `audiolevels` reports.
    #[serde(default = "default_audio_level_interval")]
    pub audio_level_interval: u64,
    /// dBov: quieter audio is silence.
    #[serde(default = "default_audio_level_threshold")]
    pub audio_level_threshold: i64,
    /// Send-side bandwidth estimation on its WebRTC transports (toward
    /// endpoints that send transport-cc): simulcast layers follow it.
    #[serde(default)]
    pub bandwidth_estimation: bool,
}

impl RoomCreate {
    /// A room of id `room_id` with every option at its default.
    pub fn new(room_id: &str) -> Self {
        Self {
            room_id: room_id.to_owned(),
            media_codecs: None,
            force_unique_payload_types: false,
            data_channel_relay: true,
            audio_level_interval: default_audio_level_interval(),
            audio_level_threshold: default_audio_level_threshold(),
            bandwidth_estimation: false,
        }
    }
}

fn yes() -> bool {
    true
}

fn default_audio_level_interval() -> u64 {
    500
}

fn default_audio_level_threshold() -> i64 {
    -60
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoomRef {
    pub room_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoomDumpPage {
    pub room_id: String,
    /// Index of the first peer (in joining order) of the page.
    #[serde(default)]
    pub from_peer: usize,
}

/// A request with its id, as it travels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestFrame {
    pub id: u32,
    #[serde(flatten)]
    pub request: Request,
}

/// How a request frame starts as the extension writes it (serde writes a
/// struct's fields in order): its id can be read from its first bytes even
/// when the rest cannot be parsed.
pub const REQUEST_HEAD: &[u8] = b"{\"id\":";
/// How an answer frame starts as the worker writes it (the tag, then `id`).
pub const RESPONSE_HEAD: &[u8] = b"{\"type\":\"response\",\"id\":";

/// The id at the start of a frame that begins with `head` and a number, as
/// in [`REQUEST_HEAD`] and [`RESPONSE_HEAD`]: the request a frame that cannot
/// be read (malformed, too deep, too long) belonged to.
pub fn leading_id(payload: &[u8], head: &[u8]) -> Option<u32> {
    let digits = payload.strip_prefix(head)?;
    let end = digits.iter().position(|byte| !byte.is_ascii_digit()).unwrap_or(digits.len());
    if end == 0 || end == digits.len() || end > 10 {
        return None;
    }
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

impl RequestFrame {
    /// Parses one frame. A frame that is not a request still yields its id
    /// when it has one, so the error can be answered.
    pub fn parse(payload: &[u8]) -> Result<RequestFrame, (Option<u32>, WorkerError)> {
        let mut value: Value = serde_json::from_slice(payload).map_err(|err| {
            (leading_id(payload, REQUEST_HEAD), WorkerError::type_error(format!("malformed frame: {err}")))
        })?;
        let id = value
            .get("id")
            .and_then(Value::as_u64)
            .and_then(|id| u32::try_from(id).ok());
        let Some(object) = value.as_object_mut() else {
            return Err((id, WorkerError::type_error("a request must be a JSON object")));
        };
        let Some(id) = id else {
            return Err((None, WorkerError::type_error("a request needs an integer 'id'")));
        };
        object.remove("id");
        let request = Request::deserialize(value)
            .map_err(|err| (Some(id), WorkerError::type_error(format!("bad request: {err}"))))?;
        Ok(RequestFrame { id, request })
    }
}

/// What a worker writes: answers and unsolicited notifications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum WorkerMessage {
    Response(Response),
    Notification(Notification),
}

/// The answer to one request: `data` on success, `error` on failure. `id` is
/// absent only for a frame whose id could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub id: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WorkerError>,
}

impl Response {
    pub fn new(id: Option<u32>, result: Result<Value, WorkerError>) -> Self {
        match result {
            Ok(data) => Self { id, data: Some(data), error: None },
            Err(error) => Self { id, data: None, error: Some(error) },
        }
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
