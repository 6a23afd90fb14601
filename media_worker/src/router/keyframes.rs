//! When a publisher is asked for a keyframe. Subscribers' PLIs and FIRs are
//! relayed at most once per [`KEYFRAME_REQUEST_INTERVAL`] per stream (a
//! storm of them from a large audience would make the publisher send
//! nothing but keyframes); a subscriber that starts, resumes or changes
//! source always gets one at once (`forced`). The router's requests, from
//! subscribers' transports to publishers' ([`KeyframeRequest`]), are made here.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{KeyframeRequest, Router, TransportKey};
use crate::rtp::capabilities::MediaKind;

/// At most one relayed keyframe request per stream in this interval.
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(500);

#[derive(Debug, Default)]
pub struct KeyframePolicy {
    /// When each receiver was last asked.
    requested_at: HashMap<String, Instant>,
}

impl KeyframePolicy {
    /// Whether `receiver_id` is asked now; if so, it was.
    pub fn allow(&mut self, receiver_id: &str, now: Instant, forced: bool) -> bool {
        let recent = self.requested_at.get(receiver_id).is_some_and(|last| now.saturating_duration_since(*last) < KEYFRAME_REQUEST_INTERVAL);
        if recent && !forced {
            return false;
        }
        self.requested_at.insert(receiver_id.to_owned(), now);
        true
    }

    pub fn forget(&mut self, receiver_id: &str) {
        self.requested_at.remove(receiver_id);
    }
}

impl Router {
    /// A subscriber on transport `key` asked for a keyframe of the stream it
    /// receives under `mid` (a PLI or FIR, on `ssrc` where known): relayed
    /// to its publisher, at most once per interval. A pipe's sender's
    /// keyframe request names one encoding of a simulcast stream: that
    /// encoding's publisher is asked (at most once per interval too).
    pub fn on_keyframe_request(&mut self, key: TransportKey, mid: &str, ssrc: Option<u32>, now: Instant) {
        let sender = self.placed_on(key).iter().filter_map(|slot| self.senders.at(*slot)).find(|sender| sender.mid == mid);
        let Some(sender) = sender else {
            tracing::debug!("transport {key}: keyframe request for mid {mid}, which it does not send");
            return;
        };
        let receiver_id = sender.receiver_id.clone();
        let encoding = ssrc.and_then(|ssrc| sender.encoding_of(ssrc));
        tracing::debug!("transport {key}: keyframe request for mid {mid} (rtpReceiver {receiver_id}, encoding {encoding:?})");
        let Some(receiver) = self.receivers.get_mut(&receiver_id) else { return };
        match encoding.filter(|_| receiver.parameters.encodings.len() > 1 && receiver.kind == MediaKind::Video) {
            Some(encoding) => {
                if let Some(ssrc) = receiver.layer_keyframe_request(encoding, now) {
                    self.keyframe_requests.push(KeyframeRequest { transport: receiver.transport_key, ssrc });
                }
            }
            None => self.request_keyframe(&receiver_id, now, false),
        }
    }

    /// A transport reaches its endpoint now. As a subscriber's: what it was
    /// forwarded before never reached the endpoint, so each stream it gets
    /// starts again at a keyframe (forced: the request made when the sender
    /// was placed, a moment before, must not hold this one back). As a
    /// publisher's: the requests made while it could not be reached (a
    /// plain endpoint learnt from its first packet) are made again.
    pub fn on_transport_connected(&mut self, key: TransportKey, now: Instant) {
        let mut receivers: Vec<String> = self.active_senders_on(key).map(|sender| sender.receiver_id.clone()).collect();
        receivers.extend(self.receivers_on(key).into_iter().filter(|id| self.routes.get(id).is_some_and(|slots| !slots.is_empty())));
        receivers.sort();
        receivers.dedup();
        for receiver_id in receivers {
            self.request_keyframe(&receiver_id, now, true);
        }
    }

    /// Asks the publisher of `receiver_id` for a keyframe: relayed requests
    /// at most once per interval, `forced` ones always (see [`keyframes`]).
    /// Audio has none.
    pub fn request_keyframe(&mut self, receiver_id: &str, now: Instant, forced: bool) {
        let Some(receiver) = self.receivers.get(receiver_id).filter(|receiver| receiver.kind == MediaKind::Video) else { return };
        if !self.keyframes.allow(receiver_id, now, forced) {
            return;
        }
        let ssrcs = receiver.media_ssrcs();
        tracing::debug!("rtpReceiver {receiver_id}: keyframe requested from ssrcs {ssrcs:?}");
        for ssrc in ssrcs {
            let request = KeyframeRequest { transport: receiver.transport_key, ssrc };
            if !self.keyframe_requests.contains(&request) {
                self.keyframe_requests.push(request);
            }
        }
    }

    /// The keyframe requests for publishers since the last call.
    pub fn take_keyframe_requests(&mut self) -> Vec<KeyframeRequest> {
        std::mem::take(&mut self.keyframe_requests)
    }
}
