//! Blind in-window attacks (RFC 5961): an off-path attacker who knows the 4-tuples of
//! established connections but not their sequence numbers sends RSTs, SYNs or data segments
//! with random sequence (and acknowledgment) numbers, hoping to land in the receive window.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{bail, Result};
use oxtcp_core::{Instant, Stack, StackConfig};
use oxtcp_sim::{LinkConfig, StackHost, World};
use oxtcp_wire::{emit_packet, TcpFlags, TcpOptions, TcpRepr};

use super::chat::{ChatClient, ChatServer};
use super::{secs, Attacker, Common, Figures, Host};

/// Attack segments at full scale.
const PACKETS: u64 = 1_000_000;
/// Attack segments per simulated second.
const RATE: u64 = 100_000;
/// Established connections under attack.
const CONNS: usize = 100;
/// Payload of each blind data segment.
const DATA_LEN: usize = 100;

/// Which segment the attacker forges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blind {
    /// RST, random sequence number.
    Rst,
    /// SYN, random sequence number.
    Syn,
    /// ACK+PSH with random sequence and acknowledgment numbers, a random payload and a
    /// Timestamps option with a random TSval (half of which pass PAWS).
    Data,
}

type BlindHost = Host<ChatClient, ChatServer>;

/// Run the attack and fill in the figures.
pub fn run(common: &Common, kind: Blind, figures: &mut Figures) -> Result<()> {
    let packets = common.scaled(PACKETS, 1);
    let duration = Attacker::duration(RATE, packets);
    let attack_start = Instant::from_millis(500);
    let stop_at = attack_start + duration + Duration::from_millis(500);
    figures.set("attack_packets", packets);
    figures.set("attack_rate_per_second", RATE);
    figures.set("attack_seconds", secs(duration));
    figures.set("connections", CONNS as u64);
    figures.set("server_recv_buffer", common.recv_buffer as u64);

    let client_ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let server_ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    let server = SocketAddr::new(server_ip, 80);
    let server_cfg = StackConfig {
        recv_buffer: common.recv_buffer,
        ..common.server_config()
    };
    let mut world: World<BlindHost> = World::new(common.seed);
    let c = world.add_host(
        "client",
        &[client_ip],
        Host::Client(StackHost::new(
            Stack::with_addresses(common.client_config(), &[client_ip]),
            ChatClient::new(server, CONNS, stop_at),
        )),
    );
    let s = world.add_host(
        "server",
        &[server_ip],
        Host::Server(StackHost::new(
            Stack::with_addresses(server_cfg, &[server_ip]),
            ChatServer::new(server, CONNS * 2),
        )),
    );
    let a = world.add_host(
        "attacker",
        &[],
        Host::Attacker(Attacker::new(
            common.seed ^ 0xb11d,
            attack_start,
            RATE,
            packets,
        )),
    );
    let link = LinkConfig::default().with_latency(Duration::from_millis(10));
    world.link(c, s, link.clone());
    world.link_directed(a, s, link);

    world.run_until(attack_start);
    let ports: Vec<u16> = world
        .node_mut(s)
        .server()
        .app
        .flows
        .keys()
        .copied()
        .collect();
    if ports.len() != CONNS {
        bail!(
            "only {} of {CONNS} connections were established before the attack",
            ports.len()
        );
    }
    figures.set("connections_established", ports.len() as u64);
    let forge_ts = common.forge_ts;
    let gen: super::attacker::Generator = Box::new(move |_, rng, buf| {
        let port = ports[(rng.next_u64() % ports.len() as u64) as usize];
        let mut tcp = TcpRepr {
            src_port: port,
            dst_port: server.port(),
            seq: rng.next_u32(),
            ack: 0,
            flags: TcpFlags::RST,
            window: 1000,
            urgent: 0,
            options: TcpOptions::default(),
        };
        let mut payload = [0u8; DATA_LEN];
        let payload: &[u8] = match kind {
            Blind::Rst => &[],
            Blind::Syn => {
                tcp.flags = TcpFlags::SYN;
                tcp.options.mss = Some(1460);
                tcp.options.timestamps = rng.timestamps(forge_ts);
                &[]
            }
            Blind::Data => {
                tcp.flags = TcpFlags::ACK.union(TcpFlags::PSH);
                tcp.ack = rng.next_u32();
                tcp.options.timestamps = rng.timestamps(forge_ts);
                for b in payload.iter_mut() {
                    *b = rng.next_u32() as u8;
                }
                &payload
            }
        };
        emit_packet(buf, client_ip, server_ip, 64, &tcp, &[payload]).unwrap_or(0)
    });
    // Through with_node, so the world reads the attacker's new timeout.
    world.with_node(a, |n, _| n.attacker().set_generator(gen));

    let end = stop_at + Duration::from_secs(2);
    world.run_until(end);
    figures.set(
        "sim_seconds",
        secs(end.saturating_duration_since(Instant::ZERO)),
    );
    figures.set("attack_packets_sent", world.node_mut(a).attacker().sent);

    let server_flows = world.node_mut(s).server().app.flows.clone();
    let server_stats = world.node_mut(s).server().stack.stats();
    let client_flows = world.node_mut(c).client().app.flows.clone();
    let mut reset = 0u64;
    let mut corrupted = 0u64;
    let (mut up, mut down) = (0u64, 0u64);
    let mut sent_up = 0u64;
    let mut stalled = 0u64;
    for f in &client_flows {
        let sf = server_flows.get(&f.port);
        let server_err = sf.and_then(|s| s.error.as_ref());
        if f.error.is_some() || server_err.is_some() {
            reset += 1;
        } else if sf.is_some_and(|s| s.received < f.sent || f.received < s.sent) {
            // Alive, but what was sent had not all arrived 2 s after the senders stopped.
            stalled += 1;
        }
        corrupted += f.corrupted + sf.map_or(0, |s| s.corrupted);
        up += sf.map_or(0, |s| s.received);
        down += f.received;
        sent_up += f.sent;
    }
    figures.set("connections_reset", reset);
    figures.set("connections_stalled", stalled);
    figures.set("corrupted_bytes", corrupted);
    figures.set("bytes_client_to_server_sent", sent_up);
    figures.set("bytes_client_to_server_read", up);
    figures.set("bytes_server_to_client_read", down);
    figures.set("server_drops", serde_json::to_value(&server_stats.drops)?);
    figures.set("server_packets_out", server_stats.packets_out);
    let client = world.node_mut(c).client();
    let infos: Vec<_> = client_flows
        .iter()
        .filter_map(|f| f.conn.and_then(|id| client.stack.info_any(id)))
        .collect();
    let total = |f: fn(&oxtcp_core::ConnInfo) -> u64| infos.iter().map(f).sum::<u64>();
    figures.set("client_retransmits", total(|i| i.stats.retransmits));
    figures.set("client_fast_recoveries", total(|i| i.stats.fast_recoveries));
    figures.set("client_rto_count", total(|i| i.stats.rto_count));
    figures.set("client_send_queue_at_end", total(|i| i.send_queue as u64));
    if let Some(i) = infos.iter().find(|i| i.send_queue > 0) {
        figures.set(
            "example_stalled_client",
            format!(
                "state {} send_queue {} cwnd {} ssthresh {} snd_wnd {} rto {:?} rto_count {} retransmits {}",
                i.state, i.send_queue, i.cwnd, i.ssthresh, i.snd_wnd, i.rto, i.stats.rto_count, i.stats.retransmits
            ),
        );
    }
    figures.set("server_rst_sent", server_stats.rst_sent);
    let example = client_flows
        .iter()
        .filter_map(|f| f.error.clone())
        .chain(server_flows.values().filter_map(|f| f.error.clone()))
        .next();
    figures.set("example_error", example);
    Ok(())
}
