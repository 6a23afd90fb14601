//! Where a room's data-channel messages go. Two ways, side by side:
//!
//! - **ORTC** (mediasoup-client's and pymediasoup's `produceData` /
//!   `consumeData`): a [`DataReceiver`] is a channel a peer sends on; each
//!   [`DataSender`] delivers its messages to another peer's channel, once
//!   placed on one of that peer's transports.
//! - **The label relay** (`Room(dataChannelRelay=True)`): a transport whose
//!   endpoint opens a channel in band (`createDataChannel()`) joins it; a
//!   message on a channel labelled L reaches the channel labelled L of every
//!   other member, opened in band by this side when the member has none
//!   (the endpoint sees `ondatachannel`). Messages of DataReceivers are
//!   relayed too, so ORTC publishers reach browsers. The relay opens at
//!   most [`MAX_RELAY_OPENED`] channels on a member, so the labels others
//!   write on cannot take all of its transport's channels.
//!
//! Sans-IO: messages in, writes through a [`DataSink`] out; transports are
//! known by their [`TransportKey`], channels by the transport's [`ChannelRef`].

use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::{json, Value};

use super::TransportKey;
use crate::error::WorkerError;
use crate::sctp::{ChannelOptions, ChannelRef};

/// The channels the relay opens on one member, at most: past them a new
/// label is not relayed to it (its transport keeps room for its own
/// channels and the application's, of the 1,024 a transport holds).
pub const MAX_RELAY_OPENED: usize = 256;

/// The transports' channels, as the worker holds them.
pub trait DataSink {
    /// Sends one message; false if the transport refused it (counted dropped).
    fn send(&mut self, transport: TransportKey, channel: ChannelRef, binary: bool, data: &[u8]) -> bool;
    /// Opens a channel in band on `transport` (for the relay).
    fn open(&mut self, transport: TransportKey, options: &ChannelOptions) -> Option<ChannelRef>;
}

/// Messages and bytes through one object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DataCounters {
    pub messages: u64,
    pub bytes: u64,
    pub dropped: u64,
}

impl DataCounters {
    fn count(&mut self, data: &[u8]) {
        self.messages += 1;
        self.bytes += data.len() as u64;
    }
}

/// A channel a peer sends on (`produceData`).
#[derive(Debug)]
pub struct DataReceiver {
    pub id: String,
    pub peer_id: String,
    pub transport_id: String,
    pub transport: TransportKey,
    pub channel: ChannelRef,
    pub options: ChannelOptions,
    pub received: DataCounters,
}

/// Another peer's channel that a receiver's messages go to (`consumeData`).
#[derive(Debug)]
pub struct DataSender {
    pub id: String,
    pub peer_id: String,
    pub receiver_id: String,
    /// The receiver's options; the stream id is the one it was placed on.
    pub options: ChannelOptions,
    /// (transport id, key, channel) once placed.
    pub placed: Option<(String, TransportKey, ChannelRef)>,
    pub sent: DataCounters,
}

/// A transport in the label relay.
#[derive(Debug)]
struct Member {
    peer_id: String,
    /// Its channel for each label (the oldest, when it opened several).
    labels: FxHashMap<String, ChannelRef>,
    /// Those of its channels the relay opened.
    opened: FxHashSet<ChannelRef>,
}


#[derive(Debug, Default)]
pub struct DataRouter {
    relay: bool,
    receivers: FxHashMap<String, DataReceiver>,
    senders: FxHashMap<String, DataSender>,
    /// Receiver id → its senders, oldest first.
    routes: FxHashMap<String, Vec<String>>,
    by_channel: FxHashMap<(TransportKey, ChannelRef), String>,
    members: FxHashMap<TransportKey, Member>,
    /// The options (label, delivery) of each channel in the relay.
    relay_channels: FxHashMap<(TransportKey, ChannelRef), ChannelOptions>,
}

impl DataRouter {
    /// `relay`: `dataChannelRelay`.
    pub fn new(relay: bool) -> Self {
        Self { relay, ..Self::default() }
    }

    pub fn relay(&self) -> bool {
        self.relay
    }

    pub fn receiver(&self, id: &str) -> Option<&DataReceiver> {
        self.receivers.get(id)
    }

    pub fn sender(&self, id: &str) -> Option<&DataSender> {
        self.senders.get(id)
    }

    pub fn add_receiver(&mut self, receiver: DataReceiver) -> Result<(), WorkerError> {
        if self.receivers.contains_key(&receiver.id) {
            return Err(WorkerError::invalid_state(format!("dataReceiver {} receives already", receiver.id)));
        }
        self.by_channel.insert((receiver.transport, receiver.channel), receiver.id.clone());
        self.routes.insert(receiver.id.clone(), Vec::new());
        self.receivers.insert(receiver.id.clone(), receiver);
        Ok(())
    }

    /// Removes a receiver and its senders (returned, for their channels to close).
    pub fn remove_receiver(&mut self, id: &str) -> Option<(DataReceiver, Vec<DataSender>)> {
        let receiver = self.receivers.remove(id)?;
        self.by_channel.remove(&(receiver.transport, receiver.channel));
        let senders = self.routes.remove(id).unwrap_or_default().iter().filter_map(|sender| self.senders.remove(sender)).collect();
        Some((receiver, senders))
    }

    /// A sender of `receiver_id` for another peer, not yet placed: answers
    /// `{'label', 'protocol', 'sctpStreamParameters'}` (no `streamId` yet).
    pub fn create_sender(&mut self, id: &str, peer_id: &str, receiver_id: &str) -> Result<Value, WorkerError> {
        if self.senders.contains_key(id) {
            return Err(WorkerError::value_error(format!("a dataSender with id '{id}' exists already")));
        }
        let receiver = self
            .receivers
            .get(receiver_id)
            .ok_or_else(|| WorkerError::invalid_state(format!("no dataReceiver with id '{receiver_id}' in this room")))?;
        if receiver.peer_id == peer_id {
            return Err(WorkerError::value_error(format!("dataReceiver {receiver_id} is peer {peer_id}'s own")));
        }
        let options = receiver.options.with_stream_id(None);
        let answer = options.to_json();
        self.senders.insert(
            id.to_owned(),
            DataSender { id: id.to_owned(), peer_id: peer_id.to_owned(), receiver_id: receiver_id.to_owned(), options, placed: None, sent: DataCounters::default() },
        );
        self.routes.entry(receiver_id.to_owned()).or_default().push(id.to_owned());
        Ok(answer)
    }

    /// Places a sender on `channel` of `transport` (stream `stream_id`);
    /// answers its `sctpStreamParameters`. The channel it left is returned, to close.
    pub fn place_sender(&mut self, id: &str, transport_id: &str, transport: TransportKey, channel: ChannelRef, stream_id: u16) -> Option<(Value, Option<(TransportKey, ChannelRef)>)> {
        let sender = self.senders.get_mut(id)?;
        let left = sender.placed.take().map(|(_, key, channel)| (key, channel));
        sender.options.stream_id = Some(stream_id);
        sender.placed = Some((transport_id.to_owned(), transport, channel));
        Some((sender.options.sctp_stream_parameters(), left))
    }

    pub fn remove_sender(&mut self, id: &str) -> Option<DataSender> {
        let sender = self.senders.remove(id)?;
        if let Some(route) = self.routes.get_mut(&sender.receiver_id) {
            route.retain(|other| other != id);
        }
        Some(sender)
    }

    /// The endpoint opened a channel on `transport`: in band, the transport
    /// joins the relay (when on) with it.
    pub fn channel_opened(&mut self, transport: TransportKey, peer_id: &str, channel: ChannelRef, options: &ChannelOptions, in_band: bool) {
        if self.relay && in_band {
            let member = self.members.entry(transport).or_insert_with(|| Member { peer_id: peer_id.to_owned(), labels: FxHashMap::default(), opened: FxHashSet::default() });
            member.labels.entry(options.label.clone()).or_insert(channel);
            self.relay_channels.insert((transport, channel), options.with_stream_id(None));
        }
    }

    /// This side opened `channel` for `label` on `transport` (`sendData`):
    /// if the transport is in the relay, it is its channel for the label.
    pub fn adopt_channel(&mut self, transport: TransportKey, channel: ChannelRef, options: &ChannelOptions) {
        if let Some(member) = self.members.get_mut(&transport) {
            member.labels.entry(options.label.clone()).or_insert(channel);
            self.relay_channels.insert((transport, channel), options.with_stream_id(None));
        }
    }

    /// The data senders delivering to `peer_id`.
    pub fn senders_of_peer(&self, peer_id: &str) -> Vec<String> {
        self.senders.values().filter(|sender| sender.peer_id == peer_id).map(|sender| sender.id.clone()).collect()
    }

    /// A channel closed (either end): it leaves the relay; a sender on it
    /// is unplaced. A receiver on it stays (it closes with its transport or from Python).
    pub fn channel_closed(&mut self, transport: TransportKey, channel: ChannelRef) {
        if let Some(options) = self.relay_channels.remove(&(transport, channel)) {
            if let Some(member) = self.members.get_mut(&transport) {
                if member.labels.get(&options.label) == Some(&channel) {
                    member.labels.remove(&options.label);
                }
                member.opened.remove(&channel);
            }
        }
        for sender in self.senders.values_mut() {
            if sender.placed.as_ref().is_some_and(|(_, key, placed)| *key == transport && *placed == channel) {
                sender.placed = None;
            }
        }
    }

    /// A transport closed: it leaves the relay; its senders are unplaced;
    /// answers the receivers on it (they end with it).
    pub fn detach_transport(&mut self, transport: TransportKey) -> Vec<String> {
        self.members.remove(&transport);
        self.relay_channels.retain(|(key, _), _| *key != transport);
        for sender in self.senders.values_mut() {
            if sender.placed.as_ref().is_some_and(|(_, key, _)| *key == transport) {
                sender.placed = None;
            }
        }
        self.receivers.values().filter(|receiver| receiver.transport == transport).map(|receiver| receiver.id.clone()).collect()
    }

    /// The channel `transport` has for `label` in the relay, if any.
    pub fn relay_channel(&self, transport: TransportKey, label: &str) -> Option<ChannelRef> {
        self.members.get(&transport).and_then(|member| member.labels.get(label).copied())
    }

    /// Routes one message that arrived on `channel` of `transport`: to the
    /// senders of its receiver, and through the relay.
    pub fn route(&mut self, transport: TransportKey, channel: ChannelRef, binary: bool, data: &[u8], sink: &mut dyn DataSink) {
        let (options, peer_id) = if let Some(receiver_id) = self.by_channel.get(&(transport, channel)) {
            let Some(receiver) = self.receivers.get_mut(receiver_id) else { return };
            receiver.received.count(data);
            for sender_id in self.routes.get(receiver_id).into_iter().flatten() {
                let Some(sender) = self.senders.get_mut(sender_id) else { continue };
                let Some((_, key, placed)) = sender.placed else { continue };
                if sink.send(key, placed, binary, data) {
                    sender.sent.count(data);
                } else {
                    sender.sent.dropped += 1;
                }
            }
            (receiver.options.with_stream_id(None), receiver.peer_id.clone())
        } else if let Some(options) = self.relay_channels.get(&(transport, channel)) {
            let Some(member) = self.members.get(&transport) else { return };
            (options.clone(), member.peer_id.clone())
        } else {
            return;
        };
        if !self.relay {
            return;
        }
        let mut opened = Vec::new();
        for (key, member) in &self.members {
            if member.peer_id == peer_id {
                continue;
            }
            let target = match member.labels.get(&options.label) {
                Some(channel) => Some(*channel),
                None if member.opened.len() < MAX_RELAY_OPENED => sink.open(*key, &options).inspect(|channel| opened.push((*key, *channel))),
                None => None,
            };
            if let Some(channel) = target {
                sink.send(*key, channel, binary, data);
            }
        }
        for (key, channel) in opened {
            if let Some(member) = self.members.get_mut(&key) {
                member.labels.insert(options.label.clone(), channel);
                member.opened.insert(channel);
                self.relay_channels.insert((key, channel), options.clone());
            }
        }
    }
}

impl DataReceiver {
    pub fn dump(&self) -> Value {
        let mut dump = self.options.to_json();
        dump["id"] = json!(self.id);
        dump["peerId"] = json!(self.peer_id);
        dump["transportId"] = json!(self.transport_id);
        dump
    }

    pub fn stats(&self, now_ms: u64) -> Value {
        json!([{
            "type": "data-receiver",
            "timestamp": now_ms,
            "label": self.options.label,
            "protocol": self.options.protocol,
            "messagesReceived": self.received.messages,
            "bytesReceived": self.received.bytes,
        }])
    }
}

impl DataSender {
    pub fn dump(&self) -> Value {
        let mut dump = self.options.to_json();
        dump["id"] = json!(self.id);
        dump["peerId"] = json!(self.peer_id);
        dump["dataReceiverId"] = json!(self.receiver_id);
        dump["transportId"] = json!(self.placed.as_ref().map(|(id, _, _)| id));
        dump
    }

    pub fn stats(&self, now_ms: u64) -> Value {
        json!([{
            "type": "data-sender",
            "timestamp": now_ms,
            "label": self.options.label,
            "protocol": self.options.protocol,
            "messagesSent": self.sent.messages,
            "bytesSent": self.sent.bytes,
            "messagesDropped": self.sent.dropped,
        }])
    }
}

#[cfg(test)]
#[path = "data_tests.rs"]
mod tests;
