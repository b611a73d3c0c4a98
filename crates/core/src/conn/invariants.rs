//! Consistency checks over one TCB, for fuzzers and tests: the sequence variables stay in
//! order (RFC 9293 §3.3.1), buffers stay within their sizes, and the state agrees with what the
//! TCB holds. Nothing here changes the connection; a broken rule comes back as a message.

use crate::config::StackConfig;
use crate::state::State;

use super::flags::Flags;
use super::Connection;

/// Return `Err(message)` from the enclosing function unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

impl Connection {
    /// Check the TCB's invariants; the message names the first one broken.
    pub fn check_invariants(&self, cfg: &StackConfig) -> Result<(), String> {
        let st = self.state;
        let (una, nxt, max) = (self.snd_una, self.snd_nxt, self.snd_max);

        // Send sequence space: SND.UNA <= SND.NXT <= SND.MAX.
        ensure!(
            una.before_eq(nxt) && nxt.before_eq(max),
            "{st}: snd.una {una} <= snd.nxt {nxt} <= snd.max {max} broken"
        );
        ensure!(
            self.iss.before_eq(una),
            "{st}: snd.una {una} is before iss {}",
            self.iss
        );

        // Buffers within their sizes.
        let (sq, sb) = (self.send_buf.len(), self.send_buf.capacity());
        ensure!(sq <= sb, "{st}: send queue {sq} > send buffer {sb}");
        let (rq, rb) = (self.recv_buf.readable(), self.recv_buf.capacity());
        ensure!(rq <= rb, "{st}: recv queue {rq} > recv buffer {rb}");
        ensure!(
            self.recv_buf.chunks_attached(),
            "{st}: readable bytes counted in a datagram buffer never kept"
        );
        // Out-of-order ranges: sorted, disjoint, not touching, none at RCV.NXT, and all inside
        // the free space (the window).
        let window = self.recv_buf.window();
        let mut prev_end = None;
        for &(s, e) in self.recv_buf.ooo_ranges() {
            ensure!(s < e, "{st}: empty out-of-order range {s}..{e}");
            ensure!(s > 0, "{st}: out-of-order range {s}..{e} starts at rcv.nxt");
            if let Some(p) = prev_end {
                ensure!(p < s, "{st}: out-of-order ranges overlap or touch at {s}");
            }
            ensure!(
                e <= window,
                "{st}: out-of-order range {s}..{e} past the window {window}"
            );
            prev_end = Some(e);
        }

        // Data in flight is data the send buffer still holds: [SND.UNA, SND.MAX) is at most
        // the queued bytes plus a SYN and a FIN. A connection that failed dropped its queue.
        if st != State::Closed {
            let flight = max.since(una) as usize;
            ensure!(
                flight <= sq + 2,
                "{st}: {flight} bytes in flight but only {sq} queued"
            );
        }

        // The peer's window never exceeds the largest it offered.
        ensure!(
            self.snd_wnd <= self.max_snd_wnd || st == State::SynSent,
            "{st}: snd.wnd {} > max.snd.wnd {}",
            self.snd_wnd,
            self.max_snd_wnd
        );

        // SACKed data lies within what was sent.
        if let Some(high) = self.cold_ref().scoreboard.high_sacked() {
            ensure!(
                high.before_eq(max),
                "{st}: SACKed up to {high} past snd.max {max}"
            );
        }

        // Our FIN: queued before it is sent, sent only in the closing states.
        if let Some(fin) = self.fin_seq() {
            ensure!(
                self.flags.has(Flags::FIN_QUEUED),
                "{st}: FIN sent but never queued"
            );
            ensure!(
                fin.before(max),
                "{st}: FIN at {fin} but snd.max {max} does not cover it"
            );
        }
        match st {
            State::SynSent | State::SynReceived | State::Established | State::CloseWait => {
                ensure!(self.fin_seq().is_none(), "{st}: our FIN already sent");
            }
            State::FinWait1 | State::Closing | State::LastAck => {
                ensure!(self.flags.has(Flags::FIN_QUEUED), "{st}: no FIN queued");
            }
            State::FinWait2 | State::TimeWait => {
                // Both states are entered only once our FIN is acknowledged.
                let Some(fin) = self.fin_seq() else {
                    return Err(format!("{st}: our FIN was never sent"));
                };
                ensure!(
                    una == fin.add(1),
                    "{st}: snd.una {una} is not past our FIN at {fin}"
                );
            }
            State::Listen | State::Closed => {}
        }
        if st == State::SynSent {
            ensure!(
                max.before_eq(self.iss.add(1)),
                "SYN-SENT: sent past the SYN (snd.max {max}, iss {})",
                self.iss
            );
        }

        // Timers belong to their states.
        ensure!(
            self.cold_ref().time_wait.is_some() == (st == State::TimeWait),
            "{st}: TIME-WAIT entry present {}",
            self.cold_ref().time_wait.is_some()
        );
        if self.cold_ref().fin_wait_2_at.is_some() {
            ensure!(
                st == State::FinWait2,
                "{st}: FIN-WAIT-2 timer armed outside FIN-WAIT-2"
            );
        }
        if st == State::Closed {
            ensure!(
                self.rto_at.is_none() && self.cold_ref().persist_at.is_none(),
                "CLOSED: retransmission or persist timer armed"
            );
            ensure!(
                self.next_deadline(cfg).is_none(),
                "CLOSED: a timer is armed ({:?})",
                self.next_deadline(cfg)
            );
            ensure!(
                !self.flags.has(Flags::PROBE_NOW),
                "CLOSED: a window probe is pending"
            );
        }

        // An error ends the connection.
        if let Some(e) = self.error {
            ensure!(st == State::Closed, "{st}: error {e} but not CLOSED");
        }
        // A peer's FIN is behind RCV.NXT once the state says it arrived.
        if st.has_received_fin() {
            ensure!(
                self.ooo_fin().is_none(),
                "{st}: FIN received yet one is still held out of order"
            );
        }
        Ok(())
    }
}
