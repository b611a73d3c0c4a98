//! Mock nodes: a scripted sender of numbered IPv4 datagrams that logs what arrives, optionally
//! echoing every arrival back to its source.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use oxtcp_sim::{HostId, Instant, LinkConfig, Node, World};

pub const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// An experimental protocol number (RFC 3692), so tools show the payload raw.
const PROTO_EXPERIMENT: u8 = 253;

pub fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

pub fn us(n: u64) -> Instant {
    Instant::from_micros(n)
}

/// A valid IPv4 datagram of `len` bytes from `src` to `dst`, carrying `seq` after the header.
pub fn datagram(src: Ipv4Addr, dst: Ipv4Addr, seq: u32, len: usize) -> Vec<u8> {
    assert!(len >= 24, "room for the header and the sequence number");
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[4..6].copy_from_slice(&(seq as u16).to_be_bytes());
    p[8] = 64;
    p[9] = PROTO_EXPERIMENT;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    let sum = checksum(&p[..20]);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p[20..24].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in p[24..].iter_mut().enumerate() {
        *b = (seq as usize + i) as u8;
    }
    p
}

/// RFC 1071 Internet checksum.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The sequence number a mock datagram carries.
pub fn seq_of(packet: &[u8]) -> u32 {
    u32::from_be_bytes(packet[20..24].try_into().unwrap())
}

/// One scripted send.
#[derive(Clone, Copy, Debug)]
pub struct Send {
    pub at: Instant,
    pub to: Ipv4Addr,
    pub len: usize,
}

/// A host that sends scripted datagrams numbered from 1, logs arrivals, and can echo.
#[derive(Debug, Default)]
pub struct Mock {
    pub addr: Option<Ipv4Addr>,
    script: VecDeque<Send>,
    outbox: VecDeque<Vec<u8>>,
    pub echo: bool,
    next_seq: u32,
    /// Every datagram that arrived, with its arrival time.
    pub received: Vec<(Instant, Vec<u8>)>,
    /// Every datagram this node built, in send order.
    pub sent: Vec<(Instant, Vec<u8>)>,
    /// How often `handle_timeout` ran.
    pub timeouts: usize,
}

impl Mock {
    /// A silent node at `addr`.
    pub fn at(addr: Ipv4Addr) -> Self {
        Mock {
            addr: Some(addr),
            next_seq: 1,
            ..Mock::default()
        }
    }

    /// A node at `addr` that echoes every arrival back to its source.
    pub fn echo(addr: Ipv4Addr) -> Self {
        Mock {
            echo: true,
            ..Mock::at(addr)
        }
    }

    /// Also send `count` datagrams of `len` bytes to `to`, the first at `start`, then every `gap`.
    pub fn sending(
        mut self,
        to: Ipv4Addr,
        count: usize,
        start: Instant,
        gap: Duration,
        len: usize,
    ) -> Self {
        let mut at = start;
        for _ in 0..count {
            self.schedule(at, to, len);
            at += gap;
        }
        self
    }

    /// Add one scripted send of `len` bytes to `to` at `at`.
    pub fn schedule(&mut self, at: Instant, to: Ipv4Addr, len: usize) {
        self.script.push_back(Send { at, to, len });
        self.script.make_contiguous().sort_by_key(|s| s.at);
    }

    /// Queue one datagram of `len` bytes to `to`, sent at the next touch.
    pub fn send_now(&mut self, now: Instant, to: Ipv4Addr, len: usize) {
        let p = datagram(self.addr.unwrap(), to, self.next_seq, len);
        self.next_seq += 1;
        self.sent.push((now, p.clone()));
        self.outbox.push_back(p);
    }

    /// The sequence numbers that arrived, in arrival order.
    pub fn received_seqs(&self) -> Vec<u32> {
        self.received.iter().map(|(_, p)| seq_of(p)).collect()
    }

    /// Arrival times, in arrival order.
    pub fn arrival_times(&self) -> Vec<Instant> {
        self.received.iter().map(|(t, _)| *t).collect()
    }
}

impl Node for Mock {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.received.push((now, packet.to_vec()));
        if self.echo && packet.len() >= 20 {
            let mut reply = packet.to_vec();
            reply[12..20].rotate_left(4);
            self.outbox.push_back(reply);
        }
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<usize> {
        let p = self.outbox.pop_front()?;
        buf[..p.len()].copy_from_slice(&p);
        Some(p.len())
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.script.front().map(|s| s.at)
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.timeouts += 1;
        while self.script.front().is_some_and(|s| s.at <= now) {
            let s = self.script.pop_front().unwrap();
            self.send_now(now, s.to, s.len);
        }
    }
}

/// A world of A sending `count` datagrams of 100 bytes to B every millisecond from 0, over `config`.
pub fn pair(seed: u64, config: LinkConfig, count: usize) -> (World<Mock>, HostId, HostId) {
    pair_with(
        seed,
        config,
        Mock::at(A).sending(B, count, ms(0), Duration::from_millis(1), 100),
        Mock::at(B),
    )
}

/// A world of hosts `a` (at A) and `b` (at B) joined by `config` both ways.
pub fn pair_with(seed: u64, config: LinkConfig, a: Mock, b: Mock) -> (World<Mock>, HostId, HostId) {
    let mut world = World::new(seed);
    let ha = world.add_host("a", &[IpAddr::V4(A)], a);
    let hb = world.add_host("b", &[IpAddr::V4(B)], b);
    world.link(ha, hb, config);
    (world, ha, hb)
}
