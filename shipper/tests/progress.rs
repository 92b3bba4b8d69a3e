//! The checkpoint follows the longest acknowledged prefix, whatever order
//! acknowledgements come in.

use logflow_shipper::progress::AckTracker;
use proptest::prelude::*;

#[test]
fn in_order_acks_move_the_checkpoint_record_by_record() {
    let mut tracker = AckTracker::new(5);
    let a = tracker.sent(10);
    let b = tracker.sent(20);
    assert_eq!(tracker.committed(), 5);
    assert!(tracker.acked(a));
    assert_eq!(tracker.committed(), 10);
    assert!(tracker.acked(b));
    assert_eq!(tracker.committed(), 20);
    assert_eq!(tracker.in_flight(), 0);
}

#[test]
fn a_later_ack_waits_for_the_earlier_records() {
    let mut tracker = AckTracker::new(0);
    let seqs: Vec<_> = [10, 20, 30]
        .into_iter()
        .map(|end| tracker.sent(end))
        .collect();
    assert!(!tracker.acked(seqs[2]));
    assert!(!tracker.acked(seqs[1]));
    assert_eq!(tracker.committed(), 0);
    assert!(tracker.acked(seqs[0]));
    assert_eq!(tracker.committed(), 30);
}

#[test]
fn a_refused_record_holds_the_checkpoint_before_it_for_good() {
    let mut tracker = AckTracker::new(0);
    let seqs: Vec<_> = [10, 20, 30]
        .into_iter()
        .map(|end| tracker.sent(end))
        .collect();
    assert_eq!(tracker.failed(seqs[1]), Some(20));
    tracker.acked(seqs[2]);
    tracker.acked(seqs[0]);
    assert_eq!(tracker.committed(), 10);
    tracker.acked(seqs[1]);
    assert_eq!(tracker.committed(), 10);
}

#[test]
fn truncation_resets_the_checkpoint_and_old_acks_do_not_move_it() {
    let mut tracker = AckTracker::new(0);
    let old = tracker.sent(100);
    tracker.truncated();
    assert_eq!(tracker.committed(), 0);
    let new = tracker.sent(7);
    tracker.acked(old);
    assert_eq!(tracker.committed(), 0);
    tracker.acked(new);
    assert_eq!(tracker.committed(), 7);
}

#[test]
fn unknown_and_repeated_acks_are_ignored() {
    let mut tracker = AckTracker::new(0);
    let a = tracker.sent(10);
    assert!(!tracker.acked(a + 5));
    assert!(tracker.acked(a));
    assert!(!tracker.acked(a));
    assert_eq!(tracker.committed(), 10);
}

proptest! {
    #[test]
    fn committed_is_the_end_of_the_longest_acked_prefix(
        order in Just((0..40usize).collect::<Vec<_>>()).prop_shuffle()
    ) {
        let mut tracker = AckTracker::new(0);
        let ends: Vec<u64> = (1..=40).map(|i| i * 10).collect();
        let seqs: Vec<_> = ends.iter().map(|&end| tracker.sent(end)).collect();
        let mut acked = [false; 40];
        for index in order {
            tracker.acked(seqs[index]);
            acked[index] = true;
            let prefix = acked.iter().take_while(|&&a| a).count();
            let expected = if prefix == 0 { 0 } else { ends[prefix - 1] };
            prop_assert_eq!(tracker.committed(), expected);
        }
        prop_assert_eq!(tracker.in_flight(), 0);
    }
}
