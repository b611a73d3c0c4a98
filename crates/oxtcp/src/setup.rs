//! One-call setup of a stack on a fresh TUN interface, for examples and small programs.

use std::io;
use std::net::IpAddr;

use crate::device::{TunConfig, TunDevice};
use crate::net::{Net, NetBuilder};

/// Parse `A/LEN` (IPv4 or IPv6).
pub fn parse_cidr(s: &str) -> Result<(IpAddr, u8), String> {
    let (a, l) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?}: expected ADDRESS/PREFIX, e.g. 198.18.0.1/24"))?;
    let addr: IpAddr = a
        .parse()
        .map_err(|_| format!("{a:?} is not an IP address"))?;
    let len: u8 = l
        .parse()
        .map_err(|_| format!("{l:?} is not a prefix length"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if len >= max {
        return Err(format!(
            "/{len} leaves no room for oxtcp's own address next to {addr}; use /{} or shorter",
            max - 1
        ));
    }
    Ok((addr, len))
}

/// The address after `a` (oxtcp's default address, next to the kernel's).
pub fn next_addr(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V4(v) => IpAddr::V4(u32::from(v).wrapping_add(1).into()),
        IpAddr::V6(v) => IpAddr::V6(u128::from(v).wrapping_add(1).into()),
    }
}

/// Create TUN `name` with the kernel side at `kernel` (`A/LEN`) and start a stack at A+1.
pub fn net_on_tun(name: &str, kernel: &[&str], builder: NetBuilder) -> io::Result<Net> {
    let mut cfg = TunConfig::new(name);
    let mut b = builder;
    for k in kernel {
        let (a, len) = parse_cidr(k).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        cfg.addrs.push((a, len));
        b = b.address(next_addr(a));
    }
    b.start(TunDevice::create(&cfg)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_and_next_address() {
        assert_eq!(
            parse_cidr("198.18.0.1/24").unwrap(),
            ("198.18.0.1".parse().unwrap(), 24)
        );
        assert!(parse_cidr("198.18.0.1").is_err());
        assert!(parse_cidr("198.18.0.1/32").is_err());
        assert!(parse_cidr("fd00::1/64").is_ok());
        assert_eq!(
            next_addr("198.18.0.255".parse().unwrap()),
            "198.18.1.0".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            next_addr("fd00::1".parse().unwrap()),
            "fd00::2".parse::<IpAddr>().unwrap()
        );
    }
}
