//! The router's forwarding rules, without str0m or a socket: packets made
//! up in a line, fake time, and a sink that records what each subscriber's
//! transport would have written.

use std::collections::HashSet;
use std::time::Duration;

use super::testing::{Room, Sink, PUBLISHER};
use super::*;

const MS: Duration = Duration::from_millis(1);

#[test]
fn a_packet_reaches_every_sender_of_its_stream_whose_transport_can_send() {
    let mut room = Room::new();
    room.publish("camera", MediaKind::Video);
    room.subscribe("to-bob", "camera", 2);
    room.subscribe("to-carol", "camera", 3);
    let mut sink = Sink::ready(&[2]);
    for sequence_number in 100..103 {
        let packet = room.packet(1111, sequence_number, sequence_number);
        room.forward("camera", packet, &mut sink);
    }
    assert_eq!(sink.numbers(2).iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), [1, 2, 3]);
    // Carol's transport was not connected: nothing was numbered for her.
    assert!(sink.numbers(3).is_empty());
    sink.ready.insert(3);
    let packet = room.packet(1111, 103, 103);
    room.forward("camera", packet, &mut sink);
    assert_eq!(sink.numbers(3).iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), [1]);
    // Each sender writes its own SSRC, on its own transport.
    let ssrcs: HashSet<u32> = sink.written.iter().map(|(_, rtp)| rtp.ssrc).collect();
    assert_eq!(ssrcs.len(), 2);
    assert_eq!(room.router.receiver("camera").unwrap().ssrcs().collect::<Vec<_>>(), [1111]);
}

#[test]
fn loss_and_reordering_keep_their_gaps_and_order_in_the_forwarded_numbers() {
    let mut room = Room::new();
    room.publish("camera", MediaKind::Video);
    room.subscribe("to-bob", "camera", 2);
    let mut sink = Sink::ready(&[2]);
    // 503 lost; 505 arrives before 504.
    for (sequence_number, at) in [(500, 0), (501, 1), (502, 2), (505, 3), (504, 4), (506, 5)] {
        let packet = room.packet(1111, sequence_number, at);
        room.forward("camera", packet, &mut sink);
    }
    assert_eq!(sink.numbers(2).iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), [1, 2, 3, 6, 5, 7]);
    // A packet from before the first one forwarded has no number left: dropped.
    let late = room.packet(1111, 499, 6);
    room.forward("camera", late, &mut sink);
    assert_eq!(sink.numbers(2).len(), 6);
}

#[test]
fn sequence_numbers_and_timestamps_cross_their_wrap_around() {
    let mut room = Room::new();
    room.publish("camera", MediaKind::Video);
    room.subscribe("to-bob", "camera", 2);
    let mut sink = Sink::ready(&[2]);
    // Extended sequence numbers across 65,535 → 65,536; timestamps across 2^32.
    for (index, sequence_number) in (65_534..65_538u64).enumerate() {
        let mut packet = room.packet(1111, sequence_number, index as u64);
        packet.timestamp = u32::MAX - 90 + 90 * index as u32;
        room.forward("camera", packet, &mut sink);
    }
    let numbers = sink.numbers(2);
    assert_eq!(numbers.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
    // The first source keeps its own timestamps, wrap-around included.
    assert_eq!(numbers.iter().map(|(_, ts)| *ts).collect::<Vec<_>>(), [u32::MAX - 90, u32::MAX, 89, 179]);
}

#[test]
fn a_paused_sender_forwards_nothing_and_resumes_without_a_gap_from_a_keyframe() {
    let mut room = Room::new();
    room.publish("camera", MediaKind::Video);
    room.subscribe("to-bob", "camera", 2);
    room.router.take_keyframe_requests();
    let mut sink = Sink::ready(&[2]);
    for sequence_number in 0..3 {
        let packet = room.packet(1111, sequence_number, sequence_number);
        room.forward("camera", packet, &mut sink);
    }
    room.router.set_sender_active("to-bob", false, room.start).unwrap();
    assert!(room.router.take_keyframe_requests().is_empty());
    for sequence_number in 3..10 {
        let packet = room.packet(1111, sequence_number, sequence_number);
        room.forward("camera", packet, &mut sink);
    }
    assert_eq!(sink.numbers(2).len(), 3);
    room.router.set_sender_active("to-bob", true, room.start + 10 * MS).unwrap();
    let requests = room.router.take_keyframe_requests();
    assert_eq!(requests, [KeyframeRequest { transport: PUBLISHER, ssrc: 1111 }]);
    let packet = room.packet(1111, 10, 10);
    room.forward("camera", packet, &mut sink);
    assert_eq!(sink.numbers(2).iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
}

#[test]
fn subscribers_keyframe_requests_reach_the_publisher_once_per_interval_and_forced_ones_always() {
    let mut room = Room::new();
    room.publish("camera", MediaKind::Video);
    room.subscribe("to-bob", "camera", 2);
    // Placing the sender forced one.
    assert_eq!(room.router.take_keyframe_requests().len(), 1);
    let start = room.start;
    let at = |ms: u64| start + Duration::from_millis(ms);
    room.router.on_keyframe_request(2, "s2", None, at(100));
    room.router.on_keyframe_request(2, "s2", None, at(200));
    assert!(room.router.take_keyframe_requests().is_empty(), "within 500 ms of the forced one");
    room.router.on_keyframe_request(2, "s2", None, at(500));
    assert_eq!(room.router.take_keyframe_requests().len(), 1);
    room.router.on_keyframe_request(2, "s2", None, at(700));
    assert!(room.router.take_keyframe_requests().is_empty());
    // A mid the transport does not send, or another transport: nothing.
    room.router.on_keyframe_request(2, "s9", None, at(2_000));
    room.router.on_keyframe_request(3, "s2", None, at(2_000));
    assert!(room.router.take_keyframe_requests().is_empty());
    // A resume is forced, however recent the last request.
    room.router.on_keyframe_request(2, "s2", None, at(3_000));
    room.router.take_keyframe_requests();
    room.router.set_sender_active("to-bob", false, at(3_001)).unwrap();
    room.router.set_sender_active("to-bob", true, at(3_002)).unwrap();
    assert_eq!(room.router.take_keyframe_requests().len(), 1);
}

#[test]
fn audio_is_forwarded_but_never_asked_for_a_keyframe() {
    let mut room = Room::new();
    room.publish("microphone", MediaKind::Audio);
    room.subscribe("to-bob", "microphone", 2);
    assert!(room.router.take_keyframe_requests().is_empty());
    let mut sink = Sink::ready(&[2]);
    let packet = room.packet(4444, 7, 0);
    room.forward_payload("microphone", packet, 111, &[0xfc, 0xff, 0xfe], &mut sink);
    assert_eq!(sink.written.len(), 1);
    let opus = room.capabilities.codecs.iter().find(|codec| codec.mime_type == "audio/opus").unwrap();
    assert_eq!(sink.written[0].1.payload_type, opus.preferred_payload_type);
    room.router.request_keyframe("microphone", room.start, true);
    assert!(room.router.take_keyframe_requests().is_empty());
}

#[test]
fn a_stream_that_ends_takes_its_senders_and_routes_with_it() {
    let mut room = Room::new();
    room.publish("camera", MediaKind::Video);
    room.publish("microphone", MediaKind::Audio);
    room.subscribe("camera-to-bob", "camera", 2);
    room.subscribe("microphone-to-bob", "microphone", 2);
    assert_eq!(room.router.routes_of("camera"), ["camera-to-bob"]);
    let (receiver, senders) = room.router.remove_receiver("camera").unwrap();
    assert_eq!(receiver.id, "camera");
    assert_eq!(senders.iter().map(|sender| sender.id.as_str()).collect::<Vec<_>>(), ["camera-to-bob"]);
    assert!(room.router.sender("camera-to-bob").is_none());
    assert!(room.router.routes_of("camera").is_empty());
    assert!(room.router.remove_receiver("camera").is_none());
    // Packets of a stream that ended go nowhere.
    let mut sink = Sink::ready(&[2]);
    let packet = room.packet(1111, 1, 1);
    room.forward("camera", packet, &mut sink);
    assert!(sink.written.is_empty());
    assert_eq!(room.router.senders_of_peer("peer-2"), ["microphone-to-bob"]);
}

#[test]
fn a_sender_that_takes_a_removed_senders_slot_gets_only_its_own_stream() {
    let mut room = Room::new();
    room.publish("camera", MediaKind::Video);
    room.publish("microphone", MediaKind::Audio);
    room.subscribe("camera-to-bob", "camera", 2);
    room.subscribe("camera-to-carol", "camera", 3);
    room.router.remove_sender("camera-to-bob").unwrap();
    // Bob's freed slot goes to Dave's microphone sender; Bob's transport is gone with him.
    room.subscribe("microphone-to-dave", "microphone", 4);
    room.router.detach_transport(2);
    let mut sink = Sink::ready(&[2, 3, 4]);
    let camera = room.packet(1111, 1, 1);
    room.forward("camera", camera, &mut sink);
    let microphone = room.packet(4444, 1, 1);
    room.forward_payload("microphone", microphone, 111, &[0xfc, 0xff, 0xfe], &mut sink);
    let to: Vec<(TransportKey, u32)> = sink.written.iter().map(|(key, rtp)| (*key, rtp.ssrc)).collect();
    let carol = room.router.sender("camera-to-carol").unwrap().ssrc;
    let dave = room.router.sender("microphone-to-dave").unwrap().ssrc;
    assert_eq!(to, [(3, carol), (4, dave)]);
    assert_eq!(room.router.routes_of("camera"), ["camera-to-carol"]);
    assert_eq!(room.router.routes_of("microphone"), ["microphone-to-dave"]);
    // Transport 4's keyframe requests find Dave's sender, not Bob's.
    room.router.take_keyframe_requests();
    room.router.on_keyframe_request(4, "s4", None, room.start);
    assert!(room.router.take_keyframe_requests().is_empty(), "audio has no keyframes: the request named the microphone");
    room.router.on_keyframe_request(3, "s3", None, room.start + std::time::Duration::from_secs(5));
    assert_eq!(room.router.take_keyframe_requests().len(), 1);
}

#[test]
fn senders_of_a_closed_transport_stay_but_send_nothing() {
    let mut room = Room::new();
    room.publish("camera", MediaKind::Video);
    room.subscribe("to-bob", "camera", 2);
    room.router.detach_transport(2);
    let sender = room.router.sender("to-bob").unwrap();
    assert_eq!((sender.transport_id.as_deref(), sender.transport_key), (None, None));
    let mut sink = Sink::ready(&[2]);
    let packet = room.packet(1111, 1, 1);
    room.forward("camera", packet, &mut sink);
    assert!(sink.written.is_empty());
    assert_eq!(room.router.receivers_on(PUBLISHER), ["camera"]);
}

#[test]
fn a_peer_gets_no_sender_of_its_own_stream_and_ids_are_unique() {
    let mut room = Room::new();
    room.publish("camera", MediaKind::Video);
    let capabilities = serde_json::to_value(&room.capabilities).unwrap();
    let tables = SendTables::new(&room.capabilities, Some(&capabilities));
    let own = NewSender { id: "loop", peer_id: "alice", capabilities: &capabilities, receiver_id: "camera", tables: &tables, every_layer: false };
    let error = room.router.create_sender(own, &room.capabilities, || unreachable!("a refused sender takes no mid")).unwrap_err();
    assert!(error.message.contains("its own streams"), "{}", error.message);
    room.subscribe("to-bob", "camera", 2);
    let again = NewSender { id: "to-bob", peer_id: "carol", capabilities: &capabilities, receiver_id: "camera", tables: &tables, every_layer: false };
    assert!(room.router.create_sender(again, &room.capabilities, || "s9".into()).is_err());
    let ssrcs: HashSet<u32> = (0..1_000).map(|_| room.router.allocate_ssrc()).collect();
    let sender = room.router.sender("to-bob").unwrap();
    assert!(!ssrcs.contains(&sender.ssrc) && !ssrcs.contains(&0));
}
