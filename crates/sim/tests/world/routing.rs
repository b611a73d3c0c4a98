//! Datagrams go to the host owning their destination; the rest are counted, never a panic.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use oxtcp_sim::{HostId, Instant, LinkConfig, Node, World, WorldStats};

use crate::mock::*;

/// A node that sends fixed raw datagrams at time zero.
struct Raw(Vec<Vec<u8>>, Vec<Vec<u8>>);

impl Node for Raw {
    fn handle_packet(&mut self, _now: Instant, packet: &[u8]) {
        self.1.push(packet.to_vec());
    }
    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<usize> {
        let p = self.0.pop()?;
        buf[..p.len()].copy_from_slice(&p);
        Some(p.len())
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _now: Instant) {}
}

fn ipv6_to(dst: Ipv6Addr) -> Vec<u8> {
    let mut p = vec![0u8; 48];
    p[0] = 0x60;
    p[6] = 253;
    p[24..40].copy_from_slice(&dst.octets());
    p
}

#[test]
fn unroutable_datagrams_are_counted_and_dropped() {
    let mut world = World::new(0);
    let a = world.add_host("a", &[IpAddr::V4(A)], Raw(vec![], vec![]));
    let b = world.add_host("b", &[IpAddr::V4(B)], Raw(vec![], vec![]));
    let c = world.add_host("c", &["10.0.0.3".parse().unwrap()], Raw(vec![], vec![]));
    world.link(a, b, LinkConfig::default());
    let to_c = datagram(A, "10.0.0.3".parse().unwrap(), 1, 40);
    let nowhere = datagram(A, "192.0.2.9".parse().unwrap(), 2, 40);
    world.with_node(a, |n, _| {
        n.0 = vec![
            vec![],
            vec![0x45; 10],
            vec![0x70; 60],
            nowhere,
            to_c,
            datagram(A, B, 3, 40),
        ];
    });
    world.run_until_idle(100).unwrap();
    assert_eq!(world.node(b).1.len(), 1);
    assert!(world.node(c).1.is_empty());
    assert_eq!(
        world.world_stats(),
        WorldStats {
            malformed: 3,
            no_route: 1,
            no_link: 1
        }
    );
    assert_eq!(world.link_stats(a, c), Default::default());
    assert_eq!(world.host_by_addr(IpAddr::V4(B)), Some(b));
    assert_eq!(HostId(2).to_string(), "host2");
}

#[test]
fn ipv6_datagrams_route_by_their_destination() {
    let a6: Ipv6Addr = "fd00::1".parse().unwrap();
    let b6: Ipv6Addr = "fd00::2".parse().unwrap();
    let mut world = World::new(0);
    let a = world.add_host("a", &[IpAddr::V4(A), IpAddr::V6(a6)], Raw(vec![], vec![]));
    let b = world.add_host("b", &[IpAddr::V4(B), IpAddr::V6(b6)], Raw(vec![], vec![]));
    world.link(
        a,
        b,
        LinkConfig::default().with_latency(Duration::from_micros(10)),
    );
    world.with_node(a, |n, _| n.0.push(ipv6_to(b6)));
    assert_eq!(world.run_until_idle(10).unwrap(), 1);
    assert_eq!(world.now(), us(10));
    assert_eq!(world.node(b).1, [ipv6_to(b6)]);
}

#[test]
fn one_way_link_carries_one_direction_only() {
    let mut world = World::new(0);
    let a = world.add_host("a", &[IpAddr::V4(A)], Mock::echo(A));
    let b = world.add_host("b", &[IpAddr::V4(B)], Mock::echo(B));
    world.link_directed(a, b, LinkConfig::default());
    world.with_node(a, |n, now| n.send_now(now, B, 40));
    world.run_until_idle(10).unwrap();
    assert_eq!(world.node(b).received_seqs(), [1]);
    assert!(
        world.node(a).received.is_empty(),
        "the echo had no way back"
    );
    assert_eq!(world.world_stats().no_link, 1);
}

#[test]
#[should_panic(expected = "already belongs to a")]
fn two_hosts_cannot_own_one_address() {
    let mut world = World::new(0);
    world.add_host("a", &[IpAddr::V4(A)], Mock::at(A));
    world.add_host("b", &[IpAddr::V4(A)], Mock::at(A));
}
