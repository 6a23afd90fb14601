//! Requests on receivers and senders, and the glue between transports and
//! a room's [`Router`](crate::router::Router): what a transport received
//! goes through the router to the transports of its subscribers, and the
//! router's keyframe requests reach the publishers' transports.

use std::time::Instant;

use rustc_hash::FxHashMap;
use serde_json::{json, Value};

use super::data::audio_notification;
use super::outbox::Outbox;
use super::{unknown, TransportKey, Worker};
use crate::channel::message::{RtpReceiverReceive, RtpSenderCreate};
use crate::error::WorkerError;
use crate::channel::{Notification, NotificationEvent};
use crate::router::rtp_receiver::RtpReceiver;
use crate::router::rtp_sender::{layers_value, RtpSender};
use crate::router::{KeyframeRequest, NewSender, Router, RtpSink};
use crate::rtp::capabilities::MediaKind;
use crate::rtp::codec_table::SendTables;
use crate::rtp::packet::{OutgoingRtp, ReadableExtensions, ReceivedRtp};
use crate::rtp::parameters::parse_receive_parameters;
use crate::transport::Transport;

impl Worker {
    /// `rtpReceiver.receive`: validates the parameters against the room and
    /// starts receiving the stream on the transport.
    pub(super) fn receive(&mut self, receive: RtpReceiverReceive, now: Instant) -> Result<Value, WorkerError> {
        if self.receiver_rooms.contains_key(&receive.receiver_id) {
            return Err(WorkerError::invalid_state(format!("rtpReceiver {} receives already", receive.receiver_id)));
        }
        let kind = MediaKind::parse(&receive.kind)
            .ok_or_else(|| WorkerError::value_error(format!("kind must be 'audio' or 'video', not '{}'", receive.kind)))?;
        let key = self.transport_key(&receive.transport_id)?;
        let peer_id = self.transport_mut(key)?.peer_id().to_owned();
        let room_id = self.peer(&peer_id)?.room_id.clone();
        let room = self.rooms.get_mut(&room_id).ok_or_else(|| unknown("room", &room_id))?;
        let mut parameters = parse_receive_parameters(&receive.rtp_parameters, kind, &room.rtp_capabilities)?;
        if room.force_unique_payload_types {
            for other in room.router.receivers() {
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
        let transport = self.transports.get_mut(&key).ok_or_else(|| WorkerError::invalid_state("the transport is closed"))?;
        let cname = match transport.cname_for_receivers().map(str::to_owned).or(given_cname) {
            Some(cname) => cname,
            None => format!("{:08x}", room.router.allocate_ssrc()),
        };
        parameters.normalised["rtcp"]["cname"] = json!(cname);
        let (mid, readable) = transport.add_receiver(&receive.receiver_id, kind, &parameters, now)?;
        transport.set_cname_for_receivers(cname);
        let answer = parameters.normalised.clone();
        tracing::debug!("rtpReceiver {} receives {} on transport {} (mid {mid})", receive.receiver_id, kind.as_str(), receive.transport_id);
        let mut receiver = RtpReceiver::new(receive.receiver_id.clone(), peer_id.clone(), (receive.transport_id, key), kind, parameters, mid);
        receiver.readable = readable;
        room.router.add_receiver(receiver)?;
        self.report_layers(&room_id);
        self.receiver_rooms.insert(receive.receiver_id.clone(), room_id);
        if let Some(peer) = self.peers.get_mut(&peer_id) {
            peer.receiver_ids.push(receive.receiver_id);
        }
        self.collect(key, now);
        Ok(answer)
    }

    /// A stream ends, with the senders forwarding it.
    pub(super) fn close_receiver(&mut self, receiver_id: &str, now: Instant) -> Option<()> {
        let room_id = self.receiver_rooms.remove(receiver_id)?;
        let (receiver, senders) = self.rooms.get_mut(&room_id)?.router.remove_receiver(receiver_id)?;
        self.ended.inbound_packets_lost += receiver.packets_lost();
        for sender in senders {
            self.sender_rooms.remove(&sender.id);
            self.stop_sending(&sender, now);
        }
        if let Some(transport) = self.transports.get_mut(&receiver.transport_key) {
            transport.remove_receiver(receiver_id, now);
            self.collect(receiver.transport_key, now);
        }
        if let Some(peer) = self.peers.get_mut(&receiver.peer_id) {
            peer.receiver_ids.retain(|id| id != receiver_id);
        }
        Some(())
    }

    pub(super) fn dump_receiver(&self, receiver_id: &str) -> Result<Value, WorkerError> {
        Ok(self.receiver(receiver_id)?.dump())
    }

    pub(super) fn receiver_stats(&self, receiver_id: &str, now: Instant) -> Result<Value, WorkerError> {
        let receiver = self.receiver(receiver_id)?;
        let transport = self.transports.get(&receiver.transport_key);
        let rtcp = |ssrc| transport.map(|t| t.ingress_counters(&receiver.mid, receiver.rid_of(ssrc))).unwrap_or_default();
        Ok(receiver.stats(now, self.millis_since_start(now), rtcp))
    }

    fn receiver(&self, receiver_id: &str) -> Result<&RtpReceiver, WorkerError> {
        self.receiver_rooms
            .get(receiver_id)
            .and_then(|room_id| self.rooms.get(room_id))
            .and_then(|room| room.router.receiver(receiver_id))
            .ok_or_else(|| unknown("rtpReceiver", receiver_id))
    }

    pub(super) fn create_sender(&mut self, create: RtpSenderCreate) -> Result<Value, WorkerError> {
        if self.sender_rooms.contains_key(&create.sender_id) {
            return Err(WorkerError::value_error(format!("an rtpSender with id '{}' exists already", create.sender_id)));
        }
        let room_id = self.receiver_rooms.get(&create.receiver_id).cloned().ok_or_else(|| unknown("rtpReceiver", &create.receiver_id))?;
        let peer = self.peers.get(&create.peer_id).ok_or_else(|| unknown("peer", &create.peer_id))?;
        if peer.room_id != room_id {
            return Err(WorkerError::value_error(format!("peer {} is in another room than rtpReceiver {}", peer.id, create.receiver_id)));
        }
        let capabilities = peer.capabilities.clone().ok_or_else(|| WorkerError::invalid_state(format!("peer {} has no capabilities yet", peer.id)))?;
        let room = self.rooms.get(&room_id).ok_or_else(|| unknown("room", &room_id))?;
        // The payload types and ids its transports write: the newest one's,
        // else the ones a transport created now would have.
        let tables = peer
            .transport_ids
            .iter()
            .rev()
            .find_map(|id| self.transport_keys.get(id).and_then(|key| self.transports.get(key)))
            .map(|transport| transport.send_tables().clone())
            .unwrap_or_else(|| SendTables::new(&room.rtp_capabilities, Some(&capabilities)));
        let new = NewSender { id: &create.sender_id, peer_id: &create.peer_id, capabilities: &capabilities, receiver_id: &create.receiver_id, tables: &tables, every_layer: create.pipe };
        let (Some(room), Some(peer)) = (self.rooms.get_mut(&room_id), self.peers.get_mut(&create.peer_id)) else {
            return Err(unknown("room", &room_id));
        };
        let answer = room.router.create_sender(new, &room.rtp_capabilities, || peer.next_sender_mid())?;
        self.sender_rooms.insert(create.sender_id, room_id);
        Ok(answer)
    }

    /// Puts a sender on one of its peer's transports, under `mid` if given
    /// (an SDP answer places it on the endpoint's section), else its own.
    /// Answers the new `rtpParameters` if the transport's payload types or
    /// header-extension ids changed them.
    pub(super) fn set_sender_transport(&mut self, sender_id: &str, transport_id: &str, mid: Option<String>, now: Instant) -> Result<Value, WorkerError> {
        let key = self.transport_key(transport_id)?;
        let room_id = self.sender_room(sender_id)?;
        let room = self.rooms.get(&room_id).ok_or_else(|| unknown("room", &room_id))?;
        let sender = room.router.sender(sender_id).ok_or_else(|| unknown("rtpSender", sender_id))?;
        let peer = self.peer(&sender.peer_id)?;
        let capabilities = peer.capabilities.as_ref().ok_or_else(|| WorkerError::internal("a sender's peer has no capabilities"))?;
        let transport = self.transports.get(&key).ok_or_else(|| unknown("transport", transport_id))?;
        if transport.peer_id() != sender.peer_id {
            return Err(WorkerError::value_error(format!("transport {transport_id} belongs to another peer")));
        }
        if matches!(transport, Transport::WebRtc(_)) && sender.forwards_every_layer() {
            return Err(WorkerError::value_error(format!("rtpSender {sender_id} sends every encoding (a pipe's): it goes on a plain or direct transport")));
        }
        let (placed, changed) = room.router.sender_placed_on(sender_id, &room.rtp_capabilities, capabilities, transport.send_tables(), mid)?;
        let transport = self.transport_mut(key)?;
        for ssrc in placed.media_ssrcs() {
            transport.add_sender(&placed.mid, placed.kind, ssrc, placed.rtx_ssrc, now)?;
        }
        self.collect(key, now);
        let answer = if changed { json!({"rtpParameters": placed.parameters}) } else { Value::Null };
        let router = &mut self.room_mut(&room_id)?.router;
        router.place_sender(placed, transport_id, key, now);
        let requests = router.take_keyframe_requests();
        self.request_keyframes(requests, now);
        self.report_layers(&room_id);
        Ok(answer)
    }

    pub(super) fn close_sender(&mut self, sender_id: &str, now: Instant) -> Option<()> {
        let room_id = self.sender_rooms.remove(sender_id)?;
        let sender = self.rooms.get_mut(&room_id)?.router.remove_sender(sender_id)?;
        self.report_layers(&room_id);
        self.stop_sending(&sender, now);
        Some(())
    }

    /// The transport a sender was on stops sending its stream.
    fn stop_sending(&mut self, sender: &RtpSender, now: Instant) {
        let Some(key) = sender.transport_key else { return };
        if let Some(transport) = self.transports.get_mut(&key) {
            for ssrc in sender.media_ssrcs() {
                transport.remove_sender(&sender.mid, ssrc, now);
            }
            self.collect(key, now);
        }
    }

    pub(super) fn dump_sender(&self, sender_id: &str, now: Instant) -> Result<Value, WorkerError> {
        let room_id = self.sender_room(sender_id)?;
        self.rooms.get(&room_id).and_then(|room| room.router.dump_sender(sender_id, now)).ok_or_else(|| unknown("rtpSender", sender_id))
    }

    pub(super) fn sender_stats(&self, sender_id: &str, now: Instant) -> Result<Value, WorkerError> {
        let room_id = self.sender_room(sender_id)?;
        let sender = self.rooms.get(&room_id).and_then(|room| room.router.sender(sender_id)).ok_or_else(|| unknown("rtpSender", sender_id))?;
        let rtcp = sender.transport_key.and_then(|key| self.transports.get(&key)).map(|transport| transport.egress_counters(&sender.mid)).unwrap_or_default();
        Ok(sender.stats(now, self.millis_since_start(now), rtcp))
    }

    pub(super) fn sender_room(&self, sender_id: &str) -> Result<String, WorkerError> {
        self.sender_rooms.get(sender_id).cloned().ok_or_else(|| unknown("rtpSender", sender_id))
    }

    /// What transport `key` received goes through its room's router to the
    /// subscribers' transports; its subscribers' keyframe requests go to
    /// the router.
    pub(super) fn forward_from(&mut self, key: TransportKey, now: Instant) {
        let Some(transport) = self.transports.get_mut(&key) else { return };
        let mut received = std::mem::take(&mut self.rtp_buffer);
        transport.drain_rtp(&mut received);
        let learnt = transport.take_learnt_layers();
        let keyframe_requests = transport.take_keyframe_requests();
        let just_connected = transport.take_just_connected();
        let estimate = transport.take_bandwidth_estimate(now);
        let losses = transport.take_loss_reports();
        let peer_id = transport.peer_id();
        let Some(room) = self.peers.get(peer_id).and_then(|peer| self.rooms.get_mut(&peer.room_id)) else {
            received.clear();
            self.rtp_buffer = received;
            return;
        };
        let router = &mut room.router;
        for (receiver_id, ssrc, rid) in learnt {
            router.learn_layer(&receiver_id, ssrc, rid);
        }
        for (receiver_id, packet) in received.drain(..) {
            let mut sink = Subscribers { transports: &mut self.transports, outbox: &mut self.outbox, packet: &packet, now };
            router.forward(&receiver_id, &packet.incoming, packet.content(), now, &mut sink);
        }
        if !losses.is_empty() {
            router.on_loss_reports(key, &losses, now);
        }
        push_layer_notifications(router, &mut self.notifications);
        self.rtp_buffer = received;
        // Audio levels heard on the way: the room's interval ends on time,
        // and what an interval ended by a packet found is reported.
        if let Some(due) = router.audio_levels.next_timeout() {
            self.audio_deadline = Some(self.audio_deadline.map_or(due, |current| current.min(due)));
        }
        for event in router.audio_levels.take_events() {
            self.notifications.push(audio_notification(&room.id, event));
        }
        for request in keyframe_requests {
            router.on_keyframe_request(key, &request.mid, request.ssrc, now);
        }
        if just_connected {
            router.on_transport_connected(key, now);
        }
        // The subscriber's bandwidth: its senders' layers, and what to probe for.
        let wanted = estimate.map(|estimate| router.share_bandwidth(key, estimate, now));
        let requests = router.take_keyframe_requests();
        if let (Some((minimum, wanted)), Some(transport)) = (wanted, self.transports.get_mut(&key)) {
            transport.want_bandwidth(minimum, wanted, now);
            self.collect(key, now);
        }
        self.request_keyframes(requests, now);
    }

    /// The keyframe requests of a room's router reach the publishers' transports.
    pub(super) fn request_keyframes(&mut self, requests: Vec<KeyframeRequest>, now: Instant) {
        let mut asked: Vec<TransportKey> = Vec::new();
        for request in requests {
            if let Some(transport) = self.transports.get_mut(&request.transport) {
                transport.request_keyframe(request.ssrc, now);
                if !asked.contains(&request.transport) {
                    asked.push(request.transport);
                }
            }
        }
        for key in asked {
            self.collect(key, now);
        }
    }
}

impl Worker {
    /// What a room's router says about layers goes to Python.
    pub(super) fn report_layers(&mut self, room_id: &str) {
        if let Some(room) = self.rooms.get_mut(room_id) {
            push_layer_notifications(&mut room.router, &mut self.notifications);
        }
    }
}

/// A router's layer changes as notifications: `rtpSender.layersChange`
/// (`{'layers'}`), `rtpReceiver.layersUnused` (`{'layers': [spatial…]}`)
/// and `rtpSender.score` (`{'score'}`).
fn push_layer_notifications(router: &mut Router, notifications: &mut Vec<Notification>) {
    for (sender_id, layers) in router.take_layer_changes() {
        notifications.push(Notification {
            event: NotificationEvent::RtpSenderLayersChange,
            target_id: Some(sender_id),
            data: json!({"layers": layers_value(layers)}),
        });
    }
    for (receiver_id, unused) in router.take_unused_changes() {
        notifications.push(Notification { event: NotificationEvent::RtpReceiverLayersUnused, target_id: Some(receiver_id), data: json!({"layers": unused}) });
    }
    for (sender_id, score) in router.take_score_changes() {
        notifications.push(Notification { event: NotificationEvent::RtpSenderScore, target_id: Some(sender_id), data: json!({"score": score}) });
    }
}

/// The transports of a packet's subscribers, as the router's [`RtpSink`]:
/// each write marks its transport for the end of the loop turn.
struct Subscribers<'a> {
    transports: &'a mut FxHashMap<TransportKey, Transport>,
    outbox: &'a mut Outbox,
    packet: &'a ReceivedRtp,
    now: Instant,
}

impl RtpSink for Subscribers<'_> {
    fn can_send(&self, transport: TransportKey) -> bool {
        self.transports.get(&transport).is_some_and(Transport::can_send_media)
    }

    fn send(&mut self, transport: TransportKey, rtp: &OutgoingRtp, extensions: ReadableExtensions) {
        if let Some(target) = self.transports.get_mut(&transport) {
            target.send_rtp(rtp, self.packet, extensions, self.now);
            self.outbox.mark_written(transport);
        }
    }
}
