//! One seed, one run: every random choice replays exactly; another seed makes other choices.

use std::time::Duration;

use oxtcp_sim::{sweep_seeds, Instant, LinkConfig, NetEvent, NetEventKind, Verdict};

use crate::mock::*;

/// Every fault at once, both ways, with echo traffic coming back.
fn stormy() -> LinkConfig {
    LinkConfig::default()
        .with_latency(Duration::from_millis(2))
        .with_jitter(Duration::from_millis(1))
        .with_bandwidth(10_000_000)
        .with_queue(4000)
        .with_loss(0.1)
        .with_duplicate(0.05)
        .with_reorder(0.1, Duration::from_millis(4))
        .with_corrupt(0.05)
}

/// What a storm leaves behind: the event log and what a and b saw, in order.
struct Storm {
    events: Vec<NetEvent>,
    at_a: Vec<(Instant, Vec<u8>)>,
    at_b: Vec<(Instant, Vec<u8>)>,
}

/// A storm of 300 datagrams from a, echoed by b, under `seed`.
fn storm(seed: u64) -> Storm {
    let a = Mock::at(A).sending(B, 300, ms(0), Duration::from_micros(300), 500);
    let (mut world, a, b) = pair_with(seed, stormy(), a, Mock::echo(B));
    world.record_net_events(true);
    world.run_until_idle(100_000).unwrap();
    Storm {
        events: world.take_net_events(),
        at_a: world.node(a).received.clone(),
        at_b: world.node(b).received.clone(),
    }
}

#[test]
fn same_seed_replays_the_identical_run() {
    let first = storm(2024);
    let again = storm(2024);
    assert!(
        first.events.len() > 600,
        "a busy run: {} events",
        first.events.len()
    );
    assert_eq!(first.events, again.events, "event log");
    assert_eq!(first.at_a, again.at_a, "what a saw, in order");
    assert_eq!(first.at_b, again.at_b, "what b saw, in order");
}

#[test]
fn different_seeds_make_different_choices() {
    let (one, two) = (storm(1), storm(2));
    assert_ne!(one.events, two.events);
    assert_ne!(one.at_b, two.at_b);
}

#[test]
fn every_fault_kind_shows_up_in_a_storm() {
    let events = storm(7).events;
    for kind in [
        NetEventKind::Sent,
        NetEventKind::Delivered,
        NetEventKind::Lost,
        NetEventKind::Duplicated,
        NetEventKind::Corrupted,
        NetEventKind::Reordered,
        NetEventKind::QueueDrop,
    ] {
        assert!(events.iter().any(|e| e.kind == kind), "no {kind:?}");
    }
}

#[test]
fn filtering_one_packet_leaves_every_other_fate_unchanged() {
    let fates = |filter: bool| {
        let (mut world, _, _) = pair(11, LinkConfig::lossy(0.3), 50);
        if filter {
            world.set_filter(|p| {
                if p.nth_from_host == 3 {
                    Verdict::Drop
                } else {
                    Verdict::Pass
                }
            });
        }
        world.record_net_events(true);
        world.run_until_idle(1000).unwrap();
        world
            .take_net_events()
            .into_iter()
            .filter(|e| e.packet_id != 3 && e.kind != NetEventKind::Sent)
            .collect::<Vec<_>>()
    };
    assert_eq!(fates(false), fates(true));
}

#[test]
fn every_packet_is_delivered_lost_or_dropped_any_seed() {
    sweep_seeds(32, |seed| {
        let events = storm(seed).events;
        let sent = events
            .iter()
            .filter(|e| e.kind == NetEventKind::Sent)
            .count();
        let duplicated = events
            .iter()
            .filter(|e| e.kind == NetEventKind::Duplicated)
            .count();
        let ends = events
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    NetEventKind::Delivered | NetEventKind::Lost | NetEventKind::QueueDrop
                )
            })
            .count();
        assert_eq!(ends, sent + duplicated, "seed {seed}");
        assert!(
            events.windows(2).all(|w| w[0].time <= w[1].time),
            "log in time order"
        );
    });
}
