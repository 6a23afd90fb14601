//! Pipes' plain transports in the whole worker: entries on the port the
//! worker's plain transports share (`sharedPort`), each taking what comes
//! from its exit alone; and the worker's own cost of a hop, counted in
//! instructions (as bench/fanout counts a subscriber's copy): a publisher's
//! VP8 on a plain transport in room "stage", piped (pipe senders on plain
//! transports with NACKs, what the Python `Pipe` makes) to entries in as
//! many other rooms, every datagram between them carried in memory, fake
//! time. Run under cachegrind at two packet counts by `bench/fanout --hop`:
//! the difference over the extra hops is the worker's instructions per
//! packet through a hop, its exit's send and its entry's receive, with no
//! kernel.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use str0m::net::Protocol;

use crate::channel::message::Request;
use crate::rtp::rtcp::is_rtcp;
use crate::rtp::wire::{write_rtp, RtpFields};
use crate::testing::{ready_worker, FakeNetwork};
use crate::worker::Worker;

const PUBLISHER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5004);
const SSRC: u32 = 0x00C0_FFEE;

struct Hops {
    worker: Worker,
    network: FakeNetwork,
    now: Instant,
}

impl Hops {
    fn request(&mut self, method: &str, data: Value) -> Value {
        let request: Request = serde_json::from_value(json!({"method": method, "data": data})).unwrap();
        self.worker.handle_request(request, self.now, &mut self.network).unwrap()
    }

    /// A peer of `room` with the room's VP8 and a plain transport (with
    /// NACKs unless comedia: a pipe's half; on the worker's shared port if
    /// `shared`); its local address.
    fn plain_peer(&mut self, room: &str, peer: &str, comedia: bool, shared: bool) -> SocketAddr {
        self.request("room.createPeer", json!({"roomId": room, "peerId": peer, "name": peer}));
        let capabilities = json!({"codecs": [{"kind": "video", "mimeType": "video/VP8", "clockRate": 90000, "preferredPayloadType": 101}], "headerExtensions": []});
        self.request("peer.setCapabilities", json!({"peerId": peer, "rtpCapabilities": capabilities}));
        let options = json!({"peerId": peer, "transportId": peer, "rtcpMux": true, "comedia": comedia, "enableNack": !comedia, "sharedPort": shared});
        let created = self.request("peer.createPlainTransport", options);
        let tuple = &created["tuple"];
        SocketAddr::new(tuple["localIp"].as_str().unwrap().parse().unwrap(), tuple["localPort"].as_u64().unwrap() as u16)
    }

    /// Delivers what the worker sent (each pipe half's datagrams to the
    /// other half); answers how many RTP packets reached one of the `entries`.
    fn carry(&mut self, entries: &HashSet<SocketAddr>) -> usize {
        let mut delivered = 0;
        for _ in 0..4 {
            let sent: Vec<_> = std::iter::from_fn(|| self.worker.poll_datagram()).map(|(_, datagram)| datagram).collect();
            if sent.is_empty() {
                break;
            }
            for datagram in sent {
                delivered += usize::from(entries.contains(&datagram.destination) && !is_rtcp(&datagram.contents));
                self.worker.handle_datagram(self.now, Protocol::Udp, datagram.source, datagram.destination, &datagram.contents);
            }
            self.worker.handle_timeout(self.now);
        }
        delivered
    }
}

/// A VP8 packet of 1,000 bytes of payload (a keyframe first).
fn vp8_packet(sequence_number: u16) -> Vec<u8> {
    let mut payload = vec![0x10, if sequence_number == 1 { 0x00 } else { 0x01 }, 0x9d, 0x01, 0x2a];
    payload.resize(1_000, 7);
    let fields = RtpFields { ssrc: SSRC, payload_type: 96, sequence_number, timestamp: 3000 * u32::from(sequence_number / 3), marker: true, payload: 0..0 };
    let mut packet = Vec::new();
    write_rtp(&fields, &[], &payload, &mut packet);
    packet
}

#[test]
fn a_packet_through_pipe_hops_reaches_every_entry_and_its_cost_is_measured() {
    let setting = |name: &str, default: usize| std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default);
    let (pipes, packets) = (setting("HOP_PIPES", 10), setting("HOP_PACKETS", 30));
    let (worker, network, now) = ready_worker();
    let mut hops = Hops { worker, network, now };
    hops.request("room.create", json!({"roomId": "stage"}));
    let publisher = hops.plain_peer("stage", "ffmpeg", true, false);
    let parameters = json!({"codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000}], "encodings": [{"ssrc": SSRC}]});
    hops.request("rtpReceiver.receive", json!({"receiverId": "camera", "transportId": "ffmpeg", "kind": "video", "rtpParameters": parameters}));
    let mut entry_ports = HashSet::new();
    for index in 0..pipes {
        let hall = format!("hall-{index}");
        hops.request("room.create", json!({"roomId": hall}));
        let exit = hops.plain_peer("stage", &format!("exit-{index}"), false, false);
        let entry = hops.plain_peer(&hall, &format!("entry-{index}"), false, true);
        entry_ports.insert(entry);
        hops.request("transport.connect", json!({"transportId": format!("exit-{index}"), "ip": "127.0.0.1", "port": entry.port()}));
        hops.request("transport.connect", json!({"transportId": format!("entry-{index}"), "ip": "127.0.0.1", "port": exit.port()}));
        let sender = json!({"senderId": format!("pipe-{index}"), "peerId": format!("exit-{index}"), "receiverId": "camera", "pipe": true});
        let created = hops.request("rtpSender.create", sender);
        let placed = hops.request("rtpSender.setTransport", json!({"senderId": format!("pipe-{index}"), "transportId": format!("exit-{index}")}));
        let mut sent = if placed.is_null() { created } else { placed["rtpParameters"].clone() };
        sent.as_object_mut().unwrap().remove("mid");
        let copy = json!({"receiverId": format!("copy-{index}"), "transportId": format!("entry-{index}"), "kind": "video", "rtpParameters": sent});
        hops.request("rtpReceiver.receive", copy);
    }
    hops.carry(&entry_ports);

    let mut inside_worker = Duration::ZERO;
    let mut delivered = 0;
    for index in 0..packets {
        let packet = vp8_packet(1 + index as u16);
        let started = Instant::now();
        hops.worker.handle_datagram(hops.now, Protocol::Udp, PUBLISHER, publisher, &packet);
        hops.worker.handle_timeout(hops.now);
        delivered += hops.carry(&entry_ports);
        inside_worker += started.elapsed();
        hops.now += Duration::from_millis(10);
    }
    assert_eq!(entry_ports.len(), 1, "the entries share one port");
    assert_eq!(delivered, pipes * packets, "every packet crossed every hop once");
    for index in 0..pipes {
        let stats = hops.request("transport.getStats", json!({"transportId": format!("entry-{index}")}));
        assert_eq!(stats[0]["rtpPacketsReceived"], packets, "entry {index}");
        assert_eq!(stats[0]["packetsDiscarded"], 0);
    }
    eprintln!("{:.2} µs per hop", inside_worker.as_secs_f64() * 1e6 / (pipes * packets) as f64);
}

#[test]
fn plain_transports_on_the_shared_port_take_what_comes_from_their_endpoint_alone() {
    let (worker, network, now) = ready_worker();
    let mut hops = Hops { worker, network, now };
    hops.request("room.create", json!({"roomId": "hall"}));
    let a = hops.plain_peer("hall", "a", false, true);
    let b = hops.plain_peer("hall", "b", false, true);
    assert_eq!(a, b, "one port");
    let (from_a, from_b, stranger) = (SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 7001), SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 7002), SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 7003));
    hops.request("transport.connect", json!({"transportId": "a", "ip": "127.0.0.1", "port": from_a.port()}));
    // Another transport there cannot take a's endpoint.
    let request: Request = serde_json::from_value(json!({"method": "transport.connect", "data": {"transportId": "b", "ip": "127.0.0.1", "port": from_a.port()}})).unwrap();
    let refused = hops.worker.handle_request(request, hops.now, &mut hops.network).unwrap_err();
    assert!(refused.to_string().contains("is connected to 127.0.0.1:7001 already"), "{refused}");
    hops.request("transport.connect", json!({"transportId": "b", "ip": "127.0.0.1", "port": from_b.port()}));
    for (index, (peer, ssrc)) in [("a", 11u32), ("b", 22u32)].into_iter().enumerate() {
        let parameters = json!({"codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000}], "encodings": [{"ssrc": ssrc}]});
        hops.request("rtpReceiver.receive", json!({"receiverId": format!("r{index}"), "transportId": peer, "kind": "video", "rtpParameters": parameters}));
    }
    let packet = |ssrc: u32| {
        let mut packet = Vec::new();
        write_rtp(&RtpFields { ssrc, payload_type: 96, sequence_number: 1, timestamp: 0, marker: true, payload: 0..0 }, &[], &[0x10, 0, 1, 2], &mut packet);
        packet
    };
    for (source, ssrc) in [(from_a, 11), (from_b, 22), (from_b, 11), (stranger, 11), (stranger, 22)] {
        hops.worker.handle_datagram(hops.now, Protocol::Udp, source, a, &packet(ssrc));
    }
    let received = |hops: &mut Hops, id: &str| {
        let stats = hops.request("transport.getStats", json!({"transportId": id}));
        (stats[0]["rtpPacketsReceived"].as_u64().unwrap(), stats[0]["packetsDiscarded"].as_u64().unwrap())
    };
    // b discards a's SSRC from its own endpoint; the stranger reaches nobody.
    assert_eq!(received(&mut hops, "a"), (1, 0));
    assert_eq!(received(&mut hops, "b"), (1, 1));
    // a closed: its endpoint's datagrams reach nobody, and another transport may take that endpoint.
    hops.request("transport.close", json!({"transportId": "a"}));
    hops.worker.handle_datagram(hops.now, Protocol::Udp, from_a, a, &packet(22));
    assert_eq!(received(&mut hops, "b"), (1, 1));
    assert_eq!(hops.plain_peer("hall", "d", false, true), a);
    hops.request("transport.connect", json!({"transportId": "d", "ip": "127.0.0.1", "port": from_a.port()}));
    let parameters = json!({"codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000}], "encodings": [{"ssrc": 11}]});
    hops.request("rtpReceiver.receive", json!({"receiverId": "r3", "transportId": "d", "kind": "video", "rtpParameters": parameters}));
    hops.worker.handle_datagram(hops.now, Protocol::Udp, from_a, a, &packet(11));
    assert_eq!(received(&mut hops, "d"), (1, 0));
    // Options a shared port cannot have.
    for (comedia, rtcp_mux) in [(true, true), (false, false)] {
        hops.request("room.createPeer", json!({"roomId": "hall", "peerId": format!("c-{comedia}"), "name": format!("c-{comedia}")}));
        let options = json!({"peerId": format!("c-{comedia}"), "transportId": format!("c-{comedia}"), "rtcpMux": rtcp_mux, "comedia": comedia, "sharedPort": true});
        let request: Request = serde_json::from_value(json!({"method": "peer.createPlainTransport", "data": options})).unwrap();
        let refused = hops.worker.handle_request(request, hops.now, &mut hops.network).unwrap_err();
        assert!(refused.to_string().contains("it takes rtcpMux and no comedia"), "{refused}");
    }
}
