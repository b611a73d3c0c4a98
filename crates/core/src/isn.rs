//! Keyed hashing for the stack: initial sequence numbers (RFC 6528), ephemeral port offsets
//! (RFC 6056 §3.3.3) and the demultiplexing tables' hasher. All keys come from the stack's
//! seeded RNG, never from the OS.

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

use rand::RngCore;
use siphasher::sip::{SipHasher13, SipHasher24};

use crate::seq::SeqNum;
use crate::time::Instant;
use crate::tuple::FourTuple;

/// RFC 6528 ISN generator: ISN = M + F(4-tuple, secret), M a 4 µs clock.
#[derive(Clone, Debug)]
pub struct IsnGenerator {
    key: [u8; 16],
    /// `StackConfig::fixed_iss`: every ISN is this value (demonstrations and tests only).
    fixed: Option<u32>,
}

impl IsnGenerator {
    /// A generator with a key drawn from `rng`; with `fixed`, every ISN is that value instead.
    pub fn new(rng: &mut impl RngCore, fixed: Option<u32>) -> Self {
        let mut key = [0; 16];
        rng.fill_bytes(&mut key);
        IsnGenerator { key, fixed }
    }

    /// The ISN for a connection on `tuple` opened at `now`.
    pub fn isn(&self, now: Instant, tuple: &FourTuple) -> SeqNum {
        if let Some(v) = self.fixed {
            return SeqNum::new(v);
        }
        let mut h = SipHasher24::new_with_key(&self.key);
        hash_tuple(&mut h, tuple);
        // RFC 6528 §3: M is a timer that increments every 4 microseconds.
        let m = (now.as_micros() / 4) as u32;
        SeqNum::new(m.wrapping_add(h.finish() as u32))
    }
}

/// Feed a 4-tuple to a keyed hash.
pub(crate) fn hash_tuple(h: &mut impl Hasher, tuple: &FourTuple) {
    hash_endpoint(h, tuple.local);
    hash_endpoint(h, tuple.remote);
}

fn hash_endpoint(h: &mut impl Hasher, ep: SocketAddr) {
    match ep.ip() {
        IpAddr::V4(a) => h.write(&a.octets()),
        IpAddr::V6(a) => h.write(&a.octets()),
    }
    h.write_u16(ep.port());
}

/// A keyed SipHash-1-3 builder for the stack's hash maps: deterministic for a given seed,
/// and not predictable by a peer who wants to collide buckets.
#[derive(Clone, Debug)]
pub struct KeyedState {
    k0: u64,
    k1: u64,
}

impl KeyedState {
    /// A builder with keys drawn from `rng`.
    pub fn new(rng: &mut impl RngCore) -> Self {
        KeyedState {
            k0: rng.next_u64(),
            k1: rng.next_u64(),
        }
    }

    /// Hash of one value under this key.
    pub fn hash_one_u64<T: Hash>(&self, v: T) -> u64 {
        self.hash_one(v)
    }
}

impl BuildHasher for KeyedState {
    type Hasher = SipHasher13;
    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn tuple(port: u16) -> FourTuple {
        FourTuple::test_v4(port)
    }

    #[test]
    fn isn_advances_with_the_four_microsecond_clock() {
        let g = IsnGenerator::new(&mut ChaCha8Rng::seed_from_u64(1), None);
        let a = g.isn(Instant::from_micros(0), &tuple(1000));
        let b = g.isn(Instant::from_micros(400), &tuple(1000));
        assert_eq!(b.since(a), 100);
    }

    #[test]
    fn isn_differs_per_tuple_and_per_key() {
        let g1 = IsnGenerator::new(&mut ChaCha8Rng::seed_from_u64(1), None);
        let g2 = IsnGenerator::new(&mut ChaCha8Rng::seed_from_u64(2), None);
        let t = Instant::ZERO;
        assert_ne!(g1.isn(t, &tuple(1000)), g1.isn(t, &tuple(1001)));
        assert_ne!(g1.isn(t, &tuple(1000)), g2.isn(t, &tuple(1000)));
        assert_eq!(g1.isn(t, &tuple(1000)), g1.isn(t, &tuple(1000)));
    }

    #[test]
    fn a_fixed_iss_replaces_the_clock_and_hash() {
        let g = IsnGenerator::new(&mut ChaCha8Rng::seed_from_u64(1), Some(0xFFFF_F000));
        let a = g.isn(Instant::from_micros(0), &tuple(1000));
        let b = g.isn(Instant::from_micros(4000), &tuple(1001));
        assert_eq!((a, b), (SeqNum::new(0xFFFF_F000), SeqNum::new(0xFFFF_F000)));
    }
}
