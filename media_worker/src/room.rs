//! A room in the worker: the codecs it forwards and, in later layers, its
//! peers and the router between them. A room lives in exactly one worker.

use serde_json::{json, Value};

use crate::error::WorkerError;
use crate::rtp_capabilities::{room_rtp_capabilities, RtpCapabilities};

#[derive(Debug)]
pub struct Room {
    pub id: String,
    pub rtp_capabilities: RtpCapabilities,
    pub force_unique_payload_types: bool,
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
        })
    }

    pub fn dump(&self) -> Value {
        json!({
            "id": self.id,
            "rtpCapabilities": self.rtp_capabilities,
            "forceUniquePayloadTypes": self.force_unique_payload_types,
            "peers": {},
        })
    }
}
