//! What the network did with each packet: the event log for ladder diagrams and the counters.

use oxtcp_core::Instant;

use crate::node::HostId;

/// One step in a packet's fate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NetEventKind {
    /// The packet left its sender onto the link.
    Sent,
    /// A copy reached the receiving node.
    Delivered,
    /// Lost on the wire; a ladder diagram draws it ending in an X.
    Lost,
    /// A second copy will be delivered.
    Duplicated,
    /// One bit was flipped.
    Corrupted,
    /// Held back so later packets overtake it.
    Reordered,
    /// Dropped by the world's filter.
    Filtered,
    /// Dropped at a full bottleneck queue.
    QueueDrop,
}

/// Something that happened to a packet on a link, at virtual time `time`.
///
/// `Sent` and the fault kinds are stamped with the send time, `Delivered` with the arrival.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NetEvent {
    /// When it happened.
    pub time: Instant,
    /// The packet, numbered from 1 in send order across the world; a duplicate keeps its id.
    pub packet_id: u64,
    /// The sending host.
    pub from: HostId,
    /// The receiving host.
    pub to: HostId,
    /// What happened.
    pub kind: NetEventKind,
    /// The datagram's length in bytes.
    pub len: usize,
}

/// Counters for one direction of a link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Packets handed to the link (before the filter and faults).
    pub sent: u64,
    /// Copies delivered to the receiver, duplicates included.
    pub delivered: u64,
    /// Packets lost on the wire.
    pub lost: u64,
    /// Packets duplicated.
    pub duplicated: u64,
    /// Packets held back for reordering.
    pub reordered: u64,
    /// Packets with a flipped bit.
    pub corrupted: u64,
    /// Packets dropped by the filter.
    pub filtered: u64,
    /// Packets dropped at a full queue.
    pub queue_dropped: u64,
    /// Bytes handed to the link.
    pub bytes: u64,
    /// Bytes delivered, duplicates included.
    pub delivered_bytes: u64,
}

/// Counters for packets that never reached a link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorldStats {
    /// Datagrams whose destination could not be read.
    pub malformed: u64,
    /// Datagrams to an address no host owns.
    pub no_route: u64,
    /// Datagrams to a host with no link from the sender.
    pub no_link: u64,
}
