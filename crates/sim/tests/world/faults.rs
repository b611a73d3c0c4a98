//! Loss, duplication, reordering, corruption, the filter and the bottleneck queue.

use std::time::Duration;

use oxtcp_sim::{LinkConfig, NetEventKind, Verdict};

use crate::mock::*;

#[test]
fn loss_fraction_is_near_p_over_many_packets() {
    let (mut world, a, b) = pair(42, LinkConfig::lossy(0.1), 10_000);
    world.run_until_idle(100_000).unwrap();
    let stats = world.link_stats(a, b);
    assert_eq!(stats.sent, 10_000);
    assert_eq!(stats.lost + stats.delivered, 10_000);
    assert_eq!(world.node(b).received.len() as u64, stats.delivered);
    // Binomial(10000, 0.1) has a standard deviation of 30; allow about 3.3 of them.
    assert!((900..=1100).contains(&stats.lost), "lost {}", stats.lost);
}

#[test]
fn filter_drops_exactly_the_third_packet_from_a() {
    let (mut world, a, b) = pair_with(
        1,
        LinkConfig::default(),
        Mock::at(A).sending(B, 5, ms(0), Duration::from_millis(1), 100),
        Mock::echo(B),
    );
    world.set_filter(move |p| {
        if p.from == a && p.nth_from_host == 3 {
            Verdict::Drop
        } else {
            Verdict::Pass
        }
    });
    world.record_net_events(true);
    world.run_until_idle(100).unwrap();
    assert_eq!(world.node(b).received_seqs(), [1, 2, 4, 5]);
    assert_eq!(
        world.node(a).received_seqs(),
        [1, 2, 4, 5],
        "b's echoes pass, its 3rd too"
    );
    let filtered: Vec<_> = world
        .take_net_events()
        .into_iter()
        .filter(|e| e.kind == NetEventKind::Filtered)
        .map(|e| (e.time, e.from, e.to))
        .collect();
    assert_eq!(filtered, [(ms(2), a, b)]);
    assert_eq!(world.link_stats(a, b).filtered, 1);
    assert_eq!(world.link_stats(b, a).filtered, 0);
}

#[test]
fn duplicates_arrive_a_little_after_the_original() {
    let (mut world, a, b) = pair(3, LinkConfig::default().with_duplicate(1.0), 3);
    world.run_until_idle(100).unwrap();
    assert_eq!(world.node(b).received_seqs(), [1, 1, 2, 2, 3, 3]);
    let t = world.node(b).arrival_times();
    assert_eq!(t[0], ms(1));
    assert!(t[1] > t[0] && t[1] < ms(2));
    assert_eq!(world.node(b).received[0].1, world.node(b).received[1].1);
    let stats = world.link_stats(a, b);
    assert_eq!((stats.sent, stats.duplicated, stats.delivered), (3, 3, 6));
}

#[test]
fn reordered_packets_are_overtaken_by_later_ones() {
    // Every other packet is held back 2.5 ms; sends are 1 ms apart.
    let cfg = LinkConfig::default().with_reorder(0.5, Duration::from_micros(2500));
    let (mut world, a, b) = pair(5, cfg, 50);
    world.record_net_events(true);
    world.run_until_idle(1000).unwrap();
    let seqs = world.node(b).received_seqs();
    assert_eq!(seqs.len(), 50);
    assert!(
        seqs.windows(2).any(|w| w[0] > w[1]),
        "some overtaking: {seqs:?}"
    );
    let mut sorted = seqs.clone();
    sorted.sort();
    assert_eq!(sorted, (1..=50).collect::<Vec<_>>());
    let reordered = world.link_stats(a, b).reordered;
    assert!((10..=40).contains(&reordered), "reordered {reordered}");
    let logged = world
        .take_net_events()
        .iter()
        .filter(|e| e.kind == NetEventKind::Reordered)
        .count();
    assert_eq!(logged as u64, reordered);
}

#[test]
fn corruption_flips_exactly_one_bit() {
    let (mut world, a, b) = pair(9, LinkConfig::default().with_corrupt(1.0), 100);
    world.run_until_idle(1000).unwrap();
    let sent = &world.node(a).sent;
    let received = &world.node(b).received;
    assert_eq!(
        received.len(),
        100,
        "corruption after routing still delivers"
    );
    let mut bits_hit = std::collections::BTreeSet::new();
    for ((_, s), (_, r)) in sent.iter().zip(received) {
        assert_eq!(s.len(), r.len());
        let flipped: u32 = s.iter().zip(r).map(|(x, y)| (x ^ y).count_ones()).sum();
        assert_eq!(flipped, 1);
        let byte = s.iter().zip(r).position(|(x, y)| x != y).unwrap();
        bits_hit.insert(byte);
    }
    assert!(
        bits_hit.len() > 30,
        "random positions, got {}",
        bits_hit.len()
    );
    assert_eq!(world.link_stats(a, b).corrupted, 100);
}

#[test]
fn full_bottleneck_drops_the_tail_of_a_burst() {
    // 8 Mbit/s, room for 3 waiting 1000-byte datagrams; a burst of 10 at once.
    let cfg = LinkConfig::default()
        .with_bandwidth(8_000_000)
        .with_queue(3000);
    let a = Mock::at(A).sending(B, 10, ms(0), Duration::ZERO, 1000);
    let (mut world, a, b) = pair_with(1, cfg, a, Mock::at(B));
    world.record_net_events(true);
    world.run_until_idle(100).unwrap();
    // one on the wire plus three waiting get through
    assert_eq!(world.node(b).received_seqs(), [1, 2, 3, 4]);
    assert_eq!(world.node(b).arrival_times(), [ms(2), ms(3), ms(4), ms(5)]);
    let stats = world.link_stats(a, b);
    assert_eq!((stats.delivered, stats.queue_dropped), (4, 6));
    let drops: Vec<u64> = world
        .take_net_events()
        .iter()
        .filter(|e| e.kind == NetEventKind::QueueDrop)
        .map(|e| e.packet_id)
        .collect();
    assert_eq!(drops, [5, 6, 7, 8, 9, 10]);
}

#[test]
fn queue_drains_so_later_packets_fit_again() {
    let cfg = LinkConfig::default()
        .with_bandwidth(8_000_000)
        .with_queue(1000);
    let mut a = Mock::at(A).sending(B, 3, ms(0), Duration::ZERO, 1000);
    a = a.sending(B, 1, ms(1), Duration::ZERO, 1000);
    let (mut world, _, b) = pair_with(1, cfg, a, Mock::at(B));
    world.run_until_idle(100).unwrap();
    // seq 3 drops at 0 ms; by 1 ms seq 2 is on the wire, so seq 4 has room.
    assert_eq!(world.node(b).received_seqs(), [1, 2, 4]);
}

#[test]
fn a_lost_packet_ends_with_lost_and_no_delivery() {
    let (mut world, a, b) = pair(0, LinkConfig::lossy(1.0), 1);
    world.record_net_events(true);
    world.run_until_idle(100).unwrap();
    let ladder: Vec<_> = world
        .take_net_events()
        .iter()
        .map(|e| (e.time, e.packet_id, e.from, e.to, e.kind))
        .collect();
    assert_eq!(
        ladder,
        [
            (ms(0), 1, a, b, NetEventKind::Sent),
            (ms(0), 1, a, b, NetEventKind::Lost),
        ]
    );
}
