//! The two-host world most simulator tests start from: client A at 10.0.0.1 and server B at
//! 10.0.0.2:80, each running an oxtcp stack, joined by one link.

use std::net::{IpAddr, SocketAddr};

use oxtcp_core::{Stack, StackConfig};
use oxtcp_sim::{Endpoint, HostId, LinkConfig, StackHost, World};

pub const A_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
pub const B_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

/// B's listening address.
pub fn server_addr() -> SocketAddr {
    SocketAddr::new(B_IP, 80)
}

/// Add A running `client` and B running `server`, their stacks configured by `cfg` with
/// seeds 1 and 2, and link them with `link`.
pub fn client_server(
    world: &mut World<StackHost<Endpoint>>,
    cfg: impl Fn(u64) -> StackConfig,
    client: Endpoint,
    server: Endpoint,
    link: LinkConfig,
) -> (HostId, HostId) {
    let a = world.add_host(
        "A",
        &[A_IP],
        StackHost::new(Stack::with_addresses(cfg(1), &[A_IP]), client),
    );
    let b = world.add_host(
        "B",
        &[B_IP],
        StackHost::new(Stack::with_addresses(cfg(2), &[B_IP]), server),
    );
    world.link(a, b, link);
    (a, b)
}
