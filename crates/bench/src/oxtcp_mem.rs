//! Two oxtcp stacks joined by an in-memory link: each datagram one stack emits is handed to
//! the other at once, with no copy beyond the emit buffer. The link's buffer goes to the
//! receiving stack whole (`Stack::handle_packet_buffer`), as a TUN driver's does: a stack that
//! keeps it for the bytes it carries hands back one its application emptied, so after warm-up
//! nothing is allocated per packet. Time is the wall clock, so timers (delayed ACKs, RTOs)
//! behave as on a real host.
//!
//! With [`Pair::with_gso`] the link segments in software, as a device without TSO does under
//! Linux's GSO: each stack may hand over up to 64 KiB of whole segments at once
//! (`StackConfig::segmentation_offload`, through `Stack::poll_transmit_gathered`), and the
//! link cuts that into datagrams of one segment each (`oxtcp_wire::gso::segment_gathered`),
//! each with its own headers and checksum, and delivers them one by one. What crosses the
//! link, and what the receiver handles, is the same MTU-sized segments as without it. Each
//! is handed over as its headers and its payload where it lies in the sender's send buffer,
//! as Linux's GSO gives each segment the pages of the super-segment rather than a copy. The
//! receiving end then coalesces what arrives, as Linux's GRO does for a device without
//! receive offloads (`oxtcp_wire::gro`): each datagram's checksums are checked as its payload
//! is copied into a merge buffer, and a run of in-order segments of one flow reaches the
//! receiving stack as one datagram (`Stack::handle_packet_buffer`, which may keep the buffer
//! for the application to read from); anything else reaches it as it came
//! (`Stack::handle_packet_gathered`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant as StdInstant;

use anyhow::{bail, Result};
use oxtcp_core::{Checksum, ConnId, Instant, ListenerId, Stack, StackConfig};
use oxtcp_wire::gro::{Coalesced, Coalescer};

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
    /// Software segmentation, if on: the buffers it cuts with.
    gso: Option<Gso>,
    /// Every datagram that crossed the link since [`Pair::record`], if recording (not with
    /// software segmentation).
    recorded: Option<Vec<Vec<u8>>>,
}

/// The link's buffers for software segmentation: the stack writes a super-segment's headers
/// into `headers`, and each segment cut from it is written into `wire`.
struct Gso {
    headers: Vec<u8>,
    wire: Vec<u8>,
    /// The first super-segment the link could not cut, if any (none should be).
    error: Option<oxtcp_wire::Error>,
    /// Super-segments cut, and the longest datagram delivered.
    cut: u64,
    longest: usize,
    /// The receiving end's coalescing of what the link delivers (software GRO).
    gro: Coalescer,
}

/// Most payload one super-segment carries with software segmentation: a TSO device's limit.
const GSO_MAX: usize = 65535 - 40 - 60;

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
            gso: None,
            recorded: None,
        }
    }

    /// [`Pair::new`] with software segmentation on the link (module documentation).
    pub fn with_gso(cfg: &StackConfig) -> Pair {
        let cfg = StackConfig {
            segmentation_offload: Some(GSO_MAX),
            ..cfg.clone()
        };
        let mut p = Pair::new(&cfg);
        p.gso = Some(Gso {
            // The stack sizes a super-segment by the buffer it writes into, though only the
            // headers land there.
            headers: vec![0; 65535],
            wire: vec![0; cfg.mtu.max(1500)],
            error: None,
            cut: 0,
            longest: 0,
            gro: Coalescer::new(),
        });
        p
    }

    /// With software segmentation: the super-segments the link cut, the longest datagram it
    /// delivered, and what the receiving end's coalescing took and handed on.
    #[cfg(test)]
    pub fn link_stats(&self) -> Option<(u64, usize, oxtcp_wire::gro::GroStats)> {
        self.gso.as_ref().map(|g| (g.cut, g.longest, g.gro.stats()))
    }

    /// Keep a copy of every datagram that crosses the link from now on (without software
    /// segmentation), for [`Pair::take_recorded`].
    pub fn record(&mut self) {
        self.recorded = Some(Vec::new());
    }

    /// The datagrams recorded since [`Pair::record`], in the order they crossed; recording
    /// stops.
    pub fn take_recorded(&mut self) -> Vec<Vec<u8>> {
        self.recorded.take().unwrap_or_default()
    }

    /// Whether the link cut every super-segment it was given.
    pub fn check_link(&self) -> Result<()> {
        match self.gso.as_ref().and_then(|g| g.error) {
            Some(e) => bail!("the link could not cut a super-segment: {e}"),
            None => Ok(()),
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
            if let Some(g) = self.gso.as_mut() {
                let n = cut_across(&mut self.a, &mut self.b, now, g)
                    + cut_across(&mut self.b, &mut self.a, now, g);
                if n == 0 {
                    return moved;
                }
                moved += n;
                continue;
            }
            let (buf, recorded) = (&mut self.buf, &mut self.recorded);
            let n = carry_across(&mut self.a, &mut self.b, now, buf, recorded)
                + carry_across(&mut self.b, &mut self.a, now, buf, recorded);
            if n == 0 {
                return moved;
            }
            moved += n;
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

/// Move everything `from` has to send to `to`, one datagram at a time through `buf`, keeping
/// a copy of each in `recorded` if recording; how many datagrams crossed.
#[inline(always)]
fn carry_across(
    from: &mut Stack,
    to: &mut Stack,
    now: Instant,
    buf: &mut Vec<u8>,
    recorded: &mut Option<Vec<Vec<u8>>>,
) -> usize {
    let mut moved = 0;
    while let Some(n) = from.poll_transmit(now, buf) {
        if let Some(r) = recorded.as_mut() {
            r.push(buf[..n].to_vec());
        }
        to.handle_packet_buffer(now, buf, n, Checksum::Computed);
        moved += 1;
    }
    moved
}

/// Move everything `from` has to send to `to`, cutting super-segments into segments; how
/// many datagrams crossed.
fn cut_across(from: &mut Stack, to: &mut Stack, now: Instant, g: &mut Gso) -> usize {
    let Gso {
        headers,
        wire,
        error,
        cut,
        longest,
        gro,
    } = g;
    let mut moved = 0;
    // What the receiving end's coalescing hands on, into the receiving stack.
    let mut receive = |c: Coalesced<'_>| match c {
        Coalesced::Merged { buf, len, .. } => {
            to.handle_packet_buffer(now, buf, len, Checksum::Offloaded)
        }
        Coalesced::AsIs(headers, payload) => {
            to.handle_packet_gathered(now, headers, payload, Checksum::Computed)
        }
    };
    let mut send = |parts: &[&[u8]], size: Option<u16>| {
        let Some((first, payload)) = parts.split_first() else {
            return;
        };
        // A datagram as its headers and its payload; with no payload, the headers part is
        // the whole datagram.
        let mut deliver = |headers: &[u8], payload: &[u8]| {
            *longest = (*longest).max(headers.len() + payload.len());
            gro.push(headers, payload, &mut receive);
        };
        match size {
            None if payload.is_empty() => {
                deliver(first, &[]);
                moved += 1;
            }
            // Not the stack's way today, but a whole datagram in parts is still one datagram.
            None => {
                deliver(&parts.concat(), &[]);
                moved += 1;
            }
            Some(size) => {
                match oxtcp_wire::gso::segment_gathered(first, payload, size.into(), wire, deliver)
                {
                    Ok(n) => {
                        moved += n;
                        *cut += 1;
                    }
                    Err(e) => *error = error.or(Some(e)),
                }
            }
        }
    };
    while from.poll_transmit_gathered(now, headers, &mut send) {}
    // The end of the batch, as a driver's poll ends: whatever is still being merged goes up.
    gro.flush(&mut receive);
    moved
}

#[cfg(test)]
mod tests {
    /// 256 KiB from A to B at MTU 1500, with the link cutting super-segments: every byte
    /// arrives in order, the link cut some, no datagram it delivered exceeds the MTU, and its
    /// receiving end merged runs of them.
    #[test]
    fn a_link_with_software_segmentation_delivers_mtu_sized_datagrams() {
        use super::{Pair, StackConfig};
        let cfg = StackConfig {
            mtu: 1500,
            ..Default::default()
        };
        let mut p = Pair::with_gso(&cfg);
        let l = p.listen(80, 4).unwrap();
        let (c, s) = p.connect(80, l).unwrap();
        let data: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
        let (mut sent, mut got) = (0, Vec::new());
        let mut buf = vec![0u8; 64 * 1024];
        for _ in 0..1000 {
            if got.len() == data.len() {
                break;
            }
            sent += p.a.send(c, &data[sent..]).unwrap_or(0);
            p.pump();
            while let Ok(n @ 1..) = p.b.recv(s, &mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        assert!(
            got == data,
            "{} of {} bytes, in order",
            got.len(),
            data.len()
        );
        p.check_link().unwrap();
        let (cut, longest, gro) = p.link_stats().unwrap();
        assert!(cut > 0, "no super-segment was cut");
        assert!(longest <= 1500, "a datagram of {longest} bytes");
        // Every datagram went through the coalescing, and runs of them were merged.
        let handed_on = gro.merged_out + gro.passed;
        assert!(gro.datagrams_in > 0 && handed_on > 0, "{gro:?}");
        assert!(handed_on * 4 < gro.datagrams_in, "too few merges: {gro:?}");
        assert!(Pair::new(&cfg).link_stats().is_none());
    }
}
