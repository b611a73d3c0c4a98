//! SEGMENT ARRIVES for a connection (RFC 9293 §3.10.7.3 for SYN-SENT, §3.10.7.4 for the other
//! states). Each step of the RFC's processing order is a block below, in the RFC's order.

use oxtcp_wire::{TcpFlags, TcpOptions};

use super::deadline::Deadline;
use super::flags::Flags;
use super::time_wait::Ended;
use super::{ts_before, ts_clock, Connection, Ctx, PeerSyn, PAWS_IDLE};
use crate::cc::CongestionControl;
use crate::config::{RstPolicy, StackConfig, SynPolicy};
use crate::error::ConnError;
use crate::event::{Cause, DropReason};
use crate::seq::SeqNum;
use crate::state::State;
use crate::time::Instant;
use std::time::Duration;

/// An arriving segment, as the connection sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SegIn<'a> {
    pub(crate) seq: SeqNum,
    pub(crate) ack: SeqNum,
    pub(crate) flags: TcpFlags,
    pub(crate) wnd: u16,
    /// Borrowed from the parsed datagram: a copy of these 56 bytes, loaded wide just after
    /// the parser's narrow stores, stalled on every segment.
    pub(crate) options: &'a TcpOptions,
    pub(crate) payload: &'a [u8],
}

impl SegIn<'_> {
    /// SEG.LEN: payload plus one for SYN and one for FIN (RFC 9293 §3.4).
    pub(crate) fn seg_len(&self) -> u32 {
        self.payload.len() as u32 + u32::from(self.flags.syn()) + u32::from(self.flags.fin())
    }
}

/// What a connection did with an arriving segment. State changes show in the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Processed (possibly changing state, queuing data, or scheduling an ACK).
    Accepted,
    /// Dropped; nothing goes back.
    Dropped(DropReason),
    /// Dropped; an ACK goes back (unacceptable segment, challenge ACK, ACK of unsent data).
    AckSent(DropReason),
    /// Dropped; an RST goes back.
    RstSent(DropReason, RstReply),
}

/// What a SYN arriving in TIME-WAIT may do (RFC 6191).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeWaitSyn {
    /// End TIME-WAIT and hand the SYN to the listener as a new passive open.
    Reuse,
    /// Drop it silently.
    Drop,
    /// Handle it as in any synchronized state (RFC 9293 §3.10.7.4).
    Process,
}

/// An RST to send in reply, outside any connection's sequence of segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RstReply {
    /// Its sequence number.
    pub seq: SeqNum,
    /// With `Some`, the RST carries ACK and this acknowledgment number.
    pub ack: Option<SeqNum>,
}

impl Connection {
    /// Process one arriving segment.
    pub(crate) fn handle_segment(&mut self, ctx: &mut Ctx<'_>, seg: SegIn<'_>) -> Disposition {
        self.hot_stats.segs_in += 1;
        if let Some(tw) = self
            .cold
            .as_deref_mut()
            .and_then(|c| c.time_wait.as_deref_mut())
        {
            let (d, ended) = tw.handle_segment(ctx, &seg);
            if let Some(ended) = ended {
                self.end_time_wait(ctx, ended);
            }
            if d != Disposition::Accepted {
                self.cold().stats.drops += 1;
            }
            return d;
        }
        if self.handle_predicted(ctx, &seg) {
            return Disposition::Accepted;
        }
        let d = match self.state {
            State::Closed | State::Listen => Disposition::Dropped(DropReason::Closed),
            State::SynSent => self.on_segment_syn_sent(ctx, seg),
            _ => self.on_segment_synchronizing(ctx, seg),
        };
        if d == Disposition::Accepted {
            // Returned as a constant, not copied out of the value just built.
            return Disposition::Accepted;
        }
        self.cold().stats.drops += 1;
        d
    }

    /// RFC 9293 §3.10.7.3: SEGMENT ARRIVES in SYN-SENT.
    fn on_segment_syn_sent(&mut self, ctx: &mut Ctx<'_>, seg: SegIn<'_>) -> Disposition {
        if seg.flags.syn() && seg.flags.fin() && ctx.cfg.drop_syn_fin {
            // As at a listener: SYN+FIN is no way to open a connection (FreeBSD's drop_synfin).
            return Disposition::Dropped(DropReason::SynFin);
        }
        // First, check the ACK bit: it must acknowledge our SYN and nothing beyond it.
        if seg.flags.ack() && (seg.ack.before_eq(self.iss) || seg.ack.after(self.snd_max)) {
            if seg.flags.rst() {
                return Disposition::Dropped(DropReason::BadAck);
            }
            return Disposition::RstSent(
                DropReason::BadAck,
                RstReply {
                    seq: seg.ack,
                    ack: None,
                },
            );
        }
        // Second, the RST bit: with an acceptable ACK the peer refused us.
        if seg.flags.rst() {
            if seg.flags.ack() {
                self.fail(ctx, ConnError::Refused, Cause::RecvRst);
                return Disposition::Accepted;
            }
            return Disposition::Dropped(DropReason::RstIgnored);
        }
        // Fourth, the SYN bit.
        if !seg.flags.syn() {
            return Disposition::Dropped(DropReason::NoSynInSynSent);
        }
        self.on_peer_syn(ctx.cfg, PeerSyn::from_segment(&seg), ctx.now);
        self.ack_now = true;
        if seg.flags.ack() {
            self.on_ack_advance(ctx, seg.ack, seg.options.timestamps.map(|t| t.tsecr), true);
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = seg.ack;
            self.set_state(ctx, State::Established, Cause::RecvSynAck);
            // Sixth and seventh steps for any data or FIN that came with the SYN-ACK.
            let rest = SegIn {
                seq: seg.seq.add(1),
                flags: seg.flags.without_syn(),
                ..seg
            };
            self.on_text_and_fin(ctx, rest);
        } else {
            // Simultaneous open (RFC 9293 §3.5, Figure 7): SYN-SENT -> SYN-RECEIVED and our SYN
            // goes out again, now carrying ACK. Data on the SYN is not acknowledged, so the
            // peer resends it once synchronized.
            self.snd_nxt = self.iss;
            self.rtt_probe_sent = Deadline::NONE;
            self.set_state(ctx, State::SynReceived, Cause::RecvSyn);
        }
        Disposition::Accepted
    }

    /// RFC 9293 §3.10.7.4: SEGMENT ARRIVES in SYN-RECEIVED and the synchronized states.
    fn on_segment_synchronizing(&mut self, ctx: &mut Ctx<'_>, mut seg: SegIn<'_>) -> Disposition {
        if !seg.flags.ack() && !seg.flags.rst() && !seg.flags.syn() {
            // Deviation (as Linux's tcp_rcv_state_process, and FreeBSD's tcp_twcheck in
            // TIME-WAIT): a segment with none of ACK, RST and SYN is dropped silently before
            // the sequence check. RFC 9293's fifth step drops it too, but an out-of-window one
            // would first draw an ACK, which answers null and FIN scans.
            let reason = if seg.flags.fin() {
                DropReason::FinWithoutAck
            } else {
                DropReason::NoFlags
            };
            return Disposition::Dropped(reason);
        }
        let bare = seg.payload.is_empty() && !seg.flags.fin() && !seg.flags.syn();
        let mut seg_wnd_unscaled = seg.flags.syn();
        // Deviation (as Linux): in a simultaneous open the peer's SYN-ACK repeats the SYN we
        // already hold, so the RFC's first check would reject it and the open would stall until
        // a retransmission. Treat it as the ACK of our SYN, with its SYN already consumed.
        if self.state == State::SynReceived
            && !self.flags.has(Flags::PASSIVE)
            && seg.flags.syn()
            && seg.flags.ack()
            && seg.seq == self.irs
        {
            seg.flags = seg.flags.without_syn();
            seg.seq = seg.seq.add(1);
            seg_wnd_unscaled = true;
        }
        // RFC 7323 §2.2: SEG.WND of a SYN is never scaled; every other one is.
        let seg_wnd = if seg_wnd_unscaled {
            u32::from(seg.wnd)
        } else {
            u32::from(seg.wnd) << self.snd_wind_shift
        };

        // RFC 7323 §3.2, §5.3 R1: with timestamps negotiated, a non-RST segment without one is
        // dropped silently, and PAWS drops one whose TSval is older than TS.Recent, with an ACK
        // in reply, before the sequence number is even looked at.
        let seg_ts = seg.options.timestamps;
        if self.flags.has(Flags::TS_OK) && !seg.flags.rst() {
            match paws(
                &mut self.ts_recent,
                &mut self.ts_recent_age,
                ctx.now,
                seg_ts,
            ) {
                Some(DropReason::Paws) => {
                    return self.ack_unacceptable(ctx, &seg, DropReason::Paws)
                }
                Some(r) => return Disposition::Dropped(r),
                None => {}
            }
        }

        // First, check the sequence number.
        let rcv_wnd = self.rcv_wnd();
        let seg_len = seg.seg_len();
        let mut old_duplicate = false;
        let acceptable = seq_acceptable(&seg, self.rcv_nxt, rcv_wnd);
        if !acceptable {
            // "If the RCV.WND is zero, no segments will be acceptable, but special allowance
            // should be made to accept valid ACKs, URGs, and RSTs": a zero-window probe at
            // RCV.NXT still has its ACK processed; its data is not taken.
            if rcv_wnd == 0 && seg.seq == self.rcv_nxt && !seg.flags.syn() {
                seg.payload = &[];
                seg.flags = seg.flags.without_fin();
                self.ack_now = true;
            } else if seg.flags.rst() {
                return Disposition::Dropped(DropReason::OutOfWindow);
            } else if seg.flags.ack()
                && !seg.flags.syn()
                && seg.seq.add(seg_len).before_eq(self.rcv_nxt)
            {
                // An old duplicate: its text and FIN are dropped and an ACK goes back, but its
                // ACK field is still processed, as in BSD ("keep on processing for RST or
                // ACK"). A peer that numbers a bare ACK from before its own FIN still gets its
                // acknowledgment of our FIN through. The RFC 5961 ACK checks below still apply.
                let _ = self.ack_unacceptable(ctx, &seg, DropReason::OutOfWindow);
                if self.flags.has(Flags::SACK_OK) && !seg.payload.is_empty() {
                    // RFC 2883 §4: the next ACK reports the duplicate range first.
                    let end = seg.seq.add(seg.payload.len() as u32);
                    self.cold().sack_report.on_duplicate(seg.seq, end, None);
                }
                seg.payload = &[];
                seg.flags = seg.flags.without_fin();
                old_duplicate = true;
            } else {
                return self.ack_unacceptable(ctx, &seg, DropReason::OutOfWindow);
            }
        }
        if self.flags.has(Flags::SACK_OK)
            && !seg.flags.syn()
            && !seg.flags.rst()
            && !seg.payload.is_empty()
            && seg.seq.before(self.rcv_nxt)
        {
            // RFC 2883 §4.1: the part below RCV.NXT of a partly duplicate segment is
            // reported as a D-SACK too; the ACK goes at once so the report is not stale.
            let end = seg.seq.add(seg.payload.len() as u32);
            let end = if end.before(self.rcv_nxt) {
                end
            } else {
                self.rcv_nxt
            };
            self.cold().sack_report.on_duplicate(seg.seq, end, None);
            self.ack_now = true;
        }
        let seg = self.trim_to_window(seg, rcv_wnd);

        // Second, check the RST bit.
        if seg.flags.rst() {
            // RFC 5961 §3.2: only an RST at exactly RCV.NXT resets; elsewhere in the window it
            // draws a challenge ACK, so a blind attacker must guess the exact number.
            if ctx.cfg.rst_policy == RstPolicy::Rfc5961 && seg.seq != self.rcv_nxt {
                return self.challenge_ack(ctx, DropReason::ChallengeAckRst);
            }
            match self.state {
                State::SynReceived => self.fail(ctx, ConnError::Refused, Cause::RecvRst),
                // Deviation: RFC 9293 reports "connection reset" only up to CLOSE-WAIT. In
                // CLOSING and LAST-ACK our FIN, and maybe data before it, is still unacknowledged,
                // so the close did not complete; Linux and FreeBSD report ECONNRESET there too.
                State::Established
                | State::FinWait1
                | State::FinWait2
                | State::CloseWait
                | State::Closing
                | State::LastAck => self.fail(ctx, ConnError::Reset, Cause::RecvRst),
                _ => self.set_state(ctx, State::Closed, Cause::RecvRst),
            }
            return Disposition::Accepted;
        }

        // Fourth, check the SYN bit (the third, security, does not apply).
        if seg.flags.syn() {
            if ctx.cfg.syn_policy == SynPolicy::Rfc5961 {
                // RFC 5961 §4.2: challenge ACK; a peer that really restarted answers with an
                // RST at RCV.NXT.
                return self.challenge_ack(ctx, DropReason::ChallengeAckSyn);
            }
            // RFC 793: a SYN in the window is an error: reset the connection. The RST carries
            // our position in both directions (<SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>), as
            // FreeBSD's does, so the peer can check it against its own.
            let rst = RstReply {
                seq: self.snd_nxt,
                ack: Some(self.rcv_nxt),
            };
            self.fail(ctx, ConnError::Reset, Cause::RecvSynInWindow);
            return Disposition::RstSent(DropReason::ChallengeAckSyn, rst);
        }

        // Fifth, check the ACK field.
        if !seg.flags.ack() {
            return Disposition::Dropped(DropReason::NoAck);
        }
        if self.state == State::SynReceived {
            if !(seg.ack.after(self.snd_una) && seg.ack.before_eq(self.snd_max)) {
                return Disposition::RstSent(
                    DropReason::BadAck,
                    RstReply {
                        seq: seg.ack,
                        ack: None,
                    },
                );
            }
            self.snd_wnd = seg_wnd;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = seg.ack;
            self.set_state(ctx, State::Established, Cause::RecvAckOfSyn);
            if self.flags.has(Flags::FIN_QUEUED) {
                // CLOSE was called in SYN-RECEIVED: the queued FIN goes now.
                self.set_state(ctx, State::FinWait1, Cause::Close);
            }
        }
        if seg.ack.after(self.snd_max) {
            // "If the ACK acks something not yet sent, send an ACK, drop the segment". RFC 5961
            // §5.2 makes that ACK one end of its acceptable range, whose ACK is throttled as a
            // challenge ACK (§7): otherwise an in-window forged data segment with a wild ACK
            // number would draw an ACK every time. Under RFC 793 rules it is spaced like the
            // other ACKs answering unacceptable segments.
            if ctx.cfg.rst_policy == RstPolicy::Rfc5961 {
                return self.challenge_ack(ctx, DropReason::AckTooNew);
            }
            return self.ack_unacceptable(ctx, &seg, DropReason::AckTooNew);
        }
        if ctx.cfg.rst_policy == RstPolicy::Rfc5961
            && seg.ack.before(self.snd_una.sub(self.max_snd_wnd))
        {
            // RFC 5961 §5.2: an ACK too old to be real.
            return self.challenge_ack(ctx, DropReason::AckTooOld);
        }
        self.update_ts_recent(ctx.now, seg_ts, seg.seq, old_duplicate);
        // RFC 5681 §2: a duplicate ACK carries no data, SYN or FIN, leaves the window as it
        // was and acknowledges SND.UNA while data is outstanding. The answer to a zero-window
        // probe is not one: the probe byte is outstanding but the window is shut.
        let duplicate = bare
            && !old_duplicate
            && seg.ack == self.snd_una
            && seg_wnd == self.snd_wnd
            && seg_wnd > 0
            && self.snd_una != self.snd_max;
        let grow = self.on_ack_for_recovery(ctx, seg.ack, seg.options, duplicate);
        if seg.ack.after(self.snd_una) {
            self.on_ack_advance(ctx, seg.ack, seg_ts.map(|t| t.tsecr), grow);
        }
        // Any ACK from the peer proves it is alive: zero-window probing goes on without limit.
        // The probe interval keeps backing off until the window opens (below).
        if let Some(c) = self.cold.as_deref_mut() {
            c.persist_probes = 0;
        }
        // Window update, guarded by SND.WL1/SND.WL2 so an old segment cannot shrink it.
        if self.may_update_window(seg.seq, seg.ack, old_duplicate) {
            self.snd_wnd = seg_wnd;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = seg.ack;
        }
        let mut persisting = false;
        if let (true, Some(c)) = (self.snd_wnd > 0, self.cold.as_deref_mut()) {
            c.persist_backoff = 0;
            persisting = c.persist_at.take().is_some();
        }
        if persisting && self.snd_una != self.snd_max {
            // The window opened: leave persist mode; what is in flight is timed again.
            self.rto_at = Deadline::at(ctx.now + self.rtt.rto());
        }
        let our_fin_acked = self.is_fin_acked();
        match self.state {
            State::Closing if our_fin_acked => {
                self.enter_time_wait(ctx, Cause::RecvAckOfFin);
                return Disposition::Accepted;
            }
            // "If the ACK does not acknowledge our FIN, ignore the segment."
            State::Closing => return Disposition::Accepted,
            State::LastAck if our_fin_acked => {
                self.set_state(ctx, State::Closed, Cause::RecvAckOfFin);
                return Disposition::Accepted;
            }
            _ => {}
        }

        // Sixth (URG is not supported), seventh and eighth.
        self.on_text_and_fin(ctx, seg);

        // FIN-WAIT-1 -> FIN-WAIT-2 once our FIN is acknowledged. Checked after the FIN step so
        // that a FIN+ACK takes FIN-WAIT-1 straight to TIME-WAIT (lifecycle C6).
        if self.state == State::FinWait1 && our_fin_acked {
            self.set_state(ctx, State::FinWait2, Cause::RecvAckOfFin);
            if self.flags.has(Flags::RELEASED) {
                self.arm_fin_wait_2(ctx.now, ctx.cfg);
            }
        }
        Disposition::Accepted
    }

    /// What a SYN arriving for this connection may do: only TIME-WAIT judges (RFC 6191).
    pub(crate) fn time_wait_syn(&self, cfg: &StackConfig, seg: &SegIn<'_>) -> TimeWaitSyn {
        match self.cold.as_deref().and_then(|c| c.time_wait.as_deref()) {
            Some(tw) => tw.syn_verdict(cfg, seg),
            None => TimeWaitSyn::Process,
        }
    }

    /// TIME-WAIT is over (its timer, an RST or SYN it let end it, or RFC 6191 reuse): the
    /// connection is CLOSED and the 4-tuple free.
    pub(crate) fn end_time_wait(&mut self, ctx: &mut Ctx<'_>, ended: Ended) {
        if let Some(c) = self.cold.as_deref_mut() {
            c.time_wait = None;
        }
        if ended.error.is_some() {
            self.error = ended.error;
        }
        self.set_state(ctx, State::Closed, ended.cause);
    }

    /// Leave TIME-WAIT at once because the stack holds `max_time_wait` entries already; the
    /// ACK it owed (of the peer's FIN) still goes, from CLOSED.
    pub(crate) fn skip_time_wait(&mut self, ctx: &mut Ctx<'_>) {
        let owe = self.ack_now
            || self
                .cold
                .as_deref()
                .and_then(|c| c.time_wait.as_deref())
                .is_some_and(|tw| tw.owes_ack());
        let ended = Ended {
            cause: Cause::TimeWaitOverflow,
            error: None,
        };
        self.end_time_wait(ctx, ended);
        self.ack_now = owe;
    }

    /// After data arrived: forget the SACK report's points that RCV.NXT has passed, and free
    /// the cold part if that emptied the report and nothing else holds it. Out of line: only
    /// a connection with a cold part gets here.
    #[inline(never)]
    fn prune_sack_report(&mut self) {
        let ooo = self.ooo_seq_ranges();
        if let Some(c) = self.cold.as_deref_mut() {
            let reporting = !c.sack_report.is_empty();
            c.sack_report.forget_passed(&ooo);
            if reporting && c.sack_report.is_empty() {
                self.release_cold_at_rest();
            }
        }
    }

    /// Drop a segment with a challenge ACK (RFC 5961 §3.2, §4.2, §5.2), within the stack's
    /// limit (`challenge_allowed`).
    fn challenge_ack(&mut self, ctx: &mut Ctx<'_>, reason: DropReason) -> Disposition {
        let mut last = self.last_invalid_ack.get();
        let ok = challenge_allowed(ctx, &mut last);
        self.last_invalid_ack = last.into();
        ack_if(ok, &mut self.ack_now, reason)
    }

    /// Drop an unacceptable segment (out of window, old duplicate, PAWS) with the ACK RFC 9293
    /// §3.10.7.4 asks for, spaced as `answer_unacceptable` says.
    fn ack_unacceptable(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &SegIn<'_>,
        reason: DropReason,
    ) -> Disposition {
        let span = near_span(self.recv_buf.capacity() as u32);
        let mut last = self.last_invalid_ack.get();
        let ok = answer_unacceptable(ctx, seg, &mut last, self.rcv_nxt, span);
        self.last_invalid_ack = last.into();
        ack_if(ok, &mut self.ack_now, reason)
    }

    /// RFC 7323 §4.3 (§5.3 R3): "If SEG.TSval >= TS.Recent and SEG.SEQ <= Last.ACK.sent,
    /// then SEG.TSval is copied to TS.Recent": the timestamp echoed is that of the segment that
    /// advanced the left edge, never of one that arrived out of order. Only a segment that
    /// passed the sequence and ACK checks counts, and not an old duplicate: a forged segment
    /// that is dropped must not move TS.Recent, or the real peer's next segments fail PAWS
    /// (seen in `oxtcp sim attack blind-data`: 58 of 100 connections stalled).
    pub(super) fn update_ts_recent(
        &mut self,
        now: Instant,
        seg_ts: Option<oxtcp_wire::Timestamps>,
        seq: SeqNum,
        old_duplicate: bool,
    ) {
        if let (true, Some(ts), false) = (self.flags.has(Flags::TS_OK), seg_ts, old_duplicate) {
            if !ts_before(ts.tsval, self.ts_recent) && seq.before_eq(self.last_ack_sent) {
                self.ts_recent = ts.tsval;
                self.ts_recent_age = now;
            }
        }
    }

    /// RFC 9293 §3.10.7.4 (fifth step): may a segment numbered `seq` that acknowledges `ack`
    /// update the send window? Only one newer than the segment that last did (SND.WL1,
    /// SND.WL2), so an old segment cannot shrink it; an old duplicate's sequence number does
    /// not count as newer.
    pub(super) fn may_update_window(&self, seq: SeqNum, ack: SeqNum, old_duplicate: bool) -> bool {
        !old_duplicate && self.snd_wl1.before(seq)
            || (self.snd_wl1 == seq && self.snd_wl2.before_eq(ack))
    }

    /// Cut the parts of an acceptable segment that lie outside the window (RFC 9293 §3.10.7.4:
    /// "segments with higher beginning sequence numbers may be held", the rest is trimmed).
    fn trim_to_window<'a>(&self, mut seg: SegIn<'a>, rcv_wnd: u32) -> SegIn<'a> {
        if seg.seq.before(self.rcv_nxt) {
            let mut cut = self.rcv_nxt.since(seg.seq);
            if seg.flags.syn() {
                seg.flags = seg.flags.without_syn();
                cut -= 1;
                seg.seq = seg.seq.add(1);
            }
            let n = (cut as usize).min(seg.payload.len());
            seg.payload = &seg.payload[n..];
            seg.seq = seg.seq.add(n as u32);
            if seg.seq.before(self.rcv_nxt) {
                // Only an old FIN remained.
                seg.flags = seg.flags.without_fin();
                seg.seq = self.rcv_nxt;
            }
        }
        let room = rcv_wnd.saturating_sub(seg.seq.since(self.rcv_nxt)) as usize;
        if seg.payload.len() >= room && seg.flags.fin() {
            // The FIN would sit at or past the right edge of the window.
            seg.flags = seg.flags.without_fin();
        }
        if seg.payload.len() > room {
            seg.payload = &seg.payload[..room];
        }
        seg
    }

    /// Seventh and eighth steps: segment text, then the FIN bit.
    pub(super) fn on_text_and_fin(&mut self, ctx: &mut Ctx<'_>, seg: SegIn<'_>) {
        if !seg.payload.is_empty()
            && matches!(
                self.state,
                State::Established | State::FinWait1 | State::FinWait2
            )
        {
            let off = seg.seq.since(self.rcv_nxt) as usize;
            let len = seg.payload.len();
            let had_gap = self.recv_buf.ooo_bytes() > 0;
            if self.flags.has(Flags::SACK_OK)
                && off > 0
                && self.recv_buf.ooo_holding(off, off + len).is_some()
            {
                // RFC 2883 §4: all of it is held already; the D-SACK names the range that
                // holds it second.
                let end = seg.seq.add(len as u32);
                self.cold()
                    .sack_report
                    .on_duplicate(seg.seq, end, Some(seg.seq));
            }
            if let Some(o) = ctx.bufs.offer.as_mut() {
                o.direct_to(ctx.id);
            }
            match self.recv_buf.insert(off, seg.payload, ctx.bufs) {
                super::recv_buf::Insert::Advanced(n) => {
                    self.rcv_nxt = self.rcv_nxt.add(n as u32);
                    self.hot_stats.bytes_received += n as u64;
                }
                super::recv_buf::Insert::Full => self.cold().stats.drops += 1,
            }
            if self.flags.has(Flags::SACK_OK) {
                if off > 0 {
                    self.cold().sack_report.on_ooo_segment(seg.seq);
                }
                if self.cold.is_some() {
                    self.prune_sack_report();
                }
            }
            // RFC 5681 §4.2: out-of-order data draws an immediate (duplicate) ACK, and so does
            // data that fills all or part of a gap; other in-order data may be delayed.
            let now = off > 0
                || had_gap
                || self.delack.on_in_order_data(
                    ctx.now,
                    ctx.cfg.delayed_ack,
                    ctx.cfg.quick_acks,
                    len,
                    self.full_payload(),
                );
            if now {
                self.ack_now = true;
            }
        }
        if seg.flags.fin() && !self.state.has_received_fin() {
            let fin_at = seg.seq.add(seg.payload.len() as u32);
            if fin_at.after(self.rcv_nxt) {
                self.set_ooo_fin(Some(fin_at));
                self.ack_now = true;
            } else if fin_at == self.rcv_nxt {
                self.set_ooo_fin(Some(fin_at));
            }
        }
        if self.ooo_fin() == Some(self.rcv_nxt) {
            self.on_fin(ctx);
        }
    }

    /// Eighth step: the peer's FIN is in sequence.
    fn on_fin(&mut self, ctx: &mut Ctx<'_>) {
        self.set_ooo_fin(None);
        self.rcv_nxt = self.rcv_nxt.add(1);
        self.ack_now = true;
        match self.state {
            State::SynReceived | State::Established => {
                self.set_state(ctx, State::CloseWait, Cause::RecvFin)
            }
            State::FinWait1 if self.is_fin_acked() => self.enter_time_wait(ctx, Cause::RecvFin),
            State::FinWait1 => {
                self.set_state(ctx, State::Closing, Cause::RecvFin);
                // Deviation (as BSD): in a simultaneous close the peer's FIN did not acknowledge
                // ours, which may have been lost; the ACK of its FIN carries our FIN again
                // (<SEQ=FIN><CTL=FIN,ACK>) rather than a bare ACK, costing nothing and saving a
                // retransmission timeout if it was.
                if let Some(fin) = self.fin_seq() {
                    if self.snd_nxt == fin.add(1) {
                        self.snd_nxt = fin;
                        // Karn's rule: a resent FIN cannot be timed.
                        if self.rtt_probe().is_some_and(|(end, _)| end.after(fin)) {
                            self.rtt_probe_sent = Deadline::NONE;
                        }
                    }
                }
            }
            State::FinWait2 => self.enter_time_wait(ctx, Cause::RecvFin),
            _ => {}
        }
    }

    /// Our FIN has been sent and acknowledged.
    pub(crate) fn is_fin_acked(&self) -> bool {
        self.fin_seq().is_some_and(|f| self.snd_una.after(f))
    }

    /// SND.UNA moves forward to `ack` (RFC 9293 §3.10.7.4 fifth step; RFC 6298 §5.2–5.3);
    /// `tsecr` is the segment's echoed timestamp, if it carried one; `grow` lets cwnd grow
    /// for the data acknowledged (not during loss recovery).
    pub(crate) fn on_ack_advance(
        &mut self,
        ctx: &mut Ctx<'_>,
        ack: SeqNum,
        tsecr: Option<u32>,
        grow: bool,
    ) {
        let data_start = self.data_start();
        let data_acked = if ack.after(data_start) {
            (ack.since(data_start) as usize).min(self.send_buf.len())
        } else {
            0
        };
        self.send_buf.consume(data_acked, ctx.bufs);
        self.hot_stats.bytes_acked += data_acked as u64;
        self.snd_una = ack;
        if self.snd_nxt.before(ack) {
            self.snd_nxt = ack;
        }
        let sample = self.rtt_sample(ctx.now, ack, tsecr);
        if let Some(rtt) = sample {
            self.rtt.on_sample(rtt, super::rtt::RtoBounds::of(ctx.cfg));
        }
        // RFC 5681 §3.1: cwnd grows for ACKs of new data only (the ACK of a SYN or FIN
        // acknowledges none); how it grows is the algorithm's. RFC 5681 §3.2 / RFC 6675 §5: it
        // does not grow while recovery runs.
        if data_acked > 0 && grow {
            let growth = data_acked as u32;
            let initial_slow_start = self.cc.ssthresh() == u32::MAX;
            if let (true, Some(h)) = (initial_slow_start, self.hystart.as_mut()) {
                if h.on_ack(ack, self.snd_nxt, sample) {
                    self.cc.exit_slow_start(ctx.now);
                    self.hystart = None;
                }
            }
            self.cc.on_ack(ctx.now, growth, self.rtt.srtt());
        }
        if let Some(c) = self.cold.as_deref_mut() {
            c.retries = 0;
        }
        self.rto_at = if self.snd_una == self.snd_max {
            Deadline::NONE
        } else {
            Deadline::at(ctx.now + self.rtt.rto())
        };
    }

    /// The RTT sample an ACK advancing SND.UNA to `ack` gives, if any. With timestamps
    /// (RTTM, RFC 7323 §4.1) it comes from the echoed TSval: a retransmission carries a new
    /// TSval, so the sample is unambiguous and Karn's rule is not needed. Without, from the
    /// one timed segment, which Karn's rule dropped if it was sent again (RFC 6298 §3).
    fn rtt_sample(&mut self, now: Instant, ack: SeqNum, tsecr: Option<u32>) -> Option<Duration> {
        if self.flags.has(Flags::TS_OK) {
            self.rtt_probe_sent = Deadline::NONE;
            let ticks = ts_clock(now, self.ts_offset).wrapping_sub(tsecr?);
            // An echo from the future or from before the connection is no sample.
            return ((ticks as i32) >= 0).then(|| Duration::from_millis(u64::from(ticks)));
        }
        let (end, sent) = self.rtt_probe()?;
        if ack.after_eq(end) {
            self.rtt_probe_sent = Deadline::NONE;
            return Some(now - sent);
        }
        None
    }

    /// Sequence number of the first byte in the send buffer.
    pub(crate) fn data_start(&self) -> SeqNum {
        if self.snd_una == self.iss {
            self.iss.add(1)
        } else {
            self.snd_una
        }
    }
}

trait FlagsExt {
    fn without_syn(self) -> Self;
    fn without_fin(self) -> Self;
}

impl FlagsExt for TcpFlags {
    fn without_syn(mut self) -> Self {
        self.remove(TcpFlags::SYN);
        self
    }
    fn without_fin(mut self) -> Self {
        self.remove(TcpFlags::FIN);
        self
    }
}

/// RFC 9293 §3.10.7.4, first step: is the segment acceptable to a receive window of `rcv_wnd`
/// at `rcv_nxt`? (The four cases of its table, by SEG.LEN and RCV.WND.) A SYN is also judged by
/// its own position: one before RCV.NXT is old even when a FIN or text after it reaches into
/// the window, and must not be trimmed away unnoticed (the RFC's fourth step assumes the first
/// one caught it).
pub(super) fn seq_acceptable(seg: &SegIn<'_>, rcv_nxt: SeqNum, rcv_wnd: u32) -> bool {
    let in_window = match (seg.seg_len(), rcv_wnd) {
        (0, 0) => seg.seq == rcv_nxt,
        (0, _) => seg.seq.in_window(rcv_nxt, rcv_wnd),
        (_, 0) => false,
        (n, _) => {
            seg.seq.in_window(rcv_nxt, rcv_wnd) || seg.seq.add(n - 1).in_window(rcv_nxt, rcv_wnd)
        }
    };
    in_window && !(seg.flags.syn() && !seg.flags.rst() && seg.seq.before(rcv_nxt))
}

/// May a challenge ACK go (RFC 5961 §3.2, §4.2, §5.2), given when this connection last
/// answered an unacceptable segment (`last`)? RFC 5961 §7 asks for a limit so an attacker
/// cannot turn spoofed segments into a flood of ACKs. As in Linux (tcp_send_challenge_ack
/// applies tcp_invalid_ratelimit first): at most one per `invalid_ack_interval` per
/// connection, and `challenge_ack_limit` a second stack-wide.
pub(crate) fn challenge_allowed(ctx: &mut Ctx<'_>, last: &mut Option<Instant>) -> bool {
    ctx.limits.allow_challenge(
        ctx.now,
        ctx.cfg.challenge_ack_limit,
        last,
        ctx.cfg.invalid_ack_interval,
    )
}

/// RFC 7323 §3.2, §5.3 R1: the timestamp checks of a non-RST segment once timestamps are
/// negotiated. `MissingTimestamp`: it carries none (dropped silently); `Paws`: its TSval is
/// older than TS.Recent (dropped with an ACK). RFC 7323 §5.5: after 24 idle days TS.Recent is
/// no longer valid, and the segment's TSval takes its place instead of being judged against it.
pub(super) fn paws(
    recent: &mut u32,
    age: &mut Instant,
    now: Instant,
    seg_ts: Option<oxtcp_wire::Timestamps>,
) -> Option<DropReason> {
    let Some(ts) = seg_ts else {
        return Some(DropReason::MissingTimestamp);
    };
    if ts_recent_expired(now, *age) {
        *recent = ts.tsval;
        *age = now;
    }
    ts_before(ts.tsval, *recent).then_some(DropReason::Paws)
}

/// RFC 7323 §5.5: TS.Recent, last set at `age`, is no longer valid after 24 idle days.
pub(super) fn ts_recent_expired(now: Instant, age: Instant) -> bool {
    now.saturating_duration_since(age) > PAWS_IDLE
}

/// The disposition of a segment dropped with an ACK in answer when `ok` (the limits allowed
/// one; `ack` is the entry's ACK-owed flag) and silently when not.
pub(crate) fn ack_if(ok: bool, ack: &mut bool, reason: DropReason) -> Disposition {
    if ok {
        *ack = true;
        Disposition::AckSent(reason)
    } else {
        Disposition::Dropped(reason)
    }
}

/// How far from RCV.NXT, either way, a real peer's data may lie for a receive buffer (or
/// window) of `buffer` bytes: twice the most we may have offered, at least twice 64 KiB.
pub(crate) fn near_span(buffer: u32) -> u32 {
    buffer.max(u32::from(u16::MAX)).saturating_mul(2)
}

/// May an unacceptable segment be answered with an ACK, given when this connection last
/// answered one (`last`)? RFC 9293 §3.10.7.4 asks for the ACK; deviations bound it:
///
/// - as Linux's tcp_oow_rate_limited, a segment without data, or with SYN, draws it at most
///   once per `invalid_ack_interval` per connection, so two endpoints that each find the
///   other's ACKs unacceptable do not trade them forever;
/// - a data segment is answered every time while it lies within `span` (`near_span`) of
///   `rcv_nxt` on either side, where a real peer's retransmission or overrun would be. Farther off it can only be forged, and it is spaced
///   like a bare ACK. Answering each one would let a blind attacker make us send an ACK per
///   forged segment, which a sender without SACK takes for duplicate ACKs (measured with
///   `oxtcp sim attack malformed --sack off`). Linux answers every data segment.
pub(crate) fn answer_unacceptable(
    ctx: &mut Ctx<'_>,
    seg: &SegIn<'_>,
    last: &mut Option<Instant>,
    rcv_nxt: SeqNum,
    span: u32,
) -> bool {
    let near = seg.seq.in_window(rcv_nxt.sub(span), span.saturating_mul(2));
    let limited = seg.seg_len() == 0 || seg.flags.syn() || !near;
    !limited
        || ctx
            .limits
            .allow_invalid(ctx.now, last, ctx.cfg.invalid_ack_interval)
}
