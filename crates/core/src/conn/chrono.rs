//! What limits the sender, timed as Linux's tcp_info chronographs (tcpi_rwnd_limited,
//! tcpi_sndbuf_limited) plus a cwnd-limited clock: each time the sender decides what to send
//! it names the factor that stopped it, and the time until the next decision is charged to
//! that factor.

use std::time::Duration;

use super::Connection;
use crate::cc::CongestionControl;
use crate::time::Instant;

/// Why the sender stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    /// Data waits but the peer's window (RFC 9293 §3.8.6) is full or zero.
    Rwnd,
    /// Data waits but the congestion window (RFC 5681) is full.
    Cwnd,
    /// Everything in the send buffer is sent, and the buffer is full of unacknowledged data:
    /// its size, not the application or the network, holds the sender back.
    SendBuffer,
}

/// The running chronograph: the factor limiting the sender now, and since when, packed in
/// 8 bytes: zero when nothing limits it, else the instant in microseconds shifted left by two
/// with the factor's code (1–3) below (an instant past 2^62 µs, 146,000 years, saturates).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Chrono {
    current: u64,
}

impl Chrono {
    fn get(self) -> Option<(Limit, Instant)> {
        let l = match self.current & 3 {
            0 => return None,
            1 => Limit::Rwnd,
            2 => Limit::Cwnd,
            _ => Limit::SendBuffer,
        };
        Some((l, Instant::from_micros(self.current >> 2)))
    }

    fn set(&mut self, limit: Option<Limit>, since: Instant) {
        self.current = match limit {
            None => 0,
            Some(_) => (since.as_micros().min(u64::MAX >> 2) << 2) | code(limit),
        };
    }

    /// Whether `limit` is the factor limiting the sender now.
    #[inline]
    fn is(self, limit: Option<Limit>) -> bool {
        self.current & 3 == code(limit)
    }
}

/// The two low bits of the packed chronograph.
#[inline]
fn code(limit: Option<Limit>) -> u64 {
    match limit {
        None => 0,
        Some(Limit::Rwnd) => 1,
        Some(Limit::Cwnd) => 2,
        Some(Limit::SendBuffer) => 3,
    }
}

impl Connection {
    /// The sender stopped (or not) for `limit` at `now`: close the running interval, charge it,
    /// and open the next one.
    #[inline]
    pub(crate) fn note_limit(&mut self, now: Instant, limit: Option<Limit>) {
        if self.chrono.is(limit) {
            return;
        }
        if let Some((l, since)) = self.chrono.get() {
            *self.limit_counter(l) += now - since;
        }
        self.chrono.set(limit, now);
    }

    /// Classify a stop: `unsent` bytes wait, `in_flight` are outstanding.
    pub(crate) fn classify_limit(&self, unsent: usize, in_flight: u32) -> Option<Limit> {
        if unsent > 0 {
            if self.snd_wnd.saturating_sub(in_flight) == 0 {
                Some(Limit::Rwnd)
            } else if self.cc.cwnd().saturating_sub(in_flight) == 0 {
                Some(Limit::Cwnd)
            } else {
                None
            }
        } else if in_flight > 0 && self.send_buf.free() == 0 {
            Some(Limit::SendBuffer)
        } else {
            None
        }
    }

    fn limit_counter(&mut self, l: Limit) -> &mut Duration {
        match l {
            Limit::Rwnd => &mut self.cold().stats.rwnd_limited,
            Limit::Cwnd => &mut self.cold().stats.cwnd_limited,
            Limit::SendBuffer => &mut self.cold().stats.sndbuf_limited,
        }
    }

    /// The counters with the running interval included up to `now`.
    pub(crate) fn stats_at(&self, now: Instant) -> super::ConnStats {
        let mut s = self.merged_stats();
        if let Some((l, since)) = self.chrono.get() {
            let d = now.saturating_duration_since(since);
            match l {
                Limit::Rwnd => s.rwnd_limited += d,
                Limit::Cwnd => s.cwnd_limited += d,
                Limit::SendBuffer => s.sndbuf_limited += d,
            }
        }
        s
    }
}
