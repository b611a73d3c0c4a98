//! NewReno's window rules (RFC 5681 §3.1–3.2, RFC 6582 §3.2): slow start adds at most one
//! SMSS per ACK, congestion avoidance one SMSS per window of acknowledged bytes, and a loss
//! halves the flight.

use std::time::Duration;

use super::{half_flight, initial_window, CcAlgorithm, CongestionControl};
use crate::time::Instant;

/// RFC 5681 + RFC 6582.
#[derive(Clone, Debug)]
pub struct NewReno {
    mss: u32,
    cwnd: u32,
    ssthresh: u32,
    /// Bytes acknowledged in congestion avoidance since cwnd last grew (RFC 5681 §3.1's
    /// byte-counting variant of eq. 3).
    bytes_acked: u32,
}

impl NewReno {
    /// A controller at the initial window.
    pub fn new(mss: u32) -> NewReno {
        NewReno {
            mss,
            cwnd: initial_window(mss),
            ssthresh: u32::MAX,
            bytes_acked: 0,
        }
    }
}

impl CongestionControl for NewReno {
    fn algorithm(&self) -> CcAlgorithm {
        CcAlgorithm::NewReno
    }

    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_ack(&mut self, _now: Instant, acked: u32, _rtt: Option<Duration>) {
        if self.cwnd < self.ssthresh {
            // RFC 5681 eq. 2: cwnd += min(N, SMSS).
            self.cwnd = self.cwnd.saturating_add(acked.min(self.mss));
            return;
        }
        self.bytes_acked = self.bytes_acked.saturating_add(acked);
        if self.bytes_acked >= self.cwnd {
            self.bytes_acked -= self.cwnd;
            self.cwnd = self.cwnd.saturating_add(self.mss);
        }
    }

    fn exit_slow_start(&mut self, _now: Instant) {
        self.ssthresh = self.cwnd;
    }

    fn on_congestion_event(&mut self, _now: Instant, flight: u32) {
        self.ssthresh = half_flight(flight, self.mss);
        self.cwnd = self.ssthresh;
        self.bytes_acked = 0;
    }

    fn on_rto(&mut self, _now: Instant, flight: u32) {
        self.ssthresh = half_flight(flight, self.mss);
        // RFC 5681 §3.1: the loss window is one segment.
        self.cwnd = self.mss;
        self.bytes_acked = 0;
    }

    fn set_mss(&mut self, mss: u32) {
        if self.ssthresh == u32::MAX && self.cwnd == initial_window(self.mss) {
            self.cwnd = initial_window(mss);
        }
        self.mss = mss;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    fn t0() -> Instant {
        Instant::ZERO
    }

    #[test]
    fn slow_start_doubles_per_round_trip() {
        let mut c = NewReno::new(MSS);
        assert_eq!(c.cwnd(), 10_000);
        // One round trip: ten ACKs of one segment each.
        for _ in 0..10 {
            c.on_ack(t0(), MSS, None);
        }
        assert_eq!(c.cwnd(), 20_000);
        // A stretch ACK of four segments still adds one SMSS (eq. 2).
        c.on_ack(t0(), 4 * MSS, None);
        assert_eq!(c.cwnd(), 21_000);
    }

    #[test]
    fn congestion_avoidance_adds_one_segment_per_window() {
        let mut c = NewReno::new(MSS);
        c.on_congestion_event(t0(), 40_000);
        assert_eq!((c.cwnd(), c.ssthresh()), (20_000, 20_000));
        for _ in 0..19 {
            c.on_ack(t0(), MSS, None);
        }
        assert_eq!(c.cwnd(), 20_000, "not yet a whole window acknowledged");
        c.on_ack(t0(), MSS, None);
        assert_eq!(c.cwnd(), 21_000);
    }

    #[test]
    fn a_timeout_leaves_one_segment_and_half_the_flight_as_ssthresh() {
        let mut c = NewReno::new(MSS);
        c.on_rto(t0(), 30_000);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 15_000));
        // A tiny flight still leaves ssthresh at two segments.
        c.on_rto(t0(), 1_000);
        assert_eq!(c.ssthresh(), 2 * MSS);
    }

    #[test]
    fn the_initial_window_follows_a_late_mss() {
        let mut c = NewReno::new(536);
        c.set_mss(1460);
        assert_eq!(c.cwnd(), 14_600);
    }
}
