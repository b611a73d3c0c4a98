//! oxtcp on real devices.
//!
//! [`Net`] runs one sans-IO [`oxtcp_core::Stack`] over one [`device::Device`] on a thread of
//! its own: it reads datagrams, feeds the stack, drains what the stack transmits, and sleeps
//! until the next timer or datagram — never a busy poll. Applications use it through
//! std-like blocking sockets ([`TcpListener`], [`TcpStream`]) or, with the `tokio` feature,
//! the async ones in [`tokio`].

pub mod device;
mod errors;
mod listener;
mod net;
pub mod netns;
mod setup;
mod stream;
mod sys;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use listener::{Incoming, TcpListener};
pub use net::{EventSink, Net, NetBuilder, NetStats};
pub use oxtcp_core::{ConnInfo, KeepAlive, StackConfig, State};
pub use setup::{net_on_tun, next_addr, parse_cidr};
pub use stream::TcpStream;
