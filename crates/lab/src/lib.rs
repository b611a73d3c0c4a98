//! The TCP lab: drawing connections so people can see TCP work.
//!
//! - [`ladder`]: the two-column ladder diagram of one connection, drawn from both endpoints'
//!   trace events (from oxtcp's own stacks, or inferred from a capture).
//! - [`scenario`]: the named lifecycle scenarios of `oxtcp demo NAME`, each checking its claims.
//! - [`trace`]: pcap/pcapng captures split into connections with both sides' states inferred.

pub mod ladder;
pub mod scenario;
pub mod trace;
