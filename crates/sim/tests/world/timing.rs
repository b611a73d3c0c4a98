//! Latency, jitter and bandwidth put packets exactly where the arithmetic says.

use std::time::Duration;

use oxtcp_sim::LinkConfig;

use crate::mock::*;

#[test]
fn each_packet_arrives_one_latency_after_it_left() {
    let cfg = LinkConfig::default().with_latency(Duration::from_millis(3));
    let (mut world, _, b) = pair(1, cfg, 3);
    world.run_until_idle(100).unwrap();
    // sent at 0, 1, 2 ms
    assert_eq!(world.node(b).arrival_times(), [ms(3), ms(4), ms(5)]);
    assert_eq!(world.node(b).received_seqs(), [1, 2, 3]);
    assert_eq!(world.now(), ms(5));
}

#[test]
fn echo_round_trip_is_twice_the_latency() {
    let cfg = LinkConfig::default().with_latency(Duration::from_micros(2500));
    let a = Mock::at(A).sending(B, 1, ms(10), Duration::ZERO, 64);
    let (mut world, a, _) = pair_with(1, cfg, a, Mock::echo(B));
    world.run_until_idle(100).unwrap();
    // a --seq 1--> b at 12.5 ms, b --echo--> a at 15 ms
    assert_eq!(world.node(a).arrival_times(), [ms(15)]);
    assert_eq!(world.node(a).received_seqs(), [1]);
}

#[test]
fn back_to_back_packets_wait_for_the_transmitter() {
    // 8 Mbit/s: a 1000-byte datagram takes exactly 1 ms to serialize.
    let cfg = LinkConfig::default().with_bandwidth(8_000_000);
    let a = Mock::at(A).sending(B, 3, ms(0), Duration::ZERO, 1000);
    let (mut world, a, b) = pair_with(1, cfg, a, Mock::at(B));
    world.run_until(ms(0));
    assert_eq!(
        world.queued_bytes(a, b),
        2000,
        "one on the wire, two waiting"
    );
    world.run_until_idle(100).unwrap();
    // departures at 1, 2, 3 ms, plus 1 ms latency
    assert_eq!(world.node(b).arrival_times(), [ms(2), ms(3), ms(4)]);
}

#[test]
fn serialization_delay_scales_with_length() {
    // 1 Mbit/s: 125 bytes take 1 ms, 250 bytes take 2 ms; latency 1 ms.
    let cfg = LinkConfig::default().with_bandwidth(1_000_000);
    let mut a = Mock::at(A);
    a = a.sending(B, 1, ms(0), Duration::ZERO, 125);
    a = a.sending(B, 1, ms(10), Duration::ZERO, 250);
    let (mut world, _, b) = pair_with(1, cfg, a, Mock::at(B));
    world.run_until_idle(100).unwrap();
    assert_eq!(world.node(b).arrival_times(), [ms(2), ms(13)]);
}

#[test]
fn jitter_stays_within_its_bound_and_varies() {
    let cfg = LinkConfig::default()
        .with_latency(Duration::from_millis(10))
        .with_jitter(Duration::from_millis(5));
    let (mut world, a, b) = pair(7, cfg, 200);
    world.run_until_idle(10_000).unwrap();
    let sent = &world.node(a).sent;
    let mut delays: Vec<_> = world
        .node(b)
        .received
        .iter()
        .map(|(t, p)| *t - sent[seq_of(p) as usize - 1].0)
        .collect();
    assert_eq!(delays.len(), 200);
    assert!(delays
        .iter()
        .all(|d| (Duration::from_millis(10)..=Duration::from_millis(15)).contains(d)));
    delays.sort();
    delays.dedup();
    assert!(
        delays.len() > 100,
        "jitter is spread out, got {} distinct delays",
        delays.len()
    );
}

#[test]
fn filter_delay_adds_to_the_link_delay() {
    let (mut world, _, b) = pair(1, LinkConfig::default(), 2);
    world.set_filter(|p| match p.nth_from_host {
        1 => oxtcp_sim::Verdict::Delay(Duration::from_millis(5)),
        _ => oxtcp_sim::Verdict::Pass,
    });
    world.run_until_idle(100).unwrap();
    // seq 1 left at 0 ms and is held 5 ms; seq 2 left at 1 ms and overtakes it.
    assert_eq!(world.node(b).received_seqs(), [2, 1]);
    assert_eq!(world.node(b).arrival_times(), [ms(2), ms(6)]);
}

#[test]
fn filter_duplicate_delivers_the_packet_and_a_late_copy() {
    let (mut world, _, b) = pair(1, LinkConfig::default(), 2);
    world.set_filter(|p| match p.nth_from_host {
        1 => oxtcp_sim::Verdict::Duplicate(Duration::from_millis(5)),
        _ => oxtcp_sim::Verdict::Pass,
    });
    world.run_until_idle(100).unwrap();
    // seq 1 arrives on time at 1 ms, seq 2 at 2 ms, and seq 1's copy 5 ms after seq 1.
    assert_eq!(world.node(b).received_seqs(), [1, 2, 1]);
    assert_eq!(world.node(b).arrival_times(), [ms(1), ms(2), ms(6)]);
}
