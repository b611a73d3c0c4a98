//! Delayed acknowledgments (RFC 9293 §3.8.6.3, RFC 5681 §4.2; RFC 1122 §4.2.3.2).
//!
//! In-order data is acknowledged after at most `StackConfig::delayed_ack`, or at once when:
//! - a second segment arrives while an ACK is already being delayed ("an ACK SHOULD be
//!   generated for at least every second full-sized segment"; as FreeBSD, any second segment
//!   triggers it, so a mix of sizes is never held longer than the rule allows);
//! - the connection is in its quick-ACK phase (`StackConfig::quick_acks` data segments, as
//!   Linux's quick-ACK mode, so the peer's slow start is clocked by every segment);
//! - a segment is larger than one MSS (LRO or a peer ignoring our MSS: count it as two).
//!
//! The callers ACK at once for out-of-order data, data that fills a gap, a FIN, unacceptable
//! or duplicate segments and the handshake (RFC 5681 §4.2: "an immediate ACK ... when an
//! out-of-order segment arrives ... [or] fills in all or part of a gap"). Any segment we send
//! carries the ACK, so sending cancels the delay.

use std::time::Duration;

use super::deadline::Deadline;
use crate::time::Instant;

/// Delayed-ACK state of one connection.
#[derive(Debug, Default)]
pub(crate) struct DelayedAck {
    /// When the delayed ACK must go out, while one is being delayed.
    pub(crate) deadline: Deadline,
    /// Data segments acknowledged at once so far in the quick-ACK phase.
    quick_used: u32,
}

impl DelayedAck {
    /// In-order data of `len` bytes arrived (it did not fill a gap); `full` is a full-sized
    /// segment's payload. Returns true when the ACK must go out now; otherwise the timer is
    /// armed (not restarted: a pure ACK is never delayed past the first deadline).
    pub(crate) fn on_in_order_data(
        &mut self,
        now: Instant,
        delay: Option<Duration>,
        quick_acks: u32,
        len: usize,
        full: usize,
    ) -> bool {
        let Some(delay) = delay else {
            return true;
        };
        if self.quick_used < quick_acks {
            self.quick_used += 1;
            return true;
        }
        if self.deadline.is_some() || len > full {
            return true;
        }
        self.deadline = Deadline::at(now + delay);
        false
    }

    /// An ACK went out (on any segment): nothing is delayed any more.
    pub(crate) fn on_ack_sent(&mut self) {
        self.deadline = Deadline::NONE;
    }

    /// The timer is due at `now`.
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.deadline.is_due(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELAY: Option<Duration> = Some(Duration::from_millis(40));

    #[test]
    fn every_second_segment_is_acked_after_the_quick_phase() {
        let mut d = DelayedAck::default();
        let t = Instant::ZERO;
        assert!(d.on_in_order_data(t, DELAY, 2, 100, 1460));
        assert!(d.on_in_order_data(t, DELAY, 2, 100, 1460));
        assert!(!d.on_in_order_data(t, DELAY, 2, 100, 1460));
        assert_eq!(d.deadline.get(), Some(t + Duration::from_millis(40)));
        assert!(d.on_in_order_data(t, DELAY, 2, 100, 1460));
        d.on_ack_sent();
        assert!(!d.on_in_order_data(t, DELAY, 2, 100, 1460));
    }

    #[test]
    fn off_or_oversized_acks_at_once() {
        let mut d = DelayedAck::default();
        assert!(d.on_in_order_data(Instant::ZERO, None, 0, 10, 1460));
        assert!(d.on_in_order_data(Instant::ZERO, DELAY, 0, 2000, 1460));
        assert!(d.deadline.is_none());
    }
}
