//! Unit tests of `stats.rs`, with fake time.

use super::*;

const MS: Duration = Duration::from_millis(1);

#[test]
fn bitrate_is_measured_per_second_and_falls_to_zero_when_the_stream_stops() {
    let start = Instant::now();
    let mut rate = RateWindow::default();
    // 100 packets of 1,250 bytes per second = 1 Mbit/s, for 3 s.
    for index in 0..300u32 {
        rate.record(1_250, start + index * 10 * MS);
    }
    let bitrate = rate.bitrate(start + 3_000 * MS);
    assert!((990_000..=1_010_000).contains(&bitrate), "{bitrate}");
    assert_eq!(rate.bitrate(start + 5_000 * MS), 0);
}

#[test]
fn an_hour_of_audio_without_loss_or_jitter() {
    let start = Instant::now();
    // Opus: 20 ms packets, 960 ticks each at 48 kHz, timestamps across the 32-bit wrap.
    let mut stream = InboundStream::new(1, 48_000, start);
    let first_timestamp = u32::MAX - 960 * 10;
    for index in 0..180_000u64 {
        let timestamp = first_timestamp.wrapping_add((index as u32) * 960);
        stream.record(1 + index, timestamp, 111, 100, start + (index as u32) * 20 * MS);
    }
    assert_eq!(stream.packets, 180_000);
    assert_eq!(stream.packets_lost(), 0);
    assert_eq!(stream.jitter(), 0);
}

#[test]
fn loss_counts_what_never_came_and_reordering_is_not_loss() {
    let start = Instant::now();
    let mut stream = InboundStream::new(100, 90_000, start);
    // 100..=119 with 105 and 110 missing, 112 after 113, and 65,535 → 65,536 extended.
    for sequence_number in (100..120u64).filter(|n| *n != 105 && *n != 110 && *n != 112) {
        stream.record(sequence_number, 0, 96, 1_000, start);
    }
    stream.record(112, 0, 96, 1_000, start);
    assert_eq!(stream.packets_lost(), 2);
    assert_eq!(stream.highest_sequence_number, 119);
    // A retransmission fills a hole.
    stream.record(105, 0, 96, 1_000, start);
    assert_eq!(stream.packets_lost(), 1);
}

#[test]
fn jitter_follows_rfc_3550() {
    let start = Instant::now();
    let mut stream = InboundStream::new(1, 90_000, start);
    // 30 fps video (3000 ticks a frame), arriving alternately 5 ms early and late.
    for index in 0..1_000u32 {
        let nominal = index * 33_333;
        let wobble = if index % 2 == 0 { 0 } else { 10_000 };
        stream.record(u64::from(index) + 1, index * 3_000, 96, 1_000, start + Duration::from_micros(u64::from(nominal + wobble)));
    }
    // |D| is 10 ms = 900 ticks each time; J converges to it.
    let jitter = stream.jitter();
    assert!((880..=900).contains(&jitter), "{jitter}");
}
