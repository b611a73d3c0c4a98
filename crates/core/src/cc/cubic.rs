//! CUBIC (RFC 9438): after a loss the window follows W_cubic(t) = C·(t − K)³ + W_max, concave
//! up to the previous maximum and convex beyond it, never below what Reno would have (the
//! Reno-friendly region, §4.3). Windows are kept in bytes; the RFC's segments are bytes / SMSS.

use std::time::Duration;

use super::{initial_window, CcAlgorithm, CongestionControl};
use crate::time::Instant;

/// RFC 9438 §5.1: C = 0.4.
const C: f64 = 0.4;
/// RFC 9438 §4.6: β_cubic = 0.7.
const BETA: f64 = 0.7;

/// RFC 9438.
///
/// The state of congestion avoidance (W_max, the epoch, W_est) is boxed and allocated when
/// slow start first ends: a connection that never leaves its initial slow start, as most
/// short or idle ones, holds only the window, the threshold and the MSS.
#[derive(Clone, Debug)]
pub struct Cubic {
    mss: u32,
    ssthresh: u32,
    cwnd: f64,
    ca: Option<Box<Avoidance>>,
}

/// What CUBIC keeps once congestion avoidance has begun.
#[derive(Clone, Debug)]
struct Avoidance {
    /// W_max: the window just before the last reduction, bytes.
    w_max: f64,
    /// W_max before that, for fast convergence (§4.7).
    w_last_max: f64,
    /// Start of the current congestion-avoidance epoch, and the time offset K (seconds).
    epoch: Option<(Instant, f64)>,
    /// W_est, the Reno-friendly estimate, bytes (§4.3).
    w_est: f64,
    /// cwnd when ssthresh was last set: W_est grows at Reno's rate once it passes this.
    cwnd_prior: f64,
}

impl Avoidance {
    /// The state a controller starts with: no maximum yet, the estimates at the initial
    /// window `iw` (W_est is set again when the first epoch starts, cwnd_prior when ssthresh
    /// is first set, which is what ends slow start).
    fn new(iw: f64) -> Avoidance {
        Avoidance {
            w_max: 0.0,
            w_last_max: 0.0,
            epoch: None,
            w_est: iw,
            cwnd_prior: iw,
        }
    }

    /// W_cubic(t) in bytes, `t` seconds into the epoch with offset `k` (§4.2 eq. 1).
    fn w_cubic(&self, t: f64, k: f64, smss: f64) -> f64 {
        C * (t - k).powi(3) * smss + self.w_max
    }
}

impl Cubic {
    /// A controller at the initial window.
    pub fn new(mss: u32) -> Cubic {
        Cubic {
            mss,
            ssthresh: u32::MAX,
            cwnd: f64::from(initial_window(mss)),
            ca: None,
        }
    }

    /// Whether the congestion-avoidance state has been allocated.
    #[cfg(test)]
    pub(crate) fn avoidance_allocated(&self) -> bool {
        self.ca.is_some()
    }

    fn smss(&self) -> f64 {
        f64::from(self.mss)
    }

    /// The congestion-avoidance state, allocated on first use.
    fn ca(&mut self) -> &mut Avoidance {
        let iw = f64::from(initial_window(self.mss));
        self.ca.get_or_insert_with(|| Box::new(Avoidance::new(iw)))
    }

    /// §4.6 and §4.7: remember W_max (reduced further when the window stopped short of the
    /// last one: fast convergence), set ssthresh to β·cwnd, start a new epoch later.
    fn reduce(&mut self) {
        let cwnd = self.cwnd;
        let floor = 2.0 * self.smss();
        let ca = self.ca();
        ca.w_last_max = ca.w_max;
        ca.w_max = if cwnd < ca.w_last_max {
            cwnd * (1.0 + BETA) / 2.0
        } else {
            cwnd
        };
        ca.cwnd_prior = cwnd;
        ca.epoch = None;
        self.ssthresh = (cwnd * BETA).max(floor) as u32;
    }
}

impl CongestionControl for Cubic {
    fn algorithm(&self) -> CcAlgorithm {
        CcAlgorithm::Cubic
    }

    fn cwnd(&self) -> u32 {
        self.cwnd as u32
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_ack(&mut self, now: Instant, acked: u32, rtt: Option<Duration>) {
        let acked = f64::from(acked);
        if self.cwnd < f64::from(self.ssthresh) {
            // Slow start as in RFC 5681 (§4.10).
            self.cwnd += acked.min(self.smss());
            return;
        }
        let cwnd = self.cwnd;
        let mss = self.smss();
        let ca = self.ca();
        let (start, k) = *ca.epoch.get_or_insert_with(|| {
            // §4.2 eq. 2: K = ∛((W_max − cwnd_epoch) / C), in segments; zero when the window
            // already stands above the old maximum.
            let k = if cwnd < ca.w_max {
                ((ca.w_max - cwnd) / (C * mss)).cbrt()
            } else {
                ca.w_max = cwnd;
                0.0
            };
            ca.w_est = cwnd;
            (now, k)
        });
        let t = (now - start).as_secs_f64();
        let rtt = rtt.map_or(0.1, |r| r.as_secs_f64());
        // §4.3 eq. 4: W_est grows by α per window of ACKs; α = 3(1 − β)/(1 + β), and 1 once
        // W_est has passed the window of the last reduction.
        let alpha = if ca.w_est >= ca.cwnd_prior {
            1.0
        } else {
            3.0 * (1.0 - BETA) / (1.0 + BETA)
        };
        ca.w_est += alpha * acked / cwnd * mss;
        let cubic = ca.w_cubic(t, k, mss);
        if cubic < ca.w_est {
            // The Reno-friendly region.
            self.cwnd = ca.w_est;
            return;
        }
        // §4.4–4.5: aim at W_cubic one RTT ahead, at most 1.5·cwnd, growing by
        // (target − cwnd)/cwnd per segment acknowledged.
        let target = ca.w_cubic(t + rtt, k, mss).clamp(cwnd, 1.5 * cwnd);
        self.cwnd += (target - cwnd) / cwnd * acked;
    }

    fn exit_slow_start(&mut self, _now: Instant) {
        // RFC 9438 §4.10: congestion avoidance starts a new epoch from the current window,
        // which becomes W_max (K = 0) and the Reno-friendly estimate's base.
        let cwnd = self.cwnd;
        self.ssthresh = cwnd as u32;
        let ca = self.ca();
        ca.w_max = cwnd;
        ca.cwnd_prior = cwnd;
        ca.epoch = None;
    }

    fn on_congestion_event(&mut self, _now: Instant, _flight: u32) {
        self.reduce();
        self.cwnd = f64::from(self.ssthresh);
    }

    fn on_rto(&mut self, _now: Instant, _flight: u32) {
        // §4.8: a timeout reduces like a loss and restarts from the loss window.
        self.reduce();
        self.cwnd = self.smss();
        let cwnd = self.cwnd;
        self.ca().w_est = cwnd;
    }

    fn set_mss(&mut self, mss: u32) {
        if self.ssthresh == u32::MAX && self.cwnd == f64::from(initial_window(self.mss)) {
            self.cwnd = f64::from(initial_window(mss));
        }
        self.mss = mss;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    fn at(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    /// Grow to `segments`, then take a loss.
    fn after_loss_at(segments: u32) -> Cubic {
        let mut c = Cubic::new(MSS);
        while c.cwnd() < segments * MSS {
            c.on_ack(at(0), MSS, None);
        }
        c.on_congestion_event(at(0), c.cwnd());
        c
    }

    #[test]
    fn a_loss_multiplies_the_window_by_beta() {
        let c = after_loss_at(100);
        assert_eq!(c.cwnd(), 70_000);
        assert_eq!(c.ssthresh(), 70_000);
        assert_eq!(c.ca.as_ref().unwrap().w_max, 100_000.0);
    }

    #[test]
    fn the_window_returns_to_w_max_after_k_seconds_then_grows_past_it() {
        // RFC 9438 eq. 2 with W_max = 100 segments, cwnd_epoch = 70: K = ∛(30 / 0.4) ≈ 4.217 s.
        let mut c = after_loss_at(100);
        let rtt = Duration::from_millis(100);
        let mut now = 0u64;
        let mut at_k = None;
        // ACK one window per RTT for 8 s.
        while now < 8_000 {
            now += 100;
            let segs = c.cwnd() / MSS;
            for _ in 0..segs {
                c.on_ack(at(now), MSS, Some(rtt));
            }
            if at_k.is_none() && now >= 4_217 {
                at_k = Some(c.cwnd());
            }
        }
        let ca = c.ca.as_ref().unwrap();
        let (_, k) = ca.epoch.unwrap();
        assert!((k - 4.217).abs() < 0.01, "K = {k}");
        let w = at_k.unwrap();
        assert!(
            (97_000..=106_000).contains(&w),
            "about W_max at t = K (one RTT ahead), got {w}"
        );
        assert!(
            c.cwnd() > 110_000,
            "convex growth beyond W_max: {}",
            c.cwnd()
        );
    }

    #[test]
    fn growth_is_concave_below_w_max() {
        // The closer to W_max, the slower: the first second adds more than the fourth.
        let mut c = after_loss_at(100);
        let rtt = Duration::from_millis(100);
        let mut per_second = Vec::new();
        let mut now = 0u64;
        for _ in 0..4 {
            let before = c.cwnd();
            for _ in 0..10 {
                now += 100;
                for _ in 0..c.cwnd() / MSS {
                    c.on_ack(at(now), MSS, Some(rtt));
                }
            }
            per_second.push(c.cwnd() - before);
        }
        assert!(per_second[0] > per_second[3], "{per_second:?}");
    }

    #[test]
    fn on_a_short_path_the_reno_friendly_region_rules() {
        // With a 1 ms RTT, Reno's one segment per RTT beats the cubic curve near its plateau.
        let mut c = after_loss_at(20);
        let rtt = Duration::from_millis(1);
        let mut now_us = 0u64;
        for _ in 0..200 {
            now_us += 1000;
            for _ in 0..c.cwnd() / MSS {
                c.on_ack(Instant::from_micros(now_us), MSS, Some(rtt));
            }
        }
        let ca = c.ca.as_ref().unwrap();
        let (_, k) = ca.epoch.unwrap();
        let cubic = ca.w_cubic(now_us as f64 / 1e6, k, f64::from(MSS));
        assert!(ca.w_est > cubic, "W_est {} vs W_cubic {cubic}", ca.w_est);
        assert!(c.cwnd() as f64 >= ca.w_est - 1.0);
    }

    #[test]
    fn fast_convergence_lowers_w_max_when_the_window_stopped_short() {
        let mut c = after_loss_at(100);
        // A second loss at 80 segments, below the last W_max of 100.
        while c.cwnd() < 80_000 {
            c.on_ack(at(1), MSS, Some(Duration::from_millis(10)));
        }
        let w = c.cwnd() as f64;
        c.on_congestion_event(at(2), c.cwnd());
        assert!((c.ca.as_ref().unwrap().w_max - w * (1.0 + BETA) / 2.0).abs() < 1.0);
    }

    #[test]
    fn a_timeout_restarts_from_one_segment() {
        let mut c = after_loss_at(50);
        c.on_rto(at(5), c.cwnd());
        assert_eq!(c.cwnd(), MSS);
        assert_eq!(c.ssthresh(), 24_500);
    }
}
