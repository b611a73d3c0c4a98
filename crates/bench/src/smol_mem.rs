//! Two smoltcp interfaces joined by an in-memory link, the peer of `oxtcp_mem::Pair`: each
//! datagram one interface emits waits in a queue until the other interface is polled. Packet
//! buffers are recycled, so after warm-up nothing is allocated per packet and each datagram is
//! written once (by the sender's emit) and read once (by the receiver's parse), as in the
//! oxtcp pair. Time is the wall clock.
//!
//! The setup follows smoltcp's own `loopback_benchmark` example (an `Interface` with
//! `Medium::Ip`, TCP sockets with ring buffers given at creation), with these choices so the
//! work matches oxtcp's defaults:
//! - checksums: the device reports the default `ChecksumCapabilities` (compute and verify every
//!   IPv4 and TCP checksum in software), as oxtcp always does here; oxtcp's loop uses AVX2
//!   where the processor has it (`oxtcp_wire::checksum::long_loop`), smoltcp's is portable;
//! - congestion control: none, smoltcp's default build (as its examples run) against oxtcp's
//!   CUBIC. With smoltcp's CUBIC (`socket-tcp-cubic`) the MTU 65535 / 64 KiB cell stalled:
//!   0.047 Gbit/s in quick runs, against 10.2 without congestion control, 10.4 with CUBIC and
//!   no delayed ACK, 8.7 with CUBIC and no Nagle. A window of one 65495-byte segment meets
//!   smoltcp's receiver, which ACKs at once only past one full segment, so each round seems to
//!   wait out the 10 ms delayed ACK. On a lossless link congestion control only bounds the
//!   initial burst; what differs is the bookkeeping per ACK, which oxtcp pays and smoltcp not;
//! - timestamps: smoltcp sends the Timestamps option only with a TSval generator, so every
//!   socket gets one (milliseconds of the pair's clock), as oxtcp offers timestamps by default;
//! - window scaling: smoltcp always offers it, with the shift its receive buffer needs;
//! - Nagle: on in both (the defaults);
//! - delayed ACK: both left at their defaults. smoltcp: 10 ms, but an ACK at once when more than
//!   one full segment is unacknowledged; oxtcp: 40 ms, an ACK at once for every second full
//!   segment, and quick ACKs for the first 16 segments;
//! - SACK: both offer SACK-Permitted and report out-of-order data in SACK blocks (smoltcp does
//!   not use the blocks it receives for recovery); on a lossless link no block is ever sent;
//! - the link's buffer: the oxtcp pair hands it to the receiving stack whole
//!   (`Stack::handle_packet_buffer`), as oxtcp's TUN runtime does, so a datagram of at least
//!   8 KiB stays where it is and the application reads from it (MTU 65535); smoltcp has no such
//!   call, and its sockets copy every received byte into their ring buffers;
//! - segmentation: the bulk group's `oxtcp+gso+gro` system runs the oxtcp pair with its link
//!   segmenting in software (`Pair::with_gso`): the sending stack hands over up to 64 KiB of
//!   whole segments, which the link cuts into MTU-sized datagrams, and the receiving end
//!   coalesces runs of them again (software GRO, `oxtcp_wire::gro`) before its stack sees
//!   them. smoltcp has no segmentation or receive offload to use, in hardware or software, so
//!   its pair runs as it always does; plain `oxtcp` is the like-for-like row.

use std::cell::Cell;
use std::collections::VecDeque;
use std::time::Instant as StdInstant;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{ChecksumCapabilities, Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, Ipv4Address};

/// Host A's address (the client's).
pub const A_IP: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
/// Host B's address (the server's).
pub const B_IP: Ipv4Address = Ipv4Address::new(10, 0, 0, 2);

thread_local! {
    /// The TSval clock: milliseconds of this thread's pair's clock, stored at each poll.
    /// smoltcp takes a plain `fn() -> u32`, so it cannot capture the pair; one pair per thread
    /// runs at a time, and a TSval only has to grow.
    static TS_MILLIS: Cell<u32> = const { Cell::new(0) };
}

fn tsval() -> u32 {
    TS_MILLIS.with(Cell::get)
}

/// One direction of the link: datagrams in flight (buffer, length) and spare buffers.
struct Dir {
    queue: VecDeque<(Vec<u8>, usize)>,
    free: Vec<Vec<u8>>,
    mtu: usize,
    /// A copy of every datagram sent this way, while recording (`SmolPair::record`).
    recorded: Option<Vec<Vec<u8>>>,
}

impl Dir {
    fn new(mtu: usize) -> Dir {
        Dir {
            queue: VecDeque::new(),
            free: Vec::new(),
            mtu,
            recorded: None,
        }
    }
}

/// One host's view of the link: it receives from `rx` and sends into `tx`.
struct End<'a> {
    rx: &'a mut Dir,
    tx: &'a mut Dir,
}

struct Rx<'a> {
    buf: Vec<u8>,
    len: usize,
    free: &'a mut Vec<Vec<u8>>,
}

impl RxToken for Rx<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        let Rx { buf, len, free } = self;
        let r = f(&buf[..len]);
        free.push(buf);
        r
    }
}

struct Tx<'a> {
    dir: &'a mut Dir,
}

impl TxToken for Tx<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mtu = self.dir.mtu;
        // Buffers keep their full size, so a reused one is not cleared again.
        let mut buf = self.dir.free.pop().unwrap_or_else(|| vec![0; mtu]);
        let r = f(&mut buf[..len]);
        if let Some(rec) = self.dir.recorded.as_mut() {
            rec.push(buf[..len].to_vec());
        }
        self.dir.queue.push_back((buf, len));
        r
    }
}

impl Device for End<'_> {
    type RxToken<'b>
        = Rx<'b>
    where
        Self: 'b;
    type TxToken<'b>
        = Tx<'b>
    where
        Self: 'b;

    fn receive(&mut self, _now: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let (buf, len) = self.rx.queue.pop_front()?;
        Some((
            Rx {
                buf,
                len,
                free: &mut self.rx.free,
            },
            Tx { dir: self.tx },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx { dir: self.tx })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.tx.mtu;
        // Software checksums both ways, as oxtcp (the default; spelled out as it matters).
        caps.checksum = ChecksumCapabilities::default();
        caps
    }
}

/// One host: its interface and its sockets.
pub struct Host {
    pub iface: Interface,
    pub sockets: SocketSet<'static>,
}

impl Host {
    fn new(ip: Ipv4Address, seed: u64, end: &mut End<'_>, now: Instant) -> Host {
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = seed;
        let mut iface = Interface::new(config, end, now);
        iface.update_ip_addrs(|addrs| {
            addrs
                .push(IpCidr::new(IpAddress::Ipv4(ip), 24))
                .expect("one address fits");
        });
        Host {
            iface,
            sockets: SocketSet::new(Vec::new()),
        }
    }

    /// The TCP socket behind `h`.
    pub fn tcp(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }

    /// Add a TCP socket with receive and send buffers of the given sizes, set up as the
    /// module documentation says.
    pub fn add_tcp(&mut self, recv_buffer: usize, send_buffer: usize) -> SocketHandle {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; recv_buffer]),
            tcp::SocketBuffer::new(vec![0; send_buffer]),
        );
        s.set_tsval_generator(Some(tsval));
        self.sockets.add(s)
    }
}

/// Two smoltcp hosts and the link between them.
pub struct SmolPair {
    pub a: Host,
    pub b: Host,
    ab: Dir,
    ba: Dir,
    start: StdInstant,
}

impl SmolPair {
    /// Hosts A and B joined by a link of `mtu` (the IP MTU).
    pub fn new(mtu: usize) -> SmolPair {
        let mut ab = Dir::new(mtu);
        let mut ba = Dir::new(mtu);
        let start = StdInstant::now();
        let now = Instant::from_micros(0);
        let a = Host::new(
            A_IP,
            1,
            &mut End {
                rx: &mut ba,
                tx: &mut ab,
            },
            now,
        );
        let b = Host::new(
            B_IP,
            2,
            &mut End {
                rx: &mut ab,
                tx: &mut ba,
            },
            now,
        );
        SmolPair {
            a,
            b,
            ab,
            ba,
            start,
        }
    }

    /// Keep a copy of every datagram either host sends from now on, for
    /// [`SmolPair::take_recorded`].
    pub fn record(&mut self) {
        self.ab.recorded = Some(Vec::new());
        self.ba.recorded = Some(Vec::new());
    }

    /// The datagrams recorded since [`SmolPair::record`]: A's, then B's; recording stops.
    pub fn take_recorded(&mut self) -> Vec<Vec<u8>> {
        let mut all = self.ab.recorded.take().unwrap_or_default();
        all.extend(self.ba.recorded.take().unwrap_or_default());
        all
    }

    /// The interfaces' clock: microseconds since the pair was made.
    pub fn now(&self) -> Instant {
        let us = self.start.elapsed().as_micros() as i64;
        TS_MILLIS.with(|t| t.set((us / 1000) as u32));
        Instant::from_micros(us)
    }

    /// Poll both interfaces, moving datagrams both ways and firing due timers, until neither
    /// has anything to send.
    pub fn pump(&mut self) {
        loop {
            let now = self.now();
            let mut a_end = End {
                rx: &mut self.ba,
                tx: &mut self.ab,
            };
            self.a.iface.poll(now, &mut a_end, &mut self.a.sockets);
            let mut b_end = End {
                rx: &mut self.ab,
                tx: &mut self.ba,
            };
            self.b.iface.poll(now, &mut b_end, &mut self.b.sockets);
            if self.ab.queue.is_empty() && self.ba.queue.is_empty() {
                return;
            }
        }
    }

    /// `n` connections from A (local ports from `first_port`) to B's `port`, which gets one
    /// listening socket per connection, all with `rx` and `tx` buffer bytes and immediate
    /// ACKs: the handles on (A, B), all established.
    pub fn connect_many(
        &mut self,
        port: u16,
        first_port: u16,
        n: usize,
        (rx, tx): (usize, usize),
    ) -> anyhow::Result<Vec<(SocketHandle, SocketHandle)>> {
        let mut pairs = Vec::with_capacity(n);
        for i in 0..n {
            let hb = self.b.add_tcp(rx, tx);
            self.b.tcp(hb).set_ack_delay(None);
            self.b.tcp(hb).listen(port)?;
            let ha = self.a.add_tcp(rx, tx);
            self.a.tcp(ha).set_ack_delay(None);
            self.connect(ha, first_port + i as u16, port)?;
            pairs.push((ha, hb));
        }
        self.pump();
        for &(ha, hb) in &pairs {
            let (sa, sb) = (self.a.tcp(ha).state(), self.b.tcp(hb).state());
            if sa != tcp::State::Established || sb != tcp::State::Established {
                anyhow::bail!("smoltcp handshake: A {sa}, B {sb}");
            }
        }
        Ok(pairs)
    }

    /// A connects socket `client` from `local_port` to B's `port`.
    pub fn connect(
        &mut self,
        client: SocketHandle,
        local_port: u16,
        port: u16,
    ) -> Result<(), tcp::ConnectError> {
        let cx = self.a.iface.context();
        self.a.sockets.get_mut::<tcp::Socket>(client).connect(
            cx,
            (IpAddress::Ipv4(B_IP), port),
            local_port,
        )
    }
}
