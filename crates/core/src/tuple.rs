//! Endpoints and the 4-tuple that identifies a connection (RFC 9293 §3.2, lifecycle H1).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

/// (local address, local port, remote address, remote port), from this host's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// The demultiplexer hashes every segment's 4-tuple, so the tuple is fed to the hasher as one
/// run of bytes (addresses, then ports: 12 bytes for IPv4) rather than field by field, as
/// `SocketAddr`'s own `Hash` does with a dozen small writes. IPv6 flow labels and scope ids
/// are left out: tuples equal as values still hash alike.
impl Hash for FourTuple {
    fn hash<H: Hasher>(&self, h: &mut H) {
        let mut key = [0u8; 36];
        let n = match (self.local.ip(), self.remote.ip()) {
            (IpAddr::V4(l), IpAddr::V4(r)) => {
                key[..4].copy_from_slice(&l.octets());
                key[4..8].copy_from_slice(&r.octets());
                8
            }
            (l, r) => {
                let v6 = |a: IpAddr| match a {
                    IpAddr::V4(a) => a.to_ipv6_mapped(),
                    IpAddr::V6(a) => a,
                };
                key[..16].copy_from_slice(&v6(l).octets());
                key[16..32].copy_from_slice(&v6(r).octets());
                32
            }
        };
        key[n..n + 2].copy_from_slice(&self.local.port().to_be_bytes());
        key[n + 2..n + 4].copy_from_slice(&self.remote.port().to_be_bytes());
        h.write(&key[..n + 4]);
    }
}

impl fmt::Display for FourTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <-> {}", self.local, self.remote)
    }
}
