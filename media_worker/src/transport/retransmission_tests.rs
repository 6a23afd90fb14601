//! The send history and the NACK generator with fake time: gaps asked for
//! after the reorder wait and again until repaired or given up, across the
//! sequence wrap; large jumps ask for nothing; packets kept as they left,
//! until overwritten or too old; an hour of a lossy stream in milliseconds.

use std::time::{Duration, Instant};

use super::*;

#[test]
fn a_gap_is_asked_for_after_the_reorder_wait_then_again_until_it_is_repaired() {
    let mut generator = NackGenerator::default();
    let start = Instant::now();
    assert_eq!(generator.on_packet(9, 100, start), Arrival::New);
    assert_eq!(generator.on_packet(9, 103, start), Arrival::New);
    assert_eq!(generator.missing(), 2);
    assert_eq!(generator.next_timeout(), Some(start + REORDER_WAIT));
    assert!(generator.poll(start).is_empty(), "reordered packets get their chance");
    assert_eq!(generator.poll(start + REORDER_WAIT), vec![(9, vec![101, 102])]);
    assert!(generator.poll(start + REORDER_WAIT + Duration::from_millis(1)).is_empty());
    assert_eq!(generator.on_packet(9, 101, start + Duration::from_millis(10)), Arrival::Repaired);
    assert_eq!(generator.on_packet(9, 101, start + Duration::from_millis(11)), Arrival::Late, "a duplicate");
    assert_eq!(generator.poll(start + REORDER_WAIT + NACK_INTERVAL), vec![(9, vec![102])]);
    // Given up after MAX_NACKS.
    let mut now = start + REORDER_WAIT + NACK_INTERVAL;
    for _ in 2..MAX_NACKS {
        now += NACK_INTERVAL;
        assert_eq!(generator.poll(now), vec![(9, vec![102])]);
    }
    now += NACK_INTERVAL;
    assert!(generator.poll(now).is_empty());
    assert_eq!(generator.missing(), 0);
    assert_eq!(generator.next_timeout(), None);
}

#[test]
fn gaps_across_the_wrap_and_large_jumps() {
    let mut generator = NackGenerator::default();
    let start = Instant::now();
    generator.on_packet(1, 65_534, start);
    generator.on_packet(1, 1, start);
    assert_eq!(generator.poll(start + REORDER_WAIT), vec![(1, vec![65_535, 0])]);
    assert_eq!(generator.on_packet(1, 0, start), Arrival::Repaired);
    // A jump past MAX_GAP: a new start, nothing asked (and what was missing is dropped).
    generator.on_packet(1, 1 + MAX_GAP as u16 + 1, start);
    assert_eq!(generator.missing(), 0);
    // Streams are apart.
    generator.on_packet(2, 10, start);
    generator.on_packet(2, 12, start);
    generator.on_packet(3, 5, start);
    generator.on_packet(3, 7, start);
    assert_eq!(generator.poll(start + REORDER_WAIT), vec![(2, vec![11]), (3, vec![6])]);
    generator.remove(2);
    assert_eq!(generator.missing(), 1);
}

#[test]
fn the_history_answers_what_it_kept_until_overwritten_or_too_old() {
    let mut history = SendHistory::default();
    let start = Instant::now();
    for sequence in 0..300u16 {
        history.store(7, sequence, &sequence.to_be_bytes(), start);
    }
    assert_eq!(history.get(7, 299, start), Some(&299u16.to_be_bytes()[..]));
    assert_eq!(history.get(7, 299 - HISTORY_PACKETS as u16 + 1, start).map(<[u8]>::to_vec), Some((299 - HISTORY_PACKETS as u16 + 1).to_be_bytes().to_vec()));
    assert_eq!(history.get(7, 10, start), None, "overwritten");
    assert_eq!(history.get(8, 299, start), None, "another stream");
    assert_eq!(history.get(7, 299, start + MAX_AGE + Duration::from_millis(1)), None, "too old");
    history.remove(7);
    assert_eq!(history.get(7, 299, start), None);
}

#[test]
fn an_hour_of_a_lossy_hop_is_repaired_but_for_what_is_lost_every_time() {
    // 100 packets/s for an hour; the hop loses every 20th packet once,
    // and one packet in 997 on every try (never repaired).
    let mut history = SendHistory::default();
    let mut generator = NackGenerator::default();
    let start = Instant::now();
    let (mut repaired, mut never, mut retransmitted) = (0u64, 0u64, 0u64);
    let mut in_flight: Vec<u16> = Vec::new();
    for index in 0..360_000u64 {
        let now = start + Duration::from_millis(10 * index);
        let sequence = index as u16;
        history.store(5, sequence, &index.to_be_bytes(), now);
        let always_lost = index % 997 == 0;
        if !always_lost && index % 20 != 0 {
            generator.on_packet(5, sequence, now);
        }
        if always_lost {
            never += 1;
        }
        // What the generator asks for arrives again (unless always lost).
        for (ssrc, lost) in generator.poll(now) {
            for sequence in lost {
                let bytes = history.get(ssrc, sequence, now).expect("kept within MAX_AGE");
                let index = u64::from_be_bytes(bytes.try_into().unwrap());
                retransmitted += 1;
                if index % 997 != 0 {
                    in_flight.push(sequence);
                }
            }
        }
        for sequence in in_flight.drain(..) {
            if generator.on_packet(5, sequence, now) == Arrival::Repaired {
                repaired += 1;
            }
        }
    }
    let lost_once = 360_000 / 20 - 360_000 / (20 * 997) - 1;
    assert!(repaired >= lost_once - 2, "{repaired} of {lost_once}");
    assert!(retransmitted <= repaired + never * u64::from(MAX_NACKS) + 10, "{retransmitted}");
    assert!(generator.missing() <= 2);
}
