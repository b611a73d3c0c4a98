//! Where segments enter: parse once, demultiplex once, hand to exactly one handler — a
//! connection, a half-open entry, a listener, or the CLOSED-state rules (RFC 9293 §3.10.7.1).

use oxtcp_wire::{parse_packet_gathered, parse_packet_with, Checksum};

use super::tuple_table::Found;
use super::{Entry, Reply, Slot, Stack};
use crate::conn::{
    Connection, Ctx, Disposition, Ended, PeerSyn, RstReply, SegIn, TimeWaitSyn, KEEP_MIN,
};
use crate::cookie::SynCookies;
use crate::event::{Cause, Dir, DropReason, EventKind, SegmentEvent, StateEvent};
use crate::handle::ConnId;
use crate::listener::{HalfOpen, HalfOpenOutcome};
use crate::seq::SeqNum;
use crate::state::State;
use crate::time::Instant;
use crate::tuple::FourTuple;

use std::net::SocketAddr;

/// A datagram as a device hands it over: in one piece, or as its headers and its payload.
#[derive(Clone, Copy)]
enum Datagram<'a> {
    Whole(&'a [u8]),
    Gathered(&'a [u8], &'a [u8]),
}

impl Stack {
    /// An IP datagram arrives from the network.
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.handle_packet_with(now, packet, Checksum::Computed);
    }

    /// [`handle_packet_with`](Self::handle_packet_with) for the datagram `buf[..len]` in a
    /// buffer the driver owns and reads into again.
    ///
    /// When the datagram carries a connection's next in-order bytes, at least 8 KiB of them,
    /// and they fill at least half of `buf`, the stack keeps the buffer and the application
    /// later reads those bytes from it, one copy fewer than with `handle_packet_with`. `buf`
    /// is then replaced by a buffer of the same length: one that an earlier datagram was kept
    /// in and that the application has emptied, or a new one. Otherwise `buf` is left as it
    /// was.
    #[inline]
    pub fn handle_packet_buffer(
        &mut self,
        now: Instant,
        buf: &mut Vec<u8>,
        len: usize,
        checksum: Checksum,
    ) {
        let len = len.min(buf.len());
        if len < KEEP_MIN {
            // Its payload is too small to be kept: no offer to make.
            self.handle_packet_with(now, &buf[..len], checksum);
        } else {
            self.handle_packet_offered(now, buf, len, checksum);
        }
    }

    /// `handle_packet_buffer` for a datagram large enough that its buffer may be kept.
    #[inline(never)]
    fn handle_packet_offered(
        &mut self,
        now: Instant,
        buf: &mut Vec<u8>,
        len: usize,
        checksum: Checksum,
    ) {
        self.bufs.offer = Some(crate::conn::Offer::new(&buf[..len], buf.capacity()));
        self.handle_packet_with(now, &buf[..len], checksum);
        let Some(taker) = self.bufs.offer.take().and_then(|o| o.taker()) else {
            return;
        };
        // Same length: the driver reads a whole datagram into whatever it gets back.
        let spare = self
            .bufs
            .take_datagram(buf.len())
            .unwrap_or_else(|| vec![0; buf.len()]);
        let datagram = std::mem::replace(buf, spare);
        // Released or not: the bytes are counted in its receive buffer either way.
        let kept = match self.slots.get_mut(taker.index as usize) {
            Some(Slot {
                gen,
                entry: Entry::Conn(c),
                ..
            }) if *gen == taker.gen => c.keep_datagram(datagram),
            _ => Err(datagram),
        };
        match kept {
            Ok(()) => self.stats.datagrams_kept += 1,
            // The connection is gone since (its bytes with it); the buffer is only spare.
            Err(datagram) => self.bufs.give_datagram(datagram),
        }
    }

    /// [`handle_packet`](Self::handle_packet) for a datagram whose TCP checksum the device may
    /// vouch for ([`Checksum::Offloaded`], receive checksum offload): then it is not computed
    /// again, and every other check applies as before.
    pub fn handle_packet_with(&mut self, now: Instant, packet: &[u8], checksum: Checksum) {
        self.handle_datagram(now, Datagram::Whole(packet), checksum);
    }

    /// [`handle_packet_with`](Self::handle_packet_with) for a datagram that arrives in two
    /// parts, its IP and TCP headers and its payload
    /// ([`parse_packet_gathered`](oxtcp_wire::parse_packet_gathered)), from a device that
    /// gathers or a link that hands a datagram over where its bytes lie. The payload is read
    /// where it is: what the stack keeps of it is copied into the receive buffer.
    pub fn handle_packet_gathered(
        &mut self,
        now: Instant,
        headers: &[u8],
        payload: &[u8],
        checksum: Checksum,
    ) {
        self.handle_datagram(now, Datagram::Gathered(headers, payload), checksum);
    }

    /// A datagram in either form: parsed, then handled the same whichever way it arrived.
    fn handle_datagram(&mut self, now: Instant, datagram: Datagram<'_>, checksum: Checksum) {
        self.advance(now);
        self.stats.packets_in += 1;
        let parsed = match datagram {
            Datagram::Whole(packet) => parse_packet_with(packet, checksum),
            Datagram::Gathered(headers, payload) => {
                parse_packet_gathered(headers, payload, checksum)
            }
        };
        // Read where the parser wrote it: moving it out would copy some 150 bytes, with wide
        // loads of the parser's narrow stores, which stall.
        let seg = match &parsed {
            Ok(s) => s,
            Err(e) => {
                let reason = DropReason::Malformed(*e);
                self.stats.count_drop(reason);
                self.trace.push(now, EventKind::Malformed(reason));
                return;
            }
        };
        let (src, dst) = (seg.ip.src(), seg.ip.dst());
        let tcp = &seg.tcp;
        let tuple = FourTuple {
            local: SocketAddr::new(dst, tcp.dst_port),
            remote: SocketAddr::new(src, tcp.src_port),
        };
        // Built only when recorded, as on output: the event is some 80 bytes of stores.
        let pos = if self.trace.is_on() {
            self.trace.push(
                now,
                EventKind::Segment(SegmentEvent {
                    dir: Dir::Rx,
                    tuple,
                    conn: None,
                    seq: tcp.seq,
                    ack: tcp.ack,
                    flags: tcp.flags,
                    len: seg.payload.len() as u32,
                    win: tcp.window,
                    options: tcp.options,
                    retransmit: false,
                    reason: None,
                }),
            )
        } else {
            None
        };
        let seg_in = SegIn {
            seq: SeqNum::new(tcp.seq),
            ack: SeqNum::new(tcp.ack),
            flags: tcp.flags,
            wnd: tcp.window,
            options: &tcp.options,
            payload: seg.payload,
        };
        let verdict = if !self.addrs.contains(&dst) {
            Err(DropReason::NotForUs)
        } else if tcp.src_port == 0 || tcp.dst_port == 0 || !is_unicast(src) {
            // RFC 9293 §3.9.2.2 / RFC 1122 §4.2.3.10: never answer broadcast or multicast.
            Err(DropReason::BadAddress)
        } else if tcp.flags.syn() && tcp.flags.rst() {
            // Deviation: RFC 9293 does not name SYN+RST; in a synchronized state its RST would
            // be checked first and could reset the connection. No real TCP sends it, so it is
            // dropped, as OpenBSD does, before any state sees it.
            Err(DropReason::SynRst)
        } else {
            Ok(())
        };
        let disposition = match verdict {
            Err(reason) => Disposition::Dropped(reason),
            Ok(()) => self.demux(now, tuple, seg_in, pos),
        };
        match disposition {
            Disposition::Accepted => {}
            Disposition::Dropped(r) | Disposition::AckSent(r) => {
                self.stats.count_drop(r);
                self.trace.mark_dropped(pos, r);
            }
            Disposition::RstSent(r, rst) => {
                self.stats.count_drop(r);
                self.trace.mark_dropped(pos, r);
                self.queue_reply(Reply::Rst {
                    tuple,
                    rst,
                    reason: r,
                });
            }
        }
    }

    /// One lookup by 4-tuple, then by listening port.
    fn demux(
        &mut self,
        now: Instant,
        tuple: FourTuple,
        seg: SegIn<'_>,
        pos: Option<usize>,
    ) -> Disposition {
        let hash = match self.by_tuple.find(&tuple, &self.slots) {
            Found::Absent(hash) => hash,
            Found::Slot(index) => {
                self.trace.set_conn(pos, self.conn_id(index));
                return match &self.slots[index as usize].entry {
                    Entry::Conn(c) => match c.time_wait_syn(&self.cfg, &seg) {
                        TimeWaitSyn::Process => self.on_conn_segment(now, index, seg),
                        TimeWaitSyn::Drop => Disposition::Dropped(DropReason::TimeWaitSyn),
                        TimeWaitSyn::Reuse => self.reuse_time_wait(now, index, tuple, seg, pos),
                    },
                    Entry::HalfOpen(_) => self.on_half_open_segment(now, index, seg),
                    Entry::Vacant => Disposition::Dropped(DropReason::Closed),
                };
            }
        };
        if let Some(at) = self.time_wait_find(hash, &tuple) {
            self.trace.set_conn(pos, at.id());
            return self.on_time_wait_segment(now, at, tuple, seg, pos);
        }
        match self.listener_for(&tuple) {
            Some(l) => self.on_listen_segment(now, l, tuple, seg, pos),
            None => closed_reply(&seg),
        }
    }

    /// The listener that takes SYNs for `tuple`, if any.
    pub(super) fn listener_for(&self, tuple: &FourTuple) -> Option<u32> {
        self.listener_by_port
            .get(&tuple.local.port())
            .copied()
            .filter(|&l| {
                self.listeners[l as usize].1.as_ref().is_some_and(|l| {
                    l.local.ip().is_unspecified() || l.local.ip() == tuple.local.ip()
                })
            })
    }

    /// Put a new passive entry (a half-open one, or a connection built from a SYN cookie) in
    /// a slot of its own, charged `charge` bytes, with its LISTEN → SYN-RECEIVED transition in
    /// the trace.
    pub(super) fn place_passive(
        &mut self,
        now: Instant,
        tuple: FourTuple,
        entry: Entry,
        charge: usize,
        pos: Option<usize>,
        cause: Cause,
    ) -> (u32, ConnId) {
        let index = self.alloc_slot();
        let id = self.conn_id(index);
        self.slots[index as usize].entry = entry;
        self.count_entry(index, charge);
        self.by_tuple.insert(&tuple, index, &self.slots);
        self.trace.set_conn(pos, id);
        self.trace.push(
            now,
            EventKind::State(StateEvent {
                tuple,
                conn: Some(id),
                from: State::Listen,
                to: State::SynReceived,
                cause,
                error: None,
            }),
        );
        (index, id)
    }

    /// RFC 6191: a SYN that may reuse a TIME-WAIT 4-tuple ends TIME-WAIT and is handled as a
    /// new passive open. With no listener to take it, TIME-WAIT handles it as before. (This is
    /// for a connection the application still holds; `on_time_wait_segment` does the same
    /// for a compact entry.)
    fn reuse_time_wait(
        &mut self,
        now: Instant,
        index: u32,
        tuple: FourTuple,
        seg: SegIn<'_>,
        pos: Option<usize>,
    ) -> Disposition {
        let Some(listener) = self.listener_for(&tuple) else {
            return self.on_conn_segment(now, index, seg);
        };
        let id = self.conn_id(index);
        let ended = Ended {
            cause: Cause::TimeWaitReused,
            error: None,
        };
        if let Entry::Conn(c) = &mut self.slots[index as usize].entry {
            let mut ctx = ctx!(self, now, id);
            c.end_time_wait(&mut ctx, ended);
            // CLOSED gives up the 4-tuple, so the new half-open entry can take it.
            self.after_activity(index);
        }
        self.on_listen_segment(now, listener, tuple, seg, pos)
    }

    pub(super) fn on_conn_segment(
        &mut self,
        now: Instant,
        index: u32,
        seg: SegIn<'_>,
    ) -> Disposition {
        let id = self.conn_id(index);
        let Entry::Conn(c) = &mut self.slots[index as usize].entry else {
            return Disposition::Dropped(DropReason::Closed);
        };
        let mut ctx = ctx!(self, now, id);
        // RFC 9293 §3.8.4: anything from the peer restarts the keep-alive idle period.
        c.keepalive_heard(now);
        let d = c.handle_segment(&mut ctx, seg);
        self.after_activity(index);
        d
    }

    /// RFC 9293 §3.10.7.2: SEGMENT ARRIVES in LISTEN.
    pub(super) fn on_listen_segment(
        &mut self,
        now: Instant,
        listener: u32,
        tuple: FourTuple,
        seg: SegIn<'_>,
        pos: Option<usize>,
    ) -> Disposition {
        // First, an RST is ignored.
        if seg.flags.rst() {
            return Disposition::Dropped(DropReason::RstIgnored);
        }
        // Second, an ACK draws <SEQ=SEG.ACK><CTL=RST>, unless it returns one of our SYN
        // cookies and so completes a handshake the listener answered without state.
        if seg.flags.ack() && !seg.flags.syn() {
            if let Some(d) = self.accept_cookie_ack(now, listener, tuple, seg, pos) {
                return d;
            }
        }
        if seg.flags.ack() {
            return Disposition::RstSent(
                DropReason::AckToListener,
                RstReply {
                    seq: seg.ack,
                    ack: None,
                },
            );
        }
        // Third, a SYN opens a half-open entry.
        if !seg.flags.syn() {
            return Disposition::Dropped(DropReason::NoSyn);
        }
        if seg.flags.fin() && self.cfg.drop_syn_fin {
            // SYN+FIN is not a sensible opening; like FreeBSD's drop_synfin, drop it. With the
            // option off the FIN is ignored, like any data on a SYN to a listener: the
            // half-open entry keeps no segment text (RFC 9293 §3.10.7.2 allows either).
            return Disposition::Dropped(DropReason::SynFin);
        }
        if self.wants_cookie(listener) {
            return self.send_syn_cookie(now, listener, tuple, &seg);
        }
        if let Err(reason) = self.admit_syn(listener) {
            // At the stack-wide half-open limit a listener with cookies still answers, without
            // state; the other limits (connections, memory) would refuse the connection too.
            if reason == DropReason::HalfOpenLimit && self.cfg.syn_cookies != SynCookies::Off {
                return self.send_syn_cookie(now, listener, tuple, &seg);
            }
            return Disposition::Dropped(reason);
        }
        let Some(l) = self.listeners[listener as usize].1.as_mut() else {
            return Disposition::Dropped(DropReason::Closed);
        };
        if let Err(reason) = l.admit_syn() {
            return Disposition::Dropped(reason);
        }
        l.syn_queue += 1;
        l.stats.syns_received += 1;
        let (iss, ts_offset) = self.isn.isn_and_ts_offset(now, &tuple);
        // The half-open entry keeps the SYN's options for the connection its final ACK builds,
        // and the TSval offset its SYN-ACK already used.
        let syn = PeerSyn::from_segment(&seg);
        let entry = Entry::HalfOpen(Box::new(HalfOpen::new(
            listener, tuple, iss, syn, ts_offset,
        )));
        let (index, _) = self.place_passive(now, tuple, entry, 0, pos, Cause::RecvSyn);
        self.timers
            .schedule(index, HalfOpen::first_deadline(now, &self.cfg));
        self.after_activity(index);
        Disposition::Accepted
    }

    /// SEGMENT ARRIVES for a half-open entry (SYN-RECEIVED from LISTEN).
    fn on_half_open_segment(&mut self, now: Instant, index: u32, seg: SegIn<'_>) -> Disposition {
        let listener = match &self.slots[index as usize].entry {
            Entry::HalfOpen(h) => h.listener,
            _ => return Disposition::Dropped(DropReason::Closed),
        };
        let opts = self.listener_opts(listener);
        let id = self.conn_id(index);
        let Entry::HalfOpen(h) = &mut self.slots[index as usize].entry else {
            return Disposition::Dropped(DropReason::Closed);
        };
        let mut ctx = ctx!(self, now, id);
        match h.on_segment(&mut ctx, &opts, &seg) {
            HalfOpenOutcome::Stay(d) => {
                self.after_activity(index);
                d
            }
            HalfOpenOutcome::Remove(d) => {
                self.remove_half_open(index, Cause::RecvRst, true);
                d
            }
            HalfOpenOutcome::Complete => self.complete_handshake(now, index, seg),
        }
    }

    /// The final ACK of a passive handshake: the entry becomes a full connection in the accept
    /// queue (lifecycle O3, Q1, Q4), and the ACK (with any data or FIN) is processed by it.
    fn complete_handshake(&mut self, now: Instant, index: u32, seg: SegIn<'_>) -> Disposition {
        let Entry::HalfOpen(h) = &self.slots[index as usize].entry else {
            return Disposition::Dropped(DropReason::Closed);
        };
        let (listener, tuple, iss, syn, ts_offset) =
            (h.listener, h.tuple(), h.iss, h.syn(), h.ts_offset);
        let charge = self.buffer_charge(&self.listener_opts(listener));
        if let Err(reason) = self.admit_connection(charge) {
            // Limits reached since the SYN was admitted: as with a full accept queue, the
            // entry stays and its SYN-ACK retransmission tries again later.
            return Disposition::Dropped(reason);
        }
        let Some(l) = self.listeners[listener as usize].1.as_mut() else {
            return Disposition::Dropped(DropReason::Closed);
        };
        if l.accept_queue.len() >= l.backlog {
            // Deviation (as Linux): with the accept queue full the ACK is dropped and the entry
            // stays; its SYN-ACK retransmission gives the application time to accept.
            l.stats.accept_queue_overflows += 1;
            return Disposition::Dropped(DropReason::AcceptQueueFull);
        }
        let id = ConnId {
            index,
            gen: self.slots[index as usize].gen,
        };
        l.syn_queue = l.syn_queue.saturating_sub(1);
        l.stats.established += 1;
        l.accept_queue.push_back(id);
        let conn = Connection::from_half_open(&self.cfg, l.opts, tuple, iss, syn, ts_offset, now);
        self.uncount_entry(index);
        self.slots[index as usize].entry = Entry::Conn(Box::new(conn));
        self.count_entry(index, charge);
        self.on_conn_segment(now, index, seg)
    }
}

/// RFC 9293 §3.10.7.1: a segment for a CLOSED (non-existent) connection. An RST is ignored;
/// otherwise an RST goes back, acknowledging the segment when it had no ACK.
fn closed_reply(seg: &SegIn<'_>) -> Disposition {
    if seg.flags.rst() {
        return Disposition::Dropped(DropReason::RstIgnored);
    }
    let rst = if seg.flags.ack() {
        RstReply {
            seq: seg.ack,
            ack: None,
        }
    } else {
        RstReply {
            seq: SeqNum::new(0),
            ack: Some(seg.seq.add(seg.seg_len())),
        }
    };
    Disposition::RstSent(DropReason::NoConnection, rst)
}

fn is_unicast(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(a) => !(a.is_broadcast() || a.is_multicast() || a.is_unspecified()),
        std::net::IpAddr::V6(a) => !(a.is_multicast() || a.is_unspecified()),
    }
}
