//! Plain RTP through the whole worker, without a socket: an endpoint that
//! publishes on one plain transport (its address learnt, comedia) reaches
//! the endpoint of another (connected), rewritten; keyframe requests go
//! back as PLIs; sender reports leave once a second; what comes from
//! another address, or before connect, is dropped; bad options and bad
//! bytes get errors, never a panic.

use crate::testing::Noise;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use std::time::Instant;

use serde_json::{json, Value};
use str0m::net::Protocol;

use crate::channel::message::Request;
use crate::channel::NotificationEvent;
use crate::error::WorkerError;
use crate::testing::{ready_worker, FakeNetwork};
use crate::worker::Worker;
use crate::rtp::rtcp::{is_rtcp, nacked, read_compound, write_nack, write_pli, Feedback};
use crate::rtp::wire::{read_rtp, write_rtp, RtpFields};
use crate::transport::srtp::{CryptoSuite, SrtpContext};
use crate::transport::{OutgoingDatagram, Transport};

const VP8_SSRC: u32 = 0x00C0_FFEE;
/// ffmpeg publishing, and a recorder receiving.
const PUBLISHER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5004);
const RECORDER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 6004);

struct Plain {
    worker: Worker,
    network: FakeNetwork,
    now: Instant,
}

impl Plain {
    fn new() -> Self {
        let (mut worker, mut network, now) = ready_worker();
        let create = json!({"method": "room.create", "data": {"roomId": "room"}});
        worker.handle_request(serde_json::from_value(create).unwrap(), now, &mut network).unwrap();
        Self { worker, network, now }
    }

    fn request(&mut self, method: &str, data: Value) -> Result<Value, WorkerError> {
        let request: Request = serde_json::from_value(json!({"method": method, "data": data})).unwrap();
        self.worker.handle_request(request, self.now, &mut self.network)
    }

    /// A peer with the room's capabilities and a plain transport; its answer.
    fn plain_peer(&mut self, peer_id: &str, rtcp_mux: bool, comedia: bool) -> Value {
        self.srtp_peer(peer_id, rtcp_mux, comedia, None)
    }

    /// The same, with SRTP in `suite` if given.
    fn srtp_peer(&mut self, peer_id: &str, rtcp_mux: bool, comedia: bool, suite: Option<&str>) -> Value {
        self.peer_with(peer_id, json!({"rtcpMux": rtcp_mux, "comedia": comedia, "srtpCryptoSuite": suite}))
    }

    /// A peer with a plain transport of `options` (`rtcpMux`, `comedia`, …).
    fn peer_with(&mut self, peer_id: &str, options: Value) -> Value {
        self.request("room.createPeer", json!({"roomId": "room", "peerId": peer_id, "name": peer_id})).unwrap();
        let capabilities = json!({"codecs": [{"kind": "video", "mimeType": "video/VP8", "clockRate": 90000, "preferredPayloadType": 101}], "headerExtensions": []});
        self.request("peer.setCapabilities", json!({"peerId": peer_id, "rtpCapabilities": capabilities})).unwrap();
        let mut data = json!({"peerId": peer_id, "transportId": format!("{peer_id}-plain")});
        data.as_object_mut().unwrap().extend(options.as_object().unwrap().clone());
        self.request("peer.createPlainTransport", data).unwrap()
    }

    /// ffmpeg publishes VP8 on a comedia transport; the recorder's
    /// transport is connected and sends it. Answers both transports'
    /// local addresses and the recorder's sender SSRC.
    fn ffmpeg_to_recorder(&mut self) -> (SocketAddr, SocketAddr, u32) {
        let publisher = local_address(&self.plain_peer("ffmpeg", true, true)["tuple"]);
        let parameters = json!({"codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000}], "encodings": [{"ssrc": VP8_SSRC}]});
        self.request("rtpReceiver.receive", json!({"receiverId": "camera", "transportId": "ffmpeg-plain", "kind": "video", "rtpParameters": parameters}))
            .unwrap();
        let recorder = local_address(&self.plain_peer("recorder", true, false)["tuple"]);
        let consumer = self.request("rtpSender.create", json!({"senderId": "camera-to-recorder", "peerId": "recorder", "receiverId": "camera"})).unwrap();
        self.request("rtpSender.setTransport", json!({"senderId": "camera-to-recorder", "transportId": "recorder-plain"})).unwrap();
        let connected = self
            .request("transport.connect", json!({"transportId": "recorder-plain", "ip": "127.0.0.1", "port": RECORDER.port()}))
            .unwrap();
        assert_eq!(connected["tuple"]["remotePort"], RECORDER.port());
        (publisher, recorder, consumer["encodings"][0]["ssrc"].as_u64().unwrap() as u32)
    }

    fn arrive(&mut self, from: SocketAddr, on: SocketAddr, contents: &[u8]) {
        self.worker.handle_datagram(self.now, Protocol::Udp, from, on, contents);
        self.worker.handle_timeout(self.now);
    }

    fn sent(&mut self) -> Vec<OutgoingDatagram> {
        std::iter::from_fn(|| self.worker.poll_datagram()).map(|(_, datagram)| datagram).collect()
    }

    fn stats(&mut self, transport_id: &str) -> Value {
        self.request("transport.getStats", json!({"transportId": transport_id})).unwrap()[0].clone()
    }
}

fn local_address(tuple: &Value) -> SocketAddr {
    SocketAddr::new(tuple["localIp"].as_str().unwrap().parse().unwrap(), tuple["localPort"].as_u64().unwrap() as u16)
}

fn vp8_packet(sequence_number: u16, keyframe: bool) -> Vec<u8> {
    // VP8 payload descriptor (S=1, partition 0) and a frame header whose first bit says key or not.
    let payload = [0x10, if keyframe { 0x00 } else { 0x01 }, 0x9d, 0x01, 0x2a, 7, 7, 7];
    let fields = RtpFields { ssrc: VP8_SSRC, payload_type: 96, sequence_number, timestamp: 3000 * u32::from(sequence_number), marker: true, payload: 0..0 };
    let mut out = Vec::new();
    write_rtp(&fields, &[], &payload, &mut out);
    out
}

#[test]
fn what_ffmpeg_publishes_reaches_the_recorder_rewritten_and_byte_equal() {
    let mut plain = Plain::new();
    let (publisher, recorder, ssrc) = plain.ffmpeg_to_recorder();
    assert_ne!(publisher.port(), recorder.port());
    for sequence_number in 0..5 {
        let packet = vp8_packet(sequence_number, sequence_number == 0);
        plain.arrive(PUBLISHER, publisher, &packet);
    }
    // comedia: the first packet named the endpoint.
    let tuple = plain.worker.take_notifications().into_iter().find(|n| n.event == NotificationEvent::TransportTuple).expect("a tuple notification");
    assert_eq!(tuple.target_id.as_deref(), Some("ffmpeg-plain"));
    assert_eq!(tuple.data["tuple"]["remotePort"], PUBLISHER.port());
    let rtp: Vec<OutgoingDatagram> = plain.sent().into_iter().filter(|d| !is_rtcp(&d.contents)).collect();
    assert_eq!(rtp.len(), 5, "{rtp:?}");
    for (index, datagram) in rtp.iter().enumerate() {
        assert_eq!((datagram.source, datagram.destination), (recorder, RECORDER));
        let fields = read_rtp(&datagram.contents).unwrap();
        let original = vp8_packet(index as u16, index == 0);
        let original_fields = read_rtp(&original).unwrap();
        assert_eq!(fields.ssrc, ssrc);
        assert_eq!(fields.payload_type, 101, "the recorder's payload type");
        assert_eq!(&datagram.contents[fields.payload], &original[original_fields.payload]);
    }
    let stats = plain.stats("ffmpeg-plain");
    assert_eq!((stats["rtpPacketsReceived"].as_u64(), stats["packetsDiscarded"].as_u64()), (Some(5), Some(0)));
    assert_eq!(plain.stats("recorder-plain")["rtpPacketsSent"], 5);
}

#[test]
fn packets_from_another_address_or_before_connect_are_dropped() {
    let mut plain = Plain::new();
    let (publisher, recorder, _) = plain.ffmpeg_to_recorder();
    plain.arrive(PUBLISHER, publisher, &vp8_packet(0, true));
    assert_eq!(plain.sent().iter().filter(|d| d.destination == RECORDER).count(), 1);
    // Someone else on the learnt port's transport.
    let intruder = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9999);
    plain.arrive(intruder, publisher, &vp8_packet(1, true));
    assert!(plain.sent().is_empty());
    assert_eq!(plain.stats("ffmpeg-plain")["packetsDiscarded"], 1);
    // A transport not yet connected (not comedia) takes nothing.
    let lonely = local_address(&plain.plain_peer("lonely", true, false)["tuple"]);
    plain.arrive(PUBLISHER, lonely, &vp8_packet(2, true));
    assert_eq!(plain.stats("lonely-plain")["packetsDiscarded"], 1);
    // Nor does a transport get what its endpoint says of another's streams.
    plain.arrive(RECORDER, recorder, &vp8_packet(3, true));
    assert_eq!(plain.stats("recorder-plain")["packetsDiscarded"], 1);
}

#[test]
fn the_recorders_keyframe_request_reaches_ffmpeg_as_a_pli() {
    let mut plain = Plain::new();
    let (publisher, recorder, ssrc) = plain.ffmpeg_to_recorder();
    plain.arrive(PUBLISHER, publisher, &vp8_packet(0, true));
    plain.sent();
    plain.now += Duration::from_secs(2);
    let mut pli = Vec::new();
    write_pli(1, ssrc, &mut pli);
    plain.arrive(RECORDER, recorder, &pli);
    let sent = plain.sent();
    let to_ffmpeg: Vec<&OutgoingDatagram> = sent.iter().filter(|d| d.destination == PUBLISHER).collect();
    let [request] = &to_ffmpeg[..] else { panic!("{sent:?}") };
    assert_eq!(request.source, publisher);
    let mut feedback = Vec::new();
    read_compound(&request.contents, &mut feedback).unwrap();
    assert_eq!(feedback, vec![Feedback::KeyframeRequest { media_ssrc: VP8_SSRC }]);
    assert_eq!(plain.stats("recorder-plain")["keyFrameRequestsReceived"], 1);
}

#[test]
fn a_connected_sender_asks_for_a_keyframe_and_reports_once_a_second() {
    let mut plain = Plain::new();
    let (publisher, _, ssrc) = plain.ffmpeg_to_recorder();
    // The recorder connected before ffmpeg was heard: its first packet is
    // the publisher's address, and the router asks it for a keyframe.
    plain.arrive(PUBLISHER, publisher, &vp8_packet(0, false));
    let asked = plain.sent().into_iter().filter(|d| d.destination == PUBLISHER && is_rtcp(&d.contents)).count();
    assert_eq!(asked, 1, "a keyframe request for the connected recorder");
    let mut reports = 0;
    for second in 1..=3u64 {
        plain.now += Duration::from_millis(500);
        plain.arrive(PUBLISHER, publisher, &vp8_packet(second as u16, true));
        plain.now += Duration::from_millis(500);
        let deadline = plain.worker.next_timeout().expect("a report is due");
        assert!(deadline <= plain.now, "{:?}", deadline - plain.now);
        plain.worker.handle_timeout(plain.now);
        for datagram in plain.sent().into_iter().filter(|d| d.destination == RECORDER && is_rtcp(&d.contents)) {
            let mut feedback = Vec::new();
            read_compound(&datagram.contents, &mut feedback).unwrap();
            assert_eq!(feedback, vec![Feedback::SenderReport { ssrc }]);
            // The sender's packet count, at bytes 20..24 of the report.
            let packets = u32::from_be_bytes(datagram.contents[20..24].try_into().unwrap());
            assert_eq!(u64::from(packets), 1 + second);
            reports += 1;
        }
    }
    assert_eq!(reports, 3);
}

#[test]
fn without_rtcp_mux_rtcp_has_a_port_of_its_own() {
    let mut plain = Plain::new();
    let answer = plain.plain_peer("gateway", false, false);
    let (rtp, rtcp) = (local_address(&answer["tuple"]), local_address(&answer["rtcpTuple"]));
    assert_ne!(rtp.port(), rtcp.port());
    assert_eq!(plain.network.open[&plain.worker.transport_key("gateway-plain").unwrap()].len(), 2);
    let error = plain.request("transport.connect", json!({"transportId": "gateway-plain", "ip": "127.0.0.1", "port": 7000})).unwrap_err();
    assert!(error.to_string().contains("rtcpPort is needed"), "{error}");
    let connected = plain.request("transport.connect", json!({"transportId": "gateway-plain", "ip": "127.0.0.1", "port": 7000, "rtcpPort": 7001})).unwrap();
    assert_eq!(connected["rtcpTuple"]["remotePort"], 7001);
    let parameters = json!({"codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000}], "encodings": [{"ssrc": VP8_SSRC}]});
    plain.request("rtpReceiver.receive", json!({"receiverId": "gw", "transportId": "gateway-plain", "kind": "video", "rtpParameters": parameters})).unwrap();
    // RTCP from the endpoint's RTCP port, on the RTCP socket, is taken.
    let mut pli = Vec::new();
    write_pli(1, 2, &mut pli);
    plain.arrive(SocketAddr::new(rtcp.ip(), 7001), rtcp, &pli);
    let stats = plain.stats("gateway-plain");
    assert_eq!((stats["rtcpPacketsReceived"].as_u64(), stats["packetsDiscarded"].as_u64()), (Some(1), Some(0)), "{stats}");
    // Closing it frees both ports.
    plain.request("transport.close", json!({"transportId": "gateway-plain"})).unwrap();
    assert!(plain.network.open.is_empty());
}

#[test]
fn bad_options_get_errors_that_say_what_is_wrong() {
    let mut plain = Plain::new();
    plain.plain_peer("a", true, true);
    let cases = [
        (json!({"transportId": "a-plain", "ip": "127.0.0.1", "port": 7000}), "comedia"),
    ];
    for (data, expected) in cases {
        let error = plain.request("transport.connect", data).unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
    }
    plain.plain_peer("b", true, false);
    for (data, expected) in [
        (json!({"transportId": "b-plain", "ip": "::1", "port": 7000}), "family"),
        (json!({"transportId": "b-plain", "ip": "nowhere", "port": 7000}), "not an IP address"),
        (json!({"transportId": "b-plain", "ip": "127.0.0.1", "port": 0}), "1 to 65535"),
        (json!({"transportId": "b-plain", "ip": "127.0.0.1", "port": 7000, "rtcpPort": 7001}), "rtcpMux"),
    ] {
        let error = plain.request("transport.connect", data).unwrap_err();
        assert!(error.to_string().contains(expected), "{expected}: {error}");
    }
    plain.request("transport.connect", json!({"transportId": "b-plain", "ip": "127.0.0.1", "port": 7000})).unwrap();
    let again = plain.request("transport.connect", json!({"transportId": "b-plain", "ip": "127.0.0.1", "port": 7002})).unwrap_err();
    assert!(again.to_string().contains("connected already"), "{again}");
    plain.request("room.createPeer", json!({"roomId": "room", "peerId": "c", "name": "c"})).unwrap();
    let elsewhere = plain
        .request("peer.createPlainTransport", json!({"peerId": "c", "transportId": "c-plain", "listenIp": "10.0.0.1", "rtcpMux": true, "comedia": false}))
        .unwrap_err();
    assert!(elsewhere.to_string().contains("not one of the server's listen addresses (127.0.0.1)"), "{elsewhere}");
    let webrtc_only = plain.request("transport.restartIce", json!({"transportId": "b-plain"})).unwrap_err();
    assert!(webrtc_only.to_string().contains("needs a WebRTC transport"), "{webrtc_only}");
    // A receiver must name its SSRCs.
    let parameters = json!({"codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000}], "encodings": [{"rid": "h"}]});
    let error = plain.request("rtpReceiver.receive", json!({"receiverId": "x", "transportId": "b-plain", "kind": "video", "rtpParameters": parameters})).unwrap_err();
    assert!(error.to_string().contains("a plain transport's stream names its SSRCs"), "{error}");
}

#[test]
fn any_datagram_on_a_plain_port_is_survived() {
    let mut plain = Plain::new();
    let (publisher, recorder, _) = plain.ffmpeg_to_recorder();
    plain.arrive(PUBLISHER, publisher, &vp8_packet(0, true));
    let mut noise = Noise::new(0x2545_F491_4F6C_DD1D);
    for length in 0..3_000usize {
        // Half of them look like RTP or RTCP version 2.
        let bytes = if length % 2 == 0 { noise.version_2(length % 80) } else { noise.bytes(length % 80) };
        plain.arrive(PUBLISHER, publisher, &bytes);
        plain.arrive(RECORDER, recorder, &bytes);
    }
    plain.sent();
    // Still forwarding.
    plain.arrive(PUBLISHER, publisher, &vp8_packet(1, true));
    assert!(plain.sent().iter().any(|d| d.destination == RECORDER && !is_rtcp(&d.contents)));
}

#[test]
fn comedia_learns_from_rtp_not_from_the_rtcp_ffmpeg_sends_first_from_another_port() {
    let mut plain = Plain::new();
    let (publisher, _, _) = plain.ffmpeg_to_recorder();
    // ffmpeg's first datagram: a sender report from its RTCP socket.
    let ffmpeg_rtcp = SocketAddr::new(PUBLISHER.ip(), PUBLISHER.port() + 1);
    let report = [0x80, 200, 0, 6, 0, 0, 0x22, 0x22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    plain.arrive(ffmpeg_rtcp, publisher, &report);
    plain.arrive(PUBLISHER, publisher, &vp8_packet(0, true));
    assert_eq!(plain.sent().iter().filter(|d| d.destination == RECORDER).count(), 1);
    let stats = plain.stats("ffmpeg-plain");
    assert_eq!(stats["tuple"]["remotePort"], PUBLISHER.port());
    assert_eq!((stats["rtpPacketsReceived"].as_u64(), stats["packetsDiscarded"].as_u64()), (Some(1), Some(1)));
}

/// The context that reads (or writes) with `parameters` (`{'cryptoSuite', 'keyBase64'}`).
fn srtp_context(parameters: &Value) -> SrtpContext {
    use base64::Engine;
    let suite = CryptoSuite::from_name(parameters["cryptoSuite"].as_str().unwrap()).unwrap();
    let master = base64::engine::general_purpose::STANDARD.decode(parameters["keyBase64"].as_str().unwrap()).unwrap();
    SrtpContext::new(suite, &master).unwrap()
}

#[test]
fn with_srtp_only_what_authenticates_is_taken_and_what_leaves_is_protected() {
    let mut plain = Plain::new();
    // ffmpeg publishes with SRTP (comedia); a recorder receives in another suite.
    let publisher_answer = plain.srtp_peer("ffmpeg", true, true, Some("AES_CM_128_HMAC_SHA1_80"));
    let publisher = local_address(&publisher_answer["tuple"]);
    let parameters = json!({"codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000}], "encodings": [{"ssrc": VP8_SSRC}]});
    plain.request("rtpReceiver.receive", json!({"receiverId": "camera", "transportId": "ffmpeg-plain", "kind": "video", "rtpParameters": parameters})).unwrap();
    let recorder_answer = plain.srtp_peer("recorder", true, false, Some("AEAD_AES_256_GCM"));
    let recorder = local_address(&recorder_answer["tuple"]);
    assert_eq!(recorder_answer["srtpParameters"]["cryptoSuite"], "AEAD_AES_256_GCM");
    assert_eq!(recorder_answer["srtpParameters"]["keyBase64"].as_str().unwrap().len(), 60, "44 bytes in base64");
    assert_ne!(publisher_answer["srtpParameters"]["keyBase64"], recorder_answer["srtpParameters"]["keyBase64"], "keys are drawn for each");
    let consumer = plain.request("rtpSender.create", json!({"senderId": "to-recorder", "peerId": "recorder", "receiverId": "camera"})).unwrap();
    let ssrc = consumer["encodings"][0]["ssrc"].as_u64().unwrap() as u32;
    plain.request("rtpSender.setTransport", json!({"senderId": "to-recorder", "transportId": "recorder-plain"})).unwrap();
    let recorder_keys = json!({"cryptoSuite": "AEAD_AES_128_GCM", "keyBase64": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw=="});
    plain.request("transport.connect", json!({"transportId": "recorder-plain", "ip": "127.0.0.1", "port": RECORDER.port(), "srtpParameters": recorder_keys})).unwrap();

    let ffmpeg_keys = json!({"cryptoSuite": "AES_CM_128_HMAC_SHA1_80", "keyBase64": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"});
    let mut ffmpeg = srtp_context(&ffmpeg_keys);
    let protected = |ffmpeg: &mut SrtpContext, sequence_number: u16| {
        let mut packet = vp8_packet(sequence_number, true);
        ffmpeg.protect_rtp(&mut packet).unwrap();
        packet
    };
    // Before connect() gave ffmpeg's keys: nothing taken, nothing learnt.
    plain.arrive(PUBLISHER, publisher, &protected(&mut ffmpeg, 0));
    assert_eq!(plain.stats("ffmpeg-plain")["packetsDiscarded"], 1);
    assert!(plain.stats("ffmpeg-plain")["tuple"]["remotePort"].is_null());
    plain.request("transport.connect", json!({"transportId": "ffmpeg-plain", "srtpParameters": ffmpeg_keys})).unwrap();
    // A forged packet (other keys) or one in the clear teaches comedia nothing.
    let intruder = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9999);
    let mut forger = SrtpContext::new(CryptoSuite::AesCm128HmacSha1_80, &[9; 30]).unwrap();
    plain.arrive(intruder, publisher, &protected(&mut forger, 1));
    plain.arrive(intruder, publisher, &vp8_packet(1, true));
    assert!(plain.stats("ffmpeg-plain")["tuple"]["remotePort"].is_null());
    assert_eq!(plain.stats("ffmpeg-plain")["packetsDiscarded"], 3);
    for sequence_number in 1..4 {
        plain.arrive(PUBLISHER, publisher, &protected(&mut ffmpeg, sequence_number));
    }
    assert_eq!(plain.stats("ffmpeg-plain")["tuple"]["remotePort"], PUBLISHER.port());

    // The recorder reads what it got with the transport's keys.
    let mut recorder_reads = srtp_context(&recorder_answer["srtpParameters"]);
    let sent = plain.sent();
    let rtp: Vec<&OutgoingDatagram> = sent.iter().filter(|d| d.destination == RECORDER && !is_rtcp(&d.contents)).collect();
    assert_eq!(rtp.len(), 3, "{sent:?}");
    for (index, datagram) in rtp.iter().enumerate() {
        let mut contents = datagram.contents.clone();
        let length = recorder_reads.unprotect_rtp(&mut contents).unwrap();
        let fields = read_rtp(&contents[..length]).unwrap();
        let original = vp8_packet(index as u16 + 1, true);
        assert_eq!((fields.ssrc, fields.payload_type), (ssrc, 101));
        assert_eq!(&contents[fields.payload], &original[read_rtp(&original).unwrap().payload]);
    }
    // The recorder's PLI, protected with its keys, reaches ffmpeg as SRTCP ffmpeg reads.
    let mut recorder_writes = srtp_context(&recorder_keys);
    let mut pli = Vec::new();
    write_pli(1, ssrc, &mut pli);
    recorder_writes.protect_rtcp(&mut pli).unwrap();
    plain.now += Duration::from_secs(2);
    plain.arrive(RECORDER, recorder, &pli);
    let mut ffmpeg_reads = srtp_context(&publisher_answer["srtpParameters"]);
    let to_ffmpeg: Vec<OutgoingDatagram> = plain.sent().into_iter().filter(|d| d.destination == PUBLISHER).collect();
    let [request] = &to_ffmpeg[..] else { panic!("{to_ffmpeg:?}") };
    let mut contents = request.contents.clone();
    let length = ffmpeg_reads.unprotect_rtcp(&mut contents).unwrap();
    let mut feedback = Vec::new();
    read_compound(&contents[..length], &mut feedback).unwrap();
    assert_eq!(feedback, vec![Feedback::KeyframeRequest { media_ssrc: VP8_SSRC }]);
    // The same PLI again is a replay: refused.
    plain.arrive(RECORDER, recorder, &pli);
    assert_eq!(plain.stats("recorder-plain")["keyFrameRequestsReceived"], 1);
    assert_eq!(plain.stats("recorder-plain")["packetsDiscarded"], 1);
    // Random bytes on both ports change nothing.
    let mut noise = Noise::new(0x1234_5678_9abc_def1);
    for length in 0..2_000usize {
        let bytes = noise.version_2(length % 70);
        plain.arrive(PUBLISHER, publisher, &bytes);
        plain.arrive(RECORDER, recorder, &bytes);
    }
    assert!(plain.sent().iter().all(|d| d.destination != RECORDER || is_rtcp(&d.contents)));
    plain.arrive(PUBLISHER, publisher, &protected(&mut ffmpeg, 4));
    assert!(plain.sent().iter().any(|d| d.destination == RECORDER && !is_rtcp(&d.contents)), "still forwarding");
    // Streams that close leave no SRTP state (a context keeps a bounded number).
    let srtp_has = |plain: &Plain, transport: &str, received: bool, ssrc: u32| {
        let key = plain.worker.transport_key(transport).unwrap();
        matches!(plain.worker.transports.get(&key), Some(Transport::Plain(t)) if t.srtp_has_stream(received, ssrc))
    };
    assert!(srtp_has(&plain, "ffmpeg-plain", true, VP8_SSRC) && srtp_has(&plain, "recorder-plain", false, ssrc));
    plain.request("rtpSender.close", json!({"senderId": "to-recorder"})).unwrap();
    plain.request("rtpReceiver.close", json!({"receiverId": "camera"})).unwrap();
    assert!(!srtp_has(&plain, "ffmpeg-plain", true, VP8_SSRC) && !srtp_has(&plain, "recorder-plain", false, ssrc));
}

#[test]
fn srtp_options_are_checked() {
    let mut plain = Plain::new();
    plain.request("room.createPeer", json!({"roomId": "room", "peerId": "x", "name": "x"})).unwrap();
    let error = plain
        .request("peer.createPlainTransport", json!({"peerId": "x", "transportId": "x-plain", "rtcpMux": true, "comedia": false, "srtpCryptoSuite": "NULL"}))
        .unwrap_err();
    assert!(error.to_string().contains("is not one of AEAD_AES_256_GCM"), "{error}");
    assert!(plain.network.open.is_empty(), "no port taken");
    plain.srtp_peer("s", true, false, Some("AES_CM_128_HMAC_SHA1_32"));
    plain.srtp_peer("c", true, true, Some("AES_CM_128_HMAC_SHA1_80"));
    plain.plain_peer("p", true, false);
    let keys = json!({"cryptoSuite": "AES_CM_128_HMAC_SHA1_80", "keyBase64": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"});
    for (data, expected) in [
        (json!({"transportId": "s-plain", "ip": "127.0.0.1", "port": 7000}), "srtpParameters are needed"),
        (json!({"transportId": "p-plain", "ip": "127.0.0.1", "port": 7000, "srtpParameters": keys}), "without enableSrtp"),
        (json!({"transportId": "s-plain", "ip": "127.0.0.1", "port": 7000, "srtpParameters": {"cryptoSuite": "AES_CM_128_HMAC_SHA1_80", "keyBase64": "AAEC"}}), "needs a key and salt of 30 bytes (40 in base64), not 3"),
        (json!({"transportId": "s-plain", "ip": "127.0.0.1", "port": 7000, "srtpParameters": {"cryptoSuite": "AES_CM_128_HMAC_SHA1_80", "keyBase64": "!!"}}), "not base64"),
        (json!({"transportId": "s-plain", "ip": "127.0.0.1", "port": 7000, "srtpParameters": {"cryptoSuite": "F8_128", "keyBase64": "AAEC"}}), "F8_128"),
        (json!({"transportId": "s-plain", "ip": "127.0.0.1", "srtpParameters": keys}), "ip and port together"),
        (json!({"transportId": "c-plain", "ip": "127.0.0.1", "port": 7000, "srtpParameters": keys}), "takes only srtpParameters"),
        (json!({"transportId": "c-plain"}), "srtpParameters are needed"),
    ] {
        let error = plain.request("transport.connect", data).unwrap_err();
        assert!(error.to_string().contains(expected), "{expected}: {error}");
    }
    // The suites of the two directions may differ.
    plain.request("transport.connect", json!({"transportId": "s-plain", "ip": "127.0.0.1", "port": 7000, "srtpParameters": keys})).unwrap();
    plain.request("transport.connect", json!({"transportId": "c-plain", "srtpParameters": keys})).unwrap();
    let again = plain.request("transport.connect", json!({"transportId": "c-plain", "srtpParameters": keys})).unwrap_err();
    assert!(again.to_string().contains("connected already"), "{again}");
}

#[test]
fn with_nack_what_goes_missing_is_asked_for_and_what_is_asked_for_is_sent_again() {
    let mut plain = Plain::new();
    // A pipe's two ends, as plain transports with enableNack: the entry
    // (comedia here) receives, the exit sends.
    let entry = local_address(&plain.peer_with("entry", json!({"rtcpMux": true, "comedia": true, "enableNack": true}))["tuple"]);
    let parameters = json!({"codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000}], "encodings": [{"ssrc": VP8_SSRC}]});
    plain.request("rtpReceiver.receive", json!({"receiverId": "copy", "transportId": "entry-plain", "kind": "video", "rtpParameters": parameters})).unwrap();
    let exit_answer = plain.peer_with("exit", json!({"rtcpMux": true, "comedia": false, "enableNack": true}));
    assert_eq!(exit_answer["enableNack"], true);
    let exit = local_address(&exit_answer["tuple"]);
    let consumer = plain.request("rtpSender.create", json!({"senderId": "out", "peerId": "exit", "receiverId": "copy"})).unwrap();
    let ssrc = consumer["encodings"][0]["ssrc"].as_u64().unwrap() as u32;
    plain.request("rtpSender.setTransport", json!({"senderId": "out", "transportId": "exit-plain"})).unwrap();
    plain.request("transport.connect", json!({"transportId": "exit-plain", "ip": "127.0.0.1", "port": RECORDER.port()})).unwrap();
    let mut forwarded: Vec<Vec<u8>> = Vec::new();
    let keep = |sent: Vec<OutgoingDatagram>, forwarded: &mut Vec<Vec<u8>>| -> Vec<OutgoingDatagram> {
        forwarded.extend(sent.iter().filter(|d| d.destination == RECORDER && !is_rtcp(&d.contents)).map(|d| d.contents.clone()));
        sent
    };

    // The entry: 0, 1, then 3: 2 is missing, and asked for after the reorder wait.
    for sequence_number in [0, 1, 3] {
        plain.arrive(PUBLISHER, entry, &vp8_packet(sequence_number, sequence_number == 0));
    }
    let sent = plain.sent();
    keep(sent, &mut forwarded);
    plain.now += crate::transport::retransmission::REORDER_WAIT;
    assert!(plain.worker.next_timeout().is_some_and(|due| due <= plain.now));
    plain.worker.handle_timeout(plain.now);
    let asked = nacked_by(&plain.sent(), PUBLISHER, VP8_SSRC);
    assert_eq!(asked, vec![2]);
    // It comes again: repaired, forwarded, and asked for no more.
    plain.arrive(PUBLISHER, entry, &vp8_packet(2, false));
    let sent = plain.sent();
    assert_eq!(keep(sent, &mut forwarded).iter().filter(|d| d.destination == RECORDER && !is_rtcp(&d.contents)).count(), 1);
    let stats = plain.stats("entry-plain");
    assert_eq!((stats["nacksSent"].as_u64(), stats["repairedPackets"].as_u64()), (Some(1), Some(1)), "{stats}");
    plain.now += crate::transport::retransmission::NACK_INTERVAL * 2;
    plain.worker.handle_timeout(plain.now);
    assert!(nacked_by(&plain.sent(), PUBLISHER, VP8_SSRC).is_empty());

    // The exit: what it sent is kept; a NACK of two packets sends exactly
    // those bytes again; one never sent, or of another stream, nothing.
    assert_eq!(forwarded.len(), 4);
    let sequence = |bytes: &[u8]| u16::from_be_bytes([bytes[2], bytes[3]]);
    let mut nack = Vec::new();
    write_nack(1, ssrc, &[sequence(&forwarded[0]), sequence(&forwarded[2]), sequence(&forwarded[3]).wrapping_add(5)], &mut nack);
    write_nack(1, ssrc ^ 1, &[sequence(&forwarded[1])], &mut nack);
    plain.arrive(RECORDER, exit, &nack);
    let again: Vec<Vec<u8>> = plain.sent().into_iter().filter(|d| d.destination == RECORDER && !is_rtcp(&d.contents)).map(|d| d.contents).collect();
    assert_eq!(again, vec![forwarded[0].clone(), forwarded[2].clone()]);
    let stats = plain.stats("exit-plain");
    assert_eq!((stats["retransmittedPackets"].as_u64(), stats["nackedPackets"].as_u64(), stats["rtpPacketsSent"].as_u64()), (Some(2), Some(3), Some(6)), "{stats}");
}

/// The sequence numbers of `media_ssrc` the NACKs sent to `destination` ask for.
fn nacked_by(sent: &[OutgoingDatagram], destination: SocketAddr, media_ssrc: u32) -> Vec<u16> {
    let mut feedback = Vec::new();
    for datagram in sent.iter().filter(|d| d.destination == destination && is_rtcp(&d.contents)) {
        read_compound(&datagram.contents, &mut feedback).unwrap();
    }
    feedback
        .iter()
        .filter_map(|item| match *item {
            Feedback::Nack { media_ssrc: ssrc, first, mask } if ssrc == media_ssrc => Some(nacked(first, mask)),
            _ => None,
        })
        .flatten()
        .collect()
}
