//! What attaches to the network: the [`Node`] trait a host implements, and [`HostId`].

use std::fmt;

use oxtcp_core::Instant;

/// Something attached to the simulated network: a host's stack plus its applications.
///
/// The world drives a node sans-IO style: it feeds packets and timeouts in, then drains
/// `poll_transmit` until `None` and re-reads `poll_timeout` after every touch.
pub trait Node {
    /// A complete IP datagram arrives from the network at `now`.
    fn handle_packet(&mut self, now: Instant, packet: &[u8]);
    /// The next datagram the node wants to send, written into `buf` (at least 65535 bytes); its length.
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize>;
    /// The earliest instant at which the node wants `handle_timeout`.
    fn poll_timeout(&mut self) -> Option<Instant>;
    /// Called once the virtual clock reaches the node's timeout.
    fn handle_timeout(&mut self, now: Instant);
}

/// Lets one world hold different kinds of node as `World<Box<dyn Node>>`.
impl<N: Node + ?Sized> Node for Box<N> {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        (**self).handle_packet(now, packet)
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        (**self).poll_transmit(now, buf)
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        (**self).poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        (**self).handle_timeout(now)
    }
}

/// A host in a [`World`](crate::World), numbered from 0 in the order hosts were added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(pub usize);

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host{}", self.0)
    }
}
