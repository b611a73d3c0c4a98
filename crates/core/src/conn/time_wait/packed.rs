//! TIME-WAIT packed for the stack's table of released entries: the fields `TimeWait` works
//! with, in 48 bytes for IPv4 (72 for IPv6). A segment or timeout for a packed entry unpacks
//! it, is handled by `TimeWait` exactly as for a connection the application still holds, and
//! packs the result back.
//!
//! What packing gives up: the ISS and IRS (only `info` read them; a packed entry reports 0),
//! and sub-millisecond precision of two times that only ever meet coarse limits: when TS.Recent
//! was set (RFC 7323 §5.5's 24 days) and when the last ACK to an unacceptable segment went out
//! (`invalid_ack_interval`). Both are kept as wrapping milliseconds, exact while an entry
//! lives less than 24 days, which 2×MSL always is.

use crate::seq::SeqNum;
use crate::time::Instant;
use crate::tuple::PackedTuple;

use super::{TimeWait, TsEcho};

const HAS_TS: u8 = 1;
const HAS_INVALID_ACK: u8 = 2;
/// The entry has ended; its place in the stack's table waits to be reclaimed.
const GONE: u8 = 4;

/// A released connection in TIME-WAIT as the stack stores it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PackedTimeWait<K> {
    /// When 2×MSL runs out.
    deadline: Instant,
    tuple: K,
    snd_nxt: u32,
    rcv_nxt: u32,
    ts_recent: u32,
    ts_offset: u32,
    /// When TS.Recent was set, in wrapping milliseconds.
    ts_recent_ms: u32,
    /// When the last ACK to an unacceptable segment went out, in wrapping milliseconds.
    invalid_ack_ms: u32,
    window: u16,
    shift: u8,
    flags: u8,
}

impl<K: PackedTuple> PackedTimeWait<K> {
    /// `tw` packed, if its 4-tuple is of family `K`. An ACK it still owes is not kept: the
    /// caller sends it first.
    pub(crate) fn pack(tw: &TimeWait) -> Option<Self> {
        let tuple = K::pack(&tw.tuple)?;
        let mut flags = 0;
        let (ts_recent, ts_offset, ts_recent_ms) = match tw.ts {
            Some(ts) => {
                flags |= HAS_TS;
                (ts.recent, ts.offset, ts.recent_age.wrapping_ms())
            }
            None => (0, 0, 0),
        };
        let invalid_ack_ms = match tw.last_invalid_ack {
            Some(t) => {
                flags |= HAS_INVALID_ACK;
                t.wrapping_ms()
            }
            None => 0,
        };
        Some(PackedTimeWait {
            deadline: tw.deadline,
            tuple,
            snd_nxt: tw.snd_nxt.get(),
            rcv_nxt: tw.rcv_nxt.get(),
            ts_recent,
            ts_offset,
            ts_recent_ms,
            invalid_ack_ms,
            window: tw.window,
            shift: tw.shift,
            flags,
        })
    }

    /// The working form again, at `now`.
    pub(crate) fn unpack(&self, now: Instant) -> TimeWait {
        TimeWait {
            tuple: self.tuple.unpack(),
            iss: SeqNum::new(0),
            irs: SeqNum::new(0),
            snd_nxt: SeqNum::new(self.snd_nxt),
            rcv_nxt: SeqNum::new(self.rcv_nxt),
            window: self.window,
            shift: self.shift,
            ts: (self.flags & HAS_TS != 0).then(|| TsEcho {
                recent: self.ts_recent,
                recent_age: now.before_wrapping_ms(self.ts_recent_ms),
                offset: self.ts_offset,
            }),
            deadline: self.deadline,
            last_invalid_ack: (self.flags & HAS_INVALID_ACK != 0)
                .then(|| now.before_wrapping_ms(self.invalid_ack_ms)),
            ack_due: false,
        }
    }

    /// When 2×MSL runs out.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The packed 4-tuple.
    pub(crate) fn tuple(&self) -> &K {
        &self.tuple
    }

    /// Mark the entry ended, for a table that reclaims its place later.
    pub(crate) fn set_gone(&mut self) {
        self.flags |= GONE;
    }

    pub(crate) fn is_gone(&self) -> bool {
        self.flags & GONE != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tuple::{FourTuple, V4Tuple, V6Tuple};
    use std::time::Duration;

    fn tw(tuple: FourTuple, ts: bool) -> TimeWait {
        let now = Instant::from_secs(100);
        TimeWait {
            tuple,
            iss: SeqNum::new(0),
            irs: SeqNum::new(0),
            snd_nxt: SeqNum::new(7),
            rcv_nxt: SeqNum::new(u32::MAX),
            window: 513,
            shift: 7,
            ts: ts.then(|| TsEcho {
                recent: 99,
                recent_age: Instant::from_millis(99_250),
                offset: 0xdead_beef,
            }),
            deadline: now + Duration::from_secs(60),
            last_invalid_ack: ts.then(|| Instant::from_millis(99_900)),
            ack_due: false,
        }
    }

    #[test]
    fn a_packed_entry_unpacks_to_the_same_time_wait_to_the_millisecond() {
        let v4 = FourTuple {
            local: "10.0.0.1:80".parse().unwrap(),
            remote: "10.0.0.2:4000".parse().unwrap(),
        };
        let now = Instant::from_secs(130);
        for ts in [false, true] {
            let before = tw(v4, ts);
            let after = PackedTimeWait::<V4Tuple>::pack(&before)
                .unwrap()
                .unpack(now);
            assert_eq!(format!("{before:?}"), format!("{after:?}"));
        }
        assert!(PackedTimeWait::<V6Tuple>::pack(&tw(v4, true)).is_none());
        assert_eq!(std::mem::size_of::<PackedTimeWait<V4Tuple>>(), 48);
    }

    #[test]
    fn wrapping_milliseconds_survive_the_wrap() {
        let then = Instant::from_millis((1u64 << 32) - 5);
        let now = Instant::from_millis((1u64 << 32) + 10);
        assert_eq!(now.before_wrapping_ms(then.wrapping_ms()), then);
    }
}
