//! A Linux TUN interface (via tun-rs), in one of two modes:
//!
//! - **plain**: one read or write per datagram; runs of received segments are coalesced in
//!   software (`gro.rs`, unless `TunConfig::gro` is off) before the stack takes them, and the
//!   stack's super-segments are cut into segments in software before they are written
//!   (`oxtcp_wire::gso`, unless `TunConfig::gso` is off), as Linux's GSO does for a device
//!   without TSO: the stack does its per-segment work once for a run of segments;
//! - **offload**: the virtio-net header is on, so the kernel may hand us one TCP
//!   super-segment of up to 64 KiB (its TSO/GSO). The stack takes it whole, as one segment
//!   (receive offload, as a NIC's LRO or Linux's GRO would hand it up), once its checksum is
//!   completed: the kernel leaves it to the receiver (`NEEDS_CSUM`). On the way out, the stack
//!   builds super-segments itself (segmentation offload, up to [`TSO_MAX_PAYLOAD`]), and the
//!   kernel cuts them into segments as a NIC's TSO would; the other datagrams of a turn are
//!   batched and coalesced (GRO) into super-segments the kernel accepts in one write.
//!
//! Every datagram the stack sees carries a complete checksum, so a fault-injecting or capturing
//! device stacked on this one works as on a plain TUN.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use oxtcp_wire::{checksum, gso};
use tun_rs::{DeviceBuilder, GROTable, SyncDevice, IDEAL_BATCH_SIZE, VIRTIO_NET_HDR_LEN};

use super::gro::Gro;
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
    /// Without the virtio-net header, coalesce runs of received segments of one flow into
    /// one datagram for the stack, in software, as Linux's GRO does: on by default.
    pub gro: bool,
    /// Without the virtio-net header, let the stack hand over runs of whole segments at once
    /// (segmentation offload) and cut them into segments here, in software, as Linux's GSO
    /// does: on by default. Each segment is still one write.
    pub gso: bool,
}

impl TunConfig {
    /// A plain interface with MTU 1500.
    pub fn new(name: &str) -> TunConfig {
        TunConfig {
            name: name.to_string(),
            addrs: Vec::new(),
            mtu: 1500,
            offload: false,
            gro: true,
            gso: true,
        }
    }
}

struct Offload {
    gro: GROTable,
    tx_bufs: Vec<Vec<u8>>,
    tx_len: usize,
}

/// The most payload the stack puts in one super-segment: what one IP datagram can carry
/// (65,535 bytes) less the largest IP and TCP headers (40 + 60).
pub const TSO_MAX_PAYLOAD: usize = 65_535 - 40 - 60;

/// `gso_type` of the virtio-net header for TCP over IPv4 and over IPv6 (virtio 1.2 §5.1.6).
const GSO_TCPV4: u8 = 1;
const GSO_TCPV6: u8 = 4;

/// Offset of the checksum in the TCP header.
const TCP_CSUM_OFFSET: usize = 16;

/// `flags` bit of the virtio-net header: the transport checksum is left to the receiver,
/// whose field holds the pseudo-header's sum (virtio 1.2 §5.1.6, `VIRTIO_NET_HDR_F_NEEDS_CSUM`).
const NEEDS_CSUM: u8 = 1;

/// Complete the transport checksum of `packet`, read after the virtio-net header `hdr`, when
/// the kernel left it to us; false for a header inconsistent with the datagram. The header's
/// 16-bit fields are in the host's byte order (the TUN is not set to big-endian).
fn complete_checksum(hdr: &[u8; VIRTIO_NET_HDR_LEN], packet: &mut [u8]) -> bool {
    if hdr[0] & NEEDS_CSUM == 0 {
        return true;
    }
    let csum_start = usize::from(u16::from_ne_bytes([hdr[6], hdr[7]]));
    let csum_offset = usize::from(u16::from_ne_bytes([hdr[8], hdr[9]]));
    let at = csum_start + csum_offset;
    if at + 2 > packet.len() {
        return false;
    }
    // Summed with the rest of the segment, the field's pseudo-header sum makes the whole.
    let sum = checksum::fold(checksum::sum(&packet[csum_start..]));
    packet[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    true
}

/// The datagram after the virtio-net header of one read `raw`, its checksum completed
/// ([`complete_checksum`]); `None` for a read too short or inconsistent to be one.
#[cfg(test)]
fn complete_datagram(raw: &mut [u8]) -> Option<&[u8]> {
    let (hdr, packet) = raw.split_at_mut_checked(VIRTIO_NET_HDR_LEN)?;
    let hdr: &[u8; VIRTIO_NET_HDR_LEN] = (&*hdr).try_into().ok()?;
    complete_checksum(hdr, packet).then_some(&*packet)
}

/// The virtio-net header that has the kernel cut the TCP segment `packet` (a datagram oxtcp
/// built) into segments of `segment_size` payload bytes, computing each one's checksum from the
/// pseudo-header's sum the stack left in the field (the `NEEDS_CSUM` convention a NIC's TSO
/// works by). `None` if `packet` is not an IPv4 or IPv6 datagram carrying a whole TCP header.
fn segmentation_header(packet: &[u8], segment_size: u16) -> Option<[u8; VIRTIO_NET_HDR_LEN]> {
    let (ip_len, gso_type) = match packet.first()? >> 4 {
        4 => (usize::from(packet[0] & 0x0f) * 4, GSO_TCPV4),
        6 => (40, GSO_TCPV6),
        _ => return None,
    };
    let tcp_header_len = usize::from(packet.get(ip_len + 12)? >> 4) * 4;
    let header_len = ip_len + tcp_header_len;
    if tcp_header_len < 20 || header_len > packet.len() {
        return None;
    }
    let mut hdr = [0u8; VIRTIO_NET_HDR_LEN];
    hdr[0] = NEEDS_CSUM;
    hdr[1] = gso_type;
    hdr[2..4].copy_from_slice(&u16::try_from(header_len).ok()?.to_ne_bytes());
    hdr[4..6].copy_from_slice(&segment_size.to_ne_bytes());
    hdr[6..8].copy_from_slice(&u16::try_from(ip_len).ok()?.to_ne_bytes());
    hdr[8..10].copy_from_slice(&(TCP_CSUM_OFFSET as u16).to_ne_bytes());
    Some(hdr)
}

/// `flags` bit of the virtio-net header: the transport checksum has been verified (virtio 1.2
/// §5.1.6, `VIRTIO_NET_HDR_F_DATA_VALID`).
const DATA_VALID: u8 = 2;

/// A TUN interface owned by the runtime.
pub struct TunDevice {
    dev: SyncDevice,
    name: String,
    mtu: usize,
    offload: Option<Box<Offload>>,
    /// Receive coalescing in software, for a plain interface.
    gro: Option<Box<Gro>>,
    /// Segmentation in software, for a plain interface: the buffer each segment is cut into.
    gso: Option<Vec<u8>>,
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
            Box::new(Offload {
                gro: GROTable::default(),
                tx_bufs: (0..IDEAL_BATCH_SIZE)
                    .map(|_| Vec::with_capacity(2 * VIRTIO_NET_HDR_LEN + 65535))
                    .collect(),
                tx_len: 0,
            })
        });
        let gro = (cfg.gro && offload.is_none()).then(|| Box::new(Gro::new()));
        let gso = (cfg.gso && offload.is_none()).then(|| vec![0u8; usize::from(cfg.mtu)]);
        Ok(TunDevice {
            name: cfg.name.clone(),
            mtu: cfg.mtu as usize,
            dev,
            offload,
            gro,
            gso,
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A plain interface's segmentation offload: the super-segment in `parts` (headers, then
    /// payload) cut into segments of `size` payload bytes in software, each written as it is
    /// cut. The first failed write is the error; the segments after it are not written, and
    /// TCP recovers them as lost.
    fn send_cut(&mut self, parts: &[&[u8]], size: u16) -> io::Result<()> {
        let Some(buf) = self.gso.as_mut() else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "segmentation offload is off on this TUN",
            ));
        };
        let Some((head, payload)) = parts.split_first() else {
            return Ok(());
        };
        let dev = &self.dev;
        let mut sent = Ok(());
        gso::segment(head, payload, size.into(), buf, |d| {
            if sent.is_ok() {
                sent = dev.send(d).map(|_| ());
            }
        })
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        sent
    }

    /// Whether the virtio-net offloads are in use.
    pub fn offload(&self) -> bool {
        self.offload.is_some()
    }

    /// One read with offloads on: the virtio-net header, and the datagram's length in `buf`
    /// (the two land apart, so the datagram is not copied again); `None` if nothing was
    /// waiting or the read was too short to hold a header (one lost datagram, not a dead
    /// device).
    fn recv_with_header(
        &mut self,
        buf: &mut [u8],
    ) -> io::Result<Option<([u8; VIRTIO_NET_HDR_LEN], usize)>> {
        let mut hdr = [0u8; VIRTIO_NET_HDR_LEN];
        let read = self
            .dev
            .recv_vectored(&mut [IoSliceMut::new(&mut hdr), IoSliceMut::new(buf)]);
        let n = match read {
            Ok(n) => n,
            Err(e) if would_block(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(n.checked_sub(VIRTIO_NET_HDR_LEN).map(|n| (hdr, n)))
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

/// One datagram from a plain interface; `None` if nothing is waiting.
fn read_plain(dev: &SyncDevice, buf: &mut [u8]) -> io::Result<Option<usize>> {
    match dev.recv(buf) {
        Ok(n) => Ok(Some(n)),
        Err(e) if would_block(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

impl Device for TunDevice {
    fn recv(&mut self, _now: Instant, buf: &mut [u8]) -> io::Result<Option<usize>> {
        if self.offload.is_none() {
            return read_plain(&self.dev, buf);
        }
        let Some((hdr, n)) = self.recv_with_header(buf)? else {
            return Ok(None);
        };
        Ok(complete_checksum(&hdr, &mut buf[..n]).then_some(n))
    }

    fn recv_offloaded(
        &mut self,
        now: Instant,
        buf: &mut [u8],
    ) -> io::Result<Option<(usize, bool)>> {
        if self.offload.is_none() {
            // Plain: the segments a read at a time, coalesced here if GRO is on.
            return match self.gro.as_deref_mut() {
                Some(gro) => gro.recv(buf, |b| read_plain(&self.dev, b)),
                None => Ok(self.recv(now, buf)?.map(|n| (n, false))),
            };
        }
        let Some((hdr, n)) = self.recv_with_header(buf)? else {
            return Ok(None);
        };
        // The kernel vouches for the checksum it left to us (a local sender's, which crossed
        // no wire) or marked valid: the stack need not compute it, so it is not completed.
        if hdr[0] & (NEEDS_CSUM | DATA_VALID) != 0 {
            return Ok(Some((n, true)));
        }
        Ok(Some((n, false)))
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

    fn send_segmented(&mut self, now: Instant, packet: &[u8], segment_size: u16) -> io::Result<()> {
        self.send_segmented_parts(now, &[packet], segment_size)
    }

    fn send_segmented_parts(
        &mut self,
        now: Instant,
        parts: &[&[u8]],
        segment_size: u16,
    ) -> io::Result<()> {
        if self.offload.is_none() {
            return self.send_cut(parts, segment_size);
        }
        // The headers are whole in the first part.
        let head = parts.first().copied().unwrap_or_default();
        let Some(hdr) = segmentation_header(head, segment_size) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a TCP segment to cut",
            ));
        };
        // What is batched went to the stack's exit first, so it goes first.
        self.flush(now)?;
        // One write of the virtio-net header and the parts, without copying any of them.
        let mut iov = [IoSlice::new(&[]); 4];
        iov[0] = IoSlice::new(&hdr);
        if parts.len() >= iov.len() {
            let joined = parts.concat();
            return self
                .dev
                .send_vectored(&[IoSlice::new(&hdr), IoSlice::new(&joined)])
                .map(|_| ());
        }
        for (slot, part) in iov[1..].iter_mut().zip(parts) {
            *slot = IoSlice::new(part);
        }
        self.dev.send_vectored(&iov[..=parts.len()]).map(|_| ())
    }

    fn segmentation_offload(&self) -> Option<usize> {
        (self.offload.is_some() || self.gso.is_some()).then_some(TSO_MAX_PAYLOAD)
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

    fn fd(&self) -> RawFd {
        self.dev.as_raw_fd()
    }

    fn mtu(&self) -> usize {
        self.mtu
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxtcp_wire::{
        emit_packet, emit_packet_with, parse_packet, Checksum, TcpFlags, TcpOptions, TcpRepr,
    };

    /// A 20,000-byte IPv4 TCP segment with a correct checksum, as oxtcp would build it.
    fn segment() -> (Vec<u8>, IpAddr, IpAddr) {
        let (src, dst): (IpAddr, IpAddr) =
            ("198.18.0.1".parse().unwrap(), "198.18.0.2".parse().unwrap());
        (segment_between(src, dst), src, dst)
    }

    /// A 20,000-byte TCP segment from `src` to `dst` with a correct checksum.
    fn segment_between(src: IpAddr, dst: IpAddr) -> Vec<u8> {
        let tcp = TcpRepr {
            src_port: 40_000,
            dst_port: 5001,
            seq: 7,
            ack: 9,
            flags: TcpFlags::ACK,
            window: 512,
            urgent: 0,
            options: TcpOptions::default(),
        };
        let payload: Vec<u8> = (0..20_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut buf = vec![0u8; 65535];
        let n = emit_packet(&mut buf, src, dst, 64, &tcp, &[&payload]).unwrap();
        buf.truncate(n);
        buf
    }

    /// The read a TUN with offloads gives for `packet` when the kernel leaves the checksum to
    /// the receiver: a virtio-net header with NEEDS_CSUM, and the field holding the
    /// pseudo-header's sum.
    fn needs_csum_read(packet: &[u8], src: IpAddr, dst: IpAddr) -> Vec<u8> {
        let tcp_len = packet.len() - 20;
        let pseudo = checksum::combine(checksum::pseudo_header(src, dst, 6, tcp_len as u32), 0);
        let mut hdr = [0u8; VIRTIO_NET_HDR_LEN];
        hdr[0] = NEEDS_CSUM;
        hdr[1] = 1; // GSO TCPv4
        hdr[6..8].copy_from_slice(&20u16.to_ne_bytes());
        hdr[8..10].copy_from_slice(&16u16.to_ne_bytes());
        let mut raw = hdr.to_vec();
        raw.extend_from_slice(packet);
        let at = VIRTIO_NET_HDR_LEN + 20 + 16;
        raw[at..at + 2].copy_from_slice(&(pseudo as u16).to_be_bytes());
        raw
    }

    #[test]
    fn a_super_segment_left_to_the_receiver_gets_its_checksum_completed() {
        let (packet, src, dst) = segment();
        let mut raw = needs_csum_read(&packet, src, dst);
        assert!(
            parse_packet(&raw[VIRTIO_NET_HDR_LEN..]).is_err(),
            "partial as read"
        );
        let done = complete_datagram(&mut raw).expect("a datagram");
        assert_eq!(done, &packet[..], "the checksum oxtcp itself computes");
        assert_eq!(parse_packet(done).unwrap().payload.len(), 20_000);
    }

    /// `packet` as the stack hands a super-segment over: its checksum field holding only the
    /// pseudo-header's sum (`Checksum::Offloaded`).
    fn offloaded(packet: &[u8]) -> Vec<u8> {
        let seg = parse_packet(packet).expect("a whole datagram");
        let mut out = vec![0u8; packet.len()];
        let (src, dst) = (seg.ip.src(), seg.ip.dst());
        let n = emit_packet_with(
            &mut out,
            src,
            dst,
            64,
            &seg.tcp,
            &[seg.payload],
            Checksum::Offloaded,
        );
        assert_eq!(n, Ok(packet.len()));
        out
    }

    /// Cut at `size`: the header must say so, and what the kernel gets (header and datagram)
    /// must be what a receiver completes back into the datagram with its checksum computed:
    /// the same NEEDS_CSUM convention both ways.
    #[track_caller]
    fn check_cut(packet: &[u8], size: u16, gso_type: u8, ip_len: u16) {
        let sent = offloaded(packet);
        let hdr = segmentation_header(&sent, size).expect("a TCP segment");
        let field = |i: usize| u16::from_ne_bytes([hdr[i], hdr[i + 1]]);
        assert_eq!((hdr[0], hdr[1]), (NEEDS_CSUM, gso_type));
        assert_eq!(field(2), ip_len + 20, "headers: IP and TCP without options");
        assert_eq!(field(4), size, "segment size");
        assert_eq!(
            (field(6), field(8)),
            (ip_len, 16),
            "checksum start and offset"
        );
        let mut raw = hdr.to_vec();
        raw.extend_from_slice(&sent);
        assert_eq!(complete_datagram(&mut raw), Some(packet));
    }

    #[test]
    fn a_super_segment_goes_out_with_the_header_a_tso_needs() {
        let (packet, _, _) = segment();
        check_cut(&packet, 1448, GSO_TCPV4, 20);
    }

    #[test]
    fn an_ipv6_super_segment_is_cut_as_tcpv6() {
        let (src, dst): (IpAddr, IpAddr) = ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap());
        check_cut(&segment_between(src, dst), 1428, GSO_TCPV6, 40);
    }

    #[test]
    fn only_a_whole_tcp_header_can_be_cut() {
        let (packet, _, _) = segment();
        assert_eq!(
            segmentation_header(&packet[..30], 1448),
            None,
            "TCP header cut short"
        );
        assert_eq!(segmentation_header(&[], 1448), None);
        let mut bad = packet.clone();
        bad[0] = 0x55;
        assert_eq!(segmentation_header(&bad, 1448), None, "IP version 5");
        let mut bad = packet;
        bad[20 + 12] = 0x40;
        assert_eq!(
            segmentation_header(&bad, 1448),
            None,
            "data offset below 5 words"
        );
    }

    #[test]
    fn a_complete_datagram_is_passed_as_it_is_and_a_bad_header_is_a_lost_one() {
        let (packet, src, dst) = segment();
        let mut raw = vec![0u8; VIRTIO_NET_HDR_LEN];
        raw.extend_from_slice(&packet);
        assert_eq!(complete_datagram(&mut raw), Some(&packet[..]));
        assert_eq!(
            complete_datagram(&mut [0u8; 4]),
            None,
            "shorter than the header"
        );
        let mut raw = needs_csum_read(&packet, src, dst);
        raw[8..10].copy_from_slice(&u16::MAX.to_ne_bytes());
        assert_eq!(
            complete_datagram(&mut raw),
            None,
            "checksum field past the end"
        );
    }
}
