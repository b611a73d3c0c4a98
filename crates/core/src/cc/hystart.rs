//! Leaving the initial slow start when the RTT starts to grow, before doubling cwnd
//! overshoots the path's buffer and loses a window's worth of segments: HyStart++'s delay
//! test (RFC 9406 §4.2).
//!
//! Each round (one window of data, ended when the ACK passes the SND.NXT of the round's
//! start) keeps its minimum RTT sample. Once a round has N_RTT_SAMPLE samples and its minimum
//! exceeds the previous round's by a clamped eighth of it, slow start ends: ssthresh = cwnd.
//!
//! Deviation: RFC 9406 first enters Conservative Slow Start for five rounds at a quarter of
//! the growth. Measured in `oxtcp sim transfer` (100 Mbit/s, 50 ms, a one-BDP queue, no
//! pacing), the RTT rises at about 70% of the BDP and five CSS rounds (×1.25⁵ ≈ 3) still
//! overflowed the queue: 747 drops and 4.1 Mbit/s for 20 MB, against no drops and 52 Mbit/s
//! when slow start ends at once, as Linux's HyStart does.
//!
//! The test is independent of the congestion controller: the connection asks it after each
//! ACK, and tells the controller when slow start ends.

use std::time::Duration;

use crate::conn::deadline::Span;
use crate::seq::SeqNum;

/// RFC 9406 §4.3 constants.
const MIN_RTT_THRESH: Duration = Duration::from_millis(4);
const MAX_RTT_THRESH: Duration = Duration::from_millis(16);
const MIN_RTT_DIVISOR: u32 = 8;
const N_RTT_SAMPLE: u32 = 8;

/// Kept small (24 bytes) as every connection holds one until its slow start ends: the round
/// minima as 8-byte `Span`s, the sample count saturating (only its reaching N_RTT_SAMPLE
/// matters).
#[derive(Clone, Debug)]
pub(crate) struct HyStart {
    /// The round ends when an ACK reaches this, once `in_round`.
    window_end: SeqNum,
    in_round: bool,
    samples: u8,
    last_round_min: Span,
    current_round_min: Span,
}

impl Default for HyStart {
    fn default() -> HyStart {
        HyStart {
            window_end: SeqNum::default(),
            in_round: false,
            samples: 0,
            last_round_min: Span::NONE,
            current_round_min: Span::NONE,
        }
    }
}

impl HyStart {
    /// After an ACK of new data during the initial slow start: `ack` is the new SND.UNA,
    /// `snd_nxt` the next sequence number to send, `sample` the RTT measured from this ACK,
    /// if any. Returns true when slow start should end.
    pub(crate) fn on_ack(
        &mut self,
        ack: SeqNum,
        snd_nxt: SeqNum,
        sample: Option<Duration>,
    ) -> bool {
        // §4.2: a new round starts when the ACK passes the window end.
        if !self.in_round || ack.after_eq(self.window_end) {
            self.window_end = snd_nxt;
            self.in_round = true;
            self.last_round_min = std::mem::replace(&mut self.current_round_min, Span::NONE);
            self.samples = 0;
        }
        let Some(rtt) = sample else {
            return false;
        };
        let cur = self.current_round_min.get().map_or(rtt, |m| m.min(rtt));
        self.current_round_min = Span::of(cur);
        self.samples = self.samples.saturating_add(1);
        match self.last_round_min.get() {
            Some(last) if u32::from(self.samples) >= N_RTT_SAMPLE => {
                let thresh = (last / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH);
                cur >= last + thresh
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> SeqNum {
        SeqNum::new(n)
    }

    /// A sender with 10 segments of 1000 bytes always in flight: each ACK covers 1000 bytes
    /// and SND.NXT stays 10000 ahead, so a round is 10 ACKs. Runs `rounds` rounds from
    /// `*ack` with RTT samples of `rtt` ms; returns whether each round ended slow start.
    fn rounds(h: &mut HyStart, ack: &mut u32, rounds: u32, rtt: u64) -> Vec<bool> {
        (0..rounds)
            .map(|_| {
                let mut exit = false;
                for _ in 0..10 {
                    *ack += 1000;
                    exit |= h.on_ack(s(*ack), s(*ack + 10_000), Some(Duration::from_millis(rtt)));
                }
                exit
            })
            .collect()
    }

    #[test]
    fn a_flat_rtt_stays_in_slow_start() {
        let mut h = HyStart::default();
        let mut ack = 0;
        assert_eq!(rounds(&mut h, &mut ack, 10, 50), [false; 10]);
    }

    #[test]
    fn a_growing_rtt_ends_slow_start() {
        let mut h = HyStart::default();
        let mut ack = 0;
        assert_eq!(rounds(&mut h, &mut ack, 2, 50), [false; 2]);
        // 50 ms → 57 ms: past the threshold max(50/8, 4) = 6.25 ms.
        assert_eq!(rounds(&mut h, &mut ack, 1, 57), [true]);
    }

    #[test]
    fn a_small_increase_is_not_enough() {
        let mut h = HyStart::default();
        let mut ack = 0;
        rounds(&mut h, &mut ack, 2, 50);
        // 5 ms more is below 6.25 ms.
        assert_eq!(rounds(&mut h, &mut ack, 3, 55), [false; 3]);
    }

    #[test]
    fn too_few_samples_decide_nothing() {
        // Rounds of 5 ACKs: fewer than N_RTT_SAMPLE samples each.
        let mut h = HyStart::default();
        let mut ack = 0;
        for rtt in [50, 50, 90, 90] {
            for _ in 0..5 {
                ack += 2000;
                assert!(!h.on_ack(s(ack), s(ack + 10_000), Some(Duration::from_millis(rtt))));
            }
        }
    }
}
