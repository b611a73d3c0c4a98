//! Compact time for the TCB: `Option<Instant>` and `Option<Duration>` in 8 bytes instead of
//! 16. A TCB holds half a dozen timers and timestamps that are mostly unset, and `Instant` (a
//! u64 of microseconds) leaves Rust no niche for the `None`; a `Duration` is 16 bytes.
//!
//! `Deadline`: `u64::MAX` microseconds (half a million years after the epoch) stands for
//! "unset"; an instant that far out, which only saturating arithmetic can produce, is kept
//! one microsecond earlier.
//!
//! `Span`: seconds as u32 and nanoseconds, exact up to 136 years (beyond, the seconds
//! saturate); a nanosecond count past 999,999,999 stands for "unset". Arithmetic stays with
//! `Duration`. (The RTT estimator keeps its own nanosecond counts, `conn::rtt`.)

use std::time::Duration;

use crate::time::Instant;

/// An optional instant, 8 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadline(u64);

impl Deadline {
    /// Unset.
    pub(crate) const NONE: Deadline = Deadline(u64::MAX);

    /// Set to `t`.
    pub(crate) const fn at(t: Instant) -> Deadline {
        let us = t.as_micros();
        Deadline(if us == u64::MAX { u64::MAX - 1 } else { us })
    }

    /// The instant, if set.
    #[inline]
    pub(crate) const fn get(self) -> Option<Instant> {
        if self.0 == u64::MAX {
            None
        } else {
            Some(Instant::from_micros(self.0))
        }
    }

    pub(crate) const fn is_some(self) -> bool {
        self.0 != u64::MAX
    }

    pub(crate) const fn is_none(self) -> bool {
        self.0 == u64::MAX
    }

    /// Set and due at `now`.
    pub(crate) const fn is_due(self, now: Instant) -> bool {
        self.0 != u64::MAX && self.0 <= now.as_micros()
    }

    /// The earlier of two; unset counts as later than any instant.
    #[inline]
    pub(crate) fn min(self, other: Deadline) -> Deadline {
        Deadline(self.0.min(other.0))
    }

    /// The instant, if set, leaving it unset.
    pub(crate) fn take(&mut self) -> Option<Instant> {
        std::mem::replace(self, Deadline::NONE).get()
    }

    /// Set to `t` unless already set.
    pub(crate) fn get_or_insert(&mut self, t: Instant) {
        if self.is_none() {
            *self = Deadline::at(t);
        }
    }
}

impl Default for Deadline {
    fn default() -> Deadline {
        Deadline::NONE
    }
}

impl From<Option<Instant>> for Deadline {
    fn from(t: Option<Instant>) -> Deadline {
        t.map_or(Deadline::NONE, Deadline::at)
    }
}

impl std::fmt::Debug for Deadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// An optional duration, 8 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    secs: u32,
    nanos: u32,
}

impl Span {
    /// Unset.
    pub(crate) const NONE: Span = Span {
        secs: 0,
        nanos: u32::MAX,
    };

    /// Set to `d`.
    #[inline]
    pub(crate) fn of(d: Duration) -> Span {
        match u32::try_from(d.as_secs()) {
            Ok(secs) => Span {
                secs,
                nanos: d.subsec_nanos(),
            },
            Err(_) => Span {
                secs: u32::MAX,
                nanos: 999_999_999,
            },
        }
    }

    /// The duration, if set.
    #[inline]
    pub(crate) fn get(self) -> Option<Duration> {
        (self.nanos != u32::MAX).then(|| self.or_zero())
    }

    /// The duration; zero if unset.
    #[inline]
    pub(crate) fn or_zero(self) -> Duration {
        if self.nanos == u32::MAX {
            Duration::ZERO
        } else {
            Duration::new(u64::from(self.secs), self.nanos)
        }
    }
}

impl From<Option<Duration>> for Span {
    fn from(d: Option<Duration>) -> Span {
        d.map_or(Span::NONE, Span::of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_eight_bytes() {
        assert_eq!(std::mem::size_of::<Deadline>(), 8);
        assert_eq!(Deadline::NONE.get(), None);
        assert_eq!(Deadline::default(), Deadline::NONE);
        let t = Instant::from_millis(5);
        let mut d = Deadline::at(t);
        assert_eq!(d.get(), Some(t));
        assert!(d.is_due(t) && !d.is_due(Instant::from_millis(4)));
        d.get_or_insert(Instant::ZERO);
        assert_eq!(d.take(), Some(t));
        assert!(d.is_none() && !d.is_due(t));
        assert_eq!(d.min(Deadline::at(t)).get(), Some(t));
        assert_eq!(
            Deadline::at(t).min(Deadline::at(Instant::ZERO)).get(),
            Some(Instant::ZERO)
        );
        assert_eq!(
            Deadline::from(Some(Instant::ZERO)).get(),
            Some(Instant::ZERO)
        );
        // The end of time stays set, a microsecond short.
        let end = Instant::from_micros(u64::MAX);
        assert_eq!(
            Deadline::at(end).get(),
            Some(Instant::from_micros(u64::MAX - 1))
        );
    }
}
