//! Which transport a datagram is for. A transport with sockets of its own
//! is named by the socket address a datagram arrived on. On the ports a
//! worker shares among its transports (`rtcPortPerWorker`), an ICE binding
//! request is for the transport whose username fragment it names, anything
//! else for the transport its 5-tuple was learnt for (from a tuple not
//! learnt yet, only binding requests get through). A tuple is learnt when a
//! transport answers from it: str0m answers only a request that proves the
//! transport's password, so nobody can claim a tuple without it. On the
//! port a worker's plain transports share (`sharedPort`: pipes' entries),
//! a datagram is for the transport connected to where it came from, and
//! nothing else gets through. Neither the transports nor the event loop
//! know which kind of socket they use.

use std::collections::VecDeque;
use std::net::SocketAddr;

use rustc_hash::FxHashMap;
use str0m::ice::StunMessage;
use str0m::net::Protocol;

use crate::router::TransportKey;
use crate::transport::BoundSocket;

/// Tuples one transport keeps on a shared port (a client's candidates, an
/// ICE restart from a new address); past it the oldest is forgotten, so a
/// client that knows the password cannot grow the table without bound.
pub const MAX_TUPLES_PER_TRANSPORT: usize = 16;

/// (is TCP, bound local address).
type SocketId = (bool, SocketAddr);
/// (is TCP, bound local address, remote address).
type Tuple = (bool, SocketAddr, SocketAddr);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Transport(TransportKey),
    Shared,
    /// Plain transports' shared port: by tuple alone.
    SharedByTuple,
}

#[derive(Debug, Default)]
pub struct Demux {
    by_socket: FxHashMap<SocketId, Owner>,
    /// The worker's shared sockets, as bound.
    shared: Vec<BoundSocket>,
    /// On shared sockets: learnt tuples, and each transport's, oldest first.
    by_tuple: FxHashMap<Tuple, TransportKey>,
    tuples_of: FxHashMap<TransportKey, VecDeque<Tuple>>,
    /// On shared sockets: each transport's local ICE username fragment.
    by_ufrag: FxHashMap<String, TransportKey>,
    ufrag_of: FxHashMap<TransportKey, String>,
}

fn is_tcp(protocol: Protocol) -> bool {
    protocol != Protocol::Udp
}

impl Demux {
    /// The worker's transports share `sockets`.
    pub fn add_shared(&mut self, sockets: Vec<BoundSocket>) {
        for socket in &sockets {
            self.by_socket.insert((is_tcp(socket.protocol), socket.address), Owner::Shared);
        }
        self.shared = sockets;
    }

    /// Plain transports share `socket`, each datagram routed by its tuple
    /// ([`Self::connect`]).
    pub fn add_shared_by_tuple(&mut self, socket: &BoundSocket) {
        let previous = self.by_socket.insert((is_tcp(socket.protocol), socket.address), Owner::SharedByTuple);
        debug_assert!(previous.is_none(), "a socket bound twice: {previous:?}");
    }

    /// Transport `key`, on a socket plain transports share, is connected to
    /// `remote`: what comes from there to `local` is its (check
    /// [`Self::tuple_owner`] first: it takes the tuple from any other).
    pub fn connect(&mut self, key: TransportKey, local: SocketAddr, remote: SocketAddr) {
        let tuple = (false, local, remote);
        if self.by_tuple.insert(tuple, key) != Some(key) {
            self.tuples_of.entry(key).or_default().push_back(tuple);
        }
    }

    /// The transport connected to `remote` on the UDP socket at `local`, if any.
    pub fn tuple_owner(&self, local: SocketAddr, remote: SocketAddr) -> Option<TransportKey> {
        self.by_tuple.get(&(false, local, remote)).copied()
    }

    /// The shared sockets (none unless the worker has a port per worker).
    pub fn shared(&self) -> &[BoundSocket] {
        &self.shared
    }

    /// Datagrams arriving on `sockets` are for transport `key`; on a shared
    /// one, those of the tuples learnt for it and binding requests naming
    /// `ufrag` (a transport without ICE has sockets of its own).
    pub fn add(&mut self, key: TransportKey, sockets: &[BoundSocket], ufrag: Option<&str>) {
        for socket in sockets {
            let id = (is_tcp(socket.protocol), socket.address);
            if self.by_socket.get(&id) != Some(&Owner::Shared) {
                self.by_socket.insert(id, Owner::Transport(key));
            }
        }
        if let Some(ufrag) = ufrag {
            self.set_ufrag(key, ufrag);
        }
    }

    /// Transport `key` restarted ICE: binding requests name its new `ufrag`.
    pub fn set_ufrag(&mut self, key: TransportKey, ufrag: &str) {
        if self.shared.is_empty() {
            return;
        }
        if let Some(old) = self.ufrag_of.insert(key, ufrag.to_owned()) {
            self.by_ufrag.remove(&old);
        }
        self.by_ufrag.insert(ufrag.to_owned(), key);
    }

    /// Transport `key` closed: its sockets, tuples and username fragment are free.
    pub fn remove(&mut self, key: TransportKey) {
        self.by_socket.retain(|_, owner| *owner != Owner::Transport(key));
        for tuple in self.tuples_of.remove(&key).unwrap_or_default() {
            self.by_tuple.remove_if_owned(tuple, key);
        }
        if let Some(ufrag) = self.ufrag_of.remove(&key) {
            self.by_ufrag.remove(&ufrag);
        }
    }

    /// The transport a datagram from `source` that arrived on `local` (over
    /// `protocol`) is for.
    pub fn route(&self, protocol: Protocol, source: SocketAddr, local: SocketAddr, contents: &[u8]) -> Option<TransportKey> {
        let tcp = is_tcp(protocol);
        match self.by_socket.get(&(tcp, local))? {
            Owner::Transport(key) => Some(*key),
            // A binding request by what it names (cheap to rule out: see
            // `binding_request_ufrag`), so that a client may move from one
            // transport to another; the rest by tuple.
            Owner::Shared => binding_request_ufrag(contents)
                .and_then(|local_ufrag| self.by_ufrag.get(local_ufrag))
                .or_else(|| self.by_tuple.get(&(tcp, local, source)))
                .copied(),
            Owner::SharedByTuple => self.by_tuple.get(&(tcp, local, source)).copied(),
        }
    }

    /// Transport `key` sent a STUN message from `local` to `remote`: on a
    /// shared socket, that tuple is its from now on.
    pub fn learn(&mut self, key: TransportKey, protocol: Protocol, local: SocketAddr, remote: SocketAddr) {
        let tcp = is_tcp(protocol);
        if self.by_socket.get(&(tcp, local)) != Some(&Owner::Shared) {
            return;
        }
        let tuple = (tcp, local, remote);
        if self.by_tuple.insert(tuple, key) == Some(key) {
            return;
        }
        let tuples = self.tuples_of.entry(key).or_default();
        tuples.push_back(tuple);
        if tuples.len() > MAX_TUPLES_PER_TRANSPORT {
            if let Some(oldest) = tuples.pop_front() {
                self.by_tuple.remove_if_owned(oldest, key);
            }
        }
    }

    /// How many tuples are learnt (for dumps and tests).
    pub fn tuple_count(&self) -> usize {
        self.by_tuple.len()
    }
}

trait RemoveIfOwned {
    fn remove_if_owned(&mut self, tuple: Tuple, key: TransportKey);
}

impl RemoveIfOwned for FxHashMap<Tuple, TransportKey> {
    /// Forgets `tuple` unless another transport has learnt it since.
    fn remove_if_owned(&mut self, tuple: Tuple, key: TransportKey) {
        if self.get(&tuple) == Some(&key) {
            self.remove(&tuple);
        }
    }
}

/// The local username fragment a STUN binding request names (USERNAME is
/// `local:remote` for the side that receives it); None for anything else.
pub fn binding_request_ufrag(contents: &[u8]) -> Option<&str> {
    // STUN's first two bits are zero; RTP, RTCP and DTLS never start so.
    if contents.first().is_none_or(|byte| *byte > 1) {
        return None;
    }
    let message = StunMessage::parse(contents).ok()?;
    if !message.is_binding_request() {
        return None;
    }
    let (local, _) = message.username()?.split_once(':')?;
    Some(local)
}

#[cfg(test)]
#[path = "demux_tests.rs"]
mod tests;
