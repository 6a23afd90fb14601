//! What a worker reports on its own, unasked: [`Notification`]s about its
//! objects (their events, by [`NotificationEvent`]) and its log lines
//! ([`LogRecord`]). The Channel's table of messages ([`super::message`])
//! carries them as one kind of [`super::message::WorkerMessage`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Something the worker reports on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub event: NotificationEvent,
    /// The object it concerns (a room id…), when not the worker itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    #[serde(default)]
    pub data: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotificationEvent {
    /// A `tracing` event of the worker, for Python's `logging`.
    #[serde(rename = "log")]
    Log,
    /// `{'iceState'}`.
    #[serde(rename = "transport.iceStateChange")]
    TransportIceStateChange,
    /// `{'iceSelectedTuple'}`.
    #[serde(rename = "transport.iceSelectedTupleChange")]
    TransportIceSelectedTupleChange,
    /// `{'dtlsState', 'dtlsRemoteCert'}`.
    #[serde(rename = "transport.dtlsStateChange")]
    TransportDtlsStateChange,
    /// A plain transport learnt its endpoint's address (comedia): `{'tuple'}`.
    #[serde(rename = "transport.tuple")]
    TransportTuple,
    /// The same for RTCP without rtcpMux: `{'rtcpTuple'}`.
    #[serde(rename = "transport.rtcpTuple")]
    TransportRtcpTuple,
    /// The worker ended the transport by itself: `{'reason'}`.
    #[serde(rename = "transport.closed")]
    TransportClosed,
    /// A message the peer sent: `{'label', 'data', 'binary'}` (`data` base64 when binary).
    #[serde(rename = "peer.dataChannelMessage")]
    PeerDataChannelMessage,
    /// `{'levels': [[rtpReceiverId, dBov], ...]}`, loudest first.
    #[serde(rename = "room.audioLevels")]
    RoomAudioLevels,
    /// `{'rtpReceiverId'}` (None: the speaker's stream ended).
    #[serde(rename = "room.activeSpeaker")]
    RoomActiveSpeaker,
    /// The layers a sender forwards changed: `{'layers': {'spatialLayer', 'temporalLayer'}}`.
    #[serde(rename = "rtpSender.layersChange")]
    RtpSenderLayersChange,
    /// The spatial layers of a simulcast stream that no sender wants changed: `{'layers': [int…]}`.
    #[serde(rename = "rtpReceiver.layersUnused")]
    RtpReceiverLayersUnused,
    /// A sender's score changed: `{'score': 0..=10}`.
    #[serde(rename = "rtpSender.score")]
    RtpSenderScore,
}

impl NotificationEvent {
    /// Every event, as the Channel names it (`_mediasoup.NOTIFICATION_EVENTS`).
    pub const NAMES: [&'static str; 13] = [
        "log",
        "transport.iceStateChange",
        "transport.iceSelectedTupleChange",
        "transport.dtlsStateChange",
        "transport.tuple",
        "transport.rtcpTuple",
        "transport.closed",
        "peer.dataChannelMessage",
        "room.audioLevels",
        "room.activeSpeaker",
        "rtpSender.layersChange",
        "rtpReceiver.layersUnused",
        "rtpSender.score",
    ];
}

/// A log line of the worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// 'error', 'warn', 'info', 'debug' or 'trace'.
    pub level: String,
    /// The `tracing` target, e.g. `media_worker::room`.
    pub target: String,
    pub message: String,
}

impl Notification {
    pub fn log(record: &LogRecord) -> Self {
        Self {
            event: NotificationEvent::Log,
            target_id: None,
            data: serde_json::to_value(record).unwrap_or(Value::Null),
        }
    }
}
