//! The one exit: every segment the stack sends leaves through `transmit_next` (behind
//! `poll_transmit` and `poll_transmit_gathered`), is written once into the caller's buffer,
//! or, for one the device cuts and gathers, has its headers written there and its payload
//! handed over where it lies, and is recorded in the trace.

use oxtcp_wire::{
    emit_headers_offloaded, emit_packet_with, Checksum, TcpFlags, TcpOptions, TcpRepr,
};

use super::{Entry, Reply, Stack, StackStats};
use crate::config::SocketOptions;
use crate::conn::{Ctx, TxSegment};
use crate::event::{Dir, DropReason, EventKind, SegmentEvent, Trace};
use crate::handle::ConnId;
use crate::time::Instant;
use crate::tuple::FourTuple;

impl Stack {
    /// Write the next datagram to send into `buf` and return its length. Call until `None`.
    /// `buf` should hold at least the MTU.
    ///
    /// With [`segmentation_offload`](crate::StackConfig::segmentation_offload) set, use
    /// [`poll_transmit_segmented`](Self::poll_transmit_segmented) instead: a datagram may then
    /// be larger than the MTU, and only that call says where to cut it.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.poll_transmit_segmented(now, buf).map(|t| t.len)
    }

    /// [`poll_transmit`](Self::poll_transmit), also saying whether the device is to cut the
    /// datagram into segments (segmentation offload) and at what size. `buf` should hold at
    /// least the MTU, and up to 64 KiB for the offload to pay.
    #[must_use]
    pub fn poll_transmit_segmented(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        match self.transmit_next(now, buf, None)? {
            Sent::Written(t) => Some(t),
            // Nothing is gathered without a sink.
            Sent::Gathered => None,
        }
    }

    /// [`poll_transmit_segmented`](Self::poll_transmit_segmented) for a device that writes a
    /// datagram from several parts (`writev`): a datagram the device is to cut into segments
    /// leaves its payload in the connection's send buffer, `buf` receives only its headers,
    /// and `send` gets the headers and the payload's parts while they are borrowed, with the
    /// segment size. Every other datagram is written into `buf` whole and handed to `send` as
    /// one part. Returns false when there is nothing to send. Call until false.
    pub fn poll_transmit_gathered(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        send: &mut GatherSink<'_>,
    ) -> bool {
        match self.transmit_next(now, buf, Some(&mut *send)) {
            Some(Sent::Written(t)) => {
                send(&[&buf[..t.len]], t.segment_size);
                true
            }
            Some(Sent::Gathered) => true,
            None => false,
        }
    }

    /// The next datagram: written into `buf`, or, for a datagram to be cut into segments when
    /// there is a `gather` sink, its headers written into `buf` and the whole handed to the
    /// sink with its payload still in the send buffer.
    #[inline]
    fn transmit_next(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        gather: Option<&mut GatherSink<'_>>,
    ) -> Option<Sent> {
        self.advance(now);
        // A driver polls until there is nothing, so most polls find nothing at all: they
        // are answered here, without entering the large frame that builds a segment.
        if !self.has_output() {
            return None;
        }
        self.transmit_queued(now, buf, gather)
    }

    /// `transmit_next` with a reply or a slot queued.
    #[inline(never)]
    fn transmit_queued(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        mut gather: Option<&mut GatherSink<'_>>,
    ) -> Option<Sent> {
        while let Some(reply) = self.replies.pop_front() {
            let (tuple, repr, reason, conn) = match reply {
                Reply::Rst { tuple, rst, reason } => {
                    let mut flags = TcpFlags::RST;
                    if rst.ack.is_some() {
                        flags |= TcpFlags::ACK;
                    }
                    let ack = rst.ack.map_or(0, |a| a.get());
                    let options = TcpOptions::default();
                    let repr = header(&tuple, rst.seq.get(), ack, flags, 0, options);
                    (tuple, repr, Some(reason), None)
                }
                Reply::TimeWaitAck { tuple, conn, seg } => {
                    (tuple, header_of(&tuple, &seg), None, Some(conn))
                }
                Reply::SynCookie {
                    tuple,
                    iss,
                    ack,
                    window,
                    options,
                } => {
                    let flags = TcpFlags::SYN | TcpFlags::ACK;
                    let repr = header(&tuple, iss.get(), ack.get(), flags, window, options);
                    (tuple, repr, None, None)
                }
            };
            if let Some(n) = self.emit_reply(buf, tuple, &repr, reason, conn) {
                if reason.is_some() {
                    self.stats.rst_sent += 1;
                }
                return Some(Sent::Written(Transmit::whole(n)));
            }
        }
        let room = buf.len();
        let ttl = self.cfg.ttl;
        while let Some(&index) = self.tx_queue.front() {
            let id = self.conn_id(index);
            // Each kind of entry writes its segment in place, so nothing the size of a header
            // is handed around: what comes out is whether a segment was due, and if one was,
            // the datagram's length (None if it could not be written) and its segment size.
            let mut gathered = false;
            let written: Option<(Option<usize>, Option<u16>)> = match &mut self.slots
                [index as usize]
                .entry
            {
                Entry::Vacant => None,
                Entry::HalfOpen(h) => h.poll_transmit().map(|(seq, ack, flags, retransmit)| {
                    let opts = match self.listeners.get(h.listener as usize) {
                        Some((_, Some(l))) => l.opts,
                        _ => SocketOptions::default(),
                    };
                    let tuple = h.tuple();
                    let repr = header(
                        &tuple,
                        seq.get(),
                        ack.get(),
                        flags,
                        u16::try_from(opts.recv_window_cap(&self.cfg)).unwrap_or(u16::MAX),
                        h.options(&self.cfg, &opts, now, flags.syn()),
                    );
                    let n = write_segment(buf, ttl, tuple, &repr, [&[], &[]], Checksum::Computed)
                        .inspect(|_| {
                            let note = (Some(id), 0, retransmit, None);
                            record_tx(&mut self.stats, &mut self.trace, now, tuple, &repr, note);
                        });
                    (n, None)
                }),
                Entry::Conn(c) => {
                    let mut ctx = ctx!(self, now, id);
                    c.poll_transmit(&mut ctx, room).map(|seg| {
                        let tuple = c.tuple();
                        // The payload is read from the send buffer in place.
                        let (a, b): (&[u8], &[u8]) = if seg.payload_len > 0 {
                            c.payload_slices(seg.payload_off, seg.payload_len)
                        } else {
                            (&[], &[])
                        };
                        // A device that cuts segments computes each one's checksum, so the
                        // whole one's is left to it, as to a NIC's TSO.
                        let checksum = match seg.segment_size {
                            Some(_) => Checksum::Offloaded,
                            None => Checksum::Computed,
                        };
                        let repr = header_of(&tuple, &seg);
                        let len = a.len() + b.len();
                        let n = match (gather.as_deref_mut(), seg.segment_size) {
                            // The payload stays where it is; the device reads it from there.
                            (Some(send), Some(size)) => write_headers(buf, ttl, tuple, &repr, len)
                                .map(|h| {
                                    send(&[&buf[..h], a, b], Some(size));
                                    gathered = true;
                                    h + len
                                }),
                            _ => write_segment(buf, ttl, tuple, &repr, [a, b], checksum),
                        };
                        if n.is_some() {
                            let note = (Some(id), len as u32, seg.retransmit, None);
                            record_tx(&mut self.stats, &mut self.trace, now, tuple, &repr, note);
                        }
                        (n, seg.segment_size)
                    })
                }
            };
            self.tx_queue.pop_front();
            self.clear_tx_queued(index);
            match written {
                Some((n, segment_size)) => {
                    // Round robin: a slot with more to send goes to the back of the queue
                    // (`after_activity` puts it there, unless it is quiet now).
                    self.after_activity(index);
                    if gathered {
                        return Some(Sent::Gathered);
                    }
                    if let Some(len) = n {
                        return Some(Sent::Written(Transmit { len, segment_size }));
                    }
                }
                None => match &self.slots[index as usize].entry {
                    Entry::Vacant => self.free.push(index),
                    // A released connection that has reached CLOSED and sent its last
                    // segment is gone.
                    Entry::Conn(c) if c.is_reapable() => self.free_slot(index),
                    // Finding nothing to send can still arm a timer: the persist timer of
                    // a zero window (RFC 9293 §3.8.6.1), which takes over from the RTO.
                    Entry::Conn(c) => {
                        let deadline = c.next_deadline(&self.cfg);
                        self.sync_timer(index, deadline);
                    }
                    _ => {}
                },
            }
        }
        None
    }

    /// Write a reply sent from no slot: an RST or SYN-ACK that belongs to no connection, or
    /// a compact TIME-WAIT entry's ACK (`conn`).
    fn emit_reply(
        &mut self,
        buf: &mut [u8],
        tuple: FourTuple,
        repr: &TcpRepr,
        reason: Option<DropReason>,
        conn: Option<ConnId>,
    ) -> Option<usize> {
        let n = write_segment(
            buf,
            self.cfg.ttl,
            tuple,
            repr,
            [&[], &[]],
            Checksum::Computed,
        )?;
        record_tx(
            &mut self.stats,
            &mut self.trace,
            self.now,
            tuple,
            repr,
            (conn, 0, false, reason),
        );
        Some(n)
    }
}

/// Count a datagram sent, and record it in the trace: `(conn, payload length, retransmit,
/// drop reason)` beside its 4-tuple and header.
fn record_tx(
    stats: &mut StackStats,
    trace: &mut Trace,
    now: Instant,
    tuple: FourTuple,
    repr: &TcpRepr,
    (conn, len, retransmit, reason): (Option<ConnId>, u32, bool, Option<DropReason>),
) {
    stats.packets_out += 1;
    if !trace.is_on() {
        return;
    }
    trace.push(
        now,
        EventKind::Segment(SegmentEvent {
            dir: Dir::Tx,
            tuple,
            conn,
            seq: repr.seq,
            ack: repr.ack,
            flags: repr.flags,
            len,
            win: repr.window,
            options: repr.options,
            retransmit,
            reason,
        }),
    );
}

/// Write one datagram; returns its length.
fn write_segment(
    buf: &mut [u8],
    ttl: u8,
    tuple: FourTuple,
    repr: &TcpRepr,
    payload: [&[u8]; 2],
    checksum: Checksum,
) -> Option<usize> {
    let (src, dst) = (tuple.local.ip(), tuple.remote.ip());
    emit_packet_with(buf, src, dst, ttl, repr, &payload, checksum).ok()
}

/// Write the headers alone of a datagram to be cut into segments, whose `payload_len` bytes
/// the device reads from elsewhere; returns their length.
fn write_headers(
    buf: &mut [u8],
    ttl: u8,
    tuple: FourTuple,
    repr: &TcpRepr,
    payload_len: usize,
) -> Option<usize> {
    // The trace records a payload length as a u32.
    u32::try_from(payload_len).ok()?;
    let (src, dst) = (tuple.local.ip(), tuple.remote.ip());
    emit_headers_offloaded(buf, src, dst, ttl, repr, payload_len).ok()
}

/// Where `Stack::poll_transmit_gathered` hands each datagram: its parts, and the segment size
/// for a datagram the device is to cut.
pub type GatherSink<'a> = dyn FnMut(&[&[u8]], Option<u16>) + 'a;

/// What `transmit_next` produced.
enum Sent {
    /// A datagram written whole into the buffer.
    Written(Transmit),
    /// A datagram handed to the gathering sink.
    Gathered,
}

/// A datagram [`Stack::poll_transmit_segmented`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Its length in bytes.
    pub len: usize,
    /// For a segment the device is to cut up (segmentation offload), the payload size of each
    /// piece but the last: the connection's MSS less the options. Its TCP checksum is then
    /// left to the device, which computes each piece's: the field holds the pseudo-header's
    /// sum ([`Checksum::Offloaded`]). `None`: send it as it is, checksum and all.
    pub segment_size: Option<u16>,
}

impl Transmit {
    fn whole(len: usize) -> Transmit {
        Transmit {
            len,
            segment_size: None,
        }
    }
}

/// The TCP header of a segment sent from `tuple`'s local end, built once and written from
/// where it lies (it is some 70 bytes; each copy of it costs a dozen stores).
fn header(
    tuple: &FourTuple,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    window: u16,
    options: TcpOptions,
) -> TcpRepr {
    TcpRepr {
        src_port: tuple.local.port(),
        dst_port: tuple.remote.port(),
        seq,
        ack,
        flags,
        window,
        urgent: 0,
        options,
    }
}

/// The TCP header of a segment a connection (or its TIME-WAIT entry) built.
fn header_of(tuple: &FourTuple, seg: &TxSegment) -> TcpRepr {
    let (seq, ack) = (seg.seq.get(), seg.ack.get());
    header(tuple, seq, ack, seg.flags, seg.window, seg.options)
}
