//! Requests on rooms and peers, and what closing one takes with it: a
//! room's peers; a peer's subscriptions and transports.

use std::time::Instant;

use serde_json::{json, Value};

use super::{unknown, Network, Worker};
use crate::channel::message::{PeerCreate, RoomCreate};
use crate::error::WorkerError;
use crate::room::peer::Peer;
use crate::room::{Room, DUMP_PAGE_BYTES, MAX_PEER_NAME_CHARS};

impl Worker {
    pub(super) fn create_room(&mut self, create: RoomCreate) -> Result<Value, WorkerError> {
        if self.rooms.contains_key(&create.room_id) {
            return Err(WorkerError::value_error(format!("a room with id '{}' exists already", create.room_id)));
        }
        // Each room's SSRCs from a seed of their own.
        let seed = self.ssrc_seed ^ (self.room_order.len() as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let room = Room::new(&create, seed)?;
        tracing::debug!("room {} created", room.id);
        let answer = json!({ "rtpCapabilities": room.rtp_capabilities });
        self.room_order.push(room.id.clone());
        self.rooms.insert(room.id.clone(), room);
        Ok(answer)
    }

    pub(super) fn close_room(&mut self, room_id: &str, now: Instant, network: &mut dyn Network) -> Result<Value, WorkerError> {
        let peers = self.rooms.get(room_id).ok_or_else(|| unknown("room", room_id))?.peers.clone();
        for (_, peer_id) in peers {
            self.remove_peer(&peer_id, now, network);
        }
        self.rooms.remove(room_id);
        self.room_order.retain(|id| id != room_id);
        tracing::debug!("room {room_id} closed");
        Ok(Value::Null)
    }

    /// One page of a room's dump (see [`Room::dump_page`]): each peer, and
    /// each stream it publishes with the senders that forward it.
    pub(super) fn dump_room(&self, room_id: &str, from_peer: usize) -> Result<Value, WorkerError> {
        let room = self.rooms.get(room_id).ok_or_else(|| unknown("room", room_id))?;
        Ok(room.dump_page(from_peer, DUMP_PAGE_BYTES, |peer_id| {
            let Some(peer) = self.peers.get(peer_id) else { return (Value::Null, serde_json::Map::new()) };
            let routes = peer.receiver_ids.iter().map(|id| (id.clone(), json!(room.router.routes_of(id)))).collect();
            (peer.dump(), routes)
        }))
    }

    pub(super) fn create_peer(&mut self, create: PeerCreate) -> Result<Value, WorkerError> {
        if create.name.is_empty() {
            return Err(WorkerError::value_error("a peer name must not be empty"));
        }
        let chars = create.name.chars().count();
        if chars > MAX_PEER_NAME_CHARS {
            return Err(WorkerError::value_error(format!(
                "a peer name has at most {MAX_PEER_NAME_CHARS} characters, not {chars}"
            )));
        }
        if self.peers.contains_key(&create.peer_id) {
            return Err(WorkerError::value_error(format!("a peer with id '{}' exists already", create.peer_id)));
        }
        let room = self.rooms.get_mut(&create.room_id).ok_or_else(|| unknown("room", &create.room_id))?;
        if room.peer_named(&create.name).is_some() {
            return Err(WorkerError::value_error(format!(
                "room {} has an open peer named '{}' already",
                room.id, create.name
            )));
        }
        room.peers.push((create.name.clone(), create.peer_id.clone()));
        let peer = Peer::new(create.peer_id, create.name, create.room_id);
        tracing::debug!("peer {} ({}) joined room {}", peer.id, peer.name, peer.room_id);
        self.peers.insert(peer.id.clone(), peer);
        Ok(Value::Null)
    }

    pub(super) fn close_peer(&mut self, peer_id: &str, now: Instant, network: &mut dyn Network) -> Result<Value, WorkerError> {
        let room_id = self.peer(peer_id)?.room_id.clone();
        if let Some(room) = self.rooms.get_mut(&room_id) {
            room.peers.retain(|(_, id)| id != peer_id);
        }
        self.remove_peer(peer_id, now, network);
        Ok(Value::Null)
    }

    /// A peer leaves: its subscriptions end, then its transports (and the
    /// streams they received).
    fn remove_peer(&mut self, peer_id: &str, now: Instant, network: &mut dyn Network) {
        let Some(room_id) = self.peers.get(peer_id).map(|peer| peer.room_id.clone()) else { return };
        let subscribed = self.rooms.get(&room_id).map(|room| room.router.senders_of_peer(peer_id)).unwrap_or_default();
        for sender_id in subscribed {
            self.close_sender(&sender_id, now);
        }
        let data_senders = self.rooms.get(&room_id).map(|room| room.router.data.senders_of_peer(peer_id)).unwrap_or_default();
        for sender_id in data_senders {
            self.close_data_sender(&sender_id, now);
        }
        // Its transports close while it is still known: closing one finds
        // the room whose router holds what it received through the peer.
        let transport_ids = self.peers.get(peer_id).map(|peer| peer.transport_ids.clone()).unwrap_or_default();
        for transport_id in transport_ids {
            if let Some(key) = self.transport_keys.get(&transport_id).copied() {
                self.remove_transport(key, now, network);
            }
        }
        self.peers.remove(peer_id);
    }
}
