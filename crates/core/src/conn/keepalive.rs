//! Keep-alive (RFC 9293 §3.8.4): off unless the application asks for it. After `idle` with
//! nothing heard from the peer, probe with an ACK one below SND.NXT, which any live peer must
//! answer with an ACK (the sequence number is outside its window, §3.10.7.4 first check);
//! after `probes` unanswered probes `interval` apart the connection fails with `TimedOut`.
//!
//! Probes go out in ESTABLISHED and CLOSE-WAIT, where the connection may sit idle forever, and
//! in FIN-WAIT-2 (as Linux), where the peer may vanish before sending its FIN; a released
//! connection's FIN-WAIT-2 is also bounded by `fin_wait_2_timeout`. Other states have a
//! retransmission or TIME-WAIT timer of their own.

use super::output::TxSegment;
use super::{Connection, Ctx, ACK};
use crate::config::{KeepAlive, StackConfig};
use crate::error::ConnError;
use crate::event::{Cause, TimerKind};
use crate::state::State;
use crate::time::Instant;

/// Keep-alive bookkeeping of one connection.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct KeepAliveState {
    /// When the idle period began: the last segment from the peer, or keep-alive being
    /// switched on, whichever is later.
    idle_since: Instant,
    /// Probes sent since the peer was last heard from.
    probes_sent: u32,
    /// When the last probe was sent.
    last_probe: Instant,
    /// The timer fired: a probe goes out on the next poll.
    probe_now: bool,
}

impl KeepAliveState {
    /// Nothing heard, nothing sent (`Default`, usable in a const).
    pub(crate) const IDLE: KeepAliveState = KeepAliveState {
        idle_since: Instant::ZERO,
        probes_sent: 0,
        last_probe: Instant::ZERO,
        probe_now: false,
    };
}

impl Connection {
    fn keepalive_applies(&self) -> bool {
        self.cold_ref().keepalive.is_some()
            && matches!(
                self.state,
                State::Established | State::CloseWait | State::FinWait2
            )
    }

    /// When the keep-alive timer is due, if it runs.
    pub(crate) fn keepalive_deadline(&self, cfg: &StackConfig) -> Option<Instant> {
        let ka = self.cold.as_deref()?.keepalive?;
        if !self.keepalive_applies() {
            return None;
        }
        let k = &self.cold_ref().ka;
        Some(if k.probes_sent == 0 {
            k.idle_since + ka.idle(cfg)
        } else {
            k.last_probe + ka.interval(cfg)
        })
    }

    /// Any segment from the peer proves it alive: the idle period starts over (§3.8.4).
    /// Without the cold part keep-alive is off and its bookkeeping unused: `set_keepalive`
    /// starts it over when it is turned on.
    pub(crate) fn keepalive_heard(&mut self, now: Instant) {
        if let Some(c) = self.cold.as_deref_mut() {
            c.ka.idle_since = now;
            c.ka.probes_sent = 0;
            c.ka.probe_now = false;
        }
    }

    /// SO_KEEPALIVE on a live connection: `None` turns it off; turning it on starts the idle
    /// period now, as Linux's tcp_set_keepalive does.
    pub(crate) fn set_keepalive(&mut self, now: Instant, ka: Option<KeepAlive>) {
        if ka.is_none() && self.cold.is_none() {
            return;
        }
        self.cold().keepalive = ka;
        self.keepalive_heard(now);
    }

    /// The keep-alive timer fired.
    pub(crate) fn on_keepalive_timeout(&mut self, ctx: &mut Ctx<'_>) {
        let Some(ka) = self.cold_ref().keepalive else {
            return;
        };
        // RFC 9293 §3.8.4: "Keep-alive packets MUST only be sent when no sent data is
        // outstanding". Data in flight or waiting has the retransmission or persist timer
        // watching the peer; start the idle period over, as Linux does.
        if self.snd_una != self.snd_max || self.send_buf.len() > 0 {
            self.keepalive_heard(ctx.now);
            return;
        }
        let k = &mut self.cold().ka;
        if k.probes_sent >= ka.probes(ctx.cfg) {
            let n = k.probes_sent + 1;
            self.timer_event(ctx, TimerKind::KeepAlive, n);
            self.fail(ctx, ConnError::TimedOut, Cause::RetriesExhausted);
            return;
        }
        k.probes_sent += 1;
        k.last_probe = ctx.now;
        k.probe_now = true;
        let n = k.probes_sent;
        self.timer_event(ctx, TimerKind::KeepAlive, n);
    }

    /// Whether a keep-alive probe waits to be sent.
    pub(crate) fn keepalive_probe_due(&self) -> bool {
        self.cold.as_deref().is_some_and(|c| c.ka.probe_now)
    }

    /// The probe, when one is due: an ACK with SEG.SEQ = SND.NXT-1 and no data (§3.8.4; the
    /// optional garbage octet is not sent).
    pub(crate) fn keepalive_probe(&mut self, now: Instant) -> Option<TxSegment> {
        let c = self.cold.as_deref_mut()?;
        if !std::mem::take(&mut c.ka.probe_now) || !self.keepalive_applies() {
            return None;
        }
        self.cold().stats.keepalive_probes += 1;
        Some(TxSegment {
            seq: self.snd_nxt.sub(1),
            ack: self.rcv_nxt,
            flags: ACK,
            window: self.advertised_window(),
            // RFC 7323 §3.2: once negotiated, every non-RST segment carries TSopt; a peer
            // that drops segments without it would never answer the probe.
            options: self.segment_options(now),
            payload_off: 0,
            payload_len: 0,
            segment_size: None,
            retransmit: false,
        })
    }
}
