//! The attacker: a node that owns no address and emits raw, spoofed IP datagrams at a fixed
//! rate, each built by a generator the attack supplies.

use std::time::Duration;

use oxtcp_core::Instant;
use oxtcp_sim::Node;

use super::Rng;

/// Builds the `n`th attack datagram into `buf`; its length (0 to skip it).
pub type Generator = Box<dyn FnMut(u64, &mut Rng, &mut [u8]) -> usize>;

/// How often the attacker wakes up; each wake-up emits the datagrams due by then.
const TICK: Duration = Duration::from_millis(1);

/// Emits `total` datagrams at `rate` per simulated second from `start`.
pub struct Attacker {
    generator: Option<Generator>,
    rng: Rng,
    start: Instant,
    rate: u64,
    total: u64,
    next_tick: Instant,
    /// Datagrams due but not yet emitted.
    due: u64,
    /// Datagrams emitted so far.
    pub sent: u64,
    /// Datagrams the generator skipped (length 0).
    pub skipped: u64,
    /// When the last datagram left.
    pub last_sent_at: Option<Instant>,
    /// Datagrams that reached the attacker (nothing should: it owns no address).
    pub received: u64,
}

impl Attacker {
    /// An attacker of `total` datagrams at `rate` per second from `start`; it stays idle until
    /// it is given a generator.
    pub fn new(seed: u64, start: Instant, rate: u64, total: u64) -> Attacker {
        Attacker {
            generator: None,
            rng: Rng::new(seed),
            start,
            rate: rate.max(1),
            total,
            next_tick: start,
            due: 0,
            sent: 0,
            skipped: 0,
            last_sent_at: None,
            received: 0,
        }
    }

    /// Start (or change) what is sent.
    pub fn set_generator(&mut self, g: Generator) {
        self.generator = Some(g);
    }

    /// Stop sending: nothing more is due.
    pub fn stop(&mut self) {
        self.total = self.sent + self.skipped;
        self.due = 0;
    }

    /// Every datagram has been emitted.
    pub fn finished(&self) -> bool {
        self.sent + self.skipped >= self.total
    }

    /// How long the whole attack lasts at its rate.
    pub fn duration(rate: u64, total: u64) -> Duration {
        Duration::from_secs_f64(total as f64 / rate.max(1) as f64)
    }

    /// Datagrams due by `now` since the start, over the whole run.
    fn due_by(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.start);
        ((elapsed.as_secs_f64() * self.rate as f64).floor() as u64 + 1).min(self.total)
    }
}

impl Node for Attacker {
    fn handle_packet(&mut self, _now: Instant, _packet: &[u8]) {
        self.received += 1;
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let generator = self.generator.as_mut()?;
        while self.due > 0 {
            self.due -= 1;
            let n = self.sent + self.skipped;
            let len = generator(n, &mut self.rng, buf);
            if len == 0 {
                self.skipped += 1;
                continue;
            }
            self.sent += 1;
            self.last_sent_at = Some(now);
            return Some(len);
        }
        None
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        (self.generator.is_some() && !self.finished()).then_some(self.next_tick)
    }

    fn handle_timeout(&mut self, now: Instant) {
        if now < self.next_tick || self.generator.is_none() {
            return;
        }
        let done = self.sent + self.skipped + self.due;
        self.due += self.due_by(now).saturating_sub(done);
        self.next_tick = now + TICK;
    }
}
