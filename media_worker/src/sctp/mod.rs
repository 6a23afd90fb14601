//! Data channels as the API and the router see them, apart from any
//! transport: a channel's options (mediasoup's `sctpStreamParameters` with
//! its label and protocol), validated here, and the limits every SCTP
//! transport offers (mediasoup's defaults).

use serde_json::{json, Map, Value};

use crate::error::WorkerError;

/// The SCTP port of `sctpParameters` (the DTLS transport carries one association).
pub const SCTP_PORT: u16 = 5000;
/// Outgoing and incoming streams (`OS`, `MIS` of `sctpParameters`): the
/// stream ids an ORTC client is given are below it, and a transport holds
/// at most this many channels, both sides' together. Past it, an
/// endpoint's new channel is closed at once and this side opens none.
/// str0m and sctp-proto enforce no count (str0m's INIT offers 65,535
/// streams, and each side takes ids of its DTLS role's parity, so channels
/// opened in band go past id 1,023 long before 1,024 channels): without
/// it, an endpoint writing on ever new labels made the relay open channels
/// on every other member without end (found by the `data_channels` fuzz
/// target).
pub const SCTP_STREAMS: u16 = 1024;
/// The largest message a channel carries, either way (`maxMessageSize`).
pub const SCTP_MAX_MESSAGE_SIZE: usize = 262_144;
/// The largest message a transport sends: str0m's direct API (which the
/// worker drives) takes no remote `max-message-size` and keeps SCTP's
/// default, 64 KiB. Larger messages are received (and reach Python) but
/// not relayed; `sendData` refuses them.
pub const SCTP_MAX_SEND_MESSAGE_SIZE: usize = 65_536;
/// The longest label or protocol (DCEP carries them with 16-bit lengths;
/// a name is not a payload).
pub const MAX_LABEL_BYTES: usize = 1024;

/// The most bytes a channel opened in band may have in its label and its
/// protocol together: str0m 0.25 writes the DCEP open announcing it into
/// 1,500 bytes, 12 of them its header, and panics past them (found by the
/// `data_channels` fuzz target). An endpoint may open channels with longer
/// names (a browser's DCEP takes up to 65,535 bytes each); the label relay
/// does not open those on the other members.
pub const MAX_IN_BAND_NAMES_BYTES: usize = 1_488;

/// Whether a channel with `options` can be opened in band (see [`MAX_IN_BAND_NAMES_BYTES`]).
pub fn check_in_band_names(options: &ChannelOptions) -> Result<(), WorkerError> {
    let bytes = options.label.len() + options.protocol.len();
    if options.stream_id.is_none() && bytes > MAX_IN_BAND_NAMES_BYTES {
        return Err(WorkerError::value_error(format!(
            "a channel opened in band has at most {MAX_IN_BAND_NAMES_BYTES} bytes of label and protocol together, not {bytes}"
        )));
    }
    Ok(())
}

/// A data channel of one transport (transports number their own).
pub type ChannelRef = u32;

/// When a message may be given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reliability {
    Reliable,
    /// Retransmitted for at most this many milliseconds.
    MaxPacketLifeTime(u16),
    /// Retransmitted at most this many times.
    MaxRetransmits(u16),
}

/// A data channel: how it delivers and what it is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelOptions {
    pub label: String,
    pub protocol: String,
    pub ordered: bool,
    pub reliability: Reliability,
    /// The SCTP stream id both ends agreed on out of band (ORTC clients);
    /// None for a channel announced in band (DCEP, as `createDataChannel()` does).
    pub stream_id: Option<u16>,
}

impl ChannelOptions {
    /// A reliable, ordered channel announced in band.
    pub fn in_band(label: &str, protocol: &str) -> Self {
        Self { label: label.to_owned(), protocol: protocol.to_owned(), ordered: true, reliability: Reliability::Reliable, stream_id: None }
    }

    /// The same delivery under another stream id (or in band).
    pub fn with_stream_id(&self, stream_id: Option<u16>) -> Self {
        Self { stream_id, ..self.clone() }
    }

    /// mediasoup's `sctpStreamParameters`: `streamId` (when known),
    /// `ordered`, and `maxPacketLifeTime` or `maxRetransmits` when partially reliable.
    pub fn sctp_stream_parameters(&self) -> Value {
        let mut parameters = Map::new();
        if let Some(stream_id) = self.stream_id {
            parameters.insert("streamId".into(), json!(stream_id));
        }
        parameters.insert("ordered".into(), json!(self.ordered));
        match self.reliability {
            Reliability::Reliable => {}
            Reliability::MaxPacketLifeTime(ms) => {
                parameters.insert("maxPacketLifeTime".into(), json!(ms));
            }
            Reliability::MaxRetransmits(count) => {
                parameters.insert("maxRetransmits".into(), json!(count));
            }
        }
        Value::Object(parameters)
    }

    /// `{'label', 'protocol', 'sctpStreamParameters'}`: what `consumeData` takes.
    pub fn to_json(&self) -> Value {
        json!({"label": self.label, "protocol": self.protocol, "sctpStreamParameters": self.sctp_stream_parameters()})
    }
}

/// The messages each way through a channel, and those not sent, on any
/// kind of transport.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ChannelCounters {
    pub messages_sent: u64,
    pub bytes_sent: u64,
    pub messages_received: u64,
    pub bytes_received: u64,
    /// Not sent: too large, or the queue was full.
    pub messages_dropped: u64,
}

impl ChannelCounters {
    pub fn sent(&mut self, len: usize) {
        self.messages_sent += 1;
        self.bytes_sent += len as u64;
    }

    pub fn received(&mut self, len: usize) {
        self.messages_received += 1;
        self.bytes_received += len as u64;
    }

    /// A channel's `data-channel` entry of `getStats()` (W3C's names).
    pub fn stats(&self, options: &ChannelOptions, now_ms: u64) -> Value {
        json!({
            "type": "data-channel",
            "timestamp": now_ms,
            "label": options.label,
            "protocol": options.protocol,
            "dataChannelIdentifier": options.stream_id,
            "messagesSent": self.messages_sent,
            "bytesSent": self.bytes_sent,
            "messagesReceived": self.messages_received,
            "bytesReceived": self.bytes_received,
            "messagesDropped": self.messages_dropped,
        })
    }
}

/// Reads what a client's `produceData` hands over: `sctpStreamParameters`
/// (`streamId` required, below [`SCTP_STREAMS`]; `ordered`, default true
/// unless partially reliable; at most one of `maxPacketLifeTime` and
/// `maxRetransmits`), `label` and `protocol` (default '').
pub fn parse_channel_options(sctp_stream_parameters: &Value, label: &Value, protocol: &Value) -> Result<ChannelOptions, WorkerError> {
    let parameters = sctp_stream_parameters
        .as_object()
        .ok_or_else(|| WorkerError::type_error("sctpStreamParameters must be a dict"))?;
    let stream_id = match parameters.get("streamId") {
        Some(Value::Number(number)) => number
            .as_u64()
            .filter(|id| *id < u64::from(SCTP_STREAMS))
            .ok_or_else(|| WorkerError::value_error(format!("sctpStreamParameters.streamId must be an int in 0..{}, not {number}", SCTP_STREAMS - 1)))?
            as u16,
        Some(other) => return Err(WorkerError::type_error(format!("sctpStreamParameters.streamId must be an int, not {other}"))),
        None => return Err(WorkerError::value_error("sctpStreamParameters needs a streamId")),
    };
    let limit = |key: &str| -> Result<Option<u16>, WorkerError> {
        match parameters.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => number
                .as_u64()
                .and_then(|value| u16::try_from(value).ok())
                .map(Some)
                .ok_or_else(|| WorkerError::value_error(format!("sctpStreamParameters.{key} must be an int in 0..65535, not {number}"))),
            Some(other) => Err(WorkerError::type_error(format!("sctpStreamParameters.{key} must be an int, not {other}"))),
        }
    };
    let reliability = match (limit("maxPacketLifeTime")?, limit("maxRetransmits")?) {
        (Some(_), Some(_)) => {
            return Err(WorkerError::value_error("sctpStreamParameters takes maxPacketLifeTime or maxRetransmits, not both"))
        }
        (Some(ms), None) => Reliability::MaxPacketLifeTime(ms),
        (None, Some(count)) => Reliability::MaxRetransmits(count),
        (None, None) => Reliability::Reliable,
    };
    let ordered = match parameters.get("ordered") {
        None | Some(Value::Null) => reliability == Reliability::Reliable,
        Some(Value::Bool(ordered)) => *ordered,
        Some(other) => return Err(WorkerError::type_error(format!("sctpStreamParameters.ordered must be a bool, not {other}"))),
    };
    Ok(ChannelOptions { label: name(label, "label")?, protocol: name(protocol, "protocol")?, ordered, reliability, stream_id: Some(stream_id) })
}

/// A label or protocol: a str of at most [`MAX_LABEL_BYTES`] bytes ('' when absent).
pub fn name(value: &Value, what: &str) -> Result<String, WorkerError> {
    match value {
        Value::Null => Ok(String::new()),
        Value::String(text) => check_name_length(text, what).map(|()| text.clone()),
        other => Err(WorkerError::type_error(format!("{what} must be a str, not {other}"))),
    }
}

/// A label or protocol has at most [`MAX_LABEL_BYTES`] bytes, from the API or an endpoint.
pub fn check_name_length(text: &str, what: &str) -> Result<(), WorkerError> {
    if text.len() > MAX_LABEL_BYTES {
        return Err(WorkerError::value_error(format!("a {what} has at most {MAX_LABEL_BYTES} bytes, not {}", text.len())));
    }
    Ok(())
}

#[cfg(test)]
#[path = "sctp_tests.rs"]
mod tests;
