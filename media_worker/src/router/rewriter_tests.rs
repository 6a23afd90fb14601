//! Unit tests of `rewriter.rs`'s numbering (the sender's and the router's
//! tests drive the whole rewriter).

use super::*;

#[test]
fn skipped_numbers_leave_no_gap_and_late_packets_keep_their_place() {
    let mut numbers = Renumbering::default();
    assert_eq!(numbers.map(100), Some(1));
    numbers.skip(101);
    numbers.skip(102);
    assert_eq!(numbers.map(103), Some(2));
    // 105 before 104: the gap of the missing one is kept.
    assert_eq!(numbers.map(105), Some(4));
    assert_eq!(numbers.map(104), Some(3));
    // A skipped number, or one older than the base, is not sent.
    assert_eq!((numbers.map(102), numbers.map(99)), (None, None));
    // A skip out of order (104 is sent already; 106 arrives after 107).
    numbers.skip(106);
    assert_eq!(numbers.map(107), Some(5));
    numbers.restart();
    assert_eq!(numbers.map(9_000), Some(6));
}

#[test]
fn the_skipped_numbers_remembered_are_bounded_and_those_forgotten_still_count() {
    let mut numbers = Renumbering::default();
    assert_eq!(numbers.map(0), Some(1));
    // Every other packet skipped, far more than remembered.
    for index in 1..5_000u64 {
        if index % 2 == 0 {
            numbers.skip(index);
        } else {
            assert_eq!(numbers.map(index), Some(1 + index.div_ceil(2)));
        }
        assert!(numbers.skipped.len() <= MAX_SKIPPED);
    }
    // Older than what is remembered: dropped rather than numbered wrong.
    assert_eq!(numbers.map(1), None);
}

#[test]
fn the_first_source_keeps_its_picture_ids_and_the_next_ones_continue_them() {
    let mut numbers = Renumbering::keeping_first();
    assert_eq!(numbers.map(5_000), Some(5_000));
    assert_eq!(numbers.map(5_001), Some(5_001));
    numbers.restart();
    assert_eq!(numbers.map(17), Some(5_002));
}

#[test]
fn picture_ids_are_extended_across_their_wrap_around_at_their_width() {
    let mut long = Unwrapper::default();
    let first = long.extend(0x7ffe, 15);
    assert_eq!([0x7fff, 0, 1, 0x7fff].map(|id| long.extend(id, 15) - first), [1, 2, 3, 1]);
    let mut short = Unwrapper::default();
    let first = short.extend(126, 7);
    assert_eq!([127, 0, 5].map(|id| short.extend(id, 7) - first), [1, 2, 7]);
}
