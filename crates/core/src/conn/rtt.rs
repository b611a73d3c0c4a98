//! The retransmission timer's estimator (RFC 6298): SRTT, RTTVAR, RTO with bounds and
//! exponential backoff. Karn's rule lives with the caller: samples come only from segments
//! that were never retransmitted.

use std::time::Duration;

/// Nanoseconds of `d`, saturating past 584 years.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The RTO's bounds and clock granularity (RFC 6298 §2.4, §2.5, §2.1's G) in nanoseconds,
/// from the stack's configuration: passed in rather than copied into every connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RtoBounds {
    min: u64,
    max: u64,
    granularity: u64,
}

impl RtoBounds {
    pub(crate) fn of(cfg: &crate::config::StackConfig) -> RtoBounds {
        let min = nanos(cfg.min_rto);
        RtoBounds {
            min,
            max: nanos(cfg.max_rto).max(min),
            granularity: nanos(cfg.timer_tick),
        }
    }
}

/// The three durations in nanoseconds, 8 bytes each (a TCB holds one estimator). The
/// arithmetic is `Duration`'s to the nanosecond: its division by 2, 4 or 8 truncates the
/// same way, as 10^9 is a multiple of 8.
#[derive(Clone, Debug)]
pub(crate) struct RttEstimator {
    /// SRTT; `UNSET` before the first sample.
    srtt: u64,
    rttvar: u64,
    /// Current RTO, including backoff.
    rto: u64,
}

const UNSET: u64 = u64::MAX;

impl RttEstimator {
    pub(crate) fn new(initial: Duration, b: RtoBounds) -> Self {
        RttEstimator {
            srtt: UNSET,
            rttvar: 0,
            rto: nanos(initial).clamp(b.min, b.max),
        }
    }

    /// Current RTO.
    pub(crate) fn rto(&self) -> Duration {
        Duration::from_nanos(self.rto)
    }

    pub(crate) fn srtt(&self) -> Option<Duration> {
        (self.srtt != UNSET).then(|| Duration::from_nanos(self.srtt))
    }

    pub(crate) fn rttvar(&self) -> Duration {
        Duration::from_nanos(self.rttvar)
    }

    /// Take a round-trip sample (RFC 6298 §2.2, §2.3); also clears any backoff.
    pub(crate) fn on_sample(&mut self, r: Duration, b: RtoBounds) {
        // Below half a million years, so seven of them and a sample fit in a u64.
        let r = nanos(r).min(1 << 60);
        let (srtt, rttvar) = if self.srtt == UNSET {
            (r, r / 2)
        } else {
            let delta = self.srtt.abs_diff(r);
            // RTTVAR <- (1 - 1/4) * RTTVAR + 1/4 * |SRTT - R'|; SRTT <- 7/8 SRTT + 1/8 R'.
            ((self.srtt * 7 + r) / 8, (self.rttvar * 3 + delta) / 4)
        };
        self.srtt = srtt;
        self.rttvar = rttvar;
        let rto = srtt.saturating_add(b.granularity.max(rttvar.saturating_mul(4)));
        self.rto = rto.clamp(b.min, b.max);
    }

    /// Back the timer off after it expired (RFC 6298 §5.5).
    pub(crate) fn back_off(&mut self, b: RtoBounds) {
        self.rto = self.rto.saturating_mul(2).min(b.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: RtoBounds = RtoBounds {
        min: 200_000_000,
        max: 60_000_000_000,
        granularity: 1_000_000,
    };

    fn est() -> RttEstimator {
        RttEstimator::new(Duration::from_secs(1), B)
    }

    #[test]
    fn first_sample_sets_srtt_and_half_rttvar() {
        let mut e = est();
        e.on_sample(Duration::from_millis(100), B);
        assert_eq!(e.srtt(), Some(Duration::from_millis(100)));
        assert_eq!(e.rttvar(), Duration::from_millis(50));
        // 100 + 4*50 = 300 ms.
        assert_eq!(e.rto(), Duration::from_millis(300));
    }

    #[test]
    fn later_samples_smooth_and_backoff_doubles_up_to_max() {
        let mut e = est();
        e.on_sample(Duration::from_millis(100), B);
        e.on_sample(Duration::from_millis(200), B);
        // rttvar = (3*50 + 100)/4 = 62.5; srtt = (700 + 200)/8 = 112.5.
        assert_eq!(e.rttvar(), Duration::from_micros(62_500));
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(e.rto(), Duration::from_micros(362_500));
        for _ in 0..20 {
            e.back_off(B);
        }
        assert_eq!(e.rto(), Duration::from_secs(60));
    }

    #[test]
    fn rto_never_below_minimum() {
        let mut e = est();
        e.on_sample(Duration::from_micros(10), B);
        assert_eq!(e.rto(), Duration::from_millis(200));
    }

    /// RFC 6298 §2 as `Duration` arithmetic, the way the estimator computed before it
    /// counted nanoseconds: the reference its results must match to the nanosecond.
    fn reference(samples: &[Duration]) -> (Duration, Duration, Duration) {
        let (min, max, g) = (
            Duration::from_millis(200),
            Duration::from_secs(60),
            Duration::from_millis(1),
        );
        let (mut srtt, mut rttvar) = (None::<Duration>, Duration::ZERO);
        let mut rto = Duration::from_secs(1);
        for &r in samples {
            let (s, v) = match srtt {
                None => (r, r / 2),
                Some(s) => ((s * 7 + r) / 8, (rttvar * 3 + s.abs_diff(r)) / 4),
            };
            (srtt, rttvar) = (Some(s), v);
            rto = (s + g.max(v * 4)).clamp(min, max);
        }
        (srtt.unwrap_or_default(), rttvar, rto)
    }

    proptest::proptest! {
        #[test]
        fn nanosecond_counts_match_duration_arithmetic(
            samples in proptest::collection::vec(0u64..200_000_000_000, 1..40),
        ) {
            let samples: Vec<Duration> = samples.into_iter().map(Duration::from_nanos).collect();
            let mut e = est();
            for &r in &samples {
                e.on_sample(r, B);
            }
            let (srtt, rttvar, rto) = reference(&samples);
            proptest::prop_assert_eq!(e.srtt(), Some(srtt));
            proptest::prop_assert_eq!(e.rttvar(), rttvar);
            proptest::prop_assert_eq!(e.rto(), rto);
        }
    }
}
