//! What the offloads done in software (`gso`, `gro`) read of a datagram's IP header: its
//! length, protocol, addresses and IPv4 identification, read with the byte helpers rather than
//! the `*Packet` views, whose accessors are on the parser's path (`gso` says why).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::field::{get_u16, get_u32};
use crate::ipv4::Ipv4Repr;
use crate::ipv6::Ipv6Repr;
use crate::{Error, Result};

/// The least TCP header: 5 words.
pub(crate) const TCP_MIN_HEADER: usize = 20;

/// The fields of an IP header the offloads use.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IpFields {
    /// The IP header's length (IPv4 options included).
    pub(crate) ip_len: usize,
    pub(crate) protocol: u8,
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    /// IPv4 identification (0 for IPv6).
    pub(crate) ident: u16,
}

/// The IP header at the start of `headers`: IPv4, whole and not a fragment, or IPv6's fixed
/// header (what follows it is taken as its next header; extension headers are not walked).
pub(crate) fn ip_fields(headers: &[u8]) -> Result<IpFields> {
    let version = headers.first().ok_or(Error::Truncated)? >> 4;
    match version {
        4 => {
            if headers.len() < Ipv4Repr::HEADER_LEN {
                return Err(Error::Truncated);
            }
            let ip_len = usize::from(headers[0] & 0x0f) * 4;
            if ip_len < Ipv4Repr::HEADER_LEN || headers.len() < ip_len {
                return Err(Error::BadHeaderLen);
            }
            // More Fragments, or a fragment offset.
            if get_u16(headers, 6) & 0x3fff != 0 {
                return Err(Error::Fragmented);
            }
            Ok(IpFields {
                ip_len,
                protocol: headers[9],
                src: Ipv4Addr::from(get_u32(headers, 12)).into(),
                dst: Ipv4Addr::from(get_u32(headers, 16)).into(),
                ident: get_u16(headers, 4),
            })
        }
        6 => {
            let Some(h) = headers.get(..Ipv6Repr::HEADER_LEN) else {
                return Err(Error::Truncated);
            };
            let addr = |at: usize| {
                let mut a = [0u8; 16];
                a.copy_from_slice(&h[at..at + 16]);
                IpAddr::from(Ipv6Addr::from(a))
            };
            Ok(IpFields {
                ip_len: Ipv6Repr::HEADER_LEN,
                protocol: h[6],
                src: addr(8),
                dst: addr(24),
                ident: 0,
            })
        }
        _ => Err(Error::BadVersion),
    }
}
