//! A deterministic network simulator: virtual clock, hosts, seeded faulty links, pcap output.
//!
//! A [`World`] holds hosts, each a [`Node`] (a stack plus its applications), joined by
//! one-way links with latency, jitter, bandwidth, a drop-tail queue, and random loss,
//! duplication, reordering and corruption ([`LinkConfig`]). Time is virtual: the world jumps
//! from one event to the next and never sleeps. All randomness comes from one ChaCha RNG
//! seeded in [`World::new`], so a seed replays a run exactly.
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use oxtcp_sim::{Instant, LinkConfig, Node, World};
//!
//! /// Sends one datagram when poked, and counts what arrives.
//! #[derive(Default)]
//! struct Ping { out: Option<Vec<u8>>, got: usize }
//!
//! impl Node for Ping {
//!     fn handle_packet(&mut self, _now: Instant, _packet: &[u8]) { self.got += 1; }
//!     fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<usize> {
//!         let p = self.out.take()?;
//!         buf[..p.len()].copy_from_slice(&p);
//!         Some(p.len())
//!     }
//!     fn poll_timeout(&mut self) -> Option<Instant> { None }
//!     fn handle_timeout(&mut self, _now: Instant) {}
//! }
//!
//! let (a_ip, b_ip) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
//! let mut world = World::new(7);
//! let a = world.add_host("a", &[IpAddr::V4(a_ip)], Ping::default());
//! let b = world.add_host("b", &[IpAddr::V4(b_ip)], Ping::default());
//! world.link(a, b, LinkConfig::default());
//! world.with_node(a, |node, _now| {
//!     let mut ip = vec![0u8; 20];
//!     ip[0] = 0x45;
//!     ip[16..20].copy_from_slice(&b_ip.octets());
//!     node.out = Some(ip);
//! });
//! world.run_until_idle(100).unwrap();
//! assert_eq!(world.node(b).got, 1);
//! assert_eq!(world.now(), Instant::from_millis(1));
//! ```

pub mod apps;
mod config;
mod error;
mod filter;
pub mod host;
mod link;
mod node;
mod pcap;
mod queue;
mod route;
mod seeds;
mod trace;
mod world;

pub use apps::{ClosePolicy, Endpoint, Role};
pub use config::LinkConfig;
pub use error::SimError;
pub use filter::{PacketInfo, Verdict};
pub use host::{App, StackHost};
pub use node::{HostId, Node};
pub use oxtcp_core::Instant;
pub use pcap::PcapRecorder;
pub use route::{destination, RouteError};
pub use seeds::sweep_seeds;
pub use trace::{LinkStats, NetEvent, NetEventKind, WorldStats};
pub use world::World;
