//! The media path through the whole worker, without a socket: frames
//! Python writes for a direct transport's receiver reach another direct
//! transport's sender as frames for Python, rewritten; keyframe requests
//! go both ways; a consumer that does not read loses its own packets only.

use crate::testing::ready_worker;
use super::*;
use crate::channel::media::{encode_media_frame, FrameKind, MediaFrameReader, DIRECT_QUEUE_BYTES, MEDIA_HEAD};
use crate::rtp::wire::{read_rtp, write_rtp, RtpFields};
use serde_json::json;
use std::time::Duration;

const OPUS_SSRC: u32 = 4321;

struct Media {
    worker: Worker,
    network: crate::testing::FakeNetwork,
    now: Instant,
}

impl Media {
    fn new() -> Self {
        let (mut worker, network, now) = ready_worker();
        worker.enable_media_path();
        let mut media = Self { worker, network, now };
        media.request("room.create", json!({"roomId": "room", "mediaCodecs": null, "forceUniquePayloadTypes": false})).unwrap();
        media
    }

    fn request(&mut self, method: &str, data: Value) -> Result<Value, WorkerError> {
        let request: Request = serde_json::from_value(json!({"method": method, "data": data})).unwrap();
        self.worker.handle_request(request, self.now, &mut self.network)
    }

    /// A peer with a direct transport, with the room's capabilities; its handle.
    fn direct_peer(&mut self, peer_id: &str) -> u32 {
        self.request("room.createPeer", json!({"roomId": "room", "peerId": peer_id, "name": peer_id})).unwrap();
        let capabilities = json!({"codecs": [{"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2, "preferredPayloadType": 100},
                {"kind": "video", "mimeType": "video/VP8", "clockRate": 90000, "preferredPayloadType": 101}],
            "headerExtensions": [{"kind": "audio", "uri": "urn:ietf:params:rtp-hdrext:ssrc-audio-level", "preferredId": 1}]});
        self.request("peer.setCapabilities", json!({"peerId": peer_id, "rtpCapabilities": capabilities})).unwrap();
        let answer = self.request("peer.createDirectTransport", json!({"peerId": peer_id, "transportId": format!("{peer_id}-direct")})).unwrap();
        answer["handle"].as_u64().unwrap() as u32
    }

    /// Alice publishes Opus on her direct transport; Bob's sender of it is
    /// on his. Answers Bob's sender's SSRC.
    fn alice_to_bob(&mut self) -> (u32, u32, u32) {
        let alice = self.direct_peer("alice");
        let bob = self.direct_peer("bob");
        let parameters = json!({"codecs": [{"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2}],
            "encodings": [{"ssrc": OPUS_SSRC}],
            "headerExtensions": [{"uri": "urn:ietf:params:rtp-hdrext:ssrc-audio-level", "id": 9}]});
        self.request("rtpReceiver.receive", json!({"receiverId": "voice", "transportId": "alice-direct", "kind": "audio", "rtpParameters": parameters}))
            .unwrap();
        let consumer = self.request("rtpSender.create", json!({"senderId": "voice-to-bob", "peerId": "bob", "receiverId": "voice"})).unwrap();
        self.request("rtpSender.setTransport", json!({"senderId": "voice-to-bob", "transportId": "bob-direct"})).unwrap();
        (alice, bob, consumer["encodings"][0]["ssrc"].as_u64().unwrap() as u32)
    }

    /// Python writes packets `sequence_numbers` of Alice's stream.
    fn publish(&mut self, alice: u32, sequence_numbers: impl IntoIterator<Item = u16>) {
        let mut bytes = Vec::new();
        for sequence_number in sequence_numbers {
            let timestamp = u32::from(sequence_number.wrapping_add(2)) * 960;
            let fields = RtpFields { ssrc: OPUS_SSRC, payload_type: 111, sequence_number, timestamp, marker: false, payload: 0..0 };
            let mut packet = Vec::new();
            write_rtp(&fields, &[(9, &[0x80 | 25])], &sequence_number.to_be_bytes(), &mut packet);
            encode_media_frame(FrameKind::Rtp, alice, OPUS_SSRC, &packet, &mut bytes);
        }
        // Split anywhere: the worker reads frames as the socket hands them over.
        for piece in bytes.chunks(37) {
            self.worker.handle_media(piece, self.now);
        }
    }

    /// The frames the worker has for Python: (kind, handle, ssrc, payload).
    fn frames_for_python(&mut self) -> Vec<(FrameKind, u32, u32, Vec<u8>)> {
        let mut bytes = Vec::new();
        while self.worker.take_media(&mut bytes, 1500) {}
        let mut reader = MediaFrameReader::default();
        reader.push(&bytes);
        let mut frames = Vec::new();
        while let Some(frame) = reader.next_frame() {
            let frame = frame.unwrap();
            frames.push((frame.kind, frame.transport, frame.ssrc, frame.payload.to_vec()));
        }
        frames
    }
}

#[test]
fn a_packet_python_publishes_reaches_another_python_sender_rewritten() {
    let mut media = Media::new();
    let (alice, bob, bob_ssrc) = media.alice_to_bob();
    media.publish(alice, 65_534..=65_535);
    media.publish(alice, 0..3);
    let frames = media.frames_for_python();
    assert_eq!(frames.len(), 5);
    let mut previous: Option<RtpFields> = None;
    for (index, (kind, handle, ssrc, packet)) in frames.iter().enumerate() {
        assert_eq!((*kind, *handle, *ssrc), (FrameKind::Rtp, bob, bob_ssrc));
        let fields = read_rtp(packet).unwrap();
        assert_eq!(fields.ssrc, bob_ssrc, "the sender's SSRC, not the publisher's");
        assert_eq!(fields.payload_type, 100, "the room's payload type for Bob");
        let sent = [65_534u16, 65_535, 0, 1, 2][index];
        assert_eq!(&packet[fields.payload.clone()], &sent.to_be_bytes(), "the payload as published");
        assert_eq!(crate::rtp::stream_ids::read_audio_level(packet, 1), Some((bob_ssrc, -25)), "the level at Bob's id");
        if let Some(previous) = previous {
            assert_eq!(fields.sequence_number, previous.sequence_number.wrapping_add(1), "no gap across the wrap");
            assert_eq!(fields.timestamp.wrapping_sub(previous.timestamp), 960, "the publisher's timestamp steps");
        }
        previous = Some(fields);
    }
    let stats = media.request("rtpReceiver.getStats", json!({"receiverId": "voice"})).unwrap();
    assert_eq!(stats[0]["packetsReceived"], json!(5));
    let transport = media.request("transport.getStats", json!({"transportId": "bob-direct"})).unwrap();
    assert_eq!((transport[0]["type"].clone(), transport[0]["packetsSent"].clone()), (json!("direct-transport"), json!(5)));
}

#[test]
fn keyframe_requests_cross_the_media_path_both_ways() {
    const VP8_SSRC: u32 = 5555;
    let mut media = Media::new();
    let (alice, _, _) = media.alice_to_bob();
    let parameters = json!({"codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000}], "encodings": [{"ssrc": VP8_SSRC}]});
    media.request("rtpReceiver.receive", json!({"receiverId": "cam", "transportId": "alice-direct", "kind": "video", "rtpParameters": parameters})).unwrap();
    media.request("rtpSender.create", json!({"senderId": "cam-to-bob", "peerId": "bob", "receiverId": "cam"})).unwrap();
    media.request("rtpSender.setTransport", json!({"senderId": "cam-to-bob", "transportId": "bob-direct"})).unwrap();
    let keyframe_request = (FrameKind::KeyframeRequest, alice, VP8_SSRC, Vec::new());
    assert_eq!(media.frames_for_python(), vec![keyframe_request.clone()], "a new subscriber asks at once");
    // Python (Bob's decoder) asks for a keyframe of the stream it gets: Alice's Python end is told.
    media.now += Duration::from_secs(1);
    media.request("rtpSender.requestKeyFrame", json!({"senderId": "cam-to-bob"})).unwrap();
    assert_eq!(media.frames_for_python(), vec![keyframe_request.clone()]);
    media.request("rtpSender.requestKeyFrame", json!({"senderId": "cam-to-bob"})).unwrap();
    assert_eq!(media.frames_for_python(), vec![], "at most one per interval, as for PLIs");
    media.request("rtpSender.requestKeyFrame", json!({"senderId": "voice-to-bob"})).unwrap();
    assert_eq!(media.frames_for_python(), vec![], "audio has no keyframes");
    let error = media.request("rtpSender.requestKeyFrame", json!({"senderId": "nobody"})).unwrap_err();
    assert!(error.message.contains("no rtpSender"), "{}", error.message);
}

#[test]
fn what_python_writes_wrong_is_discarded_and_counted() {
    let mut media = Media::new();
    let (alice, _, _) = media.alice_to_bob();
    let mut bytes = Vec::new();
    encode_media_frame(FrameKind::Rtp, alice, 0, b"not rtp", &mut bytes);
    encode_media_frame(FrameKind::Rtp, alice, 77, &[0x80, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 77, 1], &mut bytes);
    encode_media_frame(FrameKind::Rtp, 999, 0, &[0x80; 20], &mut bytes);
    encode_media_frame(FrameKind::KeyframeRequest, alice, OPUS_SSRC, b"", &mut bytes);
    media.worker.handle_media(&bytes, media.now);
    media.publish(alice, [5]);
    let stats = media.request("transport.getStats", json!({"transportId": "alice-direct"})).unwrap();
    assert_eq!(stats[0]["packetsDiscarded"], json!(2), "{stats}");
    assert_eq!(stats[0]["packetsReceived"], json!(1), "the good packet after them went through");
    assert_eq!(media.frames_for_python().len(), 1);
    let dump = media.request("transport.dump", json!({"transportId": "alice-direct"})).unwrap();
    assert_eq!(dump["lastDiscarded"], json!("ssrc 77 is no stream of this transport"));
}

#[test]
fn a_consumer_that_does_not_read_loses_its_own_packets_within_a_bounded_queue() {
    let mut media = Media::new();
    let (alice, _, _) = media.alice_to_bob();
    // Nobody takes Bob's frames: 100,000 packets (~3 MB) are offered.
    for chunk in 0..100u32 {
        media.publish(alice, (chunk * 1000..chunk * 1000 + 1000).map(|index| index as u16));
    }
    let stats = media.request("transport.getStats", json!({"transportId": "bob-direct"})).unwrap();
    let queued = stats[0]["queuedBytes"].as_u64().unwrap() as usize;
    let (sent, dropped) = (stats[0]["packetsSent"].as_u64().unwrap(), stats[0]["packetsDropped"].as_u64().unwrap());
    assert!(queued <= DIRECT_QUEUE_BYTES, "{queued}");
    assert_eq!(sent + dropped, 100_000);
    assert!(dropped > 50_000, "{stats}");
    assert_eq!(stats[1]["packetsDropped"].as_u64(), Some(dropped), "counted on the stream too: {stats}");
    // What was queued arrives whole and in order once Python reads again.
    let frames = media.frames_for_python();
    assert_eq!(frames.len() as u64, sent);
    let sequence_numbers: Vec<u16> = frames.iter().map(|frame| read_rtp(&frame.3).unwrap().sequence_number).collect();
    assert!(sequence_numbers.windows(2).all(|pair| pair[1] == pair[0].wrapping_add(1)));
    media.publish(alice, [200]);
    assert_eq!(media.frames_for_python().len(), 1, "room again");
}

#[test]
fn a_worker_without_a_media_path_refuses_direct_transports() {
    let (mut worker, mut network, now) = ready_worker();
    let request = |method: &str, data: Value| -> Request { serde_json::from_value(json!({"method": method, "data": data})).unwrap() };
    worker.handle_request(request("room.create", json!({"roomId": "room", "mediaCodecs": null, "forceUniquePayloadTypes": false})), now, &mut network).unwrap();
    worker.handle_request(request("room.createPeer", json!({"roomId": "room", "peerId": "p", "name": "p"})), now, &mut network).unwrap();
    let error = worker.handle_request(request("peer.createDirectTransport", json!({"peerId": "p", "transportId": "t"})), now, &mut network).unwrap_err();
    assert!(error.message.contains("without a media path"), "{}", error.message);
}

#[test]
fn a_closed_direct_transport_ends_its_streams_and_its_frames() {
    let mut media = Media::new();
    let (alice, _, _) = media.alice_to_bob();
    media.request("transport.close", json!({"transportId": "alice-direct"})).unwrap();
    assert!(media.request("rtpReceiver.dump", json!({"receiverId": "voice"})).is_err(), "the stream ended with its transport");
    media.publish(alice, [1, 2]);
    assert!(media.frames_for_python().is_empty());
    let webrtc_only = media.request("transport.restartIce", json!({"transportId": "bob-direct"})).unwrap_err();
    assert!(webrtc_only.message.contains("needs a WebRTC transport"), "{}", webrtc_only.message);
}

#[test]
fn data_messages_cross_the_media_path_both_ways() {
    let mut media = Media::new();
    let (alice, bob, _) = media.alice_to_bob();
    let options = json!({"dataReceiverId": "chat", "transportId": "alice-direct", "label": "chat", "protocol": "",
        "sctpStreamParameters": {"streamId": 3, "ordered": true}});
    let answer = media.request("dataReceiver.receive", options).unwrap();
    assert_eq!(answer["label"], json!("chat"));
    media.request("dataSender.create", json!({"dataSenderId": "chat-to-bob", "peerId": "bob", "dataReceiverId": "chat"})).unwrap();
    let placed = media.request("dataSender.setTransport", json!({"dataSenderId": "chat-to-bob", "transportId": "bob-direct"})).unwrap();
    assert_eq!(placed["sctpStreamParameters"]["streamId"], json!(0));
    // Python writes on Alice's channel (its stream 3): text, then binary; the
    // messages reach Bob's Python end on his sender's stream (0).
    let mut bytes = Vec::new();
    encode_media_frame(FrameKind::Data, alice, 3, b"\x00hello", &mut bytes);
    encode_media_frame(FrameKind::Data, alice, 3, &[1, 0, 255, 7], &mut bytes);
    encode_media_frame(FrameKind::Data, alice, 9, b"\x00nobody's", &mut bytes);
    encode_media_frame(FrameKind::Data, alice, 3, b"", &mut bytes);
    media.worker.handle_media(&bytes, media.now);
    let frames = media.frames_for_python();
    assert_eq!(frames, vec![
        (FrameKind::Data, bob, 0, b"\x00hello".to_vec()),
        (FrameKind::Data, bob, 0, vec![1, 0, 255, 7]),
    ]);
    let taken = json!({"dataReceiverId": "again", "transportId": "alice-direct", "label": "x", "protocol": "", "sctpStreamParameters": {"streamId": 3}});
    let error = media.request("dataReceiver.receive", taken).unwrap_err();
    assert!(error.message.contains("streamId 3 is taken"), "{}", error.message);
    let sent = media.request("dataSender.getStats", json!({"dataSenderId": "chat-to-bob"})).unwrap();
    assert_eq!(sent[0]["messagesSent"], json!(2), "{sent}");
    let stats = media.request("transport.getStats", json!({"transportId": "alice-direct"})).unwrap();
    assert_eq!(stats[0]["packetsDiscarded"], json!(2), "an unknown channel and a frame without its flag: {stats}");
    let data_channel = stats.as_array().unwrap().iter().find(|entry| entry["type"] == "data-channel").unwrap();
    assert_eq!((data_channel["messagesReceived"].clone(), data_channel["bytesReceived"].clone()), (json!(2), json!(8)));
    // The sender closes: its channel on Bob's transport goes, and nothing more reaches Python.
    media.request("dataSender.close", json!({"dataSenderId": "chat-to-bob"})).unwrap();
    media.worker.handle_media(&bytes[..4 + MEDIA_HEAD + 6], media.now);
    assert!(media.frames_for_python().is_empty());
}

#[test]
fn many_direct_transports_share_a_bounded_total() {
    use crate::channel::media::{direct_queue_limit, DIRECT_QUEUES_BYTES, MIN_DIRECT_QUEUE_BYTES};
    assert_eq!(direct_queue_limit(1), DIRECT_QUEUE_BYTES);
    assert_eq!(direct_queue_limit(64), DIRECT_QUEUES_BYTES / 64);
    assert_eq!(direct_queue_limit(10_000), MIN_DIRECT_QUEUE_BYTES);
    let mut media = Media::new();
    let (_, _, _) = media.alice_to_bob();
    let limit = |media: &mut Media, id: &str| media.request("transport.dump", json!({"transportId": id})).unwrap()["queueLimit"].as_u64().unwrap() as usize;
    assert_eq!(limit(&mut media, "bob-direct"), DIRECT_QUEUE_BYTES, "two transports: each its full queue");
    for index in 0..30 {
        media.direct_peer(&format!("extra-{index}"));
    }
    assert_eq!(limit(&mut media, "bob-direct"), DIRECT_QUEUES_BYTES / 32);
    for index in 0..30 {
        media.request("transport.close", json!({"transportId": format!("extra-{index}-direct")})).unwrap();
    }
    assert_eq!(limit(&mut media, "bob-direct"), DIRECT_QUEUE_BYTES, "their share grows back");
}
