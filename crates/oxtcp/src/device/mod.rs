//! Devices: where datagrams enter and leave the runtime.
//!
//! A device moves whole IP datagrams (IPv4 or IPv6, no link header). The runtime reads from
//! it without blocking, writes to it, flushes it once per turn, and sleeps on its descriptor
//! until it is readable or until its own deadline ([`Device::poll_at`]) — that is how a
//! device that holds packets back (the fault injector's delay) gets its turn.
//!
//! - [`TunDevice`]: a Linux TUN interface, plain or with virtio-net offloads (TSO/GSO out,
//!   GRO in); plain, it coalesces received segments itself (`gro`).
//! - [`MemoryDevice`]: one end of an in-process link, for two runtimes in one program.
//! - [`SimLink`]: a link into the simulator, whose hosts and seeded links answer the runtime.
//! - [`FaultyDevice`]: seeded loss, duplication, reordering and delay around any device.
//! - [`PcapTap`]: records what crosses any device to a pcap file.

mod faults;
mod gro;
mod memory;
mod pcap;
mod sim;
mod tun;

use std::io;
use std::os::fd::RawFd;
use std::time::Instant;

pub use faults::{FaultCounters, Faults, FaultyDevice};
pub use memory::MemoryDevice;
pub use pcap::PcapTap;
pub use sim::{Port, SimLink, SimNode};
pub use tun::{TunConfig, TunDevice};

/// A source and sink of IP datagrams, driven by one runtime thread.
pub trait Device: Send {
    /// Read one datagram into `buf` without blocking; `Ok(None)` when none is waiting.
    fn recv(&mut self, now: Instant, buf: &mut [u8]) -> io::Result<Option<usize>>;

    /// [`Device::recv`], also saying whether the device vouches for the datagram's TCP
    /// checksum (receive checksum offload: it verified it, or the datagram came from a local
    /// sender over no wire), so that the stack need not compute it. A device that says so may
    /// leave the checksum field as it came. By default nothing is vouched for.
    fn recv_offloaded(
        &mut self,
        now: Instant,
        buf: &mut [u8],
    ) -> io::Result<Option<(usize, bool)>> {
        Ok(self.recv(now, buf)?.map(|n| (n, false)))
    }

    /// Hand one datagram to the device. A device may batch it until [`Device::flush`].
    /// An error means this datagram was lost; TCP recovers it like any other loss.
    fn send(&mut self, now: Instant, packet: &[u8]) -> io::Result<()>;

    /// Hand over one datagram of several TCP segments for the device to cut into segments
    /// of `segment_size` payload bytes (segmentation offload, TSO), computing each one's
    /// checksum: the datagram's checksum field holds only the pseudo-header's sum, as the stack
    /// leaves it (`Checksum::Offloaded`). Only called when [`Device::segmentation_offload`]
    /// says the device can.
    fn send_segmented(&mut self, now: Instant, packet: &[u8], segment_size: u16) -> io::Result<()> {
        let _ = (now, packet, segment_size);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this device does not cut segments",
        ))
    }

    /// [`Device::send_segmented`] for a datagram in parts: its headers, then its payload from
    /// wherever the stack keeps it (`Stack::poll_transmit_gathered`). A device that can write
    /// from several buffers at once (`writev`) takes them as they are; the default joins
    /// them first.
    fn send_segmented_parts(
        &mut self,
        now: Instant,
        parts: &[&[u8]],
        segment_size: u16,
    ) -> io::Result<()> {
        self.send_segmented(now, &parts.concat(), segment_size)
    }

    /// The most payload one datagram handed to [`Device::send_segmented`] may carry, if the
    /// device can cut segments itself. The runtime turns the stack's segmentation offload on
    /// with it.
    fn segmentation_offload(&self) -> Option<usize> {
        None
    }

    /// Push out anything batched or now due. Called once per runtime turn.
    fn flush(&mut self, _now: Instant) -> io::Result<()> {
        Ok(())
    }

    /// When the device next needs a turn even if its descriptor stays quiet.
    fn poll_at(&self) -> Option<Instant> {
        None
    }

    /// A descriptor that is readable when [`Device::recv`] may return a datagram.
    fn fd(&self) -> RawFd;

    /// Largest datagram the device carries; the stack's MSS derives from it.
    fn mtu(&self) -> usize;
}

impl<D: Device + ?Sized> Device for Box<D> {
    fn recv(&mut self, now: Instant, buf: &mut [u8]) -> io::Result<Option<usize>> {
        (**self).recv(now, buf)
    }
    fn recv_offloaded(
        &mut self,
        now: Instant,
        buf: &mut [u8],
    ) -> io::Result<Option<(usize, bool)>> {
        (**self).recv_offloaded(now, buf)
    }
    fn send(&mut self, now: Instant, packet: &[u8]) -> io::Result<()> {
        (**self).send(now, packet)
    }
    fn send_segmented(&mut self, now: Instant, packet: &[u8], segment_size: u16) -> io::Result<()> {
        (**self).send_segmented(now, packet, segment_size)
    }
    fn send_segmented_parts(
        &mut self,
        now: Instant,
        parts: &[&[u8]],
        segment_size: u16,
    ) -> io::Result<()> {
        (**self).send_segmented_parts(now, parts, segment_size)
    }
    fn segmentation_offload(&self) -> Option<usize> {
        (**self).segmentation_offload()
    }
    fn flush(&mut self, now: Instant) -> io::Result<()> {
        (**self).flush(now)
    }
    fn poll_at(&self) -> Option<Instant> {
        (**self).poll_at()
    }
    fn fd(&self) -> RawFd {
        (**self).fd()
    }
    fn mtu(&self) -> usize {
        (**self).mtu()
    }
}
