//! Each transport's next deadline, ordered by time: the event loop sleeps
//! until the earliest, and the worker runs those that are due.

use std::collections::BTreeSet;
use std::time::Instant;

use rustc_hash::FxHashMap;

use crate::router::TransportKey;

#[derive(Debug, Default)]
pub struct Timers {
    deadlines: FxHashMap<TransportKey, Instant>,
    queue: BTreeSet<(Instant, TransportKey)>,
    /// Deadlines run since the worker started.
    fired: u64,
}

impl Timers {
    /// `key`'s next deadline is `due` (None: it has none).
    pub fn schedule(&mut self, key: TransportKey, due: Option<Instant>) {
        // Unchanged (most transports written to in a turn): the queue stays as it is.
        if self.deadlines.get(&key) == due.as_ref() {
            return;
        }
        if let Some(previous) = self.deadlines.remove(&key) {
            self.queue.remove(&(previous, key));
        }
        if let Some(due) = due {
            self.deadlines.insert(key, due);
            self.queue.insert((due, key));
        }
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.queue.first().map(|(due, _)| *due)
    }

    /// A transport whose deadline is due at `now`, removed from the queue.
    pub fn pop_due(&mut self, now: Instant) -> Option<TransportKey> {
        let &(due, key) = self.queue.first().filter(|(due, _)| *due <= now)?;
        self.queue.remove(&(due, key));
        self.deadlines.remove(&key);
        self.fired += 1;
        Some(key)
    }

    /// How many deadlines ran since the worker started.
    pub fn fired(&self) -> u64 {
        self.fired
    }
}
