//! The retransmission timer's estimator (RFC 6298): SRTT, RTTVAR, RTO with bounds and
//! exponential backoff. Karn's rule lives with the caller: samples come only from segments
//! that were never retransmitted.

use std::time::Duration;

use super::deadline::Span;

/// The RTO's bounds and clock granularity (RFC 6298 §2.4, §2.5, §2.1's G), from the stack's
/// configuration: passed in rather than copied into every connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RtoBounds {
    pub(crate) min: Duration,
    pub(crate) max: Duration,
    pub(crate) granularity: Duration,
}

impl RtoBounds {
    pub(crate) fn of(cfg: &crate::config::StackConfig) -> RtoBounds {
        RtoBounds {
            min: cfg.min_rto,
            max: cfg.max_rto.max(cfg.min_rto),
            granularity: cfg.timer_tick,
        }
    }
}

/// The three durations as 8-byte `Span`s (a TCB holds one estimator).
#[derive(Clone, Debug)]
pub(crate) struct RttEstimator {
    srtt: Span,
    rttvar: Span,
    /// Current RTO, including backoff.
    rto: Span,
}

impl RttEstimator {
    pub(crate) fn new(initial: Duration, b: RtoBounds) -> Self {
        RttEstimator {
            srtt: Span::NONE,
            rttvar: Span::ZERO,
            rto: Span::of(initial.clamp(b.min, b.max)),
        }
    }

    /// Current RTO.
    pub(crate) fn rto(&self) -> Duration {
        self.rto.or_zero()
    }

    pub(crate) fn srtt(&self) -> Option<Duration> {
        self.srtt.get()
    }

    pub(crate) fn rttvar(&self) -> Duration {
        self.rttvar.or_zero()
    }

    /// Take a round-trip sample (RFC 6298 §2.2, §2.3); also clears any backoff.
    pub(crate) fn on_sample(&mut self, r: Duration, b: RtoBounds) {
        let (srtt, rttvar) = match self.srtt() {
            None => (r, r / 2),
            Some(srtt) => {
                let delta = srtt.abs_diff(r);
                // RTTVAR <- (1 - 1/4) * RTTVAR + 1/4 * |SRTT - R'|; SRTT <- 7/8 SRTT + 1/8 R'.
                ((srtt * 7 + r) / 8, (self.rttvar() * 3 + delta) / 4)
            }
        };
        self.srtt = Span::of(srtt);
        self.rttvar = Span::of(rttvar);
        let rto = srtt + b.granularity.max(rttvar * 4);
        self.rto = Span::of(rto.clamp(b.min, b.max));
    }

    /// Back the timer off after it expired (RFC 6298 §5.5).
    pub(crate) fn back_off(&mut self, b: RtoBounds) {
        self.rto = Span::of((self.rto() * 2).min(b.max));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: RtoBounds = RtoBounds {
        min: Duration::from_millis(200),
        max: Duration::from_secs(60),
        granularity: Duration::from_millis(1),
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
}
