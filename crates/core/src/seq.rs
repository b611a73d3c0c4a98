//! TCP sequence numbers: 32-bit, modulo 2^32 (RFC 9293 §3.4).
//!
//! `SeqNum` deliberately has no `Ord`: sequence space wraps, so "less than" only makes sense
//! between numbers less than 2^31 apart. Comparisons go through `before`/`after`, which use the
//! signed distance, and arithmetic always wraps, so nothing here can panic.

use std::fmt;

/// A sequence number in the 32-bit circular sequence space.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(u32);

impl SeqNum {
    /// The sequence number with raw value `n`.
    pub const fn new(n: u32) -> SeqNum {
        SeqNum(n)
    }

    /// The raw 32-bit value.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// `self + n`, wrapping at 2^32.
    #[must_use]
    pub const fn add(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(n))
    }

    /// `self - n`, wrapping at 2^32.
    #[must_use]
    pub const fn sub(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(n))
    }

    /// Signed distance from `other` to `self`: positive when `self` is after `other`.
    pub const fn dist(self, other: SeqNum) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// Forward distance from `earlier` to `self`, modulo 2^32.
    pub const fn since(self, earlier: SeqNum) -> u32 {
        self.0.wrapping_sub(earlier.0)
    }

    /// `self < other` in sequence space.
    pub const fn before(self, other: SeqNum) -> bool {
        self.dist(other) < 0
    }

    /// `self <= other` in sequence space.
    pub const fn before_eq(self, other: SeqNum) -> bool {
        self.dist(other) <= 0
    }

    /// `self > other` in sequence space.
    pub const fn after(self, other: SeqNum) -> bool {
        self.dist(other) > 0
    }

    /// `self >= other` in sequence space.
    pub const fn after_eq(self, other: SeqNum) -> bool {
        self.dist(other) >= 0
    }

    /// `start <= self < start + len`: in the window of `len` numbers from `start`.
    pub const fn in_window(self, start: SeqNum, len: u32) -> bool {
        self.since(start) < len
    }

    /// The later of two numbers.
    #[must_use]
    pub const fn max(self, other: SeqNum) -> SeqNum {
        if self.after(other) {
            self
        } else {
            other
        }
    }
}

impl fmt::Debug for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SeqNum({})", self.0)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn comparisons_wrap_at_two_to_the_32() {
        let top = SeqNum::new(u32::MAX);
        let zero = top.add(1);
        assert_eq!(zero, SeqNum::new(0));
        assert!(top.before(zero));
        assert!(zero.after(top));
        assert_eq!(zero.since(top), 1);
        assert_eq!(top.dist(zero), -1);
        assert!(zero.in_window(top, 2));
        assert!(!zero.sub(2).in_window(top, 2));
    }

    proptest! {
        #[test]
        fn before_and_after_are_antisymmetric(a: u32, d in 1u32..(1 << 31)) {
            let x = SeqNum::new(a);
            let y = x.add(d);
            prop_assert!(x.before(y));
            prop_assert!(y.after(x));
            prop_assert!(!y.before_eq(x));
            prop_assert_eq!(y.since(x), d);
            prop_assert_eq!(y.sub(d), x);
        }

        #[test]
        fn in_window_matches_forward_distance(a: u32, start: u32, len: u32) {
            let s = SeqNum::new(start);
            let x = SeqNum::new(a);
            prop_assert_eq!(x.in_window(s, len), a.wrapping_sub(start) < len);
        }
    }
}
