//! What the worker has for Python on the Channel and has not written yet,
//! bounded. The extension stops reading while Python's event loop has not
//! run what it was given (its own bound), so a slow or blocked application
//! makes the worker hold the rest; an endpoint that floods data-channel
//! messages toward a listener could then grow it without end. Past
//! [`OUTBOX_LIMIT`] the worker drops what loses nothing of the Channel's
//! state: data-channel messages for Python and log records below error
//! (counted, and told in one error record once the outbox has drained to
//! half, or [`DROPS_TOLD_EVERY`] into a flood that keeps it full). Answers,
//! errors and the other notifications (states, layers, scores: few, and
//! each one matters) are always kept.

use std::io::{ErrorKind, Write};
use std::time::{Duration, Instant};

use crate::channel::{NotificationEvent, WorkerMessage};
use crate::shell::event_loop::push_message;

/// Bytes waiting for Python past which data-channel messages and log records for it are dropped.
pub const OUTBOX_LIMIT: usize = 16 * 1024 * 1024;

/// How long drops go untold at most while the outbox stays full.
pub const DROPS_TOLD_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub struct ChannelOutbox {
    /// Frames; those before `start` are written already.
    bytes: Vec<u8>,
    start: usize,
    /// Dropped since the last time they were told: data-channel messages, log records.
    dropped: (u64, u64),
    /// When the first of those was dropped.
    first_drop: Option<Instant>,
}

impl ChannelOutbox {
    /// Queues `message`, unless it may be dropped and the outbox is full.
    pub fn push(&mut self, message: &WorkerMessage, now: Instant) {
        if self.pending() >= OUTBOX_LIMIT {
            let counter = match message {
                WorkerMessage::Notification(notification) => match notification.event {
                    NotificationEvent::PeerDataChannelMessage => Some(&mut self.dropped.0),
                    NotificationEvent::Log if notification.data["level"] != "error" => Some(&mut self.dropped.1),
                    _ => None,
                },
                WorkerMessage::Response(_) => None,
            };
            if let Some(counter) = counter {
                *counter += 1;
                self.first_drop.get_or_insert(now);
                return;
            }
        }
        push_message(&mut self.bytes, message);
    }

    /// What was dropped since the last call, once the outbox has drained to
    /// half (a record then has room) or [`DROPS_TOLD_EVERY`] after the first
    /// drop: (data-channel messages, log records).
    pub fn take_dropped(&mut self, now: Instant) -> Option<(u64, u64)> {
        let first = self.first_drop?;
        let due = self.pending() < OUTBOX_LIMIT / 2 || now.saturating_duration_since(first) >= DROPS_TOLD_EVERY;
        due.then(|| {
            self.first_drop = None;
            std::mem::take(&mut self.dropped)
        })
    }

    /// Writes as much as `channel` takes now.
    pub fn write(&mut self, channel: &mut impl Write) -> std::io::Result<()> {
        while self.start < self.bytes.len() {
            match channel.write(&self.bytes[self.start..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(count) => self.start += count,
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
        }
        if self.start == self.bytes.len() {
            self.bytes.clear();
            self.start = 0;
            // A flood's room is given back.
            self.bytes.shrink_to(1024 * 1024);
        } else if self.start > self.bytes.len() / 2 {
            // What was written goes once it is most of it: what is moved costs no more than what was written.
            self.bytes.drain(..self.start);
            self.start = 0;
        }
        Ok(())
    }

    /// Bytes not written yet.
    fn pending(&self) -> usize {
        self.bytes.len() - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.pending() == 0
    }
}

#[cfg(test)]
#[path = "channel_outbox_tests.rs"]
mod tests;
