//! Congestion control behind one trait, chosen per connection (RFC 5681's framework): the
//! connection reports what its ACKs and timers tell it, and asks for cwnd and ssthresh.
//!
//! - [`NewReno`]: RFC 5681 slow start and congestion avoidance, RFC 6582's one reduction per
//!   recovery episode (the episode itself is the connection's business);
//! - [`Cubic`]: RFC 9438, with its Reno-friendly region and fast convergence.
//!
//! Windows are in bytes. Every algorithm starts from RFC 6928's initial window.

mod cubic;
pub(crate) mod hystart;
mod newreno;

use std::fmt;
use std::time::Duration;

pub use cubic::Cubic;
pub use newreno::NewReno;

use crate::time::Instant;

/// Which algorithm a connection uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CcAlgorithm {
    /// RFC 5681 + RFC 6582.
    #[default]
    NewReno,
    /// RFC 9438.
    Cubic,
}

impl CcAlgorithm {
    /// A fresh controller for a connection whose sender MSS is `mss`.
    pub fn build(self, mss: u32) -> Box<dyn CongestionControl> {
        match self {
            CcAlgorithm::NewReno => Box::new(NewReno::new(mss)),
            CcAlgorithm::Cubic => Box::new(Cubic::new(mss)),
        }
    }

    /// A fresh controller held inline by the connection, without a box or a virtual call.
    pub(crate) fn controller(self, mss: u32) -> Controller {
        match self {
            CcAlgorithm::NewReno => Controller::NewReno(NewReno::new(mss)),
            CcAlgorithm::Cubic => Controller::Cubic(Cubic::new(mss)),
        }
    }

    /// Its name (`newreno`, `cubic`).
    pub fn as_str(self) -> &'static str {
        match self {
            CcAlgorithm::NewReno => "newreno",
            CcAlgorithm::Cubic => "cubic",
        }
    }
}

impl fmt::Display for CcAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CcAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "newreno" => Ok(CcAlgorithm::NewReno),
            "cubic" => Ok(CcAlgorithm::Cubic),
            other => Err(format!(
                "unknown congestion control {other:?} (expected newreno or cubic)"
            )),
        }
    }
}

/// What a congestion controller is told and asked.
pub trait CongestionControl: fmt::Debug + Send {
    /// The algorithm.
    fn algorithm(&self) -> CcAlgorithm;
    /// Congestion window, bytes.
    fn cwnd(&self) -> u32;
    /// Slow-start threshold, bytes (`u32::MAX` until the first congestion event).
    fn ssthresh(&self) -> u32;
    /// `acked` bytes of new data were acknowledged at `now`; `rtt` is the smoothed RTT if one
    /// has been measured. Not called during loss recovery.
    fn on_ack(&mut self, now: Instant, acked: u32, rtt: Option<Duration>);
    /// Loss detected by duplicate ACKs or SACK (fast retransmit) with `flight` bytes
    /// outstanding: reduce once for the episode (RFC 5681 §3.2 step 2, RFC 9438 §4.6).
    fn on_congestion_event(&mut self, now: Instant, flight: u32);
    /// A retransmission timeout with `flight` bytes outstanding (RFC 5681 §3.1 eq. 4 and the
    /// loss window of one segment).
    fn on_rto(&mut self, now: Instant, flight: u32);
    /// Slow start ends without a loss (HyStart++, RFC 9406 §4.2): ssthresh = cwnd, and
    /// congestion avoidance begins from the current window.
    fn exit_slow_start(&mut self, now: Instant);
    /// The sender's MSS changed (e.g. the peer's MSS option arrived after construction).
    fn set_mss(&mut self, mss: u32);
}

/// One of the algorithms, held inline: what a connection keeps (a `Box<dyn>` would cost a
/// pointer and an allocation per connection).
#[derive(Clone, Debug)]
pub(crate) enum Controller {
    NewReno(NewReno),
    Cubic(Cubic),
}

/// Forward a call to the algorithm in use.
macro_rules! dispatch {
    ($self:ident, $c:ident => $call:expr) => {
        match $self {
            Controller::NewReno($c) => $call,
            Controller::Cubic($c) => $call,
        }
    };
}

impl CongestionControl for Controller {
    fn algorithm(&self) -> CcAlgorithm {
        dispatch!(self, c => c.algorithm())
    }
    fn cwnd(&self) -> u32 {
        dispatch!(self, c => c.cwnd())
    }
    fn ssthresh(&self) -> u32 {
        dispatch!(self, c => c.ssthresh())
    }
    fn on_ack(&mut self, now: Instant, acked: u32, rtt: Option<Duration>) {
        dispatch!(self, c => c.on_ack(now, acked, rtt))
    }
    fn on_congestion_event(&mut self, now: Instant, flight: u32) {
        dispatch!(self, c => c.on_congestion_event(now, flight))
    }
    fn on_rto(&mut self, now: Instant, flight: u32) {
        dispatch!(self, c => c.on_rto(now, flight))
    }
    fn exit_slow_start(&mut self, now: Instant) {
        dispatch!(self, c => c.exit_slow_start(now))
    }
    fn set_mss(&mut self, mss: u32) {
        dispatch!(self, c => c.set_mss(mss))
    }
}

/// RFC 6928: IW = min(10·MSS, max(2·MSS, 14600)).
pub fn initial_window(mss: u32) -> u32 {
    (10 * mss).min((2 * mss).max(14_600))
}

/// RFC 5681 §3.1 eq. 4: ssthresh = max(FlightSize / 2, 2·SMSS).
pub(crate) fn half_flight(flight: u32, mss: u32) -> u32 {
    (flight / 2).max(2 * mss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_window_follows_rfc_6928() {
        assert_eq!(initial_window(1460), 14_600);
        assert_eq!(initial_window(1000), 10_000);
        assert_eq!(initial_window(536), 5_360);
        // Jumbo MSS: capped by max(2·MSS, 14600).
        assert_eq!(initial_window(9000), 18_000);
    }

    #[test]
    fn algorithms_parse_and_print() {
        for a in [CcAlgorithm::NewReno, CcAlgorithm::Cubic] {
            assert_eq!(a.as_str().parse::<CcAlgorithm>(), Ok(a));
            assert_eq!(a.build(1460).algorithm(), a);
            assert_eq!(a.controller(1460).algorithm(), a);
        }
        assert!("vegas".parse::<CcAlgorithm>().is_err());
    }
}
