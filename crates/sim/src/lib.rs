//! A deterministic network simulator: virtual clock, hosts, seeded faulty links, pcap output.
//!
//! A [`World`] holds hosts, each a [`Node`] (a stack plus its applications), joined by
//! one-way links with latency, jitter, bandwidth, a drop-tail queue, and random loss,
//! duplication, reordering and corruption ([`LinkConfig`]). Time is virtual: the world jumps
//! from one event to the next and never sleeps. All randomness comes from one ChaCha RNG
//! seeded in [`World::new`], so a seed replays a run exactly.

mod config;
mod error;
mod filter;
mod link;
mod node;
mod pcap;
mod queue;
mod route;
mod seeds;
mod trace;
mod world;

pub use config::LinkConfig;
pub use error::SimError;
pub use filter::{PacketInfo, Verdict};
pub use node::{HostId, Node};
pub use oxtcp_core::Instant;
pub use route::{destination, RouteError};
pub use seeds::sweep_seeds;
pub use trace::{LinkStats, NetEvent, NetEventKind, WorldStats};
pub use world::World;
