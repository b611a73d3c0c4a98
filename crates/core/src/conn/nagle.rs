//! When a segment of new data may go: Nagle's algorithm (RFC 896; RFC 9293 §3.7.4) and the
//! sender's silly window syndrome avoidance (RFC 9293 §3.8.6.2.1), both switched off for the
//! Nagle part by TCP_NODELAY (`SocketOptions::nodelay`).
//!
//! With D the data queued and not yet sent and U the usable window, RFC 9293 §3.8.6.2.1 sends
//! when
//! 1. a maximum-sized segment can go: min(D, U) >= Eff.snd.MSS;
//! 2. or \[SND.NXT = SND.UNA and\] all queued data can go: D <= U (every write of a stream
//!    socket counts as pushed, as in BSD);
//! 3. or \[SND.NXT = SND.UNA and\] at least Fs = 1/2 of the largest window the peer ever
//!    offered can go: min(D, U) >= Fs × Max(SND.WND);
//! 4. or the override timeout fired.
//!
//! The bracketed conditions are Nagle's: while data is in flight, a segment smaller than the
//! MSS waits for the ACK that empties the pipe (as Linux, only while a small segment is in
//! flight: Minshall's variant). TCP_NODELAY drops them. Two more exceptions,
//! as Linux's tcp_nagle_test: the FIN goes with the last data (the application said it has
//! nothing more to add), and retransmissions are never held.
//!
//! The override timeout (RFC 9293 §3.8.6.2.1 suggests 0.1 to 1 s) matters only when nothing is
//! in flight, since otherwise an ACK will come and bring the decision back. Held with nothing
//! in flight means the peer offers a small nonzero window; it may never widen it (its
//! application stopped reading), so after one RTO, at most 1 s, the small segment goes anyway
//! (Linux gets there through its probe timer; a zero window is the persist timer's, in
//! `output`).

use std::time::Duration;

use super::deadline::Deadline;
use super::flags::Flags;
use super::Connection;
use crate::seq::SeqNum;
use crate::time::Instant;

/// Fs of RFC 9293 §3.8.6.2.1, as a divisor: a segment of at least half the largest window the
/// peer offered is not silly.
const FS_DIVISOR: u32 = 2;

/// The upper end of the override timeout range RFC 9293 §3.8.6.2.1 suggests.
const MAX_OVERRIDE: Duration = Duration::from_secs(1);

/// What the sending decision looks at.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SendCheck {
    /// Bytes the segment would carry: min(D, U, MSS).
    pub(crate) len: usize,
    /// D: bytes queued and not yet sent.
    pub(crate) unsent: usize,
    /// U: the usable window, peer's and congestion window, less what is in flight.
    pub(crate) usable: usize,
    /// The FIN is queued after the data.
    pub(crate) fin_queued: bool,
    /// SND.NXT != SND.UNA.
    pub(crate) in_flight: bool,
    /// A segment smaller than the MSS is sent and not yet acknowledged (Minshall's test).
    pub(crate) small_unacked: bool,
    /// Eff.snd.MSS: the most payload one segment may carry.
    pub(crate) max_payload: usize,
    /// Max(SND.WND): the largest window the peer has offered.
    pub(crate) max_snd_wnd: u32,
    /// TCP_NODELAY: Nagle's algorithm is off.
    pub(crate) nodelay: bool,
}

/// Nagle and SWS bookkeeping of one connection.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NagleState {
    /// When the override timeout fires, while a segment is held with nothing in flight.
    pub(crate) override_at: Deadline,
    /// The override timeout fired: the held segment goes on the next poll.
    override_now: bool,
    /// End of the last segment sent smaller than the MSS (Linux's snd_sml), once `sml_sent`
    /// (two fields rather than an `Option`, which would take 8 bytes).
    snd_sml: SeqNum,
    sml_sent: bool,
}

/// May a segment of `c.len` new bytes go now (RFC 9293 §3.8.6.2.1, RFC 896)?
pub(crate) fn may_send(c: &SendCheck) -> bool {
    if c.len == 0 {
        return true;
    }
    // Case 1: a full segment is never silly.
    if c.len >= c.max_payload {
        return true;
    }
    let all_queued = c.len == c.unsent;
    // The FIN follows the last byte: nothing more will come to fill the segment (Linux's
    // tcp_nagle_test exempts the FIN too).
    if all_queued && c.fin_queued {
        return true;
    }
    // RFC 896: with data in flight, small segments wait for the ACK, unless TCP_NODELAY.
    // Deviation: as Linux (Minshall's variant), only while a small segment is in flight, so
    // the short tail of one large write is not held for a (delayed) ACK; FreeBSD gets much the
    // same by deciding "idle" once per output burst.
    let nagle_ok = c.nodelay || !(c.in_flight && c.small_unacked);
    // Case 2: all queued data fits in the window (and in this segment).
    if nagle_ok && all_queued && c.unsent <= c.usable {
        return true;
    }
    // Case 3: at least Fs × Max(SND.WND).
    nagle_ok && c.len as u64 * u64::from(FS_DIVISOR) >= u64::from(c.max_snd_wnd)
}

impl Connection {
    /// TCP_NODELAY on a live connection: on, small segments go at once; off, Nagle's
    /// algorithm holds them while data is in flight. The change applies from the next poll.
    pub(crate) fn set_nodelay(&mut self, on: bool) {
        self.flags.set(Flags::NODELAY, on);
    }

    /// Whether new data of `len` bytes (`cap`: the caller's payload limit) must wait (Nagle,
    /// sender SWS avoidance; see the module doc). A hold with nothing in flight arms the
    /// override timeout.
    pub(crate) fn hold_small_segment(
        &mut self,
        now: Instant,
        len: usize,
        unsent: usize,
        usable: usize,
        cap: usize,
    ) -> bool {
        let in_flight = self.snd_nxt != self.snd_una;
        let retransmit = self.snd_nxt.before(self.snd_max);
        let check = SendCheck {
            len,
            unsent,
            usable,
            fin_queued: self.flags.has(Flags::FIN_QUEUED),
            in_flight,
            small_unacked: self.nagle.sml_sent && self.nagle.snd_sml.after(self.snd_una),
            max_payload: self.max_payload().min(cap),
            max_snd_wnd: self.max_snd_wnd,
            nodelay: self.flags.has(Flags::NODELAY),
        };
        // Retransmissions are never held; the persist timer's probe has its own path.
        let override_now = std::mem::take(&mut self.nagle.override_now);
        // Retransmissions are never held; the persist timer's probe has its own path; RFC 9293
        // §3.8.6.2.1 (4): the override timeout fired.
        if retransmit || self.flags.has(Flags::PROBE_NOW) || override_now || may_send(&check) {
            self.nagle.override_at = Deadline::NONE;
            if len > 0 && len < check.max_payload {
                self.nagle.snd_sml = self.snd_nxt.add(len as u32);
                self.nagle.sml_sent = true;
            }
            return false;
        }
        if in_flight {
            // The ACK will bring the decision back.
            self.nagle.override_at = Deadline::NONE;
        } else if self.nagle.override_at.is_none() {
            self.nagle.override_at = Deadline::at(now + self.rtt.rto().min(MAX_OVERRIDE));
        }
        true
    }

    /// The override timeout fired (RFC 9293 §3.8.6.2.1 (4)).
    pub(crate) fn on_sws_override_timeout(&mut self) {
        self.nagle.override_at = Deadline::NONE;
        self.nagle.override_now = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(len: usize, unsent: usize, usable: usize, in_flight: bool) -> SendCheck {
        SendCheck {
            len,
            unsent,
            usable,
            fin_queued: false,
            in_flight,
            small_unacked: in_flight,
            max_payload: 1000,
            max_snd_wnd: 64000,
            nodelay: false,
        }
    }

    #[test]
    fn full_segment_always_goes() {
        assert!(may_send(&check(1000, 5000, 5000, true)));
    }

    #[test]
    fn small_tail_waits_while_data_is_in_flight() {
        assert!(!may_send(&check(10, 10, 5000, true)));
        assert!(may_send(&check(10, 10, 5000, false)));
    }

    #[test]
    fn nodelay_sends_small_tail_with_data_in_flight() {
        let c = SendCheck {
            nodelay: true,
            ..check(10, 10, 5000, true)
        };
        assert!(may_send(&c));
    }

    #[test]
    fn fin_carries_the_small_tail() {
        let c = SendCheck {
            fin_queued: true,
            ..check(10, 10, 5000, true)
        };
        assert!(may_send(&c));
    }

    #[test]
    fn small_window_does_not_send_a_silly_segment() {
        // 300 of 5000 fit: not all queued, under half the largest window.
        assert!(!may_send(&check(300, 5000, 300, false)));
        // Half the largest window is not silly.
        let c = SendCheck {
            max_snd_wnd: 600,
            ..check(300, 5000, 300, false)
        };
        assert!(may_send(&c));
        // All of it fits.
        assert!(may_send(&check(300, 300, 300, false)));
    }
}
