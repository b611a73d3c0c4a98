//! How one direction of a link behaves: delay, bandwidth, queue and random faults.

use std::time::Duration;

/// The behaviour of one direction of a link, in the spirit of Linux netem plus a rate limiter.
///
/// Probabilities are per packet, in `[0, 1]`; values outside are clamped by the comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// One-way propagation delay.
    pub latency: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]` per packet; it can reorder packets.
    pub jitter: Duration,
    /// Serialization rate in bits per second; `None` sends any size instantly.
    pub bandwidth_bps: Option<u64>,
    /// Drop-tail limit on bytes waiting for the transmitter (not counting the packet being
    /// serialized); `None` is unbounded. Only meaningful with a bandwidth.
    pub queue_bytes: Option<usize>,
    /// Probability that a packet is lost on the wire (after it was serialized).
    pub loss: f64,
    /// Probability that a packet arrives twice; the copy comes a little after the original.
    pub duplicate: f64,
    /// Probability that a packet is held back an extra `reorder_delay` so later ones overtake it.
    pub reorder: f64,
    /// How long a reordered packet is held back.
    pub reorder_delay: Duration,
    /// Probability that one random bit of the packet is flipped.
    pub corrupt: f64,
}

impl Default for LinkConfig {
    /// 1 ms latency, infinite bandwidth, no faults.
    fn default() -> Self {
        LinkConfig {
            latency: Duration::from_millis(1),
            jitter: Duration::ZERO,
            bandwidth_bps: None,
            queue_bytes: None,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(2),
            corrupt: 0.0,
        }
    }
}

impl LinkConfig {
    /// The default link with random loss `loss`.
    pub fn lossy(loss: f64) -> Self {
        LinkConfig::default().with_loss(loss)
    }

    /// With this one-way latency.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// With extra uniform delay in `[0, jitter]`.
    pub fn with_jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// With a serialization rate of `bps` bits per second.
    pub fn with_bandwidth(mut self, bps: u64) -> Self {
        self.bandwidth_bps = Some(bps);
        self
    }

    /// With a drop-tail queue of `bytes` waiting bytes.
    pub fn with_queue(mut self, bytes: usize) -> Self {
        self.queue_bytes = Some(bytes);
        self
    }

    /// With loss probability `p`.
    pub fn with_loss(mut self, p: f64) -> Self {
        self.loss = p;
        self
    }

    /// With duplication probability `p`.
    pub fn with_duplicate(mut self, p: f64) -> Self {
        self.duplicate = p;
        self
    }

    /// With reordering probability `p`, holding such packets back by `delay`.
    pub fn with_reorder(mut self, p: f64, delay: Duration) -> Self {
        self.reorder = p;
        self.reorder_delay = delay;
        self
    }

    /// With single-bit corruption probability `p`.
    pub fn with_corrupt(mut self, p: f64) -> Self {
        self.corrupt = p;
        self
    }
}
