//! The per-packet hook a test installs with [`World::set_filter`](crate::World::set_filter),
//! applied before the link's random faults: "drop the 3rd segment from A".

use oxtcp_core::Instant;
use std::time::Duration;

use crate::node::HostId;

/// What the filter decides for one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Hand the packet to the link as usual.
    Pass,
    /// Drop the packet; it is counted as `Filtered`.
    Drop,
    /// Deliver the packet this much later than the link would (extra propagation delay).
    Delay(Duration),
    /// Deliver the packet as usual, and an exact copy this much after it (an old duplicate
    /// still wandering the network).
    Duplicate(Duration),
}

/// A packet as the filter sees it, on its way from `from` to `to`.
#[derive(Clone, Copy, Debug)]
pub struct PacketInfo<'a> {
    /// When the packet left its sender.
    pub time: Instant,
    /// The sending host.
    pub from: HostId,
    /// The host that owns the destination address.
    pub to: HostId,
    /// 1-based count of packets `from` has sent, this one included.
    pub nth_from_host: u64,
    /// The whole IP datagram.
    pub bytes: &'a [u8],
}
