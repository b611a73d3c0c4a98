//! Loss recovery driven by acknowledgments: duplicate ACKs (RFC 5681 §3.2), limited transmit
//! (RFC 3042), fast retransmit and fast recovery with SACK by RFC 6675 (pipe, NextSeg, rescue
//! retransmission) and without SACK by RFC 6582 (NewReno partial ACKs), and the
//! recognition of D-SACKs (RFC 2883).
//!
//! Congestion control is told once per episode (`on_congestion_event`) and sets cwnd to the
//! new ssthresh; this file decides *what* may be sent against that cwnd. Without SACK,
//! RFC 6582's window inflation is kept here as a credit against FlightSize instead of being
//! added to cwnd, so the congestion controller never sees an inflated window.

use oxtcp_wire::TcpOptions;

use super::flags::Flags;
use super::scoreboard::DUP_THRESH;
use super::{Connection, Ctx};
use crate::cc::CongestionControl;
use crate::seq::SeqNum;

/// Per-connection loss-recovery state.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Recovery {
    /// Duplicate ACKs in a row: RFC 5681 §2's definition without SACK; with SACK, only
    /// those that SACK new data (RFC 6675 §2).
    pub(crate) dupacks: u32,
    /// In fast recovery until SND.UNA reaches this: RFC 6675's RecoveryPoint, RFC 6582's
    /// `recover`. `None` outside recovery.
    pub(crate) point: Option<SeqNum>,
    /// After a retransmission timeout no fast recovery may begin until SND.UNA reaches this
    /// (RFC 6675 §5.1, RFC 6582 §3.2 step 1).
    pub(crate) rto_point: Option<SeqNum>,
    /// HighRxt: one past the highest byte retransmitted in this episode.
    pub(crate) high_rxt: SeqNum,
    /// RescueRxt (RFC 6675 §4 rule 4): one rescue retransmission per episode.
    pub(crate) rescue_rxt: Option<SeqNum>,
    /// Bytes known to have left the network during recovery by duplicate ACKs alone (three
    /// segments on entry, one per further duplicate ACK, less what partial ACKs acknowledge,
    /// RFC 6582 §3.2 steps 3–5): the pipe without SACK information.
    pub(crate) credit: u32,
    /// The segment at SND.UNA is owed a retransmission now, whatever cwnd says (fast
    /// retransmit, RFC 5681 §3.2 step 4; a NewReno partial ACK, RFC 6582 §3.2 step 5).
    pub(crate) rxt_una: bool,
    /// The receiver has reported SACK blocks since this connection's last timeout or the
    /// episode began.
    pub(crate) sack_seen: bool,
    /// The last retransmission of the segment at SND.UNA: its sequence number and SND.MAX
    /// when it went. Once data sent after it is SACKed while SND.UNA still stands there, that
    /// retransmission was lost too.
    pub(crate) una_rxt: Option<(SeqNum, SeqNum)>,
}

impl Recovery {
    /// No episode, nothing seen (`Default`, usable in a const).
    pub(crate) const IDLE: Recovery = Recovery {
        dupacks: 0,
        point: None,
        rto_point: None,
        high_rxt: SeqNum::new(0),
        rescue_rxt: None,
        credit: 0,
        rxt_una: false,
        sack_seen: false,
        una_rxt: None,
    };
}

/// A retransmission chosen by NextSeg: `[seq, end)` of sequence space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rxt {
    pub(crate) seq: SeqNum,
    pub(crate) end: SeqNum,
    /// RFC 6675 rule 4: does not move HighRxt.
    pub(crate) rescue: bool,
}

impl Connection {
    /// SMSS for loss recovery and congestion control: the payload of a full-sized segment
    /// (the MSS less the options every segment carries), as the sender counts it.
    pub(crate) fn smss(&self) -> u32 {
        self.full_payload() as u32
    }

    /// Whether a fast-recovery episode is running.
    pub(crate) fn in_recovery(&self) -> bool {
        self.cold
            .as_deref()
            .is_some_and(|c| c.recovery.point.is_some())
    }

    /// The ACK processing of the fifth step that concerns loss recovery, for an acceptable
    /// ACK not beyond SND.MAX, called before SND.UNA and the send window are updated.
    /// `duplicate` says whether it is a duplicate ACK by RFC 5681 §2: no data, no SYN or
    /// FIN, the same window, acknowledging SND.UNA while data is outstanding; with SACK it
    /// counts only if it also SACKs new data (RFC 6675 §2). Returns whether
    /// cwnd may grow for the data this ACK acknowledges: not while recovery runs, nor for
    /// the ACK that ends it (RFC 6582 §3.2 step 6 leaves cwnd at ssthresh).
    // Inlined, so that the common case costs its caller a few compares, not a call.
    #[inline]
    pub(crate) fn on_ack_for_recovery(
        &mut self,
        ctx: &mut Ctx<'_>,
        ack: SeqNum,
        options: &TcpOptions,
        duplicate: bool,
    ) -> bool {
        let sacks = self.flags.has(Flags::SACK_OK) && !options.sack_blocks.is_empty();
        if self.cold.is_none()
            && !sacks
            && (ack.after(self.snd_una) || !duplicate || self.flags.has(Flags::SACK_OK))
        {
            // Nothing was ever lost, reordered or SACKed, and this ACK changes none of it:
            // with the recovery state all at its defaults, every path below would leave it
            // so. The common case, kept off the cold box.
            return true;
        }
        self.recovery_on_ack(ctx, ack, options, sacks, duplicate)
    }

    /// `on_ack_for_recovery` past its common case; `sacks`: the ACK carries SACK blocks
    /// that count.
    #[inline(never)]
    fn recovery_on_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        ack: SeqNum,
        options: &TcpOptions,
        sacks: bool,
        duplicate: bool,
    ) -> bool {
        let grow = !self.in_recovery();
        let smss = self.smss();
        let sack_ok = self.flags.has(Flags::SACK_OK);
        let (snd_una, snd_max) = (self.snd_una, self.snd_max);
        let c = self.cold.get_or_insert_with(Box::default);
        let mut newly_sacked = 0;
        if sacks {
            let cum = snd_una.max(ack);
            let update = c
                .scoreboard
                .on_sack(cum, snd_max, options.sack_blocks.as_slice());
            newly_sacked = update.newly_sacked;
            if newly_sacked > 0 {
                c.recovery.sack_seen = true;
            }
            if let Some((l, _)) = update.dsack {
                c.stats.dsacks_received += 1;
                // A duplicate of data we retransmitted: the original was only late. RFC 2883
                // §5 leaves the response open; it is counted as reordering seen.
                if l.before(c.recovery.high_rxt) || c.stats.retransmits > 0 {
                    c.stats.reordering_seen += 1;
                }
            }
        }
        // Lost retransmission detection (as Linux's, before RACK; RFC 6675 has none): the
        // retransmission at SND.UNA went before SND.MAX was `sent_before`; data sent after it
        // has been SACKed and it still is not acknowledged, so it was lost as well (without
        // reordering, it would have arrived first). Resend it now rather than wait for the
        // retransmission timer.
        if let Some((seq, sent_before)) = c.recovery.una_rxt {
            let overtaken = c
                .scoreboard
                .high_sacked()
                .is_some_and(|h| h.after(sent_before));
            if c.recovery.point.is_some() && ack == seq && seq == snd_una && overtaken {
                c.recovery.una_rxt = None;
                c.recovery.rxt_una = true;
                c.stats.lost_retransmits += 1;
            }
        }
        if ack.after(snd_una) {
            let acked = ack.since(snd_una);
            c.scoreboard.advance(ack);
            if c.scoreboard.range_at(ack).is_some() {
                // The cumulative ACK stops at the start of data the receiver said it held: it
                // has thrown that data away (reneged, RFC 2018 §8). Trust no SACK information.
                c.scoreboard.clear();
                c.stats.sack_reneging += 1;
            }
            if c.recovery.rto_point.is_some_and(|p| ack.after_eq(p)) {
                c.recovery.rto_point = None;
            }
            match c.recovery.point {
                Some(point) if ack.after_eq(point) => {
                    // A full ACK ends the episode (RFC 6582 §3.2 step 6, RFC 6675 §5).
                    c.recovery = Recovery {
                        rto_point: c.recovery.rto_point,
                        sack_seen: c.recovery.sack_seen,
                        ..Default::default()
                    };
                }
                Some(_) => {
                    // A partial ACK (RFC 6582 §3.2 step 5): the next hole is lost too. With
                    // SACK, NextSeg finds it from the scoreboard; without, NewReno resends
                    // the segment at SND.UNA at once.
                    c.recovery.credit = c.recovery.credit.saturating_sub(acked);
                    if acked >= smss {
                        c.recovery.credit += smss;
                    }
                    if !(sack_ok && c.recovery.sack_seen) {
                        c.recovery.rxt_una = true;
                    }
                    c.recovery.high_rxt = c.recovery.high_rxt.max(ack);
                }
                None => {
                    if c.recovery.dupacks > 0 {
                        // Duplicate ACKs that stopped short of DupThresh and were answered by
                        // the original segment: it was reordered, not lost.
                        c.stats.reordering_seen += 1;
                    }
                }
            }
            c.recovery.dupacks = 0;
            return grow;
        }
        // RFC 6675 §2: when SACK is in use, a duplicate acknowledgment is "a segment that
        // arrives carrying a SACK block that identifies previously unacknowledged and
        // un-SACKed octets between HighACK and HighData", and §5 counts only those in
        // DupAcks. A receiver that negotiated SACK reports out-of-order data in SACK blocks
        // (RFC 2018 §4), so an ACK at SND.UNA without new SACK information reports no data
        // arriving past a hole: a window update, the answer to a duplicate or to a forged
        // segment. Counting it (as RFC 5681 §2 would) let forged in-window data, each
        // answered by a bare ACK, start fast recovery with nothing lost. Linux's SACK path
        // likewise counts SACKed segments, not bare duplicate ACKs. Without SACK, RFC 5681's
        // definition stands.
        if !duplicate || (sack_ok && newly_sacked == 0) {
            return grow;
        }
        c.recovery.dupacks += 1;
        if c.recovery.point.is_some() {
            // RFC 6582 §3.2 step 4: each further duplicate ACK is a segment gone.
            c.recovery.credit += smss;
            return grow;
        }
        if c.recovery.rto_point.is_some() {
            return grow;
        }
        // RFC 6675 §5: three duplicate ACKs, or SACKed data enough to call SND.UNA lost.
        let lost = sack_ok
            && c.scoreboard
                .lost_below(smss)
                .is_some_and(|l| l.after(snd_una));
        if c.recovery.dupacks >= DUP_THRESH || lost {
            self.enter_recovery(ctx);
        }
        grow
    }

    /// Fast retransmit (RFC 5681 §3.2 steps 2–4, RFC 6675 §5 steps 4.1–4.3).
    fn enter_recovery(&mut self, ctx: &mut Ctx<'_>) {
        let flight = self.snd_max.since(self.snd_una);
        self.cc.on_congestion_event(ctx.now, flight);
        let (snd_una, snd_max, smss) = (self.snd_una, self.snd_max, self.smss());
        let c = self.cold();
        c.recovery.point = Some(snd_max);
        c.recovery.high_rxt = snd_una;
        c.recovery.rescue_rxt = None;
        c.recovery.credit = DUP_THRESH * smss;
        c.recovery.rxt_una = true;
        c.stats.fast_recoveries += 1;
    }

    /// A retransmission timeout ends any episode, and no new episode starts until
    /// everything sent so far is acknowledged (RFC 6675 §5.1).
    ///
    /// Deviation: RFC 2018 §8 turns all SACKed bits off after a timeout, in case the
    /// receiver reneged. As Linux does, they are kept, so resending from SND.UNA skips what
    /// the receiver holds; reneging is detected instead (see `on_ack_for_recovery`). Measured
    /// in `oxtcp sim transfer` at 1% loss, clearing them resent 81 segments the receiver
    /// already had after two timeouts.
    pub(crate) fn reset_recovery_on_rto(&mut self) {
        let snd_max = self.snd_max;
        let r = &mut self.cold().recovery;
        *r = Recovery {
            rto_point: Some(snd_max),
            sack_seen: r.sack_seen,
            ..Recovery::default()
        };
    }

    /// The data the network is taken to hold, against which cwnd is compared: RFC 6675's
    /// pipe during SACK recovery, FlightSize less the NewReno credit without SACK, and
    /// otherwise FlightSize less what the receiver has SACKed (which is no longer in the
    /// network, as after a timeout when go-back-N skips it).
    pub(crate) fn pipe(&self) -> u32 {
        let flight = self.snd_nxt.since(self.snd_una);
        let c = self.cold_ref();
        if c.recovery.point.is_none() {
            return c.scoreboard.unsacked_in(self.snd_una, self.snd_nxt);
        }
        if !self.sack_informed() {
            return flight.saturating_sub(c.recovery.credit);
        }
        // RFC 6675 §4 SetPipe: un-SACKed bytes not lost, plus bytes retransmitted.
        let smss = self.smss();
        let lost = c
            .scoreboard
            .lost_below(smss)
            .map_or(self.snd_una, |l| l.max(self.snd_una));
        let high_rxt = c.recovery.high_rxt.max(self.snd_una);
        c.scoreboard.unsacked_in(lost, self.snd_max)
            + c.scoreboard.unsacked_in(self.snd_una, high_rxt)
    }

    /// SACK is in use and the receiver has reported blocks. With SACK in use an episode
    /// begins only on SACK information (RFC 6675 §2), so during recovery this equals
    /// `sack_ok`; a peer that negotiated SACK but sends no blocks never reaches fast recovery
    /// (it recovers by timeout) and so never meets a pipe that never shrinks.
    fn sack_informed(&self) -> bool {
        self.flags.has(Flags::SACK_OK) && self.cold_ref().recovery.sack_seen
    }

    /// How far above cwnd limited transmit lets new data go (RFC 3042: one segment for each
    /// of the first two duplicate ACKs).
    pub(crate) fn limited_transmit_allowance(&self) -> u32 {
        if self.in_recovery() {
            0
        } else {
            self.cold_ref().recovery.dupacks.min(2) * self.smss()
        }
    }

    /// The retransmission loss recovery wants next, if any: NextSeg (RFC 6675 §4) with SACK,
    /// or the one owed segment at SND.UNA. `new_data_can_go` says whether rule 2 (previously
    /// unsent data the peer's window allows) applies, in which case the caller sends that.
    pub(crate) fn next_retransmission(&mut self, new_data_can_go: bool) -> Option<Rxt> {
        self.cold_ref().recovery.point?;
        let smss = self.smss();
        if self.cold_ref().recovery.rxt_una {
            self.cold().recovery.rxt_una = false;
            let end = self
                .cold_ref()
                .scoreboard
                .next_sacked(self.snd_una)
                .unwrap_or(self.snd_max);
            return Some(Rxt {
                seq: self.snd_una,
                end,
                rescue: false,
            });
        }
        if !self.sack_informed() || self.cc.cwnd().saturating_sub(self.pipe()) < smss {
            return None;
        }
        let c = self.cold_ref();
        let from = c.recovery.high_rxt.max(self.snd_una);
        let high_sacked = c.scoreboard.high_sacked().unwrap_or(self.snd_una);
        // Rule 1: the first hole above HighRxt that IsLost.
        if let Some(lost) = c.scoreboard.lost_below(smss) {
            if let Some((seq, end)) = c.scoreboard.hole_from(from, lost.max(from)) {
                return Some(Rxt {
                    seq,
                    end,
                    rescue: false,
                });
            }
        }
        // Rule 2: new data goes first.
        if new_data_can_go {
            return None;
        }
        // Rule 3: any hole above HighRxt below the highest SACKed byte.
        if let Some((seq, end)) = c.scoreboard.hole_from(from, high_sacked) {
            return Some(Rxt {
                seq,
                end,
                rescue: false,
            });
        }
        // Rule 4: one rescue retransmission per episode, of the highest outstanding
        // un-SACKed data, when HighACK has passed RescueRxt.
        let rescue_ok = c.recovery.rescue_rxt.is_none_or(|r| self.snd_una.after(r));
        if rescue_ok && high_sacked.before(self.snd_max) {
            let r = &mut self.cold().recovery;
            r.rescue_rxt = r.point;
            let seq = self.snd_max.sub(smss.min(self.snd_max.since(high_sacked)));
            return Some(Rxt {
                seq,
                end: self.snd_max,
                rescue: true,
            });
        }
        None
    }
}
