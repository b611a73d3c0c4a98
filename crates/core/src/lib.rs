//! The TCP protocol, sans-IO (RFC 9293).
//!
//! The core never reads a clock, sleeps, spawns, touches a socket or a file, or draws
//! randomness of its own: time comes in as an argument, randomness from the seed in
//! [`StackConfig`]. A driver feeds [`Stack::handle_packet`] and [`Stack::handle_timeout`], drains
//! [`Stack::poll_transmit`], and sleeps until [`Stack::poll_timeout`]. A driver that reads
//! into a buffer of its own may hand it over with [`Stack::handle_packet_buffer`] instead: a
//! large in-order payload then stays in that buffer until the application reads it, and the
//! driver gets another buffer back. Every segment and every state change is an [`Event`] in the
//! trace stream behind [`Stack::poll_event`].

pub mod cc;
pub mod config;
pub mod conn;
pub mod cookie;
pub mod error;
pub mod event;
pub mod handle;
pub mod isn;
pub mod listener;
pub mod seq;
pub mod stack;
pub mod state;
pub mod time;
pub mod timer;
pub mod tuple;

pub use cc::{CcAlgorithm, CongestionControl};
pub use config::{KeepAlive, RstPolicy, SocketOptions, StackConfig, SynPolicy};
pub use conn::{ConnInfo, ConnStats, Disposition, RstReply};
pub use cookie::SynCookies;
pub use error::{
    AcceptError, CloseError, ConnError, ConnectError, InvalidHandle, ListenError, RecvError,
    SendError,
};
pub use event::{
    Cause, Dir, DropReason, Event, EventKind, SegmentEvent, StateEvent, TimerEvent, TimerKind,
};
pub use handle::{ConnId, ListenerId};
pub use listener::{ListenerInfo, ListenerStats};
/// Whether a TCP checksum is computed by the stack or left to the device (checksum offload).
pub use oxtcp_wire::Checksum;
pub use seq::SeqNum;
pub use stack::{EntrySizes, GatherSink, Resources, Stack, StackStats, Transmit};
pub use state::State;
pub use time::Instant;
pub use tuple::FourTuple;
