//! oxtcp on real devices.
//!
//! [`Net`] runs one sans-IO [`oxtcp_core::Stack`] over one [`device::Device`] on a thread of
//! its own: it reads datagrams, feeds the stack, drains what the stack transmits, and sleeps
//! until the next timer or datagram — never a busy poll. Applications use it through
//! std-like blocking sockets ([`TcpListener`], [`TcpStream`]) or, with the `tokio` feature,
//! the async ones in [`tokio`].

pub mod device;
mod errors;
mod net;
mod stream;
mod listener;
mod sys;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use net::{Net, NetBuilder, NetStats};
pub use listener::{Incoming, TcpListener};
pub use stream::TcpStream;
pub use oxtcp_core::{ConnInfo, StackConfig, State};
