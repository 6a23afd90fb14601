//! SVC through the router, with fake time: one VP9 or AV1 stream whose
//! pictures carry three spatial layers ([`SvcPublisher`]; AV1's named by
//! its dependency descriptor). Each test runs for both codecs. A sender forwards the
//! layers up to the one it may, its subscriber sees one stream (numbers
//! without gaps, each picture ending with the marker bit), a lower layer
//! is taken at the next picture and a higher one at a keyframe.

use super::layer_selector::Layers;
use super::testing::{Room, Sink, SvcPublisher, SVC_SSRC};
use crate::rtp::codecs::{FrameInfo, PayloadFormat};
use crate::rtp::packet::OutgoingRtp;

fn send(publisher: &mut SvcPublisher, room: &mut Room, sink: &mut Sink, count: u64) -> Vec<u32> {
    let mut requests = Vec::new();
    for _ in 0..count {
        publisher.send_frame(room, "camera", sink);
        requests.extend(publisher.take_requests(room));
    }
    requests
}

fn current(room: &Room, sender_id: &str) -> Option<(u64, u64)> {
    let layers = &room.router.dump_sender(sender_id, room.start).unwrap()["currentLayers"];
    Some((layers["spatialLayer"].as_u64()?, layers["temporalLayer"].as_u64()?))
}

/// One stream: each packet one number after the previous; the marker on
/// the last packet of each picture (before the timestamp changes) and only
/// there. Answers the highest spatial layer of each picture, in order.
fn pictures(written: &[(OutgoingRtp, FrameInfo)]) -> Vec<u8> {
    let mut tops = Vec::new();
    for (index, (rtp, frame)) in written.iter().enumerate() {
        let next = written.get(index + 1);
        if let Some((after, _)) = next {
            assert_eq!(after.sequence_number, rtp.sequence_number + 1, "a gap after {}", rtp.sequence_number);
        }
        let last_of_picture = next.is_none_or(|(after, _)| after.timestamp != rtp.timestamp);
        if next.is_some() {
            assert_eq!(rtp.marker, last_of_picture, "the marker of packet {} (spatial layer {:?})", rtp.sequence_number, frame.spatial);
        }
        if last_of_picture {
            tops.push(frame.spatial.unwrap());
        }
    }
    tops
}

/// The codecs whose SVC streams are tested.
const FORMATS: [PayloadFormat; 2] = [PayloadFormat::Vp9, PayloadFormat::Av1];

/// A room with the SVC publisher, Bob unconstrained and Carol preferring layer 0, for a second.
fn call(format: PayloadFormat) -> (Room, SvcPublisher, Sink) {
    let mut room = Room::new();
    room.publish_svc("camera", format);
    room.subscribe("to-bob", "camera", 2);
    room.subscribe("to-carol", "camera", 3);
    room.router.set_preferred_layers("to-carol", Layers { spatial: 0, temporal: u8::MAX }).unwrap();
    let mut publisher = SvcPublisher::new(format);
    publisher.take_requests(&mut room);
    let mut sink = Sink::ready(&[2, 3]);
    send(&mut publisher, &mut room, &mut sink, 30);
    (room, publisher, sink)
}

/// What `key` got from its latest keyframe on.
fn since_keyframe(sink: &Sink, key: u32, format: PayloadFormat) -> Vec<(OutgoingRtp, FrameInfo)> {
    let written = sink.read(key, format);
    let start = written.iter().rposition(|(_, frame)| frame.keyframe).unwrap();
    written[start..].to_vec()
}

#[test]
fn each_subscriber_gets_the_spatial_layers_up_to_its_own_and_each_picture_ends_with_the_marker() {
    for format in FORMATS {
        let (room, _, sink) = call(format);
        assert_eq!(current(&room, "to-bob"), Some((2, 2)));
        assert_eq!(current(&room, "to-carol"), Some((0, 2)));
        let bob = since_keyframe(&sink, 2, format);
        assert!(pictures(&bob).iter().all(|top| *top == 2));
        // Six packets per picture for Bob, two for Carol (layer 0 alone, its end marked).
        assert_eq!(bob.len() % 6, 0);
        let carol = since_keyframe(&sink, 3, format);
        assert!(carol.iter().all(|(_, frame)| frame.spatial == Some(0)));
        assert_eq!(pictures(&carol).len() * 2, carol.len());
        assert_eq!(room.router.dump_sender("to-carol", room.start).unwrap()["sourceSsrc"], SVC_SSRC);
    }
}

#[test]
fn a_lower_layer_is_taken_at_the_next_picture_without_a_keyframe_and_a_higher_one_at_a_keyframe() {
    for format in FORMATS {
        let (mut room, mut publisher, mut sink) = call(format);
        let before = sink.read(2, format).len();
        room.router.set_preferred_layers("to-bob", Layers { spatial: 1, temporal: u8::MAX }).unwrap();
        assert!(send(&mut publisher, &mut room, &mut sink, 2).is_empty(), "no keyframe asked to go down");
        assert_eq!(current(&room, "to-bob"), Some((1, 2)));
        // Up again: a keyframe is asked for; the climb waits for it.
        room.router.set_preferred_layers("to-bob", Layers::HIGHEST).unwrap();
        publisher.send_frame(&mut room, "camera", &mut sink);
        assert_eq!(room.router.take_keyframe_requests().iter().map(|request| request.ssrc).collect::<Vec<_>>(), [SVC_SSRC]);
        send(&mut publisher, &mut room, &mut sink, 3);
        assert_eq!(current(&room, "to-bob"), Some((1, 2)), "no keyframe yet");
        publisher.keyframe_due = true;
        send(&mut publisher, &mut room, &mut sink, 3);
        assert_eq!(current(&room, "to-bob"), Some((2, 2)));
        let written = sink.read(2, format);
        let tops = pictures(&written[before..]);
        assert_eq!(tops, [1, 1, 1, 1, 1, 1, 2, 2, 2]);
        // Carol, on layer 0 all along, was never disturbed.
        assert!(pictures(&since_keyframe(&sink, 3, format)).iter().all(|top| *top == 0));
    }
}

#[test]
fn temporal_layers_of_an_svc_stream_are_skipped_as_in_a_single_one() {
    for format in FORMATS {
        let (mut room, mut publisher, mut sink) = call(format);
        room.router.set_preferred_layers("to-carol", Layers { spatial: 0, temporal: 0 }).unwrap();
        let before = sink.read(3, format).len();
        send(&mut publisher, &mut room, &mut sink, 20);
        assert_eq!(current(&room, "to-carol"), Some((0, 0)));
        let written = sink.read(3, format);
        assert_eq!(written.len() - before, 10, "5 base pictures of 20, layer 0 alone");
        assert!(written[before..].iter().all(|(_, frame)| frame.temporal == Some(0) && frame.spatial == Some(0)));
        pictures(&written[before - 2..]);
    }
}

#[test]
fn the_bandwidth_estimate_counts_an_svc_layer_with_the_layers_below_it() {
    for format in FORMATS {
        let (mut room, mut publisher, mut sink) = call(format);
        send(&mut publisher, &mut room, &mut sink, 30);
        let start = room.start;
        let at = |publisher: &SvcPublisher| start + std::time::Duration::from_millis(publisher.frame * 33);
        // Layers 96, 288 and 864 kbit/s: forwarding layer 2 takes 1.25 Mbit/s.
        let (_, wanted) = room.router.share_bandwidth(2, 5_000_000, at(&publisher));
        assert!((1_150_000..1_350_000).contains(&wanted), "{wanted}");
        // 1 Mbit/s would carry simulcast's top layer alone, not SVC's.
        room.router.share_bandwidth(2, 1_000_000, at(&publisher));
        let requests = send(&mut publisher, &mut room, &mut sink, 2);
        assert_eq!(current(&room, "to-bob"), Some((1, 2)));
        // Moved down by the bandwidth: what bob's transport held is dropped, and a keyframe asked for.
        assert_eq!(requests, [SVC_SSRC], "{format:?}");
        assert_eq!(sink.written.iter().filter(|(key, rtp)| *key == 2 && rtp.drops_queued).count(), 1, "{format:?}");
        room.router.share_bandwidth(2, 200_000, at(&publisher));
        send(&mut publisher, &mut room, &mut sink, 2);
        assert_eq!(current(&room, "to-bob"), Some((0, 2)));
        // Plenty again: held on layer 0 for CLIMB_HOLD after the bandwidth moved it down, then up at a keyframe.
        room.router.share_bandwidth(2, 2_000_000, at(&publisher));
        publisher.keyframe_due = true;
        send(&mut publisher, &mut room, &mut sink, 2);
        assert_eq!(current(&room, "to-bob"), Some((0, 2)), "{format:?}");
        send(&mut publisher, &mut room, &mut sink, 10_000 / 33);
        room.router.share_bandwidth(2, 2_000_000, at(&publisher));
        send(&mut publisher, &mut room, &mut sink, 2);
        publisher.keyframe_due = true;
        send(&mut publisher, &mut room, &mut sink, 2);
        assert_eq!(current(&room, "to-bob"), Some((2, 2)));
    }
}

#[test]
fn a_spatial_layer_the_publisher_stops_sending_is_left() {
    for format in FORMATS {
        let (mut room, mut publisher, mut sink) = call(format);
        publisher.layers = 2;
        send(&mut publisher, &mut room, &mut sink, 20);
        assert_eq!(current(&room, "to-bob"), Some((1, 2)));
        let written = sink.read(2, format);
        assert_eq!(pictures(&written[written.len() - 8..]), [1, 1]);
    }
}

#[test]
fn temporal_layers_are_climbed_again_at_a_switch_point_without_a_keyframe() {
    for format in FORMATS {
        let (mut room, mut publisher, mut sink) = call(format);
        room.router.set_preferred_layers("to-carol", Layers { spatial: 0, temporal: 0 }).unwrap();
        send(&mut publisher, &mut room, &mut sink, 8);
        assert_eq!(current(&room, "to-carol"), Some((0, 0)), "{format:?}");
        room.router.set_preferred_layers("to-carol", Layers { spatial: 0, temporal: u8::MAX }).unwrap();
        assert!(send(&mut publisher, &mut room, &mut sink, 8).is_empty(), "{format:?}: no keyframe asked");
        assert_eq!(current(&room, "to-carol"), Some((0, 2)), "{format:?}");
        let written = sink.read(3, format);
        assert!(written[written.len() - 8..].iter().any(|(_, frame)| frame.temporal == Some(2)), "{format:?}");
        pictures(&since_keyframe(&sink, 3, format));
    }
}
