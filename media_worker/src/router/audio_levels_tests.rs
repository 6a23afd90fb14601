//! Unit tests of `audio_levels.rs`, with fake time: 20 ms packets for
//! minutes, in microseconds.

use std::time::{Duration, Instant};

use super::*;

/// Streams and the level each sends (None: silent, no packets, as with DTX).
struct Call {
    levels: AudioLevels,
    start: Instant,
    now_ms: u64,
    speakers: Vec<AudioEvent>,
    reports: Vec<Vec<(String, f64)>>,
}

impl Call {
    fn new() -> Self {
        Self { levels: AudioLevels::new(AudioLevelSettings::default()), start: Instant::now(), now_ms: 0, speakers: Vec::new(), reports: Vec::new() }
    }

    /// `ms` of 20 ms packets from each `(stream, dBov)`.
    fn play(&mut self, ms: u64, voices: &[(&str, i8)]) {
        for _ in 0..ms / 20 {
            let now = self.start + Duration::from_millis(self.now_ms);
            for (stream, level) in voices {
                self.levels.record(stream, *level, now);
            }
            self.levels.handle_timeout(now);
            for event in self.levels.take_events() {
                match event {
                    AudioEvent::Levels(levels) => self.reports.push(levels),
                    speaker => self.speakers.push(speaker),
                }
            }
            self.now_ms += 20;
        }
    }

    fn speaker(&self) -> Option<&str> {
        self.levels.speaker()
    }
}

#[test]
fn levels_come_loudest_first_every_interval_and_once_empty_at_silence() {
    let mut call = Call::new();
    call.play(2_000, &[("a", -40), ("b", -20), ("c", -30), ("mute", -100)]);
    assert!((3..=4).contains(&call.reports.len()), "{} reports in 2 s", call.reports.len());
    for report in &call.reports {
        let order: Vec<&str> = report.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(order, ["b", "c", "a"]);
        assert_eq!(report[0].1, -20.0);
    }
    let before = call.reports.len();
    call.play(3_000, &[("mute", -100)]);
    // The interval under way ends with the voices it heard; then one empty report, then none.
    let after = &call.reports[before..];
    assert!((1..=2).contains(&after.len()), "{after:?}");
    assert!(after.last().unwrap().is_empty());
    assert_eq!(after.iter().filter(|report| report.is_empty()).count(), 1);
}

#[test]
fn the_first_speaker_takes_the_floor_and_a_blip_never_does() {
    let mut call = Call::new();
    call.play(1_000, &[("a", -30)]);
    assert_eq!(call.speaker(), Some("a"));
    // B coughs for 100 ms, louder, every 2 s, while A speaks on.
    for _ in 0..10 {
        call.play(100, &[("a", -30), ("b", -5)]);
        call.play(1_900, &[("a", -30)]);
    }
    assert_eq!(call.speaker(), Some("a"));
    assert_eq!(call.speakers, vec![AudioEvent::ActiveSpeaker(Some("a".into()))]);
}

#[test]
fn the_floor_passes_when_the_speaker_stops_not_before() {
    let mut call = Call::new();
    call.play(3_000, &[("a", -30)]);
    // B answers briefly while A speaks, at the same loudness: no change.
    call.play(2_000, &[("a", -30), ("b", -30)]);
    assert_eq!(call.speaker(), Some("a"));
    // A stops; B goes on: B has the floor within about a second.
    call.play(1_100, &[("b", -30)]);
    assert_eq!(call.speaker(), Some("b"));
    assert_eq!(call.speakers.len(), 2);
}

#[test]
fn a_much_louder_speaker_interrupts_after_two_seconds() {
    let mut call = Call::new();
    call.play(2_000, &[("a", -45)]);
    call.play(1_000, &[("a", -45), ("b", -20)]);
    assert_eq!(call.speaker(), Some("a"), "not after 1 s");
    call.play(1_600, &[("a", -45), ("b", -20)]);
    assert_eq!(call.speaker(), Some("b"));
}

#[test]
fn a_speaker_whose_stream_ends_leaves_the_floor() {
    let mut call = Call::new();
    call.play(1_000, &[("a", -30)]);
    call.levels.forget("a");
    assert_eq!(call.levels.take_events(), vec![AudioEvent::ActiveSpeaker(None)]);
    assert_eq!(call.speaker(), None);
}
