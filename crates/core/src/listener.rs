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
use crate::tuple::{EntryTuple, FourTuple};

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
///
/// A SYN flood fills the stack with these, so the entry is packed to 48 bytes: the 4-tuple
/// packed (`EntryTuple`), the SYN's parameters as plain fields with presence bits instead of
/// `Option`s, and the time of the last ACK to an unacceptable segment as wrapping
/// milliseconds (it only meets `invalid_ack_interval`, and an entry lives about a minute).
/// When its next SYN-ACK retransmission is due is kept only by the stack's timer wheel.
#[derive(Clone, Debug)]
pub(crate) struct HalfOpen {
    tuple: EntryTuple,
    pub(crate) listener: u32,
    pub(crate) iss: SeqNum,
    /// Offset of the TSval clock, kept for the connection (RFC 7323 §7.1).
    pub(crate) ts_offset: u32,
    /// When the last ACK answering an unacceptable segment went out (`INVALID_ACK_SENT`).
    invalid_ack_ms: u32,
    // The peer's SYN (`PeerSyn`, unpacked by `syn()`).
    irs: SeqNum,
    tsval: u32,
    window: u16,
    mss: u16,
    wscale: u8,
    /// SYN-ACK retransmissions so far.
    pub(crate) retries: u8,
    /// The bits below.
    flags: u8,
}

/// The SYN carried MSS.
const SYN_MSS: u8 = 1;
/// The SYN carried Window Scale.
const SYN_WSCALE: u8 = 2;
/// The SYN carried Timestamps.
const SYN_TS: u8 = 4;
/// The SYN carried SACK-Permitted.
const SYN_SACK: u8 = 8;
/// A SYN-ACK (first, retransmitted, or repeated for a duplicate SYN) is to be sent.
const SYNACK_DUE: u8 = 16;
/// A challenge ACK is to be sent (RFC 5961).
const ACK_DUE: u8 = 32;
/// A SYN-ACK has gone out: any later one, on a timer or for a duplicate SYN, repeats it.
const SYNACK_SENT: u8 = 64;
/// `invalid_ack_ms` holds a time.
const INVALID_ACK_SENT: u8 = 128;

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
    ) -> Self {
        let mut flags = SYNACK_DUE;
        for (present, bit) in [
            (syn.mss.is_some(), SYN_MSS),
            (syn.wscale.is_some(), SYN_WSCALE),
            (syn.tsval.is_some(), SYN_TS),
            (syn.sack_permitted, SYN_SACK),
        ] {
            if present {
                flags |= bit;
            }
        }
        HalfOpen {
            tuple: EntryTuple::new(&tuple),
            listener,
            iss,
            ts_offset,
            invalid_ack_ms: 0,
            irs: syn.irs,
            tsval: syn.tsval.unwrap_or(0),
            window: syn.window,
            mss: syn.mss.unwrap_or(0),
            wscale: syn.wscale.unwrap_or(0),
            retries: 0,
            flags,
        }
    }

    fn has(&self, bit: u8) -> bool {
        self.flags & bit != 0
    }

    fn set(&mut self, bit: u8, on: bool) {
        if on {
            self.flags |= bit;
        } else {
            self.flags &= !bit;
        }
    }

    /// The 4-tuple.
    pub(crate) fn tuple(&self) -> FourTuple {
        self.tuple.get()
    }

    /// Is the entry's 4-tuple `t`?
    pub(crate) fn is_for(&self, t: &FourTuple) -> bool {
        self.tuple.is(t)
    }

    /// The peer's SYN, as the connection the final ACK builds needs it.
    pub(crate) fn syn(&self) -> PeerSyn {
        PeerSyn {
            irs: self.irs,
            window: self.window,
            mss: self.has(SYN_MSS).then_some(self.mss),
            wscale: self.has(SYN_WSCALE).then_some(self.wscale),
            tsval: self.syn_tsval(),
            sack_permitted: self.has(SYN_SACK),
        }
    }

    /// The SYN's TSval: TS.Recent while half-open.
    fn syn_tsval(&self) -> Option<u32> {
        self.has(SYN_TS).then_some(self.tsval)
    }

    fn rcv_nxt(&self) -> SeqNum {
        self.irs.add(1)
    }

    /// Run `f` on the last-invalid-ACK time as the shared helpers take it, and keep the result.
    fn with_last_invalid_ack<R>(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut Option<Instant>) -> R,
    ) -> R {
        let mut last = self
            .has(INVALID_ACK_SENT)
            .then(|| now.before_wrapping_ms(self.invalid_ack_ms));
        let r = f(&mut last);
        self.set(INVALID_ACK_SENT, last.is_some());
        self.invalid_ack_ms = last.map_or(0, Instant::wrapping_ms);
        r
    }

    /// Owe an ACK if `ok` (the shared `ack_if`).
    fn ack_if(&mut self, ok: bool, r: DropReason) -> Disposition {
        let mut due = self.has(ACK_DUE);
        let d = ack_if(ok, &mut due, r);
        self.set(ACK_DUE, due);
        d
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
        if let (true, Some(recent), false) = (cfg.timestamps, self.syn_tsval(), seg.flags.rst()) {
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
            if seg.seq == self.irs && !seg.flags.ack() {
                // Deviation (as Linux and FreeBSD's syncache): a retransmitted SYN means our
                // SYN-ACK was probably lost; answer it again rather than with a bare ACK.
                self.set(SYNACK_DUE, true);
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
        let ok = self.with_last_invalid_ack(ctx.now, |last| {
            answer_unacceptable(ctx, seg, last, rcv_nxt, span)
        });
        self.ack_if(ok, r)
    }

    /// A challenge ACK (RFC 5961), within the limits.
    fn challenge(&mut self, ctx: &mut Ctx<'_>, r: DropReason) -> Disposition {
        let ok = self.with_last_invalid_ack(ctx.now, |last| challenge_allowed(ctx, last));
        self.ack_if(ok, r)
    }

    /// When the first SYN-ACK retransmission is due, for an entry created at `now`.
    pub(crate) fn first_deadline(now: Instant, cfg: &StackConfig) -> Instant {
        now + cfg.initial_rto
    }

    /// The SYN-ACK retransmission timer fired: a retransmission is due, and the next one at
    /// the deadline returned; `None` when the retries are used up and the entry must go
    /// (lifecycle Q3).
    pub(crate) fn on_timeout(&mut self, now: Instant, cfg: &StackConfig) -> Option<Instant> {
        if u32::from(self.retries) >= cfg.synack_retries {
            return None;
        }
        self.retries = self.retries.saturating_add(1);
        self.set(SYNACK_DUE, true);
        // Exponential backoff from the initial RTO: 1, 2, 4, 8, 16 s by default, so the
        // half-open lifetime is their sum plus the last wait (63 s with 5 retries).
        let shift = self.retries.min(16);
        let wait = (cfg.initial_rto * (1u32 << shift)).min(cfg.max_rto.max(Duration::from_secs(1)));
        Some(now + wait)
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
        let ts = match (cfg.timestamps, self.syn_tsval()) {
            (true, Some(tsecr)) => Some(Timestamps {
                tsval: ts_clock(now, self.ts_offset),
                tsecr,
            }),
            _ => None,
        };
        if syn {
            let wscale = cfg.window_scaling && self.has(SYN_WSCALE);
            let sack = cfg.sack && self.has(SYN_SACK);
            syn_options(cfg, opts, &self.tuple(), wscale, sack, ts)
        } else {
            TcpOptions {
                timestamps: ts,
                ..TcpOptions::default()
            }
        }
    }

    /// The SYN-ACK (or challenge ACK) to send now, if any.
    pub(crate) fn poll_transmit(&mut self) -> Option<(SeqNum, SeqNum, TcpFlags, bool)> {
        if self.has(SYNACK_DUE) {
            self.set(SYNACK_DUE, false);
            self.set(ACK_DUE, false);
            let repeat = self.has(SYNACK_SENT);
            self.set(SYNACK_SENT, true);
            return Some((
                self.iss,
                self.rcv_nxt(),
                TcpFlags::SYN | TcpFlags::ACK,
                repeat,
            ));
        }
        if self.has(ACK_DUE) {
            self.set(ACK_DUE, false);
            return Some((self.iss.add(1), self.rcv_nxt(), TcpFlags::ACK, false));
        }
        None
    }
}
