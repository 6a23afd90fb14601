//! What is forwarded where, one [`Router`] per room: its receivers (the
//! streams its peers publish), its senders (a stream forwarded to one
//! subscriber), the routes between them, and what happens to each packet on
//! the way: the encoding a sender forwards ([`layer_selector`]), its numbers
//! ([`rewriter`]), keyframe requests to publishers ([`keyframes`]) and the
//! SSRCs senders write ([`ssrc`]); a pipe's senders forward every encoding
//! ([`every_layer`]).
//!
//! A sans-IO state machine: packets and `Instant`s in, packets for
//! transports (through an [`RtpSink`]) and keyframe requests out. It knows
//! transports only by their [`TransportKey`], so any kind of transport can
//! publish or subscribe, and it is unit-tested with packets made up in a
//! line (`router_tests.rs`).

pub mod audio_levels;
pub mod bandwidth;
pub mod data;
pub mod every_layer;
pub mod keyframes;
pub mod layer_selector;
pub mod rewriter;
pub mod rtp_receiver;
pub mod rtp_sender;
pub mod senders;
pub mod ssrc;

use std::time::Instant;

use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::error::WorkerError;
use crate::rtp::capabilities::{MediaKind, RtpCapabilities};
use crate::rtp::codec_table::SendTables;
use crate::rtp::packet::{IncomingRtp, OutgoingRtp, ReadableExtensions, RtpContent};
use audio_levels::{AudioLevelSettings, AudioLevels};
use bandwidth::Claim;
use data::DataRouter;
use keyframes::KeyframePolicy;
use layer_selector::{LayerActivity, Layers, MAX_SPATIAL_LAYERS};
use rtp_receiver::RtpReceiver;
use rtp_sender::{RtpSender, SenderIdentity};
use senders::{Senders, Slot};
use ssrc::SsrcAllocator;

/// A transport's handle between the worker, the router and the event loop.
pub type TransportKey = u32;

/// Where forwarded packets go: the transports, as the worker holds them.
pub trait RtpSink {
    /// Whether media written to `transport` now leaves (nothing is counted
    /// or numbered for a subscriber that cannot receive yet).
    fn can_send(&self, transport: TransportKey) -> bool;
    /// Writes one forwarded packet, with the extensions of the received one
    /// that travel with it.
    fn send(&mut self, transport: TransportKey, rtp: &OutgoingRtp, extensions: ReadableExtensions);
}

/// A keyframe the publisher on `transport` is to be asked for (a PLI on
/// the stream `ssrc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyframeRequest {
    pub transport: TransportKey,
    pub ssrc: u32,
}

/// A sender to create: who it is for and which stream it forwards.
pub struct NewSender<'a> {
    pub id: &'a str,
    /// The subscribing peer and what it can receive.
    pub peer_id: &'a str,
    pub capabilities: &'a Value,
    pub receiver_id: &'a str,
    /// The payload types and extension ids its transport will write.
    pub tables: &'a SendTables,
    /// A pipe's sender: every encoding, on an SSRC each.
    pub every_layer: bool,
}

#[derive(Debug)]
pub struct Router {
    receivers: FxHashMap<String, RtpReceiver>,
    senders: Senders,
    /// Receiver id → the senders that forward it, oldest first.
    routes: FxHashMap<String, Vec<Slot>>,
    /// Transport → the senders placed on it: what a subscriber's
    /// reports, keyframe requests and bandwidth concern, without a look at
    /// every sender of the room.
    placed: FxHashMap<TransportKey, Vec<Slot>>,
    keyframes: KeyframePolicy,
    ssrcs: SsrcAllocator,
    keyframe_requests: Vec<KeyframeRequest>,
    /// Senders whose layers changed, for `layerschange`.
    layer_changes: Vec<(String, Option<Layers>)>,
    /// Simulcast receivers whose layers no sender wants changed, for `layersunused`.
    unused_changes: Vec<(String, Vec<u8>)>,
    /// Senders whose score changed, for `score`.
    score_changes: Vec<(String, u8)>,
    /// The room's data channels.
    pub data: DataRouter,
    /// Who speaks, from the audio streams' levels.
    pub audio_levels: AudioLevels,
}

impl Router {
    /// A router whose senders' SSRCs come from `ssrc_seed`.
    pub fn new(ssrc_seed: u64) -> Self {
        Self {
            receivers: FxHashMap::default(),
            senders: Senders::default(),
            routes: FxHashMap::default(),
            placed: FxHashMap::default(),
            keyframes: KeyframePolicy::default(),
            ssrcs: SsrcAllocator::new(ssrc_seed),
            keyframe_requests: Vec::new(),
            layer_changes: Vec::new(),
            unused_changes: Vec::new(),
            score_changes: Vec::new(),
            data: DataRouter::new(true),
            audio_levels: AudioLevels::new(AudioLevelSettings::default()),
        }
    }

    /// Packets lost on the way in, over its receivers.
    pub fn packets_lost(&self) -> u64 {
        self.receivers.values().map(RtpReceiver::packets_lost).sum()
    }

    /// Bits per second now: arriving at its receivers, and leaving through its senders.
    pub fn bitrates(&self, now: Instant) -> (u64, u64) {
        let incoming = self.receivers.values().map(|receiver| receiver.bitrate(now)).sum();
        let outgoing = self.senders.values().map(|sender| sender.bitrate(now)).sum();
        (incoming, outgoing)
    }

    pub fn receiver(&self, receiver_id: &str) -> Option<&RtpReceiver> {
        self.receivers.get(receiver_id)
    }

    pub fn receivers(&self) -> impl Iterator<Item = &RtpReceiver> {
        self.receivers.values()
    }

    pub fn sender(&self, sender_id: &str) -> Option<&RtpSender> {
        self.senders.get(sender_id)
    }

    /// The ids of the senders forwarding `receiver_id`, oldest first.
    pub fn routes_of(&self, receiver_id: &str) -> Vec<String> {
        self.senders.ids(self.routes.get(receiver_id).map_or(&[], Vec::as_slice))
    }

    /// An SSRC no sender of this room writes.
    pub fn allocate_ssrc(&mut self) -> u32 {
        self.allocate_ssrcs(1)[0]
    }

    /// `count` SSRCs, none of them written by a sender of this room, all different.
    fn allocate_ssrcs(&mut self, count: usize) -> Vec<u32> {
        let senders = &self.senders;
        let mut ssrcs = Vec::with_capacity(count);
        for _ in 0..count {
            let ssrc = self.ssrcs.next(|ssrc| ssrcs.contains(&ssrc) || senders.values().any(|sender| sender.writes_ssrc(ssrc)));
            ssrcs.push(ssrc);
        }
        ssrcs
    }

    /// A stream starts arriving: its packets are forwarded from now on.
    pub fn add_receiver(&mut self, receiver: RtpReceiver) -> Result<(), WorkerError> {
        if self.receivers.contains_key(&receiver.id) {
            return Err(WorkerError::invalid_state(format!("rtpReceiver {} receives already", receiver.id)));
        }
        let receiver_id = receiver.id.clone();
        self.receivers.insert(receiver_id.clone(), receiver);
        self.update_unused_layers(&receiver_id);
        Ok(())
    }

    /// `ssrc` is the layer `rid` of a receiver's stream (learnt by its transport).
    pub fn learn_layer(&mut self, receiver_id: &str, ssrc: u32, rid: String) {
        if let Some(receiver) = self.receivers.get_mut(receiver_id) {
            receiver.learn_layer(ssrc, rid);
        }
    }

    /// A stream ends, and the senders forwarding it with it (answered, for
    /// their transports to stop sending them).
    pub fn remove_receiver(&mut self, receiver_id: &str) -> Option<(RtpReceiver, Vec<RtpSender>)> {
        let receiver = self.receivers.remove(receiver_id)?;
        self.keyframes.forget(receiver_id);
        self.audio_levels.forget(receiver_id);
        let ids = self.senders.ids(&self.routes.remove(receiver_id).unwrap_or_default());
        let mut senders = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some((slot, sender)) = self.senders.remove(&id) {
                self.unplace(slot, &sender);
                senders.push(sender);
            }
        }
        Some((receiver, senders))
    }

    /// A sender of a receiver's stream for a peer, with SSRCs of its own
    /// and the mid `mid()` gives once it is accepted; `UnsupportedError` if
    /// the peer cannot decode the stream. Answers its `rtpParameters`.
    pub fn create_sender(&mut self, new: NewSender<'_>, room: &RtpCapabilities, mid: impl FnOnce() -> String) -> Result<Value, WorkerError> {
        if self.senders.contains(new.id) {
            return Err(WorkerError::value_error(format!("an rtpSender with id '{}' exists already", new.id)));
        }
        let receiver = self.receivers.get(new.receiver_id).ok_or_else(|| unknown("rtpReceiver", new.receiver_id))?;
        if receiver.peer_id == new.peer_id {
            return Err(WorkerError::value_error("a peer does not receive its own streams"));
        }
        let receiver_id = receiver.id.clone();
        let encodings = if new.every_layer { receiver.parameters.encodings.len().max(1) } else { 1 };
        let mut ssrcs = self.allocate_ssrcs(encodings + 1);
        let rtx_ssrc = ssrcs.pop().unwrap_or_default();
        let every_layer = new.every_layer.then(|| ssrcs.clone());
        let identity = SenderIdentity { id: new.id.to_owned(), peer_id: new.peer_id.to_owned(), mid: String::new(), ssrcs: (ssrcs[0], rtx_ssrc), every_layer };
        let receiver = &self.receivers[&receiver_id];
        let mut sender = RtpSender::new(identity, receiver, room, new.capabilities, new.tables)?;
        // The mid is given once the sender exists: a refused one takes none.
        sender.set_mid(mid());
        let answer = sender.parameters.clone();
        let slot = self.senders.insert(sender);
        self.routes.entry(receiver_id).or_default().push(slot);
        Ok(answer)
    }

    /// The sender as it would be on a transport with `tables`, under `mid`
    /// if given: a copy, for the transport to accept before
    /// [`Self::place_sender`] (a refusal changes nothing). The flag says
    /// whether its `rtpParameters` changed.
    pub fn sender_placed_on(
        &self,
        sender_id: &str,
        room: &RtpCapabilities,
        capabilities: &Value,
        tables: &SendTables,
        mid: Option<String>,
    ) -> Result<(RtpSender, bool), WorkerError> {
        let sender = self.senders.get(sender_id).ok_or_else(|| unknown("rtpSender", sender_id))?;
        if sender.transport_id.is_some() {
            return Err(WorkerError::invalid_state(format!("rtpSender {sender_id} has a transport already")));
        }
        let mut placed = sender.clone();
        let mut changed = placed.adopt(room, capabilities, tables)?;
        if let Some(mid) = mid {
            changed |= mid != placed.mid;
            placed.set_mid(mid);
        }
        Ok((placed, changed))
    }

    /// Installs a sender on transport `key` (its copy from
    /// [`Self::sender_placed_on`]); the subscriber starts from a keyframe.
    pub fn place_sender(&mut self, mut placed: RtpSender, transport_id: &str, key: TransportKey, now: Instant) {
        placed.transport_id = Some(transport_id.to_owned());
        placed.transport_key = Some(key);
        let receiver_id = placed.receiver_id.clone();
        let slot = self.senders.insert(placed);
        self.placed.entry(key).or_default().push(slot);
        self.request_keyframe(&receiver_id, now, true);
        self.update_unused_layers(&receiver_id);
    }

    /// `enable()`/`disable()`: a resumed subscriber decodes from a keyframe.
    pub fn set_sender_active(&mut self, sender_id: &str, active: bool, now: Instant) -> Result<(), WorkerError> {
        let sender = self.senders.get_mut(sender_id).ok_or_else(|| unknown("rtpSender", sender_id))?;
        let receiver_id = sender.receiver_id.clone();
        if active && sender.paused {
            sender.resume();
            self.request_keyframe(&receiver_id, now, true);
        } else if !active {
            sender.pause();
        }
        self.update_unused_layers(&receiver_id);
        Ok(())
    }

    /// A sender ends (answered, for its transport to stop sending it).
    pub fn remove_sender(&mut self, sender_id: &str) -> Option<RtpSender> {
        let (slot, sender) = self.senders.remove(sender_id)?;
        if let Some(senders) = self.routes.get_mut(&sender.receiver_id) {
            senders.retain(|other| *other != slot);
        }
        self.unplace(slot, &sender);
        self.update_unused_layers(&sender.receiver_id);
        Some(sender)
    }

    /// Transport `key` closed: the senders on it stay (a new transport may
    /// take them) and stop sending.
    pub fn detach_transport(&mut self, key: TransportKey) {
        let mut receivers = Vec::new();
        for slot in self.placed.remove(&key).unwrap_or_default() {
            let Some(sender) = self.senders.at_mut(slot) else { continue };
            sender.transport_id = None;
            sender.transport_key = None;
            receivers.push(sender.receiver_id.clone());
        }
        receivers.sort();
        receivers.dedup();
        for receiver_id in receivers {
            self.update_unused_layers(&receiver_id);
        }
    }

    /// A sender that ends leaves its transport's list.
    fn unplace(&mut self, slot: Slot, sender: &RtpSender) {
        let Some(key) = sender.transport_key else { return };
        if let Some(slots) = self.placed.get_mut(&key) {
            slots.retain(|other| *other != slot);
            if slots.is_empty() {
                self.placed.remove(&key);
            }
        }
    }

    /// The senders on transport `key`.
    fn placed_on(&self, key: TransportKey) -> &[Slot] {
        self.placed.get(&key).map_or(&[], Vec::as_slice)
    }

    /// The senders on transport `key` that forward (not paused).
    fn active_senders_on(&self, key: TransportKey) -> impl Iterator<Item = &RtpSender> {
        self.placed_on(key).iter().filter_map(|slot| self.senders.at(*slot)).filter(|sender| !sender.paused)
    }

    /// The ids of the senders a peer subscribes with.
    pub fn senders_of_peer(&self, peer_id: &str) -> Vec<String> {
        self.senders.values().filter(|sender| sender.peer_id == peer_id).map(|sender| sender.id.clone()).collect()
    }

    /// The ids of the receivers of streams arriving on transport `key`.
    pub fn receivers_on(&self, key: TransportKey) -> Vec<String> {
        self.receivers.values().filter(|receiver| receiver.transport_key == key).map(|receiver| receiver.id.clone()).collect()
    }

    /// A packet of `receiver_id`'s stream, which arrived with the
    /// publisher's payload type (`content`): counted, its payload and
    /// dependency descriptor read (keyframe, layers), then rewritten for every sender of it that forwards and
    /// whose transport can send, and handed to `sink`. Senders waiting to
    /// switch layers get that layer's keyframe asked for; a sender that took
    /// another source without a keyframe asks for one.
    pub fn forward(&mut self, receiver_id: &str, packet: &IncomingRtp, content: RtpContent<'_>, now: Instant, sink: &mut impl RtpSink) {
        let Some(receiver) = self.receivers.get_mut(receiver_id) else { return };
        let payload_type = content.payload_type;
        receiver.record(packet, payload_type);
        let (frame, spatial) = receiver.inspect(packet, payload_type, content.payload, content.descriptor);
        let extensions = receiver.readable;
        if let Some(level) = packet.audio_level.filter(|_| receiver.kind == MediaKind::Audio) {
            self.audio_levels.record(receiver_id, level, now);
        }
        let Some(slots) = self.routes.get(receiver_id) else { return };
        let mut replaced = false;
        // Spatial layers whose keyframe a sender waits for, as bits.
        let mut wanted: u32 = 0;
        let stream = receiver.shape(payload_type);
        for &slot in slots {
            let Some(sender) = self.senders.at_mut(slot).filter(|sender| !sender.paused) else { continue };
            let Some(transport) = sender.transport_key.filter(|key| sink.can_send(*key)) else { continue };
            let (rtp, switched) = sender.rewrite(packet, &frame, spatial, stream);
            replaced |= switched;
            if let Some(rtp) = rtp {
                sink.send(transport, &rtp, extensions);
            }
            if let Some(layer) = sender.wants_keyframe() {
                wanted |= 1 << layer;
            }
            if let Some(layers) = sender.take_layers_change(stream.activity) {
                self.layer_changes.push((sender.id.clone(), layers));
                if let Some(score) = sender.take_score_change(stream.activity, now) {
                    self.score_changes.push((sender.id.clone(), score));
                }
            }
        }
        if wanted != 0 && receiver.kind == MediaKind::Video {
            for layer in (0..MAX_SPATIAL_LAYERS as u8).filter(|layer| wanted & (1 << layer) != 0) {
                if let Some(ssrc) = receiver.layer_keyframe_request(layer, now) {
                    tracing::debug!("rtpReceiver {receiver_id}: keyframe of layer {layer} (ssrc {ssrc}) for a sender switching to it");
                    self.keyframe_requests.push(KeyframeRequest { transport: receiver.transport_key, ssrc });
                }
            }
        }
        if replaced {
            self.request_keyframe(receiver_id, now, true);
        }
    }

    /// `setPriority`: a sender's share of its transport's bandwidth (1 to
    /// 255), applied at the next sharing (within a second).
    pub fn set_priority(&mut self, sender_id: &str, priority: u8) -> Result<(), WorkerError> {
        if priority == 0 {
            return Err(WorkerError::value_error("priority must be between 1 and 255, not 0"));
        }
        self.senders.get_mut(sender_id).ok_or_else(|| unknown("rtpSender", sender_id))?.priority = priority;
        Ok(())
    }

    /// `setPreferredLayers`: the highest layers a sender forwards from now on
    /// (switching on the next keyframe or sync point that allows it).
    pub fn set_preferred_layers(&mut self, sender_id: &str, preferred: Layers) -> Result<(), WorkerError> {
        let sender = self.senders.get_mut(sender_id).ok_or_else(|| unknown("rtpSender", sender_id))?;
        sender.set_preferred_layers(preferred);
        let receiver_id = sender.receiver_id.clone();
        self.update_unused_layers(&receiver_id);
        Ok(())
    }

    /// For a simulcast receiver: the spatial layers that no sender wants
    /// (placed on a transport, not paused, preferring that layer or a
    /// higher one it would get were everything sent), reported when they
    /// change, so that the application can pause them at the publisher and
    /// resume them when a sender wants them again.
    fn update_unused_layers(&mut self, receiver_id: &str) {
        let Some(receiver) = self.receivers.get_mut(receiver_id) else { return };
        let count = receiver.parameters.encodings.len().min(MAX_SPATIAL_LAYERS) as u8;
        if count < 2 || receiver.kind != MediaKind::Video {
            return;
        }
        let mut wanted: u32 = 0;
        for &slot in self.routes.get(receiver_id).into_iter().flatten() {
            let Some(sender) = self.senders.at(slot).filter(|sender| !sender.paused && sender.transport_key.is_some()) else { continue };
            if sender.forwards_every_layer() {
                wanted = u32::MAX;
                break;
            }
            wanted |= 1 << sender.preferred_layers().spatial.min(count - 1);
        }
        let unused: Vec<u8> = (0..count).filter(|layer| wanted & (1 << layer) == 0).collect();
        if receiver.unused_layers.as_ref() != Some(&unused) {
            receiver.unused_layers = Some(unused.clone());
            self.unused_changes.push((receiver_id.to_owned(), unused));
        }
    }

    /// Transport `key`'s bandwidth estimate is `estimate` (bits per second):
    /// shared among the senders on it by priority ([`bandwidth`]), each
    /// sender's layers capped accordingly (a spatial layer switching at the
    /// next keyframe, a temporal one at the next frame that allows it). Answers
    /// what the transport should keep sending (padding what media does not
    /// fill: the next layer's worth) and the bitrate they would all take at
    /// their best (probed toward).
    pub fn share_bandwidth(&mut self, key: TransportKey, estimate: u64, now: Instant) -> (u64, u64) {
        // Shared in the order of the senders' ids: the same shares whatever order they were placed in.
        let mut slots = self.placed_on(key).to_vec();
        slots.retain(|slot| self.senders.at(*slot).is_some_and(|sender| !sender.paused));
        slots.sort_by_key(|slot| self.senders.at(*slot).map(|sender| sender.id.as_str()));
        let claims: Vec<Claim> = slots
            .iter()
            .filter_map(|slot| self.senders.at(*slot))
            .map(|sender| {
                let priority = sender.priority;
                match self.receivers.get(&sender.receiver_id) {
                    Some(receiver) if receiver.kind == MediaKind::Video => Claim {
                        layers: receiver.claimable(sender.preferred_layers(), now),
                        current: sender.current_layers(&receiver.activity),
                        priority,
                        held: sender.climb_held(now),
                    },
                    Some(receiver) => {
                        let lowest = Layers { spatial: 0, temporal: 0 };
                        Claim { layers: vec![(lowest, receiver.bitrate(now))], current: Some(lowest), priority, held: false }
                    }
                    None => Claim { layers: Vec::new(), current: None, priority, held: false },
                }
            })
            .collect();
        let shares = bandwidth::share(estimate, &claims);
        for ((slot, cap), limited) in slots.into_iter().zip(shares.caps).zip(shares.limited) {
            if let Some(sender) = self.senders.at_mut(slot) {
                sender.set_bandwidth_cap(cap, limited);
            }
        }
        (shares.next_step.min(shares.wanted), shares.wanted)
    }

    /// The subscriber on transport `key` reported the fraction of each
    /// stream it lost (by mid): the senders' scores follow.
    pub fn on_loss_reports(&mut self, key: TransportKey, losses: &[(String, Option<f32>)], now: Instant) {
        let default = LayerActivity::default();
        for &slot in self.placed.get(&key).map_or(&[][..], Vec::as_slice) {
            let Some(sender) = self.senders.at_mut(slot) else { continue };
            // A pipe's sender has an SSRC per encoding: the worst of their reports.
            let reported = losses.iter().filter(|(mid, _)| *mid == sender.mid).map(|(_, loss)| *loss);
            let Some(loss) = reported.reduce(|worst, loss| match (worst, loss) {
                (Some(worst), Some(loss)) => Some(worst.max(loss)),
                (worst, loss) => worst.or(loss),
            }) else {
                continue;
            };
            sender.fraction_lost = loss;
            let activity = self.receivers.get(&sender.receiver_id).map_or(&default, |receiver| &receiver.activity);
            if let Some(score) = sender.take_score_change(activity, now) {
                self.score_changes.push((sender.id.clone(), score));
            }
        }
    }

    /// The senders whose score changed since the last call, with their score now.
    pub fn take_score_changes(&mut self) -> Vec<(String, u8)> {
        std::mem::take(&mut self.score_changes)
    }

    /// The simulcast receivers whose unused layers changed since the last call, with those layers.
    pub fn take_unused_changes(&mut self) -> Vec<(String, Vec<u8>)> {
        std::mem::take(&mut self.unused_changes)
    }

    /// The senders whose layers changed since the last call, with their layers now.
    pub fn take_layer_changes(&mut self) -> Vec<(String, Option<Layers>)> {
        std::mem::take(&mut self.layer_changes)
    }

    /// A sender's dump, with the layers it forwards and its score.
    pub fn dump_sender(&self, sender_id: &str, now: Instant) -> Option<Value> {
        let sender = self.senders.get(sender_id)?;
        let activity = self.receivers.get(&sender.receiver_id).map(|receiver| &receiver.activity);
        Some(sender.dump(activity.unwrap_or(&LayerActivity::default()), now))
    }

}

fn unknown(kind: &str, id: &str) -> WorkerError {
    WorkerError::invalid_state(format!("no {kind} with id '{id}' in this worker"))
}

/// A router driven by tests: a fake room, publishers and a sink.
#[cfg(test)]
#[path = "room_test.rs"]
mod testing;

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "simulcast_tests.rs"]
mod simulcast_tests;

#[cfg(test)]
#[path = "svc_tests.rs"]
mod svc_tests;
