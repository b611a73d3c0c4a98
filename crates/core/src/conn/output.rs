//! Building the next segment a connection sends: SYN or SYN-ACK, data within the send window
//! and congestion window, FIN after the data, zero-window probes, and pure ACKs.

use oxtcp_wire::{Ipv4Repr, Ipv6Repr, SackBlocks, TcpFlags, TcpOptions, TcpRepr, Timestamps};

use super::deadline::Deadline;
use super::flags::Flags;
use super::recovery::Rxt;
use super::sack_report::sack_option_len;
use super::{ts_clock, Connection, Ctx, ACK, TS_OPTION_LEN};
use crate::cc::CongestionControl;
use crate::seq::SeqNum;
use crate::state::State;
use crate::time::Instant;

/// A segment ready to be written: header fields, plus the payload as a range of the send buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TxSegment {
    pub(crate) seq: SeqNum,
    pub(crate) ack: SeqNum,
    pub(crate) flags: TcpFlags,
    pub(crate) window: u16,
    pub(crate) options: TcpOptions,
    /// Offset of the payload in the send buffer.
    pub(crate) payload_off: usize,
    pub(crate) payload_len: usize,
    /// The segment size the device is to cut the payload at, for a payload of more than one
    /// segment (segmentation offload); `None` for a segment sent as it is.
    pub(crate) segment_size: Option<u16>,
    /// Repeats sequence space already sent.
    pub(crate) retransmit: bool,
}

impl Connection {
    /// The next segment to send, if any, for a datagram buffer of `room` bytes: the data it
    /// carries leaves room for the IP and TCP headers and the options.
    pub(crate) fn poll_transmit(&mut self, ctx: &mut Ctx<'_>, room: usize) -> Option<TxSegment> {
        if let Some(tw) = self
            .cold
            .as_deref_mut()
            .and_then(|c| c.time_wait.as_deref_mut())
        {
            if std::mem::take(&mut self.ack_now) {
                tw.owe_ack();
            }
            let seg = tw.poll_transmit(ctx.now)?;
            self.hot_stats.segs_out += 1;
            return Some(seg);
        }
        let seg = self
            .next_segment(ctx, room)
            .or_else(|| self.keepalive_probe(ctx.now))?;
        self.ack_now = false;
        if seg.flags.ack() {
            // Every segment carries the ACK: nothing is delayed any more, and a D-SACK has
            // been reported (RFC 2883 §4: once).
            self.delack.on_ack_sent();
            if self
                .cold
                .as_deref()
                .is_some_and(|c| c.sack_report.has_dsack())
            {
                self.cold().sack_report.on_sent();
                self.release_cold_at_rest();
            }
        }
        // RFC 7323 §2.2: the window of a SYN is never scaled.
        let shift = if seg.flags.syn() {
            0
        } else {
            self.rcv_wind_shift
        };
        self.rcv_adv = self.rcv_nxt.add(u32::from(seg.window) << shift);
        if seg.flags.ack() {
            self.last_ack_sent = seg.ack;
        }
        // A segment the device cuts up counts as the segments it becomes, as Linux's
        // tcpi_segs_out counts a TSO segment's pieces.
        self.hot_stats.segs_out += seg.segment_size.map_or(1, |s| {
            seg.payload_len.div_ceil(usize::from(s).max(1)) as u64
        });
        self.hot_stats.bytes_sent += seg.payload_len as u64;
        if seg.retransmit {
            self.cold().stats.retransmits += 1;
        }
        Some(seg)
    }

    fn next_segment(&mut self, ctx: &mut Ctx<'_>, room: usize) -> Option<TxSegment> {
        let now = ctx.now;
        match self.state {
            State::Listen => return None,
            // A connection that just closed may still owe its final ACK (TIME-WAIT disabled).
            State::Closed if !(self.ack_now && self.error.is_none()) => return None,
            _ => {}
        }
        if self.syn_due() {
            let mut flags = TcpFlags::SYN;
            if self.state == State::SynReceived {
                flags |= ACK;
            }
            let retransmit = self.snd_max != self.iss;
            self.snd_nxt = self.iss.add(1);
            self.snd_max = self.snd_max.max(self.snd_nxt);
            if !retransmit {
                self.start_rtt_probe(self.snd_nxt, now);
            }
            self.rto_at.get_or_insert(now + self.rtt.rto());
            // Our SYN offers what the configuration says (RFC 7323 §2.2, §3.2); a SYN-ACK
            // in a simultaneous open carries only what the peer's SYN offered too.
            let (wscale, sack, ts) = if self.state == State::SynSent {
                (ctx.cfg.window_scaling, ctx.cfg.sack, ctx.cfg.timestamps)
            } else {
                (
                    self.flags.has(Flags::WS_OK),
                    self.flags.has(Flags::SACK_OK),
                    self.flags.has(Flags::TS_OK),
                )
            };
            let ts = ts.then(|| Timestamps {
                tsval: ts_clock(now, self.ts_offset),
                tsecr: if flags.ack() { self.ts_recent } else { 0 },
            });
            return Some(TxSegment {
                seq: self.iss,
                ack: if flags.ack() {
                    self.rcv_nxt
                } else {
                    SeqNum::new(0)
                },
                flags,
                window: u16::try_from(self.recv_buf.window()).unwrap_or(u16::MAX),
                options: TcpOptions {
                    mss: Some(super::mss_for(
                        ctx.cfg,
                        self.cold_ref().max_segment,
                        &self.tuple(),
                    )),
                    // The shift chosen from the receive buffer when the connection was built,
                    // as `syn_options` would choose it.
                    window_scale: wscale.then_some(self.rcv_wind_shift_offered),
                    sack_permitted: sack,
                    timestamps: ts,
                    ..TcpOptions::default()
                },
                payload_off: 0,
                payload_len: 0,
                segment_size: None,
                retransmit,
            });
        }
        if self.state == State::SynSent {
            return None;
        }
        let sending = self.in_sending_state();
        if self.nothing_to_send() {
            // What the general path below would conclude, without working out the windows:
            // in the sending states the sender is limited by nothing (tcp_info's clocks stop).
            if sending {
                self.note_limit(now, None);
            }
            return None;
        }
        let window = self.advertised_window();

        // Data and FIN. After a timeout SND.NXT is back at SND.UNA, so the same code resends.
        let (mut len, mut off, mut fin, mut probe) = (0usize, 0usize, false, false);
        let mut segment_size = None;
        if sending {
            let data_start = self.data_start();
            if self.snd_nxt.before(self.snd_max) {
                // Resending after a timeout skips what the receiver has SACKed since.
                if let Some((_, right)) = self.cold_ref().scoreboard.range_at(self.snd_nxt) {
                    self.snd_nxt = right;
                }
            }
            off = self.snd_nxt.since(data_start) as usize;
            let unsent = self.send_buf.len().saturating_sub(off);
            // What the buffer leaves for new data matters only when there is some: with none,
            // `len` below is 0 whatever it is (a retransmission works out its own).
            let max_payload = if unsent > 0 {
                self.payload_room(room)
            } else {
                0
            };
            // The peer's window bounds what is outstanding; cwnd bounds what the network is
            // taken to hold (RFC 6675's pipe in recovery), plus RFC 3042's allowance.
            let rwnd_room = self
                .snd_wnd
                .saturating_sub(self.snd_nxt.since(self.snd_una));
            let in_flight = self.pipe();
            // With nothing unsent the usable window bounds nothing: `len` below is 0 whatever
            // it is, and a segment of 0 bytes is never held.
            let usable = if unsent > 0 {
                let cwnd = self.cc.cwnd() + self.limited_transmit_allowance();
                rwnd_room.min(cwnd.saturating_sub(in_flight)) as usize
            } else {
                0
            };
            // Loss recovery's retransmissions come before new data (RFC 6675 §4 NextSeg).
            let new_data_can_go = unsent > 0 && rwnd_room > 0 && !self.snd_nxt.before(self.snd_max);
            while let Some(rxt) = self.next_retransmission(new_data_can_go) {
                if let Some(seg) = self.retransmission(now, window, rxt, room) {
                    return Some(seg);
                }
            }
            if unsent > 0 {
                len = unsent.min(self.max_payload()).min(max_payload).min(usable);
            }
            if let Some(next) = self.cold_ref().scoreboard.next_sacked(self.snd_nxt) {
                if self.snd_nxt.before(self.snd_max) {
                    len = len.min(next.since(self.snd_nxt) as usize);
                }
            }
            // tcp_info's limited-time clocks: what stopped the sender, if it stopped.
            let limit = (len == 0).then(|| self.classify_limit(unsent, in_flight));
            self.note_limit(now, limit.flatten());
            // Nagle and sender SWS avoidance (RFC 9293 §3.7.4, §3.8.6.2.1): a hold is neither
            // rwnd- nor cwnd-limited, so it comes after the bookkeeping above.
            if self.hold_small_segment(now, len, unsent, usable, max_payload) {
                len = 0;
            }
            segment_size = self.offload_segments(ctx.cfg, &mut len, unsent, usable, max_payload);
            if len == 0 && unsent > 0 {
                if self.flags.has(Flags::PROBE_NOW) {
                    // RFC 9293 §3.8.6.1: the persist timer fired; send one byte past the window.
                    len = 1;
                    probe = true;
                } else if self.snd_wnd == 0 && self.cold_ref().persist_at.is_none() {
                    // RFC 9293 §3.8.6.1: a zero window with data waiting starts the persist
                    // timer; the retransmission timer yields to it.
                    self.cold().persist_at = Deadline::at(now + self.rtt.rto());
                    self.rto_at = Deadline::NONE;
                }
            }
            let fin_seq = data_start.add(self.send_buf.len() as u32);
            // The FIN is not held back by the window: it carries no data.
            fin = self.flags.has(Flags::FIN_QUEUED) && self.snd_nxt.add(len as u32) == fin_seq;
        }
        self.flags.set(Flags::PROBE_NOW, false);

        if len == 0 && !fin {
            if !self.ack_now {
                return None;
            }
            // A pure ACK carries SND.MAX, as BSD does: after a timeout SND.NXT is back at
            // SND.UNA, possibly behind the peer's RCV.NXT, where the peer would find the ACK
            // unacceptable and answer with an ACK of its own, and so on forever.
            return Some(TxSegment {
                seq: self.snd_max,
                ack: self.rcv_nxt,
                flags: ACK,
                window,
                options: self.segment_options(now),
                payload_off: 0,
                payload_len: 0,
                segment_size: None,
                retransmit: false,
            });
        }

        let seq = self.snd_nxt;
        let retransmit = seq.before(self.snd_max);
        let mut flags = ACK;
        if len > 0 && off + len == self.send_buf.len() {
            flags |= TcpFlags::PSH;
        }
        if fin {
            flags |= TcpFlags::FIN;
            self.fin_seq = seq.add(len as u32);
            self.flags.set(Flags::FIN_SENT, true);
        }
        let end = seq.add(len as u32 + u32::from(fin));
        self.snd_max = self.snd_max.max(end);
        if probe {
            // As 4.4BSD's forced output, a zero-window probe does not advance SND.NXT: the
            // peer most likely dropped its byte, so when the window opens sending resumes at
            // SND.UNA instead of leaving a hole until the retransmission timer fires. Nor is
            // the probe timed: its byte is sent again.
            self.cold().stats.window_probes += 1;
        } else {
            self.snd_nxt = end;
            self.rto_at.get_or_insert(now + self.rtt.rto());
            if !retransmit && self.rtt_probe_sent.is_none() {
                self.start_rtt_probe(end, now);
            }
        }
        Some(TxSegment {
            seq,
            ack: self.rcv_nxt,
            flags,
            window,
            options: self.segment_options(now),
            payload_off: off,
            payload_len: len,
            segment_size,
            retransmit,
        })
    }

    /// Segmentation offload: a full segment of new data, `len`, grows to as many whole
    /// segments as the data, the windows, the caller's buffer and the device's limit allow,
    /// which the device then cuts into segments of the returned size. Only whole segments are
    /// added, which the next polls would have sent at once anyway (neither Nagle nor SWS
    /// avoidance holds a full segment); a partial tail is left to the ordinary path, and so are
    /// retransmissions.
    fn offload_segments(
        &self,
        cfg: &crate::StackConfig,
        len: &mut usize,
        unsent: usize,
        usable: usize,
        max_payload: usize,
    ) -> Option<u16> {
        let limit = cfg.segmentation_offload?;
        let mss = self.max_payload();
        let size = u16::try_from(mss).ok()?;
        if *len != mss || self.snd_nxt.before(self.snd_max) {
            return None;
        }
        let whole = unsent.min(usable).min(max_payload).min(limit) / mss;
        if whole < 2 {
            return None;
        }
        *len = whole * mss;
        Some(size)
    }

    /// The segment for a retransmission loss recovery chose: `[rxt.seq, rxt.end)` cut to one
    /// segment that fits a datagram buffer of `room` bytes, with the FIN if it lies there.
    /// `None` if there is nothing to send in it.
    fn retransmission(
        &mut self,
        now: Instant,
        window: u16,
        rxt: Rxt,
        room: usize,
    ) -> Option<TxSegment> {
        let data_start = self.data_start();
        let data_end = data_start.add(self.send_buf.len() as u32);
        let cap = self.max_payload().min(self.payload_room(room)) as u32;
        let data_stop = if rxt.end.before(data_end) {
            rxt.end
        } else {
            data_end
        };
        let len = if rxt.seq.before(data_stop) {
            data_stop.since(rxt.seq).min(cap)
        } else {
            0
        };
        let fin = self
            .fin_seq()
            .is_some_and(|f| f == rxt.seq.add(len) && rxt.end.after(f));
        // Nothing to send in the range: step HighRxt over all of it, so NextSeg moves on.
        let end = if len == 0 && !fin {
            rxt.end
        } else {
            rxt.seq.add(len + u32::from(fin))
        };
        if !rxt.rescue {
            let r = &mut self.cold().recovery;
            r.high_rxt = r.high_rxt.max(end);
        }
        if len == 0 && !fin {
            return None;
        }
        // Karn's rule: a segment sent twice cannot be timed.
        if self.rtt_probe().is_some_and(|(e, _)| e.after(rxt.seq)) {
            self.rtt_probe_sent = Deadline::NONE;
        }
        self.rto_at.get_or_insert(now + self.rtt.rto());
        if self.flags.has(Flags::SACK_OK) {
            self.cold().stats.sack_recovered_bytes += u64::from(len);
        }
        if rxt.seq == self.snd_una {
            let snd_max = self.snd_max;
            self.cold().recovery.una_rxt = Some((rxt.seq, snd_max));
        }
        let mut flags = ACK;
        if fin {
            flags |= TcpFlags::FIN;
        }
        Some(TxSegment {
            seq: rxt.seq,
            ack: self.rcv_nxt,
            flags,
            window,
            options: self.segment_options(now),
            payload_off: rxt.seq.since(data_start) as usize,
            payload_len: len as usize,
            segment_size: None,
            retransmit: true,
        })
    }

    /// Nothing can go: no ACK owed, no probe, no loss recovery, every byte and any FIN sent,
    /// and room in the send buffer (so the sender is not buffer-limited either). Most polls of
    /// a quiet connection end here.
    /// Whether `poll_transmit` would surely find nothing to send: the early returns of
    /// `poll_transmit` and `next_segment`, taken without building anything. False when in
    /// doubt. A quiet connection need not be polled at all ([`Connection::note_quiet`] then
    /// does the bookkeeping the poll would have done).
    // Its one caller is `after_activity`, after every segment. `#[inline]` is a hint the
    // compiler does not take here; forcing it (`inline(always)`) cost 42 instructions a
    // lifecycle, so it stays a hint.
    #[inline]
    pub(crate) fn is_quiet(&self) -> bool {
        if self.keepalive_probe_due() || self.cold.as_deref().is_some_and(|c| c.time_wait.is_some())
        {
            return false;
        }
        match self.state {
            State::Listen => true,
            State::Closed => !(self.ack_now && self.error.is_none()),
            // Our SYN is out: nothing more goes until a timeout brings SND.NXT back to ISS.
            State::SynSent => !self.syn_due(),
            State::SynReceived => false,
            // Past the sending states only an ACK can go (and `nothing_to_send` would take
            // the FIN, sent and acknowledged, for one unsent).
            State::FinWait2 | State::TimeWait => !self.ack_now && !self.flags.has(Flags::PROBE_NOW),
            State::Established
            | State::CloseWait
            | State::FinWait1
            | State::Closing
            | State::LastAck => self.nothing_to_send(),
        }
    }

    /// Whether our SYN (or SYN-ACK, in a simultaneous open) is to be sent: first, or again
    /// after a timeout has brought SND.NXT back to ISS. `next_segment` sends it and
    /// `is_quiet` keeps SYN-SENT awake for it, so both ask here.
    #[inline]
    fn syn_due(&self) -> bool {
        self.snd_nxt == self.iss && matches!(self.state, State::SynSent | State::SynReceived)
    }

    /// What a poll of a quiet connection ([`Connection::is_quiet`]) does besides finding
    /// nothing: in the sending states, the sender is limited by nothing (tcp_info's clocks
    /// stop).
    pub(crate) fn note_quiet(&mut self, now: Instant) {
        if self.in_sending_state() {
            self.note_limit(now, None);
        }
    }

    /// The states in which data may still be sent (ours not yet closed, or our FIN not yet
    /// acknowledged).
    fn in_sending_state(&self) -> bool {
        matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        )
    }

    fn nothing_to_send(&self) -> bool {
        let data_end = self.data_start().add(self.send_buf.len() as u32);
        let fin_unsent = self.flags.has(Flags::FIN_QUEUED) && self.snd_nxt == data_end;
        !self.ack_now
            && !self.flags.has(Flags::PROBE_NOW)
            && !self.in_recovery()
            && self.snd_nxt == self.snd_max
            && !self.snd_nxt.before(data_end)
            && !fin_unsent
            && self.send_buf.free() > 0
    }

    /// RCV.WND for the acceptability test: the free receive buffer, which may exceed what the
    /// window field can show.
    pub(crate) fn rcv_wnd(&self) -> u32 {
        self.recv_buf.window() as u32
    }

    /// The window field of a non-SYN segment: free receive buffer space shifted right by
    /// Rcv.Wind.Shift (at most 65535 units). RFC 7323 §2.4: the shift rounds down, which
    /// could pull the right edge left of what was advertised before; the field is rounded up
    /// far enough to keep it (RFC 9293 §3.8.6: the window should not shrink).
    ///
    /// Receiver SWS avoidance (RFC 9293 §3.8.6.2.2): a small window's right edge moves forward
    /// only when it can move by at least min(RCV.BUFF/2, Eff.snd.MSS); until then the window
    /// offered is what is left of the last one.
    pub(crate) fn advertised_window(&self) -> u16 {
        let shift = self.rcv_wind_shift;
        let free = u32::try_from(self.recv_buf.window()).unwrap_or(u32::MAX);
        let offered = if self.rcv_adv.after(self.rcv_nxt) {
            self.rcv_adv.since(self.rcv_nxt)
        } else {
            0
        };
        // "If RCV.BUFF - RCV.USER - RCV.WND >= min(Fr * RCV.BUFF, Eff.snd.MSS), then set
        // RCV.WND = RCV.BUFF - RCV.USER", with Fr = 1/2.
        // Deviation: the edge is held only while the window offered is itself below the
        // threshold, where a small step would draw small segments. A window at least that
        // large, or the whole buffer once the application has read everything, cannot be a
        // silly one, so it moves freely; FreeBSD likewise only refuses small windows
        // (tcp_output: below min(RCV.BUFF/4, MSS)) and its conformance scripts expect this.
        let threshold = self.sws_threshold();
        let free = if free.saturating_sub(offered) >= threshold
            || offered >= threshold
            || self.recv_buf.readable() == 0
        {
            free
        } else {
            offered.min(free)
        };
        let mut field = free >> shift;
        if shift > 0 && self.rcv_adv.after(self.rcv_nxt) {
            let promised = self.rcv_adv.since(self.rcv_nxt);
            field = field.max(promised.div_ceil(1 << shift));
        }
        u16::try_from(field).unwrap_or(u16::MAX)
    }

    /// Receiver SWS avoidance's least step of the right edge: min(RCV.BUFF/2, Eff.snd.MSS)
    /// (RFC 9293 §3.8.6.2.2).
    pub(crate) fn sws_threshold(&self) -> u32 {
        let buff = (self.recv_buf.capacity() / 2) as u32;
        buff.min(u32::from(self.mss))
    }

    /// A full-sized segment's payload: the MSS less the option bytes every segment carries
    /// (RFC 6691 §2, RFC 7323 §3.2: the MSS does not count TCP options).
    pub(crate) fn full_payload(&self) -> usize {
        usize::from(self.mss.saturating_sub(self.fixed_option_len()).max(1))
    }

    /// Most payload the next segment carries: a full-sized segment's, less the SACK blocks
    /// that ride on it (RFC 6691 §2: the MSS does not count options, so they take its place).
    pub(crate) fn max_payload(&self) -> usize {
        if !self.reports_sack() {
            return self.full_payload();
        }
        let sack = sack_option_len(self.sack_blocks().len());
        self.full_payload().saturating_sub(sack).max(1)
    }

    /// Option bytes on every segment after the handshake: the Timestamps option once
    /// negotiated (RFC 7323 §3.2), padded to 12.
    fn fixed_option_len(&self) -> u16 {
        if self.flags.has(Flags::TS_OK) {
            TS_OPTION_LEN
        } else {
            0
        }
    }

    /// Most payload a datagram buffer of `room` bytes holds for the next segment: `room` less
    /// the IP header (20 bytes for IPv4, which we send without options, 40 for IPv6), the
    /// TCP header's fixed 20, and the options the segment carries (`segment_options`).
    fn payload_room(&self, room: usize) -> usize {
        let ip = if self.tuple.is_v4() {
            Ipv4Repr::HEADER_LEN
        } else {
            Ipv6Repr::HEADER_LEN
        };
        let mut options = usize::from(self.fixed_option_len());
        if self.reports_sack() {
            options += sack_option_len(self.sack_blocks().len());
        }
        room.saturating_sub(ip + TcpRepr::FIXED_HEADER_LEN + options)
    }

    /// Whether the next segment carries SACK blocks: data is held out of order, or a D-SACK
    /// is owed (RFC 2018 §4, RFC 2883 §4). The common case, neither, is decided without
    /// building the blocks.
    #[inline]
    fn reports_sack(&self) -> bool {
        self.flags.has(Flags::SACK_OK)
            && (self.recv_buf.ooo_bytes() > 0
                || self
                    .cold
                    .as_deref()
                    .is_some_and(|c| c.sack_report.has_dsack()))
    }

    /// Options of a non-SYN, non-RST segment: the Timestamps option once negotiated, echoing
    /// TS.Recent (RFC 7323 §3.2, §4.3), and SACK blocks while data is held out of order or a
    /// duplicate is to be reported (RFC 2018 §4, RFC 2883 §4).
    pub(crate) fn segment_options(&self, now: Instant) -> TcpOptions {
        TcpOptions {
            timestamps: self.flags.has(Flags::TS_OK).then(|| Timestamps {
                tsval: ts_clock(now, self.ts_offset),
                tsecr: self.ts_recent,
            }),
            sack_blocks: self.sack_blocks(),
            ..TcpOptions::default()
        }
    }

    /// The SACK blocks of the next segment: RFC 2018 §3, as many as fit in the 40 option bytes
    /// beside the others (4, or 3 beside the 12-byte Timestamps option).
    fn sack_blocks(&self) -> SackBlocks {
        if !self.reports_sack() {
            return SackBlocks::new();
        }
        let max = if self.flags.has(Flags::TS_OK) { 3 } else { 4 };
        self.cold_ref()
            .sack_report
            .blocks(&self.ooo_seq_ranges(), max)
    }

    /// The out-of-order ranges of the receive buffer in sequence space, ascending.
    pub(crate) fn ooo_seq_ranges(&self) -> Vec<(SeqNum, SeqNum)> {
        let nxt = self.rcv_nxt;
        self.recv_buf
            .ooo_ranges()
            .iter()
            .map(|&(s, e)| (nxt.add(s as u32), nxt.add(e as u32)))
            .collect()
    }

    /// Payload bytes of a segment returned by `poll_transmit`, as at most two slices.
    pub(crate) fn payload_slices(&self, off: usize, len: usize) -> (&[u8], &[u8]) {
        self.send_buf.slices(off, len)
    }
}
