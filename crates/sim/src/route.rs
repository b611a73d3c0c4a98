//! Reading a datagram's destination address to route it to the host that owns it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

/// Why a datagram has no destination we can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum RouteError {
    /// The version nibble is neither 4 nor 6 (or the datagram is empty).
    #[error("not an IPv4 or IPv6 datagram")]
    BadVersion,
    /// Too short to hold the fixed header's destination address.
    #[error("truncated before the destination address")]
    Truncated,
}

/// The destination address of an IPv4 or IPv6 datagram, from its fixed header.
pub fn destination(packet: &[u8]) -> Result<IpAddr, RouteError> {
    let version = packet.first().ok_or(RouteError::BadVersion)? >> 4;
    match version {
        // RFC 791 §3.1: the destination address is bytes 16..20.
        4 => {
            let dst: [u8; 4] = packet
                .get(16..20)
                .ok_or(RouteError::Truncated)?
                .try_into()
                .map_err(|_| RouteError::Truncated)?;
            Ok(IpAddr::V4(Ipv4Addr::from(dst)))
        }
        // RFC 8200 §3: the destination address is bytes 24..40.
        6 => {
            let dst: [u8; 16] = packet
                .get(24..40)
                .ok_or(RouteError::Truncated)?
                .try_into()
                .map_err(|_| RouteError::Truncated)?;
            Ok(IpAddr::V6(Ipv6Addr::from(dst)))
        }
        _ => Err(RouteError::BadVersion),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_ipv4_and_ipv6_destinations() {
        let mut v4 = [0u8; 20];
        v4[0] = 0x45;
        v4[16..20].copy_from_slice(&[10, 0, 0, 2]);
        assert_eq!(destination(&v4), Ok("10.0.0.2".parse().unwrap()));
        assert_eq!(destination(&v4[..19]), Err(RouteError::Truncated));

        let mut v6 = [0u8; 40];
        v6[0] = 0x60;
        v6[24..40].copy_from_slice(&"fd00::2".parse::<Ipv6Addr>().unwrap().octets());
        assert_eq!(destination(&v6), Ok("fd00::2".parse().unwrap()));
        assert_eq!(destination(&v6[..39]), Err(RouteError::Truncated));
    }

    #[test]
    fn empty_and_unknown_versions_are_rejected() {
        assert_eq!(destination(&[]), Err(RouteError::BadVersion));
        assert_eq!(destination(&[0x50; 40]), Err(RouteError::BadVersion));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = destination(&bytes);
        }
    }
}
