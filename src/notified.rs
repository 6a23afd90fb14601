//! How much the extension has handed Python's event loop and the loop has
//! not run yet, bounded: [`Backlog`]. The Channel's reader waits for room
//! ([`Backlog::room`]) before each read, so that an application whose loop
//! does not keep up makes the worker hold the rest, under its own bound
//! (`media_worker::shell::channel_outbox`), rather than this process grow.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Bytes of notifications handed to the event loop and not run yet past
/// which the Channel is not read (until they are down to half).
pub const NOTIFIED_LIMIT: usize = 4 * 1024 * 1024;

#[derive(Default)]
pub struct Backlog {
    bytes: AtomicUsize,
    /// Told when the loop has run them down below half [`NOTIFIED_LIMIT`], or the process exited.
    drained: Notify,
    process_gone: AtomicBool,
}

/// A notification's bytes in the backlog, taken out when it is dropped: the
/// callback the event loop runs holds it, so it counts as run once the loop
/// frees the callback (run, or dropped unrun by a loop that closed).
pub struct Counted {
    backlog: Arc<Backlog>,
    size: usize,
}

impl Drop for Counted {
    fn drop(&mut self) {
        let before = self.backlog.bytes.fetch_sub(self.size, Ordering::SeqCst);
        if before >= NOTIFIED_LIMIT / 2 && before - self.size < NOTIFIED_LIMIT / 2 {
            self.backlog.drained.notify_waiters();
        }
    }
}

impl Backlog {
    /// `size` bytes handed to the loop, counted until the returned guard is dropped.
    pub fn count(self: &Arc<Self>, size: usize) -> Counted {
        self.bytes.fetch_add(size, Ordering::SeqCst);
        Counted { backlog: Arc::clone(self), size }
    }

    /// Returns at once while the loop has fewer than [`NOTIFIED_LIMIT`]
    /// bytes to run; past it, once they are down to half, or the worker has
    /// exited (what it wrote last is read then, bounded by the socket's
    /// buffer, before its exit is told).
    pub async fn room(&self) {
        if self.bytes.load(Ordering::SeqCst) < NOTIFIED_LIMIT {
            return;
        }
        loop {
            let drained = self.drained.notified();
            if self.bytes.load(Ordering::SeqCst) < NOTIFIED_LIMIT / 2 || self.process_gone.load(Ordering::SeqCst) {
                return;
            }
            drained.await;
        }
    }

    /// The worker process has exited: [`Self::room`] stops waiting.
    pub fn process_exited(&self) {
        self.process_gone.store(true, Ordering::SeqCst);
        self.drained.notify_waiters();
    }
}
