//! Rate limits on the ACKs a stack sends in answer to segments it drops: the stack-wide
//! challenge-ACK budget of RFC 5961 §7, and the per-connection spacing of ACKs that answer
//! unacceptable segments (Linux's tcp_invalid_ratelimit), which breaks ACK loops between two
//! endpoints that each find the other's segments out of window.

use std::time::Duration;

use crate::time::Instant;

/// A token bucket refilled at `rate` tokens per second up to `rate` tokens: at most `rate`
/// takes in any one second, and bursts up to the whole second's worth.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    /// Tokens times one second in microseconds, so refills need no division per take.
    tokens_us: u64,
    last: Instant,
}

const SECOND_US: u64 = 1_000_000;

impl TokenBucket {
    pub(crate) fn new() -> Self {
        TokenBucket {
            tokens_us: u64::MAX,
            last: Instant::ZERO,
        }
    }

    /// Take one token at `now` if the bucket of `rate` per second has one.
    pub(crate) fn try_take(&mut self, now: Instant, rate: u32) -> bool {
        let cap = u64::from(rate) * SECOND_US;
        let elapsed = now.saturating_duration_since(self.last).as_micros();
        self.last = self.last.max(now);
        let refill = (elapsed.min(u128::from(SECOND_US)) as u64) * u64::from(rate);
        self.tokens_us = self.tokens_us.saturating_add(refill).min(cap);
        if self.tokens_us >= SECOND_US {
            self.tokens_us -= SECOND_US;
            true
        } else {
            false
        }
    }
}

/// The stack's ACK limits and what they held back; a connection reaches them through `Ctx`.
#[derive(Debug)]
pub(crate) struct AckLimits {
    challenge: TokenBucket,
    /// Challenge ACKs not sent: the connection had answered another unacceptable segment
    /// within `invalid_ack_interval`, or the stack-wide limit was reached.
    pub(crate) challenge_suppressed: u64,
    /// ACKs to unacceptable segments not sent because the connection sent one too recently.
    pub(crate) invalid_suppressed: u64,
}

impl AckLimits {
    pub(crate) fn new() -> Self {
        AckLimits {
            challenge: TokenBucket::new(),
            challenge_suppressed: 0,
            invalid_suppressed: 0,
        }
    }

    /// May a challenge ACK go now from a connection that last answered an unacceptable
    /// segment at `last`, at least `interval` apart, with `limit` per second stack-wide
    /// (`None`: unlimited)? Updates `last` when it may.
    pub(crate) fn allow_challenge(
        &mut self,
        now: Instant,
        limit: Option<u32>,
        last: &mut Option<Instant>,
        interval: Duration,
    ) -> bool {
        let ok = spaced(now, *last, interval)
            && limit.is_none_or(|rate| self.challenge.try_take(now, rate));
        if ok {
            *last = Some(now);
        } else {
            self.challenge_suppressed += 1;
        }
        ok
    }

    /// May a connection that last answered an unacceptable segment at `last` answer another
    /// now, with `interval` between them? Updates `last` when it may.
    pub(crate) fn allow_invalid(
        &mut self,
        now: Instant,
        last: &mut Option<Instant>,
        interval: Duration,
    ) -> bool {
        let ok = spaced(now, *last, interval);
        if ok {
            *last = Some(now);
        } else {
            self.invalid_suppressed += 1;
        }
        ok
    }
}

/// At least `interval` since `last` (always, with no interval or nothing sent yet).
fn spaced(now: Instant, last: Option<Instant>, interval: Duration) -> bool {
    interval.is_zero() || last.is_none_or(|t| now.saturating_duration_since(t) >= interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_rate_per_second_then_refills() {
        let mut b = TokenBucket::new();
        let t0 = Instant::ZERO + Duration::from_secs(5);
        let taken = (0..10).filter(|_| b.try_take(t0, 3)).count();
        assert_eq!(taken, 3);
        // A third of a second brings one token back.
        let t1 = t0 + Duration::from_millis(334);
        assert!(b.try_take(t1, 3));
        assert!(!b.try_take(t1, 3));
        // A long idle period refills to the cap, no further.
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| b.try_take(t2, 3)).count(), 3);
    }

    #[test]
    fn invalid_acks_are_spaced_per_connection() {
        let mut l = AckLimits::new();
        let mut last = None;
        let gap = Duration::from_millis(500);
        let t0 = Instant::ZERO + Duration::from_secs(1);
        assert!(l.allow_invalid(t0, &mut last, gap));
        assert!(!l.allow_invalid(t0 + Duration::from_millis(499), &mut last, gap));
        assert!(l.allow_invalid(t0 + gap, &mut last, gap));
        assert_eq!(l.invalid_suppressed, 1);
    }
}
