//! The target on data channels (SCTP over DTLS, the DCEP that opens
//! channels, the label relay and the transports' send queues): two str0m
//! clients, as browsers, connected to a worker's WebRTC transports in a
//! room that relays channels by label; the input opens channels (in band
//! or negotiated on any stream, any label, protocol, order and
//! reliability), writes messages of any size on them, from text to over
//! the 256 KiB a channel takes, closes them, and lets time pass.
//!
//! The SCTP packets themselves are the clients' (str0m's own fuzzing covers
//! its SCTP parser; bytes that are not a DTLS record of the association
//! never reach SCTP, which the `datagrams` target's connected state feeds);
//! what this target throws at the worker is everything an endpoint can do
//! with channels. Checked: no transport ends by an internal error, and
//! every message a client receives is one the other wrote, whole.
//!
//! Each record of the input: an operation byte (bits 0-1: open, write,
//! close, wait; bit 2: which client), then its arguments (see [`operate`]).

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use rustc_hash::{FxHashSet, FxHasher};
use serde_json::{json, Value};
use str0m::channel::{ChannelConfig, ChannelId, Reliability};
use str0m::net::{Protocol, Receive};
use str0m::{Event, Input as RtcInput, Output, Rtc, RtcConfig};

use super::datagrams::{browser_certificate, SCENE_USES};
use super::parsers::worker_settings;
use super::Input;
use crate::channel::Request;
use crate::sctp::{MAX_IN_BAND_NAMES_BYTES, SCTP_STREAMS};
use crate::testing::{client_of, ready_worker_with, remote_dtls_parameters, FakeNetwork};
use crate::worker::Worker;

/// The most channels a client keeps open (the oldest closes past it).
const MAX_CHANNELS: usize = 32;

/// The channels the clients open in a scene before it is made again: well
/// past what the relay opens a member (`MAX_RELAY_OPENED`), so its bound
/// is reached. The clients' str0m finds each new channel a stream by
/// walking the ids it holds (those still closing too), which grew to most
/// of an input's time in scenes that had opened thousands.
const MAX_OPENED: u32 = 1_200;

/// A browser: its str0m client, its addresses (its own, its transport's),
/// its open channels and what it wrote (hashes of the messages).
struct Client {
    rtc: Rtc,
    addresses: (SocketAddr, SocketAddr),
    channels: Vec<ChannelId>,
    written: FxHashSet<u64>,
    received: Vec<Vec<u8>>,
    /// The streams it negotiated channels on (str0m holds one until its reset completes).
    negotiated: FxHashSet<u16>,
    /// Everything it received (for the suite's test of the scene).
    #[cfg(test)]
    delivered: Vec<Vec<u8>>,
}

struct Scene {
    worker: Worker,
    network: FakeNetwork,
    now: Instant,
    clients: [Client; 2],
    /// The channels the clients opened.
    opened: u32,
}

fn hash(bytes: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut hasher = FxHasher::default();
    hasher.write(bytes);
    hasher.finish()
}

impl Scene {
    fn request(&mut self, method: &str, data: Value) -> Value {
        let request: Request = serde_json::from_value(json!({"method": method, "data": data})).expect("a request of the scene");
        self.worker.handle_request(request, self.now, &mut self.network).unwrap_or_else(|err| panic!("{method}: {err}"))
    }

    fn new() -> Self {
        let (worker, network, now) = ready_worker_with(worker_settings());
        let mut scene = Self { worker, network, now, clients: [placeholder(now), placeholder(now)], opened: 0 };
        scene.request("room.create", json!({"roomId": "room", "dataChannelRelay": true}));
        for (index, name) in ["alice", "bob"].into_iter().enumerate() {
            scene.request("room.createPeer", json!({"roomId": "room", "peerId": name, "name": name}));
            let local = scene.request("peer.createTransport", json!({"peerId": name, "transportId": name, "udp": true, "tcp": false,
                "preferIPv4": false, "preferIPv6": false, "preferUdp": false, "preferTcp": false, "enableSctp": true}));
            let port = local["iceLocalCandidates"][0]["port"].as_u64().expect("a candidate's port") as u16;
            let addresses = (SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50000 + index as u16), SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
            let certificate = browser_certificate();
            scene.request("transport.setRemoteDtlsParameters", json!({"transportId": name, "dtlsParameters": remote_dtls_parameters(certificate)}));
            let mut rtc = client_of(&local, certificate, RtcConfig::new(), addresses, scene.now);
            // The worker is the DTLS client, so the SCTP client too.
            rtc.direct_api().start_sctp(false);
            scene.clients[index] = Client { rtc, addresses, channels: Vec::new(), written: FxHashSet::default(), received: Vec::new(), negotiated: FxHashSet::default(), #[cfg(test)] delivered: Vec::new() };
        }
        // ICE, DTLS and SCTP's handshakes: well under a second of 5 ms steps.
        let connected = |scene: &mut Self| {
            ["alice", "bob"].iter().all(|name| scene.request("transport.getStats", json!({"transportId": name}))[0]["dtlsState"] == "connected")
        };
        for _ in 0..200 {
            scene.step();
            if connected(&mut scene) {
                break;
            }
            scene.advance(Duration::from_millis(5));
        }
        assert!(connected(&mut scene), "the scene's clients connect");
        scene.pump(100);
        scene
    }

    /// Datagrams both ways once; whether any moved.
    fn step(&mut self) -> bool {
        let mut moved = false;
        for client in &mut self.clients {
            moved |= client.drain(&mut self.worker, self.now);
        }
        // The end of the worker's loop turn: what was written to its transports leaves.
        self.worker.handle_timeout(self.now);
        while let Some((_, datagram)) = self.worker.poll_datagram() {
            let Some(client) = self.clients.iter_mut().find(|client| client.addresses.0 == datagram.destination) else { continue };
            let receive = Receive::new(Protocol::Udp, datagram.source, datagram.destination, &datagram.contents).expect("what the worker sends is a datagram");
            // A client that takes no more (its DTLS queue full) loses the datagram, as a network would.
            let _ = client.rtc.handle_input(RtcInput::Receive(self.now, receive));
            moved = true;
        }
        // What they answer goes in the next step (each poll walks all of a client's channels).
        moved
    }

    /// Datagrams both ways and time passing, `rounds` of 1 ms, or fewer once nothing moves.
    fn pump(&mut self, rounds: u32) {
        for _ in 0..rounds {
            if !self.step() {
                break;
            }
            self.advance(Duration::from_millis(1));
        }
        self.check();
    }

    fn advance(&mut self, elapsed: Duration) {
        self.now += elapsed;
        self.worker.handle_timeout(self.now);
        for client in &mut self.clients {
            client.rtc.handle_input(RtcInput::Timeout(self.now)).expect("the client takes time");
        }
    }

    /// No transport ended by a panic inside str0m; what each client
    /// received, the other wrote.
    fn check(&mut self) {
        for notification in self.worker.take_notifications() {
            let text = serde_json::to_string(&notification).unwrap_or_default();
            assert!(!text.contains("an internal error"), "{text}");
        }
        for index in 0..2 {
            let received = std::mem::take(&mut self.clients[index].received);
            let other = &self.clients[1 - index];
            for message in &received {
                assert!(other.written.contains(&hash(message)), "client {index} received {} bytes nobody wrote", message.len());
            }
            #[cfg(test)]
            self.clients[index].delivered.extend(received);
        }
    }
}

/// A client not connected yet (replaced in [`Scene::new`]).
fn placeholder(now: Instant) -> Client {
    let nowhere = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    Client { rtc: RtcConfig::new().build(now), addresses: (nowhere, nowhere), channels: Vec::new(), written: FxHashSet::default(), received: Vec::new(), negotiated: FxHashSet::default(), #[cfg(test)] delivered: Vec::new() }
}

impl Client {
    /// Its datagrams to the worker and its events; whether anything came out.
    fn drain(&mut self, worker: &mut Worker, now: Instant) -> bool {
        let mut moved = false;
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Transmit(transmit)) => {
                    worker.handle_datagram(now, Protocol::Udp, self.addresses.0, self.addresses.1, &transmit.contents);
                    moved = true;
                }
                Ok(Output::Event(Event::ChannelOpen(id, _))) => {
                    if !self.channels.contains(&id) {
                        self.channels.push(id);
                    }
                }
                Ok(Output::Event(Event::ChannelData(data))) => self.received.push(data.data),
                Ok(Output::Event(Event::ChannelClose(id))) => self.channels.retain(|open| *open != id),
                Ok(Output::Event(_)) => {}
                Ok(Output::Timeout(_)) | Err(_) => return moved,
            }
        }
    }
}

/// One record of the input on the scene.
///
/// - open: a flags byte (bit 0 unordered; bits 1-2 reliable, a number of
///   retransmits, a lifetime, negotiated out of band), a 2-byte number (the
///   retransmits, the lifetime or the stream), the label, the protocol (records);
/// - write: a channel byte (an index into the open ones), a flags byte
///   (bit 0 binary; bit 1 the message repeated to a 2-byte length, × 8
///   with bit 2: up to 64 KiB or 512 KiB), the message (a record);
/// - close: a channel byte;
/// - wait: a byte of 10 ms steps.
fn operate(scene: &mut Scene, input: &mut Input<'_>) {
    let operation = input.byte();
    if operation & 3 == 3 {
        let steps = input.byte();
        scene.advance(Duration::from_millis(10 * u64::from(steps)));
        return;
    }
    let client = &mut scene.clients[usize::from((operation >> 2) & 1)];
    match operation & 3 {
        0 => {
            let flags = input.byte();
            let number = input.u16();
            let label = String::from_utf8_lossy(input.record()).into_owned();
            let protocol = String::from_utf8_lossy(input.record()).into_owned();
            let (reliability, negotiated) = match (flags >> 1) & 3 {
                0 => (Reliability::Reliable, None),
                1 => (Reliability::MaxRetransmits { retransmits: number }, None),
                2 => (Reliability::MaxPacketLifetime { lifetime: number }, None),
                // A stream the association has (the client's str0m refuses others).
                _ => (Reliability::Reliable, Some(number % SCTP_STREAMS)),
            };
            if let Some(stream) = negotiated {
                // The client's str0m panics on a stream it has a channel on already.
                if !client.negotiated.insert(stream) || client.rtc.direct_api().channel_id_by_sctp_stream_id(stream).is_some() {
                    return;
                }
            }
            if negotiated.is_none() && label.len() + protocol.len() > MAX_IN_BAND_NAMES_BYTES {
                // The client's str0m panics writing a DCEP open this long (a
                // browser's does not: tests/test_data_channels.py sends one).
                return;
            }
            if client.channels.len() >= MAX_CHANNELS {
                let oldest = client.channels.remove(0);
                client.rtc.direct_api().close_data_channel(oldest);
            }
            let config = ChannelConfig { label, ordered: flags & 1 == 0, reliability, negotiated, protocol, ..ChannelConfig::default() };
            let id = client.rtc.direct_api().create_data_channel(config);
            client.channels.push(id);
            scene.opened += 1;
        }
        1 => {
            let index = usize::from(input.byte());
            let flags = input.byte();
            let mut message = input.record().to_vec();
            if flags & 2 != 0 && !message.is_empty() {
                // Large messages are a write's whole cost: up to 64 KiB (what a
                // transport sends), or up to 512 KiB with bit 2 as well.
                let length = usize::from(input.u16()) * if flags & 4 != 0 { 8 } else { 1 };
                // Whole copies, then a cut one (a byte at a time was an eighth of a run's time).
                message = message.repeat(length.div_ceil(message.len()));
                message.truncate(length);
            }
            let Some(&id) = client.channels.get(index % client.channels.len().max(1)) else { return };
            client.written.insert(hash(&message));
            if let Some(mut channel) = client.rtc.channel(id) {
                let _ = channel.write(flags & 1 != 0, &message);
            }
        }
        _ => {
            let index = usize::from(input.byte());
            if client.channels.is_empty() {
                return;
            }
            let id = client.channels.remove(index % client.channels.len());
            client.rtc.direct_api().close_data_channel(id);
        }
    }
}

thread_local! {
    /// The scene, and how many inputs it has taken.
    static SCENE: RefCell<Option<(Scene, u32)>> = const { RefCell::new(None) };
}

/// `data`'s records on `scene`, each followed by what it sets moving,
/// then a last 100 ms for what is still in flight.
fn run(scene: &mut Scene, data: &[u8]) {
    let mut input = Input::new(data);
    while !input.is_empty() {
        operate(scene, &mut input);
        scene.pump(50);
    }
    scene.advance(Duration::from_millis(100));
    scene.pump(200);
}

/// What each client received when `data` ran on a fresh scene, and the
/// dumps of their transports in the worker.
#[cfg(test)]
pub(super) fn delivered(data: &[u8]) -> ([Vec<Vec<u8>>; 2], [Value; 2]) {
    let mut scene = Scene::new();
    run(&mut scene, data);
    let dumps = ["alice", "bob"].map(|name| scene.request("transport.dump", json!({"transportId": name})));
    (scene.clients.map(|client| client.delivered), dumps)
}

pub fn data_channels(data: &[u8]) {
    let (mut scene, uses) = SCENE.with_borrow_mut(Option::take).unwrap_or_else(|| (Scene::new(), 0));
    run(&mut scene, data);
    if uses % 64 == 0 {
        for name in ["alice", "bob"] {
            scene.request("transport.getStats", json!({"transportId": name}));
            scene.request("transport.dump", json!({"transportId": name}));
        }
        scene.request("room.dump", json!({"roomId": "room"}));
    }
    if uses + 1 < SCENE_USES && scene.opened < MAX_OPENED {
        SCENE.with_borrow_mut(|slot| *slot = Some((scene, uses + 1)));
    }
}
