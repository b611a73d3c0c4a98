//! TCP segments (RFC 9293 §3.1): the header view, the parsed header, control bits and options.
//!
//! Options are in [`options`](self) per RFC 7323 (window scale, timestamps) and RFC 2018
//! (SACK); checksums use the pseudo-header of RFC 9293 §3.1 and RFC 8200 §8.1.

mod flags;
mod options;
mod packet;
mod repr;

pub use flags::TcpFlags;
pub use options::{SackBlock, SackBlocks, TcpOption, TcpOptionIter, TcpOptions, Timestamps};
pub use packet::TcpPacket;
pub(crate) use packet::MIN_HEADER_LEN as TCP_MIN_HEADER_LEN;
pub use repr::TcpRepr;
