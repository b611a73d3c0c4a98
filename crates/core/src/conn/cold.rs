//! What an idle established connection never touches, kept out of the TCB in one box that is
//! allocated the first time any of it is written (issue 8: an idle connection should cost
//! little more than its sequence space). A connection that never loses a segment, never
//! probes and never turns keep-alive on never allocates it.
//!
//! Reads go through `Connection::cold_ref`, which answers from a shared all-default instance
//! while the box is absent, so a read never allocates; writes go through `Connection::cold`.

use super::deadline::Deadline;
use super::keepalive::KeepAliveState;
use super::recovery::Recovery;
use super::sack_report::SackReport;
use super::scoreboard::Scoreboard;
use super::time_wait::TimeWait;
use super::{ConnStats, Connection};
use crate::config::KeepAlive;

/// The rarely used part of a connection.
#[derive(Debug, Default)]
pub(crate) struct Cold {
    /// The counters of rare events (retransmissions, timeouts, probes, recovery, SACK); the
    /// per-segment counters stay inline in `HotStats`, and the limited-time clocks with
    /// their chronograph (`Chrono`).
    pub(crate) stats: RareCounters,
    /// SO_KEEPALIVE's settings (RFC 9293 §3.8.4): `None`, the default, is off.
    pub(crate) keepalive: Option<KeepAlive>,
    /// Keep-alive bookkeeping, meaningful only while keep-alive is on.
    pub(crate) ka: KeepAliveState,
    /// Loss recovery (RFC 5681 §3.2, RFC 6582, RFC 6675): first written by a duplicate ACK,
    /// a SACK block or a timeout.
    pub(crate) recovery: Recovery,
    /// SACKed ranges above SND.UNA (RFC 6675 §3).
    pub(crate) scoreboard: Scoreboard,
    /// SACK blocks to report (RFC 2018 §4, RFC 2883): first written by data out of order or
    /// a duplicate.
    pub(crate) sack_report: SackReport,
    /// The persist timer (RFC 9293 §3.8.6.1), armed when the peer's window closes.
    pub(crate) persist_at: Deadline,
    /// Exponent of the probe interval; reset only when the peer's window opens.
    pub(crate) persist_backoff: u32,
    /// Probes sent since the peer last sent any ACK; the connection times out past
    /// `data_retries` of them.
    pub(crate) persist_probes: u32,
    /// The FIN-WAIT-2 timer of a released connection.
    pub(crate) fin_wait_2_at: Deadline,
    /// TIME-WAIT's own state, which takes over every segment, ACK and timer there (boxed
    /// again: a released connection hands it to the stack and is freed).
    pub(crate) time_wait: Option<Box<TimeWait>>,
    /// TCP_MAXSEG, as given at connect or listen.
    pub(crate) max_segment: Option<u16>,
    /// Consecutive retransmission timeouts without progress (RFC 6298 §5.5, RFC 9293
    /// §3.8.3's R2): zero while the box is absent.
    pub(crate) retries: u32,
}

/// The all-default cold part, read while a connection has none of its own.
static IDLE: Cold = Cold {
    stats: RareCounters::ZERO,
    keepalive: None,
    ka: KeepAliveState::IDLE,
    recovery: Recovery::IDLE,
    scoreboard: Scoreboard::EMPTY,
    sack_report: SackReport::EMPTY,
    persist_at: Deadline::NONE,
    persist_backoff: 0,
    persist_probes: 0,
    fin_wait_2_at: Deadline::NONE,
    time_wait: None,
    max_segment: None,
    retries: 0,
};

impl Cold {
    /// Whether the box holds only what a fresh one would: no counter moved, no timer armed,
    /// no socket option, no recovery, SACK or TIME-WAIT state. Keep-alive's bookkeeping
    /// counts only while keep-alive is on (turning it on resets it).
    fn at_rest(&self) -> bool {
        self.stats == RareCounters::ZERO
            && self.keepalive.is_none()
            && self.recovery == Recovery::IDLE
            && self.scoreboard.is_empty()
            && self.sack_report.is_empty()
            && self.persist_at.is_none()
            && self.persist_backoff == 0
            && self.persist_probes == 0
            && self.fin_wait_2_at.is_none()
            && self.time_wait.is_none()
            && self.max_segment.is_none()
            && self.retries == 0
    }
}

/// The counters of `ConnStats` that count rare events, under the same names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RareCounters {
    pub(crate) retransmits: u64,
    pub(crate) rto_count: u64,
    pub(crate) drops: u64,
    pub(crate) window_probes: u64,
    pub(crate) fast_recoveries: u64,
    pub(crate) sack_recovered_bytes: u64,
    pub(crate) dsacks_received: u64,
    pub(crate) sack_reneging: u64,
    pub(crate) lost_retransmits: u64,
    pub(crate) reordering_seen: u64,
    pub(crate) keepalive_probes: u64,
}

impl RareCounters {
    /// All zero (`Default`, usable in a const).
    const ZERO: RareCounters = RareCounters {
        retransmits: 0,
        rto_count: 0,
        drops: 0,
        window_probes: 0,
        fast_recoveries: 0,
        sack_recovered_bytes: 0,
        dsacks_received: 0,
        sack_reneging: 0,
        lost_retransmits: 0,
        reordering_seen: 0,
        keepalive_probes: 0,
    };
}

/// Counters a segment in either direction updates: inline, so the per-segment path never
/// touches the cold box.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct HotStats {
    pub(crate) segs_in: u64,
    pub(crate) segs_out: u64,
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_acked: u64,
    pub(crate) bytes_received: u64,
}

impl Connection {
    /// The cold part, for reading; never allocates.
    pub(crate) fn cold_ref(&self) -> &Cold {
        self.cold.as_deref().unwrap_or(&IDLE)
    }

    /// The cold part, for writing: allocated on first use.
    pub(crate) fn cold(&mut self) -> &mut Cold {
        self.cold.get_or_insert_with(Box::default)
    }

    /// Free the cold part if it is at rest, as a fresh one would be. Called where the SACK
    /// report empties (the out-of-order data is in order, the D-SACK is sent): of what the
    /// box holds, only a receiver's report ends without leaving a trace, as the sender's
    /// recovery and every timer's work move a counter or recovery's record, which the box
    /// keeps. So a connection that once held data out of order, or was sent a duplicate,
    /// holds no heap again once that is over.
    #[cold]
    #[inline(never)]
    pub(crate) fn release_cold_at_rest(&mut self) {
        if self.cold.as_deref().is_some_and(Cold::at_rest) {
            self.cold = None;
        }
    }

    /// The public counters: the cold ones with the inline per-segment ones and the
    /// limited-time clocks (up to the last change of what limits the sender) filled in.
    pub(crate) fn merged_stats(&self) -> ConnStats {
        let h = &self.hot_stats;
        let r = &self.cold_ref().stats;
        let [rwnd_limited, cwnd_limited, sndbuf_limited] = self.chrono.charged(None);
        ConnStats {
            segs_in: h.segs_in,
            segs_out: h.segs_out,
            bytes_sent: h.bytes_sent,
            bytes_acked: h.bytes_acked,
            bytes_received: h.bytes_received,
            retransmits: r.retransmits,
            rto_count: r.rto_count,
            drops: r.drops,
            window_probes: r.window_probes,
            fast_recoveries: r.fast_recoveries,
            sack_recovered_bytes: r.sack_recovered_bytes,
            dsacks_received: r.dsacks_received,
            sack_reneging: r.sack_reneging,
            lost_retransmits: r.lost_retransmits,
            reordering_seen: r.reordering_seen,
            keepalive_probes: r.keepalive_probes,
            rwnd_limited,
            cwnd_limited,
            sndbuf_limited,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cc::Controller;
    use crate::conn::rig::Rig;
    use crate::state::State;

    /// Issue 8: what an idle established connection holds, the TCB and whatever it keeps
    /// on the heap (nothing, as `an_idle_connection_holds_no_heap` checks), stays within
    /// this. The TCB's 4-tuple is packed to 16 bytes (`EntryTuple`); 8 bytes go to the list
    /// of datagram buffers the receive buffer keeps (`rx_chunks`), 24 to the limited-time
    /// clocks (`Chrono`) and 8 to the last answer to an unacceptable segment, which would
    /// otherwise allocate the cold box for nearly every connection that moves data, and for
    /// every idle one whose peer sends keep-alive probes.
    const TCB_BUDGET: usize = 408;

    #[test]
    fn an_idle_connection_fits_its_budget() {
        let size = std::mem::size_of::<Connection>();
        assert!(
            size <= TCB_BUDGET,
            "Connection is {size} B, budget {TCB_BUDGET} B"
        );
    }

    /// The cold part, allocated once something rare happened: its counters (88 bytes, not
    /// the whole 176-byte `ConnStats`), recovery, SACK, keep-alive and persist state.
    const COLD_BUDGET: usize = 312;

    #[test]
    fn a_cold_part_fits_its_budget() {
        let size = std::mem::size_of::<Cold>();
        assert!(
            size <= COLD_BUDGET,
            "Cold is {size} B, budget {COLD_BUDGET} B"
        );
    }

    /// Heap bytes the connection holds.
    fn heap(c: &Connection) -> usize {
        let cc = match &c.cc {
            Controller::Cubic(cubic) => usize::from(cubic.avoidance_allocated()),
            Controller::NewReno(_) => 0,
        };
        c.recv_buf.allocated()
            + c.send_buf.allocated()
            + c.cold.as_ref().map_or(0, |_| std::mem::size_of::<Cold>())
            + cc
    }

    #[test]
    fn an_idle_connection_holds_no_heap() {
        // Through its handshake and a 1-byte request and response.
        let mut r = Rig::new();
        let mut c = r.established();
        assert_eq!(heap(&c), 0, "after the handshake");

        r.deliver(&mut c, 1001, 5001, 102, b"q");
        let mut buf = [0; 8];
        assert_eq!(c.recv(&mut buf, &mut r.bufs), Ok(1));
        assert_eq!(c.send(b"r", &mut r.bufs), Ok(1));
        let reply = c.poll_transmit(&mut r.ctx(), 1500).expect("the response");
        assert_eq!(reply.payload_len, 1);
        r.deliver(&mut c, 1002, 5002, 103, &[]);
        while c.poll_transmit(&mut r.ctx(), 1500).is_some() {}
        assert!(c.is_send_drained());
        assert_eq!(heap(&c), 0, "after a request and its response");
    }

    #[test]
    fn a_connection_that_filled_its_windows_holds_no_heap_once_idle() {
        // 64 KiB: more than the initial congestion window (10 segments), so the sender is
        // cwnd-limited for a while, and its clock says so.
        let mut r = Rig::new();
        let mut c = r.established();
        let data = vec![7u8; 64 * 1024];
        let mut sent = 0;
        let mut tsval = 102;
        for _ in 0..100 {
            if sent < data.len() {
                sent += c.send(&data[sent..], &mut r.bufs).unwrap_or(0);
            }
            let mut highest = None;
            while let Some(seg) = c.poll_transmit(&mut r.ctx(), 1500) {
                highest = Some(seg.seq.add(seg.payload_len as u32));
            }
            let Some(ack) = highest else { break };
            r.now += std::time::Duration::from_millis(10);
            tsval += 10;
            r.deliver(&mut c, 1001, ack.get(), tsval, &[]);
        }
        assert_eq!(sent, data.len());
        assert!(c.is_send_drained(), "everything acknowledged");
        let stats = c.stats_at(r.now);
        assert!(
            stats.cwnd_limited > std::time::Duration::ZERO,
            "cwnd-limited for a while: {stats:?}"
        );
        assert_eq!(heap(&c), 0, "idle again, nothing kept on the heap");
    }

    #[test]
    fn an_idle_connection_answering_keep_alive_probes_holds_no_heap() {
        // A peer's keep-alive probe (RFC 9293 §3.8.4) carries the sequence number before
        // RCV.NXT and no data: an unacceptable segment, answered with an ACK; as an old
        // duplicate its ACK field is still processed. Go's dialer sends one every 15 s by
        // default, so an idle connection sees them all the time.
        let mut r = Rig::new();
        let mut c = r.established();
        for (i, tsval) in (102..106).enumerate() {
            r.now += std::time::Duration::from_secs(15);
            r.deliver(&mut c, 1000, 5001, tsval, &[]);
            let ack = c
                .poll_transmit(&mut r.ctx(), 1500)
                .expect("the probe's answer");
            assert_eq!(
                (ack.seq.get(), ack.ack.get(), ack.payload_len),
                (5001, 1001, 0)
            );
            assert!(c.poll_transmit(&mut r.ctx(), 1500).is_none());
            // An old duplicate: answered, and its ACK field processed, not dropped.
            assert_eq!(c.merged_stats().drops, 0, "probe {i}");
        }
        assert_eq!(c.state(), State::Established);
        assert_eq!(heap(&c), 0, "the probes' answers keep nothing on the heap");
    }

    /// Send everything `c` has to send; returns how many segments that was.
    fn settle(r: &mut Rig, c: &mut Connection) -> usize {
        let mut sent = 0;
        while c.poll_transmit(&mut r.ctx(), 1500).is_some() {
            sent += 1;
        }
        sent
    }

    #[test]
    fn a_receiver_frees_its_cold_part_once_reordering_and_duplicates_are_over() {
        let mut r = Rig::new();
        let mut c = r.established();
        let data = [5u8; 300];
        // Bytes 100..300 arrive before 0..100: held out of order, reported in SACK blocks.
        r.deliver(&mut c, 1101, 5001, 102, &data[100..]);
        assert_eq!(settle(&mut r, &mut c), 1, "an ACK with a SACK block");
        assert!(c.cold.is_some(), "the SACK report is in the cold part");
        r.deliver(&mut c, 1001, 5001, 103, &data[..100]);
        settle(&mut r, &mut c);
        let mut out = [0u8; 400];
        assert_eq!(c.recv(&mut out, &mut r.bufs), Ok(300));
        settle(&mut r, &mut c);
        assert_eq!(heap(&c), 0, "the hole filled and the data read");
        // A duplicate of bytes 0..100: reported once as a D-SACK (RFC 2883), then at rest.
        r.deliver(&mut c, 1001, 5001, 104, &data[..100]);
        assert_eq!(settle(&mut r, &mut c), 1, "an ACK with the D-SACK");
        assert_eq!(heap(&c), 0, "the D-SACK sent");
        assert_eq!(c.merged_stats().drops, 0);
    }

    #[test]
    fn a_cold_part_whose_counters_moved_is_kept() {
        // A segment beyond the window is dropped and counted; then data out of order comes
        // and goes. Where the SACK report empties the part is not at rest: the count stays.
        let mut r = Rig::new();
        let mut c = r.established();
        r.deliver(&mut c, 1001 + (1 << 30), 5001, 102, b"far");
        settle(&mut r, &mut c);
        let data = [6u8; 200];
        r.deliver(&mut c, 1101, 5001, 103, &data[100..]);
        settle(&mut r, &mut c);
        r.deliver(&mut c, 1001, 5001, 104, &data[..100]);
        settle(&mut r, &mut c);
        assert_eq!(c.recv(&mut [0u8; 300], &mut r.bufs), Ok(200));
        assert!(c.cold.is_some(), "kept for its counter");
        assert_eq!(c.merged_stats().drops, 1);
    }
}
