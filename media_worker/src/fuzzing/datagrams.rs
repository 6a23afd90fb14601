//! The target on a worker's datagram entry: datagrams and TCP frames on
//! every port of a room in a call, from its endpoints and from strangers,
//! with time passing between them.
//!
//! The room (made again every [`SCENE_USES`] inputs): a publisher on a plain transport
//! (VP8, VP9, H264, AV1 with its dependency descriptor, opus with audio
//! levels, and VP8 in three simulcast encodings), a subscriber of every
//! stream on another plain transport, and a WebRTC transport subscribed to
//! VP8 in the state the input's first byte picks: new, with the remote
//! DTLS parameters, with ICE connected by a str0m client (the worker's
//! DTLS handshake under way, so its datagrams reach DTLS), or connected
//! (DTLS done: its datagrams reach SRTP, DTLS and SCTP).
//!
//! Each record of the input is one datagram: a selector byte (bits 0-1:
//! the publisher's port, the subscriber's, the WebRTC UDP port or its TCP
//! one; bit 2: from a stranger rather than the endpoint; bits 3-5: time
//! that passes first, in 25 ms steps), then a 2-byte length and the bytes.

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use str0m::config::DtlsCert;
use str0m::net::Protocol;
use str0m::net::Receive;
use str0m::{Input as RtcInput, Output, RtcConfig};

use super::parsers::worker_settings;
use super::Input;
use crate::channel::Request;
use crate::rtp::codecs::dependency_descriptor;
use crate::testing::{client_of, dtls_certificate, ready_worker_with, remote_dtls_parameters, FakeNetwork};
use crate::worker::Worker;

const PUBLISHER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5004);
const RECORDER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 6004);
const BROWSER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50000);
const STRANGER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7777);

/// (receiver id, kind, MIME type and codec parameters, payload type, SSRCs, header extensions).
type Stream = (&'static str, &'static str, (&'static str, Value), u8, &'static [u32], Value);

fn streams() -> Vec<Stream> {
    let descriptor = json!([{"uri": dependency_descriptor::URI, "id": 8}]);
    let level = json!([{"uri": "urn:ietf:params:rtp-hdrext:ssrc-audio-level", "id": 10}]);
    let h264 = json!({"packetization-mode": 1, "profile-level-id": "42e01f", "level-asymmetry-allowed": 1});
    vec![
        ("vp8", "video", ("video/VP8", json!({})), 96, &[1], json!([])),
        ("vp9", "video", ("video/VP9", json!({"profile-id": 0})), 98, &[2], json!([])),
        ("h264", "video", ("video/H264", h264), 102, &[3], json!([])),
        ("av1", "video", ("video/AV1", json!({})), 45, &[4], descriptor),
        ("opus", "audio", ("audio/opus", json!({})), 111, &[5], level),
        ("simulcast", "video", ("video/VP8", json!({})), 97, &[11, 12, 13], json!([])),
    ]
}

struct Scene {
    worker: Worker,
    network: FakeNetwork,
    now: Instant,
    /// The publisher's, the subscriber's, the WebRTC transport's.
    ports: [SocketAddr; 3],
}

impl Scene {
    fn request(&mut self, method: &str, data: Value) -> Value {
        let request: Request = serde_json::from_value(json!({"method": method, "data": data})).expect("a request of the scene");
        self.worker.handle_request(request, self.now, &mut self.network).unwrap_or_else(|err| panic!("{method}: {err}"))
    }

    /// A peer that receives every codec of the scene.
    fn peer(&mut self, peer_id: &str) {
        self.request("room.createPeer", json!({"roomId": "room", "peerId": peer_id, "name": peer_id}));
        let mut codecs: Vec<Value> = Vec::new();
        for (_, kind, (mime_type, parameters), payload_type, _, _) in streams() {
            if !codecs.iter().any(|codec| codec["mimeType"] == mime_type) {
                let (clock_rate, channels) = if kind == "audio" { (48000, Some(2)) } else { (90000, None) };
                codecs.push(json!({"kind": kind, "mimeType": mime_type, "clockRate": clock_rate, "channels": channels,
                                   "preferredPayloadType": payload_type, "parameters": parameters}));
            }
        }
        let extensions = json!([{"kind": "video", "uri": dependency_descriptor::URI, "preferredId": 8},
                                {"kind": "audio", "uri": "urn:ietf:params:rtp-hdrext:ssrc-audio-level", "preferredId": 10}]);
        self.request("peer.setCapabilities", json!({"peerId": peer_id, "rtpCapabilities": {"codecs": codecs, "headerExtensions": extensions}}));
    }

    fn plain(&mut self, peer_id: &str, endpoint: SocketAddr) -> SocketAddr {
        self.peer(peer_id);
        let created = self.request("peer.createPlainTransport", json!({"peerId": peer_id, "transportId": peer_id, "rtcpMux": true, "comedia": false, "enableNack": true}));
        self.request("transport.connect", json!({"transportId": peer_id, "ip": endpoint.ip().to_string(), "port": endpoint.port()}));
        let tuple = &created["tuple"];
        let ip = tuple["localIp"].as_str().and_then(|ip| ip.parse().ok()).expect("a plain transport's local address");
        SocketAddr::new(ip, tuple["localPort"].as_u64().expect("a plain transport's local port") as u16)
    }

    fn new(state: u8) -> Self {
        let (worker, network, now) = ready_worker_with(worker_settings());
        let unbound = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
        let mut scene = Self { worker, network, now, ports: [unbound; 3] };
        scene.request("room.create", json!({"roomId": "room"}));
        scene.ports[0] = scene.plain("publisher", PUBLISHER);
        scene.ports[1] = scene.plain("recorder", RECORDER);
        for (id, kind, (mime_type, codec_parameters), payload_type, ssrcs, extensions) in streams() {
            let clock_rate = if kind == "audio" { 48000 } else { 90000 };
            let channels = if kind == "audio" { Some(2) } else { None };
            let encodings: Vec<Value> = ssrcs.iter().map(|ssrc| json!({"ssrc": ssrc, "scalabilityMode": "L1T3"})).collect();
            let codec = json!({"mimeType": mime_type, "payloadType": payload_type, "clockRate": clock_rate, "channels": channels, "parameters": codec_parameters});
            let parameters = json!({"codecs": [codec],
                                    "encodings": encodings, "headerExtensions": extensions});
            scene.request("rtpReceiver.receive", json!({"receiverId": id, "transportId": "publisher", "kind": kind, "rtpParameters": parameters}));
            scene.request("rtpSender.create", json!({"senderId": format!("{id}-to-recorder"), "peerId": "recorder", "receiverId": id}));
            scene.request("rtpSender.setTransport", json!({"senderId": format!("{id}-to-recorder"), "transportId": "recorder"}));
        }
        scene.webrtc(state);
        scene
    }

    /// The browser's transport, subscribed to VP8, in the state `state` picks.
    fn webrtc(&mut self, state: u8) {
        self.peer("browser");
        let local = self.request("peer.createTransport", json!({"peerId": "browser", "transportId": "browser", "udp": true, "tcp": true,
            "preferIPv4": false, "preferIPv6": false, "preferUdp": false, "preferTcp": false, "enableSctp": true}));
        self.ports[2] = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), local["iceLocalCandidates"][0]["port"].as_u64().expect("a candidate's port") as u16);
        self.request("rtpSender.create", json!({"senderId": "vp8-to-browser", "peerId": "browser", "receiverId": "vp8"}));
        self.request("rtpSender.setTransport", json!({"senderId": "vp8-to-browser", "transportId": "browser"}));
        if state % 4 == 0 {
            return;
        }
        let certificate = browser_certificate();
        self.request("transport.setRemoteDtlsParameters", json!({"transportId": "browser", "dtlsParameters": remote_dtls_parameters(certificate)}));
        if state % 4 == 1 {
            return;
        }
        // ICE by a str0m client: its binding requests reach the worker; in
        // state 3 everything goes both ways, so DTLS connects too.
        let both_ways = state % 4 == 3;
        let mut client = client_of(&local, certificate, RtcConfig::new(), (BROWSER, self.ports[2]), self.now);
        for _ in 0..50 {
            client.handle_input(RtcInput::Timeout(self.now)).expect("the client takes time");
            while let Ok(output) = client.poll_output() {
                match output {
                    Output::Transmit(transmit) if both_ways || is_stun(&transmit.contents) => {
                        self.worker.handle_datagram(self.now, Protocol::Udp, BROWSER, self.ports[2], &transmit.contents);
                    }
                    Output::Timeout(_) => break,
                    _ => {}
                }
            }
            while let Some((_, datagram)) = self.worker.poll_datagram() {
                if both_ways {
                    let receive = Receive::new(Protocol::Udp, self.ports[2], BROWSER, &datagram.contents).expect("what the worker sends is a datagram");
                    client.handle_input(RtcInput::Receive(self.now, receive)).expect("the client takes the worker's datagrams");
                }
            }
            let stats = self.request("transport.getStats", json!({"transportId": "browser"}));
            if if both_ways { stats[0]["dtlsState"] == "connected" } else { stats[0]["iceState"] != "new" } {
                break;
            }
            self.now += Duration::from_millis(5);
            self.worker.handle_timeout(self.now);
        }
        self.settle(Duration::from_millis(1));
    }

    fn settle(&mut self, elapsed: Duration) {
        self.now += elapsed;
        self.worker.handle_timeout(self.now);
        while self.worker.poll_datagram().is_some() {}
        for notification in self.worker.take_notifications() {
            // The transport survives a panic inside str0m by ending; for a
            // fuzzer that is a crash all the same.
            let text = serde_json::to_string(&notification).unwrap_or_default();
            assert!(!text.contains("an internal error"), "{text}");
        }
    }
}

/// A STUN message: its first two bits 0 (RFC 7983).
fn is_stun(datagram: &[u8]) -> bool {
    datagram.first().is_some_and(|first| *first < 4)
}

/// The browser's certificate: one for every case.
pub(super) fn browser_certificate() -> &'static DtlsCert {
    static CERTIFICATE: OnceLock<DtlsCert> = OnceLock::new();
    CERTIFICATE.get_or_init(dtls_certificate)
}

/// How many inputs one scene takes before it is made again: a scene lasts
/// across inputs (making one is most of an input's cost: its requests and,
/// connected, a DTLS handshake), so an input meets what earlier ones left,
/// as a live worker does; a finding replays with at most this many before it.
pub const SCENE_USES: u32 = 256;

thread_local! {
    /// A scene per state, and how many inputs each has taken.
    static SCENES: RefCell<[Option<(Scene, u32)>; 4]> = const { RefCell::new([None, None, None, None]) };
}

pub fn datagrams(data: &[u8]) {
    let mut input = Input::new(data);
    let state = usize::from(input.byte() % 4);
    let (mut scene, uses) = SCENES.with_borrow_mut(|scenes| scenes[state].take()).unwrap_or_else(|| (Scene::new(state as u8), 0));
    while !input.is_empty() {
        let selector = input.byte();
        let bytes = input.record();
        let (endpoint, local, protocol) = match selector & 3 {
            0 => (PUBLISHER, scene.ports[0], Protocol::Udp),
            1 => (RECORDER, scene.ports[1], Protocol::Udp),
            2 => (BROWSER, scene.ports[2], Protocol::Udp),
            _ => (BROWSER, scene.ports[2], Protocol::Tcp),
        };
        let source = if selector & 4 == 0 { endpoint } else { STRANGER };
        let elapsed = Duration::from_millis(25 * u64::from((selector >> 3) & 7));
        if !elapsed.is_zero() {
            scene.settle(elapsed);
        }
        scene.worker.handle_datagram(scene.now, protocol, source, local, bytes);
    }
    scene.settle(Duration::from_millis(100));
    if uses % 64 == 0 {
        // What a dump and the stats read of everything that happened.
        scene.settle(Duration::from_secs(2));
        for transport in ["publisher", "recorder", "browser"] {
            scene.request("transport.getStats", json!({"transportId": transport}));
        }
        scene.request("room.dump", json!({"roomId": "room"}));
    }
    if uses + 1 < SCENE_USES {
        SCENES.with_borrow_mut(|scenes| scenes[state] = Some((scene, uses + 1)));
    }
}
