//! Passive OPEN: the listener, its SYN queue of half-open entries, and its accept queue
//! (RFC 9293 §3.10.7.2 for LISTEN, §3.10.7.4 for SYN-RECEIVED; lifecycle Q1–Q4).
//!
//! A half-open entry is deliberately small: it records only what the SYN told us and what our
//! SYN-ACK said. It becomes a full connection when the handshake's final ACK arrives, and moves
//! to the accept queue until the application calls accept().

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use oxtcp_wire::{TcpFlags, TcpOptions, Timestamps};

use crate::config::{RstPolicy, SocketOptions, StackConfig, SynPolicy};
use crate::conn::{
    ack_if, answer_unacceptable, challenge_allowed, near_span, syn_options, ts_before, ts_clock,
    Ctx, Disposition, PeerSyn, RstReply, SegIn,
};
use crate::event::DropReason;
use crate::handle::ConnId;
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::tuple::FourTuple;

/// Counters of one listener.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListenerStats {
    /// SYNs that created a half-open entry.
    pub syns_received: u64,
    /// SYNs dropped because the SYN queue was full.
    pub syn_queue_overflows: u64,
    /// SYNs or final ACKs dropped because the accept queue was full.
    pub accept_queue_overflows: u64,
    /// Handshakes completed.
    pub established: u64,
    /// SYN-ACKs retransmitted.
    pub synack_retransmits: u64,
    /// Half-open entries dropped after the last SYN-ACK retry.
    pub half_open_expired: u64,
    /// Half-open entries removed by an RST.
    pub half_open_reset: u64,
    /// SYN-ACKs sent with a SYN cookie instead of a half-open entry.
    pub syncookies_sent: u64,
    /// Connections created from a valid cookie in a final ACK.
    pub syncookies_accepted: u64,
    /// ACKs to the listener whose cookie did not check out (forged, stale or unrelated).
    pub syncookies_failed: u64,
}

/// A listening endpoint with its two queues.
#[derive(Debug)]
pub(crate) struct Listener {
    pub(crate) local: SocketAddr,
    /// Bound on each queue (lifecycle Q2).
    pub(crate) backlog: usize,
    /// Socket options its connections inherit.
    pub(crate) opts: SocketOptions,
    /// Half-open entries currently in the stack's table for this listener.
    pub(crate) syn_queue: usize,
    /// Established connections waiting for accept().
    pub(crate) accept_queue: VecDeque<ConnId>,
    pub(crate) stats: ListenerStats,
    /// When this listener last answered with a cookie: in `WhenFull` mode, ACKs are checked
    /// as cookies only while one sent then could still be valid.
    pub(crate) cookie_sent_at: Option<Instant>,
}

/// A snapshot of a listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerInfo {
    /// The listening endpoint.
    pub local: SocketAddr,
    /// The backlog.
    pub backlog: usize,
    /// Half-open entries (SYN-RECEIVED).
    pub syn_queue: usize,
    /// Established connections not yet accepted.
    pub accept_queue: usize,
    /// Counters.
    pub stats: ListenerStats,
}

impl Listener {
    pub(crate) fn new(local: SocketAddr, backlog: usize, opts: SocketOptions) -> Self {
        Listener {
            local,
            backlog,
            opts,
            syn_queue: 0,
            accept_queue: VecDeque::new(),
            stats: ListenerStats::default(),
            cookie_sent_at: None,
        }
    }

    pub(crate) fn info(&self) -> ListenerInfo {
        ListenerInfo {
            local: self.local,
            backlog: self.backlog,
            syn_queue: self.syn_queue,
            accept_queue: self.accept_queue.len(),
            stats: self.stats,
        }
    }

    /// Whether a new SYN may be answered. Like Linux, a SYN is also dropped while the accept
    /// queue is full: its handshake could not complete anyway.
    pub(crate) fn admit_syn(&mut self) -> Result<(), DropReason> {
        if self.accept_queue.len() >= self.backlog {
            self.stats.accept_queue_overflows += 1;
            return Err(DropReason::AcceptQueueFull);
        }
        if self.syn_queue >= self.backlog {
            self.stats.syn_queue_overflows += 1;
            return Err(DropReason::SynQueueFull);
        }
        Ok(())
    }
}

/// A SYN-queue entry: SYN received, SYN-ACK sent, final ACK awaited.
#[derive(Clone, Debug)]
pub(crate) struct HalfOpen {
    pub(crate) listener: u32,
    pub(crate) tuple: FourTuple,
    pub(crate) iss: SeqNum,
    pub(crate) syn: PeerSyn,
    /// Offset of the TSval clock, kept for the connection (RFC 7323 §7.1).
    pub(crate) ts_offset: u32,
    /// SYN-ACK retransmissions so far.
    pub(crate) retries: u32,
    /// When the next SYN-ACK retransmission is due.
    pub(crate) deadline: Instant,
    /// A SYN-ACK (first, retransmitted, or repeated for a duplicate SYN) is to be sent.
    pub(crate) synack_due: bool,
    /// A challenge ACK is to be sent (RFC 5961).
    pub(crate) ack_due: bool,
    /// When the last ACK answering an unacceptable segment went out.
    last_invalid_ack: Option<Instant>,
    /// A SYN-ACK has gone out: any later one, on a timer or for a duplicate SYN, repeats it.
    synack_sent: bool,
}

/// What a half-open entry did with a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HalfOpenOutcome {
    /// The final ACK of the handshake: promote to a full connection.
    Complete,
    /// Stays half-open.
    Stay(Disposition),
    /// The entry is removed (the listener returns to LISTEN for this 4-tuple).
    Remove(Disposition),
}

impl HalfOpen {
    pub(crate) fn new(
        listener: u32,
        tuple: FourTuple,
        iss: SeqNum,
        syn: PeerSyn,
        ts_offset: u32,
        now: Instant,
        cfg: &StackConfig,
    ) -> Self {
        HalfOpen {
            listener,
            tuple,
            iss,
            syn,
            ts_offset,
            retries: 0,
            deadline: now + cfg.initial_rto,
            synack_due: true,
            ack_due: false,
            last_invalid_ack: None,
            synack_sent: false,
        }
    }

    fn rcv_nxt(&self) -> SeqNum {
        self.syn.irs.add(1)
    }

    /// RFC 9293 §3.10.7.4 in SYN-RECEIVED, for a connection that came from LISTEN.
    ///
    /// Its answers are bounded as in the synchronized states: a segment with none of ACK, RST
    /// and SYN is dropped silently, the timestamp rules apply once the SYN offered timestamps,
    /// and ACKs answering unacceptable segments and challenge ACKs are spaced per entry
    /// (`invalid_ack_interval`) and limited stack-wide. Without that, each forged segment
    /// drew an ACK <SEQ=ISS+1><ACK=RCV.NXT>, which the client, once established with data in
    /// flight, took for a duplicate ACK (measured with `oxtcp sim attack malformed`).
    pub(crate) fn on_segment(
        &mut self,
        ctx: &mut Ctx<'_>,
        opts: &SocketOptions,
        seg: &SegIn<'_>,
    ) -> HalfOpenOutcome {
        let cfg = ctx.cfg;
        let rcv_nxt = self.rcv_nxt();
        let rcv_wnd = opts.recv_window_cap(cfg) as u32;
        let in_window = seg.seq.in_window(rcv_nxt, rcv_wnd);
        if !seg.flags.ack() && !seg.flags.rst() && !seg.flags.syn() {
            let reason = if seg.flags.fin() {
                DropReason::FinWithoutAck
            } else {
                DropReason::NoFlags
            };
            return HalfOpenOutcome::Stay(Disposition::Dropped(reason));
        }
        // RFC 7323 §3.2, §5.3: with timestamps on, a non-RST segment must carry one, and PAWS
        // judges it against TS.Recent, which is still the SYN's TSval.
        if let (true, Some(recent), false) = (cfg.timestamps, self.syn.tsval, seg.flags.rst()) {
            let Some(ts) = seg.options.timestamps else {
                return HalfOpenOutcome::Stay(Disposition::Dropped(DropReason::MissingTimestamp));
            };
            if ts_before(ts.tsval, recent) {
                return HalfOpenOutcome::Stay(self.unacceptable(ctx, seg, DropReason::Paws));
            }
        }
        if seg.flags.rst() {
            if !in_window {
                return HalfOpenOutcome::Stay(Disposition::Dropped(DropReason::OutOfWindow));
            }
            if cfg.rst_policy == RstPolicy::Rfc5961 && seg.seq != rcv_nxt {
                return HalfOpenOutcome::Stay(self.challenge(ctx, DropReason::ChallengeAckRst));
            }
            // "If the RST bit is set: if this connection was initiated with a passive OPEN,
            // then return this connection to the LISTEN state."
            return HalfOpenOutcome::Remove(Disposition::Accepted);
        }
        if seg.flags.syn() {
            if seg.seq == self.syn.irs && !seg.flags.ack() {
                // Deviation (as Linux and FreeBSD's syncache): a retransmitted SYN means our
                // SYN-ACK was probably lost; answer it again rather than with a bare ACK.
                self.synack_due = true;
                return HalfOpenOutcome::Stay(Disposition::Dropped(DropReason::ChallengeAckSyn));
            }
            if cfg.syn_policy == SynPolicy::Rfc5961 {
                return HalfOpenOutcome::Stay(self.challenge(ctx, DropReason::ChallengeAckSyn));
            }
            if in_window {
                return HalfOpenOutcome::Remove(Disposition::RstSent(
                    DropReason::ChallengeAckSyn,
                    RstReply {
                        seq: self.iss.add(1),
                        ack: Some(rcv_nxt),
                    },
                ));
            }
            return HalfOpenOutcome::Stay(self.unacceptable(ctx, seg, DropReason::OutOfWindow));
        }
        // RFC 9293 §3.10.7.4: the sequence number is checked first; an unacceptable segment
        // draws an ACK whatever its acknowledgment field says.
        let seg_len = seg.seg_len();
        let acceptable =
            in_window || (seg_len > 0 && seg.seq.add(seg_len - 1).in_window(rcv_nxt, rcv_wnd));
        if !acceptable {
            return HalfOpenOutcome::Stay(self.unacceptable(ctx, seg, DropReason::OutOfWindow));
        }
        if !seg.flags.ack() {
            return HalfOpenOutcome::Stay(Disposition::Dropped(DropReason::NoAck));
        }
        if seg.ack != self.iss.add(1) {
            // "If the segment acknowledgment is not acceptable, form a reset segment."
            return HalfOpenOutcome::Stay(Disposition::RstSent(
                DropReason::BadAck,
                RstReply {
                    seq: seg.ack,
                    ack: None,
                },
            ));
        }
        HalfOpenOutcome::Complete
    }

    /// An unacceptable segment: dropped, with an ACK as spaced as in the other states.
    fn unacceptable(&mut self, ctx: &mut Ctx<'_>, seg: &SegIn<'_>, r: DropReason) -> Disposition {
        let rcv_nxt = self.rcv_nxt();
        // The SYN-ACK's window is never scaled: at most 64 KiB was offered.
        let span = near_span(u32::from(u16::MAX));
        let ok = answer_unacceptable(ctx, seg, &mut self.last_invalid_ack, rcv_nxt, span);
        ack_if(ok, &mut self.ack_due, r)
    }

    /// A challenge ACK (RFC 5961), within the limits.
    fn challenge(&mut self, ctx: &mut Ctx<'_>, r: DropReason) -> Disposition {
        let ok = challenge_allowed(ctx, &mut self.last_invalid_ack);
        ack_if(ok, &mut self.ack_due, r)
    }

    /// Whether a SYN-ACK retransmission is due; returns false when the retries are used up
    /// and the entry must go (lifecycle Q3).
    pub(crate) fn on_timeout(&mut self, now: Instant, cfg: &StackConfig) -> bool {
        if self.retries >= cfg.synack_retries {
            return false;
        }
        self.retries += 1;
        self.synack_due = true;
        // Exponential backoff from the initial RTO: 1, 2, 4, 8, 16 s by default, so the
        // half-open lifetime is their sum plus the last wait (63 s with 5 retries).
        let shift = self.retries.min(16);
        let wait = (cfg.initial_rto * (1u32 << shift)).min(cfg.max_rto.max(Duration::from_secs(1)));
        self.deadline = now + wait;
        true
    }

    /// Options of our SYN-ACK (`syn`) or challenge ACK: RFC 7323 §2.2 and §3.2 let a SYN-ACK
    /// carry Window Scale and Timestamps only when the SYN did; once the SYN-ACK has carried
    /// Timestamps, every segment does.
    pub(crate) fn options(
        &self,
        cfg: &StackConfig,
        opts: &SocketOptions,
        now: Instant,
        syn: bool,
    ) -> TcpOptions {
        let ts = match (cfg.timestamps, self.syn.tsval) {
            (true, Some(tsecr)) => Some(Timestamps {
                tsval: ts_clock(now, self.ts_offset),
                tsecr,
            }),
            _ => None,
        };
        if syn {
            let wscale = cfg.window_scaling && self.syn.wscale.is_some();
            let sack = cfg.sack && self.syn.sack_permitted;
            syn_options(cfg, opts, &self.tuple, wscale, sack, ts)
        } else {
            TcpOptions {
                timestamps: ts,
                ..TcpOptions::default()
            }
        }
    }

    /// The SYN-ACK (or challenge ACK) to send now, if any.
    pub(crate) fn poll_transmit(&mut self) -> Option<(SeqNum, SeqNum, TcpFlags, bool)> {
        if self.synack_due {
            self.synack_due = false;
            self.ack_due = false;
            let repeat = std::mem::replace(&mut self.synack_sent, true);
            return Some((
                self.iss,
                self.rcv_nxt(),
                TcpFlags::SYN | TcpFlags::ACK,
                repeat,
            ));
        }
        if self.ack_due {
            self.ack_due = false;
            return Some((self.iss.add(1), self.rcv_nxt(), TcpFlags::ACK, false));
        }
        None
    }
}
