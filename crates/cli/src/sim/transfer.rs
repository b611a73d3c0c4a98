//! Running K bulk transfers over one simulated bottleneck and measuring them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{bail, Result};
use oxtcp_core::{Stack, StackConfig};
use oxtcp_sim::{HostId, Instant, LinkConfig, StackHost, World};

use super::apps::{BulkSender, Sink};
use super::measure::TraceMeter;
use super::options::{apply_transport_options, CongestionControl, Sack};

/// Bytes per queued packet when `--queue` is converted to the link's byte limit (the MTU).
pub const PACKET_BYTES: usize = 1500;

/// What to simulate.
#[derive(Clone, Debug)]
pub struct TransferSpec {
    /// Bytes each flow sends (`u64::MAX` with a `duration`: as many as it can).
    pub bytes: u64,
    /// Stop every flow at this simulated time and measure what it had delivered by then,
    /// instead of waiting for `bytes` to be acknowledged.
    pub duration: Option<Duration>,
    /// Round-trip propagation delay; each direction gets half.
    pub rtt: Duration,
    /// Bottleneck rate each way, bits per second.
    pub bandwidth_bps: u64,
    /// Random loss probability on the data direction.
    pub loss: f64,
    /// Random reordering probability on the data direction.
    pub reorder: f64,
    /// Drop-tail queue limit, packets of [`PACKET_BYTES`].
    pub queue_packets: usize,
    /// Number of parallel flows.
    pub flows: usize,
    /// Seed of the world and the stacks.
    pub seed: u64,
    /// Congestion control.
    pub cc: CongestionControl,
    /// SACK.
    pub sack: Sack,
    /// Give up when the transfer has not finished by this simulated time.
    pub time_limit: Duration,
}

impl TransferSpec {
    /// One bandwidth-delay product in packets (at least 1).
    pub fn bdp_packets(rtt: Duration, bandwidth_bps: u64) -> usize {
        let bytes = bandwidth_bps as f64 / 8.0 * rtt.as_secs_f64();
        ((bytes / PACKET_BYTES as f64).ceil() as usize).max(1)
    }

    /// How long a held-back (reordered) packet waits: a quarter of the RTT, at least 1 ms.
    pub fn reorder_delay(&self) -> Duration {
        (self.rtt / 4).max(Duration::from_millis(1))
    }
}

/// One flow's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowResult {
    /// Simulated time from the connect to the last byte acknowledged (or to the end of a
    /// `--duration` run, if the flow had not finished by then).
    pub duration: Duration,
    /// Application bytes acknowledged within `duration`.
    pub bytes: u64,
    /// `bytes` over `duration`, bits per second.
    pub goodput_bps: f64,
    /// Payload bytes sent again.
    pub retransmitted_bytes: u64,
    /// Data segments that reached the receiver with every byte already received.
    pub spurious_retransmissions: u64,
    /// Retransmission timeouts.
    pub rto_count: u64,
    /// Fast-recovery episodes (losses repaired without a timeout).
    pub fast_recoveries: u64,
    /// Congestion window when the last byte was acknowledged, bytes.
    pub final_cwnd: u32,
}

/// One sample of flow 1's sender.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Simulated time.
    pub time: Duration,
    /// Congestion window, bytes.
    pub cwnd: u32,
    /// SND.MAX − SND.UNA from the sender's trace, bytes.
    pub in_flight: u32,
}

/// The whole run's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct TransferResult {
    /// Per flow, in the order they were opened.
    pub flows: Vec<FlowResult>,
    /// Simulated time until the last flow finished.
    pub sim_duration: Duration,
    /// All flows' bytes over `sim_duration`, bits per second.
    pub goodput_bps: f64,
    /// Bytes on the wire in the data direction (headers and retransmissions included) over the
    /// link's capacity during `sim_duration`.
    pub utilization: f64,
    /// The same ratio from the end of flow 1's initial slow start (the first sample, every
    /// quarter RTT, at which its ssthresh is set) to `sim_duration`; `None` if slow start never
    /// ended.
    pub utilization_after_slow_start: Option<f64>,
    /// When flow 1's initial slow start was first seen to have ended.
    pub slow_start_end: Option<Duration>,
    /// Packets the bottleneck queue dropped in the data direction.
    pub queue_drops: u64,
    /// Packets the link lost at random in the data direction.
    pub random_losses: u64,
    /// Flow 1's sender, sampled every quarter RTT.
    pub samples: Vec<Sample>,
}

/// Jain's fairness index of `xs`: (Σx)² / (n·Σx²), 1 when all are equal.
pub fn jain_fairness(xs: &[f64]) -> f64 {
    let sum: f64 = xs.iter().sum();
    let squares: f64 = xs.iter().map(|x| x * x).sum();
    if xs.is_empty() || squares == 0.0 {
        return 0.0;
    }
    sum * sum / (xs.len() as f64 * squares)
}

fn stack_config(seed: u64, spec: &TransferSpec) -> Result<StackConfig> {
    // Buffers of two bandwidth-delay products (at least the stack's defaults), as an
    // autotuning stack would grow them for a bulk transfer: the receive window, not the
    // link, would otherwise cap a long fat path. Window scaling carries them past 64 KiB.
    let bdp = (spec.bandwidth_bps as f64 / 8.0 * spec.rtt.as_secs_f64()) as usize;
    let defaults = StackConfig::default();
    let mut cfg = StackConfig {
        seed,
        trace: true,
        recv_buffer: (2 * bdp).max(defaults.recv_buffer),
        send_buffer: (2 * bdp).max(defaults.send_buffer),
        ..defaults
    };
    apply_transport_options(&mut cfg, spec.cc, spec.sack)?;
    Ok(cfg)
}

/// Run the transfer to completion; an error if a flow fails or time runs out.
pub fn run(spec: &TransferSpec) -> Result<TransferResult> {
    let a_ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let b_ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    let server = SocketAddr::new(b_ip, 5001);
    let sender = StackHost::new(
        Stack::with_addresses(stack_config(spec.seed.wrapping_mul(2) + 1, spec)?, &[a_ip]),
        BulkSender::new(server, spec.bytes, spec.flows),
    );
    let sink = StackHost::new(
        Stack::with_addresses(stack_config(spec.seed.wrapping_mul(2) + 2, spec)?, &[b_ip]),
        Sink::new(server, spec.flows.max(16)),
    );
    let mut world: World<Host> = World::new(spec.seed);
    let a = world.add_host("A", &[a_ip], Host::Sender(sender));
    let b = world.add_host("B", &[b_ip], Host::Sink(sink));
    let base = LinkConfig::default()
        .with_latency(spec.rtt / 2)
        .with_bandwidth(spec.bandwidth_bps)
        .with_queue(spec.queue_packets * PACKET_BYTES);
    let data = base
        .clone()
        .with_loss(spec.loss)
        .with_reorder(spec.reorder, spec.reorder_delay());
    world.link_directed(a, b, data);
    world.link_directed(b, a, base);
    drive(&mut world, spec, a, b)
}

/// A host of the transfer world: one node type, so the loop can read both between steps.
enum Host {
    Sender(StackHost<BulkSender>),
    Sink(StackHost<Sink>),
}

impl Host {
    fn sender(&mut self) -> &mut StackHost<BulkSender> {
        match self {
            Host::Sender(h) => h,
            Host::Sink(_) => unreachable!("host A is the sender"),
        }
    }

    fn sink(&mut self) -> &mut StackHost<Sink> {
        match self {
            Host::Sink(h) => h,
            Host::Sender(_) => unreachable!("host B is the sink"),
        }
    }
}

impl oxtcp_sim::Node for Host {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        match self {
            Host::Sender(h) => h.handle_packet(now, packet),
            Host::Sink(h) => h.handle_packet(now, packet),
        }
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        match self {
            Host::Sender(h) => h.poll_transmit(now, buf),
            Host::Sink(h) => h.poll_transmit(now, buf),
        }
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        match self {
            Host::Sender(h) => h.poll_timeout(),
            Host::Sink(h) => h.poll_timeout(),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Host::Sender(h) => h.handle_timeout(now),
            Host::Sink(h) => h.handle_timeout(now),
        }
    }
}

/// Step the world a quarter RTT at a time until every flow is acknowledged, sampling flow 1.
fn drive(
    world: &mut World<Host>,
    spec: &TransferSpec,
    a: HostId,
    b: HostId,
) -> Result<TransferResult> {
    let step = (spec.rtt / 4).max(Duration::from_micros(100));
    let limit = Instant::ZERO + spec.time_limit;
    let mut meter = TraceMeter::default();
    let mut samples = Vec::new();
    // Flow 1's slow start end: the time and the data link's delivered bytes then.
    let mut slow_start_end: Option<(Duration, u64)> = None;
    let mut t = Instant::ZERO;
    loop {
        t += step;
        world.run_until(t);
        meter.sender_events(&mut world.node_mut(a).sender().events);
        meter.receiver_events(&mut world.node_mut(b).sink().events);
        let now = t.saturating_duration_since(Instant::ZERO);
        let delivered = world.link_stats(a, b).delivered_bytes;
        let host = world.node_mut(a).sender();
        if let Some(c) = host.app.flows.first().and_then(|f| f.conn) {
            if let Some(info) = host.stack.info(c) {
                if slow_start_end.is_none() && info.ssthresh != u32::MAX {
                    slow_start_end = Some((now, delivered));
                }
                samples.push(Sample {
                    time: now,
                    cwnd: info.cwnd,
                    in_flight: meter.sender(info.tuple).in_flight(),
                });
            }
        }
        if let Some((i, e)) = host
            .app
            .flows
            .iter()
            .enumerate()
            .find_map(|(i, f)| f.error.as_ref().map(|e| (i, e)))
        {
            bail!("flow {} failed: {e}", i + 1);
        }
        if host.app.all_finished() || spec.duration.is_some_and(|d| t >= Instant::ZERO + d) {
            break;
        }
        if t >= limit {
            let done = host
                .app
                .flows
                .iter()
                .filter(|f| f.done_at.is_some())
                .count();
            bail!(
                "the transfer did not finish within {:.1} s of simulated time \
                 ({done} of {} flows done); raise --time-limit",
                spec.time_limit.as_secs_f64(),
                spec.flows
            );
        }
    }
    let host = world.node_mut(a).sender();
    let mut flows = Vec::new();
    for f in &host.app.flows {
        let c = f.conn.expect("flows without an error are connected");
        let info = host.stack.info(c).expect("flows without an error are open");
        let tuple = info.tuple;
        let flow = match (f.done_at, spec.duration) {
            (Some(done), _) => {
                let duration = done.saturating_duration_since(Instant::ZERO);
                FlowResult {
                    duration,
                    bytes: spec.bytes,
                    goodput_bps: spec.bytes as f64 * 8.0 / duration.as_secs_f64(),
                    retransmitted_bytes: meter.sender(tuple).retransmitted_bytes,
                    spurious_retransmissions: meter.receiver(tuple).duplicate_arrivals,
                    rto_count: f.rto_count,
                    fast_recoveries: f.fast_recoveries,
                    final_cwnd: f.final_cwnd.unwrap_or(0),
                }
            }
            (None, Some(duration)) => {
                // Still sending: what left the send buffer acknowledged counts.
                let bytes = f.sent - info.send_queue as u64;
                FlowResult {
                    duration,
                    bytes,
                    goodput_bps: bytes as f64 * 8.0 / duration.as_secs_f64(),
                    retransmitted_bytes: meter.sender(tuple).retransmitted_bytes,
                    spurious_retransmissions: meter.receiver(tuple).duplicate_arrivals,
                    rto_count: info.stats.rto_count,
                    fast_recoveries: info.stats.fast_recoveries,
                    final_cwnd: info.cwnd,
                }
            }
            (None, None) => unreachable!("the loop ends when every flow is done"),
        };
        flows.push(flow);
    }
    let sim_duration = flows.iter().map(|f| f.duration).max().unwrap_or_default();
    let received = world.node_mut(b).sink().app.received;
    let expected: u64 = flows.iter().map(|f| f.bytes).sum();
    // When a `--duration` run stops, bytes in flight have been read but not yet acknowledged.
    if spec.duration.is_none() && received != expected {
        bail!("the receiver read {received} bytes, expected {expected}");
    }
    let secs = sim_duration.as_secs_f64();
    let link = world.link_stats(a, b);
    let utilization_after_slow_start =
        slow_start_end
            .filter(|&(at, _)| at < sim_duration)
            .map(|(at, delivered)| {
                let bits = (link.delivered_bytes - delivered) as f64 * 8.0;
                bits / (spec.bandwidth_bps as f64 * (sim_duration - at).as_secs_f64())
            });
    Ok(TransferResult {
        sim_duration,
        goodput_bps: expected as f64 * 8.0 / secs,
        utilization: link.delivered_bytes as f64 * 8.0 / (spec.bandwidth_bps as f64 * secs),
        utilization_after_slow_start,
        slow_start_end: slow_start_end.map(|(at, _)| at),
        queue_drops: link.queue_dropped,
        random_losses: link.lost,
        samples,
        flows,
    })
}
