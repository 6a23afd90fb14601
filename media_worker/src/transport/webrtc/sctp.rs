//! SCTP over DTLS for data channels (str0m runs the association): the
//! parameters a transport offers, its channels, the messages that arrived
//! and a bounded queue of those to send.
//!
//! Channels are named by a [`ChannelRef`] of this transport (str0m's
//! `ChannelId` stays inside). A message to send goes straight into SCTP's
//! buffer when the channel is open and the buffer has room; otherwise it
//! waits in the transport's queue, in order, and leaves as SCTP drains.
//! Queue and buffer are bounded ([`SCTP_SEND_BUFFER`], [`MAX_QUEUED_BYTES`]):
//! past them a message is refused (the caller counts it dropped), so a slow
//! receiver never makes the worker hold more.

use std::collections::VecDeque;
use std::time::Instant;

use rustc_hash::FxHashMap;
use serde_json::{json, Value};
use str0m::channel::{ChannelConfig, ChannelId, Reliability as Str0mReliability};

use super::WebRtcTransport;
use crate::error::WorkerError;
use crate::sctp::{check_in_band_names, check_name_length, ChannelCounters, ChannelOptions, ChannelRef, Reliability, SCTP_MAX_MESSAGE_SIZE, SCTP_MAX_SEND_MESSAGE_SIZE, SCTP_PORT, SCTP_STREAMS};

/// What str0m may hold unsent per association.
pub(super) const SCTP_SEND_BUFFER: usize = 1024 * 1024;
/// What waits in the transport beyond it, all channels together.
pub const MAX_QUEUED_BYTES: usize = 4 * 1024 * 1024;
/// The endpoint's channels this side may close as over the limits
/// ([`refusal`]) before the transport ends: each close leaves str0m
/// holding the stream id until the endpoint answers the stream reset, and
/// one that never answers could otherwise make it hold every id (and walk
/// them all to open a channel of its own).
pub const MAX_REFUSED_CHANNELS: u32 = 1024;

/// What happened on a transport's channels since the last
/// [`WebRtcTransport::take_data_events`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataEvent {
    /// The endpoint opened a channel (in band, or out of band on a stream
    /// it was given): `in_band` tells a `createDataChannel()` channel.
    Opened { channel: ChannelRef, options: ChannelOptions, in_band: bool },
    Message { channel: ChannelRef, binary: bool, data: Vec<u8> },
    Closed { channel: ChannelRef },
}

/// Why a message was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendRefused {
    TooLarge,
    /// The queue is full: the receiver does not keep up.
    QueueFull,
    NoChannel,
}

impl SendRefused {
    pub fn to_error(self, label: &str) -> WorkerError {
        match self {
            Self::TooLarge => WorkerError::value_error(format!("a message sent has at most {SCTP_MAX_SEND_MESSAGE_SIZE} bytes")),
            Self::QueueFull => WorkerError::invalid_state(format!(
                "channel '{label}': {MAX_QUEUED_BYTES} bytes wait to be sent already (the endpoint does not keep up)"
            )),
            Self::NoChannel => WorkerError::invalid_state(format!("channel '{label}' is closed")),
        }
    }
}

/// One channel and its counters.
#[derive(Debug, Clone)]
pub struct DataChannel {
    id: ChannelId,
    pub options: ChannelOptions,
    /// Opened by the endpoint (else by this side).
    pub remote: bool,
    pub counters: ChannelCounters,
}

struct Queued {
    channel: ChannelRef,
    binary: bool,
    data: Vec<u8>,
}

/// The channels of a transport.
#[derive(Default)]
pub struct DataChannels {
    channels: FxHashMap<ChannelRef, DataChannel>,
    by_id: FxHashMap<ChannelId, ChannelRef>,
    next_ref: ChannelRef,
    events: Vec<DataEvent>,
    queue: VecDeque<Queued>,
    queued_bytes: usize,
    /// The endpoint's channels closed as over the limits.
    refused: u32,
    /// Channels of this side closed before they were open (the association
    /// not up yet), with the stream id they were given: str0m keeps them (it
    /// has no open stream to reset) and opens them once the association is
    /// up, when they are closed again; until then their stream id is taken.
    closed_early: FxHashMap<ChannelId, Option<u16>>,
}

impl DataChannels {
    pub fn get(&self, channel: ChannelRef) -> Option<&DataChannel> {
        self.channels.get(&channel)
    }

    /// The oldest channel called `label`.
    pub fn with_label(&self, label: &str) -> Option<ChannelRef> {
        self.channels.iter().filter(|(_, channel)| channel.options.label == label).map(|(reference, _)| *reference).min()
    }

    fn stream_taken(&self, stream_id: u16) -> bool {
        self.channels.values().any(|channel| channel.options.stream_id == Some(stream_id))
            || self.closed_early.values().any(|held| *held == Some(stream_id))
    }

    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// How many channels closed before they opened str0m still holds.
    #[cfg(test)]
    pub(super) fn closed_early(&self) -> usize {
        self.closed_early.len()
    }

    pub(super) fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    fn add(&mut self, id: ChannelId, options: ChannelOptions, remote: bool) -> ChannelRef {
        let reference = self.next_ref;
        self.next_ref += 1;
        let channel = DataChannel { id, options, remote, counters: ChannelCounters::default() };
        self.channels.insert(reference, channel);
        self.by_id.insert(id, reference);
        reference
    }
}

/// Why the worker does not keep a channel the endpoint opened: the
/// transport has [`SCTP_STREAMS`] channels already, or the channel's label
/// or protocol is longer than the API takes (a DCEP open carries up to
/// 65,535 bytes of each, which the worker would hold for every channel).
fn refusal(channels: usize, config: Option<&ChannelConfig>) -> Option<String> {
    if channels >= usize::from(SCTP_STREAMS) {
        return Some(format!("the transport has {SCTP_STREAMS} channels already"));
    }
    let config = config?;
    check_name_length(&config.label, "label").and_then(|()| check_name_length(&config.protocol, "protocol")).err().map(|error| error.message)
}

fn str0m_config(options: &ChannelOptions) -> ChannelConfig {
    ChannelConfig {
        label: options.label.clone(),
        ordered: options.ordered,
        reliability: match options.reliability {
            Reliability::Reliable => Str0mReliability::Reliable,
            Reliability::MaxPacketLifeTime(lifetime) => Str0mReliability::MaxPacketLifetime { lifetime },
            Reliability::MaxRetransmits(retransmits) => Str0mReliability::MaxRetransmits { retransmits },
        },
        negotiated: options.stream_id,
        protocol: options.protocol.clone(),
    }
}

fn options_of(config: &ChannelConfig, stream_id: Option<u16>) -> ChannelOptions {
    ChannelOptions {
        label: config.label.clone(),
        protocol: config.protocol.clone(),
        ordered: config.ordered,
        reliability: match config.reliability {
            Str0mReliability::Reliable => Reliability::Reliable,
            Str0mReliability::MaxPacketLifetime { lifetime } => Reliability::MaxPacketLifeTime(lifetime),
            Str0mReliability::MaxRetransmits { retransmits } => Reliability::MaxRetransmits(retransmits),
        },
        stream_id,
    }
}

impl WebRtcTransport {
    /// `sctpParameters`, or None without `enableSctp`.
    pub(super) fn sctp_parameters(&self) -> Value {
        if !self.sctp {
            return Value::Null;
        }
        json!({"port": SCTP_PORT, "OS": SCTP_STREAMS, "MIS": SCTP_STREAMS, "maxMessageSize": SCTP_MAX_MESSAGE_SIZE})
    }

    pub fn sctp_enabled(&self) -> bool {
        self.sctp
    }

    pub fn data_channels(&self) -> &DataChannels {
        &self.data
    }

    /// Opens a channel from this side: out of band on `options.stream_id`,
    /// else announced in band (the endpoint sees `ondatachannel`). It takes
    /// messages at once; they leave when it is open.
    pub fn open_data_channel(&mut self, options: ChannelOptions, now: Instant) -> Result<ChannelRef, WorkerError> {
        if !self.sctp {
            return Err(WorkerError::invalid_state(format!("transport {} was created without enableSctp", self.id)));
        }
        self.check_alive()?;
        if self.data.channels.len() + self.data.closed_early.len() >= usize::from(SCTP_STREAMS) {
            return Err(WorkerError::invalid_state(format!("transport {} has {SCTP_STREAMS} data channels open already", self.id)));
        }
        if let Some(stream_id) = options.stream_id {
            if stream_id >= SCTP_STREAMS {
                return Err(WorkerError::value_error(format!("streamId must be below {SCTP_STREAMS}, not {stream_id}")));
            }
            if self.stream_taken(stream_id) {
                return Err(WorkerError::value_error(format!("transport {}: SCTP stream {stream_id} is taken", self.id)));
            }
        }
        check_in_band_names(&options)?;
        let config = str0m_config(&options);
        let id = self.with_rtc(|rtc| Ok(rtc.direct_api().create_data_channel(config)))
            .map_err(|reason| WorkerError::internal(format!("the data channel could not open: {reason}")))?;
        let reference = self.data.add(id, options, false);
        self.drain(now);
        Ok(reference)
    }

    /// Whether a channel uses `stream_id` (str0m also knows the ids it gave
    /// channels opened in band, and those the endpoint opened).
    fn stream_taken(&mut self, stream_id: u16) -> bool {
        self.data.stream_taken(stream_id) || self.rtc.direct_api().channel_id_by_sctp_stream_id(stream_id).is_some()
    }

    /// The lowest stream id no channel uses: for a channel given to an ORTC
    /// client (`consumeData`), which opens it out of band.
    pub fn free_stream_id(&mut self) -> Option<u16> {
        (0..SCTP_STREAMS).find(|id| !self.stream_taken(*id))
    }

    /// Sends one message: into SCTP now, or queued behind earlier ones.
    pub fn send_data(&mut self, channel: ChannelRef, binary: bool, data: &[u8]) -> Result<(), SendRefused> {
        let Some(entry) = self.data.channels.get_mut(&channel) else { return Err(SendRefused::NoChannel) };
        if data.len() > SCTP_MAX_SEND_MESSAGE_SIZE {
            entry.counters.messages_dropped += 1;
            return Err(SendRefused::TooLarge);
        }
        if self.data.queue.is_empty() {
            let id = entry.id;
            if let Some(mut writer) = self.rtc.channel(id) {
                match writer.write(binary, data) {
                    Ok(true) => {
                        entry.counters.sent(data.len());
                        return Ok(());
                    }
                    Ok(false) => {}
                    Err(_) => {
                        entry.counters.messages_dropped += 1;
                        return Err(SendRefused::NoChannel);
                    }
                }
            }
        }
        if self.data.queued_bytes + data.len() > MAX_QUEUED_BYTES {
            entry.counters.messages_dropped += 1;
            return Err(SendRefused::QueueFull);
        }
        self.data.queued_bytes += data.len();
        self.data.queue.push_back(Queued { channel, binary, data: data.to_vec() });
        Ok(())
    }

    /// Closes a channel this side or the endpoint opened.
    pub fn close_data_channel(&mut self, channel: ChannelRef, now: Instant) {
        let Some(entry) = self.data.channels.remove(&channel) else { return };
        self.data.by_id.remove(&entry.id);
        self.drop_queued(channel);
        if self.rtc.channel(entry.id).is_none() {
            // Not open yet: str0m keeps the channel and opens it later (see `closed_early`).
            self.data.closed_early.insert(entry.id, entry.options.stream_id);
        }
        self.close_in_str0m(entry.id);
        self.drain(now);
    }

    /// Has str0m close channel `id` (the stream's reset; a panic in str0m ends the transport).
    fn close_in_str0m(&mut self, id: ChannelId) {
        let _ = self.with_rtc(|rtc| {
            rtc.direct_api().close_data_channel(id);
            Ok(())
        });
    }

    fn drop_queued(&mut self, channel: ChannelRef) {
        let before = self.data.queue.len();
        self.data.queue.retain(|queued| queued.channel != channel);
        if self.data.queue.len() != before {
            self.data.queued_bytes = self.data.queue.iter().map(|queued| queued.data.len()).sum();
        }
    }

    /// Opened channels, messages and closes since the last call, in order.
    pub fn take_data_events(&mut self, into: &mut Vec<DataEvent>) {
        into.append(&mut self.data.events);
    }

    /// Moves queued messages into SCTP while it takes them (in order: the
    /// first that does not fit stops the rest).
    pub(super) fn flush_data(&mut self) {
        while let Some(front) = self.data.queue.front() {
            let Some(entry) = self.data.channels.get_mut(&front.channel) else {
                let gone = self.data.queue.pop_front().map_or(0, |queued| queued.data.len());
                self.data.queued_bytes -= gone;
                continue;
            };
            let Some(mut writer) = self.rtc.channel(entry.id) else { break };
            match writer.write(front.binary, &front.data) {
                Ok(true) => {
                    entry.counters.sent(front.data.len());
                }
                Ok(false) => break, // no room yet
                Err(err) => {
                    // Never a message that blocks the ones behind it.
                    tracing::debug!("transport {}: a queued message was refused by SCTP: {err}", self.id);
                    entry.counters.messages_dropped += 1;
                }
            }
            self.data.queued_bytes -= front.data.len();
            self.data.queue.pop_front();
        }
    }

    pub(super) fn channel_opened(&mut self, id: ChannelId, label: String) {
        if self.data.closed_early.remove(&id).is_some() {
            // Closed before the association was up: closed now it has a stream.
            self.close_in_str0m(id);
            return;
        }
        let stream_id = self.rtc.direct_api().sctp_stream_id_by_channel_id(id);
        if let Some(channel) = self.data.by_id.get(&id).and_then(|reference| self.data.channels.get_mut(reference)) {
            // One of ours (now with its stream id), or one the endpoint opened on a stream given to it.
            channel.options.stream_id = channel.options.stream_id.or(stream_id);
            return;
        }
        let config = self.rtc.channel(id).and_then(|channel| channel.config().cloned());
        if let Some(refused) = refusal(self.data.channels.len(), config.as_ref()) {
            let shown: String = label.chars().take(80).collect();
            tracing::debug!("transport {}: the endpoint's channel '{}' is closed: {refused}", self.id, shown.escape_debug());
            self.data.refused += 1;
            if self.data.refused > MAX_REFUSED_CHANNELS {
                self.end("the endpoint opened too many channels over the limits");
                return;
            }
            self.close_in_str0m(id);
            return;
        }
        let (options, in_band) = match config {
            Some(config) => (options_of(&config, stream_id), config.negotiated.is_none()),
            None => (ChannelOptions { stream_id, ..ChannelOptions::in_band(&label, "") }, false),
        };
        let reference = self.data.add(id, options.clone(), true);
        self.data.events.push(DataEvent::Opened { channel: reference, options, in_band });
    }

    pub(super) fn channel_data(&mut self, id: ChannelId, binary: bool, data: Vec<u8>) {
        let Some(&channel) = self.data.by_id.get(&id) else { return };
        if let Some(entry) = self.data.channels.get_mut(&channel) {
            entry.counters.received(data.len());
        }
        self.data.events.push(DataEvent::Message { channel, binary, data });
    }

    pub(super) fn channel_closed(&mut self, id: ChannelId) {
        self.data.closed_early.remove(&id);
        let Some(channel) = self.data.by_id.remove(&id) else { return };
        self.data.channels.remove(&channel);
        self.drop_queued(channel);
        self.data.events.push(DataEvent::Closed { channel });
    }

    /// One `data-channel` entry per channel (W3C's names), for `getStats()`.
    pub(super) fn data_channel_stats(&self, now_ms: u64) -> Vec<Value> {
        let mut channels: Vec<_> = self.data.channels.iter().collect();
        channels.sort_by_key(|(reference, _)| **reference);
        channels
            .into_iter()
            .map(|(_, channel)| channel.counters.stats(&channel.options, now_ms))
            .collect()
    }

    /// The channels for `dump()`: label, protocol, `sctpStreamParameters`, who opened them.
    pub(super) fn data_channels_dump(&self) -> Vec<Value> {
        let mut channels: Vec<_> = self.data.channels.iter().collect();
        channels.sort_by_key(|(reference, _)| **reference);
        channels
            .into_iter()
            .map(|(_, channel)| {
                let mut entry = channel.options.to_json();
                entry["openedBy"] = json!(if channel.remote { "remote" } else { "local" });
                entry
            })
            .collect()
    }
}
