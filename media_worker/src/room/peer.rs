//! A peer in the worker: a named participant of one room, its capabilities
//! and its transports.

use serde_json::{json, Value};

#[derive(Debug)]
pub struct Peer {
    pub id: String,
    pub name: String,
    pub room_id: String,
    /// What the endpoint can receive, normalised; None until set.
    pub capabilities: Option<Value>,
    /// Its transports, in creation order.
    pub transport_ids: Vec<String>,
    /// Its receivers (the streams it publishes), in creation order.
    pub receiver_ids: Vec<String>,
    /// Its data receivers (the channels it sends on, ORTC), in creation order.
    pub data_receiver_ids: Vec<String>,
    /// Whether Python listens to its messages (`datachannelmessage`).
    pub data_listener: bool,
    /// How many senders it was given: their mids are `s0`, `s1`…, unique
    /// on any of its transports.
    senders_created: u32,
}

impl Peer {
    pub fn new(id: String, name: String, room_id: String) -> Self {
        Self { id, name, room_id, capabilities: None, transport_ids: Vec::new(), receiver_ids: Vec::new(), data_receiver_ids: Vec::new(), data_listener: false, senders_created: 0 }
    }

    /// The mid of the next stream this peer receives.
    pub fn next_sender_mid(&mut self) -> String {
        self.senders_created += 1;
        format!("s{}", self.senders_created - 1)
    }

    pub fn dump(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "roomId": self.room_id,
            "capabilities": self.capabilities,
            "transportIds": self.transport_ids,
            "rtpReceiverIds": self.receiver_ids,
            "dataReceiverIds": self.data_receiver_ids,
        })
    }
}
