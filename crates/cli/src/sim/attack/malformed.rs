//! Malformed segments and an ACK flood on the 4-tuple of an established bulk transfer: bad
//! checksums, header lengths too short or past the end, bad option lengths, a truncated TCP
//! header, illegal flag combinations, and well-formed ACKs with random numbers. The transfer
//! runs twice, undisturbed and attacked, and the goodputs are compared.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{bail, Result};
use oxtcp_core::{Instant, Stack, StackConfig};
use oxtcp_sim::{LinkConfig, StackHost, World};
use oxtcp_wire::{emit_packet, Ipv4Packet, TcpFlags, TcpOptions, TcpPacket, TcpRepr};

use super::super::apps::{BulkSender, Sink};
use super::{secs, Attacker, Common, Figures, Host, Rng};

/// Bytes of the bulk transfer at full scale.
const BYTES: u64 = 20_000_000;
/// Attack datagrams per simulated second.
const RATE: u64 = 100_000;
/// Bottleneck of the transfer, bits per second.
const BANDWIDTH: u64 = 100_000_000;
/// Round-trip time of the transfer's path.
const RTT: Duration = Duration::from_millis(20);
/// The attack lasts as long as the transfer, but at most this many times the undisturbed
/// transfer's time (then it stops and the transfer recovers): a bound on the run's CPU time.
const ATTACK_CAP: f64 = 20.0;
/// IPv4 header length of what `emit_packet` writes.
const IP: usize = 20;

/// The kinds of attack datagram, sent in turn.
const KINDS: [&str; 10] = [
    "bad_checksum",
    "header_len_short",
    "header_len_past_end",
    "option_len_zero",
    "option_len_overrun",
    "truncated_header",
    "syn_fin",
    "syn_rst",
    "no_flags",
    "ack_flood",
];

type BulkHost = Host<BulkSender, Sink>;

struct Outcome {
    seconds: f64,
    goodput_bps: f64,
    received: u64,
    attack_sent: u64,
    drops: std::collections::BTreeMap<&'static str, u64>,
    retransmits: u64,
    /// Fast-recovery episodes of the sender (the client).
    fast_recoveries: u64,
    /// Datagrams the receiver (the server) sent: the transfer's ACKs plus any answer to an
    /// attack datagram.
    server_packets_out: u64,
    /// ACKs to unacceptable segments the receiver's rate limits withheld.
    server_acks_suppressed: u64,
}

/// Run the transfer undisturbed, then attacked, and fill in the figures.
pub fn run(common: &Common, figures: &mut Figures) -> Result<()> {
    let bytes = common.scaled(BYTES, 100_000);
    figures.set("transfer_bytes", bytes);
    figures.set("bandwidth_bps", BANDWIDTH);
    figures.set("rtt_seconds", secs(RTT));
    figures.set("attack_rate_per_second", RATE);
    figures.set("attack_kinds", KINDS.to_vec());
    let clean = transfer(common, bytes, None)?;
    let cap = (RATE as f64 * clean.seconds * ATTACK_CAP).ceil() as u64;
    figures.set("attack_packets_cap", cap);
    let attacked = transfer(common, bytes, Some(cap))?;
    figures.set("goodput_bps_undisturbed", clean.goodput_bps);
    figures.set("goodput_bps_attacked", attacked.goodput_bps);
    figures.set("goodput_ratio", attacked.goodput_bps / clean.goodput_bps);
    figures.set("sim_seconds_undisturbed", clean.seconds);
    figures.set("sim_seconds_attacked", attacked.seconds);
    figures.set("attack_packets_sent", attacked.attack_sent);
    figures.set("attack_capped", attacked.attack_sent >= cap);
    figures.set("bytes_received_attacked", attacked.received);
    figures.set("retransmits_undisturbed", clean.retransmits);
    figures.set("retransmits_attacked", attacked.retransmits);
    figures.set("fast_recoveries_undisturbed", clean.fast_recoveries);
    figures.set("fast_recoveries_attacked", attacked.fast_recoveries);
    figures.set("server_packets_out_undisturbed", clean.server_packets_out);
    figures.set("server_packets_out_attacked", attacked.server_packets_out);
    figures.set(
        "server_acks_suppressed_attacked",
        attacked.server_acks_suppressed,
    );
    figures.set(
        "server_drops_undisturbed",
        serde_json::to_value(&clean.drops)?,
    );
    figures.set(
        "server_drops_attacked",
        serde_json::to_value(&attacked.drops)?,
    );
    let counted: u64 = attacked.drops.values().sum::<u64>() - clean.drops.values().sum::<u64>();
    figures.set("attack_drops_counted", counted);
    Ok(())
}

fn transfer(common: &Common, bytes: u64, attack: Option<u64>) -> Result<Outcome> {
    let client_ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let server_ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    let server = SocketAddr::new(server_ip, 5001);
    let bdp = (BANDWIDTH as f64 / 8.0 * RTT.as_secs_f64()) as usize;
    let buffers = |cfg: StackConfig| StackConfig {
        recv_buffer: 2 * bdp,
        send_buffer: 2 * bdp,
        ..cfg
    };
    let mut world: World<BulkHost> = World::new(common.seed);
    let c = world.add_host(
        "client",
        &[client_ip],
        Host::Client(StackHost::new(
            Stack::with_addresses(buffers(common.client_config()), &[client_ip]),
            BulkSender::new(server, bytes, 1),
        )),
    );
    let s = world.add_host(
        "server",
        &[server_ip],
        Host::Server(StackHost::new(
            Stack::with_addresses(buffers(common.server_config()), &[server_ip]),
            Sink::new(server, 16),
        )),
    );
    let start = Instant::from_millis(1);
    let a = world.add_host(
        "attacker",
        &[],
        Host::Attacker(Attacker::new(
            common.seed ^ 0xbad,
            start,
            RATE,
            attack.unwrap_or(0),
        )),
    );
    let link = LinkConfig::default()
        .with_latency(RTT / 2)
        .with_bandwidth(BANDWIDTH)
        .with_queue(bdp.max(15_000));
    world.link(c, s, link);
    world.link_directed(a, s, LinkConfig::default());

    world.run_until(start);
    let port = {
        let host = world.node_mut(c).client();
        let conn = host.app.flows[0].conn;
        conn.and_then(|id| host.stack.info(id))
            .map(|i| i.tuple.local.port())
    };
    let Some(port) = port else {
        bail!("the transfer's connection did not open");
    };
    if attack.is_some() {
        let forge_ts = common.forge_ts;
        let gen = move |n: u64, rng: &mut Rng, buf: &mut [u8]| {
            malformed(
                n,
                rng,
                buf,
                client_ip,
                server_ip,
                port,
                server.port(),
                forge_ts,
            )
        };
        // Through with_node, so the world reads the attacker's new timeout.
        world.with_node(a, |n, _| n.attacker().set_generator(Box::new(gen)));
    }
    let limit = Instant::ZERO
        + Duration::from_secs_f64(60.0 + 50.0 * bytes as f64 * 8.0 / BANDWIDTH as f64);
    loop {
        let t = world.now() + Duration::from_millis(1);
        world.run_until(t);
        let sender = &world.node_mut(c).client().app;
        if sender.all_finished() {
            break;
        }
        if world.now() >= limit {
            bail!("the transfer did not finish by {:?}", limit);
        }
    }
    world.node_mut(a).attacker().stop();
    let flow = &world.node_mut(c).client().app.flows[0];
    if let Some(e) = &flow.error {
        bail!("the transfer failed: {e}");
    }
    let done = flow.done_at.expect("finished");
    let seconds = done.saturating_duration_since(start).as_secs_f64();
    let conn = flow.conn.expect("opened");
    let (retransmits, fast_recoveries) = world
        .node_mut(c)
        .client()
        .stack
        .info_any(conn)
        .map_or((0, 0), |i| (i.stats.retransmits, i.stats.fast_recoveries));
    let attack_sent = world.node_mut(a).attacker().sent;
    let server_host = world.node_mut(s).server();
    let stats = server_host.stack.stats();
    Ok(Outcome {
        seconds,
        goodput_bps: bytes as f64 * 8.0 / seconds,
        received: server_host.app.received,
        attack_sent,
        drops: stats.drops,
        retransmits,
        fast_recoveries,
        server_packets_out: stats.packets_out,
        server_acks_suppressed: stats.invalid_acks_suppressed + stats.challenge_acks_suppressed,
    })
}

#[allow(clippy::too_many_arguments)]
/// The `n`th attack datagram: kind `n mod 10` of [`KINDS`].
fn malformed(
    n: u64,
    rng: &mut Rng,
    buf: &mut [u8],
    src: IpAddr,
    dst: IpAddr,
    src_port: u16,
    dst_port: u16,
    forge_ts: bool,
) -> usize {
    let kind = (n % KINDS.len() as u64) as usize;
    let mut tcp = TcpRepr {
        src_port,
        dst_port,
        seq: rng.next_u32(),
        ack: rng.next_u32(),
        flags: TcpFlags::ACK,
        window: 1000,
        urgent: 0,
        options: TcpOptions {
            timestamps: rng.timestamps(forge_ts),
            ..TcpOptions::default()
        },
    };
    if KINDS[kind].starts_with("option_len") {
        // The option to break: Timestamps, after two NOPs.
        tcp.options.timestamps = rng.timestamps(true);
    }
    tcp.flags = match KINDS[kind] {
        "syn_fin" => TcpFlags::SYN.union(TcpFlags::FIN),
        "syn_rst" => TcpFlags::SYN.union(TcpFlags::RST).union(TcpFlags::ACK),
        "no_flags" => TcpFlags::EMPTY,
        _ => TcpFlags::ACK,
    };
    let payload = [0x41u8; 32];
    let Ok(len) = emit_packet(buf, src, dst, 64, &tcp, &[&payload]) else {
        return 0;
    };
    // The Timestamps option sits after two NOPs: kind at 20 + 2, length at 20 + 3.
    let opt_len_at = IP + 20 + 3;
    let len = match KINDS[kind] {
        "bad_checksum" => {
            buf[IP + 16] ^= 0x55;
            return len;
        }
        "header_len_short" => {
            buf[IP + 12] = 4 << 4;
            len
        }
        "header_len_past_end" => {
            // 60 bytes of header claimed by a 52-byte segment without payload.
            let len = IP + 32;
            buf[IP + 12] = 15 << 4;
            fix_ip_len(&mut buf[..len]);
            len
        }
        "option_len_zero" => {
            buf[opt_len_at] = 0;
            len
        }
        "option_len_overrun" => {
            buf[opt_len_at] = 40;
            len
        }
        "truncated_header" => {
            let len = IP + 12;
            fix_ip_len(&mut buf[..len]);
            len
        }
        _ => return len,
    };
    TcpPacket::new_unchecked(&mut buf[IP..len]).fill_checksum(src, dst);
    len
}

/// Set the IPv4 total length to the buffer's and recompute the header checksum.
fn fix_ip_len(datagram: &mut [u8]) {
    let len = datagram.len();
    let mut ip = Ipv4Packet::new_unchecked(datagram);
    ip.set_total_len(len);
    ip.fill_checksum();
}
