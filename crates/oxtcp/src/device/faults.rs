//! Seeded faults around any device, in both directions: loss, duplication, reordering and
//! delay. These machines' kernels have no netem; this wrapper is how a real peer (the Linux
//! kernel behind a TUN) is tested under faults, and a seed makes the fault pattern repeatable.
//!
//! Every datagram is first dropped with probability `loss`, else copied once more with
//! probability `dup`; each copy is then held for `delay`, and with probability `reorder` for
//! an extra 1–3 × max(delay, 1 ms), so datagrams sent after it overtake it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::Device;

/// Fault rates, applied independently to each direction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Faults {
    /// Probability that a datagram is dropped.
    pub loss: f64,
    /// Probability that a datagram is delivered twice.
    pub dup: f64,
    /// Probability that a datagram is held back behind later ones.
    pub reorder: f64,
    /// Delay added to every datagram.
    pub delay: Duration,
    /// Seed of the fault pattern.
    pub seed: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            loss: 0.0,
            dup: 0.0,
            reorder: 0.0,
            delay: Duration::ZERO,
            seed: 1,
        }
    }
}

impl Faults {
    /// Check that every rate is a probability.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("loss", self.loss),
            ("dup", self.dup),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("--{name} must be between 0 and 1, got {p}"));
            }
        }
        Ok(())
    }

    /// Whether any fault is switched on.
    pub fn any(&self) -> bool {
        self.loss > 0.0 || self.dup > 0.0 || self.reorder > 0.0 || !self.delay.is_zero()
    }
}

/// What the injector did, readable while the runtime owns the device.
#[derive(Debug, Default)]
pub struct FaultCounters {
    /// Datagrams dropped on their way in (device → stack).
    pub dropped_in: AtomicU64,
    /// Datagrams dropped on their way out (stack → device).
    pub dropped_out: AtomicU64,
    /// Extra copies made, both directions.
    pub duplicated: AtomicU64,
    /// Datagrams held back to be overtaken, both directions.
    pub reordered: AtomicU64,
    /// Datagrams passed through (each copy counts), both directions.
    pub delivered: AtomicU64,
}

impl FaultCounters {
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// (dropped_in, dropped_out, duplicated, reordered, delivered).
    pub fn snapshot(&self) -> (u64, u64, u64, u64, u64) {
        (
            self.dropped_in.load(Ordering::Relaxed),
            self.dropped_out.load(Ordering::Relaxed),
            self.duplicated.load(Ordering::Relaxed),
            self.reordered.load(Ordering::Relaxed),
            self.delivered.load(Ordering::Relaxed),
        )
    }
}

/// A datagram waiting for its release time; `order` keeps equal times first-in first-out.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Held {
    at: Instant,
    order: u64,
    packet: Vec<u8>,
}

#[derive(Debug, Default)]
struct Pen {
    heap: BinaryHeap<Reverse<Held>>,
}

impl Pen {
    fn due(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.heap.peek().is_some_and(|h| h.0.at <= now) {
            self.heap.pop().map(|h| h.0.packet)
        } else {
            None
        }
    }

    fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|h| h.0.at)
    }
}

/// Most datagrams the injector holds per direction; beyond that it drops, like a full queue.
const PEN_LIMIT: usize = 65536;

/// A device with seeded faults in both directions.
pub struct FaultyDevice<D> {
    inner: D,
    faults: Faults,
    rng: ChaCha8Rng,
    order: u64,
    inbound: Pen,
    outbound: Pen,
    counters: Arc<FaultCounters>,
    scratch: Vec<u8>,
}

impl<D: Device> FaultyDevice<D> {
    /// Wrap `inner` with `faults`.
    pub fn new(inner: D, faults: Faults) -> FaultyDevice<D> {
        FaultyDevice {
            scratch: vec![0; inner.mtu().max(65536)],
            inner,
            rng: ChaCha8Rng::seed_from_u64(faults.seed),
            faults,
            order: 0,
            inbound: Pen::default(),
            outbound: Pen::default(),
            counters: Arc::default(),
        }
    }

    /// Counters that stay readable after the device moves into a runtime.
    pub fn counters(&self) -> Arc<FaultCounters> {
        self.counters.clone()
    }

    /// Decide one datagram's fate and pen its copies.
    fn admit(&mut self, now: Instant, packet: &[u8], outbound: bool) {
        let f = self.faults;
        if self.rng.gen_bool(f.loss) {
            FaultCounters::bump(if outbound {
                &self.counters.dropped_out
            } else {
                &self.counters.dropped_in
            });
            return;
        }
        let copies = if self.rng.gen_bool(f.dup) {
            FaultCounters::bump(&self.counters.duplicated);
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut at = now + f.delay;
            if self.rng.gen_bool(f.reorder) {
                FaultCounters::bump(&self.counters.reordered);
                let unit = f.delay.max(Duration::from_millis(1));
                at += unit * self.rng.gen_range(1..=3);
            }
            let pen = if outbound {
                &mut self.outbound
            } else {
                &mut self.inbound
            };
            if pen.heap.len() >= PEN_LIMIT {
                continue;
            }
            self.order += 1;
            pen.heap.push(Reverse(Held {
                at,
                order: self.order,
                packet: packet.to_vec(),
            }));
        }
    }

    fn release_outbound(&mut self, now: Instant) {
        while let Some(p) = self.outbound.due(now) {
            FaultCounters::bump(&self.counters.delivered);
            // A failed send is one more loss; TCP recovers it.
            let _ = self.inner.send(now, &p);
        }
    }
}

impl<D: Device> Device for FaultyDevice<D> {
    fn recv(&mut self, now: Instant, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // Pull what the inner device has (bounded per turn), then release what is due.
        for _ in 0..256 {
            let mut scratch = std::mem::take(&mut self.scratch);
            let got = self.inner.recv(now, &mut scratch);
            let r = match got {
                Ok(Some(n)) => {
                    self.admit(now, &scratch[..n], false);
                    Ok(true)
                }
                Ok(None) => Ok(false),
                Err(e) => Err(e),
            };
            self.scratch = scratch;
            if !r? {
                break;
            }
        }
        match self.inbound.due(now) {
            Some(p) => {
                FaultCounters::bump(&self.counters.delivered);
                let n = p.len().min(buf.len());
                buf[..n].copy_from_slice(&p[..n]);
                Ok(Some(n))
            }
            None => Ok(None),
        }
    }

    fn send(&mut self, now: Instant, packet: &[u8]) -> io::Result<()> {
        self.admit(now, packet, true);
        self.release_outbound(now);
        Ok(())
    }

    fn flush(&mut self, now: Instant) -> io::Result<()> {
        self.release_outbound(now);
        self.inner.flush(now)
    }

    fn poll_at(&self) -> Option<Instant> {
        [
            self.inbound.next(),
            self.outbound.next(),
            self.inner.poll_at(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn fd(&self) -> RawFd {
        self.inner.fd()
    }

    fn mtu(&self) -> usize {
        self.inner.mtu()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::MemoryDevice;

    fn drain(d: &mut impl Device, now: Instant) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        while let Some(n) = d.recv(now, &mut buf).unwrap() {
            out.push(buf[..n].to_vec());
        }
        out
    }

    /// What came out, and the counters' snapshot.
    type Outcome = (Vec<Vec<u8>>, (u64, u64, u64, u64, u64));

    fn run(faults: Faults, n: u8) -> Outcome {
        let (a, mut b) = MemoryDevice::pair(1500).unwrap();
        let mut a = FaultyDevice::new(a, faults);
        let t0 = Instant::now();
        for i in 0..n {
            a.send(t0, &[i]).unwrap();
        }
        // Let every held datagram come due.
        let later = t0 + Duration::from_secs(10);
        a.flush(later).unwrap();
        (drain(&mut b, later), a.counters().snapshot())
    }

    #[test]
    fn no_faults_passes_everything_in_order() {
        let (got, _) = run(Faults::default(), 50);
        assert_eq!(got, (0..50).map(|i| vec![i]).collect::<Vec<_>>());
    }

    #[test]
    fn loss_dup_reorder_happen_at_about_their_rates_and_repeat_per_seed() {
        let f = Faults {
            loss: 0.2,
            dup: 0.2,
            reorder: 0.2,
            delay: Duration::from_millis(5),
            seed: 7,
        };
        let (got, (_, dropped, dup, reord, delivered)) = run(f, 200);
        assert!((20..=60).contains(&dropped), "dropped {dropped}");
        assert!((15..=60).contains(&dup), "dup {dup}");
        assert!(reord > 10, "reordered {reord}");
        assert_eq!(delivered as usize, got.len());
        assert_eq!(got.len() as u64, 200 - dropped + dup);
        assert!(
            got.windows(2).any(|w| w[0][0] > w[1][0]),
            "nothing reordered"
        );
        let (again, _) = run(f, 200);
        assert_eq!(got, again, "same seed, same pattern");
        let (other, _) = run(Faults { seed: 8, ..f }, 200);
        assert_ne!(got, other);
    }

    #[test]
    fn delay_holds_until_due_and_reports_its_deadline() {
        let (a, mut b) = MemoryDevice::pair(1500).unwrap();
        let f = Faults {
            delay: Duration::from_millis(20),
            ..Faults::default()
        };
        let mut a = FaultyDevice::new(a, f);
        let t0 = Instant::now();
        a.send(t0, b"x").unwrap();
        assert_eq!(a.poll_at(), Some(t0 + Duration::from_millis(20)));
        assert!(drain(&mut b, t0).is_empty());
        a.flush(t0 + Duration::from_millis(19)).unwrap();
        assert!(drain(&mut b, t0).is_empty());
        a.flush(t0 + Duration::from_millis(20)).unwrap();
        assert_eq!(drain(&mut b, t0), vec![b"x".to_vec()]);
        assert_eq!(a.poll_at(), None);
    }

    #[test]
    fn inbound_direction_has_faults_too() {
        let (mut a, b) = MemoryDevice::pair(1500).unwrap();
        let f = Faults {
            loss: 0.5,
            seed: 3,
            ..Faults::default()
        };
        let mut b = FaultyDevice::new(b, f);
        let t0 = Instant::now();
        for i in 0..100u8 {
            a.send(t0, &[i]).unwrap();
        }
        let got = drain(&mut b, t0);
        let (dropped_in, ..) = b.counters().snapshot();
        assert_eq!(got.len() as u64 + dropped_in, 100);
        assert!((25..=75).contains(&dropped_in), "dropped {dropped_in}");
    }

    #[test]
    fn rejects_rates_outside_zero_to_one() {
        assert!(Faults {
            loss: 1.5,
            ..Faults::default()
        }
        .validate()
        .is_err());
        assert!(Faults::default().validate().is_ok());
    }
}
