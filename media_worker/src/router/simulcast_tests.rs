//! Simulcast and temporal layers through the router, with fake time: a
//! publisher of three VP8 layers in three temporal layers each
//! ([`Publisher`]) and subscribers that prefer layers, or whose publisher
//! stops sending one. Whatever the switches, a subscriber sees one stream:
//! sequence numbers with no gap, timestamps that go forward, picture ids
//! one apart per frame, TL0PICIDX one apart per base-layer frame.

use serde_json::json;

use super::layer_selector::{Layers, LAYER_TIMEOUT};
use super::testing::{Publisher, Room, Sink, LAYER_SSRCS};
use crate::rtp::codecs::{FrameInfo, PayloadFormat};

/// Frames in `ms` milliseconds at 30 fps.
fn frames(ms: u64) -> u64 {
    ms.div_ceil(33)
}

fn send(publisher: &mut Publisher, room: &mut Room, sink: &mut Sink, count: u64) {
    for _ in 0..count {
        publisher.send_frame(room, "camera", sink);
        publisher.take_requests(room);
    }
}

fn current(room: &Room, sender_id: &str) -> serde_json::Value {
    room.router.dump_sender(sender_id, room.start).unwrap()["currentLayers"].clone()
}

fn layers(spatial: u8, temporal: u8) -> serde_json::Value {
    json!({"spatialLayer": spatial, "temporalLayer": temporal})
}

/// One continuous VP8 stream: each packet one number after the previous,
/// timestamps never back and never a second ahead, picture ids
/// one apart from frame to frame, TL0PICIDX one apart at each base-layer frame.
fn assert_continuous(written: &[(u64, u32, FrameInfo)]) {
    for pair in written.windows(2) {
        let ((seq_a, ts_a, frame_a), (seq_b, ts_b, frame_b)) = (pair[0], pair[1]);
        assert_eq!(seq_b, seq_a + 1, "sequence numbers {seq_a} → {seq_b}");
        let step = ts_b.wrapping_sub(ts_a);
        assert!(step < 90_000, "timestamps {ts_a} → {ts_b}");
        let (ids_a, ids_b) = (frame_a.vp8.unwrap(), frame_b.vp8.unwrap());
        let (pid_a, pid_b) = (ids_a.picture_id.unwrap().0, ids_b.picture_id.unwrap().0);
        let expected_pid = if step == 0 { pid_a } else { (pid_a + 1) & 0x7fff };
        assert_eq!(pid_b, expected_pid, "picture ids at sequence number {seq_b}");
        let (tl0_a, tl0_b) = (ids_a.tl0_pic_idx.unwrap(), ids_b.tl0_pic_idx.unwrap());
        let new_base_frame = step != 0 && frame_b.temporal == Some(0);
        assert_eq!(tl0_b, if new_base_frame { tl0_a.wrapping_add(1) } else { tl0_a }, "TL0PICIDX at sequence number {seq_b}");
    }
}

/// A room with the simulcast publisher and Bob subscribed, sending for a second.
fn call() -> (Room, Publisher, Sink) {
    let mut room = Room::new();
    room.publish_simulcast("camera");
    room.subscribe("to-bob", "camera", 2);
    let mut publisher = Publisher::new();
    publisher.take_requests(&mut room);
    let mut sink = Sink::ready(&[2]);
    send(&mut publisher, &mut room, &mut sink, 30);
    (room, publisher, sink)
}

#[test]
fn an_unconstrained_subscriber_gets_the_top_layer_alone_from_its_keyframe_on() {
    let (mut room, _, sink) = call();
    assert_eq!(room.router.dump_sender("to-bob", room.start).unwrap()["sourceSsrc"], json!(LAYER_SSRCS[2]));
    assert_eq!(current(&room, "to-bob"), layers(2, 2));
    let written = sink.vp8(2);
    // Layers 0 and 1 were heard first (a moment each); once on the top
    // layer, all of it: 2 packets per frame.
    let on_top = written.iter().rposition(|(_, _, frame)| frame.keyframe).unwrap();
    assert_eq!(written.len() - on_top, 60);
    assert_continuous(&written);
    let changes = room.router.take_layer_changes();
    assert_eq!(changes.last(), Some(&("to-bob".to_owned(), Some(Layers { spatial: 2, temporal: 2 }))));
}

#[test]
fn a_preferred_lower_layer_is_switched_to_at_its_keyframe_in_one_continuous_stream() {
    let (mut room, mut publisher, mut sink) = call();
    room.router.take_layer_changes();
    let before = sink.written.len();
    room.router.set_preferred_layers("to-bob", Layers { spatial: 0, temporal: u8::MAX }).unwrap();
    // The publisher is slow to answer: layer 0 is asked for a keyframe at once, then at most every 500 ms.
    let mut asked = Vec::new();
    for _ in 0..frames(1_000) {
        publisher.send_frame(&mut room, "camera", &mut sink);
        asked.extend(room.router.take_keyframe_requests().into_iter().map(|request| request.ssrc));
    }
    assert_eq!(asked, [LAYER_SSRCS[0], LAYER_SSRCS[0]]);
    // Until its keyframe comes, the top layer goes on.
    assert_eq!(current(&room, "to-bob"), layers(2, 2));
    publisher.keyframe_due[0] = true;
    send(&mut publisher, &mut room, &mut sink, 10);
    assert_eq!(current(&room, "to-bob"), layers(0, 2));
    assert_eq!(room.router.take_layer_changes(), [("to-bob".to_owned(), Some(Layers { spatial: 0, temporal: 2 }))]);
    assert_continuous(&sink.vp8(2)[before - 2..]);
    // The lower layer's keyframe has what the transport still holds of the upper one dropped (and only it).
    let dropping = |sink: &Sink| -> Vec<FrameInfo> {
        sink.read(2, PayloadFormat::Vp8).into_iter().filter(|(rtp, _)| rtp.drops_queued).map(|(_, frame)| frame).collect()
    };
    let dropped = dropping(&sink);
    assert_eq!(dropped.len(), 1);
    assert!(dropped[0].keyframe);
    // And back up to the highest on request, nothing dropped.
    room.router.set_preferred_layers("to-bob", Layers::HIGHEST).unwrap();
    send(&mut publisher, &mut room, &mut sink, 10);
    assert_eq!(current(&room, "to-bob"), layers(2, 2));
    assert_continuous(&sink.vp8(2)[before - 2..]);
    assert_eq!(dropping(&sink).len(), 1);
}

#[test]
fn a_layer_the_publisher_stops_is_left_for_the_best_one_sent_and_taken_again_when_it_returns() {
    let (mut room, mut publisher, mut sink) = call();
    let before = sink.written.len();
    publisher.sending[2] = false;
    // Within the timeout the subscriber waits; after it, layer 1 takes over at its keyframe.
    send(&mut publisher, &mut room, &mut sink, frames(LAYER_TIMEOUT.as_millis() as u64) - 1);
    assert_eq!(current(&room, "to-bob"), layers(2, 2));
    send(&mut publisher, &mut room, &mut sink, 3);
    assert_eq!(current(&room, "to-bob"), layers(1, 2));
    publisher.sending[2] = true;
    send(&mut publisher, &mut room, &mut sink, 3);
    assert_eq!(current(&room, "to-bob"), layers(2, 2));
    assert_continuous(&sink.vp8(2)[before - 2..]);
}

#[test]
fn temporal_layers_above_the_preferred_one_are_skipped_without_a_gap_and_climbed_at_a_sync_frame() {
    let (mut room, mut publisher, mut sink) = call();
    let before = sink.written.len();
    room.router.set_preferred_layers("to-bob", Layers { spatial: 2, temporal: 0 }).unwrap();
    send(&mut publisher, &mut room, &mut sink, 20);
    assert_eq!(current(&room, "to-bob"), layers(2, 0));
    let base_only = sink.vp8(2)[before..].to_vec();
    // 20 frames, of which 5 are base-layer frames (every 4th).
    assert_eq!(base_only.len(), 10);
    assert!(base_only.iter().all(|(_, _, frame)| frame.temporal == Some(0)));
    room.router.set_preferred_layers("to-bob", Layers { spatial: 2, temporal: 1 }).unwrap();
    send(&mut publisher, &mut room, &mut sink, 8);
    assert_eq!(current(&room, "to-bob"), layers(2, 1));
    assert!(room.router.take_keyframe_requests().is_empty(), "temporal layers need no keyframe");
    let written = sink.vp8(2);
    assert!(written[before + 10..].iter().any(|(_, _, frame)| frame.temporal == Some(1)));
    assert!(written[before + 10..].iter().all(|(_, _, frame)| frame.temporal != Some(2)));
    assert_continuous(&written[before - 2..]);
}

#[test]
fn subscribers_choose_apart_and_the_publisher_is_asked_only_for_the_layers_they_wait_for() {
    let mut room = Room::new();
    room.publish_simulcast("camera");
    room.subscribe("to-bob", "camera", 2);
    room.subscribe("to-carol", "camera", 3);
    room.router.set_preferred_layers("to-carol", Layers { spatial: 1, temporal: 1 }).unwrap();
    let mut publisher = Publisher::new();
    publisher.take_requests(&mut room);
    let mut sink = Sink::ready(&[2, 3]);
    send(&mut publisher, &mut room, &mut sink, 30);
    assert_eq!(current(&room, "to-bob"), layers(2, 2));
    assert_eq!(current(&room, "to-carol"), layers(1, 1));
    // Settled: nobody waits for a keyframe.
    for _ in 0..frames(2_000) {
        publisher.send_frame(&mut room, "camera", &mut sink);
        assert!(room.router.take_keyframe_requests().is_empty());
    }
    let carol = sink.vp8(3);
    let start = carol.iter().rposition(|(_, _, frame)| frame.keyframe).unwrap();
    assert_continuous(&carol[start..]);
}

#[test]
fn the_layers_no_sender_wants_are_reported_as_they_change() {
    let mut room = Room::new();
    room.publish_simulcast("camera");
    let unused = |room: &mut Room| room.router.take_unused_changes();
    let layers = |list: &[u8]| vec![("camera".to_owned(), list.to_vec())];
    assert_eq!(unused(&mut room), layers(&[0, 1, 2]), "nobody subscribes yet");
    room.subscribe("to-bob", "camera", 2);
    assert_eq!(unused(&mut room), layers(&[0, 1]));
    room.subscribe("to-carol", "camera", 3);
    assert_eq!(unused(&mut room), [], "no change: Carol wants the top layer too");
    room.router.set_preferred_layers("to-carol", Layers { spatial: 0, temporal: 1 }).unwrap();
    assert_eq!(unused(&mut room), layers(&[1]));
    // A preference above the layers declared wants the top one.
    room.router.set_preferred_layers("to-carol", Layers { spatial: 9, temporal: 0 }).unwrap();
    assert_eq!(unused(&mut room), layers(&[0, 1]));
    room.router.set_sender_active("to-bob", false, room.start).unwrap();
    room.router.set_preferred_layers("to-carol", Layers { spatial: 1, temporal: 1 }).unwrap();
    assert_eq!(unused(&mut room), layers(&[0, 2]));
    room.router.detach_transport(3);
    assert_eq!(unused(&mut room), layers(&[0, 1, 2]), "Bob paused, Carol's transport closed");
    room.router.set_sender_active("to-bob", true, room.start).unwrap();
    assert_eq!(unused(&mut room), layers(&[0, 1]));
    room.router.remove_sender("to-bob");
    assert_eq!(unused(&mut room), layers(&[0, 1, 2]));
    // A single stream has no layers to report.
    room.publish("single", crate::rtp::capabilities::MediaKind::Video);
    room.subscribe("single-to-bob", "single", 2);
    assert_eq!(unused(&mut room), []);
}

#[test]
fn the_bandwidth_estimate_moves_a_sender_down_and_back_up_at_keyframes_in_one_stream() {
    let (mut room, mut publisher, mut sink) = call();
    send(&mut publisher, &mut room, &mut sink, 30);
    let before = sink.written.len();
    // Plenty: the top layer, and the transport is told to probe for it (864 kbit/s measured).
    let (_, wanted) = room.router.share_bandwidth(2, 5_000_000, at(&room, &publisher));
    assert!((800_000..900_000).contains(&wanted), "{wanted}");
    assert_eq!(current(&room, "to-bob"), layers(2, 2));
    // 400 kbit/s: 96 k for the base layer, 192 k more for layer 1; not the 576 k more of layer 2.
    room.router.share_bandwidth(2, 400_000, at(&room, &publisher));
    send(&mut publisher, &mut room, &mut sink, 3);
    assert_eq!(current(&room, "to-bob"), layers(1, 2));
    let (minimum, _) = room.router.share_bandwidth(2, 100_000, at(&room, &publisher));
    send(&mut publisher, &mut room, &mut sink, 3);
    assert_eq!(current(&room, "to-bob"), layers(0, 2));
    // The transport keeps sending the base layer and layer 1's step (with
    // its margin), padding what media does not fill.
    assert!((300_000..350_000).contains(&minimum), "{minimum}");
    // Back up, one estimate at a time: layer 1 needs its step with the margin.
    room.router.share_bandwidth(2, 300_000, at(&room, &publisher));
    send(&mut publisher, &mut room, &mut sink, 3);
    assert_eq!(current(&room, "to-bob"), layers(0, 2), "192 k × 1.15 does not fit in 204 k");
    // Plenty: held on layer 0 for CLIMB_HOLD after the bandwidth moved it down, then the top.
    room.router.share_bandwidth(2, 2_000_000, at(&room, &publisher));
    send(&mut publisher, &mut room, &mut sink, 3);
    assert_eq!(current(&room, "to-bob"), layers(0, 2));
    send(&mut publisher, &mut room, &mut sink, frames(10_000));
    room.router.share_bandwidth(2, 2_000_000, at(&room, &publisher));
    send(&mut publisher, &mut room, &mut sink, 3);
    assert_eq!(current(&room, "to-bob"), layers(2, 2));
    assert_continuous(&sink.vp8(2)[before - 2..]);
    // A preference below what the estimate allows wins.
    room.router.set_preferred_layers("to-bob", Layers { spatial: 1, temporal: u8::MAX }).unwrap();
    let (_, wanted) = room.router.share_bandwidth(2, 5_000_000, at(&room, &publisher));
    assert!((250_000..320_000).contains(&wanted), "{wanted}");
    // (Layer 1 was asked for a keyframe less than 500 ms ago: the next request waits.)
    send(&mut publisher, &mut room, &mut sink, frames(500));
    assert_eq!(current(&room, "to-bob"), layers(1, 2));
}

#[test]
fn a_move_down_by_preference_holds_nothing_even_with_an_estimate() {
    let (mut room, mut publisher, mut sink) = call();
    send(&mut publisher, &mut room, &mut sink, 30);
    // Plenty of bandwidth: the cap that follows the preference is not the estimate's.
    room.router.share_bandwidth(2, 5_000_000, at(&room, &publisher));
    room.router.set_preferred_layers("to-bob", Layers { spatial: 0, temporal: u8::MAX }).unwrap();
    room.router.share_bandwidth(2, 5_000_000, at(&room, &publisher));
    send(&mut publisher, &mut room, &mut sink, 3);
    assert_eq!(current(&room, "to-bob"), layers(0, 2));
    // Back to the top as soon as it asks (a thumbnail made the main view).
    room.router.set_preferred_layers("to-bob", Layers::HIGHEST).unwrap();
    room.router.share_bandwidth(2, 5_000_000, at(&room, &publisher));
    send(&mut publisher, &mut room, &mut sink, frames(600));
    assert_eq!(current(&room, "to-bob"), layers(2, 2));
}

#[test]
fn below_the_lowest_layer_at_full_rate_the_estimate_lowers_the_frame_rate_at_once() {
    let (mut room, mut publisher, mut sink) = call();
    send(&mut publisher, &mut room, &mut sink, 30);
    let before = sink.written.len();
    // Layer 0 is 24 kbit/s per temporal layer 0 and 1, 48 for layer 2: 60 k pays for layers 0 and 1 of it.
    room.router.share_bandwidth(2, 60_000, at(&room, &publisher));
    send(&mut publisher, &mut room, &mut sink, 8);
    assert_eq!(current(&room, "to-bob"), layers(0, 1));
    room.router.share_bandwidth(2, 30_000, at(&room, &publisher));
    send(&mut publisher, &mut room, &mut sink, 8);
    assert_eq!(current(&room, "to-bob"), layers(0, 0));
    let written = sink.vp8(2);
    assert!(written[written.len() - 4..].iter().all(|(_, _, frame)| frame.temporal == Some(0)));
    // Back up: the full frame rate at once (a sync frame); the top layer at
    // its keyframe once CLIMB_HOLD has passed since the fall from it.
    room.router.share_bandwidth(2, 5_000_000, at(&room, &publisher));
    send(&mut publisher, &mut room, &mut sink, 8);
    assert_eq!(current(&room, "to-bob"), layers(0, 2));
    send(&mut publisher, &mut room, &mut sink, frames(10_000));
    room.router.share_bandwidth(2, 5_000_000, at(&room, &publisher));
    send(&mut publisher, &mut room, &mut sink, 8);
    assert_eq!(current(&room, "to-bob"), layers(2, 2));
    assert_continuous(&sink.vp8(2)[before - 2..]);
}

#[test]
fn the_score_tells_a_subscriber_held_below_its_best_layer_or_losing_packets() {
    let (mut room, mut publisher, mut sink) = call();
    let scores = |room: &mut Room| room.router.take_score_changes();
    // 0 until the first packet forwarded, then 10 on the top layer.
    assert_eq!(scores(&mut room).last(), Some(&("to-bob".to_owned(), 10)));
    // Held two layers down by its bandwidth: 10 − 2 × 2.
    room.router.share_bandwidth(2, 100_000, at(&room, &publisher));
    send(&mut publisher, &mut room, &mut sink, 3);
    assert_eq!(current(&room, "to-bob"), layers(0, 2));
    assert_eq!(scores(&mut room), [("to-bob".to_owned(), 6)]);
    // Its receiver reports say 5 % lost: two points more.
    room.router.on_loss_reports(2, &[("s2".to_owned(), Some(0.05))], at(&room, &publisher));
    assert_eq!(scores(&mut room), [("to-bob".to_owned(), 4)]);
    assert_eq!(room.router.dump_sender("to-bob", at(&room, &publisher)).unwrap()["score"], 4);
    // Preferring layer 0 itself is no loss of score; a report without loss restores it.
    room.router.set_preferred_layers("to-bob", Layers { spatial: 0, temporal: u8::MAX }).unwrap();
    room.router.on_loss_reports(2, &[("s2".to_owned(), Some(0.0))], at(&room, &publisher));
    assert_eq!(scores(&mut room), [("to-bob".to_owned(), 10)]);
    // Reports for another transport's streams change nothing.
    room.router.on_loss_reports(3, &[("s2".to_owned(), Some(0.5))], at(&room, &publisher));
    assert_eq!(scores(&mut room), []);
}

/// When the publisher's next frame is sent (33 ms apart from the room's start).
fn at(room: &Room, publisher: &Publisher) -> std::time::Instant {
    room.start + std::time::Duration::from_millis(publisher.frame * 33)
}
