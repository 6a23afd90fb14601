//! A room in the worker: the codecs it forwards, its peers (in [`peer`],
//! with what each can receive in [`peer_capabilities`]) and the [`Router`]
//! between them. A room lives in exactly one worker.

pub mod peer;
pub mod peer_capabilities;

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::channel::message::RoomCreate;

use crate::error::WorkerError;
use crate::router::audio_levels::{AudioLevelSettings, AudioLevels};
use crate::router::data::DataRouter;
use crate::router::Router;
use crate::rtp::capabilities::{room_rtp_capabilities, RtpCapabilities};

/// The bounds of `audioLevelInterval` (ms).
pub const MIN_AUDIO_LEVEL_INTERVAL_MS: u64 = 100;
pub const MAX_AUDIO_LEVEL_INTERVAL_MS: u64 = 60_000;

#[derive(Debug)]
pub struct Room {
    pub id: String,
    pub rtp_capabilities: RtpCapabilities,
    pub force_unique_payload_types: bool,
    /// Its WebRTC transports estimate the bandwidth toward their endpoints.
    pub bandwidth_estimation: bool,
    /// (name, peer id) of the open peers, in creation order.
    pub peers: Vec<(String, String)>,
    pub router: Router,
}

impl Room {
    /// A room; its senders' SSRCs come from `ssrc_seed`.
    pub fn new(create: &RoomCreate, ssrc_seed: u64) -> Result<Self, WorkerError> {
        if create.room_id.is_empty() {
            return Err(WorkerError::value_error("a room id must not be empty"));
        }
        if !(MIN_AUDIO_LEVEL_INTERVAL_MS..=MAX_AUDIO_LEVEL_INTERVAL_MS).contains(&create.audio_level_interval) {
            return Err(WorkerError::value_error(format!(
                "audioLevelInterval is in milliseconds, {MIN_AUDIO_LEVEL_INTERVAL_MS} to {MAX_AUDIO_LEVEL_INTERVAL_MS}, not {}",
                create.audio_level_interval
            )));
        }
        let threshold = i8::try_from(create.audio_level_threshold).ok().filter(|dbov| (-127..=0).contains(dbov)).ok_or_else(|| {
            WorkerError::value_error(format!("audioLevelThreshold is in dBov, -127 to 0, not {}", create.audio_level_threshold))
        })?;
        let mut router = Router::new(ssrc_seed);
        router.data = DataRouter::new(create.data_channel_relay);
        router.audio_levels = AudioLevels::new(AudioLevelSettings { interval: Duration::from_millis(create.audio_level_interval), threshold });
        Ok(Self {
            id: create.room_id.clone(),
            rtp_capabilities: room_rtp_capabilities(create.media_codecs.as_ref())?,
            force_unique_payload_types: create.force_unique_payload_types,
            bandwidth_estimation: create.bandwidth_estimation,
            peers: Vec::new(),
            router,
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
            "dataChannelRelay": self.router.data.relay(),
            "audioLevelInterval": self.router.audio_levels.settings().interval.as_millis() as u64,
            "audioLevelThreshold": self.router.audio_levels.settings().threshold,
            "bandwidthEstimation": self.bandwidth_estimation,
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
