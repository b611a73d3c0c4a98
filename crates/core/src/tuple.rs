//! Endpoints and the 4-tuple that identifies a connection (RFC 9293 §3.2, lifecycle H1).

use std::fmt;
use std::net::SocketAddr;

/// (local address, local port, remote address, remote port), from this host's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FourTuple {
    /// Our endpoint.
    pub local: SocketAddr,
    /// The peer's endpoint.
    pub remote: SocketAddr,
}

impl FourTuple {
    /// The tuple as the peer sees it.
    pub fn reversed(self) -> FourTuple {
        FourTuple {
            local: self.remote,
            remote: self.local,
        }
    }
}

impl fmt::Display for FourTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <-> {}", self.local, self.remote)
    }
}
