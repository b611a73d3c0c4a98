//! Errors of the user calls (RFC 9293 §3.10.1–§3.10.6), one enum per call, and why a
//! connection ended.

use thiserror::Error;

/// Why a connection ended abnormally; reported by calls on it and as a trace event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum ConnError {
    /// The peer answered our SYN with RST (RFC 9293 §3.10.7.3).
    #[error("connection refused")]
    Refused,
    /// The peer reset an open connection.
    #[error("connection reset by peer")]
    Reset,
    /// Retransmissions were exhausted.
    #[error("connection timed out")]
    TimedOut,
    /// Our own application aborted it.
    #[error("connection aborted")]
    Aborted,
}

/// A handle that names no live connection or listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("invalid handle")]
pub struct InvalidHandle;

/// Errors of `listen` (passive OPEN).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ListenError {
    /// Another listener holds this port.
    #[error("address in use")]
    AddrInUse,
    /// The address is not one of this stack's.
    #[error("address not available")]
    AddrNotAvailable,
    /// Port 0 or a zero backlog.
    #[error("invalid argument")]
    InvalidArgument,
}

/// Errors of `accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum AcceptError {
    /// No established connection is waiting.
    #[error("no connection waiting")]
    WouldBlock,
    /// No such listener.
    #[error(transparent)]
    InvalidHandle(#[from] InvalidHandle),
}

/// Errors of `connect` (active OPEN).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ConnectError {
    /// The 4-tuple is in use.
    #[error("address in use")]
    AddrInUse,
    /// No ephemeral port is free for this destination.
    #[error("no ephemeral port available")]
    NoPortAvailable,
    /// The local address is not one of this stack's, or families differ.
    #[error("address not available")]
    AddrNotAvailable,
    /// Port 0 or an unspecified remote address.
    #[error("invalid argument")]
    InvalidArgument,
    /// The stack is at `max_connections` or its `memory_budget`.
    #[error("connection or memory limit reached")]
    ResourceLimit,
}

/// Errors of `send`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum SendError {
    /// The send buffer is full.
    #[error("send buffer full")]
    WouldBlock,
    /// The write side was already shut down (RFC 9293: "connection closing").
    #[error("connection closing")]
    Closing,
    /// The connection ended abnormally.
    #[error(transparent)]
    Conn(#[from] ConnError),
    /// No such connection.
    #[error(transparent)]
    InvalidHandle(#[from] InvalidHandle),
}

/// Errors of `recv`. End of stream is `Ok(0)`, not an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum RecvError {
    /// No data yet and the peer has not closed.
    #[error("no data available")]
    WouldBlock,
    /// The connection ended abnormally.
    #[error(transparent)]
    Conn(#[from] ConnError),
    /// No such connection.
    #[error(transparent)]
    InvalidHandle(#[from] InvalidHandle),
}

/// Errors of `shutdown` and `close`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum CloseError {
    /// The write side is already closed.
    #[error("connection closing")]
    Closing,
    /// The connection ended abnormally.
    #[error(transparent)]
    Conn(#[from] ConnError),
    /// No such connection.
    #[error(transparent)]
    InvalidHandle(#[from] InvalidHandle),
}
