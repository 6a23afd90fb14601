//! Which transport a datagram is for. Today each transport has sockets of
//! its own, so the socket address a datagram arrived on names it; a port
//! shared by every transport of the worker will add rules here (the ICE
//! username of a binding request, then the remote address it came from),
//! without the transports or the event loop knowing.

use std::net::SocketAddr;

use rustc_hash::FxHashMap;
use str0m::net::Protocol;

use crate::router::TransportKey;
use crate::transport::BoundSocket;

#[derive(Debug, Default)]
pub struct Demux {
    /// (is TCP, bound local address) → the transport whose socket it is.
    by_socket: FxHashMap<(bool, SocketAddr), TransportKey>,
}

impl Demux {
    /// Datagrams arriving on `sockets` are for transport `key`.
    pub fn add(&mut self, key: TransportKey, sockets: &[BoundSocket]) {
        for socket in sockets {
            self.by_socket.insert((socket.protocol != Protocol::Udp, socket.address), key);
        }
    }

    /// Transport `key` closed.
    pub fn remove(&mut self, key: TransportKey) {
        self.by_socket.retain(|_, owner| *owner != key);
    }

    /// The transport a datagram that arrived on `local` (over `protocol`) is for.
    pub fn route(&self, protocol: Protocol, local: SocketAddr) -> Option<TransportKey> {
        self.by_socket.get(&(protocol != Protocol::Udp, local)).copied()
    }
}
