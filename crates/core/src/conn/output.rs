//! Building the next segment a connection sends: SYN or SYN-ACK, data within the send window
//! and congestion window, FIN after the data, zero-window probes, and pure ACKs.

use oxtcp_wire::{TcpFlags, TcpOptions, Timestamps};

use super::{syn_options, ts_clock, Connection, Ctx, ACK, TS_OPTION_LEN};
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
    /// Repeats sequence space already sent.
    pub(crate) retransmit: bool,
}

impl Connection {
    /// The next segment to send, if any; at most `max_payload` bytes of data.
    pub(crate) fn poll_transmit(
        &mut self,
        ctx: &mut Ctx<'_>,
        max_payload: usize,
    ) -> Option<TxSegment> {
        let seg = self
            .next_segment(ctx, max_payload)
            .or_else(|| self.keepalive_probe(ctx.now))?;
        self.ack_now = false;
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
        self.stats.segs_out += 1;
        self.stats.bytes_sent += seg.payload_len as u64;
        if seg.retransmit {
            self.stats.retransmits += 1;
        }
        Some(seg)
    }

    fn next_segment(&mut self, ctx: &mut Ctx<'_>, max_payload: usize) -> Option<TxSegment> {
        let now = ctx.now;
        match self.state {
            State::Listen => return None,
            // A connection that just closed may still owe its final ACK (TIME-WAIT disabled).
            State::Closed if !(self.ack_now && self.error.is_none()) => return None,
            _ => {}
        }
        let window = self.advertised_window();

        // SYN, or SYN-ACK in a simultaneous open, first or again after a timeout.
        if self.snd_nxt == self.iss && matches!(self.state, State::SynSent | State::SynReceived) {
            let mut flags = TcpFlags::SYN;
            if self.state == State::SynReceived {
                flags |= ACK;
            }
            let retransmit = self.snd_max != self.iss;
            self.snd_nxt = self.iss.add(1);
            self.snd_max = self.snd_max.max(self.snd_nxt);
            if !retransmit {
                self.rtt_probe = Some((self.snd_nxt, now));
            }
            self.rto_at.get_or_insert(now + self.rtt.rto());
            // Our SYN offers what the configuration says (RFC 7323 §2.2, §3.2); a SYN-ACK
            // in a simultaneous open carries only what the peer's SYN offered too.
            let (wscale, sack, ts) = if self.state == State::SynSent {
                (ctx.cfg.window_scaling, ctx.cfg.sack, ctx.cfg.timestamps)
            } else {
                (self.ws_ok, self.sack_ok, self.ts_ok)
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
                options: syn_options(ctx.cfg, &self.opts, &self.tuple, wscale, sack, ts),
                payload_off: 0,
                payload_len: 0,
                retransmit,
            });
        }
        if self.state == State::SynSent {
            return None;
        }

        // Data and FIN. After a timeout SND.NXT is back at SND.UNA, so the same code resends.
        let (mut len, mut off, mut fin, mut probe) = (0usize, 0usize, false, false);
        if matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        ) {
            let data_start = self.data_start();
            off = self.snd_nxt.since(data_start) as usize;
            let unsent = self.send_buf.len().saturating_sub(off);
            let in_flight = self.snd_nxt.since(self.snd_una);
            let usable = self.snd_wnd.min(self.cc.cwnd()).saturating_sub(in_flight) as usize;
            len = unsent.min(self.max_payload()).min(max_payload).min(usable);
            // tcp_info's limited-time clocks: what stopped the sender, if it stopped.
            let limit = (len == 0).then(|| self.classify_limit(unsent, in_flight));
            self.note_limit(now, limit.flatten());
            // Nagle and sender SWS avoidance (RFC 9293 §3.7.4, §3.8.6.2.1): a hold is neither
            // rwnd- nor cwnd-limited, so it comes after the bookkeeping above.
            if self.hold_small_segment(now, len, unsent, usable, max_payload) {
                len = 0;
            }
            if len == 0 && unsent > 0 {
                if self.probe_now {
                    // RFC 9293 §3.8.6.1: the persist timer fired; send one byte past the window.
                    len = 1;
                    probe = true;
                } else if self.snd_wnd == 0 && self.persist_at.is_none() {
                    // RFC 9293 §3.8.6.1: a zero window with data waiting starts the persist
                    // timer; the retransmission timer yields to it.
                    self.persist_at = Some(now + self.rtt.rto());
                    self.rto_at = None;
                }
            }
            let fin_seq = data_start.add(self.send_buf.len() as u32);
            // The FIN is not held back by the window: it carries no data.
            fin = self.fin_queued && self.snd_nxt.add(len as u32) == fin_seq;
        }
        self.probe_now = false;

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
            self.fin_seq = Some(seq.add(len as u32));
        }
        let end = seq.add(len as u32 + u32::from(fin));
        self.snd_max = self.snd_max.max(end);
        if probe {
            // As 4.4BSD's forced output, a zero-window probe does not advance SND.NXT: the
            // peer most likely dropped its byte, so when the window opens sending resumes at
            // SND.UNA instead of leaving a hole until the retransmission timer fires. Nor is
            // the probe timed: its byte is sent again.
            self.stats.window_probes += 1;
        } else {
            self.snd_nxt = end;
            self.rto_at.get_or_insert(now + self.rtt.rto());
            if !retransmit && self.rtt_probe.is_none() {
                self.rtt_probe = Some((end, now));
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
            retransmit,
        })
    }

    /// RCV.WND for the acceptability test: the free receive buffer, which may exceed what the
    /// window field can show. In TIME-WAIT there is no buffer to speak of; the window is the
    /// one last advertised, as a TIME-WAIT entry would keep it.
    pub(crate) fn rcv_wnd(&self) -> u32 {
        if self.state == State::TimeWait {
            if self.rcv_adv.after(self.rcv_nxt) {
                self.rcv_adv.since(self.rcv_nxt)
            } else {
                0
            }
        } else {
            self.recv_buf.window() as u32
        }
    }

    /// The window field of a non-SYN segment: free receive buffer space shifted right by
    /// Rcv.Wind.Shift (at most 65535 units). RFC 7323 §2.4: the shift rounds down, which
    /// could pull the right edge left of what was advertised before; the field is rounded up
    /// far enough to keep it (RFC 9293 §3.8.6: the window should not shrink).
    pub(crate) fn advertised_window(&self) -> u16 {
        let shift = self.rcv_wind_shift;
        let free = u32::try_from(self.recv_buf.window()).unwrap_or(u32::MAX);
        let mut field = free >> shift;
        if shift > 0 && self.rcv_adv.after(self.rcv_nxt) {
            let promised = self.rcv_adv.since(self.rcv_nxt);
            field = field.max(promised.div_ceil(1 << shift));
        }
        u16::try_from(field).unwrap_or(u16::MAX)
    }

    /// Most payload one segment carries: the MSS less the option bytes every segment carries
    /// (RFC 6691 §2, RFC 7323 §3.2: the MSS does not count TCP options).
    pub(crate) fn max_payload(&self) -> usize {
        let opts = if self.ts_ok { TS_OPTION_LEN } else { 0 };
        usize::from(self.mss.saturating_sub(opts).max(1))
    }

    /// Options of a non-SYN, non-RST segment: the Timestamps option once negotiated, echoing
    /// TS.Recent (RFC 7323 §3.2, §4.3).
    pub(crate) fn segment_options(&self, now: Instant) -> TcpOptions {
        TcpOptions {
            timestamps: self.ts_ok.then(|| Timestamps {
                tsval: ts_clock(now, self.ts_offset),
                tsecr: self.ts_recent,
            }),
            ..TcpOptions::default()
        }
    }

    /// Payload bytes of a segment returned by `poll_transmit`, as at most two slices.
    pub(crate) fn payload_slices(&self, off: usize, len: usize) -> (&[u8], &[u8]) {
        self.send_buf.slices(off, len)
    }
}
