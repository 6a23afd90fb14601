//! The JSON lines a driver speaks to the load generator (see `main.rs`), and
//! the messages between its threads.

use std::net::SocketAddr;
use std::sync::mpsc::Sender;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub(crate) struct ServerSide {
    pub(crate) address: SocketAddr,
    pub(crate) ufrag: String,
    pub(crate) pwd: String,
    pub(crate) fingerprint: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CodecSpec {
    pub(crate) pt: u8,
    pub(crate) rtx: Option<u8>,
    pub(crate) mime: String,
    pub(crate) clock: u32,
    pub(crate) channels: Option<u8>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct StreamSpec {
    pub(crate) mid: String,
    pub(crate) kind: String,
    pub(crate) ssrc: u32,
    pub(crate) rtx: Option<u32>,
    #[serde(default)]
    pub(crate) pt: Option<u8>,
    /// Whether what a publisher sends on it counts as sent (false: a lower
    /// simulcast layer, which no subscriber is expected to receive).
    #[serde(default = "counted")]
    pub(crate) counted: bool,
    /// A rid, for str0m to tell apart the streams of one mid (simulcast);
    /// not written in the packets unless the extension map has it.
    #[serde(default)]
    pub(crate) rid: Option<String>,
}

fn counted() -> bool {
    true
}

/// A data channel the client opens in band (as `createDataChannel()` does);
/// a publisher sends `rate` messages of `size` bytes a second on it, each
/// starting with its send time and sequence number.
#[derive(Debug, Deserialize)]
pub(crate) struct DataSpec {
    pub(crate) label: String,
    #[serde(default)]
    pub(crate) rate: u32,
    #[serde(default = "default_message_size")]
    pub(crate) size: usize,
    /// Whether this side starts the SCTP association (sends INIT); by
    /// default the DTLS client does. aiortc's ICE-controlling side does.
    #[serde(default)]
    pub(crate) sctp_client: Option<bool>,
}

fn default_message_size() -> usize {
    1024
}

/// ICE credentials of the client's own (an SDP offer or answer names them).
#[derive(Debug, Deserialize)]
pub(crate) struct LocalSide {
    pub(crate) ufrag: String,
    pub(crate) pwd: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Connect {
    pub(crate) id: String,
    pub(crate) role: String,
    pub(crate) server: ServerSide,
    #[serde(default)]
    pub(crate) local: Option<LocalSide>,
    /// The client is the DTLS client (the server said `a=setup:passive`); else the DTLS server.
    #[serde(default)]
    pub(crate) dtls_client: bool,
    /// The thread (and so the socket) to use; else the next one in turn.
    #[serde(default)]
    pub(crate) thread: Option<usize>,
    #[serde(default)]
    pub(crate) extensions: Vec<(u8, String)>,
    pub(crate) codecs: Vec<CodecSpec>,
    pub(crate) streams: Vec<StreamSpec>,
    /// False when the other side is a full ICE agent that offered.
    #[serde(default)]
    pub(crate) ice_controlling: Option<bool>,
    /// A publisher sends this clip (real VP8 and Opus) instead of synthetic media.
    #[serde(default)]
    pub(crate) clip: Option<String>,
    /// A subscriber receives a clip's media (no trailer): it counts video
    /// frames by RTP timestamp and audio packets by arrival.
    #[serde(default)]
    pub(crate) frames: bool,
    /// SCTP with one data channel (the data-channel benchmark).
    #[serde(default)]
    pub(crate) data: Option<DataSpec>,
    /// A socket of its own, as a browser's peer connection has, rather
    /// than the thread's: needed where the server's transports share one
    /// address (the client is found by the server's address on its socket).
    #[serde(default)]
    pub(crate) own_socket: bool,
}

/// To a thread.
pub(crate) enum Command {
    Connect(Box<Connect>),
    Stats(Sender<Value>),
    /// Zero the counts: a window opens.
    Reset,
    Quit,
}

/// To the main thread, which writes stdout.
pub(crate) enum Message {
    Line(String),
    Out(Value),
    Eof,
}
