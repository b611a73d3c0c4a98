//! Two oxtcp stacks joined by an in-memory link: each datagram one stack emits is handed to
//! the other at once, with no copy beyond the emit buffer. The link's buffer goes to the
//! receiving stack whole (`Stack::handle_packet_buffer`), as a TUN driver's does: a stack that
//! keeps it for the bytes it carries hands back one its application emptied, so after warm-up
//! nothing is allocated per packet. Time is the wall clock, so timers (delayed ACKs, RTOs)
//! behave as on a real host.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant as StdInstant;

use anyhow::{bail, Result};
use oxtcp_core::{Checksum, ConnId, Instant, ListenerId, Stack, StackConfig};

/// Host A's address (the client's).
pub const A_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
/// Host B's address (the server's).
pub const B_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

/// Two stacks and the link between them.
pub struct Pair {
    pub a: Stack,
    pub b: Stack,
    start: StdInstant,
    buf: Vec<u8>,
}

impl Pair {
    /// Stacks A and B with `cfg` (seeds differ), joined by a link of `cfg.mtu`.
    pub fn new(cfg: &StackConfig) -> Pair {
        let with_seed = |seed| StackConfig {
            seed,
            ..cfg.clone()
        };
        Pair {
            a: Stack::with_addresses(with_seed(1), &[A_IP]),
            b: Stack::with_addresses(with_seed(2), &[B_IP]),
            start: StdInstant::now(),
            buf: vec![0; cfg.mtu.max(1500)],
        }
    }

    /// The stacks' clock: microseconds since the pair was made.
    pub fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }

    /// Move datagrams both ways, and fire due timers, until neither stack has anything to
    /// send. Returns how many datagrams crossed.
    pub fn pump(&mut self) -> usize {
        let mut moved = 0;
        loop {
            let now = self.now();
            for s in [&mut self.a, &mut self.b] {
                if s.poll_timeout().is_some_and(|t| t <= now) {
                    s.handle_timeout(now);
                }
            }
            let mut any = false;
            while let Some(n) = self.a.poll_transmit(now, &mut self.buf) {
                self.b
                    .handle_packet_buffer(now, &mut self.buf, n, Checksum::Computed);
                moved += 1;
                any = true;
            }
            while let Some(n) = self.b.poll_transmit(now, &mut self.buf) {
                self.a
                    .handle_packet_buffer(now, &mut self.buf, n, Checksum::Computed);
                moved += 1;
                any = true;
            }
            if !any {
                return moved;
            }
        }
    }

    /// B listens on `port` with `backlog`.
    pub fn listen(&mut self, port: u16, backlog: usize) -> Result<ListenerId> {
        Ok(self.b.listen(SocketAddr::new(B_IP, port), backlog)?)
    }

    /// A connects to B's `port` (where `listener` listens) and B accepts: the handshake done,
    /// (A's connection, B's connection).
    pub fn connect(&mut self, port: u16, listener: ListenerId) -> Result<(ConnId, ConnId)> {
        let now = self.now();
        let c = self.a.connect(now, SocketAddr::new(B_IP, port))?;
        self.pump();
        match self.b.accept(listener) {
            Ok(s) => Ok((c, s)),
            Err(e) => bail!("accept after the handshake: {e}"),
        }
    }
}
