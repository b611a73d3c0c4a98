//! SYN cookies: a listener whose SYN queue is full answers a SYN without keeping any state,
//! and rebuilds the half-open entry from the handshake's final ACK.
//!
//! The SYN-ACK's ISS is the cookie (the layout is ours; the idea is Bernstein's, as in Linux
//! and FreeBSD):
//!
//! ```text
//!  31     27 26  24 23                                  0
//! +---------+------+-------------------------------------+
//! | t mod 32| MSS  | SipHash(key, 4-tuple, peer ISN, t)  |
//! +---------+------+-------------------------------------+
//! ```
//!
//! `t` counts 64-second periods. The final ACK acknowledges ISS + 1, so ACK − 1 gives the
//! cookie back, SEQ − 1 the peer's ISN. The cookie is valid for the period it was made in and
//! the next `MAX_AGE` (so between 128 and 192 s), and a forged ACK must guess 24 bits of a
//! keyed hash for one of those periods.
//!
//! What the SYN offered that the cookie has no room for travels in the low bits of our
//! SYN-ACK's TSval, which the peer echoes in TSecr (so only when the SYN carried timestamps):
//! the Window Scale shift (4 bits, 15 = none) and SACK-Permitted (1 bit), with a marker bit.
//! Without timestamps the connection goes on without window scaling or SACK, and the SYN-ACK
//! offers neither.

use std::time::Duration;

use rand::RngCore;
use siphasher::sip::SipHasher24;
use std::hash::Hasher;

use crate::isn::hash_tuple;
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::tuple::FourTuple;

/// Length of one cookie period.
const PERIOD: Duration = Duration::from_secs(64);
/// A cookie from up to this many periods back is still accepted.
const MAX_AGE: u32 = 2;
/// The MSS values a cookie can name (3 bits): common path MSS values, largest last. The SYN's
/// MSS is rounded down to one of them.
const MSS_TABLE: [u16; 8] = [536, 1220, 1300, 1360, 1400, 1440, 1460, 8960];

/// Options carried in the low bits of the TSval.
const TS_BITS: u32 = 6;
const TS_MARK: u32 = 1 << 5;
const TS_SACK: u32 = 1 << 4;
const TS_NO_WSCALE: u32 = 0xF;

/// When a listener answers with cookies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SynCookies {
    /// Never: a SYN that finds the SYN queue full is dropped.
    Off,
    /// Once the SYN queue is full (Linux's `tcp_syncookies = 1`).
    #[default]
    WhenFull,
    /// For every SYN (Linux's `tcp_syncookies = 2`); no half-open entries at all.
    Always,
}

/// What a valid cookie's ACK tells about the SYN it answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CookieSyn {
    /// The MSS, rounded down to the table.
    pub(crate) mss: u16,
    /// The SYN's Window Scale shift, when timestamps carried it.
    pub(crate) wscale: Option<u8>,
    /// The SYN carried SACK-Permitted (only known through timestamps).
    pub(crate) sack_permitted: bool,
}

/// The keyed cookie maker and checker.
#[derive(Clone, Debug)]
pub(crate) struct CookieJar {
    key: [u8; 16],
}

impl CookieJar {
    pub(crate) fn new(rng: &mut impl RngCore) -> Self {
        let mut key = [0; 16];
        rng.fill_bytes(&mut key);
        CookieJar { key }
    }

    fn period(now: Instant) -> u32 {
        (now.as_micros() / PERIOD.as_micros() as u64) as u32
    }

    fn hash(&self, tuple: &FourTuple, peer_isn: SeqNum, t: u32) -> u32 {
        let mut h = SipHasher24::new_with_key(&self.key);
        hash_tuple(&mut h, tuple);
        h.write_u32(peer_isn.get());
        h.write_u32(t);
        (h.finish() as u32) & 0x00FF_FFFF
    }

    /// The cookie ISS for a SYN on `tuple` with ISN `peer_isn` offering `mss`, and the MSS it
    /// records.
    pub(crate) fn make(
        &self,
        now: Instant,
        tuple: &FourTuple,
        peer_isn: SeqNum,
        mss: u16,
    ) -> (SeqNum, u16) {
        let idx = MSS_TABLE.iter().rposition(|&m| m <= mss).unwrap_or(0);
        let t = Self::period(now);
        let iss = ((t & 0x1F) << 27) | ((idx as u32) << 24) | self.hash(tuple, peer_isn, t);
        (SeqNum::new(iss), MSS_TABLE[idx])
    }

    /// Check the cookie an ACK returns: `iss` is SEG.ACK − 1, `peer_isn` SEG.SEQ − 1. Returns
    /// the MSS it recorded if the cookie is ours and young enough.
    pub(crate) fn check(
        &self,
        now: Instant,
        tuple: &FourTuple,
        peer_isn: SeqNum,
        iss: SeqNum,
    ) -> Option<u16> {
        let raw = iss.get();
        let t_now = Self::period(now);
        (0..=MAX_AGE)
            .filter_map(|age| t_now.checked_sub(age))
            .find(|&t| t & 0x1F == raw >> 27 && self.hash(tuple, peer_isn, t) == raw & 0x00FF_FFFF)
            .map(|_| MSS_TABLE[((raw >> 24) & 0x7) as usize])
    }
}

/// Our SYN-ACK's TSval with the SYN's options in its low bits. It never runs ahead of the
/// clock (one granule back if the bits would), so the connection's later TSvals are never
/// older and the peer's PAWS accepts them.
pub(crate) fn encode_ts(clock: u32, wscale: Option<u8>, sack: bool) -> u32 {
    let ws = wscale.map_or(TS_NO_WSCALE, |w| u32::from(w.min(14)));
    let ts = (clock & !((1 << TS_BITS) - 1)) | TS_MARK | if sack { TS_SACK } else { 0 } | ws;
    if (ts.wrapping_sub(clock) as i32) > 0 {
        ts.wrapping_sub(1 << TS_BITS)
    } else {
        ts
    }
}

/// The options `encode_ts` put in a TSval the peer echoed.
pub(crate) fn decode_ts(tsecr: u32) -> Option<(Option<u8>, bool)> {
    if tsecr & TS_MARK == 0 {
        return None;
    }
    let ws = tsecr & 0xF;
    Some((
        (ws != TS_NO_WSCALE).then_some(ws as u8),
        tsecr & TS_SACK != 0,
    ))
}

impl CookieSyn {
    /// Rebuild what the SYN offered from the cookie's MSS and, with timestamps, the echo.
    pub(crate) fn new(mss: u16, tsecr: Option<u32>) -> CookieSyn {
        let (wscale, sack_permitted) = tsecr.and_then(decode_ts).unwrap_or((None, false));
        CookieSyn {
            mss,
            wscale,
            sack_permitted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn jar() -> CookieJar {
        CookieJar::new(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1))
    }

    fn tuple(port: u16) -> FourTuple {
        FourTuple {
            local: "10.0.0.2:80".parse().unwrap(),
            remote: format!("10.0.0.1:{port}").parse().unwrap(),
        }
    }

    fn at(secs: u64) -> Instant {
        Instant::ZERO + Duration::from_secs(secs)
    }

    #[test]
    fn a_cookie_checks_out_for_its_tuple_and_isn_within_its_lifetime() {
        let j = jar();
        let (iss, mss) = j.make(at(1000), &tuple(5000), SeqNum::new(77), 1460);
        assert_eq!(mss, 1460);
        assert_eq!(
            j.check(at(1000), &tuple(5000), SeqNum::new(77), iss),
            Some(1460)
        );
        assert_eq!(
            j.check(at(1000 + 128), &tuple(5000), SeqNum::new(77), iss),
            Some(1460)
        );
        // Too old: more than MAX_AGE periods later.
        assert_eq!(
            j.check(at(1000 + 200), &tuple(5000), SeqNum::new(77), iss),
            None
        );
        // Another tuple, another ISN, or a changed bit: no.
        assert_eq!(j.check(at(1000), &tuple(5001), SeqNum::new(77), iss), None);
        assert_eq!(j.check(at(1000), &tuple(5000), SeqNum::new(78), iss), None);
        assert_eq!(
            j.check(at(1000), &tuple(5000), SeqNum::new(77), iss.add(1)),
            None
        );
    }

    #[test]
    fn the_mss_rounds_down_to_the_table() {
        let j = jar();
        for (offered, kept) in [(1400, 1400), (1459, 1440), (9000, 8960), (100, 536)] {
            let (iss, mss) = j.make(at(5), &tuple(1), SeqNum::new(1), offered);
            assert_eq!(mss, kept);
            assert_eq!(j.check(at(5), &tuple(1), SeqNum::new(1), iss), Some(kept));
        }
    }

    #[test]
    fn random_acks_almost_never_pass() {
        let j = jar();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let passed = (0..100_000)
            .filter(|_| {
                let iss = SeqNum::new(rng.next_u32());
                j.check(at(3000), &tuple(7), SeqNum::new(rng.next_u32()), iss)
                    .is_some()
            })
            .count();
        // 3 periods × 2^-24 × 1/32 per guess: expect none in 100,000.
        assert_eq!(passed, 0);
    }

    #[test]
    fn options_ride_in_the_timestamp() {
        for clock in [123_456_789u32, 123_456_768, 5, u32::MAX] {
            let ts = encode_ts(clock, Some(7), true);
            assert!((clock.wrapping_sub(ts) as i32) >= 0, "{ts} after {clock}");
            assert!(clock.wrapping_sub(ts) < 128);
        }
        let ts = encode_ts(123_456_789, Some(7), true);
        assert_eq!(decode_ts(ts), Some((Some(7), true)));
        assert_eq!(decode_ts(encode_ts(5000, None, false)), Some((None, false)));
        assert_eq!(decode_ts(0), None);
        assert_eq!(
            CookieSyn::new(1460, Some(encode_ts(64, Some(14), false))),
            CookieSyn {
                mss: 1460,
                wscale: Some(14),
                sack_permitted: false
            }
        );
    }
}
