//! The stack's one timer structure: a hierarchical hashed timing wheel keyed by slab index.
//!
//! Each connection slot arms at most one deadline (its earliest timer: retransmission per
//! RFC 6298, TIME-WAIT per RFC 9293 §3.10.8, SYN-ACK retry, ...), so the wheel maps a `u32` key
//! to one deadline. The structure follows Varghese and Lauck's hierarchical timing wheels:
//! schedule, cancel and reschedule are O(1), and each expiry costs amortised O(1) because an
//! entry cascades down at most once per level. Nothing here walks over idle ticks, so a driver
//! may sleep for hours and then expire everything in one call.
//!
//! Time is counted in ticks of a fixed granularity. A deadline is rounded *up* to a tick, so a
//! timer never fires before its deadline, only up to one tick late.

use std::time::Duration;

use crate::time::Instant;

/// Bits of the tick counter resolved by one level.
const SLOT_BITS: u32 = 6;
/// Buckets per level: one `u64` occupancy bitmap covers a level.
const SLOTS: usize = 1 << SLOT_BITS;
/// 11 levels of 6 bits cover all 64 bits of a tick counter, so every deadline, however far,
/// has an exact home level and no overflow list or clamping is needed.
const LEVELS: usize = 11;
/// The bucket of keys already due when scheduled; drained by the next `expire`.
const PENDING: u16 = (LEVELS * SLOTS) as u16;
/// Level buckets plus the pending bucket.
const BUCKETS: usize = LEVELS * SLOTS + 1;
/// `Entry::bucket` of a key that is not armed.
const UNARMED: u16 = u16::MAX;
/// The null link; also why key `u32::MAX` cannot be armed.
const NONE: u32 = u32::MAX;

/// Per-key state: the exact deadline and the key's links in its bucket's list (16 bytes; the
/// bucket itself is kept apart in `TimerWheel::buckets`, which would otherwise pad this to 24).
#[derive(Clone, Copy, Debug)]
struct Entry {
    deadline: Instant,
    prev: u32,
    next: u32,
}

impl Entry {
    const UNARMED: Entry = Entry {
        deadline: Instant::ZERO,
        prev: NONE,
        next: NONE,
    };
}

/// A hierarchical timing wheel holding at most one deadline per `u32` key.
///
/// Memory is a fixed 18 bytes per key up to the largest key ever scheduled (keys are meant to
/// be dense slab indices) plus about 6 KiB of bucket heads. Key `u32::MAX` is reserved as the
/// list sentinel: scheduling it is ignored.
#[derive(Clone, Debug)]
pub struct TimerWheel {
    /// Tick length in microseconds, at least 1.
    tick_us: u64,
    /// The wheel's clock in ticks: every deadline tick `<= elapsed` has been handed out or is
    /// in the pending bucket, and every entry on a level has a deadline tick `> elapsed`.
    elapsed: u64,
    entries: Vec<Entry>,
    /// The bucket each key's entry is in, or `UNARMED`; parallel to `entries`.
    buckets: Vec<u16>,
    head: Vec<u32>,
    tail: Vec<u32>,
    /// Bit `s` of `occupied[l]` is set iff bucket `(l, s)` is non-empty.
    occupied: [u64; LEVELS],
    /// Bit `l` is set iff `occupied[l]` is non-zero, so the earliest level is one
    /// `trailing_zeros` away rather than a scan of the levels.
    levels: u16,
    /// A lower bound on the deadline ticks in the pending bucket (stale after a cancel, which
    /// only makes `next_expiry` earlier, never later).
    pending_floor: u64,
    len: usize,
}

impl TimerWheel {
    /// Bytes the wheel keeps per key: its entry and its bucket number.
    pub const BYTES_PER_KEY: usize = std::mem::size_of::<Entry>() + std::mem::size_of::<u16>();

    /// A wheel whose clock starts at `now`, with granularity `tick` (e.g. 1 ms; must be >= 1 µs).
    pub fn new(now: Instant, tick: Duration) -> Self {
        // Deviation from the brief's "must": a tick below 1 µs is treated as 1 µs rather than
        // panicking, since `Instant` cannot resolve anything finer anyway.
        let tick_us = u64::try_from(tick.as_micros()).unwrap_or(u64::MAX).max(1);
        let mut wheel = TimerWheel {
            tick_us,
            elapsed: 0,
            entries: Vec::new(),
            buckets: Vec::new(),
            head: vec![NONE; BUCKETS],
            tail: vec![NONE; BUCKETS],
            occupied: [0; LEVELS],
            levels: 0,
            pending_floor: u64::MAX,
            len: 0,
        };
        wheel.elapsed = wheel.now_tick(now);
        wheel
    }

    /// Arm (or re-arm, replacing any previous deadline) the timer of `key`.
    ///
    /// A deadline at or before the wheel's current time fires at the next expire(). O(1).
    pub fn schedule(&mut self, key: u32, deadline: Instant) {
        if key == NONE {
            return;
        }
        let idx = key as usize;
        if idx >= self.entries.len() {
            // `resize` reserves geometrically, so growth is amortised O(1) per new key.
            self.entries.resize(idx + 1, Entry::UNARMED);
            self.buckets.resize(idx + 1, UNARMED);
        }
        if self.buckets[idx] == UNARMED {
            self.len += 1;
        } else {
            self.unlink(key);
        }
        self.entries[idx].deadline = deadline;
        let tick = self.deadline_tick(deadline);
        let bucket = self.bucket_for(tick);
        if bucket == PENDING {
            self.pending_floor = self.pending_floor.min(tick);
        }
        self.link(key, bucket);
    }

    /// Disarm `key`'s timer if armed. O(1).
    pub fn cancel(&mut self, key: u32) {
        if self.is_armed(key) {
            self.unlink(key);
            self.buckets[key as usize] = UNARMED;
            self.len -= 1;
        }
    }

    /// The deadline `key` is armed for, exactly as scheduled.
    pub fn deadline(&self, key: u32) -> Option<Instant> {
        self.is_armed(key)
            .then(|| self.entries[key as usize].deadline)
    }

    /// When the caller must call expire() next: never later than the earliest armed deadline
    /// rounded up to a tick, possibly earlier (a coarse bucket's start, where entries cascade
    /// down). None if nothing is armed. O(1).
    pub fn next_expiry(&self) -> Option<Instant> {
        if self.head[PENDING as usize] != NONE {
            return Some(self.tick_instant(self.pending_floor));
        }
        self.next_bucket()
            .map(|(_, start)| self.tick_instant(start))
    }

    /// Advance the clock to `now` and push every key whose deadline rounded up to its tick is
    /// <= now into `out`, each once, disarming it.
    ///
    /// Keys come out in deadline-tick order; keys that were already due when scheduled come
    /// first, in the order they were scheduled. Ties keep a deterministic order. Time going
    /// backwards only drains those already-due keys.
    pub fn expire(&mut self, now: Instant, out: &mut Vec<u32>) {
        // Everything pending is due at or before `elapsed`, hence before anything on a level.
        let mut key = self.detach(PENDING);
        while key != NONE {
            key = self.fire(key, out);
        }
        self.pending_floor = u64::MAX;

        let target = self.now_tick(now);
        if target <= self.elapsed {
            return;
        }
        // Visit only non-empty buckets, earliest first; the lowest occupied level always holds
        // the earliest bucket, so idle stretches of any length cost nothing.
        while let Some((bucket, start)) = self.next_bucket() {
            if start > target {
                break;
            }
            self.elapsed = start;
            let mut key = self.detach(bucket);
            while key != NONE {
                let tick = self.deadline_tick(self.entries[key as usize].deadline);
                if tick <= start {
                    key = self.fire(key, out);
                } else {
                    // Still in the future: it lands on a strictly lower level, which bounds
                    // the cascades per entry by the number of levels.
                    let next = self.entries[key as usize].next;
                    let bucket = self.bucket_for(tick);
                    self.link(key, bucket);
                    key = next;
                }
            }
        }
        self.elapsed = target;
    }

    /// The number of armed keys.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no key is armed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn is_armed(&self, key: u32) -> bool {
        self.buckets
            .get(key as usize)
            .is_some_and(|&b| b != UNARMED)
    }

    /// The tick a deadline rounds up to, so a timer never fires early.
    fn deadline_tick(&self, deadline: Instant) -> u64 {
        deadline.as_micros().div_ceil(self.tick_us)
    }

    /// The instant a tick begins, saturating at the end of time.
    fn tick_instant(&self, tick: u64) -> Instant {
        Instant::from_micros(tick.saturating_mul(self.tick_us))
    }

    /// The last tick whose instant is `<= now`.
    fn now_tick(&self, now: Instant) -> u64 {
        if now.as_micros() == u64::MAX {
            // Ticks past the representable range saturate to `u64::MAX` in `tick_instant`, so
            // the end of time is when they (and hence every deadline) fall due.
            self.deadline_tick(now)
        } else {
            now.as_micros() / self.tick_us
        }
    }

    /// The bucket for a deadline tick: the level is the highest 6-bit digit in which the tick
    /// differs from the clock, the slot that digit's value.
    fn bucket_for(&self, tick: u64) -> u16 {
        if tick <= self.elapsed {
            return PENDING;
        }
        let level = (63 - (tick ^ self.elapsed).leading_zeros()) / SLOT_BITS;
        let slot = (tick >> (level * SLOT_BITS)) as usize & (SLOTS - 1);
        (level as usize * SLOTS + slot) as u16
    }

    /// The earliest non-empty level bucket and the tick it starts at.
    fn next_bucket(&self) -> Option<(u16, u64)> {
        if self.levels == 0 {
            return None;
        }
        let level = self.levels.trailing_zeros() as usize;
        let slot = u64::from(self.occupied[level].trailing_zeros());
        let shift = level as u32 * SLOT_BITS;
        // The clock's digits above this level are shared by every entry on it.
        let above = (self.elapsed >> shift >> SLOT_BITS).checked_shl(shift + SLOT_BITS);
        let start = above.unwrap_or(0) | slot << shift;
        Some(((level * SLOTS) as u16 + slot as u16, start))
    }

    /// Disarm `key` (already detached from its list), report it, and return its successor.
    fn fire(&mut self, key: u32, out: &mut Vec<u32>) -> u32 {
        self.buckets[key as usize] = UNARMED;
        self.len -= 1;
        out.push(key);
        self.entries[key as usize].next
    }

    /// Append `key` to `bucket`; appending keeps ties in a deterministic first-come order.
    fn link(&mut self, key: u32, bucket: u16) {
        let b = bucket as usize;
        let tail = self.tail[b];
        self.buckets[key as usize] = bucket;
        let entry = &mut self.entries[key as usize];
        entry.prev = tail;
        entry.next = NONE;
        if tail == NONE {
            self.head[b] = key;
        } else {
            self.entries[tail as usize].next = key;
        }
        self.tail[b] = key;
        if bucket != PENDING {
            self.occupied[b / SLOTS] |= 1 << (b % SLOTS);
            self.levels |= 1 << (b / SLOTS);
        }
    }

    /// Remove armed `key` from its bucket's list (its `bucket` field is left for the caller).
    fn unlink(&mut self, key: u32) {
        let Entry { prev, next, .. } = self.entries[key as usize];
        let bucket = self.buckets[key as usize];
        let b = bucket as usize;
        if prev == NONE {
            self.head[b] = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next == NONE {
            self.tail[b] = prev;
        } else {
            self.entries[next as usize].prev = prev;
        }
        if self.head[b] == NONE && bucket != PENDING {
            self.clear_bit(b);
        }
    }

    /// Mark level bucket `b` empty in the occupancy bitmaps.
    fn clear_bit(&mut self, b: usize) {
        let level = b / SLOTS;
        self.occupied[level] &= !(1 << (b % SLOTS));
        if self.occupied[level] == 0 {
            self.levels &= !(1 << level);
        }
    }

    /// Empty `bucket` in O(1), returning the head of its former list for the caller to walk.
    fn detach(&mut self, bucket: u16) -> u32 {
        let b = bucket as usize;
        let head = self.head[b];
        self.head[b] = NONE;
        self.tail[b] = NONE;
        if bucket != PENDING {
            self.clear_bit(b);
        }
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    const MS: Duration = Duration::from_millis(1);

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    fn us(n: u64) -> Instant {
        Instant::from_micros(n)
    }

    fn expired(w: &mut TimerWheel, now: Instant) -> Vec<u32> {
        let mut out = Vec::new();
        w.expire(now, &mut out);
        w.check_invariants();
        out
    }

    /// Deadline rounded up to a tick, computed independently of the wheel (in u128).
    fn rounded(deadline: Instant, tick_us: u64) -> u64 {
        let d = u128::from(deadline.as_micros());
        let t = u128::from(tick_us);
        u64::try_from(d.div_ceil(t) * t).unwrap_or(u64::MAX)
    }

    impl TimerWheel {
        /// Check every structural invariant the O(1) operations rely on.
        fn check_invariants(&self) {
            let mut seen = 0;
            for b in 0..BUCKETS {
                let mut prev = NONE;
                let mut key = self.head[b];
                while key != NONE {
                    let e = self.entries[key as usize];
                    assert_eq!(self.buckets[key as usize] as usize, b);
                    assert_eq!(e.prev, prev);
                    let tick = self.deadline_tick(e.deadline);
                    if b == PENDING as usize {
                        assert!(tick <= self.elapsed);
                        assert!(self.pending_floor <= tick);
                    } else {
                        assert!(tick > self.elapsed);
                        assert_eq!(self.bucket_for(tick) as usize, b);
                    }
                    seen += 1;
                    prev = key;
                    key = e.next;
                }
                assert_eq!(self.tail[b], prev);
                if b < LEVELS * SLOTS {
                    let bit = self.occupied[b / SLOTS] >> (b % SLOTS) & 1;
                    assert_eq!(bit == 1, self.head[b] != NONE);
                }
            }
            for (l, &occ) in self.occupied.iter().enumerate() {
                assert_eq!(self.levels >> l & 1 == 1, occ != 0, "level {l}");
            }
            assert_eq!(seen, self.len);
            let armed = self.buckets.iter().filter(|&&b| b != UNARMED).count();
            assert_eq!(armed, self.len);
        }
    }

    #[test]
    fn fires_at_rounded_up_tick_never_before_deadline() {
        let mut w = TimerWheel::new(ms(0), MS);
        w.schedule(1, us(2_500));
        w.schedule(2, ms(5));
        assert_eq!(w.next_expiry(), Some(ms(3)));
        assert!(expired(&mut w, us(2_999)).is_empty());
        assert_eq!(expired(&mut w, ms(3)), [1]);
        assert_eq!(w.next_expiry(), Some(ms(5)));
        assert!(expired(&mut w, us(4_999)).is_empty());
        assert_eq!(expired(&mut w, ms(5)), [2]);
        assert!(w.is_empty());
        assert_eq!(w.next_expiry(), None);
    }

    #[test]
    fn deadline_in_the_past_fires_at_next_expire_even_if_time_went_back() {
        let mut w = TimerWheel::new(ms(100), MS);
        w.schedule(7, ms(40));
        w.schedule(8, ms(100));
        assert_eq!(w.next_expiry(), Some(ms(40)));
        assert_eq!(expired(&mut w, ms(10)), [7, 8]);
        assert!(w.is_empty());
    }

    #[test]
    fn reschedule_replaces_previous_deadline() {
        let mut w = TimerWheel::new(ms(0), MS);
        w.schedule(3, ms(10));
        w.schedule(3, ms(500));
        assert_eq!(w.len(), 1);
        assert_eq!(w.deadline(3), Some(ms(500)));
        assert!(expired(&mut w, ms(499)).is_empty());
        w.schedule(3, ms(200)); // earlier than the clock now: due immediately
        assert_eq!(expired(&mut w, ms(499)), [3]);
        assert!(expired(&mut w, ms(10_000)).is_empty());
    }

    #[test]
    fn cancel_removes_and_is_idempotent() {
        let mut w = TimerWheel::new(ms(0), MS);
        w.cancel(9); // never armed, beyond the table
        for k in 0..5 {
            w.schedule(k, ms(10 + u64::from(k)));
        }
        w.cancel(2);
        w.cancel(2);
        assert_eq!(w.len(), 4);
        assert_eq!(w.deadline(2), None);
        w.check_invariants();
        assert_eq!(expired(&mut w, ms(100)), [0, 1, 3, 4]);
    }

    #[test]
    fn draining_by_next_expiry_terminates_in_bounded_iterations() {
        let mut w = TimerWheel::new(ms(0), MS);
        let mut deadlines = BTreeMap::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for key in 0..200u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Spread over every level, up to the end of time.
            let deadline = us(x >> (x % 64));
            w.schedule(key, deadline);
            deadlines.insert(key, deadline);
        }
        let mut fired = BTreeSet::new();
        let mut rounds = 0;
        while let Some(t) = w.next_expiry() {
            let now = t;
            for key in expired(&mut w, now) {
                assert!(rounded(deadlines[&key], 1_000) <= now.as_micros());
                assert!(fired.insert(key));
            }
            rounds += 1;
            assert!(rounds <= 200 * LEVELS + 1);
        }
        assert_eq!(fired.len(), 200);
    }

    #[test]
    fn big_jump_fires_everything_due_in_deadline_tick_order() {
        let mut w = TimerWheel::new(ms(0), MS);
        let deadlines = [
            900_000, 3, 70_000, 64, 4_096, 1, 262_144, 65, 63, 5_000_000, 4_097,
        ];
        for (key, &d) in deadlines.iter().enumerate() {
            w.schedule(key as u32, ms(d));
        }
        w.schedule(99, ms(5_000_001)); // not yet due
        let out = expired(&mut w, ms(5_000_000));
        let mut want: Vec<u32> = (0..deadlines.len() as u32).collect();
        want.sort_by_key(|&k| deadlines[k as usize]);
        assert_eq!(out, want);
        assert_eq!(w.len(), 1);
        assert_eq!(w.next_expiry(), Some(ms(5_000_001)));
    }

    #[test]
    fn extreme_instants_and_ticks_never_overflow() {
        for tick in [Duration::ZERO, Duration::from_micros(1), MS, Duration::MAX] {
            let end = Instant::from_micros(u64::MAX);
            let mut w = TimerWheel::new(us(u64::MAX - 5), tick);
            w.schedule(0, end);
            w.schedule(1, us(u64::MAX - 1));
            w.schedule(2, Instant::ZERO);
            assert!(w.next_expiry().is_some());
            let mut out = expired(&mut w, end);
            out.sort_unstable();
            assert_eq!(out, [0, 1, 2]);
            w.schedule(3, end);
            assert_eq!(expired(&mut w, end), [3]);
            w.schedule(u32::MAX, end); // the reserved sentinel key is ignored
            assert!(w.is_empty());
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Schedule(u32, i64),
        Far(u32, u64),
        Cancel(u32),
        Expire(i64),
        ExpireAtNext,
        EndOfTime,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..24u32, -3_000i64..200_000).prop_map(|(k, d)| Op::Schedule(k, d)),
            1 => (0..24u32, any::<u64>()).prop_map(|(k, d)| Op::Far(k, d)),
            2 => (0..24u32).prop_map(Op::Cancel),
            3 => (-2_000i64..100_000).prop_map(Op::Expire),
            2 => Just(Op::ExpireAtNext),
            1 => (any::<i64>()).prop_map(Op::Expire),
            1 => Just(Op::EndOfTime),
        ]
    }

    fn offset(t: Instant, by: i64) -> Instant {
        Instant::from_micros(t.as_micros().saturating_add_signed(by))
    }

    /// Runs `ops` against the wheel and a reference `BTreeMap`, returning every expire's output.
    fn run(start: u64, tick_us: u64, ops: &[Op]) -> Vec<Vec<u32>> {
        let mut w = TimerWheel::new(us(start), Duration::from_micros(tick_us));
        let mut model: BTreeMap<u32, Instant> = BTreeMap::new();
        let mut clock = us(start);
        let mut log = Vec::new();
        for op in ops {
            let now = match *op {
                Op::Schedule(k, d) => {
                    w.schedule(k, offset(clock, d));
                    model.insert(k, offset(clock, d));
                    None
                }
                Op::Far(k, d) => {
                    w.schedule(k, us(d));
                    model.insert(k, us(d));
                    None
                }
                Op::Cancel(k) => {
                    w.cancel(k);
                    model.remove(&k);
                    None
                }
                Op::Expire(by) => Some(offset(clock, by)),
                Op::ExpireAtNext => w.next_expiry(),
                Op::EndOfTime => Some(us(u64::MAX)),
            };
            if let Some(now) = now {
                let before = clock;
                clock = clock.max(now);
                let out = expired(&mut w, now);
                let due: BTreeSet<u32> = model
                    .iter()
                    .filter(|(_, &d)| rounded(d, tick_us) <= clock.as_micros())
                    .map(|(&k, _)| k)
                    .collect();
                assert_eq!(out.iter().copied().collect::<BTreeSet<_>>(), due);
                assert_eq!(out.len(), due.len(), "a key fired twice");
                // Overdue keys rank as due at the old clock; the rest by rounded deadline.
                let rank = |k: &u32| rounded(model[k], tick_us).max(before.as_micros());
                assert!(out.windows(2).all(|p| rank(&p[0]) <= rank(&p[1])));
                for k in &out {
                    model.remove(k);
                }
                log.push(out);
            }
            w.check_invariants();
            assert_eq!(w.len(), model.len());
            for k in 0..24 {
                assert_eq!(w.deadline(k), model.get(&k).copied());
            }
            let earliest = model.values().map(|&d| rounded(d, tick_us)).min();
            match (w.next_expiry(), earliest) {
                (None, None) => {}
                (Some(t), Some(e)) => assert!(t.as_micros() <= e),
                other => panic!("next_expiry disagrees with the model: {other:?}"),
            }
        }
        // Whatever is left drains in a bounded number of next_expiry/expire rounds.
        let mut rounds = 0;
        while let Some(t) = w.next_expiry() {
            let out = expired(&mut w, t);
            for k in &out {
                assert!(model.remove(k).is_some());
            }
            rounds += 1;
            assert!(rounds <= 24 * LEVELS + 1);
        }
        assert!(model.is_empty());
        log
    }

    proptest! {
        #[test]
        fn matches_reference_model(
            start in prop_oneof![0..1_000_000u64, Just(u64::MAX - 50_000), any::<u64>()],
            tick_us in prop_oneof![Just(1u64), Just(7), Just(1_000), Just(1_024), Just(1_000_000)],
            ops in prop::collection::vec(op(), 0..200),
        ) {
            run(start, tick_us, &ops);
        }

        #[test]
        fn order_is_deterministic(
            tick_us in prop_oneof![Just(1u64), Just(1_000)],
            ops in prop::collection::vec(op(), 0..100),
        ) {
            prop_assert_eq!(run(0, tick_us, &ops), run(0, tick_us, &ops));
        }
    }
}
