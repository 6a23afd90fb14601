//! What the worker has for Python on the Channel and has not written yet,
//! bounded. The extension stops reading while Python's event loop has not
//! run what it was given (its own bound), so a slow or blocked application
//! makes the worker hold the rest; an endpoint that floods data-channel
//! messages toward a listener could then grow it without end. Past
//! [`OUTBOX_LIMIT`] the worker drops what loses nothing of the Channel's
//! state: data-channel messages for Python and log records (counted, and
//! told in one warning once the outbox has drained to half). Answers and
//! the other notifications (states, layers, scores: few, and each one
//! matters) are always kept.

use std::io::{ErrorKind, Write};

use crate::channel::{NotificationEvent, WorkerMessage};
use crate::shell::event_loop::push_message;

/// Bytes waiting for Python past which data-channel messages and log records for it are dropped.
pub const OUTBOX_LIMIT: usize = 16 * 1024 * 1024;

#[derive(Debug, Default)]
pub struct ChannelOutbox {
    bytes: Vec<u8>,
    /// Dropped since the last warning: data-channel messages, log records.
    dropped: (u64, u64),
}

impl ChannelOutbox {
    /// Queues `message`, unless it may be dropped and the outbox is full.
    pub fn push(&mut self, message: &WorkerMessage) {
        if self.bytes.len() >= OUTBOX_LIMIT {
            match message {
                WorkerMessage::Notification(notification) if notification.event == NotificationEvent::PeerDataChannelMessage => {
                    self.dropped.0 += 1;
                    return;
                }
                WorkerMessage::Notification(notification) if notification.event == NotificationEvent::Log => {
                    self.dropped.1 += 1;
                    return;
                }
                _ => {}
            }
        }
        push_message(&mut self.bytes, message);
    }

    /// What was dropped since the last call, once the outbox has drained to
    /// half (a warning then has room): (data-channel messages, log records).
    pub fn take_dropped(&mut self) -> Option<(u64, u64)> {
        (self.dropped != (0, 0) && self.bytes.len() < OUTBOX_LIMIT / 2).then(|| std::mem::take(&mut self.dropped))
    }

    /// Writes as much as `channel` takes now.
    pub fn write(&mut self, channel: &mut impl Write) -> std::io::Result<()> {
        let mut written = 0;
        while written < self.bytes.len() {
            match channel.write(&self.bytes[written..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(count) => written += count,
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
        }
        self.bytes.drain(..written);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

#[cfg(test)]
#[path = "channel_outbox_tests.rs"]
mod tests;
