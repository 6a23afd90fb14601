//! Unit tests of `layer_selector.rs`, with fake time (the router's
//! simulcast_tests.rs drive it with a whole publisher).

use super::*;

const MS: Duration = Duration::from_millis(1);

fn packet(ssrc: u32, timestamp: u32, arrival: Instant) -> IncomingRtp {
    IncomingRtp { ssrc, sequence_number: 1, timestamp, marker: false, payload_len: 100, arrival, audio_level: None }
}

fn frame(keyframe: bool, temporal: Option<u8>, layer_sync: bool) -> FrameInfo {
    FrameInfo { keyframe, temporal, layer_sync, ..FrameInfo::default() }
}

#[test]
fn the_target_is_the_highest_layer_sent_at_or_below_the_preference_else_the_lowest_sent() {
    let start = Instant::now();
    let mut activity = LayerActivity::default();
    assert_eq!(activity.best_at_most(u8::MAX, start), None);
    activity.record(1, 30, start, Some(2), 1_000);
    activity.record(2, 50, start + 100 * MS, None, 1_000);
    assert_eq!(activity.best_at_most(u8::MAX, start + 200 * MS), Some(2));
    assert_eq!(activity.best_at_most(1, start + 200 * MS), Some(1));
    // Nothing at or below 0 is sent: the lowest that is.
    assert_eq!(activity.best_at_most(0, start + 200 * MS), Some(1));
    // Layer 1 silent for the timeout is no longer sent; layer 2 is, for 100 ms more.
    assert_eq!(activity.active(start + 500 * MS).collect::<Vec<_>>(), [2]);
    assert_eq!(activity.best_at_most(1, start + 599 * MS), Some(2));
    assert_eq!(activity.best_at_most(1, start + 600 * MS), None);
    assert_eq!((activity.ssrc_of(1), activity.max_temporal(1), activity.max_temporal(2)), (Some(30), 2, 0));
    // A layer heard on another SSRC (the encoder restarted) is that SSRC's now.
    activity.record(1, 31, start + 700 * MS, Some(0), 1_000);
    assert_eq!((activity.ssrc_of(1), activity.max_temporal(1)), (Some(31), 0));
    // Encodings past the last slot count as the last one.
    activity.record(9, 90, start, None, 1_000);
    assert_eq!(activity.ssrc_of(3), Some(90));
}

#[test]
fn a_simulcast_sender_starts_and_switches_only_on_a_keyframe_of_its_target() {
    let start = Instant::now();
    let mut activity = LayerActivity::default();
    let mut selector = LayerSelector::default();
    let shape = |activity| StreamShape { encodings: 2, keyframes_known: true, svc: false, activity };
    activity.record(0, 10, start, None, 1_000);
    activity.record(1, 20, start, None, 1_000);
    assert_eq!(selector.select(&packet(20, 0, start), &frame(false, None, false), 1, shape(&activity)), Selection::Drop);
    assert_eq!(selector.wants_keyframe(), Some(1));
    assert_eq!(selector.select(&packet(10, 0, start), &frame(true, None, false), 0, shape(&activity)), Selection::Drop);
    assert_eq!(selector.select(&packet(20, 0, start), &frame(true, None, false), 1, shape(&activity)), Selection::Start { replaced: false });
    assert_eq!((selector.wants_keyframe(), selector.current_ssrc()), (None, Some(20)));
    selector.set_preferred(Layers { spatial: 0, temporal: u8::MAX });
    assert_eq!(selector.select(&packet(20, 3_000, start + 33 * MS), &frame(false, None, false), 1, shape(&activity)), Selection::Forward);
    assert_eq!(selector.wants_keyframe(), Some(0));
    assert_eq!(selector.select(&packet(10, 3_000, start + 33 * MS), &frame(true, None, false), 0, shape(&activity)), Selection::Start { replaced: true });
    assert_eq!(selector.select(&packet(20, 6_000, start + 66 * MS), &frame(true, None, false), 1, shape(&activity)), Selection::Drop);
    assert_eq!(selector.current(&activity), Some(Layers { spatial: 0, temporal: 0 }));
}

#[test]
fn a_codec_whose_keyframes_are_not_read_switches_at_once() {
    let start = Instant::now();
    let mut activity = LayerActivity::default();
    activity.record(0, 10, start, None, 1_000);
    let mut selector = LayerSelector::default();
    let shape = StreamShape { encodings: 2, keyframes_known: false, svc: false, activity: &activity };
    assert_eq!(selector.select(&packet(10, 0, start), &FrameInfo::default(), 0, shape), Selection::Start { replaced: false });
}

#[test]
fn temporal_layers_change_at_frame_starts_and_every_packet_of_a_frame_shares_its_fate() {
    let start = Instant::now();
    let activity = LayerActivity::default();
    let shape = StreamShape { encodings: 1, keyframes_known: true, svc: false, activity: &activity };
    let mut selector = LayerSelector::default();
    selector.set_preferred(Layers { spatial: 0, temporal: 0 });
    let mut decide = |timestamp: u32, f: FrameInfo| selector.select(&packet(10, timestamp, start), &f, 0, shape);
    assert_eq!(decide(0, frame(true, Some(0), false)), Selection::Start { replaced: false });
    assert_eq!(decide(0, frame(false, Some(0), false)), Selection::Forward);
    assert_eq!(decide(3_000, frame(false, Some(1), true)), Selection::Skip);
    assert_eq!(decide(3_000, frame(false, Some(1), true)), Selection::Skip);
    assert_eq!(decide(6_000, frame(false, Some(0), false)), Selection::Forward);
    // A late packet of a skipped frame stays skipped.
    assert_eq!(decide(3_000, frame(false, Some(1), false)), Selection::Skip);
    selector.set_preferred(Layers { spatial: 0, temporal: 2 });
    let mut decide = |timestamp: u32, f: FrameInfo| selector.select(&packet(10, timestamp, start), &f, 0, shape);
    // Not a sync frame: it waits.
    assert_eq!(decide(9_000, frame(false, Some(2), false)), Selection::Skip);
    assert_eq!(decide(12_000, frame(false, Some(1), true)), Selection::Forward);
    assert_eq!(decide(15_000, frame(false, Some(2), false)), Selection::Skip);
    assert_eq!(decide(18_000, frame(false, Some(2), true)), Selection::Forward);
    assert_eq!(decide(21_000, frame(false, Some(2), false)), Selection::Forward);
    // Down at the next frame, whatever it is.
    selector.set_preferred(Layers { spatial: 0, temporal: 1 });
    assert_eq!(selector.select(&packet(10, 24_000, start), &frame(false, Some(2), true), 0, shape), Selection::Skip);
}
