//! Stepping the clock: idle detection, deadlines, step bounds, and nodes with past timeouts.

use std::net::IpAddr;
use std::time::Duration;

use oxtcp_sim::{Instant, LinkConfig, Node, SimError, World};

use crate::mock::*;

#[test]
fn an_empty_world_is_idle_at_time_zero() {
    let mut world: World<Mock> = World::new(0);
    assert!(!world.step());
    assert_eq!(world.next_event_time(), None);
    assert_eq!(world.run_until_idle(0).unwrap(), 0);
    assert_eq!(world.now(), Instant::ZERO);
}

#[test]
fn endless_ping_pong_hits_the_step_limit() {
    let (mut world, a, _) = pair_with(0, LinkConfig::default(), Mock::echo(A), Mock::echo(B));
    world.with_node(a, |n, now| n.send_now(now, B, 40));
    let err = world.run_until_idle(50).unwrap_err();
    assert!(matches!(err, SimError::StepLimit { steps: 50 }), "{err}");
    assert_eq!(world.now(), ms(50), "one hop per step, 1 ms each");
    assert_eq!(world.packets_in_flight(), 1);
}

#[test]
fn run_until_stops_at_the_deadline() {
    let (mut world, _, b) = pair(0, LinkConfig::default(), 10);
    // timeouts at 0..=4 ms and arrivals at 1..=4 ms are due by 4.5 ms
    assert_eq!(world.run_until(us(4500)), 9);
    assert_eq!(world.now(), us(4500));
    assert_eq!(world.node(b).received_seqs(), [1, 2, 3, 4]);
    assert_eq!(world.next_event_time(), Some(ms(5)));
    // Deadline in the past: nothing runs and the clock stays put.
    assert_eq!(world.run_until(ms(1)), 0);
    assert_eq!(world.now(), us(4500));
}

#[test]
fn run_while_stops_once_the_condition_fails() {
    let (mut world, _, b) = pair(0, LinkConfig::default(), 10);
    let steps = world
        .run_while(|w| w.node(b).received.len() < 3, 1000)
        .unwrap();
    assert_eq!(world.node(b).received.len(), 3);
    assert_eq!(world.now(), ms(3));
    assert_eq!(steps, 6);
    let err = world.run_while(|_| true, 2).unwrap_err();
    assert!(matches!(err, SimError::StepLimit { steps: 2 }));
}

/// A node whose timeout is always some fixed instant, however often it fires.
struct Stubborn {
    at: Instant,
    fired: Vec<Instant>,
}

impl Node for Stubborn {
    fn handle_packet(&mut self, _now: Instant, _packet: &[u8]) {}
    fn poll_transmit(&mut self, _now: Instant, _buf: &mut [u8]) -> Option<usize> {
        None
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        Some(self.at)
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.fired.push(now);
    }
}

#[test]
fn a_past_timeout_fires_at_the_current_time() {
    let (mut world, a, b) = pair_with(0, LinkConfig::default(), Mock::at(A), Mock::at(B));
    world.run_until(ms(10));
    world.with_node(a, |n, _| n.schedule(ms(2), B, 40));
    assert_eq!(world.next_event_time(), Some(ms(10)));
    world.run_until_idle(10).unwrap();
    assert_eq!(world.node(a).sent[0].0, ms(10));
    assert_eq!(world.node(b).arrival_times(), [ms(11)]);
}

#[test]
fn a_node_stuck_on_a_past_timeout_cannot_stall_the_clock() {
    let mut world = World::new(0);
    let h = world.add_host(
        "s",
        &[IpAddr::V4(A)],
        Stubborn {
            at: ms(3),
            fired: vec![],
        },
    );
    // After its first firing the node keeps asking for 3 ms: it is held off 1 µs at a time.
    let err = world.run_until_idle(4).unwrap_err();
    assert!(matches!(err, SimError::StepLimit { steps: 4 }));
    assert_eq!(world.node(h).fired, [ms(3), us(3001), us(3002), us(3003)]);
    assert_eq!(world.now(), us(3003));
}

#[test]
fn with_node_sends_what_the_node_queued() {
    let cfg = LinkConfig::default().with_latency(Duration::from_millis(5));
    let (mut world, a, b) = pair_with(0, cfg, Mock::at(A), Mock::at(B));
    world.run_until(ms(2));
    let n = world.with_node(a, |node, now| {
        node.send_now(now, B, 40);
        node.send_now(now, B, 40);
        now
    });
    assert_eq!(n, ms(2));
    assert_eq!(world.packets_in_flight(), 2);
    world.run_until_idle(10).unwrap();
    assert_eq!(world.node(b).arrival_times(), [ms(7), ms(7)]);
    assert_eq!(world.node(b).received_seqs(), [1, 2]);
}
