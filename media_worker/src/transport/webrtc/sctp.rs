//! SCTP over DTLS for data channels: the parameters a transport offers
//! (mediasoup's defaults). str0m runs the association.

use serde_json::{json, Value};

use super::WebRtcTransport;

/// The SCTP parameters a transport offers (mediasoup's defaults).
const SCTP_PORT: u16 = 5000;
const SCTP_STREAMS: u16 = 1024;
const SCTP_MAX_MESSAGE_SIZE: u32 = 262_144;

impl WebRtcTransport {
    /// `sctpParameters`, or None without `enableSctp`.
    pub(super) fn sctp_parameters(&self) -> Value {
        if !self.sctp {
            return Value::Null;
        }
        json!({"port": SCTP_PORT, "OS": SCTP_STREAMS, "MIS": SCTP_STREAMS, "maxMessageSize": SCTP_MAX_MESSAGE_SIZE})
    }
}

