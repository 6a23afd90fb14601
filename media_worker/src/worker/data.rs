//! Requests on data receivers and senders, `sendData`, and the glue between
//! transports' channels and a room's [`DataRouter`](crate::router::data::DataRouter):
//! what a channel received goes through the router to other transports'
//! channels, and to Python when it listens. The room's audio levels leave
//! from here too, as notifications.

use std::time::Instant;

use base64::Engine;
use rustc_hash::FxHashMap;
use serde_json::{json, Value};

use super::outbox::Outbox;
use super::{unknown, TransportKey, Worker};
use crate::channel::message::{DataReceiverReceive, DataSenderCreate, PeerSendData};
use crate::channel::{Notification, NotificationEvent};
use crate::error::WorkerError;
use crate::router::audio_levels::AudioEvent;
use crate::router::data::{DataReceiver, DataSink};
use crate::sctp::{name, parse_channel_options, ChannelOptions, ChannelRef};
use crate::transport::webrtc::DataEvent;
use crate::transport::Transport;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

impl Worker {
    /// `dataReceiver.receive`: the channel a peer sends on, opened out of
    /// band on the stream its client chose.
    pub(super) fn receive_data(&mut self, receive: DataReceiverReceive, now: Instant) -> Result<Value, WorkerError> {
        if self.data_receiver_rooms.contains_key(&receive.data_receiver_id) {
            return Err(WorkerError::invalid_state(format!("dataReceiver {} receives already", receive.data_receiver_id)));
        }
        let options = parse_channel_options(&receive.sctp_stream_parameters, &receive.label, &receive.protocol)?;
        let key = self.transport_key(&receive.transport_id)?;
        let peer_id = self.transport_mut(key)?.peer_id().to_owned();
        let room_id = self.peer(&peer_id)?.room_id.clone();
        if !self.rooms.contains_key(&room_id) {
            return Err(unknown("room", &room_id));
        }
        let channel = self.transport_mut(key)?.open_data_channel(options.clone(), now)?;
        let receiver = DataReceiver {
            id: receive.data_receiver_id.clone(),
            peer_id: peer_id.clone(),
            transport_id: receive.transport_id,
            transport: key,
            channel,
            options: options.clone(),
            received: Default::default(),
        };
        self.room_mut(&room_id)?.router.data.add_receiver(receiver)?;
        self.data_receiver_rooms.insert(receive.data_receiver_id.clone(), room_id);
        if let Some(peer) = self.peers.get_mut(&peer_id) {
            peer.data_receiver_ids.push(receive.data_receiver_id);
        }
        self.collect(key, now);
        Ok(options.to_json())
    }

    /// A data receiver ends, with its senders; their channels close.
    pub(super) fn close_data_receiver(&mut self, receiver_id: &str, now: Instant) -> Option<()> {
        let room_id = self.data_receiver_rooms.remove(receiver_id)?;
        let (receiver, senders) = self.rooms.get_mut(&room_id)?.router.data.remove_receiver(receiver_id)?;
        for sender in senders {
            self.data_sender_rooms.remove(&sender.id);
            if let Some((_, key, channel)) = sender.placed {
                self.close_channel(key, channel, now);
            }
        }
        self.close_channel(receiver.transport, receiver.channel, now);
        if let Some(peer) = self.peers.get_mut(&receiver.peer_id) {
            peer.data_receiver_ids.retain(|id| id != receiver_id);
        }
        Some(())
    }

    fn close_channel(&mut self, key: TransportKey, channel: ChannelRef, now: Instant) {
        if let Some(transport) = self.transports.get_mut(&key) {
            transport.close_data_channel(channel, now);
            self.collect(key, now);
        }
    }

    pub(super) fn create_data_sender(&mut self, create: DataSenderCreate) -> Result<Value, WorkerError> {
        if self.data_sender_rooms.contains_key(&create.data_sender_id) {
            return Err(WorkerError::value_error(format!("a dataSender with id '{}' exists already", create.data_sender_id)));
        }
        let room_id = self.data_receiver_room(&create.data_receiver_id)?;
        if self.peer(&create.peer_id)?.room_id != room_id {
            return Err(WorkerError::value_error(format!("peer {} is in another room than dataReceiver {}", create.peer_id, create.data_receiver_id)));
        }
        let answer = self.room_mut(&room_id)?.router.data.create_sender(&create.data_sender_id, &create.peer_id, &create.data_receiver_id)?;
        self.data_sender_rooms.insert(create.data_sender_id, room_id);
        Ok(answer)
    }

    /// Opens the sender's channel on one of its peer's transports, out of
    /// band on the lowest free stream: answers `{'sctpStreamParameters'}`.
    pub(super) fn set_data_sender_transport(&mut self, sender_id: &str, transport_id: &str, now: Instant) -> Result<Value, WorkerError> {
        let room_id = self.data_sender_room(sender_id)?;
        let key = self.transport_key(transport_id)?;
        let sender = self.rooms.get(&room_id).and_then(|room| room.router.data.sender(sender_id)).ok_or_else(|| unknown("dataSender", sender_id))?;
        let options = sender.options.clone();
        let sender_peer = sender.peer_id.clone();
        let transport = self.transport_mut(key)?;
        if transport.peer_id() != sender_peer {
            return Err(WorkerError::value_error(format!("transport {transport_id} belongs to another peer")));
        }
        let stream_id = transport
            .free_stream_id()
            .ok_or_else(|| WorkerError::invalid_state(format!("transport {transport_id} has no free SCTP stream")))?;
        let channel = transport.open_data_channel(options.with_stream_id(Some(stream_id)), now)?;
        let router = &mut self.room_mut(&room_id)?.router.data;
        let (parameters, left) = router.place_sender(sender_id, transport_id, key, channel, stream_id).ok_or_else(|| unknown("dataSender", sender_id))?;
        if let Some((left_key, left_channel)) = left {
            self.close_channel(left_key, left_channel, now);
        }
        self.collect(key, now);
        Ok(json!({"sctpStreamParameters": parameters}))
    }

    pub(super) fn close_data_sender(&mut self, sender_id: &str, now: Instant) -> Option<()> {
        let room_id = self.data_sender_rooms.remove(sender_id)?;
        let sender = self.rooms.get_mut(&room_id)?.router.data.remove_sender(sender_id)?;
        if let Some((_, key, channel)) = sender.placed {
            self.close_channel(key, channel, now);
        }
        Some(())
    }

    pub(super) fn dump_data_receiver(&self, id: &str) -> Result<Value, WorkerError> {
        let room_id = self.data_receiver_room(id)?;
        self.rooms.get(&room_id).and_then(|room| room.router.data.receiver(id)).map(DataReceiver::dump).ok_or_else(|| unknown("dataReceiver", id))
    }

    pub(super) fn data_receiver_stats(&self, id: &str, now: Instant) -> Result<Value, WorkerError> {
        let room_id = self.data_receiver_room(id)?;
        let receiver = self.rooms.get(&room_id).and_then(|room| room.router.data.receiver(id)).ok_or_else(|| unknown("dataReceiver", id))?;
        Ok(receiver.stats(self.millis_since_start(now)))
    }

    pub(super) fn dump_data_sender(&self, id: &str) -> Result<Value, WorkerError> {
        let room_id = self.data_sender_room(id)?;
        self.rooms.get(&room_id).and_then(|room| room.router.data.sender(id)).map(|sender| sender.dump()).ok_or_else(|| unknown("dataSender", id))
    }

    pub(super) fn data_sender_stats(&self, id: &str, now: Instant) -> Result<Value, WorkerError> {
        let room_id = self.data_sender_room(id)?;
        let sender = self.rooms.get(&room_id).and_then(|room| room.router.data.sender(id)).ok_or_else(|| unknown("dataSender", id))?;
        Ok(sender.stats(self.millis_since_start(now)))
    }

    fn data_receiver_room(&self, id: &str) -> Result<String, WorkerError> {
        self.data_receiver_rooms.get(id).cloned().ok_or_else(|| unknown("dataReceiver", id))
    }

    fn data_sender_room(&self, id: &str) -> Result<String, WorkerError> {
        self.data_sender_rooms.get(id).cloned().ok_or_else(|| unknown("dataSender", id))
    }

    /// `peer.sendData`: on the peer's channel with the label (its newest
    /// transport's), else on one opened in band on its newest SCTP transport.
    pub(super) fn send_data(&mut self, send: PeerSendData, now: Instant) -> Result<Value, WorkerError> {
        let label = name(&Value::String(send.label), "label")?;
        let data = if send.binary {
            BASE64.decode(send.data.as_bytes()).map_err(|err| WorkerError::value_error(format!("binary data is not base64: {err}")))?
        } else {
            send.data.into_bytes()
        };
        let peer = self.peer(&send.peer_id)?;
        let room_id = peer.room_id.clone();
        let keys: Vec<TransportKey> = peer.transport_ids.iter().rev().filter_map(|id| self.transport_keys.get(id).copied()).collect();
        let existing = keys.iter().find_map(|key| {
            let channel = self.transports.get(key)?.data_channels()?.with_label(&label)?;
            Some((*key, channel))
        });
        let (key, channel) = match existing {
            Some(found) => found,
            None => {
                let key = keys
                    .iter()
                    .copied()
                    .find(|key| self.transports.get(key).is_some_and(Transport::sctp_enabled))
                    .ok_or_else(|| WorkerError::invalid_state(format!("peer {} has no transport with enableSctp", send.peer_id)))?;
                let options = ChannelOptions::in_band(&label, "");
                let channel = self.transport_mut(key)?.open_data_channel(options.clone(), now)?;
                self.room_mut(&room_id)?.router.data.adopt_channel(key, channel, &options);
                (key, channel)
            }
        };
        let sent = self.transport_mut(key)?.send_data(channel, send.binary, &data);
        self.outbox.mark_written(key);
        sent.map_err(|refused| refused.to_error(&label))?;
        Ok(Value::Null)
    }

    /// What transport `key`'s channels did: openings join the relay,
    /// messages go through the router (and to Python when it listens).
    pub(super) fn forward_data_from(&mut self, key: TransportKey, now: Instant) {
        let Some(transport) = self.transports.get_mut(&key) else { return };
        let mut events = std::mem::take(&mut self.data_events);
        transport.take_data_events(&mut events);
        if events.is_empty() {
            self.data_events = events;
            return;
        }
        let peer_id = transport.peer_id().to_owned();
        let Some((room_id, listening)) = self.peers.get(&peer_id).map(|peer| (peer.room_id.clone(), peer.data_listener)) else {
            events.clear();
            self.data_events = events;
            return;
        };
        for event in events.drain(..) {
            let Some(room) = self.rooms.get_mut(&room_id) else { break };
            match event {
                DataEvent::Opened { channel, options, in_band } => {
                    tracing::debug!("transport {key}: the endpoint opened channel '{}' ({})", options.label, if in_band { "in band" } else { "out of band" });
                    room.router.data.channel_opened(key, &peer_id, channel, &options, in_band);
                }
                DataEvent::Message { channel, binary, data } => {
                    if listening {
                        let label = self.transports.get(&key).and_then(|t| t.data_channels()?.get(channel)).map(|c| c.options.label.clone());
                        self.notifications.push(message_notification(&peer_id, label.unwrap_or_default(), binary, &data));
                    }
                    let mut sink = DataTransports { transports: &mut self.transports, outbox: &mut self.outbox, now };
                    room.router.data.route(key, channel, binary, &data, &mut sink);
                }
                DataEvent::Closed { channel } => room.router.data.channel_closed(key, channel),
            }
        }
        self.data_events = events;
    }

    /// Ends the rooms' audio-level intervals that are due: `audiolevels`
    /// and `activespeaker` notifications.
    pub(super) fn run_audio_levels(&mut self, now: Instant) {
        if self.audio_deadline.is_none_or(|due| now < due) {
            return;
        }
        let mut next: Option<Instant> = None;
        for (room_id, room) in &mut self.rooms {
            let levels = &mut room.router.audio_levels;
            levels.handle_timeout(now);
            for event in levels.take_events() {
                self.notifications.push(audio_notification(room_id, event));
            }
            next = match (next, levels.next_timeout()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        self.audio_deadline = next;
    }
}

fn message_notification(peer_id: &str, label: String, binary: bool, data: &[u8]) -> Notification {
    // Text that is not UTF-8 reaches Python as bytes.
    let text = if binary { None } else { std::str::from_utf8(data).ok() };
    let data = match text {
        Some(text) => json!({"label": label, "data": text, "binary": false}),
        None => json!({"label": label, "data": BASE64.encode(data), "binary": true}),
    };
    Notification { event: NotificationEvent::PeerDataChannelMessage, target_id: Some(peer_id.to_owned()), data }
}

pub(super) fn audio_notification(room_id: &str, event: AudioEvent) -> Notification {
    let (event, data) = match event {
        AudioEvent::Levels(levels) => (NotificationEvent::RoomAudioLevels, json!({"levels": levels})),
        AudioEvent::ActiveSpeaker(receiver) => (NotificationEvent::RoomActiveSpeaker, json!({"rtpReceiverId": receiver})),
    };
    Notification { event, target_id: Some(room_id.to_owned()), data }
}

/// The transports' channels, as the data router's [`DataSink`]: each write
/// marks its transport for the end of the loop turn.
struct DataTransports<'a> {
    transports: &'a mut FxHashMap<TransportKey, Transport>,
    outbox: &'a mut Outbox,
    now: Instant,
}

impl DataSink for DataTransports<'_> {
    fn send(&mut self, key: TransportKey, channel: ChannelRef, binary: bool, data: &[u8]) -> bool {
        let Some(transport) = self.transports.get_mut(&key) else { return false };
        let sent = transport.send_data(channel, binary, data).is_ok();
        self.outbox.mark_written(key);
        sent
    }

    fn open(&mut self, key: TransportKey, options: &ChannelOptions) -> Option<ChannelRef> {
        let channel = self.transports.get_mut(&key)?.open_data_channel(options.clone(), self.now).ok()?;
        self.outbox.mark_written(key);
        Some(channel)
    }
}
