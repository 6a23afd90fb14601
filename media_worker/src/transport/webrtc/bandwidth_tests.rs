//! A still estimate starts over, a live one never does; restarts that find
//! nothing come less and less often. Fake time: an hour in microseconds.

use std::time::{Duration, Instant};

use str0m::bwe::{Bitrate, BweKind};
use str0m::media::Mid;

use super::*;

const WANTED: u64 = 1_500_000;

/// The restarts over `seconds` of an estimate given each second by `estimate(second)`, checked every 250 ms.
fn restarts(seconds: u64, estimate: impl Fn(u64) -> u64) -> Vec<(u64, u64)> {
    let start = Instant::now();
    let mut restarts = Restarts::default();
    let mut found = Vec::new();
    for quarter in 0..seconds * 4 {
        let now = start + Duration::from_millis(250 * quarter);
        let value = estimate(quarter / 4);
        if let Some(from) = restarts.due(value, WANTED, now) {
            found.push((quarter / 4, from));
        }
    }
    found
}

#[test]
fn an_estimate_that_moves_is_never_started_over() {
    // An hour of an estimate that changes a little every second, below what is wanted.
    assert_eq!(restarts(3600, |second| 300_000 + (second % 7) * 1_000), vec![]);
    // And one that moves every 5 s (str0m's probes while application-limited).
    assert_eq!(restarts(3600, |second| 300_000 + (second / 5 % 2) * 20_000), vec![]);
}

#[test]
fn an_estimate_that_is_enough_is_never_started_over() {
    // Still for an hour, but the senders want no more than it with a step's margin.
    let start = Instant::now();
    let mut restarts = Restarts::default();
    for second in 0..3600 {
        let now = start + Duration::from_secs(second);
        assert_eq!(restarts.due(1_400_000, 1_600_000, now), None);
    }
}

#[test]
fn a_still_estimate_below_the_wanted_starts_over_after_still_then_less_and_less_often() {
    // 181,208 bit/s to the bit (as str0m held it in bench/adapt) for twenty minutes.
    let found = restarts(1200, |_| 181_208);
    let seconds: Vec<u64> = found.iter().map(|(second, _)| *second).collect();
    // After 6 s still, then waits of 12, 24, 48 s, then one a minute.
    assert_eq!(&seconds[..6], &[6, 18, 42, 90, 150, 210]);
    assert!(seconds.windows(2).skip(4).all(|pair| pair[1] - pair[0] == 60), "{seconds:?}");
    assert!(found.iter().all(|(_, from)| *from == 181_208));
}

#[test]
fn a_restart_that_finds_more_lets_the_next_one_come_as_soon() {
    // Still at 200k; the restart at 6 s finds 800k (at 8 s), which stays
    // still too: the next restart comes 6 s after it, the wait then doubles
    // again (12 s); at 40 s the estimate falls to 400k, no success: 24 s, 48 s.
    let found = restarts(120, |second| match second {
        0..8 => 200_000,
        8..40 => 800_000,
        40.. => 400_000,
    });
    assert_eq!(found, vec![(6, 200_000), (14, 800_000), (26, 800_000), (50, 400_000), (98, 400_000)]);
}

#[test]
fn a_restart_that_finds_a_little_more_than_before_is_no_success() {
    // 5 % more than the estimate it started from is within the margin: the wait still doubles.
    let found = restarts(60, |second| if second < 8 { 200_000 } else { 210_000 });
    assert_eq!(found.iter().map(|(second, _)| *second).collect::<Vec<_>>(), vec![6, 18, 42]);
}

fn twcc(bps: u64) -> BweKind {
    BweKind::Twcc { estimate: Bitrate::bps(bps), can_probe: true }
}

#[test]
fn only_str0m_s_own_estimate_starts_over() {
    let start = Instant::now();
    // An endpoint that sends REMB and no transport-cc feedback (aiortc): str0m estimates nothing.
    let mut remb = BandwidthEstimate::new(true);
    remb.update(BweKind::Remb { estimate: Bitrate::bps(200_000), mid: Mid::from("0") });
    // A room without bandwidth estimation takes no estimate at all.
    let mut disabled = BandwidthEstimate::new(false);
    disabled.update(twcc(200_000));
    let mut twcc_estimate = BandwidthEstimate::new(true);
    twcc_estimate.update(twcc(200_000));
    let mut restarted = Vec::new();
    for second in 0..30 {
        let now = start + Duration::from_secs(second);
        for (name, estimate) in [("remb", &mut remb), ("disabled", &mut disabled), ("twcc", &mut twcc_estimate)] {
            estimate.take(now);
            if estimate.restart_due(WANTED, now).is_some() {
                restarted.push((name, second));
            }
        }
    }
    assert_eq!(restarted, vec![("twcc", 6), ("twcc", 18)]);
    assert_eq!((remb.estimate(), disabled.estimate()), (Some(200_000), None));
}

#[test]
fn the_estimate_is_shared_when_new_or_every_second_and_small_changes_of_the_wanted_are_not_told() {
    let start = Instant::now();
    let mut estimate = BandwidthEstimate::new(true);
    assert_eq!(estimate.take(start), None);
    estimate.update(twcc(500_000));
    assert_eq!(estimate.take(start), Some(500_000));
    assert_eq!(estimate.take(start + Duration::from_millis(500)), None);
    assert_eq!(estimate.take(start + RESHARE_INTERVAL), Some(500_000));
    estimate.update(twcc(450_000));
    assert_eq!(estimate.take(start + RESHARE_INTERVAL), Some(450_000));
    assert!(estimate.wants(300_000, 1_000_000));
    assert!(!estimate.wants(320_000, 1_050_000));
    assert!(estimate.wants(300_000, 1_200_000));
}
