//! The seeds of every target's corpus: valid inputs a fuzzer starts from,
//! written by `fuzzing_tests::write_the_seeds` into `fuzz/corpus/`.

use serde_json::{json, Value};

use crate::channel::frame::{encode_frame, encode_rfc4571};
use crate::channel::media::{encode_media_frame, FrameKind};
use crate::rtp::codecs::dependency_descriptor::testing::{descriptor, L3T3_KEY};
use crate::rtp::codecs::{av1, vp9};
use crate::rtp::rtcp::{write_nack, write_pli, write_sender_report, SenderInfo};
use crate::rtp::wire::{write_rtp, RtpFields};

/// A call's requests, as the extension writes them.
fn call_requests() -> Vec<Value> {
    let vp8 = json!({"codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000}], "encodings": [{"ssrc": 1, "scalabilityMode": "L1T3"}]});
    let capabilities = json!({"codecs": [{"kind": "video", "mimeType": "video/VP8", "clockRate": 90000, "preferredPayloadType": 96},
                                          {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2, "preferredPayloadType": 111}],
                               "headerExtensions": []});
    let webrtc = json!({"peerId": "b", "transportId": "t", "udp": true, "tcp": true, "preferIPv4": false, "preferIPv6": false, "preferUdp": false, "preferTcp": false, "enableSctp": true});
    let calls = [
        ("room.create", json!({"roomId": "r"})),
        ("room.createPeer", json!({"roomId": "r", "peerId": "a", "name": "a"})),
        ("peer.setCapabilities", json!({"peerId": "a", "rtpCapabilities": capabilities})),
        ("peer.createPlainTransport", json!({"peerId": "a", "transportId": "p", "rtcpMux": true, "comedia": false})),
        ("rtpReceiver.receive", json!({"receiverId": "cam", "transportId": "p", "kind": "video", "rtpParameters": vp8})),
        ("room.createPeer", json!({"roomId": "r", "peerId": "b", "name": "b"})),
        ("peer.setCapabilities", json!({"peerId": "b", "rtpCapabilities": capabilities})),
        ("peer.createTransport", webrtc),
        ("rtpSender.create", json!({"senderId": "s", "peerId": "b", "receiverId": "cam"})),
        ("rtpSender.setTransport", json!({"senderId": "s", "transportId": "t"})),
        ("rtpSender.setPreferredLayers", json!({"senderId": "s", "spatialLayer": 0, "temporalLayer": 1})),
        ("rtpSender.setActive", json!({"senderId": "s", "active": false})),
        ("rtpSender.requestKeyFrame", json!({"senderId": "s"})),
        ("transport.setMaxBitrate", json!({"transportId": "t", "bitrate": 500000})),
        ("transport.connect", json!({"transportId": "p", "ip": "127.0.0.1", "port": 5004})),
        ("dataReceiver.receive", json!({"dataReceiverId": "d", "transportId": "t", "sctpStreamParameters": {"streamId": 1, "ordered": true}, "label": "chat"})),
        ("peer.sendData", json!({"peerId": "b", "label": "chat", "data": "hi", "binary": false})),
        ("transport.getStats", json!({"transportId": "t"})),
        ("room.dump", json!({"roomId": "r"})),
        ("worker.getMetrics", Value::Null),
        ("rtpReceiver.close", json!({"receiverId": "cam"})),
        ("peer.close", json!({"peerId": "a"})),
        ("room.close", json!({"roomId": "r"})),
    ];
    calls
        .into_iter()
        .enumerate()
        .map(|(index, (method, data))| json!({"id": index + 1, "method": method, "data": data}))
        .collect()
}

fn rtp(ssrc: u32, payload_type: u8, sequence_number: u16, extensions: &[(u8, &[u8])], payload: &[u8]) -> Vec<u8> {
    let fields = RtpFields { ssrc, payload_type, sequence_number, timestamp: 3000 * u32::from(sequence_number), marker: true, payload: 0..0 };
    let mut packet = Vec::new();
    write_rtp(&fields, extensions, payload, &mut packet);
    packet
}

/// A packet of each stream of the datagrams target's scene, and AV1 with
/// its descriptor.
fn media_packets() -> Vec<Vec<u8>> {
    let vp8_key = [0x90, 0x80, 0x81, 0x02, 0x10, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00];
    let h264_idr = [0x7c, 0x85, 0x88, 0x84, 0x00];
    let opus = [0xfc, 0xff, 0xfe];
    vec![
        rtp(1, 96, 1, &[], &vp8_key),
        rtp(2, 98, 1, &[], &vp9::packet(1, true, 0, 0, true, true, true)),
        rtp(3, 102, 1, &[], &h264_idr),
        rtp(4, 45, 1, &[(8, &descriptor(L3T3_KEY, 0, 1, true, (true, true)))], &av1::packet(true)),
        rtp(5, 111, 1, &[(10, &[0x80 | 30])], &opus),
        rtp(12, 97, 1, &[], &vp8_key),
    ]
}

fn reports() -> Vec<Vec<u8>> {
    let mut pli = Vec::new();
    write_pli(9, 1, &mut pli);
    let mut nack = Vec::new();
    write_nack(9, 1, &[1, 3, 4, 20], &mut nack);
    let mut sender_report = Vec::new();
    write_sender_report(&SenderInfo { ssrc: 1, ntp: 1 << 32, rtp_timestamp: 90000, packets: 10, octets: 1000 }, "cname", &mut sender_report);
    let compound = [sender_report.clone(), nack.clone(), pli.clone()].concat();
    vec![pli, nack, sender_report, compound]
}

/// A STUN binding request (what any endpoint sends first).
fn stun_binding() -> Vec<u8> {
    let mut stun = vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42];
    stun.extend_from_slice(&[7; 12]);
    stun.extend_from_slice(&[0x00, 0x06, 0x00, 0x04, b'a', b':', b'b', b'c']);
    stun
}

/// Records of the datagrams target: a selector byte, a 2-byte length, the bytes.
fn records(state: u8, datagrams: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = vec![state];
    for (selector, datagram) in datagrams {
        out.push(*selector);
        out.extend_from_slice(&(datagram.len() as u16).to_be_bytes());
        out.extend_from_slice(datagram);
    }
    out
}

/// A record: a 2-byte length, then the bytes.
fn record(bytes: &[u8]) -> Vec<u8> {
    [&(bytes.len() as u16).to_be_bytes()[..], bytes].concat()
}

/// The data_channels target's operations (see its `operate`): `client` 0
/// is Alice, 4 Bob. Opens a channel.
pub(super) fn open(client: u8, flags: u8, number: u16, label: &[u8], protocol: &[u8]) -> Vec<u8> {
    [&[client, flags][..], &number.to_be_bytes(), &record(label), &record(protocol)].concat()
}

/// Writes `message` on the client's open channel at index `channel`.
pub(super) fn write(client: u8, channel: u8, flags: u8, message: &[u8]) -> Vec<u8> {
    [&[client | 1, channel, flags][..], &record(message)].concat()
}

/// Lets `steps` × 10 ms pass.
pub(super) fn wait(steps: u8) -> Vec<u8> {
    vec![3, steps]
}

/// Inputs of the data_channels target.
fn data_channel_operations() -> Vec<Vec<u8>> {
    vec![
        // Alice and Bob open "chat" in band (each joins the relay); they talk.
        [open(0, 0, 0, b"chat", b""), open(4, 0, 0, b"chat", b""), wait(5), write(0, 0, 0, b"hello"), wait(5), write(4, 0, 1, &[0, 1, 2, 255]), wait(5)].concat(),
        // Unordered with 3 retransmits, a 100 ms lifetime, a negotiated stream 7;
        // a 64 KiB message, one of 300 KiB (over the channel's limit); Bob closes one.
        [
            open(4, 0, 0, b"chat", b""),
            open(0, 3, 3, b"lossy", b"proto"),
            open(0, 5, 100, b"lifetime", b""),
            open(4, 6, 7, b"negotiated", b""),
            wait(5),
            [&[1, 0, 3][..], &record(&[7; 8]), &2048u16.to_be_bytes()].concat(),
            [&[1, 0, 6][..], &record(b"abcdefgh"), &8192u16.to_be_bytes()].concat(),
            [&[1, 1, 6][..], &record(b"x"), &38400u16.to_be_bytes()].concat(),
            wait(20),
            vec![6, 0],
            write(0, 1, 0, "é✓".as_bytes()),
            wait(50),
        ]
        .concat(),
    ]
}

pub fn all() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let requests = call_requests();
    let mut channel = vec![16];
    for request in &requests {
        encode_frame(request.to_string().as_bytes(), &mut channel);
    }
    let lines: Vec<String> = requests.iter().map(Value::to_string).collect();
    let mut framed = vec![7];
    for packet in media_packets().iter().chain(&reports()) {
        encode_rfc4571(packet, &mut framed);
    }
    let rtp_records: Vec<u8> = media_packets()
        .iter()
        .flat_map(|packet| [&[0x08u8][..], &(packet.len() as u16).to_be_bytes(), packet].concat())
        .collect();
    let mut media = vec![1];
    for (kind, payload) in [(FrameKind::Rtp, media_packets()[0].clone()), (FrameKind::KeyframeRequest, Vec::new()), (FrameKind::Data, b"hello".to_vec())] {
        encode_media_frame(kind, 1, 1, &payload, &mut media);
    }
    let to_publisher: Vec<(u8, Vec<u8>)> = media_packets().into_iter().map(|packet| (0x08, packet)).collect();
    let from_recorder: Vec<(u8, Vec<u8>)> = reports().into_iter().map(|report| (0x01, report)).collect();
    vec![
        ("channel", vec![channel]),
        ("requests", vec![lines.join("\n").into_bytes()]),
        ("rfc4571", vec![framed]),
        ("rtp", vec![rtp_records]),
        ("rtcp", reports()),
        ("srtp", [media_packets(), reports()].concat()),
        ("media_frames", vec![media]),
        (
            "datagrams",
            vec![
                records(0, &[(2, stun_binding()), (3, stun_binding())]),
                records(1, &[(2, stun_binding()), (6, vec![22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0])]),
                records(2, &[(2, vec![22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]), (2, media_packets()[0].clone())]),
                records(3, &[(2, media_packets()[0].clone()), (2, reports()[3].clone()), (3, stun_binding())]),
                records(2, &[to_publisher, from_recorder].concat()),
            ],
        ),
        ("data_channels", data_channel_operations()),
    ]
}
