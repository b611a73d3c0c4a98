//! Packet formats: IPv4 (RFC 791), IPv6 (RFC 8200), TCP header and options (RFC 9293,
//! RFC 7323, RFC 2018), and Internet checksums (RFC 1071).
//!
//! Each format has a zero-copy view over bytes (`*Packet`) and a parsed representation
//! (`*Repr`) with `parse` and `emit`. Nothing here allocates on the parse or emit path, and
//! no input, however malformed, makes it panic.
//!
//! No `unsafe` but one block, in `checksum/avx2.rs`: the call of the checksum's AVX2 loop
//! after the processor was found to have AVX2.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod checksum;
mod error;
mod field;
mod gathered;
pub mod gro;
pub mod gso;
pub mod ipv4;
pub mod ipv6;
mod offload;
pub mod packet;
pub mod tcp;

pub use checksum::Checksum;
pub use error::{Error, Result};
pub use gathered::parse_packet_gathered;
pub use ipv4::{Ipv4Packet, Ipv4Repr};
pub use ipv6::{Ipv6Packet, Ipv6Repr};
pub use packet::{
    emit_headers_offloaded, emit_packet, emit_packet_with, parse_packet, parse_packet_with, IpRepr,
    Segment, IP_PROTO_TCP,
};
pub use tcp::{
    SackBlock, SackBlocks, TcpFlags, TcpOption, TcpOptionIter, TcpOptions, TcpPacket, TcpRepr,
    Timestamps,
};
