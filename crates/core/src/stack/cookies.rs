//! The listener's stateless path (SYN cookies, see `crate::cookie`): a SYN answered with a
//! cookie SYN-ACK through the reply queue, and a final ACK whose cookie checks out turned
//! straight into a connection in the accept queue.

use std::time::Duration;

use oxtcp_wire::Timestamps;

use super::{Entry, Reply, Stack};
use crate::conn::{
    default_peer_mss, our_mss, syn_options, ts_clock, Connection, Disposition, PeerSyn, SegIn,
};
use crate::cookie::{encode_ts, CookieSyn, SynCookies};
use crate::event::{Cause, DropReason};
use crate::time::Instant;
use crate::tuple::FourTuple;

/// How long after its last cookie a `WhenFull` listener still checks ACKs as cookies: the
/// longest a cookie stays valid (three 64-second periods).
const COOKIE_WINDOW: Duration = Duration::from_secs(192);

impl Stack {
    /// Whether `listener` answers this SYN with a cookie rather than a half-open entry.
    pub(super) fn wants_cookie(&self, listener: u32) -> bool {
        let Some(l) = self.listeners[listener as usize].1.as_ref() else {
            return false;
        };
        match self.cfg.syn_cookies {
            SynCookies::Off => false,
            SynCookies::Always => true,
            SynCookies::WhenFull => l.syn_queue >= l.backlog,
        }
    }

    /// Answer a SYN with a cookie SYN-ACK, keeping nothing. Window scaling and SACK are
    /// offered only when timestamps can carry them back (see `crate::cookie`).
    pub(super) fn send_syn_cookie(
        &mut self,
        now: Instant,
        listener: u32,
        tuple: FourTuple,
        seg: &SegIn<'_>,
    ) -> Disposition {
        let opts = self.listener_opts(listener);
        let Some(l) = self.listeners[listener as usize].1.as_mut() else {
            return Disposition::Dropped(DropReason::Closed);
        };
        if l.accept_queue.len() >= l.backlog {
            // A cookie cannot help: the handshake could not complete.
            l.stats.accept_queue_overflows += 1;
            return Disposition::Dropped(DropReason::AcceptQueueFull);
        }
        if l.syn_queue >= l.backlog {
            l.stats.syn_queue_overflows += 1;
        }
        l.stats.syncookies_sent += 1;
        l.cookie_sent_at = Some(now);
        let peer_mss = seg.options.mss.unwrap_or(default_peer_mss(&tuple));
        let mss = peer_mss.min(our_mss(&self.cfg, &opts, &tuple));
        let (iss, _) = self.cookies.make(now, &tuple, seg.seq, mss);
        let ts = seg
            .options
            .timestamps
            .filter(|_| self.cfg.timestamps)
            .map(|peer| peer.tsval);
        let wscale = ts.is_some() && self.cfg.window_scaling && seg.options.window_scale.is_some();
        let sack = ts.is_some() && self.cfg.sack && seg.options.sack_permitted;
        let ts = ts.map(|tsecr| Timestamps {
            tsval: encode_ts(
                ts_clock(now, self.isn.ts_offset(&tuple)),
                seg.options.window_scale.filter(|_| wscale),
                sack,
            ),
            tsecr,
        });
        self.queue_reply(Reply::SynCookie {
            tuple,
            iss,
            ack: seg.seq.add(1),
            window: u16::try_from(opts.recv_window_cap(&self.cfg)).unwrap_or(u16::MAX),
            options: syn_options(&self.cfg, &opts, &tuple, wscale, sack, ts),
        });
        Disposition::Accepted
    }

    /// An ACK reached a listener: if it returns one of our cookies, the handshake it
    /// completes becomes a connection in the accept queue, and the ACK (with any data) is
    /// processed by it. `None` if the ACK is not a valid cookie (the caller answers as to any
    /// stray ACK).
    pub(super) fn accept_cookie_ack(
        &mut self,
        now: Instant,
        listener: u32,
        tuple: FourTuple,
        seg: SegIn<'_>,
        pos: Option<usize>,
    ) -> Option<Disposition> {
        let mode = self.cfg.syn_cookies;
        let l = self.listeners[listener as usize].1.as_mut()?;
        let recent = l
            .cookie_sent_at
            .is_some_and(|t| now.saturating_duration_since(t) <= COOKIE_WINDOW);
        if mode == SynCookies::Off || (mode == SynCookies::WhenFull && !recent) {
            return None;
        }
        let (irs, iss) = (seg.seq.sub(1), seg.ack.sub(1));
        let Some(mss) = self.cookies.check(now, &tuple, irs, iss) else {
            l.stats.syncookies_failed += 1;
            return None;
        };
        if l.accept_queue.len() >= l.backlog {
            l.stats.accept_queue_overflows += 1;
            return Some(Disposition::Dropped(DropReason::AcceptQueueFull));
        }
        let opts = l.opts;
        let charge = self.buffer_charge(&opts);
        if let Err(reason) = self.admit_connection(charge) {
            return Some(Disposition::Dropped(reason));
        }
        let tsecr = seg.options.timestamps.map(|t| t.tsecr);
        let c = CookieSyn::new(mss, tsecr);
        let syn = PeerSyn {
            irs,
            window: seg.wnd,
            mss: Some(c.mss),
            wscale: c.wscale,
            tsval: seg.options.timestamps.map(|t| t.tsval),
            sack_permitted: c.sack_permitted,
        };
        let ts_offset = self.isn.ts_offset(&tuple);
        let conn = Connection::from_half_open(&self.cfg, opts, tuple, iss, syn, ts_offset, now);
        // The SYN-RECEIVED it never held is traced for the state model; the ACK moves it on.
        let (index, id) = self.place_passive(
            now,
            tuple,
            Entry::Conn(Box::new(conn)),
            charge,
            pos,
            Cause::SynCookie,
        );
        if let Some(l) = self.listeners[listener as usize].1.as_mut() {
            l.stats.syncookies_accepted += 1;
            l.stats.established += 1;
            l.accept_queue.push_back(id);
        }
        Some(self.on_conn_segment(now, index, seg))
    }
}
