//! Which encoding of a stream a sender forwards. A publisher may send one
//! stream as several encodings (simulcast layers, each its own SSRC); a
//! sender forwards one at a time.
//!
//! Today's rule: the first SSRC heard is taken, and kept until it is silent
//! for [`SOURCE_TIMEOUT`] (a publisher that stops a layer); then the next
//! one heard takes over, and the subscriber needs a keyframe of it. Choosing
//! by the subscriber's bandwidth replaces this rule here, and nowhere else.

use std::time::{Duration, Instant};

/// A source silent this long may be replaced by another encoding of the
/// same receiver.
pub const SOURCE_TIMEOUT: Duration = Duration::from_millis(1000);

/// What to do with a packet of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// It is of the encoding being forwarded.
    Forward,
    /// It is of an encoding that becomes the one forwarded: the first one,
    /// or one that replaces a source gone silent (`replaced`: the
    /// subscriber decodes it from a keyframe).
    Start { replaced: bool },
    /// It is of another encoding: not forwarded.
    Drop,
}

#[derive(Debug, Clone, Default)]
pub struct LayerSelector {
    /// The SSRC forwarded and when its latest packet arrived.
    current: Option<(u32, Instant)>,
}

impl LayerSelector {
    /// Decides for a packet of `ssrc` that arrived at `arrival`.
    pub fn select(&mut self, ssrc: u32, arrival: Instant) -> Selection {
        match &mut self.current {
            Some((current, last_arrival)) if *current == ssrc => {
                *last_arrival = (*last_arrival).max(arrival);
                Selection::Forward
            }
            Some((_, last_arrival)) if arrival.saturating_duration_since(*last_arrival) < SOURCE_TIMEOUT => Selection::Drop,
            current => {
                let replaced = current.is_some();
                *current = Some((ssrc, arrival));
                Selection::Start { replaced }
            }
        }
    }

    /// The SSRC forwarded, if any was heard.
    pub fn current(&self) -> Option<u32> {
        self.current.map(|(ssrc, _)| ssrc)
    }
}

#[cfg(test)]
#[path = "layer_selector_tests.rs"]
mod tests;
