//! Running a scenario: two hosts on a simulated link, each a stack with a scripted
//! application, run until nothing is left to happen; then both traces and each transmitted
//! segment's exact fate.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};

use oxtcp_core::{Dir, Event, EventKind, Stack, StackConfig};
use oxtcp_sim::{
    HostId, LinkConfig, NetEvent, NetEventKind, PacketInfo, SimError, StackHost, Verdict, World,
};

use super::script::Script;
use crate::ladder::Arrivals;

/// A's address (the side that opens, or closes first).
pub const A_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
/// B's address.
pub const B_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

/// A per-packet hook (drop or delay chosen packets).
pub type Filter = Box<dyn FnMut(&PacketInfo) -> Verdict>;

/// Everything a scenario sets up.
pub struct Setup {
    /// A's application.
    pub a: Script,
    /// B's application.
    pub b: Script,
    /// A's stack configuration (seed and trace are set by the runner).
    pub cfg_a: StackConfig,
    /// B's stack configuration.
    pub cfg_b: StackConfig,
    /// The link, both directions.
    pub link: LinkConfig,
    /// Chosen drops and delays.
    pub filter: Option<Filter>,
}

/// What happened.
pub struct Run {
    /// A's trace.
    pub a: Vec<Event>,
    /// B's trace.
    pub b: Vec<Event>,
    /// Each transmitted segment's arrival on the other side (`None`: lost).
    pub arrivals: Arrivals,
    /// A's application afterwards.
    pub a_app: Script,
    /// B's application afterwards.
    pub b_app: Script,
}

/// Run `setup` with `seed`, recording a pcap to `pcap` if given.
pub fn run(setup: Setup, seed: u64, pcap: Option<Box<dyn Write>>) -> Result<Run, SimError> {
    let mut world = World::new(seed);
    let host = |mut cfg: StackConfig, ip: IpAddr, seed: u64, app: Script| {
        cfg.seed = seed;
        cfg.trace = true;
        StackHost::new(Stack::with_addresses(cfg, &[ip]), app)
    };
    let a = world.add_host(
        "A",
        &[A_IP],
        host(setup.cfg_a, A_IP, seed.wrapping_mul(2) + 1, setup.a),
    );
    let b = world.add_host(
        "B",
        &[B_IP],
        host(setup.cfg_b, B_IP, seed.wrapping_mul(2) + 2, setup.b),
    );
    world.link(a, b, setup.link);
    if let Some(f) = setup.filter {
        world.set_filter(f);
    }
    world.record_net_events(true);
    let recording = pcap.is_some();
    if let Some(w) = pcap {
        world.record_pcap(w)?;
    }
    // Bounded: a scenario that never settles is an error, not a hang.
    world.run_until_idle(1_000_000)?;
    if recording {
        world.finish_pcap()?;
    }
    let net = world.take_net_events();
    let arrivals = packet_arrivals(&net, [a, b], [&world.node(a).events, &world.node(b).events]);
    let take = |w: &mut World<StackHost<Script>>, h: HostId| {
        let n = w.node_mut(h);
        (std::mem::take(&mut n.events), std::mem::take(&mut n.app))
    };
    let (ea, aa) = take(&mut world, a);
    let (eb, ab) = take(&mut world, b);
    Ok(Run {
        a: ea,
        b: eb,
        arrivals,
        a_app: aa,
        b_app: ab,
    })
}

/// Pair each transmitted segment with its own arrival, by the simulator's packet ids: a host's
/// k-th transmitted segment is its k-th packet sent, and its m-th received datagram (segment or
/// malformed) is its m-th delivery.
pub fn packet_arrivals(net: &[NetEvent], hosts: [HostId; 2], events: [&[Event]; 2]) -> Arrivals {
    let side_of = |h: HostId| hosts.iter().position(|&x| x == h);
    let mut sent: [Vec<u64>; 2] = Default::default();
    let mut delivered: [Vec<u64>; 2] = Default::default();
    for e in net {
        match (e.kind, side_of(e.from), side_of(e.to)) {
            (NetEventKind::Sent, Some(f), Some(_)) => sent[f].push(e.packet_id),
            (NetEventKind::Delivered, Some(_), Some(t)) => delivered[t].push(e.packet_id),
            _ => {}
        }
    }
    let is_tx = |e: &Event| matches!(&e.kind, EventKind::Segment(s) if s.dir == Dir::Tx);
    let is_arrival = |e: &Event| match &e.kind {
        EventKind::Segment(s) => s.dir != Dir::Tx,
        EventKind::Malformed(_) => true,
        _ => false,
    };
    let mut out: Arrivals = [vec![None; events[0].len()], vec![None; events[1].len()]];
    for side in 0..2 {
        let other = 1 - side;
        let arrivals: Vec<usize> = (0..events[other].len())
            .filter(|&j| is_arrival(&events[other][j]))
            .collect();
        let txs = (0..events[side].len()).filter(|&i| is_tx(&events[side][i]));
        for (i, id) in txs.zip(&sent[side]) {
            out[side][i] = delivered[other]
                .iter()
                .position(|d| d == id)
                .and_then(|k| arrivals.get(k).copied());
        }
    }
    out
}
