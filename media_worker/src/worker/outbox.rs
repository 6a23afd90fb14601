//! What the worker has for the event loop to send: datagrams, each with
//! the transport whose socket sends it, and the transports written to in
//! this loop turn, drained at its end in the order they were first written
//! to (see [`super::Worker::flush_writes`]).

use std::collections::VecDeque;

use rustc_hash::FxHashSet;

use crate::router::TransportKey;
use crate::transport::OutgoingDatagram;

#[derive(Debug, Default)]
pub struct Outbox {
    datagrams: VecDeque<(TransportKey, OutgoingDatagram)>,
    written: FxHashSet<TransportKey>,
    written_order: VecDeque<TransportKey>,
}

impl Outbox {
    pub fn push(&mut self, key: TransportKey, datagram: OutgoingDatagram) {
        self.datagrams.push_back((key, datagram));
    }

    /// The next datagram to send, oldest first.
    pub fn pop(&mut self) -> Option<(TransportKey, OutgoingDatagram)> {
        self.datagrams.pop_front()
    }

    /// Packets were written to `key` in this loop turn.
    pub fn mark_written(&mut self, key: TransportKey) {
        if self.written.insert(key) {
            self.written_order.push_back(key);
        }
    }

    pub fn is_written(&self, key: TransportKey) -> bool {
        self.written.contains(&key)
    }

    /// The next transport written to in this loop turn, oldest first.
    pub fn next_written(&mut self) -> Option<TransportKey> {
        let key = self.written_order.pop_front()?;
        self.written.remove(&key);
        Some(key)
    }

    pub fn has_written(&self) -> bool {
        !self.written_order.is_empty()
    }

    /// `key` closed: nothing of it leaves.
    pub fn forget(&mut self, key: TransportKey) {
        self.datagrams.retain(|(owner, _)| *owner != key);
    }
}
