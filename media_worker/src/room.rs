//! A room in the worker: the codecs it forwards and its peers (and, in later
//! layers, the router between them). A room lives in exactly one worker.

use serde_json::{json, Map, Value};

use crate::error::WorkerError;
use crate::rtp_capabilities::{room_rtp_capabilities, RtpCapabilities};

#[derive(Debug)]
pub struct Room {
    pub id: String,
    pub rtp_capabilities: RtpCapabilities,
    pub force_unique_payload_types: bool,
    /// (name, peer id) of the open peers, in creation order.
    pub peers: Vec<(String, String)>,
}

impl Room {
    pub fn new(
        id: String,
        media_codecs: Option<&Value>,
        force_unique_payload_types: bool,
    ) -> Result<Self, WorkerError> {
        if id.is_empty() {
            return Err(WorkerError::value_error("a room id must not be empty"));
        }
        Ok(Self {
            id,
            rtp_capabilities: room_rtp_capabilities(media_codecs)?,
            force_unique_payload_types,
            peers: Vec::new(),
        })
    }

    pub fn peer_named(&self, name: &str) -> Option<&str> {
        self.peers.iter().find(|(peer_name, _)| peer_name == name).map(|(_, id)| id.as_str())
    }

    /// The dump, with each peer's dump (from `peer_dump`) under its name.
    pub fn dump(&self, peer_dump: impl Fn(&str) -> Value) -> Value {
        let peers: Map<String, Value> =
            self.peers.iter().map(|(name, id)| (name.clone(), peer_dump(id))).collect();
        json!({
            "id": self.id,
            "rtpCapabilities": self.rtp_capabilities,
            "forceUniquePayloadTypes": self.force_unique_payload_types,
            "peers": peers,
        })
    }
}
