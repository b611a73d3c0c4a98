//! The TCP protocol, sans-IO (RFC 9293): time comes in as an argument, randomness from a seed.

pub mod time;
pub mod timer;

pub use time::Instant;
