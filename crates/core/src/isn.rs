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
        self.isn_and_ts_offset(now, tuple).0
    }

    /// The ISN for a connection on `tuple` opened at `now`, and the offset its TSval clock
    /// runs at (RFC 7323 §7.1: a random offset per connection, so TSvals do not reveal the
    /// host's clock). Both come from one keyed hash of the 4-tuple, its low and high halves.
    ///
    /// The offset depends on the 4-tuple alone, never on the time: each new incarnation of
    /// a 4-tuple then goes on with TSvals above the last one's, which RFC 6191 needs to let
    /// its SYN end the peer's TIME-WAIT (Linux's `tcp_timewait_state_process` asks the same).
    /// An offset drawn at random per connection is below the last one half of the time, and
    /// the peer would drop that SYN until its 2×MSL ran out. A fixed ISN (`fixed`) does not
    /// fix the offset.
    pub fn isn_and_ts_offset(&self, now: Instant, tuple: &FourTuple) -> (SeqNum, u32) {
        let mut h = SipHasher24::new_with_key(&self.key);
        hash_tuple(&mut h, tuple);
        let f = h.finish();
        let ts_offset = (f >> 32) as u32;
        if let Some(v) = self.fixed {
            return (SeqNum::new(v), ts_offset);
        }
        // RFC 6528 §3: M is a timer that increments every 4 microseconds.
        let m = (now.as_micros() / 4) as u32;
        (SeqNum::new(m.wrapping_add(f as u32)), ts_offset)
    }

    /// The TSval clock offset of connections on `tuple` (`isn_and_ts_offset`).
    pub fn ts_offset(&self, tuple: &FourTuple) -> u32 {
        self.isn_and_ts_offset(Instant::ZERO, tuple).1
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
