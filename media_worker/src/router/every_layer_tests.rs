//! A pipe's sender in a room's router: every encoding of a simulcast
//! stream forwarded, each on its own SSRC with numbers of its own, every
//! temporal layer, keyframe requests per encoding, no layer unused.

use std::collections::BTreeMap;

use crate::router::layer_selector::Layers;
use crate::router::testing::{Publisher, Room, Sink, SvcPublisher, LAYER_SSRCS, SVC_SSRC};
use crate::rtp::capabilities::MediaKind;
use crate::rtp::codecs::PayloadFormat;

const PIPE: u32 = 2;
const VIEWER: u32 = 3;

/// The SSRCs the pipe's sender sends on, from its parameters.
fn pipe_ssrcs(room: &Room) -> Vec<u32> {
    let sender = room.router.sender("pipe").unwrap();
    sender.parameters["encodings"].as_array().unwrap().iter().map(|e| e["ssrc"].as_u64().unwrap() as u32).collect()
}

#[test]
fn every_encoding_and_temporal_layer_leaves_on_an_ssrc_of_its_own_numbered_without_gaps() {
    let mut room = Room::new();
    room.publish_simulcast("camera");
    room.pipe("pipe", "camera", PIPE);
    room.subscribe("viewer", "camera", VIEWER);
    room.router.set_preferred_layers("viewer", Layers { spatial: 0, temporal: 0 }).unwrap();
    let ssrcs = pipe_ssrcs(&room);
    assert_eq!(ssrcs.len(), 3);
    assert!(ssrcs.iter().all(|ssrc| !LAYER_SSRCS.contains(ssrc) && *ssrc != room.router.sender("viewer").unwrap().ssrc));
    let sender = room.router.sender("pipe").unwrap();
    assert!(sender.rtx_ssrc.is_none() && sender.forwards_every_layer());
    assert!(sender.parameters["encodings"].as_array().unwrap().iter().all(|e| e.get("rtx").is_none()));
    let mut sink = Sink::ready(&[PIPE, VIEWER]);
    let mut publisher = Publisher::new();
    for _ in 0..40 {
        publisher.send_frame(&mut room, "camera", &mut sink);
    }
    // Every packet of every layer (40 frames × 2 packets × 3 layers) reached the pipe.
    let piped: Vec<_> = sink.read(PIPE, PayloadFormat::Vp8);
    assert_eq!(piped.len(), 240);
    let mut by_ssrc: BTreeMap<u32, Vec<_>> = BTreeMap::new();
    for (rtp, frame) in &piped {
        by_ssrc.entry(rtp.ssrc).or_default().push((rtp.sequence_number, rtp.timestamp, rtp.marker, *frame));
    }
    assert_eq!(by_ssrc.keys().copied().collect::<Vec<_>>(), { let mut sorted = ssrcs.clone(); sorted.sort_unstable(); sorted });
    for (layer, ssrc) in ssrcs.iter().enumerate() {
        let packets = &by_ssrc[ssrc];
        assert_eq!(packets.len(), 80, "layer {layer}");
        let numbers: Vec<u64> = packets.iter().map(|p| p.0).collect();
        assert_eq!(numbers, (1..=80).collect::<Vec<_>>(), "layer {layer}: continuous from 1");
        // Timestamps and markers as the publisher sent them (its first timestamp kept).
        assert_eq!(packets[0].1, (layer as u32) * 1_000_000);
        assert_eq!(packets[79].1, 39 * 33 * 90 + (layer as u32) * 1_000_000);
        assert!(packets.iter().enumerate().all(|(index, p)| p.2 == (index % 2 == 1)));
        // All three temporal layers, with the publisher's own picture ids (no rewrite).
        let temporal: Vec<u8> = packets.iter().filter_map(|p| p.3.temporal).collect();
        assert!([0, 1, 2].iter().all(|tid| temporal.contains(tid)), "layer {layer}: {temporal:?}");
        assert!(packets[0].3.keyframe);
    }
    // The viewer beside it still gets its one layer, base temporal layer only.
    assert_eq!(sink.numbers(VIEWER).len(), 20);
}

#[test]
fn a_keyframe_request_on_one_encoding_asks_that_encoding_alone() {
    let mut room = Room::new();
    room.publish_simulcast("camera");
    room.pipe("pipe", "camera", PIPE);
    let mut sink = Sink::ready(&[PIPE]);
    let mut publisher = Publisher::new();
    for _ in 0..20 {
        publisher.send_frame(&mut room, "camera", &mut sink);
    }
    publisher.take_requests(&mut room);
    let ssrcs = pipe_ssrcs(&room);
    let at = room.start + std::time::Duration::from_secs(5);
    room.router.on_keyframe_request(PIPE, "s2", Some(ssrcs[1]), at);
    assert_eq!(publisher.take_requests(&mut room), vec![LAYER_SSRCS[1]]);
    // At most once per interval for that encoding; another is asked at once.
    room.router.on_keyframe_request(PIPE, "s2", Some(ssrcs[1]), at);
    room.router.on_keyframe_request(PIPE, "s2", Some(ssrcs[2]), at);
    assert_eq!(publisher.take_requests(&mut room), vec![LAYER_SSRCS[2]]);
    // Without an SSRC (Python's requestKeyFrame), every encoding is asked.
    let later = at + std::time::Duration::from_secs(2);
    room.router.on_keyframe_request(PIPE, "s2", None, later);
    let mut asked = publisher.take_requests(&mut room);
    asked.sort_unstable();
    assert_eq!(asked, LAYER_SSRCS.to_vec());
}

#[test]
fn a_pipe_wants_every_layer_of_the_publisher() {
    let mut room = Room::new();
    room.publish_simulcast("camera");
    room.subscribe("viewer", "camera", VIEWER);
    room.router.set_preferred_layers("viewer", Layers { spatial: 0, temporal: u8::MAX }).unwrap();
    let unused = room.router.take_unused_changes();
    assert_eq!(unused.last().map(|(_, layers)| layers.clone()), Some(vec![1, 2]));
    room.pipe("pipe", "camera", PIPE);
    assert_eq!(room.router.take_unused_changes(), vec![("camera".to_owned(), vec![])]);
    room.router.remove_sender("pipe");
    assert_eq!(room.router.take_unused_changes(), vec![("camera".to_owned(), vec![1, 2])]);
}

#[test]
fn an_encoding_stays_continuous_across_a_new_publisher_ssrc_and_a_pause() {
    let mut room = Room::new();
    room.publish("camera", MediaKind::Video);
    room.pipe("pipe", "camera", PIPE);
    let mut sink = Sink::ready(&[PIPE]);
    for n in 0..10 {
        let packet = room.packet(1111, 500 + n, n * 33);
        room.forward("camera", packet, &mut sink);
    }
    // The publisher restarts on another SSRC (its numbers far away): the pipe's go on.
    for n in 0..5 {
        let packet = room.packet(9999, 30_000 + n, 400 + n * 33);
        room.forward("camera", packet, &mut sink);
    }
    room.router.set_sender_active("pipe", false, room.start).unwrap();
    for n in 5..10 {
        let packet = room.packet(9999, 30_000 + n, 400 + n * 33);
        room.forward("camera", packet, &mut sink);
    }
    room.router.set_sender_active("pipe", true, room.start).unwrap();
    for n in 10..15 {
        let packet = room.packet(9999, 30_000 + n, 400 + n * 33);
        room.forward("camera", packet, &mut sink);
    }
    let numbers: Vec<u64> = sink.numbers(PIPE).iter().map(|(sequence, _)| *sequence).collect();
    assert_eq!(numbers, (1..=20).collect::<Vec<_>>());
    let ssrc = pipe_ssrcs(&room)[0];
    assert!(sink.written.iter().all(|(_, rtp)| rtp.ssrc == ssrc));
    let timestamps: Vec<u32> = sink.numbers(PIPE).iter().map(|(_, timestamp)| *timestamp).collect();
    assert!(timestamps.windows(2).all(|pair| pair[1] > pair[0]), "{timestamps:?}");
}

#[test]
fn an_encoder_restarting_on_another_ssrc_gets_a_keyframe_asked_for() {
    let mut room = Room::new();
    room.publish("camera", MediaKind::Video);
    room.pipe("pipe", "camera", PIPE);
    let mut sink = Sink::ready(&[PIPE]);
    for n in 0..10 {
        let packet = room.packet(1111, 500 + n, 1_000 + n * 33);
        room.forward("camera", packet, &mut sink);
    }
    room.router.take_keyframe_requests();
    // A delta frame from the new SSRC: the publisher is asked for a keyframe.
    let packet = room.packet(9999, 30_000, 2_000);
    room.forward("camera", packet, &mut sink);
    assert_eq!(room.router.take_keyframe_requests().len(), 1);
    assert_eq!(sink.numbers(PIPE).len(), 11, "forwarded all the same");
}

#[test]
fn an_svc_stream_leaves_whole_on_one_ssrc() {
    let mut room = Room::new();
    room.publish_svc("camera", PayloadFormat::Vp9);
    room.pipe("pipe", "camera", PIPE);
    let ssrcs = pipe_ssrcs(&room);
    assert_eq!(ssrcs.len(), 1);
    let mut sink = Sink::ready(&[PIPE]);
    let mut publisher = SvcPublisher::new(PayloadFormat::Vp9);
    for _ in 0..12 {
        publisher.send_frame(&mut room, "camera", &mut sink);
    }
    // 12 pictures × 3 spatial layers × 2 packets, in order, every layer.
    let piped = sink.read(PIPE, PayloadFormat::Vp9);
    assert_eq!(piped.len(), 72);
    assert!(piped.iter().all(|(rtp, _)| rtp.ssrc == ssrcs[0]));
    assert_eq!(piped.iter().map(|(rtp, _)| rtp.sequence_number).collect::<Vec<_>>(), (1..=72).collect::<Vec<_>>());
    let spatial: Vec<u8> = piped.iter().filter_map(|(_, frame)| frame.spatial).collect();
    assert!([0, 1, 2].iter().all(|sid| spatial.contains(sid)));
    assert_ne!(ssrcs[0], SVC_SSRC);
}
