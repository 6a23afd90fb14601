//! An RtpSender in the worker: one receiver's stream forwarded to one other
//! peer, with its own SSRC (and RTX SSRC), the room's payload type, and
//! sequence numbers of its own, continuous from the first forwarded packet.

use serde_json::{json, Map, Value};
use str0m::rtp::RtpPacket;

use crate::error::WorkerError;
use crate::rtp_capabilities::{MediaKind, RtpCapabilities};
use crate::rtp_receiver::RtpReceiver;

#[derive(Debug)]
pub struct RtpSender {
    pub id: String,
    /// The subscribing peer.
    pub peer_id: String,
    pub receiver_id: String,
    pub kind: MediaKind,
    /// The consumer `rtpParameters` the subscriber's client is given.
    pub parameters: Value,
    pub ssrc: u32,
    pub rtx_ssrc: Option<u32>,
    pub payload_type: u8,
    /// Set by `setTransport`, with the mid the stream is declared under.
    pub transport_id: Option<String>,
    pub mid: Option<String>,
    /// (first incoming extended sequence number, first outgoing one) since
    /// the sender started or resumed.
    sequence_base: Option<(u64, u64)>,
    /// The highest outgoing sequence number sent.
    last_sequence: u64,
    /// `disable()`d: nothing is forwarded.
    pub paused: bool,
    pub packets_sent: u64,
    pub bytes_sent: u64,
}

/// A packet as the subscriber's transport writes it.
pub struct OutgoingRtp {
    pub ssrc: u32,
    pub payload_type: u8,
    pub sequence_number: u64,
    pub timestamp: u32,
    pub marker: bool,
    pub nackable: bool,
}

impl RtpSender {
    /// A sender of `receiver`'s stream for a peer with `capabilities`, or
    /// `UnsupportedError` if that peer cannot decode it.
    pub fn new(id: String, peer_id: String, receiver: &RtpReceiver, room: &RtpCapabilities, capabilities: &Value, ssrcs: (u32, u32)) -> Result<Self, WorkerError> {
        let mapping = receiver
            .parameters
            .codecs
            .first()
            .ok_or_else(|| WorkerError::internal("a receiver without codecs"))?;
        let room_codec = room
            .codecs
            .iter()
            .find(|codec| codec.preferred_payload_type == mapping.room_payload_type)
            .ok_or_else(|| WorkerError::internal("a receiver's codec is not the room's"))?;
        let peer_codecs = capabilities["codecs"].as_array().cloned().unwrap_or_default();
        let decodes = |mime: &str, clock_rate: u32| {
            peer_codecs.iter().any(|codec| {
                codec["mimeType"].as_str().is_some_and(|m| m.eq_ignore_ascii_case(mime))
                    && codec["clockRate"].as_u64() == Some(u64::from(clock_rate))
            })
        };
        if !decodes(&room_codec.mime_type, room_codec.clock_rate) {
            return Err(WorkerError::unsupported(format!(
                "peer {peer_id} cannot decode {} ({} Hz)",
                room_codec.mime_type, room_codec.clock_rate
            )));
        }
        let rtx = room
            .codecs
            .iter()
            .find(|codec| codec.mime_type == "video/rtx" && codec.parameters.get("apt") == Some(&json!(room_codec.preferred_payload_type)))
            .filter(|_| decodes("video/rtx", 90000));
        let mut codecs = vec![codec_parameters(room_codec.mime_type.as_str(), room_codec.preferred_payload_type, room_codec.clock_rate, room_codec.channels, &room_codec.parameters, json!(room_codec.rtcp_feedback))];
        if let Some(rtx) = rtx {
            codecs.push(codec_parameters("video/rtx", rtx.preferred_payload_type, rtx.clock_rate, None, &rtx.parameters, json!([])));
        }
        let (ssrc, rtx_candidate) = ssrcs;
        let rtx_ssrc = rtx.map(|_| rtx_candidate);
        let mut encoding = json!({"ssrc": ssrc});
        if let Some(rtx_ssrc) = rtx_ssrc {
            encoding["rtx"] = json!({"ssrc": rtx_ssrc});
        }
        let cname = receiver.parameters.normalised["rtcp"]["cname"].as_str().unwrap_or("mediasoup").to_owned();
        let parameters = json!({
            "codecs": codecs,
            "headerExtensions": [],
            "encodings": [encoding],
            "rtcp": {"cname": cname, "reducedSize": true},
        });
        Ok(Self {
            id,
            peer_id,
            receiver_id: receiver.id.clone(),
            kind: receiver.kind,
            parameters,
            ssrc,
            rtx_ssrc,
            payload_type: room_codec.preferred_payload_type,
            transport_id: None,
            mid: None,
            sequence_base: None,
            last_sequence: 0,
            paused: false,
            packets_sent: 0,
            bytes_sent: 0,
        })
    }

    /// How a received packet leaves this sender: its SSRC and payload type,
    /// and a sequence number continuous with what it sent before.
    pub fn rewrite(&mut self, packet: &RtpPacket) -> OutgoingRtp {
        let sequence_number = self.outgoing_sequence(*packet.seq_no);
        self.packets_sent += 1;
        self.bytes_sent += packet.payload.len() as u64;
        OutgoingRtp {
            ssrc: self.ssrc,
            payload_type: self.payload_type,
            sequence_number,
            timestamp: packet.header.timestamp,
            marker: packet.header.marker,
            // str0m resends from its buffer only where an RTX SSRC exists.
            nackable: self.rtx_ssrc.is_some(),
        }
    }

    /// The outgoing extended sequence number of an incoming one (str0m's
    /// extended numbers already span the 16-bit wrap-around). Gaps and order
    /// are kept, so the subscriber's NACKs name the packets that are missing.
    fn outgoing_sequence(&mut self, incoming: u64) -> u64 {
        let next = self.last_sequence + 1;
        let (first_in, first_out) = *self.sequence_base.get_or_insert((incoming, next));
        // Packets older than the first forwarded one (reordering) stay before it.
        let outgoing = (first_out + incoming).saturating_sub(first_in).max(first_out);
        self.last_sequence = self.last_sequence.max(outgoing);
        outgoing
    }

    /// `disable()`: stop forwarding. What is skipped leaves no gap: on
    /// resume the numbers go on from the last one sent.
    pub fn pause(&mut self) {
        self.paused = true;
        self.sequence_base = None;
    }

    pub fn resume(&mut self) {
        self.paused = false;
    }

    pub fn dump(&self) -> Value {
        json!({
            "id": self.id,
            "peerId": self.peer_id,
            "rtpReceiverId": self.receiver_id,
            "kind": self.kind.as_str(),
            "transportId": self.transport_id,
            "mid": self.mid,
            "paused": self.paused,
            "rtpParameters": self.parameters,
        })
    }

    pub fn stats(&self, now_ms: u64) -> Value {
        json!([{
            "type": "outbound-rtp",
            "timestamp": now_ms,
            "kind": self.kind.as_str(),
            "ssrc": self.ssrc,
            "payloadType": self.payload_type,
            "packetsSent": self.packets_sent,
            "bytesSent": self.bytes_sent,
        }])
    }
}

fn codec_parameters(mime_type: &str, payload_type: u8, clock_rate: u32, channels: Option<u8>, parameters: &Map<String, Value>, feedback: Value) -> Value {
    let mut codec = json!({
        "mimeType": mime_type,
        "payloadType": payload_type,
        "clockRate": clock_rate,
        "parameters": parameters,
        "rtcpFeedback": feedback,
    });
    if let Some(channels) = channels {
        codec["channels"] = json!(channels);
    }
    codec
}

#[cfg(test)]
#[path = "rtp_sender_tests.rs"]
mod tests;
