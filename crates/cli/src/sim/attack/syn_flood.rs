//! SYN flood: spoofed SYNs from random sources at the listening port while legitimate clients
//! connect and exchange data (RFC 4987; the defence is SYN cookies, `StackConfig::syn_cookies`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Result;
use oxtcp_core::{Instant, Stack, StackConfig};
use oxtcp_sim::{LinkConfig, StackHost, World};
use oxtcp_wire::{emit_packet, TcpFlags, TcpOptions, TcpRepr, Timestamps};

use super::echo::EchoServer;
use super::legit::{handshake_times, LegitClients};
use super::{secs, Attacker, Common, Figures, Host};

/// Spoofed SYNs at full scale.
const SYNS: u64 = 1_000_000;
/// Spoofed SYNs per simulated second.
const RATE: u64 = 100_000;
/// Legitimate clients at full scale.
const CLIENTS: u64 = 1_000;
/// Bytes each legitimate client sends and reads back.
const CLIENT_BYTES: u64 = 10 * 1024;
/// The server's listen backlog (bounds the SYN queue and the accept queue).
const BACKLOG: usize = 128;
/// SYN retransmissions of a legitimate client before connect fails (1+2+4+8 s: 15 s).
const CLIENT_SYN_RETRIES: u32 = 3;
/// Bytes the stack holds per half-open entry, for `peak_listener_bytes`: its slab slot, the
/// boxed `HalfOpen`, its 4-tuple table bucket and its SYN-ACK timer's place in the timer
/// wheel, as `Stack::entry_sizes` measures them on this build (the allocator's own overhead
/// and the tables' spare capacity not included).
pub fn half_open_bytes() -> usize {
    let s = Stack::entry_sizes();
    s.slot + s.half_open + s.tuple_bucket + s.timer
}

type FloodHost = Host<LegitClients, EchoServer>;

/// Run the flood and fill in the figures.
pub fn run(common: &Common, figures: &mut Figures) -> Result<()> {
    let syns = common.scaled(SYNS, 1);
    let clients = common.scaled(CLIENTS, 10);
    let flood_start = Instant::from_millis(100);
    let flood = Attacker::duration(RATE, syns);
    figures.set("syns", syns);
    figures.set("syn_rate_per_second", RATE);
    figures.set("flood_seconds", secs(flood));
    figures.set("legit_total", clients);
    figures.set("legit_bytes_each", CLIENT_BYTES);
    figures.set("backlog", BACKLOG as u64);

    let client_ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let server_ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    let server = SocketAddr::new(server_ip, 80);
    let starts = (0..clients)
        .map(|i| {
            flood_start
                + Duration::from_secs_f64(flood.as_secs_f64() * (i as f64 + 0.5) / clients as f64)
        })
        .collect();
    let client_cfg = StackConfig {
        syn_retries: CLIENT_SYN_RETRIES,
        ..common.client_config()
    };
    let mut world: World<FloodHost> = World::new(common.seed);
    let c = world.add_host(
        "client",
        &[client_ip],
        Host::Client(StackHost::new(
            Stack::with_addresses(client_cfg, &[client_ip]),
            LegitClients::new(server, CLIENT_BYTES, starts),
        )),
    );
    let s = world.add_host(
        "server",
        &[server_ip],
        Host::Server(StackHost::new(
            Stack::with_addresses(common.server_config(), &[server_ip]),
            EchoServer::new(server, BACKLOG),
        )),
    );
    let mut attacker = Attacker::new(common.seed ^ 0x0053_594e, flood_start, RATE, syns);
    attacker.set_generator(Box::new(move |_, rng, buf| {
        // Sources in 172.16.0.0/12, which no host of the world owns: the SYN-ACKs are lost.
        let src = Ipv4Addr::from(0xac10_0000 | (rng.next_u32() & 0x000f_ffff));
        let tcp = TcpRepr {
            src_port: 1024 + (rng.next_u32() % 64000) as u16,
            dst_port: server.port(),
            seq: rng.next_u32(),
            ack: 0,
            flags: TcpFlags::SYN,
            window: 64240,
            urgent: 0,
            options: TcpOptions {
                mss: Some(1460),
                window_scale: Some(7),
                sack_permitted: true,
                timestamps: Some(Timestamps {
                    tsval: rng.next_u32(),
                    tsecr: 0,
                }),
                ..TcpOptions::default()
            },
        };
        emit_packet(buf, IpAddr::V4(src), server_ip, 64, &tcp, &[]).unwrap_or(0)
    }));
    let a = world.add_host("attacker", &[], Host::Attacker(attacker));
    let link = LinkConfig::default().with_latency(Duration::from_millis(10));
    world.link(c, s, link.clone());
    world.link_directed(a, s, link);

    // Bounded: every client connects by the flood's end and gives up after 15 s of SYNs.
    let limit = flood_start + flood + Duration::from_secs(60);
    let mut peak_connections = 0;
    let mut peak_half_open = 0;
    while world.now() < limit {
        let t = world.now() + Duration::from_millis(10);
        world.run_until(t);
        let r = world.node_mut(s).server().stack.resources();
        peak_connections = peak_connections.max(r.connections);
        peak_half_open = peak_half_open.max(r.half_open);
        if world.node_mut(c).client().app.all_finished() && world.node_mut(a).attacker().finished()
        {
            break;
        }
    }
    figures.set(
        "sim_seconds",
        secs(world.now().saturating_duration_since(Instant::ZERO)),
    );

    let legit = &world.node_mut(c).client().app.clients;
    let completed = legit.iter().filter(|c| c.done_at.is_some()).count() as u64;
    let corrupted: u64 = legit.iter().map(|c| c.corrupted).sum();
    let mut errors = std::collections::BTreeMap::<String, u64>::new();
    for c in legit.iter() {
        if let Some(e) = &c.error {
            *errors.entry(e.clone()).or_default() += 1;
        }
    }
    let unfinished = legit
        .iter()
        .filter(|c| c.done_at.is_none() && c.error.is_none())
        .count() as u64;
    let hs = handshake_times(legit);
    let pct = |p: f64| -> serde_json::Value {
        if hs.is_empty() {
            return serde_json::Value::Null;
        }
        let i = ((hs.len() as f64 - 1.0) * p).round() as usize;
        secs(hs[i]).into()
    };
    figures.set("legit_completed", completed);
    figures.set("legit_ratio", completed as f64 / clients as f64);
    figures.set("legit_failed", serde_json::to_value(&errors)?);
    figures.set("legit_unfinished", unfinished);
    figures.set("corrupted_bytes", corrupted);
    figures.set("handshake_seconds_median", pct(0.5));
    figures.set("handshake_seconds_p99", pct(0.99));
    figures.set("handshake_seconds_max", pct(1.0));

    let sent = world.node_mut(a).attacker().sent;
    figures.set("attack_packets_sent", sent);
    let server_host = world.node_mut(s).server();
    let app = &server_host.app;
    let (peak_syn_queue, peak_accept_queue, accepted) =
        (app.peak_syn_queue, app.peak_accept_queue, app.accepted);
    let listener = app
        .listener()
        .and_then(|l| server_host.stack.listener_info(l));
    let stats = server_host.stack.stats();
    if let Some(info) = listener {
        let st = info.stats;
        figures.set("syns_queued", st.syns_received);
        figures.set(
            "synacks_sent",
            st.syns_received + st.synack_retransmits + st.syncookies_sent,
        );
        figures.set("synack_retransmits", st.synack_retransmits);
        figures.set("syncookies_sent", st.syncookies_sent);
        figures.set("syncookies_accepted", st.syncookies_accepted);
        figures.set("syncookies_failed", st.syncookies_failed);
        figures.set("syn_queue_overflows", st.syn_queue_overflows);
        figures.set("accept_queue_overflows", st.accept_queue_overflows);
        figures.set("half_open_expired", st.half_open_expired);
        figures.set("handshakes_established", st.established);
    }
    figures.set("server_accepted", accepted);
    figures.set("server_replies_discarded", stats.replies_discarded);
    figures.set("server_drops", serde_json::to_value(&stats.drops)?);
    figures.set("peak_half_open", peak_syn_queue.max(peak_half_open) as u64);
    figures.set("peak_accept_queue", peak_accept_queue as u64);
    figures.set("peak_connections", peak_connections as u64);
    figures.set("half_open_entry_bytes", half_open_bytes() as u64);
    figures.set(
        "peak_listener_bytes",
        (peak_syn_queue.max(peak_half_open) * half_open_bytes()) as u64,
    );
    figures.set("replies_unroutable", world.world_stats().no_route);
    Ok(())
}
