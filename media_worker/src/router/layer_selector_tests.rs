//! Unit tests of `layer_selector.rs`, with fake time.

use super::*;

const MS: Duration = Duration::from_millis(1);

#[test]
fn the_first_encoding_heard_is_forwarded_and_the_others_are_not() {
    let start = Instant::now();
    let mut selector = LayerSelector::default();
    assert_eq!(selector.current(), None);
    assert_eq!(selector.select(10, start), Selection::Start { replaced: false });
    assert_eq!(selector.select(20, start + MS), Selection::Drop);
    assert_eq!(selector.select(10, start + 2 * MS), Selection::Forward);
    assert_eq!(selector.select(20, start + 900 * MS), Selection::Drop);
    assert_eq!(selector.current(), Some(10));
}

#[test]
fn a_source_silent_for_the_timeout_is_replaced_by_the_next_one_heard() {
    let start = Instant::now();
    let mut selector = LayerSelector::default();
    selector.select(10, start);
    selector.select(10, start + 100 * MS);
    // Silent since 100 ms: at 1,099 ms it is not yet replaced, at 1,100 ms it is.
    assert_eq!(selector.select(20, start + 1_099 * MS), Selection::Drop);
    assert_eq!(selector.select(20, start + 1_100 * MS), Selection::Start { replaced: true });
    assert_eq!(selector.select(10, start + 1_101 * MS), Selection::Drop);
    assert_eq!(selector.current(), Some(20));
}

#[test]
fn a_late_packet_does_not_move_the_sources_clock_back() {
    let start = Instant::now();
    let mut selector = LayerSelector::default();
    selector.select(10, start + 500 * MS);
    // Reordered: it arrived (by its timestamp) before the previous one.
    assert_eq!(selector.select(10, start + 400 * MS), Selection::Forward);
    assert_eq!(selector.select(20, start + 1_450 * MS), Selection::Drop);
    assert_eq!(selector.select(20, start + 1_500 * MS), Selection::Start { replaced: true });
}
