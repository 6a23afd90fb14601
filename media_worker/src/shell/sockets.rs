//! The worker's media sockets, on mio: ports from the worker's sub-range,
//! UDP sockets, passive TCP listeners and their connections with RFC 4571
//! framing (a 2-byte length before each packet). It implements
//! [`Network`] for the worker and turns readiness into datagrams. UDP is
//! read and written in batches ([`crate::shell::batch`]): what one loop turn
//! produced for a socket leaves in one system call, whichever transports it
//! came from when the socket is shared (`rtcPortPerWorker`). A connection
//! accepted on a shared listener belongs to no transport until one sends
//! on it (the worker's demux has routed its binding request by username).

use std::collections::{HashSet, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Interest, Registry, Token};
use rustc_hash::FxHashMap;
use str0m::net::Protocol;

use crate::shell::batch::{RecvBatch, SendBatch, BATCH};
use crate::channel::{encode_rfc4571, Decoded, FrameDecoder};
use crate::error::WorkerError;
use crate::transport::{BoundSocket, OutgoingDatagram};
use crate::worker::{Network, SocketPlan, TransportKey, Worker};

/// Unsent TCP bytes a connection may hold before packets are dropped.
const MAX_TCP_BACKLOG: usize = 1 << 20;
/// Authenticated connections (ICE checks with the transport's credentials
/// passed) one transport keeps; a connection over it is closed when it
/// authenticates, so nobody can exhaust the worker's file descriptors.
pub const MAX_TCP_CONNECTIONS: usize = 8;
/// Connections that have not authenticated yet, per transport. They do not
/// count against the authenticated ones: when one more arrives, the oldest
/// is closed, so idle connections from anyone who reaches the port cannot
/// shut the real client out.
pub const MAX_PENDING_TCP_CONNECTIONS: usize = 8;
/// How long a connection may stay unauthenticated before it is closed.
pub const TCP_AUTHENTICATION_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections that have not authenticated yet on a shared TCP listener,
/// whichever transport they are for; as above, the oldest is closed.
pub const MAX_PENDING_SHARED_TCP_CONNECTIONS: usize = 64;
/// The kernel buffers of a shared UDP socket, each way: every transport's
/// traffic queues in them (a socket's default, ≈ 200 KiB, holds ≈ 150
/// packets: a few milliseconds of a busy worker's input).
pub const SHARED_SOCKET_BUFFER: usize = 8 << 20;
/// How long a worker tries again to bind its shared port while another
/// process holds it (the worker of a server just closed, exiting).
pub const SHARED_PORT_BIND_WAIT: Duration = Duration::from_secs(2);
/// Tokens below this are the event loop's own (the Channel).
pub const FIRST_SOCKET_TOKEN: usize = 16;
/// The owner of shared sockets, and of the connections accepted on a shared
/// listener until a transport sends on them (no transport has key 0).
const SHARED: TransportKey = 0;

enum Socket {
    Udp { key: TransportKey, socket: UdpSocket, local: SocketAddr },
    Listener { key: TransportKey, listener: TcpListener, local: SocketAddr },
    Connection(Connection),
}

struct Connection {
    key: TransportKey,
    stream: TcpStream,
    local: SocketAddr,
    remote: SocketAddr,
    decoder: FrameDecoder,
    unsent: Vec<u8>,
    writable_interest: bool,
    /// When it was accepted.
    accepted_at: Instant,
    /// Whether the worker has sent on it: it answers only ICE checks that
    /// carry the transport's credentials, so the peer holds them.
    authenticated: bool,
}

pub struct Sockets {
    registry: Registry,
    sockets: FxHashMap<usize, Socket>,
    by_transport: FxHashMap<TransportKey, Vec<usize>>,
    ports_in_use: HashSet<u16>,
    next_token: usize,
    /// Where the search for a free port starts next, so ports rotate.
    port_cursor: u32,
    /// TCP reads.
    buffer: Vec<u8>,
    udp_batch: RecvBatch,
    udp_send_batch: SendBatch,
    /// UDP datagrams to send at the end of the loop turn: (socket token,
    /// destination, bytes), in the order they were produced.
    udp_pending: Vec<(usize, SocketAddr, Vec<u8>)>,
    /// The shared UDP sockets: (bound address, token).
    shared_udp: Vec<(SocketAddr, usize)>,
    /// Connections accepted on a shared listener, by (local, remote) address.
    shared_connections: FxHashMap<(SocketAddr, SocketAddr), usize>,
    /// Connections not authenticated yet, oldest first (entries of connections
    /// since authenticated or closed are skipped when met).
    unauthenticated: VecDeque<(Instant, usize)>,
}

impl Sockets {
    pub fn new(registry: Registry) -> Self {
        Self {
            registry,
            sockets: FxHashMap::default(),
            by_transport: FxHashMap::default(),
            ports_in_use: HashSet::new(),
            next_token: FIRST_SOCKET_TOKEN,
            port_cursor: 0,
            buffer: vec![0u8; 65536],
            udp_batch: RecvBatch::default(),
            udp_send_batch: SendBatch::default(),
            udp_pending: Vec::new(),
            shared_udp: Vec::new(),
            shared_connections: FxHashMap::default(),
            unauthenticated: VecDeque::new(),
        }
    }

    /// When the oldest unauthenticated connection times out.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.unauthenticated.front().map(|(accepted_at, _)| *accepted_at + TCP_AUTHENTICATION_TIMEOUT)
    }

    /// Closes the connections that did not authenticate in time.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(accepted_at, token)) = self.unauthenticated.front() {
            if self.is_unauthenticated(token, accepted_at) {
                if now < accepted_at + TCP_AUTHENTICATION_TIMEOUT {
                    return;
                }
                tracing::debug!("closed a TCP connection that did not authenticate within {TCP_AUTHENTICATION_TIMEOUT:?}");
                self.drop_connection(token);
            }
            self.unauthenticated.pop_front();
        }
    }

    /// Whether `token` is still the unauthenticated connection accepted at `accepted_at`.
    fn is_unauthenticated(&self, token: usize, accepted_at: Instant) -> bool {
        matches!(self.sockets.get(&token), Some(Socket::Connection(c)) if !c.authenticated && c.accepted_at == accepted_at)
    }

    fn token(&mut self) -> Token {
        let token = self.next_token;
        self.next_token += 1;
        Token(token)
    }

    /// Binds the next free port of `plan.ports` for `key` (or [`SHARED`]).
    fn open_free_port(&mut self, key: TransportKey, plan: &SocketPlan) -> Result<(Vec<usize>, Vec<BoundSocket>), WorkerError> {
        let (first, last) = plan.ports;
        let count = u32::from(last - first) + 1;
        for attempt in 0..count {
            let port = first + ((self.port_cursor + attempt) % count) as u16;
            if self.ports_in_use.contains(&port) {
                continue;
            }
            let Ok(bound) = self.bind_all(plan, port) else { continue };
            self.port_cursor = (self.port_cursor + attempt + 1) % count;
            self.ports_in_use.insert(port);
            return self.watch(key, bound);
        }
        Err(WorkerError::unsupported(format!("no free port left in this worker's range {first}-{last}")))
    }

    /// The shared UDP sockets among `tokens`: found by their address when
    /// a transport sends from them, with buffers for many transports.
    fn share_udp(&mut self, tokens: &[usize], described: &[BoundSocket]) {
        for (&token, socket) in tokens.iter().zip(described) {
            if socket.protocol == Protocol::Udp {
                self.shared_udp.push((socket.address, token));
                if let Some(Socket::Udp { socket, .. }) = self.sockets.get(&token) {
                    enlarge_buffers(socket);
                }
            }
        }
    }

    /// Binds `port` for every address and protocol of `plan`, or nothing.
    fn bind_all(&mut self, plan: &SocketPlan, port: u16) -> std::io::Result<Vec<(Socket, BoundSocket)>> {
        let mut bound = Vec::new();
        for &(ip, announced_ip) in &plan.addresses {
            let address = SocketAddr::new(ip, port);
            if plan.udp {
                let socket = UdpSocket::bind(address)?;
                let local = socket.local_addr()?;
                bound.push((Socket::Udp { key: 0, socket, local }, BoundSocket { protocol: Protocol::Udp, address: local, announced_ip }));
            }
            if plan.tcp {
                let listener = TcpListener::bind(address)?;
                let local = listener.local_addr()?;
                bound.push((Socket::Listener { key: 0, listener, local }, BoundSocket { protocol: Protocol::Tcp, address: local, announced_ip }));
            }
        }
        Ok(bound)
    }

    /// Registers freshly bound sockets for transport `key` (or [`SHARED`]):
    /// answers their tokens and descriptions.
    fn watch(&mut self, key: TransportKey, bound: Vec<(Socket, BoundSocket)>) -> Result<(Vec<usize>, Vec<BoundSocket>), WorkerError> {
        let mut tokens = Vec::new();
        let mut described = Vec::new();
        for (mut socket, description) in bound {
            let token = self.token();
            let registered = match &mut socket {
                Socket::Udp { key: owner, socket, .. } => {
                    *owner = key;
                    self.registry.register(socket, token, Interest::READABLE)
                }
                Socket::Listener { key: owner, listener, .. } => {
                    *owner = key;
                    self.registry.register(listener, token, Interest::READABLE)
                }
                Socket::Connection(_) => Ok(()),
            };
            if let Err(err) = registered {
                return Err(WorkerError::internal(format!("cannot watch a socket: {err}")));
            }
            self.sockets.insert(token.0, socket);
            tokens.push(token.0);
            described.push(description);
        }
        Ok((tokens, described))
    }

    /// Readiness of `token`: datagrams for the worker, accepted connections.
    pub fn handle_ready(&mut self, token: usize, readable: bool, writable: bool, worker: &mut Worker, now: Instant) {
        let Some(socket) = self.sockets.get_mut(&token) else { return };
        match socket {
            Socket::Udp { socket, local, .. } => {
                let local = *local;
                // Edge-triggered: read until the socket is empty. A batch that
                // came back short emptied it (the kernel stops at the first
                // datagram missing), and every datagram queued after that
                // makes the socket ready again: no call to be told so. A quiet
                // socket (a pipe's: one datagram a turn) costs one call, not two.
                loop {
                    match self.udp_batch.recv(socket) {
                        Ok(count) => {
                            for index in 0..count {
                                // None: a datagram too long for any WebRTC packet.
                                if let Some((bytes, source)) = self.udp_batch.get(index) {
                                    worker.handle_datagram(now, Protocol::Udp, source, local, bytes);
                                }
                            }
                            if count < BATCH {
                                break;
                            }
                        }
                        Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                        Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                        // ICMP errors (port unreachable…) surface here: not fatal.
                        Err(_) => break,
                    }
                }
            }
            Socket::Listener { key, listener, local } => {
                let (key, local) = (*key, *local);
                let mut accepted = Vec::new();
                loop {
                    match listener.accept() {
                        Ok((stream, remote)) => accepted.push((stream, remote)),
                        Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                        Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    }
                }
                let most = if key == SHARED { MAX_PENDING_SHARED_TCP_CONNECTIONS } else { MAX_PENDING_TCP_CONNECTIONS };
                for (mut stream, remote) in accepted {
                    let waiting = self.connections_of(key, false);
                    if waiting.len() >= most {
                        // Tokens grow: the smallest is the oldest.
                        if let Some(&oldest) = waiting.iter().min() {
                            tracing::debug!("transport {key}: closed the oldest of {} unauthenticated TCP connections", waiting.len());
                            self.drop_connection(oldest);
                        }
                    }
                    let _ = stream.set_nodelay(true);
                    let token = self.token();
                    if self.registry.register(&mut stream, token, Interest::READABLE).is_err() {
                        continue;
                    }
                    self.sockets.insert(
                        token.0,
                        Socket::Connection(Connection {
                            key,
                            stream,
                            local,
                            remote,
                            decoder: FrameDecoder::rfc4571(),
                            unsent: Vec::new(),
                            writable_interest: false,
                            accepted_at: now,
                            authenticated: false,
                        }),
                    );
                    self.by_transport.entry(key).or_default().push(token.0);
                    if key == SHARED {
                        self.shared_connections.insert((local, remote), token.0);
                    }
                    self.unauthenticated.push_back((now, token.0));
                }
            }
            Socket::Connection(connection) => {
                let mut closed = false;
                if readable {
                    loop {
                        match connection.stream.read(&mut self.buffer) {
                            Ok(0) => {
                                closed = true;
                                break;
                            }
                            Ok(len) => connection.decoder.push(&self.buffer[..len]),
                            Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                            Err(_) => {
                                closed = true;
                                break;
                            }
                        }
                    }
                    while let Some(decoded) = connection.decoder.next_frame() {
                        if let Decoded::Frame(packet) = decoded {
                            worker.handle_datagram(now, Protocol::Tcp, connection.remote, connection.local, &packet);
                        }
                    }
                }
                if writable && !closed {
                    closed = flush(connection, &self.registry, Token(token)).is_err();
                }
                if closed {
                    self.drop_connection(token);
                }
            }
        }
    }

    /// Sends what the worker produced: TCP at once, UDP at [`Self::flush`].
    pub fn send(&mut self, key: TransportKey, datagram: OutgoingDatagram) {
        if datagram.protocol == Protocol::Udp {
            if let Some(&(_, token)) = self.shared_udp.iter().find(|(local, _)| *local == datagram.source) {
                self.udp_pending.push((token, datagram.destination, datagram.contents));
                return;
            }
        }
        let mut connection_token = self.adopt_shared_connection(key, &datagram);
        let tokens = self.by_transport.get(&key).map(Vec::as_slice).unwrap_or_default();
        for &token in tokens.iter().take_while(|_| connection_token.is_none()) {
            match self.sockets.get_mut(&token) {
                Some(Socket::Udp { local, .. }) if datagram.protocol == Protocol::Udp && *local == datagram.source => {
                    self.udp_pending.push((token, datagram.destination, datagram.contents));
                    return;
                }
                Some(Socket::Connection(connection))
                    if datagram.protocol != Protocol::Udp
                        && connection.local == datagram.source
                        && connection.remote == datagram.destination =>
                {
                    connection_token = Some(token);
                    break;
                }
                _ => {}
            }
        }
        if let Some(token) = connection_token {
            self.send_on_connection(token, &datagram.contents);
        }
    }

    /// The connection accepted on a shared listener that `datagram` goes
    /// out on, now transport `key`'s (it sends only to a client that proved
    /// its password).
    fn adopt_shared_connection(&mut self, key: TransportKey, datagram: &OutgoingDatagram) -> Option<usize> {
        if datagram.protocol == Protocol::Udp || self.shared_connections.is_empty() {
            return None;
        }
        let token = *self.shared_connections.get(&(datagram.source, datagram.destination))?;
        let Some(Socket::Connection(connection)) = self.sockets.get_mut(&token) else { return None };
        if connection.key == SHARED {
            connection.key = key;
            if let Some(tokens) = self.by_transport.get_mut(&SHARED) {
                tokens.retain(|other| *other != token);
            }
            self.by_transport.entry(key).or_default().push(token);
        }
        (connection.key == key).then_some(token)
    }

    fn send_on_connection(&mut self, token: usize, packet: &[u8]) {
        let Some(Socket::Connection(connection)) = self.sockets.get_mut(&token) else { return };
        if connection.unsent.len() + packet.len() > MAX_TCP_BACKLOG {
            return;
        }
        if !connection.authenticated {
            connection.authenticated = true;
            let key = connection.key;
            if self.connections_of(key, true).len() > MAX_TCP_CONNECTIONS {
                tracing::debug!("transport {key}: closed a TCP connection over the {MAX_TCP_CONNECTIONS} authenticated ones");
                self.drop_connection(token);
                return;
            }
        }
        let Some(Socket::Connection(connection)) = self.sockets.get_mut(&token) else { return };
        encode_rfc4571(packet, &mut connection.unsent);
        if flush(connection, &self.registry, Token(token)).is_err() {
            self.drop_connection(token);
        }
    }

    /// Sends the UDP datagrams of this loop turn, a batch per socket. UDP
    /// may drop: a full socket buffer loses packets, never the connection.
    pub fn flush(&mut self) {
        // Stable: each socket's datagrams keep their order.
        self.udp_pending.sort_by_key(|(token, _, _)| *token);
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        for run in self.udp_pending.chunk_by(|a, b| a.0 == b.0) {
            let Some(Socket::Udp { socket, .. }) = self.sockets.get(&run[0].0) else { continue };
            for chunk in run.chunks(BATCH) {
                let mut datagrams: [(SocketAddr, &[u8]); BATCH] = [(unspecified, &[]); BATCH];
                for (slot, (_, destination, contents)) in datagrams.iter_mut().zip(chunk) {
                    *slot = (*destination, contents.as_slice());
                }
                let _ = self.udp_send_batch.send(socket, &datagrams[..chunk.len()]);
            }
        }
        self.udp_pending.clear();
    }

    fn drop_connection(&mut self, token: usize) {
        if let Some(Socket::Connection(mut connection)) = self.sockets.remove(&token) {
            self.forget_connection(&mut connection, token);
            if let Some(tokens) = self.by_transport.get_mut(&connection.key) {
                tokens.retain(|other| *other != token);
            }
        }
    }

    fn forget_connection(&mut self, connection: &mut Connection, token: usize) {
        let _ = self.registry.deregister(&mut connection.stream);
        let tuple = (connection.local, connection.remote);
        if self.shared_connections.get(&tuple) == Some(&token) {
            self.shared_connections.remove(&tuple);
        }
    }

    /// The tokens of the transport's TCP connections that have (or have not) authenticated.
    fn connections_of(&self, key: TransportKey, authenticated: bool) -> Vec<usize> {
        let Some(tokens) = self.by_transport.get(&key) else { return Vec::new() };
        tokens
            .iter()
            .copied()
            .filter(|token| matches!(self.sockets.get(token), Some(Socket::Connection(c)) if c.authenticated == authenticated))
            .collect()
    }
}

/// Gives a shared socket [`SHARED_SOCKET_BUFFER`] each way: forced where the
/// worker may (CAP_NET_ADMIN), else up to the system's limit
/// (`net.core.rmem_max`, `wmem_max`).
fn enlarge_buffers(socket: &UdpSocket) {
    use nix::sys::socket::{setsockopt, sockopt};
    if setsockopt(socket, sockopt::RcvBufForce, &SHARED_SOCKET_BUFFER).is_err() {
        let _ = setsockopt(socket, sockopt::RcvBuf, &SHARED_SOCKET_BUFFER);
    }
    if setsockopt(socket, sockopt::SndBufForce, &SHARED_SOCKET_BUFFER).is_err() {
        let _ = setsockopt(socket, sockopt::SndBuf, &SHARED_SOCKET_BUFFER);
    }
}

/// Writes what a connection has queued; asks for writability while some remains.
fn flush(connection: &mut Connection, registry: &Registry, token: Token) -> std::io::Result<()> {
    while !connection.unsent.is_empty() {
        match connection.stream.write(&connection.unsent) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(written) => {
                connection.unsent.drain(..written);
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => break,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
    let want_writable = !connection.unsent.is_empty();
    if want_writable != connection.writable_interest {
        let interest = if want_writable { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
        registry.reregister(&mut connection.stream, token, interest)?;
        connection.writable_interest = want_writable;
    }
    Ok(())
}

impl Network for Sockets {
    fn open_sockets(&mut self, key: TransportKey, plan: &SocketPlan) -> Result<Vec<BoundSocket>, WorkerError> {
        let (tokens, described) = self.open_free_port(key, plan)?;
        // A plain transport without rtcpMux opens a second port.
        self.by_transport.entry(key).or_default().extend(tokens);
        Ok(described)
    }

    fn open_shared_port(&mut self, plan: &SocketPlan) -> Result<Vec<BoundSocket>, WorkerError> {
        let (tokens, described) = self.open_free_port(SHARED, plan)?;
        self.share_udp(&tokens, &described);
        Ok(described)
    }

    fn open_shared_sockets(&mut self, plan: &SocketPlan) -> Result<Vec<BoundSocket>, WorkerError> {
        let port = plan.ports.0;
        // The worker of a server closed a moment ago may still be exiting
        // (`server.close()` does not wait): a port in use is tried again for
        // a while. Nothing else runs yet, so the wait blocks nothing.
        let started = Instant::now();
        let bound = loop {
            match self.bind_all(plan, port) {
                Err(err) if err.kind() == ErrorKind::AddrInUse && started.elapsed() < SHARED_PORT_BIND_WAIT => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                bound => break bound,
            }
        }
        .map_err(|err| WorkerError::value_error(format!("cannot bind the worker's port {port} (rtcPortPerWorker): {err}")))?;
        self.ports_in_use.insert(port);
        let (tokens, described) = self.watch(SHARED, bound)?;
        self.share_udp(&tokens, &described);
        Ok(described)
    }

    fn close_sockets(&mut self, key: TransportKey) {
        for token in self.by_transport.remove(&key).unwrap_or_default() {
            match self.sockets.remove(&token) {
                Some(Socket::Udp { mut socket, local, .. }) => {
                    let _ = self.registry.deregister(&mut socket);
                    self.ports_in_use.remove(&local.port());
                }
                Some(Socket::Listener { mut listener, local, .. }) => {
                    let _ = self.registry.deregister(&mut listener);
                    self.ports_in_use.remove(&local.port());
                }
                Some(Socket::Connection(mut connection)) => self.forget_connection(&mut connection, token),
                None => {}
            }
        }
    }
}
