//! Turning captured datagrams into TCP segments and splitting them into connections.
//!
//! A connection is keyed by its 4-tuple (either direction). It is finished once an RST was
//! seen or both sides' FINs were; a SYN without ACK on a finished tuple starts a new
//! connection, and so does a SYN without ACK whose sender already opened this connection with
//! another initial sequence number (it gave up on the old one without a packet saying so,
//! e.g. a connect that timed out). Connections are numbered from 1 in the order of their
//! first packet.
//!
//! A late old duplicate: once a 4-tuple is in use again, a segment whose acknowledgment
//! number is not in the new connection's sequence space of the peer but in the previous
//! connection's, and whose sequence number is not in its sender's new sequence space so far,
//! belongs to the previous connection and is put there (a copy the network delayed, as the
//! 2×MSL of TIME-WAIT exists for; a capture taken at its receiver shows it after the new
//! SYN). A segment of the new connection that acknowledges such a duplicate's data (it was
//! accepted: the hazard) stays in the new connection by its own sequence number.

use std::collections::HashMap;
use std::net::SocketAddr;

use oxtcp_wire::{Error as WireError, IpRepr, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr};
use oxtcp_wire::{TcpFlags, TcpOptions, TcpRepr, IP_PROTO_TCP};

use super::capture::Frame;

/// One TCP segment as captured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seg {
    /// Capture time in microseconds.
    pub time_us: u64,
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// Raw sequence number.
    pub seq: u32,
    /// Raw acknowledgment number.
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Payload length.
    pub len: u32,
    /// Raw window.
    pub win: u16,
    /// Options.
    pub options: TcpOptions,
    /// The TCP checksum did not verify (usual for segments captured on the sending host
    /// before checksum offload fills it in); the segment is still used.
    pub bad_checksum: bool,
}

/// The TCP segment in an IP datagram. `Ok(None)`: not TCP (or a fragment), skipped.
/// Parsing is oxtcp-wire's: `parse_packet` first; a bad checksum is retried with the IP and
/// TCP views alone, because a capture on the sending host sees offloaded, unfinished sums.
pub fn parse_segment(time_us: u64, ip: &[u8]) -> Result<Option<Seg>, WireError> {
    let (repr, tcp, payload_len, bad_checksum) = match oxtcp_wire::parse_packet(ip) {
        Ok(s) => (s.ip, s.tcp, s.payload.len(), false),
        Err(WireError::NotTcp) => return Ok(None),
        Err(WireError::BadChecksum) => {
            let (repr, segment) = ip_views(ip)?;
            let (tcp, payload) = TcpRepr::parse(segment)?;
            (repr, tcp, payload.len(), true)
        }
        Err(e) => return Err(e),
    };
    Ok(Some(Seg {
        time_us,
        src: SocketAddr::new(repr.src(), tcp.src_port),
        dst: SocketAddr::new(repr.dst(), tcp.dst_port),
        seq: tcp.seq,
        ack: tcp.ack,
        flags: tcp.flags,
        len: u32::try_from(payload_len).unwrap_or(u32::MAX),
        win: tcp.window,
        options: tcp.options,
        bad_checksum,
    }))
}

fn ip_views(ip: &[u8]) -> Result<(IpRepr, &[u8]), WireError> {
    match ip.first().map(|b| b >> 4) {
        Some(4) => {
            let view = Ipv4Packet::new_checked(ip)?;
            let repr = Ipv4Repr::parse(&view)?;
            if repr.protocol != IP_PROTO_TCP {
                return Err(WireError::NotTcp);
            }
            let seg = ip
                .get(view.header_len()..view.total_len())
                .ok_or(WireError::Truncated)?;
            Ok((IpRepr::V4(repr), seg))
        }
        Some(6) => {
            let view = Ipv6Packet::new_checked(ip)?;
            let repr = Ipv6Repr::parse(&view)?;
            if repr.next_header != IP_PROTO_TCP {
                return Err(WireError::NotTcp);
            }
            let seg = ip
                .get(Ipv6Repr::HEADER_LEN..Ipv6Repr::HEADER_LEN + repr.payload_len)
                .ok_or(WireError::Truncated)?;
            Ok((IpRepr::V6(repr), seg))
        }
        _ => Err(WireError::BadVersion),
    }
}

/// The segments of one connection, in capture order.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Number, from 1, in order of first packet.
    pub number: usize,
    /// Side A: the SYN's sender, or (mid-connection) the first segment's sender.
    pub a: SocketAddr,
    /// Side B.
    pub b: SocketAddr,
    /// Its segments.
    pub segs: Vec<Seg>,
    fin_a: bool,
    fin_b: bool,
    rst: bool,
    /// Per side (A, B): its initial sequence number, and one past the highest sequence
    /// number it sent (SYN and FIN included).
    space: [Option<(u32, u32)>; 2],
}

impl Connection {
    fn finished(&self) -> bool {
        self.rst || (self.fin_a && self.fin_b)
    }

    fn side(&self, addr: SocketAddr) -> usize {
        usize::from(addr != self.a)
    }

    /// `ack` acknowledges something in `side`'s sequence space (its ISN + 1 up to its end).
    fn acks_into(&self, side: usize, ack: u32) -> bool {
        self.space[side].is_some_and(|(isn, end)| {
            let a = ack.wrapping_sub(isn.wrapping_add(1));
            let e = end.wrapping_sub(isn.wrapping_add(1));
            a <= e
        })
    }

    /// `seq` is in `side`'s sequence space so far (its ISN up to one past its end).
    fn sends_into(&self, side: usize, seq: u32) -> bool {
        self.space[side].is_some_and(|(isn, end)| seq.wrapping_sub(isn) <= end.wrapping_sub(isn))
    }

    fn note(&mut self, seg: &Seg) {
        let side = self.side(seg.src);
        if seg.flags.syn() && self.space[side].is_none() {
            self.space[side] = Some((seg.seq, seg.seq));
        }
        if let Some((isn, end)) = &mut self.space[side] {
            let span = seg.len + u32::from(seg.flags.syn()) + u32::from(seg.flags.fin());
            let seg_end = seg.seq.wrapping_add(span);
            // Only sequence numbers ahead of the ISN count (within half the space).
            if (seg_end.wrapping_sub(*isn) as i32) >= 0 && (seg_end.wrapping_sub(*end) as i32) > 0 {
                *end = seg_end;
            }
        }
    }
}

/// Frames that were IP but not parseable TCP, with the reason (reported, not fatal).
#[derive(Debug, Clone, Default)]
pub struct Skipped {
    /// Non-TCP datagrams.
    pub not_tcp: usize,
    /// Damaged datagrams: (file offset, wire error name).
    pub damaged: Vec<(usize, &'static str)>,
}

/// Parse every frame and split the segments into connections.
pub fn split(frames: &[Frame]) -> (Vec<Connection>, Skipped) {
    let mut conns: Vec<Connection> = Vec::new();
    let mut current: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
    let mut previous: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
    let mut skipped = Skipped::default();
    for f in frames {
        let seg = match parse_segment(f.time_us, &f.ip) {
            Ok(Some(s)) => s,
            Ok(None) => {
                skipped.not_tcp += 1;
                continue;
            }
            Err(e) => {
                skipped.damaged.push((f.offset, e.name()));
                continue;
            }
        };
        let key = if seg.src <= seg.dst {
            (seg.src, seg.dst)
        } else {
            (seg.dst, seg.src)
        };
        let opening = seg.flags.syn() && !seg.flags.ack();
        let fresh_syn = |c: &Connection| {
            opening
                && (c.finished() || c.space[c.side(seg.src)].is_some_and(|(isn, _)| isn != seg.seq))
        };
        let idx = match current.get(&key) {
            Some(&i) if !fresh_syn(&conns[i]) => {
                // A late old duplicate of the previous connection on this 4-tuple?
                let c = &conns[i];
                let peer = 1 - c.side(seg.src);
                match previous.get(&key) {
                    Some(&p)
                        if !seg.flags.syn()
                            && seg.flags.ack()
                            && c.space[peer].is_some()
                            && !c.acks_into(peer, seg.ack)
                            && conns[p].acks_into(1 - conns[p].side(seg.src), seg.ack)
                            && !c.sends_into(1 - peer, seg.seq) =>
                    {
                        p
                    }
                    _ => i,
                }
            }
            _ => {
                // A SYN-ACK first means its receiver opened: that is side A.
                let (a, b) = if seg.flags.syn() && seg.flags.ack() {
                    (seg.dst, seg.src)
                } else {
                    (seg.src, seg.dst)
                };
                conns.push(Connection {
                    number: conns.len() + 1,
                    a,
                    b,
                    segs: Vec::new(),
                    fin_a: false,
                    fin_b: false,
                    rst: false,
                    space: [None, None],
                });
                if let Some(old) = current.insert(key, conns.len() - 1) {
                    previous.insert(key, old);
                }
                conns.len() - 1
            }
        };
        let c = &mut conns[idx];
        c.note(&seg);
        if seg.flags.fin() {
            if seg.src == c.a {
                c.fin_a = true;
            } else {
                c.fin_b = true;
            }
        }
        if seg.flags.rst() {
            c.rst = true;
        }
        c.segs.push(seg);
    }
    (conns, skipped)
}
