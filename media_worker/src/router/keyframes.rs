//! When a publisher is asked for a keyframe. Subscribers' PLIs and FIRs are
//! relayed at most once per [`KEYFRAME_REQUEST_INTERVAL`] per stream (a
//! storm of them from a large audience would make the publisher send
//! nothing but keyframes); a subscriber that starts, resumes or changes
//! source always gets one at once (`forced`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

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
