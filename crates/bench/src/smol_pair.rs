//! Two smoltcp interfaces (medium IP) joined by an in-memory link, the smoltcp counterpart of
//! `oxtcp_mem::Pair`: each poll's transmitted datagrams are queued for the other interface,
//! in buffers that are reused, so no allocation per packet once warm. Time is the wall clock.

use std::collections::VecDeque;
use std::time::Instant as StdInstant;

use anyhow::{bail, Result};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, Ipv4Address};

const A_IP: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
const B_IP: Ipv4Address = Ipv4Address::new(10, 0, 0, 2);
const MTU: usize = 1500;

/// One end of the link: datagrams to receive, datagrams sent, buffers free for sending, and
/// buffers of received datagrams (free again after the poll).
#[derive(Default)]
pub struct Dev {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
    spare: Vec<Vec<u8>>,
    spent: Vec<Vec<u8>>,
}

pub struct Rx<'a> {
    buf: Vec<u8>,
    spent: &'a mut Vec<Vec<u8>>,
}

pub struct Tx<'a> {
    tx: &'a mut VecDeque<Vec<u8>>,
    spare: &'a mut Vec<Vec<u8>>,
}

impl RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(&self.buf);
        self.spent.push(self.buf);
        r
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.resize(len, 0);
        let r = f(&mut buf);
        self.tx.push_back(buf);
        r
    }
}

impl Device for Dev {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let buf = self.rx.pop_front()?;
        Some((
            Rx {
                buf,
                spent: &mut self.spent,
            },
            Tx {
                tx: &mut self.tx,
                spare: &mut self.spare,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx {
            tx: &mut self.tx,
            spare: &mut self.spare,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = MTU;
        caps
    }
}

/// One host: an interface, its device and its sockets.
pub struct Host {
    pub iface: Interface,
    pub dev: Dev,
    pub sockets: SocketSet<'static>,
}

impl Host {
    fn new(ip: Ipv4Address, seed: u64, now: Instant) -> Host {
        let mut dev = Dev::default();
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut dev, now);
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::Ipv4(ip), 24));
        });
        Host {
            iface,
            dev,
            sockets: SocketSet::new(Vec::new()),
        }
    }

    fn poll(&mut self, now: Instant) {
        self.iface.poll(now, &mut self.dev, &mut self.sockets);
        self.dev.spare.append(&mut self.dev.spent);
    }

    /// A socket with `rx` and `tx` buffer bytes and immediate ACKs.
    pub fn socket(&mut self, rx: usize, tx: usize) -> SocketHandle {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0u8; rx]),
            tcp::SocketBuffer::new(vec![0u8; tx]),
        );
        s.set_ack_delay(None);
        self.sockets.add(s)
    }

    pub fn tcp(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }
}

/// Two hosts and the link between them.
pub struct SmolPair {
    pub a: Host,
    pub b: Host,
    start: StdInstant,
}

impl SmolPair {
    pub fn new() -> SmolPair {
        let start = StdInstant::now();
        let now = Instant::from_micros(0);
        SmolPair {
            a: Host::new(A_IP, 1, now),
            b: Host::new(B_IP, 2, now),
            start,
        }
    }

    pub fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as i64)
    }

    /// Poll both hosts and move datagrams between them until neither sends any.
    pub fn pump(&mut self) {
        loop {
            let now = self.now();
            self.a.poll(now);
            let mut moved = !self.a.dev.tx.is_empty();
            self.b.dev.rx.append(&mut self.a.dev.tx);
            self.b.poll(now);
            moved |= !self.b.dev.tx.is_empty();
            self.a.dev.rx.append(&mut self.b.dev.tx);
            if !moved {
                return;
            }
        }
    }

    /// `n` connections from A (local ports from `first_port`) to B's port, which gets one
    /// listening socket per connection: the handles on (A, B), all established.
    pub fn connect(
        &mut self,
        port: u16,
        first_port: u16,
        n: usize,
        (rx, tx): (usize, usize),
    ) -> Result<Vec<(SocketHandle, SocketHandle)>> {
        let mut pairs = Vec::with_capacity(n);
        for i in 0..n {
            let hb = self.b.socket(rx, tx);
            self.b.tcp(hb).listen(port)?;
            let ha = self.a.socket(rx, tx);
            let cx = self.a.iface.context();
            let remote = (IpAddress::Ipv4(B_IP), port);
            self.a
                .sockets
                .get_mut::<tcp::Socket>(ha)
                .connect(cx, remote, first_port + i as u16)?;
            pairs.push((ha, hb));
        }
        self.pump();
        for &(ha, hb) in &pairs {
            let (sa, sb) = (self.a.tcp(ha).state(), self.b.tcp(hb).state());
            if sa != tcp::State::Established || sb != tcp::State::Established {
                bail!("smoltcp handshake: A {sa}, B {sb}");
            }
        }
        Ok(pairs)
    }
}
