//! The worker driven without sockets: requests, and transports on a fake
//! network.

use super::*;
use crate::testing::{binding_request, ready_worker, settings, FakeNetwork};
use crate::channel::message::RoomCreate;
use crate::room::MAX_PEER_NAME_CHARS;
use crate::channel::message::{UpdateSettings, PeerCreate, TransportCreate};
use crate::error::ErrorKind;
use crate::channel::settings::LogLevel;
use std::net::SocketAddr;
use str0m::net::Protocol;

fn create_room(room_id: &str) -> Request {
    Request::RoomCreate(RoomCreate::new(room_id))
}

fn create_peer(room_id: &str, peer_id: &str, name: &str) -> Request {
    Request::RoomCreatePeer(PeerCreate { room_id: room_id.into(), peer_id: peer_id.into(), name: name.into() })
}

pub fn create_transport(peer_id: &str, transport_id: &str) -> Request {
    Request::PeerCreateTransport(TransportCreate {
        peer_id: peer_id.into(),
        transport_id: transport_id.into(),
        udp: true,
        tcp: true,
        prefer_ipv4: false,
        prefer_ipv6: false,
        prefer_udp: false,
        prefer_tcp: false,
        enable_sctp: false,
    })
}

#[test]
fn requests_before_init_are_refused() {
    let now = Instant::now();
    let mut worker = Worker::new(1, LogFilter::new(LogLevel::Debug), now, 1);
    let err = worker.handle_request(Request::WorkerDump, now, &mut FakeNetwork::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidStateError);
}

#[test]
fn init_applies_the_log_level_and_happens_once() {
    let (mut worker, mut network, now) = ready_worker();
    assert_eq!(worker.log_filter.get(), LogLevel::Warn);
    let err = worker.handle_request(Request::WorkerInit(settings()), now, &mut network).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidStateError);
}

#[test]
fn rooms_are_created_dumped_and_closed_in_order() {
    let (mut worker, mut network, now) = ready_worker();
    worker.handle_request(create_room("a"), now, &mut network).unwrap();
    worker.handle_request(create_room("b"), now, &mut network).unwrap();
    let dump = worker.handle_request(Request::WorkerDump, now, &mut network).unwrap();
    assert_eq!(dump["rooms"], json!(["a", "b"]));
    assert_eq!(dump["pid"], json!(42));
    assert_eq!(dump["rtcMinPort"], json!(40000));
    let err = worker.handle_request(create_room("a"), now, &mut network).unwrap_err();
    assert_eq!(err.kind, ErrorKind::ValueError);
    let room = worker.handle_request(Request::RoomDump(RoomDumpPage { room_id: "b".into(), from_peer: 0 }), now, &mut network).unwrap();
    assert_eq!(room["id"], json!("b"));
    worker.handle_request(Request::RoomClose(RoomRef { room_id: "a".into() }), now, &mut network).unwrap();
    let dump = worker.handle_request(Request::WorkerDump, now, &mut network).unwrap();
    assert_eq!(dump["rooms"], json!(["b"]));
    let err = worker.handle_request(Request::RoomClose(RoomRef { room_id: "a".into() }), now, &mut network).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidStateError);
}

#[test]
fn a_room_with_bad_codecs_is_not_created() {
    let (mut worker, mut network, now) = ready_worker();
    let err = worker
        .handle_request(
            Request::RoomCreate(RoomCreate {
                media_codecs: Some(json!([{"kind": "video", "mimeType": "video/H265"}])),
                ..RoomCreate::new("x")
            }),
            now,
            &mut network,
        )
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::UnsupportedError);
}

#[test]
fn update_settings_changes_the_log_level() {
    let (mut worker, mut network, now) = ready_worker();
    worker
        .handle_request(Request::WorkerUpdateSettings(UpdateSettings { log_level: LogLevel::Error }), now, &mut network)
        .unwrap();
    let dump = worker.handle_request(Request::WorkerDump, now, &mut network).unwrap();
    assert_eq!(dump["logLevel"], json!("error"));
}

#[test]
fn peer_names_are_unique_among_open_peers_and_reusable_after_close() {
    let (mut worker, mut network, now) = ready_worker();
    worker.handle_request(create_room("r"), now, &mut network).unwrap();
    worker.handle_request(create_peer("r", "p1", "alice"), now, &mut network).unwrap();
    let err = worker.handle_request(create_peer("r", "p2", "alice"), now, &mut network).unwrap_err();
    assert_eq!(err.kind, ErrorKind::ValueError);
    worker.handle_request(Request::PeerClose(PeerRef { peer_id: "p1".into() }), now, &mut network).unwrap();
    worker.handle_request(create_peer("r", "p2", "alice"), now, &mut network).unwrap();
    let room = worker.handle_request(Request::RoomDump(RoomDumpPage { room_id: "r".into(), from_peer: 0 }), now, &mut network).unwrap();
    assert_eq!(room["peers"]["alice"]["id"], json!("p2"));
}

#[test]
fn closing_a_room_closes_its_peers_and_their_transports_sockets() {
    let (mut worker, mut network, now) = ready_worker();
    // A worker with nothing to serve has no deadline: its event loop sleeps until a request.
    assert_eq!(worker.next_timeout(), None);
    worker.handle_request(create_room("r"), now, &mut network).unwrap();
    worker.handle_request(create_peer("r", "p", "bob"), now, &mut network).unwrap();
    let local = worker.handle_request(create_transport("p", "t"), now, &mut network).unwrap();
    assert!(worker.next_timeout().is_some(), "the transport's DTLS deadline, str0m's timers");
    assert_eq!(local["iceLocalParameters"]["iceLite"], json!(true));
    let candidates = local["iceLocalCandidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 2);
    assert_eq!(candidates[0]["protocol"], json!("udp"));
    assert!(candidates[0].get("tcpType").is_none());
    assert_eq!(candidates[1]["tcpType"], json!("passive"));
    assert!(candidates[0]["priority"].as_u64() > candidates[1]["priority"].as_u64());
    let fingerprints = local["dtlsLocalParameters"]["fingerprints"].as_array().unwrap();
    assert_eq!(fingerprints.len(), 3);
    assert_eq!(network.open.len(), 1);
    worker.handle_request(Request::RoomClose(RoomRef { room_id: "r".into() }), now, &mut network).unwrap();
    assert!(network.open.is_empty());
    assert_eq!(worker.next_timeout(), None, "a closed transport leaves no deadline behind");
    let dump = worker.handle_request(Request::WorkerDump, now, &mut network).unwrap();
    assert_eq!((dump["peerCount"].clone(), dump["transportCount"].clone()), (json!(0), json!(0)));
}

#[test]
fn capabilities_are_validated_before_they_are_stored() {
    let (mut worker, mut network, now) = ready_worker();
    worker.handle_request(create_room("r"), now, &mut network).unwrap();
    worker.handle_request(create_peer("r", "p", "carol"), now, &mut network).unwrap();
    let bad = Request::PeerSetCapabilities(PeerSetCapabilities { peer_id: "p".into(), rtp_capabilities: json!({"codecs": 5}) });
    assert_eq!(worker.handle_request(bad, now, &mut network).unwrap_err().kind, ErrorKind::TypeError);
    let peer = worker.handle_request(Request::PeerDump(PeerRef { peer_id: "p".into() }), now, &mut network).unwrap();
    assert_eq!(peer["capabilities"], Value::Null);
}

#[test]
fn a_peer_name_longer_than_the_limit_is_refused() {
    let (mut worker, mut network, now) = ready_worker();
    worker.handle_request(create_room("r"), now, &mut network).unwrap();
    let longest = "é".repeat(MAX_PEER_NAME_CHARS);
    worker.handle_request(create_peer("r", "p1", &longest), now, &mut network).unwrap();
    let err = worker.handle_request(create_peer("r", "p2", &format!("{longest}x")), now, &mut network).unwrap_err();
    assert_eq!(err.kind, ErrorKind::ValueError);
    assert!(err.message.contains("at most 256 characters, not 257"), "{err}");
}

fn request(worker: &mut Worker, network: &mut FakeNetwork, now: Instant, method: &str, data: Value) -> Result<Value, WorkerError> {
    let request: Request = serde_json::from_value(json!({"method": method, "data": data})).unwrap();
    worker.handle_request(request, now, network)
}

#[test]
fn streams_of_a_transport_share_one_cname_generated_when_none_is_given() {
    let (mut worker, mut network, now) = ready_worker();
    worker.handle_request(create_room("r"), now, &mut network).unwrap();
    worker.handle_request(create_peer("r", "alice", "alice"), now, &mut network).unwrap();
    worker.handle_request(create_transport("alice", "t"), now, &mut network).unwrap();
    // Chromium's rid-only simulcast through mediasoup-client: an empty cname.
    let simulcast = json!({
        "mid": "1",
        "codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000}],
        "encodings": [{"rid": "r0"}, {"rid": "r1"}, {"rid": "r2"}],
        "rtcp": {"cname": "", "reducedSize": true},
    });
    let answer = request(&mut worker, &mut network, now, "rtpReceiver.receive",
        json!({"receiverId": "video", "transportId": "t", "kind": "video", "rtpParameters": simulcast})).unwrap();
    let cname = answer["rtcp"]["cname"].as_str().unwrap().to_owned();
    assert_eq!(cname.len(), 8, "{cname}");
    // A later stream of the same endpoint takes the same one (lip sync).
    let audio = json!({"mid": "0", "codecs": [{"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2}],
                       "encodings": [{"ssrc": 1}], "rtcp": {"cname": "given-later"}});
    let answer = request(&mut worker, &mut network, now, "rtpReceiver.receive",
        json!({"receiverId": "audio", "transportId": "t", "kind": "audio", "rtpParameters": audio})).unwrap();
    assert_eq!(answer["rtcp"]["cname"], json!(cname));
    // A subscriber's parameters carry it.
    worker.handle_request(create_peer("r", "bob", "bob"), now, &mut network).unwrap();
    let room = request(&mut worker, &mut network, now, "room.dump", json!({"roomId": "r"})).unwrap();
    let capabilities = room["rtpCapabilities"].clone();
    request(&mut worker, &mut network, now, "peer.setCapabilities", json!({"peerId": "bob", "rtpCapabilities": capabilities})).unwrap();
    let consumer = request(&mut worker, &mut network, now, "rtpSender.create", json!({"senderId": "s", "peerId": "bob", "receiverId": "video"})).unwrap();
    assert_eq!(consumer["rtcp"]["cname"], json!(cname));
}

#[test]
fn the_first_cname_given_on_a_transport_is_kept() {
    let (mut worker, mut network, now) = ready_worker();
    worker.handle_request(create_room("r"), now, &mut network).unwrap();
    worker.handle_request(create_peer("r", "alice", "alice"), now, &mut network).unwrap();
    worker.handle_request(create_transport("alice", "t"), now, &mut network).unwrap();
    for (id, ssrc, cname) in [("a", 1, "chromium-cname"), ("b", 2, "")] {
        let parameters = json!({"codecs": [{"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2}],
                                "encodings": [{"ssrc": ssrc}], "rtcp": {"cname": cname}});
        let answer = request(&mut worker, &mut network, now, "rtpReceiver.receive",
            json!({"receiverId": id, "transportId": "t", "kind": "audio", "rtpParameters": parameters})).unwrap();
        assert_eq!(answer["rtcp"]["cname"], json!("chromium-cname"));
    }
}

#[test]
fn a_closed_peer_takes_its_streams_and_their_senders_with_it() {
    let (mut worker, mut network, now) = ready_worker();
    worker.handle_request(create_room("r"), now, &mut network).unwrap();
    worker.handle_request(create_peer("r", "alice", "alice"), now, &mut network).unwrap();
    worker.handle_request(create_transport("alice", "t"), now, &mut network).unwrap();
    let audio = json!({"codecs": [{"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2}],
                       "encodings": [{"ssrc": 1}]});
    request(&mut worker, &mut network, now, "rtpReceiver.receive",
        json!({"receiverId": "microphone", "transportId": "t", "kind": "audio", "rtpParameters": audio})).unwrap();
    worker.handle_request(create_peer("r", "bob", "bob"), now, &mut network).unwrap();
    let room = request(&mut worker, &mut network, now, "room.dump", json!({"roomId": "r"})).unwrap();
    request(&mut worker, &mut network, now, "peer.setCapabilities", json!({"peerId": "bob", "rtpCapabilities": room["rtpCapabilities"]})).unwrap();
    request(&mut worker, &mut network, now, "rtpSender.create", json!({"senderId": "s", "peerId": "bob", "receiverId": "microphone"})).unwrap();
    let room = request(&mut worker, &mut network, now, "room.dump", json!({"roomId": "r"})).unwrap();
    assert_eq!(room["rtpReceivers"], json!({"microphone": ["s"]}));

    let alice_transport = worker.transport_key("t").unwrap();
    request(&mut worker, &mut network, now, "peer.close", json!({"peerId": "alice"})).unwrap();
    assert!(!network.open.contains_key(&alice_transport));
    let room = request(&mut worker, &mut network, now, "room.dump", json!({"roomId": "r"})).unwrap();
    assert_eq!(room["rtpReceivers"], json!({}));
    assert!(request(&mut worker, &mut network, now, "rtpReceiver.dump", json!({"receiverId": "microphone"})).is_err());
    assert!(request(&mut worker, &mut network, now, "rtpSender.dump", json!({"senderId": "s"})).is_err());
    // Its ids are free again.
    worker.handle_request(create_peer("r", "carol", "carol"), now, &mut network).unwrap();
    worker.handle_request(create_transport("carol", "t2"), now, &mut network).unwrap();
    request(&mut worker, &mut network, now, "rtpReceiver.receive",
        json!({"receiverId": "microphone", "transportId": "t2", "kind": "audio", "rtpParameters": audio})).unwrap();
    request(&mut worker, &mut network, now, "rtpSender.create", json!({"senderId": "s", "peerId": "bob", "receiverId": "microphone"})).unwrap();
}

#[test]
fn datagrams_a_shared_port_routes_to_no_transport_are_counted_in_the_metrics() {
    let (mut worker, mut network, now) = crate::testing::ready_worker_with(WorkerSettings { rtc_port_per_worker: true, ..settings() });
    worker.handle_request(create_room("r"), now, &mut network).unwrap();
    worker.handle_request(create_peer("r", "p", "alice"), now, &mut network).unwrap();
    let local = worker.handle_request(create_transport("p", "t"), now, &mut network).unwrap();
    let ufrag = local["iceLocalParameters"]["usernameFragment"].as_str().unwrap().to_owned();
    let port = network.shared[0].address;
    let unrouted = |worker: &mut Worker, network: &mut FakeNetwork| worker.handle_request(Request::WorkerGetMetrics, now, network).unwrap()["datagramsUnrouted"].clone();
    assert_eq!(unrouted(&mut worker, &mut network), json!(0));
    // RTP-looking bytes from an address no transport has learnt, then a
    // binding request naming no transport's ICE username: nowhere to go.
    let stranger: SocketAddr = "127.0.0.1:9".parse().unwrap();
    worker.handle_datagram(now, Protocol::Udp, stranger, port, &[0x80, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
    worker.handle_datagram(now, Protocol::Udp, stranger, port, &binding_request("nobody:alice"));
    assert_eq!(unrouted(&mut worker, &mut network), json!(2));
    // One naming the transport reaches it (which refuses its integrity), uncounted.
    worker.handle_datagram(now, Protocol::Udp, stranger, port, &binding_request(&format!("{ufrag}:alice")));
    assert_eq!(unrouted(&mut worker, &mut network), json!(2));
    // On a transport's own port, whatever comes is the transport's.
    let (mut worker, mut network, now) = ready_worker();
    worker.handle_request(create_room("r"), now, &mut network).unwrap();
    worker.handle_request(create_peer("r", "p", "alice"), now, &mut network).unwrap();
    worker.handle_request(create_transport("p", "t"), now, &mut network).unwrap();
    let own = network.open.values().flatten().find(|socket| socket.protocol == Protocol::Udp).unwrap().address;
    worker.handle_datagram(now, Protocol::Udp, stranger, own, &[0x80, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(unrouted(&mut worker, &mut network), json!(0));
}
