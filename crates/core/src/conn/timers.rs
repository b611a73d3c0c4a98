//! Connection timeouts (RFC 9293 §3.10.8): retransmission (RFC 6298 §5), zero-window persist
//! (§3.8.6.1), the sender SWS override (§3.8.6.2.1), TIME-WAIT's 2×MSL (§3.4.2), the
//! orphaned FIN-WAIT-2 limit, and the delayed ACK (§3.8.6.3).

use crate::config::StackConfig;
use crate::error::ConnError;
use crate::event::{Cause, EventKind, TimerEvent, TimerKind};
use crate::state::State;
use crate::time::Instant;

use super::deadline::Deadline;
use super::flags::Flags;
use super::time_wait::{Handover, TimeWait, TsEcho};
use super::{Connection, Ctx};
use crate::cc::CongestionControl;

impl Connection {
    /// The earliest instant at which `handle_timeout` has work.
    pub(crate) fn next_deadline(&self, cfg: &StackConfig) -> Option<Instant> {
        // An unset Deadline is later than every set one, so the earliest is a plain minimum.
        let mut t = self
            .rto_at
            .min(self.nagle.override_at)
            .min(self.delack.deadline);
        if let Some(c) = self.cold.as_deref() {
            if let Some(tw) = &c.time_wait {
                t = t.min(Deadline::at(tw.deadline()));
            }
            t = t
                .min(c.persist_at)
                .min(c.fin_wait_2_at)
                .min(self.keepalive_deadline(cfg).into());
        }
        t.get()
    }

    /// Fire every timer due at `now`.
    pub(crate) fn handle_timeout(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now;
        if let Some(tw) = self
            .cold
            .as_deref_mut()
            .and_then(|c| c.time_wait.as_deref_mut())
        {
            // TIME-WAIT runs no timer but its own.
            if let Some(ended) = tw.on_timeout(ctx) {
                self.end_time_wait(ctx, ended);
            }
            return;
        }
        if self.cold_ref().fin_wait_2_at.is_due(now) {
            self.cold().fin_wait_2_at = Deadline::NONE;
            if self.state == State::FinWait2 {
                self.timer_event(ctx, TimerKind::FinWait2, 0);
                self.set_state(ctx, State::Closed, Cause::FinWait2Timeout);
                return;
            }
        }
        if self.delack.is_due(now) {
            // RFC 9293 §3.8.6.3: the delayed ACK goes now.
            self.delack.on_ack_sent();
            self.timer_event(ctx, TimerKind::DelayedAck, 0);
            self.ack_now = true;
        }
        if self.rto_at.is_due(now) {
            self.on_retransmission_timeout(ctx);
        }
        if self.cold_ref().persist_at.is_due(now) {
            self.on_persist_timeout(ctx);
        }
        if self.nagle.override_at.is_due(now) {
            self.on_sws_override_timeout();
        }
        if self.keepalive_deadline(ctx.cfg).is_some_and(|t| t <= now) {
            self.on_keepalive_timeout(ctx);
        }
    }

    /// RFC 6298 §5.4–5.7 and RFC 5681 §3.1: retransmit from SND.UNA, back off, shrink cwnd.
    fn on_retransmission_timeout(&mut self, ctx: &mut Ctx<'_>) {
        self.rto_at = Deadline::NONE;
        if self.snd_una == self.snd_max || self.state == State::Closed {
            return;
        }
        let c = self.cold();
        c.retries += 1;
        c.stats.rto_count += 1;
        let retries = c.retries;
        self.timer_event(ctx, TimerKind::Retransmit, retries);
        let limit = match self.state {
            State::SynSent | State::SynReceived => ctx.cfg.syn_retries,
            _ => ctx.cfg.data_retries,
        };
        if retries > limit {
            self.fail(ctx, ConnError::TimedOut, Cause::RetriesExhausted);
            return;
        }
        self.rtt.back_off(super::rtt::RtoBounds::of(ctx.cfg));
        let flight = self.snd_max.since(self.snd_una);
        self.cc.on_rto(ctx.now, flight);
        self.reset_recovery_on_rto();
        // Go back N: everything from SND.UNA is sent again as the window allows. Karn's rule:
        // nothing sent before this point may be timed.
        self.snd_nxt = self.snd_una;
        self.rtt_probe_sent = Deadline::NONE;
        self.rto_at = Deadline::at(ctx.now + self.rtt.rto());
    }

    /// RFC 9293 §3.8.6.1: probe a zero window, backing off exponentially. The connection is
    /// kept as long as the peer answers; with no answer at all it times out like data.
    fn on_persist_timeout(&mut self, ctx: &mut Ctx<'_>) {
        let c = self.cold();
        c.persist_at = Deadline::NONE;
        if self.snd_wnd != 0 {
            return;
        }
        let c = self.cold();
        c.persist_backoff += 1;
        c.persist_probes += 1;
        let (backoff, probes) = (c.persist_backoff, c.persist_probes);
        self.timer_event(ctx, TimerKind::Persist, backoff);
        if probes > ctx.cfg.data_retries {
            self.fail(ctx, ConnError::TimedOut, Cause::RetriesExhausted);
            return;
        }
        self.snd_nxt = self.snd_una;
        self.flags.set(Flags::PROBE_NOW, true);
        let shift = backoff.min(16);
        let wait = (self.rtt.rto() * (1u32 << shift)).min(ctx.cfg.max_rto);
        self.cold().persist_at = Deadline::at(ctx.now + wait);
    }

    /// Enter TIME-WAIT, or go straight to CLOSED when TIME-WAIT is disabled.
    pub(crate) fn enter_time_wait(&mut self, ctx: &mut Ctx<'_>, cause: Cause) {
        self.rto_at = Deadline::NONE;
        if let Some(c) = self.cold.as_deref_mut() {
            c.persist_at = Deadline::NONE;
        }
        if ctx.cfg.time_wait {
            self.set_state(ctx, State::TimeWait, cause);
            let handover = Handover {
                tuple: self.tuple(),
                iss: self.iss,
                irs: self.irs,
                snd_nxt: self.snd_max,
                rcv_nxt: self.rcv_nxt,
                window: self.advertised_window(),
                shift: self.rcv_wind_shift,
                ts: self.flags.has(Flags::TS_OK).then_some(TsEcho {
                    recent: self.ts_recent,
                    recent_age: self.ts_recent_age,
                    offset: self.ts_offset,
                }),
                last_invalid_ack: self.last_invalid_ack.get(),
                ack_due: std::mem::take(&mut self.ack_now),
            };
            // A released connection's box goes straight back to the pool once the stack has
            // packed its state (`compact_time_wait`): reuse one rather than allocate.
            let tw = ctx
                .bufs
                .boxed_time_wait(TimeWait::new(handover, ctx.now, ctx.cfg));
            self.cold().time_wait = Some(tw);
            // From here TIME-WAIT acknowledges for itself; nothing else is pending.
            self.delack.on_ack_sent();
            if let Some(c) = self.cold.as_deref_mut() {
                c.sack_report.clear();
            }
            self.nagle = super::nagle::NagleState::default();
        } else {
            // RFC 9293 §3.10.7.4, eighth step: the peer's FIN is acknowledged even though we
            // skip TIME-WAIT; entering CLOSED clears `ack_now`, so keep the debt across it.
            let owe_ack = self.ack_now;
            self.set_state(ctx, State::Closed, cause);
            self.ack_now = owe_ack;
        }
    }

    /// Limit how long a released connection may wait in FIN-WAIT-2.
    pub(crate) fn arm_fin_wait_2(&mut self, now: Instant, cfg: &StackConfig) {
        self.cold().fin_wait_2_at = Deadline::at(now + cfg.fin_wait_2_timeout);
    }

    pub(super) fn timer_event(&self, ctx: &mut Ctx<'_>, timer: TimerKind, attempt: u32) {
        ctx.trace.push(
            ctx.now,
            EventKind::Timer(TimerEvent {
                tuple: self.tuple(),
                timer,
                attempt,
            }),
        );
    }
}
