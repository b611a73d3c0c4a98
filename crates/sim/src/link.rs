//! One direction of a link: the transmitter (bandwidth and drop-tail queue) and the random
//! faults that follow it on the wire (loss, corruption, duplication, reordering, jitter).
//!
//! A packet's fate is decided when it is sent. It first waits for the transmitter, which is busy
//! until the previous packet is serialized: departure = max(now, busy_until) + len*8/bandwidth.
//! Faults then act on the wire, so a lost packet still used its share of the bottleneck.

use std::collections::VecDeque;
use std::time::Duration;

use oxtcp_core::Instant;
use rand::RngCore;

use crate::config::LinkConfig;
use crate::trace::LinkStats;

/// The random numbers one packet consumes, always all of them and always in this order, so
/// that changing one fault's probability or filtering a packet does not shift anyone else's.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Draws {
    loss: f64,
    duplicate: f64,
    reorder: f64,
    corrupt: f64,
    corrupt_bit: u64,
    jitter: u64,
    duplicate_jitter: u64,
}

impl Draws {
    /// Take exactly seven draws from `rng`.
    pub(crate) fn take(rng: &mut impl RngCore) -> Self {
        Draws {
            loss: unit(rng.next_u64()),
            duplicate: unit(rng.next_u64()),
            reorder: unit(rng.next_u64()),
            corrupt: unit(rng.next_u64()),
            corrupt_bit: rng.next_u64(),
            jitter: rng.next_u64(),
            duplicate_jitter: rng.next_u64(),
        }
    }
}

/// A uniform float in `[0, 1)` from the top 53 bits.
fn unit(r: u64) -> f64 {
    (r >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A value in `[0, n)` by multiply-shift: one draw, never a rejection loop.
fn below(r: u64, n: u64) -> u64 {
    ((u128::from(r) * u128::from(n)) >> 64) as u64
}

/// A delay uniform in `[0, max]` at microsecond granularity.
fn jitter(r: u64, max: Duration) -> Duration {
    let max_us = u64::try_from(max.as_micros()).unwrap_or(u64::MAX - 1);
    Duration::from_micros(below(r, max_us + 1))
}

/// What the link will do with one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Dropped at the full queue, before serialization.
    QueueDrop,
    /// Serialized, then lost on the wire.
    Lost,
    /// Delivered at `arrival`, maybe altered and copied.
    Deliver {
        arrival: Instant,
        corrupt_bit: Option<usize>,
        duplicate_at: Option<Instant>,
        reordered: bool,
    },
}

/// The state of one link direction.
pub(crate) struct Link {
    pub(crate) config: LinkConfig,
    pub(crate) stats: LinkStats,
    /// When the transmitter finishes the last accepted packet, in nanoseconds.
    busy_until_ns: u128,
    /// Packets accepted but not yet started serializing: (start time in ns, length).
    waiting: VecDeque<(u128, usize)>,
    waiting_bytes: usize,
}

impl Link {
    /// A fresh, idle link.
    pub(crate) fn new(config: LinkConfig) -> Self {
        Link {
            config,
            stats: LinkStats::default(),
            busy_until_ns: 0,
            waiting: VecDeque::new(),
            waiting_bytes: 0,
        }
    }

    /// Bytes waiting for the transmitter at `now`.
    pub(crate) fn queued_bytes(&mut self, now: Instant) -> usize {
        self.forget_started(nanos(now));
        self.waiting_bytes
    }

    fn forget_started(&mut self, now_ns: u128) {
        while let Some(&(start, len)) = self.waiting.front() {
            if start > now_ns {
                break;
            }
            self.waiting.pop_front();
            self.waiting_bytes -= len;
        }
    }

    /// When a `len`-byte packet handed over at `now` leaves the transmitter, or `None` if the
    /// queue has no room for it.
    fn depart(&mut self, now: Instant, len: usize) -> Option<Instant> {
        let Some(bps) = self.config.bandwidth_bps else {
            return Some(now);
        };
        let now_ns = nanos(now);
        self.forget_started(now_ns);
        let start = now_ns.max(self.busy_until_ns);
        if start > now_ns {
            if self
                .config
                .queue_bytes
                .is_some_and(|cap| self.waiting_bytes + len > cap)
            {
                return None;
            }
            self.waiting.push_back((start, len));
            self.waiting_bytes += len;
        }
        // A zero rate would never finish; treat it as 1 bit/s rather than divide by zero.
        let tx_ns = (len as u128 * 8 * 1_000_000_000).div_ceil(u128::from(bps.max(1)));
        self.busy_until_ns = start + tx_ns;
        Some(micros_ceil(self.busy_until_ns))
    }

    /// Decide the fate of a `len`-byte packet sent at `now`, with `extra` delay from the
    /// filter, and count it. `len` must be non-zero for corruption to pick a bit.
    pub(crate) fn plan(&mut self, now: Instant, len: usize, extra: Duration, d: Draws) -> Plan {
        let Some(departure) = self.depart(now, len) else {
            self.stats.queue_dropped += 1;
            return Plan::QueueDrop;
        };
        let c = &self.config;
        if d.loss < c.loss {
            self.stats.lost += 1;
            return Plan::Lost;
        }
        let mut arrival = departure + c.latency + jitter(d.jitter, c.jitter) + extra;
        let corrupt_bit = (d.corrupt < c.corrupt && len > 0).then(|| {
            self.stats.corrupted += 1;
            below(d.corrupt_bit, len as u64 * 8) as usize
        });
        // The copy appears downstream of the transmitter: it takes no bandwidth and trails the
        // original by at least a microsecond plus its own jitter.
        let duplicate_at = (d.duplicate < c.duplicate).then(|| {
            self.stats.duplicated += 1;
            arrival + Duration::from_micros(1) + jitter(d.duplicate_jitter, c.jitter)
        });
        let reordered = d.reorder < c.reorder;
        if reordered {
            self.stats.reordered += 1;
            arrival += c.reorder_delay;
        }
        Plan::Deliver {
            arrival,
            corrupt_bit,
            duplicate_at,
            reordered,
        }
    }
}

fn nanos(t: Instant) -> u128 {
    u128::from(t.as_micros()) * 1000
}

fn micros_ceil(ns: u128) -> Instant {
    Instant::from_micros(u64::try_from(ns.div_ceil(1000)).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Draws = Draws {
        loss: 0.99,
        duplicate: 0.99,
        reorder: 0.99,
        corrupt: 0.99,
        corrupt_bit: 0,
        jitter: 0,
        duplicate_jitter: 0,
    };

    fn at(us: u64) -> Instant {
        Instant::from_micros(us)
    }

    fn arrival(p: Plan) -> Instant {
        match p {
            Plan::Deliver { arrival, .. } => arrival,
            other => panic!("expected delivery, got {other:?}"),
        }
    }

    #[test]
    fn back_to_back_packets_queue_behind_the_transmitter() {
        // 8 Mbit/s: 1000 bytes take 1 ms to serialize; latency 1 ms.
        let mut link = Link::new(LinkConfig::default().with_bandwidth(8_000_000));
        assert_eq!(
            arrival(link.plan(at(0), 1000, Duration::ZERO, NONE)),
            at(2000)
        );
        assert_eq!(
            arrival(link.plan(at(0), 1000, Duration::ZERO, NONE)),
            at(3000)
        );
        assert_eq!(link.queued_bytes(at(0)), 1000);
        assert_eq!(
            link.queued_bytes(at(1000)),
            0,
            "second packet started serializing"
        );
        // After the transmitter goes idle, a packet pays only its own serialization.
        assert_eq!(
            arrival(link.plan(at(5000), 500, Duration::ZERO, NONE)),
            at(6500)
        );
    }

    #[test]
    fn full_queue_drops_the_tail_but_not_the_packet_on_the_wire() {
        let cfg = LinkConfig::default()
            .with_bandwidth(8_000_000)
            .with_queue(1500);
        let mut link = Link::new(cfg);
        assert!(matches!(
            link.plan(at(0), 1000, Duration::ZERO, NONE),
            Plan::Deliver { .. }
        ));
        assert!(matches!(
            link.plan(at(0), 1000, Duration::ZERO, NONE),
            Plan::Deliver { .. }
        ));
        assert_eq!(
            link.plan(at(0), 1000, Duration::ZERO, NONE),
            Plan::QueueDrop
        );
        assert_eq!(link.plan(at(0), 501, Duration::ZERO, NONE), Plan::QueueDrop);
        assert!(matches!(
            link.plan(at(0), 500, Duration::ZERO, NONE),
            Plan::Deliver { .. }
        ));
        assert_eq!(link.stats.queue_dropped, 2);
    }

    #[test]
    fn multiply_shift_stays_in_range() {
        assert_eq!(below(u64::MAX, 10), 9);
        assert_eq!(below(0, 10), 0);
        assert_eq!(
            jitter(u64::MAX, Duration::from_micros(3)),
            Duration::from_micros(3)
        );
        assert_eq!(jitter(u64::MAX, Duration::ZERO), Duration::ZERO);
        assert!(unit(u64::MAX) < 1.0);
    }
}
