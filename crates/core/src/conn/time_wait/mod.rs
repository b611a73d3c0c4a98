//! TIME-WAIT (RFC 9293 §3.3.2, §3.10.7.4) as a compact entry: what the state needs of the
//! connection and nothing else, so that a busy host's thousands of TIME-WAIT 4-tuples cost a
//! few dozen bytes each instead of a full TCB with its buffers.
//!
//! A connection that enters TIME-WAIT hands its segments, its ACKs and its 2×MSL timer to this
//! entry at once. While the application still holds the connection (to read what arrived
//! before the FIN) the entry lives inside it; once the application lets go, the stack keeps
//! only the entry. Either way this file is the one place TIME-WAIT is handled:
//!
//! - the only thing expected is a retransmission of the peer's FIN: it is acknowledged again
//!   and the 2×MSL timer restarts;
//! - an RST does not end TIME-WAIT early (RFC 1337 §3, `StackConfig::time_wait_ignores_rst`),
//!   or, with that off, only at exactly RCV.NXT (RFC 5961 §3.2);
//! - a SYN may reuse the 4-tuple (RFC 6191), draws a challenge ACK (RFC 5961 §4.2), or
//!   resets (RFC 793);
//! - PAWS (RFC 7323 §5) and the sequence check still apply, and their ACKs are spaced as
//!   in every other state.

mod packed;
pub(crate) use packed::PackedTimeWait;

use std::time::Duration;

use oxtcp_wire::{TcpFlags, TcpOptions, Timestamps};

use crate::cc::CcAlgorithm;
use crate::config::{RstPolicy, StackConfig, SynPolicy};
use crate::error::ConnError;
use crate::event::{Cause, DropReason, EventKind, TimerEvent, TimerKind};
use crate::seq::SeqNum;
use crate::state::State;
use crate::time::Instant;
use crate::tuple::FourTuple;

use super::input::{
    ack_if, answer_unacceptable, challenge_allowed, near_span, paws, seq_acceptable, TimeWaitSyn,
};
use super::output::TxSegment;
use super::{ts_before, ts_clock, ConnInfo, ConnStats, Ctx, Disposition, RstReply, SegIn};

/// The peer's timestamps as TIME-WAIT still needs them (RFC 7323 §4.3, §5).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TsEcho {
    /// TS.Recent.
    pub(crate) recent: u32,
    /// When TS.Recent was last set (RFC 7323 §5.5).
    pub(crate) recent_age: Instant,
    /// Offset of our TSval clock.
    pub(crate) offset: u32,
}

/// How a TIME-WAIT entry ended: the cause of its TIME-WAIT → CLOSED transition, and the
/// error an application still holding the connection would read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ended {
    pub(crate) cause: Cause,
    pub(crate) error: Option<ConnError>,
}

/// A connection in TIME-WAIT, reduced to what the state uses.
#[derive(Clone, Debug)]
pub(crate) struct TimeWait {
    pub(crate) tuple: FourTuple,
    /// ISS and IRS, for `info`.
    iss: SeqNum,
    irs: SeqNum,
    /// SND.NXT: past our FIN, which the peer has acknowledged.
    snd_nxt: SeqNum,
    /// RCV.NXT: past the peer's FIN.
    rcv_nxt: SeqNum,
    /// The window field of our ACKs (already scaled down).
    window: u16,
    /// Rcv.Wind.Shift.
    shift: u8,
    /// Timestamps, when the connection negotiated them.
    ts: Option<TsEcho>,
    /// When 2×MSL runs out.
    deadline: Instant,
    /// When the last ACK answering an unacceptable segment went out.
    last_invalid_ack: Option<Instant>,
    /// An ACK is to be sent.
    ack_due: bool,
}

/// The fields a connection hands over when it enters TIME-WAIT.
pub(crate) struct Handover {
    pub(crate) tuple: FourTuple,
    pub(crate) iss: SeqNum,
    pub(crate) irs: SeqNum,
    pub(crate) snd_nxt: SeqNum,
    pub(crate) rcv_nxt: SeqNum,
    pub(crate) window: u16,
    pub(crate) shift: u8,
    pub(crate) ts: Option<TsEcho>,
    pub(crate) last_invalid_ack: Option<Instant>,
    pub(crate) ack_due: bool,
}

impl TimeWait {
    /// Enter TIME-WAIT at `now`: the 2×MSL timer starts.
    pub(crate) fn new(h: Handover, now: Instant, cfg: &StackConfig) -> TimeWait {
        TimeWait {
            tuple: h.tuple,
            iss: h.iss,
            irs: h.irs,
            snd_nxt: h.snd_nxt,
            rcv_nxt: h.rcv_nxt,
            window: h.window,
            shift: h.shift,
            ts: h.ts,
            deadline: now + two_msl(cfg),
            last_invalid_ack: h.last_invalid_ack,
            ack_due: h.ack_due,
        }
    }

    /// A TIME-WAIT without timestamps on `tuple` ending at `deadline`, for table tests.
    #[cfg(test)]
    pub(crate) fn for_test(tuple: FourTuple, deadline: Instant) -> TimeWait {
        TimeWait {
            tuple,
            iss: SeqNum::new(0),
            irs: SeqNum::new(0),
            snd_nxt: SeqNum::new(1),
            rcv_nxt: SeqNum::new(1),
            window: 100,
            shift: 0,
            ts: None,
            deadline,
            last_invalid_ack: None,
            ack_due: false,
        }
    }

    /// When the 2×MSL timer runs out.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// An ACK is owed (the connection had one pending when it handed over).
    pub(crate) fn owe_ack(&mut self) {
        self.ack_due = true;
    }

    /// Whether an ACK is waiting to go.
    pub(crate) fn owes_ack(&self) -> bool {
        self.ack_due
    }

    /// What `Stack::info_any` reports for a compact entry: its 4-tuple and state (and the
    /// initial sequence numbers while the application holds the connection; a packed entry
    /// keeps none, so they read zero); it has no buffers, estimators or counters, so those
    /// read zero.
    pub(crate) fn info(&self) -> ConnInfo {
        ConnInfo {
            tuple: self.tuple,
            state: State::TimeWait,
            send_queue: 0,
            recv_queue: 0,
            recv_buffer: 0,
            send_buffer: 0,
            ooo_bytes: 0,
            srtt: None,
            rttvar: Duration::ZERO,
            rto: Duration::ZERO,
            cwnd: 0,
            ssthresh: 0,
            congestion_control: CcAlgorithm::default(),
            snd_wnd: 0,
            mss: 0,
            iss: self.iss,
            irs: self.irs,
            error: None,
            stats: ConnStats::default(),
        }
    }

    /// May an active OPEN of this host take the 4-tuple over at `now`
    /// (`StackConfig::connect_reuses_time_wait`)? Only if the old connection used timestamps
    /// and TS.Recent is at least `after` old; then the ISS the new connection must use: past
    /// anything of the old one a window of 65535 bytes could still hold, as Linux chooses.
    pub(crate) fn reusable_by_connect(&self, now: Instant, after: Duration) -> Option<SeqNum> {
        let ts = self.ts?;
        (now.saturating_duration_since(ts.recent_age) >= after).then(|| self.snd_nxt.add(65_537))
    }

    /// RCV.WND: the window last advertised, which TIME-WAIT keeps.
    fn rcv_wnd(&self) -> u32 {
        u32::from(self.window) << self.shift
    }

    /// RFC 6191 §2: may a SYN end TIME-WAIT and open a new incarnation of the 4-tuple? With
    /// timestamps in both the old incarnation and the SYN, when its TSval is above TS.Recent;
    /// otherwise when its sequence number is above RCV.NXT. A SYN failing the test is dropped
    /// silently when the old incarnation used timestamps, and handled as in any synchronized
    /// state when it did not.
    pub(crate) fn syn_verdict(&self, cfg: &StackConfig, seg: &SegIn<'_>) -> TimeWaitSyn {
        if !seg.flags.syn() || seg.flags.ack() || seg.flags.rst() || seg.flags.fin() {
            return TimeWaitSyn::Process;
        }
        let reuse = match (self.ts, seg.options.timestamps) {
            (Some(ts), Some(seg_ts)) if cfg.timestamps => ts_before(ts.recent, seg_ts.tsval),
            _ => seg.seq.after(self.rcv_nxt),
        };
        match (reuse, self.ts.is_some()) {
            (true, _) => TimeWaitSyn::Reuse,
            (false, true) => TimeWaitSyn::Drop,
            (false, false) => TimeWaitSyn::Process,
        }
    }

    /// SEGMENT ARRIVES in TIME-WAIT (RFC 9293 §3.10.7.4). `Some` in the result: TIME-WAIT is
    /// over and the 4-tuple is free.
    pub(crate) fn handle_segment(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &SegIn<'_>,
    ) -> (Disposition, Option<Ended>) {
        let stay = |d| (d, None);
        if !seg.flags.ack() && !seg.flags.rst() && !seg.flags.syn() {
            // As in the other synchronized states (and FreeBSD's tcp_twcheck): none of ACK,
            // RST and SYN is dropped silently, so null and FIN scans get no answer.
            let reason = if seg.flags.fin() {
                DropReason::FinWithoutAck
            } else {
                DropReason::NoFlags
            };
            return stay(Disposition::Dropped(reason));
        }
        // RFC 7323 §3.2, §5.3 R1: a non-RST segment must carry a timestamp once negotiated,
        // and PAWS drops one older than TS.Recent, with an ACK.
        if let (Some(ts), false) = (&mut self.ts, seg.flags.rst()) {
            match paws(
                &mut ts.recent,
                &mut ts.recent_age,
                ctx.now,
                seg.options.timestamps,
            ) {
                Some(DropReason::Paws) => {
                    return stay(self.unacceptable(ctx, seg, DropReason::Paws))
                }
                Some(r) => return stay(Disposition::Dropped(r)),
                None => {}
            }
        }
        if seg.flags.rst() && ctx.cfg.time_wait_ignores_rst {
            // RFC 1337 §3 (hazard H1): an RST must not cut TIME-WAIT short.
            return stay(Disposition::Dropped(DropReason::TimeWaitRst));
        }
        // "The only thing that can arrive in this state is a retransmission of the remote
        // FIN. Acknowledge it, and restart the 2 MSL timeout."
        if seg.flags.fin()
            && seg.flags.ack()
            && !seg.flags.rst()
            && !seg.flags.syn()
            && seg.seq.add(seg.payload.len() as u32).add(1) == self.rcv_nxt
        {
            // It passed PAWS and lies before RCV.NXT: its TSval is the one to echo (RFC 7323
            // §4.3), as Linux's TIME-WAIT does.
            if let (Some(ts), Some(seg_ts)) = (&mut self.ts, seg.options.timestamps) {
                ts.recent = seg_ts.tsval;
                ts.recent_age = ctx.now;
            }
            self.ack_due = true;
            self.deadline = ctx.now + two_msl(ctx.cfg);
            return stay(Disposition::Accepted);
        }

        // First, the sequence number.
        let rcv_wnd = self.rcv_wnd();
        let acceptable = seq_acceptable(seg, self.rcv_nxt, rcv_wnd);
        // A zero-window probe at RCV.NXT still has its ACK looked at (RFC 9293 §3.10.7.4).
        let probe = rcv_wnd == 0 && seg.seq == self.rcv_nxt && !seg.flags.syn();
        if !acceptable {
            if probe {
                self.ack_due = true;
            } else if seg.flags.rst() {
                return stay(Disposition::Dropped(DropReason::OutOfWindow));
            } else {
                return stay(self.unacceptable(ctx, seg, DropReason::OutOfWindow));
            }
        }

        // Second, the RST bit: RFC 5961 §3.2 resets only at exactly RCV.NXT.
        if seg.flags.rst() {
            if ctx.cfg.rst_policy == RstPolicy::Rfc5961 && seg.seq != self.rcv_nxt {
                return stay(self.challenge(ctx, DropReason::ChallengeAckRst));
            }
            let end = Ended {
                cause: Cause::RecvRst,
                error: None,
            };
            return (Disposition::Accepted, Some(end));
        }

        // Fourth, the SYN bit (one RFC 6191 let through to here).
        if seg.flags.syn() {
            if ctx.cfg.syn_policy == SynPolicy::Rfc5961 {
                return stay(self.challenge(ctx, DropReason::ChallengeAckSyn));
            }
            // RFC 793: a SYN in the window resets, with our position in both directions.
            let rst = RstReply {
                seq: self.snd_nxt,
                ack: Some(self.rcv_nxt),
            };
            let end = Ended {
                cause: Cause::RecvSynInWindow,
                error: Some(ConnError::Reset),
            };
            return (
                Disposition::RstSent(DropReason::ChallengeAckSyn, rst),
                Some(end),
            );
        }

        // Fifth, the ACK field: anything acceptable is acknowledged (RFC 9293 §3.10.7.4),
        // except a bare duplicate of our own position, which must not start an ACK loop.
        if let (Some(ts), Some(seg_ts)) = (&mut self.ts, seg.options.timestamps) {
            // RFC 7323 §4.3: TS.Recent follows an acceptable segment at RCV.NXT or before.
            if !ts_before(seg_ts.tsval, ts.recent) && seg.seq.before_eq(self.rcv_nxt) {
                ts.recent = seg_ts.tsval;
                ts.recent_age = ctx.now;
            }
        }
        let duplicate_ack = seg.payload.is_empty()
            && !seg.flags.fin()
            && seg.seq == self.rcv_nxt
            && seg.ack == self.snd_nxt;
        if !duplicate_ack {
            self.ack_due = true;
        }
        stay(Disposition::Accepted)
    }

    /// An unacceptable segment: dropped, and answered with an ACK as spaced as in every state.
    fn unacceptable(&mut self, ctx: &mut Ctx<'_>, seg: &SegIn<'_>, r: DropReason) -> Disposition {
        let span = near_span(self.rcv_wnd());
        let ok = answer_unacceptable(ctx, seg, &mut self.last_invalid_ack, self.rcv_nxt, span);
        ack_if(ok, &mut self.ack_due, r)
    }

    /// A challenge ACK (RFC 5961), within the stack's limit.
    fn challenge(&mut self, ctx: &mut Ctx<'_>, r: DropReason) -> Disposition {
        let ok = challenge_allowed(ctx, &mut self.last_invalid_ack);
        ack_if(ok, &mut self.ack_due, r)
    }

    /// The 2×MSL timer: `Some` once it has run out, with the expiry traced.
    pub(crate) fn on_timeout(&mut self, ctx: &mut Ctx<'_>) -> Option<Ended> {
        if self.deadline > ctx.now {
            return None;
        }
        ctx.trace.push(
            ctx.now,
            EventKind::Timer(TimerEvent {
                tuple: self.tuple,
                timer: TimerKind::TimeWait,
                attempt: 0,
            }),
        );
        Some(Ended {
            cause: Cause::TimeWaitExpired,
            error: None,
        })
    }

    /// The ACK TIME-WAIT owes, if any: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, with the
    /// Timestamps option when negotiated and no SACK blocks (nothing is held out of order).
    pub(crate) fn poll_transmit(&mut self, now: Instant) -> Option<TxSegment> {
        if !std::mem::take(&mut self.ack_due) {
            return None;
        }
        Some(TxSegment {
            seq: self.snd_nxt,
            ack: self.rcv_nxt,
            flags: TcpFlags::ACK,
            window: self.window,
            options: TcpOptions {
                timestamps: self.ts.map(|ts| Timestamps {
                    tsval: ts_clock(now, ts.offset),
                    tsecr: ts.recent,
                }),
                ..TcpOptions::default()
            },
            payload_off: 0,
            payload_len: 0,
            segment_size: None,
            retransmit: false,
        })
    }
}

/// TIME-WAIT lasts twice the maximum segment lifetime (RFC 9293 §3.4.2).
fn two_msl(cfg: &StackConfig) -> Duration {
    cfg.msl * 2
}
