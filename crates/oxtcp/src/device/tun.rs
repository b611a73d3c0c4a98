//! A Linux TUN interface (via tun-rs), in one of two modes:
//!
//! - **plain**: one read or write per datagram;
//! - **offload**: the virtio-net header is on, so the kernel may hand us one TCP
//!   super-segment of up to 64 KiB (its TSO/GSO), which tun-rs splits into MTU-sized datagrams
//!   before the stack sees them; and on the way out, datagrams of a turn are batched and
//!   coalesced (GRO) into super-segments the kernel accepts in one write.
//!
//! The stack always sees ordinary datagrams of at most the MTU; offload only changes how many
//! system calls carry them.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use tun_rs::{DeviceBuilder, GROTable, SyncDevice, IDEAL_BATCH_SIZE, VIRTIO_NET_HDR_LEN};

use super::Device;

/// How to create the interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunConfig {
    /// Interface name, e.g. `oxtcp0`.
    pub name: String,
    /// Kernel-side addresses with prefix lengths (at most one per family).
    pub addrs: Vec<(IpAddr, u8)>,
    /// Interface MTU.
    pub mtu: u16,
    /// Use the virtio-net header with TSO/GSO and GRO.
    pub offload: bool,
}

impl TunConfig {
    /// A plain interface with MTU 1500.
    pub fn new(name: &str) -> TunConfig {
        TunConfig {
            name: name.to_string(),
            addrs: Vec::new(),
            mtu: 1500,
            offload: false,
        }
    }
}

struct Offload {
    gro: GROTable,
    /// Whole reads from the kernel, header included.
    original: Vec<u8>,
    rx_bufs: Vec<Vec<u8>>,
    rx_sizes: Vec<usize>,
    rx_next: usize,
    rx_count: usize,
    tx_bufs: Vec<Vec<u8>>,
    tx_len: usize,
}

/// A TUN interface owned by the runtime.
pub struct TunDevice {
    dev: SyncDevice,
    name: String,
    mtu: usize,
    offload: Option<Box<Offload>>,
}

impl TunDevice {
    /// Create the interface, give the kernel side its addresses, and bring it up.
    pub fn create(cfg: &TunConfig) -> io::Result<TunDevice> {
        let mut b = DeviceBuilder::new()
            .name(cfg.name.clone())
            .mtu(cfg.mtu)
            .offload(cfg.offload);
        let mut v4 = false;
        let mut v6 = false;
        for (addr, len) in &cfg.addrs {
            match addr {
                IpAddr::V4(a) if !v4 => {
                    b = b.ipv4(*a, *len, None);
                    v4 = true;
                }
                IpAddr::V6(a) if !v6 => {
                    b = b.ipv6(*a, *len);
                    v6 = true;
                }
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "at most one TUN address per family",
                    ))
                }
            }
        }
        let dev = b
            .build_sync()
            .map_err(|e| describe_create_error(&cfg.name, e))?;
        dev.set_nonblocking(true)?;
        let offload = (cfg.offload && dev.tcp_gso()).then(|| {
            let mtu = cfg.mtu as usize;
            Box::new(Offload {
                gro: GROTable::default(),
                original: vec![0; VIRTIO_NET_HDR_LEN + 65535],
                rx_bufs: vec![vec![0; mtu.max(1280)]; IDEAL_BATCH_SIZE],
                rx_sizes: vec![0; IDEAL_BATCH_SIZE],
                rx_next: 0,
                rx_count: 0,
                tx_bufs: (0..IDEAL_BATCH_SIZE)
                    .map(|_| Vec::with_capacity(2 * VIRTIO_NET_HDR_LEN + 65535))
                    .collect(),
                tx_len: 0,
            })
        });
        Ok(TunDevice {
            name: cfg.name.clone(),
            mtu: cfg.mtu as usize,
            dev,
            offload,
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the virtio-net offloads are in use.
    pub fn offload(&self) -> bool {
        self.offload.is_some()
    }
}

fn describe_create_error(name: &str, e: io::Error) -> io::Error {
    let hint = match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            " (creating a TUN device needs root or CAP_NET_ADMIN: run it with sudo)"
        }
        Some(libc::ENOENT) | Some(libc::ENODEV) => " (is /dev/net/tun present?)",
        Some(libc::EBUSY) => " (the interface is in use by another program)",
        _ => "",
    };
    io::Error::new(
        e.kind(),
        format!("cannot create TUN device {name}: {e}{hint}"),
    )
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

impl Device for TunDevice {
    fn recv(&mut self, _now: Instant, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let Some(o) = self.offload.as_mut() else {
            return match self.dev.recv(buf) {
                Ok(n) => Ok(Some(n)),
                Err(e) if would_block(&e) => Ok(None),
                Err(e) => Err(e),
            };
        };
        if o.rx_next >= o.rx_count {
            o.rx_next = 0;
            o.rx_count = 0;
            match self
                .dev
                .recv_multiple(&mut o.original, &mut o.rx_bufs, &mut o.rx_sizes, 0)
            {
                Ok(n) => o.rx_count = n,
                Err(e) if would_block(&e) => return Ok(None),
                // A malformed virtio header or super-segment is one lost datagram, not a
                // dead device.
                Err(e) if e.kind() == io::ErrorKind::Other => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        let i = o.rx_next;
        o.rx_next += 1;
        let n = o.rx_sizes[i].min(buf.len());
        buf[..n].copy_from_slice(&o.rx_bufs[i][..n]);
        Ok(Some(n))
    }

    fn send(&mut self, now: Instant, packet: &[u8]) -> io::Result<()> {
        let Some(o) = self.offload.as_mut() else {
            // A refused datagram (ENOBUFS and the like) is an error the runtime counts.
            return self.dev.send(packet).map(|_| ());
        };
        let b = &mut o.tx_bufs[o.tx_len];
        b.clear();
        b.resize(VIRTIO_NET_HDR_LEN, 0);
        b.extend_from_slice(packet);
        o.tx_len += 1;
        if o.tx_len == IDEAL_BATCH_SIZE {
            self.flush(now)?;
        }
        Ok(())
    }

    fn flush(&mut self, _now: Instant) -> io::Result<()> {
        let Some(o) = self.offload.as_mut() else {
            return Ok(());
        };
        if o.tx_len == 0 {
            return Ok(());
        }
        let n = o.tx_len;
        o.tx_len = 0;
        self.dev
            .send_multiple(&mut o.gro, &mut o.tx_bufs[..n], VIRTIO_NET_HDR_LEN)
            .map(|_| ())
    }

    fn more_in_unit(&self) -> bool {
        self.offload
            .as_ref()
            .is_some_and(|o| o.rx_next < o.rx_count)
    }

    fn fd(&self) -> RawFd {
        self.dev.as_raw_fd()
    }

    fn mtu(&self) -> usize {
        self.mtu
    }
}
