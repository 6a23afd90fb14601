//! Requests on transports, and what reaches them from the event loop:
//! datagrams (through [`super::demux`]), due timers, and the end of a loop
//! turn, when what was forwarded leaves. After every input a transport is
//! collected: what it received goes to its room's router, what it produced
//! to the outbox, and its timer is re-armed.

use std::net::SocketAddr;
use std::time::Instant;

use serde_json::Value;
use str0m::net::Protocol;

use super::{listen_addresses, unknown, Network, SocketPlan, TransportKey, Worker};
use crate::channel::message::TransportCreate;
use crate::channel::Notification;
use crate::error::WorkerError;
use crate::rtp::codec_table::transport_tables;
use crate::transport::webrtc::WebRtcTransport;
use crate::transport::{BoundSocket, Transport};

impl Worker {
    pub(super) fn create_transport(&mut self, create: TransportCreate, now: Instant, network: &mut dyn Network) -> Result<Value, WorkerError> {
        if !create.udp && !create.tcp {
            return Err(WorkerError::value_error("udp and tcp are both False"));
        }
        self.check_transport_id_free(&create.transport_id)?;
        // Taken before the borrows below; one an error leaves unused is never reused.
        let key = self.take_transport_key();
        let (Some(settings), Some(certificate)) = (&self.settings, &self.certificate) else {
            return Err(WorkerError::invalid_state("worker.init must be the first request"));
        };
        let peer = self.peers.get(&create.peer_id).ok_or_else(|| unknown("peer", &create.peer_id))?;
        let room = self.rooms.get(&peer.room_id).ok_or_else(|| unknown("peer", &create.peer_id))?;
        let plan = SocketPlan {
            udp: create.udp,
            tcp: create.tcp,
            addresses: listen_addresses(settings),
            ports: (settings.rtc_min_port, settings.rtc_max_port),
        };
        let mut tables = transport_tables(&room.rtp_capabilities, peer.capabilities.as_ref());
        tables.bandwidth_estimation = room.bandwidth_estimation;
        let shared = self.demux.shared();
        let sockets = if shared.is_empty() {
            network.open_sockets(key, &plan)?
        } else {
            let wanted = |socket: &&BoundSocket| if socket.protocol == Protocol::Udp { plan.udp } else { plan.tcp };
            shared.iter().filter(wanted).cloned().collect()
        };
        let transport = match WebRtcTransport::new(&create, certificate, sockets.clone(), tables, now) {
            Ok(transport) => transport,
            Err(error) => {
                network.close_sockets(key);
                return Err(error);
            }
        };
        let answer = transport.local_parameters();
        self.demux.add(key, &sockets, Some(transport.local_ufrag()));
        self.register_transport(key, create.transport_id, &create.peer_id, Transport::WebRtc(transport));
        self.collect(key, now);
        Ok(answer)
    }

    /// An error if a transport `transport_id` exists already (the first
    /// check of every kind's creation).
    pub(super) fn check_transport_id_free(&self, transport_id: &str) -> Result<(), WorkerError> {
        if self.transport_keys.contains_key(transport_id) {
            return Err(WorkerError::value_error(format!("a transport with id '{transport_id}' exists already")));
        }
        Ok(())
    }

    /// The key of a transport about to be made (never 0).
    pub(super) fn take_transport_key(&mut self) -> TransportKey {
        let key = self.next_key;
        self.next_key = self.next_key.wrapping_add(1).max(1);
        key
    }

    /// A new transport of any kind joins its peer and the worker's tables
    /// (how it listens, in the demux or not, is each kind's).
    pub(super) fn register_transport(&mut self, key: TransportKey, transport_id: String, peer_id: &str, transport: Transport) {
        if let Some(peer) = self.peers.get_mut(peer_id) {
            peer.transport_ids.push(transport_id.clone());
        }
        let kind = match transport {
            Transport::WebRtc(_) => "webrtc",
            Transport::Plain(_) => "plain",
            Transport::Direct(_) => "direct",
        };
        tracing::debug!("{kind} transport {transport_id} (key {key}) created for peer {peer_id}");
        self.transport_keys.insert(transport_id, key);
        self.transports.insert(key, transport);
    }

    pub(super) fn close_transport(&mut self, transport_id: &str, now: Instant, network: &mut dyn Network) -> Result<Value, WorkerError> {
        let key = self.transport_key(transport_id)?;
        if let Some(peer) = self.transports.get(&key).and_then(|t| self.peers.get_mut(t.peer_id())) {
            peer.transport_ids.retain(|id| id != transport_id);
        }
        self.remove_transport(key, now, network);
        Ok(Value::Null)
    }

    /// A transport closes: the streams it received end (and the senders
    /// forwarding them); the senders on it stay, sending nothing.
    pub(super) fn remove_transport(&mut self, key: TransportKey, now: Instant, network: &mut dyn Network) {
        if let Some(room_id) = self.room_of_transport(key) {
            let ending = self.rooms.get(&room_id).map(|room| room.router.receivers_on(key)).unwrap_or_default();
            for receiver_id in ending {
                self.close_receiver(&receiver_id, now);
            }
            let ending_data = self.rooms.get_mut(&room_id).map(|room| room.router.data.detach_transport(key)).unwrap_or_default();
            for receiver_id in ending_data {
                self.close_data_receiver(&receiver_id, now);
            }
            if let Some(room) = self.rooms.get_mut(&room_id) {
                room.router.detach_transport(key);
            }
            self.report_layers(&room_id);
        }
        if let Some(mut transport) = self.transports.remove(&key) {
            self.ended.traffic += transport.traffic();
            transport.close();
            self.transport_keys.remove(transport.id());
            tracing::debug!("transport {} closed", transport.id());
        }
        if let Some(index) = self.direct_keys.iter().position(|direct| *direct == key) {
            self.direct_keys.remove(index);
            self.share_direct_queues();
        }
        self.demux.remove(key);
        self.timers.schedule(key, None);
        self.outbox.forget(key);
        network.close_sockets(key);
    }

    /// The room of the peer transport `key` belongs to.
    pub(super) fn room_of_transport(&self, key: TransportKey) -> Option<String> {
        let transport = self.transports.get(&key)?;
        Some(self.peers.get(transport.peer_id())?.room_id.clone())
    }

    /// A datagram that arrived on the bound socket `local`, for the
    /// transport [`super::demux`] names (dropped and counted if none).
    pub fn handle_datagram(&mut self, now: Instant, protocol: Protocol, source: SocketAddr, local: SocketAddr, contents: &[u8]) {
        let routed = self.demux.route(protocol, source, local, contents);
        let Some((key, transport)) = routed.and_then(|key| Some((key, self.transports.get_mut(&key)?))) else {
            self.datagrams_unrouted += 1;
            return;
        };
        transport.handle_datagram(now, protocol, source, local, contents);
        self.collect(key, now);
    }

    /// Ends a loop turn: what was forwarded in it leaves (see
    /// [`Self::flush_writes`]), the timers that are due run, and what they
    /// forwarded leaves too (str0m releases held packets on a timeout).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.flush_writes(now, usize::MAX);
        self.run_audio_levels(now);
        while let Some(key) = self.timers.pop_due(now) {
            if let Some(transport) = self.transports.get_mut(&key) {
                transport.handle_timeout(now);
                self.collect(key, now);
            }
        }
        self.flush_writes(now, usize::MAX);
    }

    /// The earliest deadline of any transport.
    pub fn next_timeout(&self) -> Option<Instant> {
        match (self.timers.next(), self.audio_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next datagram to send, with the transport whose socket sends it.
    pub fn poll_datagram(&mut self) -> Option<(TransportKey, crate::transport::OutgoingDatagram)> {
        self.outbox.pop()
    }

    /// Forwards what transport `key` received, and moves what it produced
    /// into the outbox and re-arms its timer. The transports written to are
    /// drained at the end of the loop turn ([`Self::flush_writes`]).
    pub(super) fn collect(&mut self, key: TransportKey, now: Instant) {
        self.forward_from(key, now);
        self.forward_data_from(key, now);
        if self.outbox.is_written(key) {
            // Written to in this loop turn: it is drained at the turn's end.
            return;
        }
        let Some(transport) = self.transports.get_mut(&key) else { return };
        transport.drain(now);
        self.take_output(key);
    }

    /// Sends what was forwarded in this loop turn, from up to `limit`
    /// transports (in the order they were first written to); answers
    /// whether some are left. str0m's pacer releases a written packet only
    /// at a timeout that the write makes due at once: it runs here, once per
    /// transport however many packets it took this turn (under load a turn
    /// holds a batch of datagrams). Left to the worker's timers, every
    /// forwarded packet would wait for epoll's next millisecond: 1.3 ms
    /// (docs/benchmarks.md). The event loop sends each chunk's datagrams
    /// before encrypting the next, so the first subscribers of a large
    /// fan-out need not wait for the last.
    pub fn flush_writes(&mut self, now: Instant, limit: usize) -> bool {
        for _ in 0..limit {
            let Some(key) = self.outbox.next_written() else { break };
            if let Some(transport) = self.transports.get_mut(&key) {
                transport.drain_after_writes(now);
                self.take_output(key);
            }
        }
        self.outbox.has_written()
    }

    /// Moves what transport `key` produced into the outbox and the
    /// notifications, and re-arms its timer.
    fn take_output(&mut self, key: TransportKey) {
        let Some(transport) = self.transports.get_mut(&key) else { return };
        while let Some(datagram) = transport.poll_datagram() {
            // STUN (first byte 0 or 1): a binding response, sent only to a
            // client that proved the password: on a shared port, its tuple
            // is this transport's.
            if datagram.contents.first().is_some_and(|byte| *byte <= 1) {
                self.demux.learn(key, datagram.protocol, datagram.source, datagram.destination);
            }
            self.outbox.push(key, datagram);
        }
        for notification in transport.take_notifications() {
            self.notifications.push(Notification {
                event: notification.event,
                target_id: Some(transport.id().to_owned()),
                data: notification.data,
            });
        }
        let due = transport.next_timeout();
        self.timers.schedule(key, due);
    }
}
