//! The TCP lab: drawing connections so people can see TCP work.
//!
//! - [`model`]: one connection's ladder as data (segments paired with their arrivals, labels,
//!   states, timers), built once from both endpoints' trace events and shared by the renderers.
//! - [`ladder`]: the two-column ladder diagram of one connection, drawn from both endpoints'
//!   trace events (from oxtcp's own stacks, or inferred from a capture).
//! - [`svg`]: the same ladder as a standalone SVG figure, in the style of a textbook.
//! - [`scenario`]: the named lifecycle scenarios of `oxtcp demo NAME`, each checking its claims.
//! - [`trace`]: pcap/pcapng captures split into connections with both sides' states inferred.

pub mod ladder;
pub mod model;
pub mod scenario;
pub mod svg;
pub mod trace;
