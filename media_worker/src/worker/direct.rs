//! Direct transports and the media path: creating one, the frames Python
//! wrote (packets for its receivers, forwarded like any others, and its
//! data receivers' messages), the frames for Python (its senders' packets,
//! its receivers' keyframe requests, its data senders' messages),
//! handed to the event loop a budget at a time and fairly between
//! transports, and the keyframe requests Python makes for its senders.

use std::time::Instant;

use serde_json::{json, Value};

use super::{unknown, Worker};
use crate::channel::media::{direct_queue_limit, FrameKind};
use crate::channel::message::DirectTransportCreate;
use crate::error::WorkerError;
use crate::rtp::codec_table::SendTables;
use crate::transport::direct::DirectTransport;
use crate::transport::Transport;

impl Worker {
    /// `peer.createDirectTransport`: answers `{'handle'}`.
    pub(super) fn create_direct_transport(&mut self, create: DirectTransportCreate) -> Result<Value, WorkerError> {
        if !self.media_path {
            return Err(WorkerError::unsupported("this worker was started without a media path: direct transports need one"));
        }
        self.check_transport_id_free(&create.transport_id)?;
        let peer = self.peers.get(&create.peer_id).ok_or_else(|| unknown("peer", &create.peer_id))?;
        let room = self.rooms.get(&peer.room_id).ok_or_else(|| unknown("peer", &create.peer_id))?;
        let tables = SendTables::new(&room.rtp_capabilities, peer.capabilities.as_ref());
        let key = self.take_transport_key();
        let transport = DirectTransport::new(create.transport_id.clone(), create.peer_id.clone(), key, tables);
        self.register_transport(key, create.transport_id, &create.peer_id, Transport::Direct(transport));
        self.direct_keys.push(key);
        self.share_direct_queues();
        Ok(json!({ "handle": key }))
    }

    /// Each direct transport's queue for Python holds its share of what the
    /// worker allows them all ([`direct_queue_limit`]).
    pub(super) fn share_direct_queues(&mut self) {
        let limit = direct_queue_limit(self.direct_keys.len());
        for key in &self.direct_keys {
            if let Some(transport) = self.transports.get_mut(key).and_then(Transport::as_direct_mut) {
                transport.set_queue_limit(limit);
            }
        }
    }

    /// Bytes Python wrote on the media path: the packets of whole frames go
    /// to their transports, and what those received is forwarded.
    pub fn handle_media(&mut self, bytes: &[u8], now: Instant) {
        self.media_reader.push(bytes);
        let mut touched = Vec::new();
        while let Some(frame) = self.media_reader.next_frame() {
            let frame = match frame {
                Ok(frame) => frame,
                Err(reason) => {
                    tracing::warn!("media path: {reason}");
                    continue;
                }
            };
            let transport = self.transports.get_mut(&frame.transport).and_then(Transport::as_direct_mut);
            match (frame.kind, transport) {
                (FrameKind::Rtp, Some(transport)) => {
                    transport.receive_rtp(frame.payload, now);
                    if !touched.contains(&frame.transport) {
                        touched.push(frame.transport);
                    }
                }
                (FrameKind::Data, Some(transport)) => {
                    transport.receive_data(frame.ssrc, frame.payload);
                    if !touched.contains(&frame.transport) {
                        touched.push(frame.transport);
                    }
                }
                // A transport closed while its frames were on the way.
                (FrameKind::Rtp | FrameKind::Data, None) => {}
                (kind, _) => tracing::warn!("media path: Python sent a {kind:?} frame, which only the worker sends"),
            }
        }
        for key in touched {
            self.collect(key, now);
        }
    }

    /// Moves frames for Python to `out`, about `budget` bytes, a transport
    /// at a time from where the last call stopped (one that queues much
    /// does not starve the others); answers whether some are left.
    pub fn take_media(&mut self, out: &mut Vec<u8>, mut budget: usize) -> bool {
        let count = self.direct_keys.len();
        for _ in 0..count {
            if budget == 0 {
                break;
            }
            self.media_cursor = (self.media_cursor + 1) % count;
            let key = self.direct_keys[self.media_cursor];
            if let Some(transport) = self.transports.get_mut(&key).and_then(Transport::as_direct_mut) {
                budget = budget.saturating_sub(transport.take_media(out, budget));
            }
        }
        self.has_media()
    }

    /// Whether frames for Python wait.
    pub fn has_media(&self) -> bool {
        self.direct_keys.iter().any(|key| {
            matches!(self.transports.get(key), Some(Transport::Direct(transport)) if transport.has_media())
        })
    }

    /// `rtpSender.requestKeyFrame`: the publisher of the sender's stream is asked.
    pub(super) fn request_sender_keyframe(&mut self, sender_id: &str, now: Instant) -> Result<Value, WorkerError> {
        let room_id = self.sender_room(sender_id)?;
        let router = &mut self.room_mut(&room_id)?.router;
        let sender = router.sender(sender_id).ok_or_else(|| unknown("rtpSender", sender_id))?;
        let (Some(key), mid) = (sender.transport_key, sender.mid.clone()) else {
            return Err(WorkerError::invalid_state(format!("rtpSender {sender_id} has no transport yet")));
        };
        router.on_keyframe_request(key, &mid, None, now);
        let requests = router.take_keyframe_requests();
        self.request_keyframes(requests, now);
        Ok(Value::Null)
    }
}
