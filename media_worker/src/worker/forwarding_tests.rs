//! The router end to end without a socket or a clock: a publishing and a
//! subscribing str0m client connected to the worker through memory, with
//! fake time, loss, reordering, and sequence numbers and timestamps that
//! wrap around.

use crate::testing::{ready_worker, ready_worker_with, settings, FakeNetwork};
use super::*;
use std::net::SocketAddr;
use str0m::net::Protocol;
use serde_json::json;
use std::net::Ipv4Addr;
use std::time::Duration;
use str0m::format::{Codec, CodecConfig, FormatParams};
use str0m::media::{Frequency, KeyframeRequestKind, MediaKind as Str0mKind, Mid, Pt};
use str0m::net::Receive;
use str0m::rtp::rtcp::Rtcp;
use str0m::media::Rid;
use str0m::rtp::{Extension, ExtensionMap, RawPacket, RtpWrite, SeqNo, Ssrc};
use str0m::{Event, Input, Output, Rtc, RtcConfig};

const PUBLISHER_SSRC: u32 = 1111;
const PUBLISHER_RTX_SSRC: u32 = 2222;

struct Client {
    rtc: Rtc,
    address: SocketAddr,
    server: SocketAddr,
    key: TransportKey,
    events: Vec<Event>,
}

/// Which way a datagram goes, for the loss and reordering rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leg {
    ToWorker,
    ToClient,
}

/// The RTP SSRC of an (S)RTP datagram; None for STUN, DTLS and RTCP.
fn rtp_ssrc(datagram: &[u8]) -> Option<u32> {
    let is_rtp = datagram.len() > 12 && (128..192).contains(&datagram[0]) && !(200..208).contains(&datagram[1]);
    is_rtp.then(|| u32::from_be_bytes([datagram[8], datagram[9], datagram[10], datagram[11]]))
}

type DropRule = Box<dyn FnMut(usize, Leg, &[u8]) -> bool>;

struct Router {
    worker: Worker,
    network: FakeNetwork,
    now: Instant,
    clients: Vec<Client>,
    /// Decides whether a datagram of client `index` on a leg is lost.
    lose: DropRule,
    /// A datagram held back to arrive after the next one, or 30 ms later
    /// (reordering).
    held: Option<(usize, Vec<u8>, Instant)>,
}

impl Router {
    fn new() -> Self {
        Self::on(ready_worker())
    }

    /// Every transport on the worker's one port (`rtcPortPerWorker`).
    fn shared_port() -> Self {
        Self::on(ready_worker_with(WorkerSettings { rtc_port_per_worker: true, ..settings() }))
    }

    fn on((worker, network, now): (Worker, FakeNetwork, Instant)) -> Self {
        let mut router = Self { worker, network, now, clients: Vec::new(), lose: Box::new(|_, _, _| false), held: None };
        router.request("room.create", json!({"roomId": "room", "mediaCodecs": null, "forceUniquePayloadTypes": false})).unwrap();
        router
    }

    fn request(&mut self, method: &str, data: Value) -> Result<Value, WorkerError> {
        let request: Request = serde_json::from_value(json!({"method": method, "data": data})).unwrap();
        self.worker.handle_request(request, self.now, &mut self.network)
    }

    /// A peer with a transport, and a str0m client connected to it (ICE and
    /// DTLS) with `codecs`. Answers the client's index.
    fn connect(&mut self, peer_id: &str, capabilities: Option<Value>, config: RtcConfig) -> usize {
        self.request("room.createPeer", json!({"roomId": "room", "peerId": peer_id, "name": peer_id})).unwrap();
        if let Some(capabilities) = capabilities {
            self.request("peer.setCapabilities", json!({"peerId": peer_id, "rtpCapabilities": capabilities})).unwrap();
        }
        let transport_id = format!("{peer_id}-transport");
        let local = self
            .request(
                "peer.createTransport",
                json!({"peerId": peer_id, "transportId": transport_id, "udp": true, "tcp": false,
                       "preferIPv4": false, "preferIPv6": false, "preferUdp": false, "preferTcp": false, "enableSctp": false}),
            )
            .unwrap();
        let key = self.worker.transport_key(&transport_id).unwrap();
        let sockets = self.network.open.get(&key).unwrap_or(&self.network.shared);
        let server = sockets.iter().find(|s| s.protocol == Protocol::Udp).unwrap().address;
        let address = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50000 + self.clients.len() as u16);
        let client_certificate = crate::testing::dtls_certificate();
        let rtc = crate::testing::client_of(&local, &client_certificate, config, (address, server), self.now);
        let dtls = crate::testing::remote_dtls_parameters(&client_certificate);
        self.request("transport.setRemoteDtlsParameters", json!({"transportId": transport_id, "dtlsParameters": dtls})).unwrap();
        self.clients.push(Client { rtc, address, server, key, events: Vec::new() });
        self.clients.len() - 1
    }

    fn deliver_to_worker(&mut self, index: usize, datagram: Vec<u8>) {
        let (source, local) = (self.clients[index].address, self.clients[index].server);
        self.worker.handle_datagram(self.now, Protocol::Udp, source, local, &datagram);
    }

    /// Polls client `index` until its next timeout (str0m's rule: drain
    /// after every input): its datagrams go to the worker, through the loss
    /// and reordering rules. Answers the timeout.
    fn poll_client(&mut self, index: usize) -> Instant {
        loop {
            match self.clients[index].rtc.poll_output().unwrap() {
                Output::Transmit(transmit) => {
                    let datagram: Vec<u8> = transmit.contents.into();
                    if (self.lose)(index, Leg::ToWorker, &datagram) {
                        continue;
                    }
                    // Reordering: a held datagram arrives after the next one.
                    if let Some((held_index, held, _)) = self.held.take() {
                        self.deliver_to_worker(index, datagram);
                        self.deliver_to_worker(held_index, held);
                    } else if rtp_ssrc(&datagram) == Some(PUBLISHER_SSRC) && datagram[3].is_multiple_of(17) {
                        self.held = Some((index, datagram, self.now));
                    } else {
                        self.deliver_to_worker(index, datagram);
                    }
                }
                Output::Timeout(due) => return due,
                Output::Event(event) => self.clients[index].events.push(event),
            }
        }
    }

    /// Moves datagrams both ways and advances fake time for `duration`.
    fn run(&mut self, duration: Duration) {
        let end = self.now + duration;
        loop {
            let mut next = end.min(self.now + Duration::from_millis(10));
            for index in 0..self.clients.len() {
                next = next.min(self.poll_client(index));
            }
            if let Some((index, held, _)) = self.held.take_if(|(_, _, at)| self.now >= *at + Duration::from_millis(30)) {
                self.deliver_to_worker(index, held);
            }
            while let Some((key, datagram)) = self.worker.poll_datagram() {
                let Some(index) = self.clients.iter().position(|client| client.key == key) else { continue };
                if (self.lose)(index, Leg::ToClient, &datagram.contents) {
                    continue;
                }
                let client = &mut self.clients[index];
                let receive = Receive::new(Protocol::Udp, client.server, client.address, &datagram.contents).unwrap();
                client.rtc.handle_input(Input::Receive(self.now, receive)).unwrap();
                next = next.min(self.poll_client(index));
            }
            if self.now >= end {
                break;
            }
            if let Some(due) = self.worker.next_timeout() {
                next = next.min(due);
            }
            self.now = next.max(self.now + Duration::from_millis(1)).min(end);
            for client in &mut self.clients {
                client.rtc.handle_input(Input::Timeout(self.now)).unwrap();
            }
            self.worker.handle_timeout(self.now);
        }
    }

    fn events(&mut self, index: usize) -> Vec<Event> {
        std::mem::take(&mut self.clients[index].events)
    }
}

/// A client that speaks VP8 at `payload_type` (RTX `rtx`), and writes and
/// reads header extensions at the room's ids.
fn vp8(payload_type: u8, rtx: u8) -> RtcConfig {
    let mut codecs = CodecConfig::empty();
    codecs.add_config(Pt::from(payload_type), Some(Pt::from(rtx)), Codec::Vp8, Frequency::NINETY_KHZ, None, FormatParams::default());
    let room = crate::rtp::capabilities::room_rtp_capabilities(None).unwrap();
    let mut config = RtcConfig::new().set_extension_map(crate::rtp::codec_table::transport_extension_map(&room, None));
    *config.codec_config() = codecs;
    config
}

/// alice publishes VP8 (her payload types 96/97); bob subscribes (the
/// room's, 101/102). Answers the router and bob's sender parameters.
fn call() -> (Router, Value) {
    call_with(vp8(96, 97))
}

/// The same, with alice's client built from `alice_config`.
fn call_with(alice_config: RtcConfig) -> (Router, Value) {
    call_with_payload_types(alice_config, (96, 97))
}

/// The same, with alice publishing VP8 at `payload_types` (media, RTX).
fn call_with_payload_types(alice_config: RtcConfig, (pt, rtx_pt): (u8, u8)) -> (Router, Value) {
    let mut router = Router::new();
    let alice = router.connect("alice", None, alice_config);
    let bob = connect_bob(&mut router);
    router.run(Duration::from_secs(2));
    for index in [alice, bob] {
        assert!(router.clients[index].events.iter().any(|event| matches!(event, Event::Connected)), "client {index} connected");
    }
    let parameters = declare_video(&mut router, alice, (pt, rtx_pt));
    let consumer = subscribe_bob(&mut router, bob, parameters);
    (router, consumer)
}

/// alice (client `alice`) declares her VP8 stream on mid 0 at
/// `payload_types` (media, RTX); answers its `rtpParameters`.
fn declare_video(router: &mut Router, alice: usize, (pt, rtx_pt): (u8, u8)) -> Value {
    let mid = Mid::from("0");
    let mut api = router.clients[alice].rtc.direct_api();
    api.declare_media(mid, Str0mKind::Video);
    api.declare_stream_tx(Ssrc::from(PUBLISHER_SSRC), Some(Ssrc::from(PUBLISHER_RTX_SSRC)), mid, None);
    json!({
        "mid": "0",
        "codecs": [{"mimeType": "video/VP8", "payloadType": pt, "clockRate": 90000},
                   {"mimeType": "video/rtx", "payloadType": rtx_pt, "clockRate": 90000, "parameters": {"apt": pt}}],
        "encodings": [{"ssrc": PUBLISHER_SSRC, "rtx": {"ssrc": PUBLISHER_RTX_SSRC}}],
        "rtcp": {"cname": "alice"},
    })
}

/// alice's stream "video" received with `parameters`, and bob (client
/// `bob`) subscribed to it on his transport. Answers bob's consumer parameters.
fn subscribe_bob(router: &mut Router, bob: usize, parameters: Value) -> Value {
    router
        .request("rtpReceiver.receive", json!({"receiverId": "video", "transportId": "alice-transport", "kind": "video", "rtpParameters": parameters}))
        .unwrap();
    let consumer = router.request("rtpSender.create", json!({"senderId": "to-bob", "peerId": "bob", "receiverId": "video"})).unwrap();
    let ssrc = consumer["encodings"][0]["ssrc"].as_u64().unwrap() as u32;
    let rtx = consumer["encodings"][0]["rtx"]["ssrc"].as_u64().unwrap() as u32;
    let mid = Mid::from(consumer["mid"].as_str().unwrap());
    let mut api = router.clients[bob].rtc.direct_api();
    api.declare_media(mid, Str0mKind::Video);
    api.expect_stream_rx(Ssrc::from(ssrc), Some(Ssrc::from(rtx)), mid, None);
    router.request("rtpSender.setTransport", json!({"senderId": "to-bob", "transportId": "bob-transport"})).unwrap();
    router.run(Duration::from_millis(100));
    consumer
}

/// bob, subscribing with the room's VP8 (101, RTX 102).
fn connect_bob(router: &mut Router) -> usize {
    let room_codecs = json!({"codecs": [
        {"kind": "video", "mimeType": "video/VP8", "clockRate": 90000, "preferredPayloadType": 101},
        {"kind": "video", "mimeType": "video/rtx", "clockRate": 90000, "preferredPayloadType": 102, "parameters": {"apt": 101}},
    ]});
    router.connect("bob", Some(room_codecs), vp8(101, 102))
}

/// alice sends `count` packets, 100 per second, three per 30 fps frame,
/// from sequence number `first` and timestamp `first_timestamp`; each
/// payload names its index.
fn publish(router: &mut Router, count: u16, first: u64, first_timestamp: u32) {
    publish_at(router, 96, count, first, first_timestamp);
}

/// The same, at payload type `pt`.
fn publish_at(router: &mut Router, pt: u8, count: u16, first: u64, first_timestamp: u32) {
    for index in 0..count {
        let timestamp = first_timestamp.wrapping_add(u32::from(index / 3) * 3000);
        let now = router.now;
        let payload: Vec<u8> = index.to_be_bytes().iter().copied().chain(std::iter::repeat_n(7u8, 500)).collect();
        let mut api = router.clients[0].rtc.direct_api();
        let stream = api.stream_tx(&Ssrc::from(PUBLISHER_SSRC)).unwrap();
        let write = RtpWrite::new(Pt::from(pt), SeqNo::from(first + u64::from(index)), timestamp, now, std::sync::Arc::<[u8]>::from(payload))
            .marker(index % 3 == 2)
            .nackable(true);
        stream.write_rtp(write);
        router.run(Duration::from_millis(10));
    }
}

/// What bob's client received on `ssrcs` (a stream and its RTX): (sequence
/// number, timestamp, index in the payload, payload type).
fn received(events: &[Event], ssrcs: [u32; 2]) -> Vec<(u64, u32, u16, u8)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::RtpPacket(packet) if ssrcs.contains(&*packet.header.ssrc) => Some((
                *packet.seq_no,
                packet.header.timestamp,
                u16::from_be_bytes([packet.payload[0], packet.payload[1]]),
                *packet.header.payload_type,
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn packets_are_rewritten_in_order_across_the_wrap_around_with_reordering_and_loss_recovered_both_ways() {
    let (mut router, consumer) = call();
    let ssrc = consumer["encodings"][0]["ssrc"].as_u64().unwrap() as u32;
    let rtx = consumer["encodings"][0]["rtx"]["ssrc"].as_u64().unwrap() as u32;
    // One RTP packet in 20 lost on each leg (not among the first or last
    // ten, whose loss no later packet reveals; never a retransmission):
    // NACK upstream recovers the first leg, RTX from the worker's buffer the
    // second (str0m unwraps it to the stream's SSRC).
    let mut seen = [0u32; 2];
    router.lose = Box::new(move |_, leg, datagram| {
        let Some(packet_ssrc) = rtp_ssrc(datagram) else { return false };
        let (counter, original) = match leg {
            Leg::ToWorker => (&mut seen[0], PUBLISHER_SSRC),
            Leg::ToClient => (&mut seen[1], ssrc),
        };
        if packet_ssrc != original {
            return false;
        }
        *counter += 1;
        (10..590).contains(counter) && *counter % 20 == 0
    });
    // Sequence numbers cross 65535 → 0 and timestamps cross 2^32 on the way.
    publish(&mut router, 600, 65_200, u32::MAX - 30_000);
    router.run(Duration::from_secs(1));
    let events = router.events(1);
    let mut packets = received(&events, [ssrc, rtx]);
    assert!(packets.iter().all(|(_, _, _, pt)| *pt == 101), "the room's payload type (RTX unwrapped)");
    packets.sort();
    let indexes: Vec<u16> = packets.iter().map(|(_, _, index, _)| *index).collect();
    let missing: Vec<u16> = (0..600).filter(|index| !indexes.contains(index)).collect();
    assert!(missing.is_empty(), "missing at bob: {missing:?}");
    assert_eq!(indexes, (0..600).collect::<Vec<u16>>(), "every packet, once, in order of the rewritten numbers");
    for (sequence_number, timestamp, index, _) in &packets {
        // The rewritten numbers start at 1 and keep the publisher's order.
        assert_eq!(*sequence_number, 1 + u64::from(*index) + bob_first_offset(&packets));
        assert_eq!(*timestamp, (u32::MAX - 30_000).wrapping_add(u32::from(index / 3) * 3000), "timestamps pass through the wrap");
    }
    // The losses were real, and recovered as the statistics tell.
    let inbound = router.request("rtpReceiver.getStats", json!({"receiverId": "video"})).unwrap();
    assert_eq!(inbound[0]["packetsReceived"], json!(600));
    assert_eq!(inbound[0]["packetsLost"], json!(0));
    assert!(inbound[0]["nackCount"].as_u64().unwrap() > 0, "{inbound}");
    let outbound = router.request("rtpSender.getStats", json!({"senderId": "to-bob"})).unwrap();
    assert_eq!(outbound[0]["packetsSent"], json!(600));
    assert!(outbound[0]["nackCount"].as_u64().unwrap() > 0, "{outbound}");
}

#[test]
fn on_one_shared_port_each_transport_gets_its_own_datagrams_and_a_closed_one_s_get_nowhere() {
    let mut router = Router::shared_port();
    let alice = router.connect("alice", None, vp8(96, 97));
    let bob = connect_bob(&mut router);
    assert_eq!(router.clients[alice].server, router.clients[bob].server);
    assert_eq!(router.network.open.len(), 0, "no socket of their own");
    router.run(Duration::from_secs(2));
    for index in [alice, bob] {
        assert!(router.clients[index].events.iter().any(|event| matches!(event, Event::Connected)), "client {index} connected");
    }
    // Each client's tuple was learnt from its transport's binding response.
    assert_eq!(router.worker.demux.tuple_count(), 2);
    let parameters = declare_video(&mut router, alice, (96, 97));
    let consumer = subscribe_bob(&mut router, bob, parameters);
    let ssrc = consumer["encodings"][0]["ssrc"].as_u64().unwrap() as u32;
    let rtx = consumer["encodings"][0]["rtx"]["ssrc"].as_u64().unwrap() as u32;
    publish(&mut router, 50, 1, 0);
    // All of them (the harness reorders a few on the way).
    let mut indexes: Vec<u16> = received(&router.events(bob), [ssrc, rtx]).iter().map(|packet| packet.2).collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..50).collect::<Vec<_>>());
    // bob's transport closes: his tuple and ufrag are forgotten, and what his
    // client goes on sending (binding requests, RTCP) reaches no transport.
    router.request("transport.close", json!({"transportId": "bob-transport"})).unwrap();
    assert_eq!(router.worker.demux.tuple_count(), 1);
    router.run(Duration::from_secs(3));
    assert_eq!(router.worker.demux.tuple_count(), 1);
}

/// The offset between the first rewritten number (str0m's extended form on
/// bob's side) and 1: bob's str0m extends from the first number it saw.
#[test]
fn a_forwarded_packet_leaves_in_the_loop_turn_it_arrived_in() {
    // str0m releases a written packet at a timeout it asks for "now": the
    // worker runs it at once rather than at its next timer (epoll rounds a
    // sub-millisecond wait up to 1 ms, which every packet would wait).
    let (mut router, consumer) = call();
    let ssrc = consumer["encodings"][0]["ssrc"].as_u64().unwrap() as u32;
    let bob = router.clients[1].key;
    while router.worker.poll_datagram().is_some() {}
    let now = router.now;
    let mut api = router.clients[0].rtc.direct_api();
    let stream = api.stream_tx(&Ssrc::from(PUBLISHER_SSRC)).unwrap();
    stream.write_rtp(RtpWrite::new(Pt::from(96), SeqNo::from(5), 0, now, std::sync::Arc::<[u8]>::from(vec![1u8; 100])).nackable(true));
    router.clients[0].rtc.handle_input(Input::Timeout(now)).unwrap();
    // Delivered to the worker at `now`, and the loop turn ends at `now`:
    // bob's transport waits to be drained, then is, in a chunk of one.
    router.poll_client(0);
    assert!(router.worker.flush_writes(now, 0));
    assert!(!router.worker.flush_writes(now, 1));
    let forwarded = std::iter::from_fn(|| router.worker.poll_datagram())
        .filter(|(key, datagram)| *key == bob && rtp_ssrc(&datagram.contents) == Some(ssrc))
        .count();
    assert_eq!(forwarded, 1);
}

fn bob_first_offset(packets: &[(u64, u32, u16, u8)]) -> u64 {
    packets[0].0 - 1 - u64::from(packets[0].2)
}

#[test]
fn connected_transports_with_nothing_to_send_wake_the_worker_rarely() {
    let (mut router, _) = call();
    router.run(Duration::from_secs(5));
    let before = router.worker.timers.fired();
    router.run(Duration::from_secs(60));
    let per_transport_per_second = (router.worker.timers.fired() - before) as f64 / 2.0 / 60.0;
    eprintln!("timer runs per idle transport per second: {per_transport_per_second:.2}");
    assert!(per_transport_per_second <= 2.0, "{per_transport_per_second:.2} timer runs per transport per second");
}

#[test]
fn a_subscriber_s_keyframe_requests_reach_the_publisher_at_most_every_500_ms() {
    let (mut router, consumer) = call();
    let ssrc = Ssrc::from(consumer["encodings"][0]["ssrc"].as_u64().unwrap() as u32);
    publish(&mut router, 30, 1, 0);
    let requests = |events: &[Event]| events.iter().filter(|event| matches!(event, Event::KeyframeRequest(_))).count();
    // bob's sender started with a keyframe request.
    assert_eq!(requests(&router.events(0)), 1);
    // bob asks every 100 ms for 2 s: 20 requests, 4 or 5 reach alice.
    for _ in 0..20 {
        router.clients[1].rtc.direct_api().stream_rx(&ssrc).unwrap().request_keyframe(KeyframeRequestKind::Pli);
        router.run(Duration::from_millis(100));
    }
    let relayed = requests(&router.events(0));
    assert!((4..=5).contains(&relayed), "{relayed}");
    // A FIR counts as well; a pause in bob's requests lets the next one through at once.
    router.run(Duration::from_millis(600));
    router.clients[1].rtc.direct_api().stream_rx(&ssrc).unwrap().request_keyframe(KeyframeRequestKind::Fir);
    router.run(Duration::from_millis(50));
    assert_eq!(requests(&router.events(0)), 1);
    let outbound = router.request("rtpSender.getStats", json!({"senderId": "to-bob"})).unwrap();
    router.run(Duration::from_millis(1100));
    let later = router.request("rtpSender.getStats", json!({"senderId": "to-bob"})).unwrap();
    assert!(later[0]["pliCount"].as_u64().unwrap() >= 20, "{outbound} {later}");
    assert_eq!(later[0]["firCount"], json!(1));
}

#[test]
fn a_publisher_that_numbers_its_packets_gets_transport_cc_feedback() {
    // alice's str0m numbers every packet (transport-wide sequence) and
    // estimates her bandwidth from the feedback, as a browser does.
    let (mut router, _) = call_with(vp8(96, 97).enable_bwe(Some(str0m::bwe::Bitrate::kbps(500))).enable_raw_packets(true));
    publish(&mut router, 100, 1, 0);
    let feedback = router
        .events(0)
        .iter()
        .filter(|event| matches!(event, Event::RawPacket(raw) if matches!(**raw, RawPacket::RtcpRx(Rtcp::Twcc(_)))))
        .count();
    // One feedback packet per 100 ms or so of media: about ten in one second.
    assert!(feedback >= 5, "{feedback} transport-cc feedback packets");
}

#[test]
fn a_publisher_s_media_at_a_payload_type_the_table_holds_as_rtx_is_not_read_as_a_retransmission() {
    // mediasoup-client publishes with the browser's own payload types, which
    // a transport's table (fixed when it is built) cannot know: Chromium's
    // H264 at 108 is the room's AV1 RTX. str0m read every such packet as a
    // retransmission and unwrapped it: the subscriber got almost nothing.
    let room = crate::rtp::capabilities::room_rtp_capabilities(None).unwrap();
    let av1_rtx = room.codecs.iter().find(|c| c.mime_type == "video/rtx" && c.parameters.get("apt") == Some(&json!(107))).unwrap();
    assert_eq!(av1_rtx.preferred_payload_type, 108);
    let (mut router, consumer) = call_with_payload_types(vp8(108, 109), (108, 109));
    let ssrc = consumer["encodings"][0]["ssrc"].as_u64().unwrap() as u32;
    let rtx = consumer["encodings"][0]["rtx"]["ssrc"].as_u64().unwrap() as u32;
    // One packet in 20 lost on the way to the worker: its RTX (at 109) still repairs.
    let mut seen = 0u32;
    router.lose = Box::new(move |_, leg, datagram| {
        if leg != Leg::ToWorker || rtp_ssrc(datagram) != Some(PUBLISHER_SSRC) {
            return false;
        }
        seen += 1;
        (10..290).contains(&seen) && seen % 20 == 0
    });
    publish_at(&mut router, 108, 300, 1000, 0);
    router.run(Duration::from_secs(1));
    let mut indexes: Vec<u16> = received(&router.events(1), [ssrc, rtx]).iter().map(|(_, _, index, _)| *index).collect();
    indexes.sort();
    assert_eq!(indexes, (0..300).collect::<Vec<u16>>(), "every packet reached bob, once");
    let inbound = router.request("rtpReceiver.getStats", json!({"receiverId": "video"})).unwrap();
    assert_eq!(inbound[0]["payloadType"], json!(108));
    assert!(inbound[0]["nackCount"].as_u64().unwrap() > 0, "{inbound}");
}

#[test]
fn rid_only_layers_at_the_publisher_s_own_extension_ids_are_learnt_and_forwarded() {
    // mediasoup-client in Chromium: simulcast named by rid alone, its mid and
    // rid at Chromium's ids (4, 10, repaired rid 11), which the transport's
    // map (the room's ids) does not read: str0m alone mapped no packet.
    let mut extensions = ExtensionMap::empty();
    extensions.set(4, Extension::RtpMid);
    extensions.set(10, Extension::RtpStreamId);
    extensions.set(11, Extension::RepairedRtpStreamId);
    let mut router = Router::new();
    let alice = router.connect("alice", None, vp8(96, 97).set_extension_map(extensions));
    let bob = connect_bob(&mut router);
    router.run(Duration::from_secs(2));
    let mid = Mid::from("1");
    let mut api = router.clients[alice].rtc.direct_api();
    api.declare_media(mid, Str0mKind::Video);
    for (ssrc, rtx, rid) in [(3001, 3002, "r0"), (3003, 3004, "r1")] {
        api.declare_stream_tx(Ssrc::from(ssrc), Some(Ssrc::from(rtx)), mid, Some(Rid::from(rid)));
    }
    let parameters = json!({
        "mid": "1",
        "codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000},
                   {"mimeType": "video/rtx", "payloadType": 97, "clockRate": 90000, "parameters": {"apt": 96}}],
        "headerExtensions": [{"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 4},
                             {"uri": "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", "id": 10},
                             {"uri": "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id", "id": 11}],
        "encodings": [{"rid": "r0"}, {"rid": "r1"}],
        "rtcp": {"cname": ""},
    });
    let consumer = subscribe_bob(&mut router, bob, parameters);
    let ssrc = consumer["encodings"][0]["ssrc"].as_u64().unwrap() as u32;
    let rtx = consumer["encodings"][0]["rtx"]["ssrc"].as_u64().unwrap() as u32;
    // Layer r0 only: the sender forwards one layer, from its first keyframe.
    // Each payload is a VP8 descriptor (0x10: a frame's start) and a header
    // whose P bit is the index's lowest (packet 0 is a keyframe), read as
    // the index + 0x1000.
    for index in 0..100u16 {
        let now = router.now;
        let payload: Vec<u8> = (0x1000 + index).to_be_bytes().iter().copied().chain(std::iter::repeat_n(7u8, 300)).collect();
        let mut api = router.clients[alice].rtc.direct_api();
        let stream = api.stream_tx(&Ssrc::from(3001)).unwrap();
        stream.write_rtp(RtpWrite::new(Pt::from(96), SeqNo::from(500 + u64::from(index)), u32::from(index) * 3000, now, std::sync::Arc::<[u8]>::from(payload)).nackable(true));
        router.run(Duration::from_millis(10));
    }
    router.run(Duration::from_millis(500));
    let mut indexes: Vec<u16> = received(&router.events(bob), [ssrc, rtx]).iter().map(|(_, _, index, _)| *index - 0x1000).collect();
    indexes.sort();
    assert_eq!(indexes, (0..100).collect::<Vec<u16>>());
    let inbound = router.request("rtpReceiver.getStats", json!({"receiverId": "video"})).unwrap();
    assert_eq!((inbound[0]["ssrc"].clone(), inbound[0]["rid"].clone()), (json!(3001), json!("r0")), "{inbound}");
    // bob's keyframe request reaches the layer whose SSRC was learnt.
    router.events(alice);
    router.run(Duration::from_millis(600));
    router.clients[bob].rtc.direct_api().stream_rx(&Ssrc::from(ssrc)).unwrap().request_keyframe(KeyframeRequestKind::Pli);
    router.run(Duration::from_millis(100));
    let asked: Vec<Ssrc> = router
        .events(alice)
        .iter()
        .filter_map(|event| match event {
            Event::KeyframeRequest(request) => router.clients[alice].rtc.direct_api().stream_tx_by_mid(request.mid, request.rid).map(|s| s.ssrc()),
            _ => None,
        })
        .collect();
    assert!(asked.contains(&Ssrc::from(3001)), "{asked:?}");
}

#[test]
fn the_metrics_add_up_the_call_and_keep_its_totals_once_it_ends() {
    let (mut router, _) = call();
    // One packet in 20 lost on the way in, and every retransmission too:
    // the worker asks for them (NACK) and never gets them.
    let mut seen = 0u32;
    router.lose = Box::new(move |_, leg, datagram| match (leg, rtp_ssrc(datagram)) {
        (Leg::ToWorker, Some(PUBLISHER_RTX_SSRC)) => true,
        (Leg::ToWorker, Some(PUBLISHER_SSRC)) => {
            seen += 1;
            (10..590).contains(&seen) && seen % 20 == 0
        }
        _ => false,
    });
    publish(&mut router, 600, 1000, 0);
    router.run(Duration::from_millis(500));
    let during = router.request("worker.getMetrics", Value::Null).unwrap();
    let counts = ["rooms", "peers", "transports", "directTransports", "rtpReceivers", "rtpSenders"].map(|name| during[name].as_u64().unwrap());
    assert_eq!(counts, [1, 2, 2, 0, 1, 1], "{during}");
    // The totals are the sums of what the objects' own stats say.
    let stats = |router: &mut Router, id: &str| router.request("transport.getStats", json!({"transportId": id})).unwrap()[0].clone();
    let (alice, bob) = (stats(&mut router, "alice-transport"), stats(&mut router, "bob-transport"));
    for name in ["bytesReceived", "packetsReceived", "bytesSent", "packetsSent"] {
        assert_eq!(during[name].as_u64().unwrap(), alice[name].as_u64().unwrap() + bob[name].as_u64().unwrap(), "{name}");
    }
    let inbound = router.request("rtpReceiver.getStats", json!({"receiverId": "video"})).unwrap();
    assert_eq!(inbound[0]["packetsLost"], json!(29), "{inbound}");
    assert_eq!(during["inboundPacketsLost"], json!(29));
    assert!(during["nacksSent"].as_u64().unwrap() > 0, "{during}");
    assert!(during["incomingBitrate"].as_u64().unwrap() > 300_000, "{during}");
    assert!(during["outgoingBitrate"].as_u64().unwrap() > 300_000, "{during}");
    assert!(during.get("cpuUserSeconds").is_none(), "the process's usage is the shell's");

    // alice leaves: her receiver and transport close, their counts stay.
    router.request("peer.close", json!({"peerId": "alice"})).unwrap();
    router.run(Duration::from_secs(3));
    let after = router.request("worker.getMetrics", Value::Null).unwrap();
    let counts = ["peers", "transports", "rtpReceivers", "rtpSenders"].map(|name| after[name].as_u64().unwrap());
    assert_eq!(counts, [1, 1, 0, 0], "{after}");
    for name in ["bytesReceived", "packetsReceived", "bytesSent", "packetsSent", "inboundPacketsLost", "nacksSent", "nacksReceived", "plisSent", "plisReceived"] {
        assert!(after[name].as_u64().unwrap() >= during[name].as_u64().unwrap(), "{name} went down: {during} → {after}");
    }
    assert_eq!(after["inboundPacketsLost"], json!(29));
    assert_eq!(after["incomingBitrate"], json!(0));
}

#[test]
fn a_subscriber_placed_before_its_transport_connects_gets_a_keyframe_once_it_does() {
    // bob's transport exists, his sender is placed on it, and only then
    // does his DTLS connect: the keyframe alice sent for the placement was
    // dropped on the way (nothing leaves before DTLS), so the worker asks
    // her again when bob connects, the placement's request a moment before
    // notwithstanding.
    let mut router = Router::new();
    let alice = router.connect("alice", None, vp8(96, 97));
    router.run(Duration::from_secs(2));
    let parameters = declare_video(&mut router, alice, (96, 97));
    // bob's datagrams are held back until he is subscribed.
    router.lose = Box::new(|index, _, _| index == 1);
    let bob = connect_bob(&mut router);
    subscribe_bob(&mut router, bob, parameters);
    let requests = |events: &[Event]| events.iter().filter(|event| matches!(event, Event::KeyframeRequest(_))).count();
    assert_eq!(requests(&router.events(alice)), 1, "the placement's request");
    let connected = |router: &Router| router.worker.transports[&router.clients[1].key].can_send_media();
    assert!(!connected(&router));
    router.lose = Box::new(|_, _, _| false);
    router.run(Duration::from_millis(100));
    while !connected(&router) {
        router.run(Duration::from_millis(100));
    }
    router.run(Duration::from_millis(50));
    assert_eq!(requests(&router.events(alice)), 1, "bob connected: alice is asked again at once");
}

/// A client that speaks AV1 at `payload_type` (RTX `rtx`), with the room's header extensions.
fn av1(payload_type: u8, rtx: u8) -> RtcConfig {
    let mut config = vp8(payload_type, rtx);
    let mut codecs = CodecConfig::empty();
    codecs.add_config(Pt::from(payload_type), Some(Pt::from(rtx)), Codec::Av1, Frequency::NINETY_KHZ, None, FormatParams::default());
    *config.codec_config() = codecs;
    config
}

#[test]
fn an_av1_stream_s_dependency_descriptor_reaches_its_subscriber_as_sent_in_either_header_form() {
    use crate::rtp::codecs::dependency_descriptor::testing::{descriptor, L1T3, L3T3_KEY};
    use crate::rtp::codecs::dependency_descriptor::{DescriptorBytes, URI};
    use str0m::rtp::ExtensionValues;
    let mut router = Router::new();
    let alice = router.connect("alice", None, av1(45, 46));
    let room_codecs = json!({"codecs": [
        {"kind": "video", "mimeType": "video/AV1", "clockRate": 90000, "preferredPayloadType": 35},
        {"kind": "video", "mimeType": "video/rtx", "clockRate": 90000, "preferredPayloadType": 36, "parameters": {"apt": 35}},
    ], "headerExtensions": [{"kind": "video", "uri": URI, "preferredId": 8}, {"kind": "video", "uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "preferredId": 1}]});
    let bob = router.connect("bob", Some(room_codecs), av1(35, 36));
    router.run(Duration::from_secs(2));
    let mid = Mid::from("0");
    let mut api = router.clients[alice].rtc.direct_api();
    api.declare_media(mid, Str0mKind::Video);
    api.declare_stream_tx(Ssrc::from(PUBLISHER_SSRC), Some(Ssrc::from(PUBLISHER_RTX_SSRC)), mid, None);
    let parameters = json!({
        "mid": "0",
        "codecs": [{"mimeType": "video/AV1", "payloadType": 45, "clockRate": 90000},
                   {"mimeType": "video/rtx", "payloadType": 46, "clockRate": 90000, "parameters": {"apt": 45}}],
        "headerExtensions": [{"uri": URI, "id": 8}],
        "encodings": [{"ssrc": PUBLISHER_SSRC, "rtx": {"ssrc": PUBLISHER_RTX_SSRC}}],
        "rtcp": {"cname": "alice"},
    });
    let consumer = subscribe_bob(&mut router, bob, parameters);
    assert!(consumer["headerExtensions"].as_array().unwrap().iter().any(|extension| extension["uri"] == URI), "{consumer}");
    let ssrc = consumer["encodings"][0]["ssrc"].as_u64().unwrap() as u32;
    // A keyframe whose descriptor attaches an L3T3 structure (longer than 16
    // bytes: the two-byte form), then frames of an L1T3 one (3 bytes).
    let mut sent = Vec::new();
    for index in 0..30u16 {
        let bytes = match index {
            0 => descriptor(L3T3_KEY, 0, 0, true, (true, true)),
            1 => descriptor(L1T3, 0, 1, true, (true, true)),
            _ => descriptor(L1T3, 1 + usize::from(index % 3), index, false, (true, true)),
        };
        let mut values = ExtensionValues::default();
        values.user_values.set(DescriptorBytes(std::sync::Arc::from(&bytes[..])));
        sent.push(bytes);
        let now = router.now;
        let payload: Vec<u8> = [if index == 0 { 0x18 } else { 0x10 }, index as u8].iter().copied().chain(std::iter::repeat_n(7u8, 300)).collect();
        let mut api = router.clients[alice].rtc.direct_api();
        let stream = api.stream_tx(&Ssrc::from(PUBLISHER_SSRC)).unwrap();
        let write = RtpWrite::new(Pt::from(45), SeqNo::from(900 + u64::from(index)), u32::from(index) * 3000, now, std::sync::Arc::<[u8]>::from(payload));
        stream.write_rtp(write.marker(true).nackable(true).ext_vals(values));
        router.run(Duration::from_millis(30));
    }
    assert!(sent[0].len() > 16 && sent[2].len() == 3);
    let received: Vec<(u8, Vec<u8>)> = router
        .events(bob)
        .iter()
        .filter_map(|event| match event {
            Event::RtpPacket(packet) if *packet.header.ssrc == ssrc => {
                let DescriptorBytes(bytes) = packet.header.ext_vals.user_values.get::<DescriptorBytes>()?;
                Some((packet.payload[1], bytes.to_vec()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(received.len(), 30, "every packet, each with its descriptor");
    for (index, bytes) in received {
        assert_eq!(bytes, sent[usize::from(index)], "packet {index}");
    }
}

/// The worker's own cost of a fan-out, measured in memory (no kernel, no
/// load generator, fake time): `bench/fanout` runs it large and prints the
/// time per forwarded copy, precise enough to compare two builds where the
/// network benchmark's noise (±20 %) hides a 5 % change. In the suite it
/// runs small and checks that every subscriber gets every packet.
#[test]
fn a_packet_fanned_out_reaches_every_subscriber_once_and_its_cost_is_measured() {
    let setting = |name: &str, default: usize| std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default);
    let (subscribers, packets) = (setting("FANOUT_SUBSCRIBERS", 20), setting("FANOUT_PACKETS", 30));
    let mut router = Router::new();
    let alice = router.connect("alice", None, vp8(96, 97));
    let room_codecs = json!({"codecs": [
        {"kind": "video", "mimeType": "video/VP8", "clockRate": 90000, "preferredPayloadType": 101},
        {"kind": "video", "mimeType": "video/rtx", "clockRate": 90000, "preferredPayloadType": 102, "parameters": {"apt": 101}},
    ]});
    let viewers: Vec<usize> = (0..subscribers).map(|index| router.connect(&format!("viewer-{index}"), Some(room_codecs.clone()), vp8(101, 102))).collect();
    router.run(Duration::from_secs(2));
    let parameters = declare_video(&mut router, alice, (96, 97));
    router
        .request("rtpReceiver.receive", json!({"receiverId": "video", "transportId": "alice-transport", "kind": "video", "rtpParameters": parameters}))
        .unwrap();
    let mut ssrcs = FxHashMap::default();
    for (index, &viewer) in viewers.iter().enumerate() {
        let (sender_id, peer_id) = (format!("to-{index}"), format!("viewer-{index}"));
        let consumer = router.request("rtpSender.create", json!({"senderId": sender_id, "peerId": peer_id, "receiverId": "video"})).unwrap();
        let mid = Mid::from(consumer["mid"].as_str().unwrap());
        router.clients[viewer].rtc.direct_api().declare_media(mid, Str0mKind::Video);
        router.request("rtpSender.setTransport", json!({"senderId": sender_id, "transportId": format!("{peer_id}-transport")})).unwrap();
        ssrcs.insert(router.clients[viewer].key, consumer["encodings"][0]["ssrc"].as_u64().unwrap() as u32);
    }
    router.run(Duration::from_millis(200));
    while router.worker.poll_datagram().is_some() {}

    let mut copies: FxHashMap<TransportKey, usize> = FxHashMap::default();
    let mut inside_worker = Duration::ZERO;
    let payload: std::sync::Arc<[u8]> = std::sync::Arc::from(vec![7u8; 1_000]);
    for index in 0..packets as u64 {
        let now = router.now;
        let write = RtpWrite::new(Pt::from(96), SeqNo::from(1 + index), (index / 3) as u32 * 3000, now, payload.clone()).nackable(true);
        router.clients[alice].rtc.direct_api().stream_tx(&Ssrc::from(PUBLISHER_SSRC)).unwrap().write_rtp(write);
        router.clients[alice].rtc.handle_input(Input::Timeout(now)).unwrap();
        let mut datagrams = Vec::new();
        while let Output::Transmit(transmit) = router.clients[alice].rtc.poll_output().unwrap() {
            datagrams.push(Vec::from(transmit.contents));
        }
        let (source, local) = (router.clients[alice].address, router.clients[alice].server);
        let started = Instant::now();
        for datagram in &datagrams {
            router.worker.handle_datagram(now, Protocol::Udp, source, local, datagram);
        }
        router.worker.handle_timeout(now);
        while let Some((key, datagram)) = router.worker.poll_datagram() {
            if rtp_ssrc(&datagram.contents).is_some_and(|ssrc| ssrcs.get(&key) == Some(&ssrc)) {
                *copies.entry(key).or_default() += 1;
            }
        }
        inside_worker += started.elapsed();
        router.now += Duration::from_millis(10);
    }
    assert_eq!(copies.len(), subscribers, "every subscriber got copies");
    assert!(copies.values().all(|count| *count == packets), "each got every packet once: {copies:?}");
    let per_copy = inside_worker.as_secs_f64() * 1e6 / (subscribers * packets) as f64;
    eprintln!("fan-out in memory: {subscribers} subscribers, {packets} packets: {per_copy:.3} µs per forwarded copy inside the worker");
}
