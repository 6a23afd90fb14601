//! A room in the worker: the codecs it forwards, its peers (in [`peer`],
//! with what each can receive in [`peer_capabilities`]) and the [`Router`]
//! between them. A room lives in exactly one worker.

pub mod peer;
pub mod peer_capabilities;

use serde_json::{json, Map, Value};

use crate::error::WorkerError;
use crate::router::Router;
use crate::rtp::capabilities::{room_rtp_capabilities, RtpCapabilities};

#[derive(Debug)]
pub struct Room {
    pub id: String,
    pub rtp_capabilities: RtpCapabilities,
    pub force_unique_payload_types: bool,
    /// (name, peer id) of the open peers, in creation order.
    pub peers: Vec<(String, String)>,
    pub router: Router,
}

impl Room {
    /// A room; its senders' SSRCs come from `ssrc_seed`.
    pub fn new(
        id: String,
        media_codecs: Option<&Value>,
        force_unique_payload_types: bool,
        ssrc_seed: u64,
    ) -> Result<Self, WorkerError> {
        if id.is_empty() {
            return Err(WorkerError::value_error("a room id must not be empty"));
        }
        Ok(Self {
            id,
            rtp_capabilities: room_rtp_capabilities(media_codecs)?,
            force_unique_payload_types,
            peers: Vec::new(),
            router: Router::new(ssrc_seed),
        })
    }

    pub fn peer_named(&self, name: &str) -> Option<&str> {
        self.peers.iter().find(|(peer_name, _)| peer_name == name).map(|(_, id)| id.as_str())
    }

    /// One page of the dump: the peers from `from_peer` on (in joining
    /// order) under their names, until `page_bytes` are filled (at
    /// least one), and their streams' routes; `nextPeer` is where the next
    /// page starts, or None. `peer_entry(peer id)` gives a peer's dump and
    /// the routes of the streams it publishes.
    pub fn dump_page(
        &self,
        from_peer: usize,
        page_bytes: usize,
        peer_entry: impl Fn(&str) -> (Value, Map<String, Value>),
    ) -> Value {
        let mut peers = Map::new();
        let mut receivers = Map::new();
        let mut bytes = 0;
        let mut next_peer = None;
        for (index, (name, id)) in self.peers.iter().enumerate().skip(from_peer) {
            if bytes >= page_bytes {
                next_peer = Some(index);
                break;
            }
            let (dump, routes) = peer_entry(id);
            bytes += name.len() + json_len(&dump) + routes.iter().map(|(id, route)| id.len() + json_len(route)).sum::<usize>();
            peers.insert(name.clone(), dump);
            receivers.extend(routes);
        }
        json!({
            "id": self.id,
            "rtpCapabilities": self.rtp_capabilities,
            "forceUniquePayloadTypes": self.force_unique_payload_types,
            "peers": peers,
            "rtpReceivers": receivers,
            "nextPeer": next_peer,
        })
    }
}

/// How many bytes of peers one page of a room's dump holds: a quarter of the
/// Channel's frame limit, so a page always fits (`room.dump()` in Python
/// joins the pages of a big room).
pub const DUMP_PAGE_BYTES: usize = crate::channel::MAX_FRAME_LEN / 4;

/// A peer name's longest length in characters: a display name or a user id,
/// not a payload (every dump and log line carries it).
pub const MAX_PEER_NAME_CHARS: usize = 256;

fn json_len(value: &Value) -> usize {
    serde_json::to_vec(value).map(|bytes| bytes.len()).unwrap_or(0)
}

#[cfg(test)]
#[path = "room_tests.rs"]
mod tests;
