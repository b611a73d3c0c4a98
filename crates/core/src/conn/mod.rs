//! One TCP connection: the transmission control block and its state machine (RFC 9293 §3.3).
//!
//! The connection is split the way its work splits: `input` is SEGMENT ARRIVES (§3.10.7),
//! `output` builds the segments to send, `timers` handles the timeouts (§3.10.8), and this file
//! holds the TCB and the user calls (§3.10.1–§3.10.6). The connection never touches the wire
//! format beyond header fields, and never does IO.

mod buf_pool;
mod chrono;
mod cold;
pub(crate) mod deadline;
mod delack;
mod flags;
mod input;
mod invariants;
mod keepalive;
mod nagle;
mod output;
mod paged_ring;
mod predict;
mod recovery;
mod recv_buf;
#[cfg(test)]
mod rig;
mod rtt;
mod rx_chunks;
mod sack_report;
mod scoreboard;
mod send_buf;
mod time_wait;
mod timers;

use std::time::Duration;

use oxtcp_wire::{TcpFlags, TcpOptions, Timestamps};

use crate::cc::{CcAlgorithm, CongestionControl};
use crate::config::{SocketOptions, StackConfig};
use crate::error::{CloseError, ConnError, RecvError, SendError};
use crate::event::{Cause, EventKind, StateEvent, Trace};
use crate::handle::ConnId;
use crate::seq::SeqNum;
use crate::stack::ratelimit::AckLimits;
use crate::state::State;
use crate::time::Instant;
use crate::tuple::{EntryTuple, FourTuple};
use deadline::Deadline;
use flags::Flags;

pub(crate) use buf_pool::BufPool;
pub(crate) use input::{
    ack_if, answer_unacceptable, challenge_allowed, near_span, SegIn, TimeWaitSyn,
};
pub use input::{Disposition, RstReply};
pub(crate) use output::TxSegment;
use recv_buf::RecvBuffer;
use rtt::RttEstimator;
pub(crate) use rx_chunks::{Offer, KEEP_MIN};
use send_buf::SendBuffer;
pub(crate) use time_wait::{Ended, PackedTimeWait, TimeWait};

/// What a connection handler needs from the stack for one call.
pub(crate) struct Ctx<'a> {
    pub(crate) now: Instant,
    pub(crate) cfg: &'a StackConfig,
    pub(crate) trace: &'a mut Trace,
    pub(crate) id: ConnId,
    /// The stack's limits on ACKs sent in answer to dropped segments.
    pub(crate) limits: &'a mut AckLimits,
    /// Buffer storage for reuse.
    pub(crate) bufs: &'a mut BufPool,
    /// The stack's count of segments header prediction handled (`predict.rs`).
    pub(crate) predicted: &'a mut u64,
}

/// Per-connection counters, in the spirit of Linux's tcp_info.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnStats {
    /// Segments received for this connection (accepted or not).
    pub segs_in: u64,
    /// Segments sent.
    pub segs_out: u64,
    /// Payload bytes sent, including retransmissions.
    pub bytes_sent: u64,
    /// Payload bytes acknowledged by the peer.
    pub bytes_acked: u64,
    /// Payload bytes received in order and delivered to the receive buffer.
    pub bytes_received: u64,
    /// Segments retransmitted.
    pub retransmits: u64,
    /// Retransmission timeouts.
    pub rto_count: u64,
    /// Segments received and dropped.
    pub drops: u64,
    /// Zero-window probes sent.
    pub window_probes: u64,
    /// Fast-recovery episodes entered (three duplicate ACKs or SACKed data, RFC 6675 §5).
    pub fast_recoveries: u64,
    /// Payload bytes retransmitted during SACK-based recovery.
    pub sack_recovered_bytes: u64,
    /// D-SACK blocks received (RFC 2883): the peer got some data twice.
    pub dsacks_received: u64,
    /// Times the receiver discarded data it had SACKed (RFC 2018 §8 reneging).
    pub sack_reneging: u64,
    /// Retransmissions found lost themselves (later data SACKed first) and sent again
    /// without waiting for the retransmission timer.
    pub lost_retransmits: u64,
    /// Reordering seen: duplicate ACKs answered by the late original short of DupThresh,
    /// or a D-SACK for retransmitted data.
    pub reordering_seen: u64,
    /// Keep-alive probes sent (RFC 9293 §3.8.4).
    pub keepalive_probes: u64,
    /// Time data waited because the peer's window was full or zero (tcpi_rwnd_limited).
    pub rwnd_limited: Duration,
    /// Time data waited because the congestion window was full.
    pub cwnd_limited: Duration,
    /// Time the send buffer was full of unacknowledged data with nothing left to send
    /// (tcpi_sndbuf_limited): a larger SO_SNDBUF would have let the sender go on.
    pub sndbuf_limited: Duration,
}

/// A snapshot of a connection for `ss` and the statistics API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    /// The 4-tuple.
    pub tuple: FourTuple,
    /// Current state.
    pub state: State,
    /// Bytes in the send buffer (unsent and unacknowledged).
    pub send_queue: usize,
    /// Bytes readable by the application.
    pub recv_queue: usize,
    /// Size of the receive buffer (SO_RCVBUF).
    pub recv_buffer: usize,
    /// Size of the send buffer (SO_SNDBUF).
    pub send_buffer: usize,
    /// Bytes held out of order.
    pub ooo_bytes: usize,
    /// Smoothed RTT, once measured.
    pub srtt: Option<Duration>,
    /// RTT variation.
    pub rttvar: Duration,
    /// Current retransmission timeout.
    pub rto: Duration,
    /// Congestion window, bytes.
    pub cwnd: u32,
    /// Slow-start threshold, bytes (`u32::MAX` until the first loss).
    pub ssthresh: u32,
    /// The congestion control algorithm.
    pub congestion_control: CcAlgorithm,
    /// Peer's window, bytes.
    pub snd_wnd: u32,
    /// Effective send MSS.
    pub mss: u16,
    /// Initial send sequence number.
    pub iss: SeqNum,
    /// Initial receive sequence number.
    pub irs: SeqNum,
    /// Why the connection ended, if it ended abnormally.
    pub error: Option<ConnError>,
    /// Counters.
    pub stats: ConnStats,
}

/// Transmission control block (RFC 9293 §3.3.1) plus the machinery around it.
#[derive(Debug)]
pub struct Connection {
    /// The 4-tuple, packed (16 bytes instead of `FourTuple`'s 64); `tuple()` unpacks it.
    tuple: EntryTuple,
    state: State,
    /// The booleans (passive open, FIN queued and sent, negotiated options, pending probe,
    /// TCP_NODELAY, released), one bit each.
    flags: Flags,

    // Send sequence space (RFC 9293 §3.3.1, Figure 3), plus `snd_max`, the highest sequence
    // number sent so far: after a timeout SND.NXT goes back to SND.UNA (go-back-N) and
    // acceptability must still be judged against what was actually sent.
    iss: SeqNum,
    snd_una: SeqNum,
    snd_nxt: SeqNum,
    snd_max: SeqNum,
    snd_wnd: u32,
    snd_wl1: SeqNum,
    snd_wl2: SeqNum,
    /// Largest window the peer has offered (RFC 5961 §5.2 MAX.SND.WND).
    max_snd_wnd: u32,

    // Receive sequence space.
    irs: SeqNum,
    rcv_nxt: SeqNum,
    /// Right edge of the window last advertised; it must never move left (RFC 9293 §3.8.6).
    rcv_adv: SeqNum,

    send_buf: SendBuffer,
    recv_buf: RecvBuffer,
    /// Sequence number our FIN occupies, once sent (`Flags::FIN_SENT`; see `fin_seq()`).
    fin_seq: SeqNum,
    /// A FIN from the peer that arrived ahead of a gap (`Flags::OOO_FIN`; see `ooo_fin()`).
    ooo_fin: SeqNum,

    /// Effective send MSS.
    mss: u16,

    // Window scaling (RFC 7323 §2). Both shifts stay 0 unless both SYNs carried the option.
    /// The shift our SYN offered, chosen from the receive buffer.
    rcv_wind_shift_offered: u8,
    /// Snd.Wind.Shift: applied to SEG.WND of every segment but a SYN.
    snd_wind_shift: u8,
    /// Rcv.Wind.Shift: applied to the window we advertise in every segment but a SYN.
    rcv_wind_shift: u8,

    // Timestamps (RFC 7323 §3–5).
    /// Per-connection offset of our TSval clock (RFC 7323 §5.4, §7.1).
    ts_offset: u32,
    /// TS.Recent: the TSval to echo (RFC 7323 §4.3).
    ts_recent: u32,
    /// When TS.Recent was last set, for PAWS's 24-day idle rule (RFC 7323 §5.5).
    ts_recent_age: Instant,
    /// Last.ACK.sent: the ACK field of the last segment we sent (RFC 7323 §4.3).
    last_ack_sent: SeqNum,

    /// Congestion control: cwnd and ssthresh live behind it.
    cc: crate::cc::Controller,
    /// HyStart++ during the initial slow start.
    hystart: Option<crate::cc::hystart::HyStart>,
    rtt: RttEstimator,
    /// Karn's rule: the one segment being timed, by its end sequence number (meaningful while
    /// `rtt_probe_sent` is set), and when it was sent.
    rtt_probe_end: SeqNum,
    rtt_probe_sent: Deadline,

    /// An ACK must go out (data or FIN received, unacceptable segment, challenge).
    ack_now: bool,
    /// An ACK of in-order data being delayed (RFC 9293 §3.8.6.3).
    delack: delack::DelayedAck,
    rto_at: Deadline,
    // Of the `SocketOptions` given at connect or listen, only TCP_NODELAY stays here (in
    // `flags`); the rest is used up when the connection is built, but for TCP_MAXSEG and
    // keep-alive, which stay in the cold part when set.
    error: Option<ConnError>,
    nagle: nagle::NagleState,
    chrono: chrono::Chrono,
    /// Accepted by the application (passive connections wait in the accept queue until then).
    pub(crate) accepted: bool,
    /// The per-segment counters; the rest of `ConnStats` is in the cold part.
    hot_stats: cold::HotStats,
    /// When the last ACK answering an unacceptable segment went out, for
    /// `StackConfig::invalid_ack_interval`. Inline, not in the cold part: a peer's keep-alive
    /// probes are such segments, and an idle connection may see one every few seconds.
    last_invalid_ack: Deadline,
    /// What an idle connection never touches (rare counters, keep-alive), allocated on
    /// first use.
    cold: Option<Box<cold::Cold>>,
}

/// Parameters of the peer's SYN that a passive connection is built from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PeerSyn {
    pub(crate) irs: SeqNum,
    pub(crate) window: u16,
    pub(crate) mss: Option<u16>,
    /// Its Window Scale option's shift, as sent (clamped only when applied).
    pub(crate) wscale: Option<u8>,
    /// Its Timestamps option's TSval.
    pub(crate) tsval: Option<u32>,
    /// It carried SACK-Permitted.
    pub(crate) sack_permitted: bool,
}

impl PeerSyn {
    /// The parameters of an arriving SYN (or SYN-ACK).
    pub(crate) fn from_segment(seg: &SegIn<'_>) -> PeerSyn {
        PeerSyn {
            irs: seg.seq,
            window: seg.wnd,
            mss: seg.options.mss,
            wscale: seg.options.window_scale,
            tsval: seg.options.timestamps.map(|t| t.tsval),
            sack_permitted: seg.options.sack_permitted,
        }
    }
}

/// RFC 7323 §2.3: a shift count above 14 is treated as 14.
const MAX_WIND_SHIFT: u8 = 14;

/// RFC 7323 §5.5: after this long without a TS.Recent update the peer's timestamp clock may
/// have wrapped (at 1 ms per tick, 2^31 ticks is 24.8 days), so TS.Recent is no longer valid.
const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);

/// Option bytes of a Timestamps option as sent on every segment (two NOPs, kind, length,
/// TSval, TSecr: RFC 7323 Appendix A layout).
const TS_OPTION_LEN: u16 = 12;

/// The Window Scale shift we offer: the smallest that lets the window field show the whole
/// receive buffer, at most 14 (RFC 7323 §2.3).
pub(crate) fn wind_shift_for(buffer: usize) -> u8 {
    let mut shift = 0;
    while shift < MAX_WIND_SHIFT && (buffer >> shift) > usize::from(u16::MAX) {
        shift += 1;
    }
    shift
}

/// Our TSval clock: milliseconds of the sans-IO time plus the connection's offset
/// (RFC 7323 §5.4 asks for 1 ms to 1 s per tick).
pub(crate) fn ts_clock(now: Instant, offset: u32) -> u32 {
    ((now.as_micros() / 1000) as u32).wrapping_add(offset)
}

/// `a` is older than `b` in timestamp space (RFC 7323 §5.2: modulo 2^32, as sequence numbers).
pub(crate) fn ts_before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl Connection {
    fn new(
        cfg: &StackConfig,
        opts: SocketOptions,
        tuple: FourTuple,
        iss: SeqNum,
        state: State,
        passive: bool,
        ts_offset: u32,
    ) -> Self {
        let our_mss = our_mss(cfg, &opts, &tuple);
        let mut c = Connection {
            tuple: EntryTuple::new(&tuple),
            state,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            snd_wl1: SeqNum::default(),
            snd_wl2: iss,
            max_snd_wnd: 0,
            irs: SeqNum::default(),
            rcv_nxt: SeqNum::default(),
            rcv_adv: SeqNum::default(),
            send_buf: SendBuffer::new(opts.send_buffer(cfg)),
            recv_buf: RecvBuffer::new(opts.recv_buffer(cfg)),
            flags: Flags::default(),
            fin_seq: SeqNum::default(),
            ooo_fin: SeqNum::default(),
            // RFC 9293 §3.7.1: without the peer's MSS option, assume 536 (IPv4) / 1220 (IPv6).
            mss: our_mss.min(default_peer_mss(&tuple)),
            rcv_wind_shift_offered: wind_shift_for(opts.recv_buffer(cfg)),
            snd_wind_shift: 0,
            rcv_wind_shift: 0,
            ts_offset,
            ts_recent: 0,
            ts_recent_age: Instant::ZERO,
            last_ack_sent: SeqNum::default(),
            cc: opts
                .congestion_control
                .unwrap_or(cfg.congestion_control)
                .controller(u32::from(our_mss)),
            hystart: cfg.hystart.then(crate::cc::hystart::HyStart::default),
            rtt: RttEstimator::new(cfg.initial_rto, rtt::RtoBounds::of(cfg)),
            rtt_probe_end: SeqNum::default(),
            rtt_probe_sent: Deadline::NONE,
            ack_now: false,
            delack: delack::DelayedAck::default(),
            rto_at: Deadline::NONE,
            error: None,
            nagle: nagle::NagleState::default(),
            chrono: chrono::Chrono::default(),
            accepted: !passive,
            hot_stats: cold::HotStats::default(),
            last_invalid_ack: Deadline::NONE,
            cold: (opts.keepalive.is_some() || opts.max_segment.is_some()).then(|| {
                Box::new(cold::Cold {
                    keepalive: opts.keepalive,
                    max_segment: opts.max_segment,
                    ..cold::Cold::default()
                })
            }),
        };
        c.flags.set(Flags::PASSIVE, passive);
        c.flags.set(Flags::NODELAY, opts.nodelay);
        c
    }

    /// Active OPEN (RFC 9293 §3.10.1): CLOSED -> SYN-SENT; the SYN goes out on the next poll.
    pub(crate) fn connect(
        ctx: &mut Ctx<'_>,
        opts: SocketOptions,
        tuple: FourTuple,
        iss: SeqNum,
        ts_offset: u32,
    ) -> Self {
        let mut c = Connection::new(ctx.cfg, opts, tuple, iss, State::Closed, false, ts_offset);
        c.set_state(ctx, State::SynSent, Cause::Connect);
        c
    }

    /// A passive connection whose handshake just completed: the listener's half-open entry
    /// (SYN-RECEIVED, our SYN-ACK sent) has received an acceptable ACK. The caller feeds that
    /// ACK segment to `handle_segment`, which moves it to ESTABLISHED.
    pub(crate) fn from_half_open(
        cfg: &StackConfig,
        opts: SocketOptions,
        tuple: FourTuple,
        iss: SeqNum,
        syn: PeerSyn,
        ts_offset: u32,
        now: Instant,
    ) -> Self {
        let mut c = Connection::new(cfg, opts, tuple, iss, State::SynReceived, true, ts_offset);
        c.on_peer_syn(cfg, syn, now);
        // Our SYN-ACK acknowledged the SYN.
        c.last_ack_sent = c.rcv_nxt;
        c.snd_nxt = iss.add(1);
        c.snd_max = iss.add(1);
        c
    }

    /// Record the peer's SYN: IRS, RCV.NXT, its window and MSS (RFC 9293 §3.10.7.3, fourth),
    /// and settle the RFC 7323 options: each applies only when both SYNs carried it. Our SYN
    /// offered them as the configuration says; a passive side's SYN-ACK offered them only
    /// when this SYN did.
    fn on_peer_syn(&mut self, cfg: &StackConfig, syn: PeerSyn, now: Instant) {
        self.irs = syn.irs;
        self.rcv_nxt = syn.irs.add(1);
        let peer = syn.mss.unwrap_or(default_peer_mss(&self.tuple())).max(64);
        self.mss = mss_for(cfg, self.cold_ref().max_segment, &self.tuple()).min(peer);
        if cfg.recv_buffer_whole_segments {
            // As FreeBSD's tcp_mss: a buffer of whole segments, so the window never ends
            // in a sliver the peer cannot fill with a full-sized segment.
            let mss = usize::from(self.mss);
            self.recv_buf
                .grow_to(self.recv_buf.capacity().div_ceil(mss) * mss);
        }
        // The window of a SYN is never scaled (RFC 7323 §2.2), so the right edge our SYN
        // showed is taken before the shift applies.
        self.rcv_adv = self.rcv_nxt.add(u32::from(self.advertised_window()));
        if let (true, Some(shift)) = (cfg.window_scaling, syn.wscale) {
            // RFC 7323 §2.3: a shift above 14 is used as 14.
            self.flags.set(Flags::WS_OK, true);
            self.snd_wind_shift = shift.min(MAX_WIND_SHIFT);
            self.rcv_wind_shift = self.rcv_wind_shift_offered;
        }
        // RFC 2018 §2: SACK only when both SYNs carried SACK-Permitted.
        self.flags
            .set(Flags::SACK_OK, cfg.sack && syn.sack_permitted);
        if let (true, Some(tsval)) = (cfg.timestamps, syn.tsval) {
            self.flags.set(Flags::TS_OK, true);
            self.ts_recent = tsval;
            self.ts_recent_age = now;
        }
        self.snd_wnd = u32::from(syn.window);
        self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
        self.snd_wl1 = syn.irs;
        // RFC 6928: the initial window, sized by the full segment's payload now known
        // (counting the MSS itself would leave cwnd a few bytes over whole segments, which
        // then go out as runts).
        self.cc = self.cc.algorithm().controller(self.smss());
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Why the connection ended, if abnormally.
    pub fn error(&self) -> Option<ConnError> {
        self.error
    }

    /// The 4-tuple.
    pub(crate) fn tuple(&self) -> FourTuple {
        self.tuple.get()
    }

    /// Is the connection's 4-tuple `t`?
    pub(crate) fn is_for(&self, t: &FourTuple) -> bool {
        self.tuple.is(t)
    }

    pub(crate) fn is_released(&self) -> bool {
        self.flags.has(Flags::RELEASED)
    }

    /// A released connection in TIME-WAIT gives up everything but its compact TIME-WAIT
    /// entry, which the stack keeps in its place.
    pub(crate) fn take_time_wait(&mut self) -> Option<Box<time_wait::TimeWait>> {
        if !self.flags.has(Flags::RELEASED) {
            return None;
        }
        let mut tw = self.cold.as_deref_mut()?.time_wait.take()?;
        if self.ack_now {
            tw.owe_ack();
        }
        Some(tw)
    }

    /// Whether the slot can be freed: closed and no application handle left.
    pub(crate) fn is_reapable(&self) -> bool {
        self.state == State::Closed && self.flags.has(Flags::RELEASED)
    }

    pub(crate) fn set_state(&mut self, ctx: &mut Ctx<'_>, to: State, cause: Cause) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        if from == State::FinWait2 {
            // The FIN-WAIT-2 timer only ends FIN-WAIT-2; left armed in TIME-WAIT it would wake
            // the connection for nothing (found by the stack fuzz target).
            if let Some(c) = self.cold.as_deref_mut() {
                c.fin_wait_2_at = Deadline::NONE;
            }
        }
        ctx.trace.push(
            ctx.now,
            EventKind::State(StateEvent {
                tuple: self.tuple(),
                conn: Some(ctx.id),
                from,
                to,
                cause,
                error: if to == State::Closed {
                    self.error
                } else {
                    None
                },
            }),
        );
        if to == State::Closed {
            self.rto_at = Deadline::NONE;
            if let Some(c) = self.cold.as_deref_mut() {
                c.time_wait = None;
                c.persist_at = Deadline::NONE;
                c.fin_wait_2_at = Deadline::NONE;
                c.sack_report.clear();
            }
            self.ack_now = false;
            self.delack.on_ack_sent();
            self.flags.set(Flags::PROBE_NOW, false);
            self.nagle = nagle::NagleState::default();
            self.note_limit(ctx.now, None);
        }
    }

    /// End the connection abnormally.
    fn fail(&mut self, ctx: &mut Ctx<'_>, err: ConnError, cause: Cause) {
        self.error = Some(err);
        self.send_buf.consume(usize::MAX, ctx.bufs);
        self.set_state(ctx, State::Closed, cause);
    }

    /// SEND (RFC 9293 §3.10.2): queue bytes; returns how many were taken. An empty send
    /// buffer takes its storage from `bufs`.
    pub(crate) fn send(&mut self, data: &[u8], bufs: &mut BufPool) -> Result<usize, SendError> {
        if let Some(e) = self.error {
            return Err(e.into());
        }
        if !self.state.can_send() || self.flags.has(Flags::FIN_QUEUED) {
            return Err(SendError::Closing);
        }
        if data.is_empty() {
            return Ok(0);
        }
        match self.send_buf.push(data, bufs) {
            0 => Err(SendError::WouldBlock),
            n => Ok(n),
        }
    }

    /// Keep `buf` as the storage of the readable bytes the segment just handled counted in it
    /// (`rx_chunks`); `Err` gives it back if they were not counted.
    pub(crate) fn keep_datagram(&mut self, buf: Vec<u8>) -> Result<(), Vec<u8>> {
        self.recv_buf.attach(buf)
    }

    /// RECEIVE (RFC 9293 §3.10.3): `Ok(0)` is end of stream.
    /// Pages the read empties go back to `bufs`.
    pub(crate) fn recv(&mut self, out: &mut [u8], bufs: &mut BufPool) -> Result<usize, RecvError> {
        self.recv_with(out.len(), bufs, paged_ring::filler(out))
    }

    /// RECEIVE in place: show up to `max` readable bytes to `f` where they lie, as contiguous
    /// runs in order, and count them read; otherwise as `recv`.
    pub(crate) fn recv_with(
        &mut self,
        max: usize,
        bufs: &mut BufPool,
        f: impl FnMut(&[u8]),
    ) -> Result<usize, RecvError> {
        if self.recv_buf.readable() > 0 {
            let before = self.recv_buf.window();
            let n = self.recv_buf.consume(max, bufs, f);
            self.on_window_opened(before);
            return Ok(n);
        }
        if let Some(e) = self.error {
            return Err(e.into());
        }
        if self.state.has_received_fin() || self.state == State::Closed {
            return Ok(0);
        }
        Err(RecvError::WouldBlock)
    }

    /// Send a window update when reading opened the window enough to matter: from zero (as
    /// last advertised, or as the buffer was) by
    /// enough to pass receiver SWS avoidance (RFC 9293 §3.8.6.2.2; less would repeat the old
    /// edge), or by at least min(half the buffer, two segments) past what was last advertised.
    fn on_window_opened(&mut self, window_before: usize) {
        if !matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) {
            return;
        }
        let new_right = self.rcv_nxt.add(self.recv_buf.window() as u32);
        let gain = new_right.since(self.rcv_adv) as usize;
        let threshold = (self.recv_buf.window() + self.recv_buf.readable()) / 2;
        let threshold = threshold.min(2 * usize::from(self.mss));
        if new_right.after(self.rcv_adv)
            && gain >= self.sws_threshold() as usize
            && (window_before == 0 || !self.rcv_adv.after(self.rcv_nxt) || gain >= threshold)
        {
            self.ack_now = true;
        }
    }

    /// CLOSE of the write side (RFC 9293 §3.10.4), used by both shutdown and close.
    pub(crate) fn shutdown(&mut self, ctx: &mut Ctx<'_>) -> Result<(), CloseError> {
        if let Some(e) = self.error {
            return Err(e.into());
        }
        if self.flags.has(Flags::FIN_QUEUED) {
            return Err(CloseError::Closing);
        }
        match self.state {
            // "Delete the TCB": nothing was sent that needs closing.
            State::SynSent => {
                self.set_state(ctx, State::Closed, Cause::Close);
            }
            // Deviation: RFC 9293 §3.10.4 sends the FIN at once when nothing is queued; we
            // always take its other branch, "queue for processing after entering ESTABLISHED",
            // so a FIN never rides ahead of the ACK of our SYN. FIN-WAIT-1 follows then.
            State::SynReceived => self.flags.set(Flags::FIN_QUEUED, true),
            State::Established => {
                self.flags.set(Flags::FIN_QUEUED, true);
                self.set_state(ctx, State::FinWait1, Cause::Close);
            }
            State::CloseWait => {
                self.flags.set(Flags::FIN_QUEUED, true);
                self.set_state(ctx, State::LastAck, Cause::Close);
            }
            _ => return Err(CloseError::Closing),
        }
        Ok(())
    }

    /// CLOSE (shutdown of writing) and release of the handle.
    /// Deviation: RFC 9293 closes gracefully even with unread received data; like Linux (and
    /// RFC 2525 §2.17) we answer with RST instead, so the peer learns the data was not read.
    pub(crate) fn close(&mut self, ctx: &mut Ctx<'_>) -> Option<RstReply> {
        self.flags.set(Flags::RELEASED, true);
        if self.recv_buf.readable() > 0 && self.state.is_synchronized() {
            return self.abort(ctx);
        }
        match self.state {
            State::SynSent | State::SynReceived | State::Established | State::CloseWait => {
                let _ = self.shutdown(ctx);
            }
            State::FinWait2 => self.arm_fin_wait_2(ctx.now, ctx.cfg),
            _ => {}
        }
        None
    }

    /// ABORT (RFC 9293 §3.10.5): RST in the states where the peer holds state, then CLOSED.
    pub(crate) fn abort(&mut self, ctx: &mut Ctx<'_>) -> Option<RstReply> {
        self.flags.set(Flags::RELEASED, true);
        self.kill(ctx)
    }

    /// ABORT without releasing the handle: the connection ends (with an RST where RFC 9293
    /// §3.10.5 sends one) but an application that still holds it sees it CLOSED, with the
    /// error `Aborted`.
    pub(crate) fn kill(&mut self, ctx: &mut Ctx<'_>) -> Option<RstReply> {
        let rst = match self.state {
            State::SynReceived
            | State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait => Some(RstReply {
                seq: self.snd_nxt,
                ack: None,
            }),
            _ => None,
        };
        if self.state != State::Closed {
            self.recv_buf = RecvBuffer::new(0);
            self.fail(ctx, ConnError::Aborted, Cause::Abort);
        }
        rst
    }

    /// A snapshot for `ss` and statistics; the limited-time counters include only intervals
    /// that have ended (see `info_at`).
    pub fn info(&self) -> ConnInfo {
        ConnInfo {
            tuple: self.tuple(),
            state: self.state,
            send_queue: self.send_buf.len(),
            recv_queue: self.recv_buf.readable(),
            recv_buffer: self.recv_buf.capacity(),
            send_buffer: self.send_buf.capacity(),
            ooo_bytes: self.recv_buf.ooo_bytes(),
            srtt: self.rtt.srtt(),
            rttvar: self.rtt.rttvar(),
            rto: self.rtt.rto(),
            cwnd: self.cc.cwnd(),
            ssthresh: self.cc.ssthresh(),
            congestion_control: self.cc.algorithm(),
            snd_wnd: self.snd_wnd,
            mss: self.mss,
            iss: self.iss,
            irs: self.irs,
            error: self.error,
            stats: self.merged_stats(),
        }
    }

    /// A snapshot at `now`: a limited interval still running counts up to `now`.
    pub fn info_at(&self, now: Instant) -> ConnInfo {
        ConnInfo {
            stats: self.stats_at(now),
            ..self.info()
        }
    }

    /// Whether `recv` would return data or end of stream without blocking.
    pub fn is_readable(&self) -> bool {
        self.recv_buf.readable() > 0 || self.state.has_received_fin() || self.state == State::Closed
    }

    /// Free space in the send buffer.
    pub fn send_capacity(&self) -> usize {
        if self.state.can_send() && !self.flags.has(Flags::FIN_QUEUED) {
            self.send_buf.free()
        } else {
            0
        }
    }

    /// Sequence number our FIN occupies, once sent.
    fn fin_seq(&self) -> Option<SeqNum> {
        self.flags.has(Flags::FIN_SENT).then_some(self.fin_seq)
    }

    /// A FIN from the peer that arrived ahead of a gap.
    fn ooo_fin(&self) -> Option<SeqNum> {
        self.flags.has(Flags::OOO_FIN).then_some(self.ooo_fin)
    }

    /// Record (or forget) a FIN from the peer that arrived ahead of a gap.
    fn set_ooo_fin(&mut self, fin: Option<SeqNum>) {
        self.flags.set(Flags::OOO_FIN, fin.is_some());
        self.ooo_fin = fin.unwrap_or_default();
    }

    /// The segment being timed for an RTT sample (Karn's rule), by its end sequence number,
    /// and when it was sent.
    fn rtt_probe(&self) -> Option<(SeqNum, Instant)> {
        self.rtt_probe_sent.get().map(|t| (self.rtt_probe_end, t))
    }

    /// Time the segment ending at `end`, sent at `sent`.
    fn start_rtt_probe(&mut self, end: SeqNum, sent: Instant) {
        self.rtt_probe_end = end;
        self.rtt_probe_sent = Deadline::at(sent);
    }

    /// Whether all queued data has been sent and acknowledged.
    pub fn is_send_drained(&self) -> bool {
        self.send_buf.len() == 0 && self.snd_una == self.snd_max
    }
}

pub(crate) fn our_mss(cfg: &StackConfig, opts: &SocketOptions, tuple: &FourTuple) -> u16 {
    mss_for(cfg, opts.max_segment, tuple)
}

/// Our MSS for `tuple`'s path, lowered by TCP_MAXSEG if set.
fn mss_for(cfg: &StackConfig, max_segment: Option<u16>, tuple: &FourTuple) -> u16 {
    let mss = if tuple.local.is_ipv4() {
        cfg.mss_v4()
    } else {
        cfg.mss_v6()
    };
    // TCP_MAXSEG only lowers it, and never below the smallest a peer must accept.
    max_segment.map_or(mss, |m| mss.min(m.max(64)))
}

pub(crate) fn default_peer_mss(tuple: &FourTuple) -> u16 {
    if tuple.local.is_ipv4() {
        536
    } else {
        1220
    }
}

/// Flags helper for building segments.
pub(crate) const ACK: TcpFlags = TcpFlags::ACK;

/// Options of our SYN or SYN-ACK: the MSS, the Window Scale option when `wscale` and
/// SACK-Permitted when `sack` (RFC 7323 §2.2, RFC 2018 §2: on a SYN-ACK only if the SYN
/// carried it; the caller decides), and `ts`.
pub(crate) fn syn_options(
    cfg: &StackConfig,
    opts: &SocketOptions,
    tuple: &FourTuple,
    wscale: bool,
    sack: bool,
    ts: Option<Timestamps>,
) -> TcpOptions {
    TcpOptions {
        mss: Some(our_mss(cfg, opts, tuple)),
        window_scale: wscale.then(|| wind_shift_for(opts.recv_buffer(cfg))),
        sack_permitted: sack,
        timestamps: ts,
        ..TcpOptions::default()
    }
}
