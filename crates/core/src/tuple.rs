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

#[cfg(test)]
impl FourTuple {
    /// 10.0.0.1:80 <-> 10.0.0.2:`port`, for unit tests.
    pub(crate) fn test_v4(port: u16) -> FourTuple {
        FourTuple {
            local: SocketAddr::from(([10, 0, 0, 1], 80)),
            remote: SocketAddr::from(([10, 0, 0, 2], port)),
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

/// A 4-tuple of one address family packed into bytes (addresses, then ports, in network
/// order), for tables that hold many entries and must stay small: 12 bytes for IPv4 against
/// `FourTuple`'s 64. IPv6 flow labels and scope ids are not kept.
pub(crate) trait PackedTuple: Copy + Eq + fmt::Debug {
    /// The packed form of `t`, if `t` is of this family.
    fn pack(t: &FourTuple) -> Option<Self>;
    /// The tuple again.
    fn unpack(&self) -> FourTuple;
}

/// An IPv4 4-tuple in 12 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct V4Tuple([u8; 12]);

/// An IPv6 4-tuple in 36 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct V6Tuple([u8; 36]);

impl PackedTuple for V4Tuple {
    #[inline]
    fn pack(t: &FourTuple) -> Option<V4Tuple> {
        let (IpAddr::V4(l), IpAddr::V4(r)) = (t.local.ip(), t.remote.ip()) else {
            return None;
        };
        Some(V4Tuple(pack_bytes(l.octets(), r.octets(), t)))
    }

    fn unpack(&self) -> FourTuple {
        unpack_bytes::<4, 12>(&self.0)
    }
}

impl PackedTuple for V6Tuple {
    fn pack(t: &FourTuple) -> Option<V6Tuple> {
        let (IpAddr::V6(l), IpAddr::V6(r)) = (t.local.ip(), t.remote.ip()) else {
            return None;
        };
        Some(V6Tuple(pack_bytes(l.octets(), r.octets(), t)))
    }

    fn unpack(&self) -> FourTuple {
        unpack_bytes::<16, 36>(&self.0)
    }
}

/// The packed layout of both families: local address, remote address (`A` bytes each), then
/// local and remote port, big-endian; `N` is `2 * A + 4`.
#[inline]
fn pack_bytes<const A: usize, const N: usize>(
    local: [u8; A],
    remote: [u8; A],
    t: &FourTuple,
) -> [u8; N] {
    let mut b = [0u8; N];
    b[..A].copy_from_slice(&local);
    b[A..2 * A].copy_from_slice(&remote);
    b[2 * A..2 * A + 2].copy_from_slice(&t.local.port().to_be_bytes());
    b[2 * A + 2..].copy_from_slice(&t.remote.port().to_be_bytes());
    b
}

/// The 4-tuple [`pack_bytes`] laid out in `b`, with `A`-byte addresses.
fn unpack_bytes<const A: usize, const N: usize>(b: &[u8; N]) -> FourTuple
where
    IpAddr: From<[u8; A]>,
{
    let ip = |i: usize| {
        let mut a = [0u8; A];
        a.copy_from_slice(&b[i..i + A]);
        IpAddr::from(a)
    };
    let port = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    FourTuple {
        local: SocketAddr::new(ip(0), port(2 * A)),
        remote: SocketAddr::new(ip(A), port(2 * A + 2)),
    }
}

/// The 4-tuple a slab entry holds: packed inline for IPv4, boxed for IPv6; 16 bytes where a
/// `FourTuple` takes 64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum EntryTuple {
    V4(V4Tuple),
    V6(Box<V6Tuple>),
}

impl EntryTuple {
    pub(crate) fn new(t: &FourTuple) -> EntryTuple {
        match V4Tuple::pack(t) {
            Some(v4) => EntryTuple::V4(v4),
            None => EntryTuple::V6(Box::new(V6Tuple::pack(t).unwrap_or(V6Tuple([0; 36])))),
        }
    }

    /// Is it an IPv4 4-tuple?
    pub(crate) fn is_v4(&self) -> bool {
        matches!(self, EntryTuple::V4(_))
    }

    pub(crate) fn get(&self) -> FourTuple {
        match self {
            EntryTuple::V4(t) => t.unpack(),
            EntryTuple::V6(t) => t.unpack(),
        }
    }

    /// Is this `t`?
    pub(crate) fn is(&self, t: &FourTuple) -> bool {
        match self {
            EntryTuple::V4(v4) => V4Tuple::pack(t).as_ref() == Some(v4),
            EntryTuple::V6(v6) => V6Tuple::pack(t).as_ref() == Some(&**v6),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_tuples_unpack_to_what_was_packed_and_only_for_their_family() {
        let v4 = FourTuple {
            local: "10.0.0.1:80".parse().unwrap(),
            remote: "192.168.7.9:40001".parse().unwrap(),
        };
        let v6 = FourTuple {
            local: "[fd00::1]:443".parse().unwrap(),
            remote: "[fd00::2:3]:5".parse().unwrap(),
        };
        assert_eq!(V4Tuple::pack(&v4).unwrap().unpack(), v4);
        assert_eq!(V6Tuple::pack(&v6).unwrap().unpack(), v6);
        assert!(V4Tuple::pack(&v6).is_none() && V6Tuple::pack(&v4).is_none());
        assert_ne!(V4Tuple::pack(&v4), V4Tuple::pack(&v4.reversed()));
        assert_eq!(std::mem::size_of::<V4Tuple>(), 12);
        for t in [v4, v6] {
            let e = EntryTuple::new(&t);
            assert!(e.is(&t) && !e.is(&t.reversed()));
            assert_eq!(e.get(), t);
        }
        assert_eq!(std::mem::size_of::<EntryTuple>(), 16);
    }
}
