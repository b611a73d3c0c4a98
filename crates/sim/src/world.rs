//! The world: hosts, links, the virtual clock and the event loop that drives them.
//!
//! Each step jumps the clock to the earliest event, a packet arrival or a node timeout, and
//! runs it. Arrivals come out of a heap keyed by (time, insertion counter); timeouts are found
//! by scanning hosts, which is cheap for the handful of hosts a test has. At equal instants,
//! arrivals go before timeouts, and timeouts go in host order.

use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::time::Duration;

use oxtcp_core::Instant;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::config::LinkConfig;
use crate::error::SimError;
use crate::filter::{PacketInfo, Verdict};
use crate::link::{Draws, Link, Plan};
use crate::node::{HostId, Node};
use crate::pcap::PcapRecorder;
use crate::queue::EventQueue;
use crate::route::destination;
use crate::trace::{LinkStats, NetEvent, NetEventKind, WorldStats};

/// The largest datagram a node may hand over, and the size of the buffer it writes into.
const MAX_DATAGRAM: usize = 65535;

type Filter = Box<dyn FnMut(&PacketInfo) -> Verdict>;

struct Host<N> {
    name: String,
    addrs: Vec<IpAddr>,
    node: N,
    timeout: Option<Instant>,
    sent: u64,
}

/// A datagram in flight towards `to`.
struct Arrival {
    packet_id: u64,
    from: HostId,
    to: HostId,
    bytes: Vec<u8>,
}

/// A deterministic simulated network of hosts running `N`.
pub struct World<N: Node> {
    now: Instant,
    rng: ChaCha20Rng,
    hosts: Vec<Host<N>>,
    owners: HashMap<IpAddr, HostId>,
    links: HashMap<(HostId, HostId), Link>,
    in_flight: EventQueue<Arrival>,
    filter: Option<Filter>,
    pcap: Option<PcapRecorder<Box<dyn Write>>>,
    events: Option<Vec<NetEvent>>,
    stats: WorldStats,
    next_packet_id: u64,
    buf: Vec<u8>,
}

impl<N: Node> World<N> {
    /// An empty world at time zero whose every random choice comes from `seed`.
    pub fn new(seed: u64) -> Self {
        World {
            now: Instant::ZERO,
            rng: ChaCha20Rng::seed_from_u64(seed),
            hosts: Vec::new(),
            owners: HashMap::new(),
            links: HashMap::new(),
            in_flight: EventQueue::new(),
            filter: None,
            pcap: None,
            events: None,
            stats: WorldStats::default(),
            next_packet_id: 1,
            buf: vec![0; MAX_DATAGRAM],
        }
    }

    /// Attach `node` as a host owning `addrs`; datagrams to those addresses are routed to it.
    ///
    /// The node's timeout is read now; anything it wants to send goes out at its first touch
    /// (a timeout, a packet, or [`with_node`](Self::with_node)), once links exist.
    ///
    /// # Panics
    /// If another host already owns one of `addrs`: that is a mistake in the test's topology.
    pub fn add_host(&mut self, name: &str, addrs: &[IpAddr], mut node: N) -> HostId {
        let id = HostId(self.hosts.len());
        for &addr in addrs {
            if let Some(owner) = self.owners.insert(addr, id) {
                panic!("{addr} already belongs to {}", self.hosts[owner.0].name);
            }
        }
        let timeout = node.poll_timeout();
        self.hosts.push(Host {
            name: name.to_owned(),
            addrs: addrs.to_vec(),
            node,
            timeout,
            sent: 0,
        });
        id
    }

    /// Join `a` and `b` with the same behaviour in both directions (each its own transmitter).
    pub fn link(&mut self, a: HostId, b: HostId, config: LinkConfig) {
        self.link_directed(a, b, config.clone());
        self.link_directed(b, a, config);
    }

    /// Join `from` to `to` in one direction, replacing any earlier link that way.
    pub fn link_directed(&mut self, from: HostId, to: HostId, config: LinkConfig) {
        self.links.insert((from, to), Link::new(config));
    }

    /// Install the per-packet hook, run before the link's random faults.
    pub fn set_filter(&mut self, f: impl FnMut(&PacketInfo) -> Verdict + 'static) {
        self.filter = Some(Box::new(f));
    }

    /// Remove the per-packet hook.
    pub fn clear_filter(&mut self) {
        self.filter = None;
    }

    /// The virtual clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The node of host `h`.
    pub fn node(&self, h: HostId) -> &N {
        &self.hosts[h.0].node
    }

    /// The node of host `h`, to change; its transmits and timeout are not looked at until it is
    /// next touched. Prefer [`with_node`](Self::with_node).
    pub fn node_mut(&mut self, h: HostId) -> &mut N {
        &mut self.hosts[h.0].node
    }

    /// The name host `h` was added with.
    pub fn host_name(&self, h: HostId) -> &str {
        &self.hosts[h.0].name
    }

    /// The addresses host `h` owns.
    pub fn host_addrs(&self, h: HostId) -> &[IpAddr] {
        &self.hosts[h.0].addrs
    }

    /// The host owning `addr`, if any.
    pub fn host_by_addr(&self, addr: IpAddr) -> Option<HostId> {
        self.owners.get(&addr).copied()
    }

    /// Run `f` on host `h`'s node at the current time, then send what it queued and re-read
    /// its timeout.
    pub fn with_node<R>(&mut self, h: HostId, f: impl FnOnce(&mut N, Instant) -> R) -> R {
        let r = f(&mut self.hosts[h.0].node, self.now);
        self.after_touch(h);
        r
    }

    /// When the next event is due: the earliest arrival or node timeout (a past timeout counts
    /// as now). `None` when nothing is scheduled.
    pub fn next_event_time(&self) -> Option<Instant> {
        self.next_event().map(|(t, _)| t)
    }

    fn next_timeout(&self) -> Option<(Instant, HostId)> {
        self.hosts
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.timeout.map(|t| (t.max(self.now), HostId(i))))
            .min()
    }

    fn next_event(&self) -> Option<(Instant, Option<HostId>)> {
        let arrival = self.in_flight.peek_time().map(|t| (t.max(self.now), None));
        let timeout = self.next_timeout().map(|(t, h)| (t, Some(h)));
        match (arrival, timeout) {
            (Some(a), Some(t)) if t.0 < a.0 => Some(t),
            (Some(a), _) => Some(a),
            (None, t) => t,
        }
    }

    /// Advance the clock to the next event and process it; `false` if nothing is scheduled.
    pub fn step(&mut self) -> bool {
        match self.next_event() {
            None => false,
            Some((time, None)) => {
                let (_, arrival) = self.in_flight.pop().expect("peeked an arrival");
                self.now = time;
                self.deliver(arrival);
                true
            }
            Some((time, Some(h))) => {
                self.now = time;
                self.fire_timeout(h);
                true
            }
        }
    }

    /// Step through every event due at or before `deadline`, then set the clock to `deadline`
    /// (never backwards); the number of steps.
    pub fn run_until(&mut self, deadline: Instant) -> usize {
        let mut steps = 0;
        while self.next_event_time().is_some_and(|t| t <= deadline) {
            self.step();
            steps += 1;
        }
        self.now = self.now.max(deadline);
        steps
    }

    /// Step until nothing is scheduled; the number of steps, or [`SimError::StepLimit`] if
    /// events remain after `max_steps`.
    pub fn run_until_idle(&mut self, max_steps: usize) -> Result<usize, SimError> {
        self.run_while(|_| true, max_steps)
    }

    /// Step while `cond` holds and events remain; the number of steps, or
    /// [`SimError::StepLimit`] if `cond` still holds with events left after `max_steps`.
    pub fn run_while(
        &mut self,
        mut cond: impl FnMut(&Self) -> bool,
        max_steps: usize,
    ) -> Result<usize, SimError> {
        let mut steps = 0;
        while cond(self) {
            if self.next_event_time().is_none() {
                break;
            }
            if steps == max_steps {
                return Err(SimError::StepLimit { steps });
            }
            self.step();
            steps += 1;
        }
        Ok(steps)
    }

    /// Record every datagram as it leaves its sender, before any fault, to a pcap stream.
    ///
    /// Replaces (and finishes) an earlier recording. Call [`finish_pcap`](Self::finish_pcap)
    /// to flush and to learn of write errors met along the way.
    pub fn record_pcap<W: Write + 'static>(&mut self, w: W) -> Result<(), SimError> {
        let old = self
            .pcap
            .replace(PcapRecorder::new(Box::new(w) as Box<dyn Write>)?);
        old.map_or(Ok(()), PcapRecorder::finish)
    }

    /// Stop recording pcap and flush; the first write error met while recording, if any.
    pub fn finish_pcap(&mut self) -> Result<(), SimError> {
        self.pcap.take().map_or(Ok(()), PcapRecorder::finish)
    }

    /// Start or stop logging every packet's fate as [`NetEvent`]s.
    pub fn record_net_events(&mut self, on: bool) {
        match (on, &self.events) {
            (true, None) => self.events = Some(Vec::new()),
            (false, _) => self.events = None,
            (true, Some(_)) => {}
        }
    }

    /// The events logged since the last call, in the order they happened.
    pub fn take_net_events(&mut self) -> Vec<NetEvent> {
        self.events.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Counters for the link from `from` to `to`; all zero if there is none.
    pub fn link_stats(&self, from: HostId, to: HostId) -> LinkStats {
        self.links
            .get(&(from, to))
            .map(|l| l.stats)
            .unwrap_or_default()
    }

    /// Bytes waiting for the transmitter of the link from `from` to `to` right now.
    pub fn queued_bytes(&mut self, from: HostId, to: HostId) -> usize {
        let now = self.now;
        self.links
            .get_mut(&(from, to))
            .map_or(0, |l| l.queued_bytes(now))
    }

    /// Counters for datagrams that never reached a link.
    pub fn world_stats(&self) -> WorldStats {
        self.stats
    }

    /// Datagrams (copies included) scheduled to arrive.
    pub fn packets_in_flight(&self) -> usize {
        self.in_flight.len()
    }

    fn deliver(&mut self, a: Arrival) {
        if let Some(link) = self.links.get_mut(&(a.from, a.to)) {
            link.stats.delivered += 1;
            link.stats.delivered_bytes += a.bytes.len() as u64;
        }
        self.log(
            a.packet_id,
            a.from,
            a.to,
            NetEventKind::Delivered,
            a.bytes.len(),
        );
        self.hosts[a.to.0].node.handle_packet(self.now, &a.bytes);
        self.after_touch(a.to);
    }

    fn fire_timeout(&mut self, h: HostId) {
        let now = self.now;
        self.hosts[h.0].node.handle_timeout(now);
        self.after_touch(h);
        // A node that still wants a timeout at or before now right after handling one would
        // stall the clock forever; hold it off to the next microsecond so time moves on.
        let host = &mut self.hosts[h.0];
        if host.timeout.is_some_and(|t| t <= now) {
            host.timeout = Some(now + Duration::from_micros(1));
        }
    }

    /// Drain `h`'s transmits into the network, then re-read its timeout.
    fn after_touch(&mut self, h: HostId) {
        let mut buf = std::mem::take(&mut self.buf);
        while let Some(len) = self.hosts[h.0].node.poll_transmit(self.now, &mut buf) {
            self.send(h, &buf[..len.min(buf.len())]);
        }
        self.buf = buf;
        let host = &mut self.hosts[h.0];
        host.timeout = host.node.poll_timeout();
    }

    /// Route one datagram from `from` and decide its fate.
    fn send(&mut self, from: HostId, bytes: &[u8]) {
        let now = self.now;
        self.hosts[from.0].sent += 1;
        let nth_from_host = self.hosts[from.0].sent;
        if let Some(pcap) = self.pcap.as_mut() {
            pcap.record(now, bytes);
        }
        let Ok(dst) = destination(bytes) else {
            self.stats.malformed += 1;
            return;
        };
        let Some(&to) = self.owners.get(&dst) else {
            self.stats.no_route += 1;
            return;
        };
        if !self.links.contains_key(&(from, to)) {
            self.stats.no_link += 1;
            return;
        }
        let id = self.next_packet_id;
        self.next_packet_id += 1;
        let len = bytes.len();
        self.log(id, from, to, NetEventKind::Sent, len);
        // Draw before the filter so a filtered packet shifts no other packet's fate.
        let draws = Draws::take(&mut self.rng);
        let verdict = match self.filter.as_mut() {
            None => Verdict::Pass,
            Some(f) => f(&PacketInfo {
                time: now,
                from,
                to,
                nth_from_host,
                bytes,
            }),
        };
        let link = self.links.get_mut(&(from, to)).expect("checked above");
        link.stats.sent += 1;
        link.stats.bytes += len as u64;
        let mut late_copy = None;
        let extra = match verdict {
            Verdict::Pass => Duration::ZERO,
            Verdict::Delay(d) => d,
            Verdict::Duplicate(d) => {
                late_copy = Some(d);
                Duration::ZERO
            }
            Verdict::Drop => {
                link.stats.filtered += 1;
                self.log(id, from, to, NetEventKind::Filtered, len);
                return;
            }
        };
        match link.plan(now, len, extra, draws) {
            Plan::QueueDrop => self.log(id, from, to, NetEventKind::QueueDrop, len),
            Plan::Lost => self.log(id, from, to, NetEventKind::Lost, len),
            Plan::Deliver {
                arrival,
                corrupt_bit,
                duplicate_at,
                reordered,
            } => {
                let mut bytes = bytes.to_vec();
                if let Some(bit) = corrupt_bit {
                    bytes[bit / 8] ^= 1 << (bit % 8);
                    self.log(id, from, to, NetEventKind::Corrupted, len);
                }
                if reordered {
                    self.log(id, from, to, NetEventKind::Reordered, len);
                }
                if let Some(d) = late_copy {
                    if let Some(l) = self.links.get_mut(&(from, to)) {
                        l.stats.duplicated += 1;
                    }
                    self.log(id, from, to, NetEventKind::Duplicated, len);
                    self.schedule(arrival + d, id, from, to, bytes.clone());
                }
                if let Some(at) = duplicate_at {
                    self.log(id, from, to, NetEventKind::Duplicated, len);
                    let copy = bytes.clone();
                    self.schedule(arrival, id, from, to, bytes);
                    self.schedule(at, id, from, to, copy);
                } else {
                    self.schedule(arrival, id, from, to, bytes);
                }
            }
        }
    }

    fn schedule(&mut self, at: Instant, packet_id: u64, from: HostId, to: HostId, bytes: Vec<u8>) {
        let arrival = Arrival {
            packet_id,
            from,
            to,
            bytes,
        };
        self.in_flight.push(at, arrival);
    }

    fn log(&mut self, packet_id: u64, from: HostId, to: HostId, kind: NetEventKind, len: usize) {
        if let Some(events) = self.events.as_mut() {
            events.push(NetEvent {
                time: self.now,
                packet_id,
                from,
                to,
                kind,
                len,
            });
        }
    }
}
