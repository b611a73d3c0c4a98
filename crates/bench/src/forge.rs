//! Clients forged from crafted packets, to put entries into one oxtcp stack without a second
//! stack holding the other ends: a SYN (a half-open entry), then the final ACK (an established
//! connection, accepted at once), then a close by the stack and the client's FIN (a TIME-WAIT
//! entry). Only the driven stack keeps state; the forger keeps two packet buffers, allocated
//! once. Client `i` is 10.1.x.y:port, a different 4-tuple for every `i` below 16 million.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{bail, Context, Result};
use oxtcp_core::{ConnId, Instant, ListenerId, Stack};
use oxtcp_wire::{emit_packet, parse_packet, TcpFlags, TcpOptions, TcpRepr};

/// Client ports per client address.
const PORTS: u32 = 60_000;
/// The clients' initial sequence number (any value works: each client is its own connection).
const CLIENT_ISS: u32 = 1_000;

/// Forges clients of one listener of one stack.
pub struct Forger {
    /// The stack's address and listening port.
    server: SocketAddr,
    listener: ListenerId,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
}

/// What the stack answered a forged segment with.
#[derive(Clone, Copy, Debug)]
struct Reply {
    seq: u32,
    ack: u32,
    flags: TcpFlags,
}

/// The address and port of client `i`.
pub fn client(i: u32) -> SocketAddr {
    let host = i / PORTS;
    let ip = Ipv4Addr::new(10, 1 + (host >> 16) as u8, (host >> 8) as u8, host as u8);
    SocketAddr::new(IpAddr::V4(ip), 1024 + (i % PORTS) as u16)
}

impl Forger {
    /// A forger for `listener`, which listens on `server` (an address of the stack).
    pub fn new(server: SocketAddr, listener: ListenerId) -> Forger {
        Forger {
            server,
            listener,
            inbuf: vec![0; 2048],
            outbuf: vec![0; 2048],
        }
    }

    /// Hand the stack one segment from client `i`, and return the one it answers with.
    fn exchange(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        i: u32,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
    ) -> Result<Reply> {
        let from = client(i);
        let options = TcpOptions {
            mss: flags.contains(TcpFlags::SYN).then_some(1460),
            ..TcpOptions::default()
        };
        let tcp = TcpRepr {
            src_port: from.port(),
            dst_port: self.server.port(),
            seq,
            ack,
            flags,
            window: 65535,
            urgent: 0,
            options,
        };
        let n = emit_packet(&mut self.inbuf, from.ip(), self.server.ip(), 64, &tcp, &[])?;
        stack.handle_packet(now, &self.inbuf[..n]);
        let mut reply = None;
        while let Some(m) = stack.poll_transmit(now, &mut self.outbuf) {
            let seg = parse_packet(&self.outbuf[..m])?;
            reply.get_or_insert(Reply {
                seq: seg.tcp.seq,
                ack: seg.tcp.ack,
                flags: seg.tcp.flags,
            });
        }
        reply.with_context(|| format!("no answer to {flags:?} from client {i}"))
    }

    /// Client `i` sends a SYN; the stack holds a half-open entry. Returns the stack's ISS.
    pub fn half_open(&mut self, stack: &mut Stack, now: Instant, i: u32) -> Result<u32> {
        let r = self.exchange(stack, now, i, CLIENT_ISS, 0, TcpFlags::SYN)?;
        if r.flags != TcpFlags::SYN | TcpFlags::ACK || r.ack != CLIENT_ISS.wrapping_add(1) {
            bail!("client {i}: the SYN drew {:?} ack {}", r.flags, r.ack);
        }
        Ok(r.seq)
    }

    /// Client `i` connects and the stack accepts: an idle established connection whose
    /// handle the caller owns. Returns (the handle, the stack's ISS).
    pub fn establish(&mut self, stack: &mut Stack, now: Instant, i: u32) -> Result<(ConnId, u32)> {
        let iss = self.half_open(stack, now, i)?;
        let from = client(i);
        let tcp = TcpRepr {
            src_port: from.port(),
            dst_port: self.server.port(),
            seq: CLIENT_ISS.wrapping_add(1),
            ack: iss.wrapping_add(1),
            flags: TcpFlags::ACK,
            window: 65535,
            urgent: 0,
            options: TcpOptions::default(),
        };
        let n = emit_packet(&mut self.inbuf, from.ip(), self.server.ip(), 64, &tcp, &[])?;
        stack.handle_packet(now, &self.inbuf[..n]);
        match stack.accept(self.listener) {
            Ok(id) => Ok((id, iss)),
            Err(e) => bail!("client {i}: accept after the final ACK: {e}"),
        }
    }

    /// Client `i` connects, the stack accepts and closes first, and the client answers the
    /// stack's FIN with its own: the stack holds a TIME-WAIT entry.
    pub fn time_wait(&mut self, stack: &mut Stack, now: Instant, i: u32) -> Result<()> {
        let (id, iss) = self.establish(stack, now, i)?;
        stack.close(now, id)?;
        let fin = stack
            .poll_transmit(now, &mut self.outbuf)
            .with_context(|| format!("client {i}: no FIN after close"))?;
        let flags = parse_packet(&self.outbuf[..fin])?.tcp.flags;
        if !flags.contains(TcpFlags::FIN) {
            bail!("client {i}: close sent {flags:?}");
        }
        let r = self.exchange(
            stack,
            now,
            i,
            CLIENT_ISS.wrapping_add(1),
            iss.wrapping_add(2),
            TcpFlags::FIN | TcpFlags::ACK,
        )?;
        if r.flags != TcpFlags::ACK || r.ack != CLIENT_ISS.wrapping_add(2) {
            bail!("client {i}: our FIN drew {:?} ack {}", r.flags, r.ack);
        }
        Ok(())
    }
}
