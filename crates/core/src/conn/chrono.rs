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

/// The chronographs: the factor limiting the sender now and since when, and the time charged
/// to each factor so far.
///
/// They live in the TCB, not in the cold box: nearly every connection that moves more than
/// its initial window is limited by something for a while, and charging that time to the
/// cold box allocated the box for the rest of the connection's life.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Chrono {
    /// Zero when nothing limits the sender, else the instant in microseconds shifted left by
    /// two with the factor's code (1–3) below (an instant past 2^62 µs, 146,000 years,
    /// saturates).
    current: u64,
    /// Microseconds charged to each factor (the clock's resolution), indexed by its code − 1.
    charged_us: [u64; 3],
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

    /// Charge the running interval, if any, up to `now`.
    fn charge_until(&mut self, now: Instant) {
        if let Some((l, since)) = self.get() {
            let slot = &mut self.charged_us[code(Some(l)) as usize - 1];
            *slot = slot.saturating_add(now.as_micros().saturating_sub(since.as_micros()));
        }
    }

    /// The time charged to (peer's window, congestion window, send buffer), the running
    /// interval counted up to `now` if given.
    pub(crate) fn charged(self, now: Option<Instant>) -> [Duration; 3] {
        let mut c = self;
        if let Some(now) = now {
            c.charge_until(now);
        }
        c.charged_us.map(Duration::from_micros)
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
        self.chrono.charge_until(now);
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

    /// The counters with the running interval included up to `now`.
    pub(crate) fn stats_at(&self, now: Instant) -> super::ConnStats {
        let [rwnd_limited, cwnd_limited, sndbuf_limited] = self.chrono.charged(Some(now));
        super::ConnStats {
            rwnd_limited,
            cwnd_limited,
            sndbuf_limited,
            ..self.merged_stats()
        }
    }
}
