//! The TCB's booleans, packed in one u16 (a byte each would cost the TCB 8 bytes more; see
//! `cold.rs` for the budget they count against).

/// A set of the `Flags::*` bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flags(u16);

impl Flags {
    /// Opened by a listener (a passive OPEN).
    pub(crate) const PASSIVE: u16 = 1 << 0;
    /// The application closed its write side: a FIN follows the data.
    pub(crate) const FIN_QUEUED: u16 = 1 << 1;
    /// Both SYNs carried the Window Scale option (RFC 7323 §2).
    pub(crate) const WS_OK: u16 = 1 << 2;
    /// Both SYNs carried SACK-Permitted (RFC 2018 §2): SACK blocks may be sent and are used.
    pub(crate) const SACK_OK: u16 = 1 << 3;
    /// Both SYNs carried the Timestamps option: every non-RST segment carries it (RFC 7323).
    pub(crate) const TS_OK: u16 = 1 << 4;
    /// The persist timer fired: send one byte past the window.
    pub(crate) const PROBE_NOW: u16 = 1 << 5;
    /// TCP_NODELAY: Nagle's algorithm is off.
    pub(crate) const NODELAY: u16 = 1 << 6;
    /// The application no longer holds a handle (close or abort was called).
    pub(crate) const RELEASED: u16 = 1 << 7;
    /// Our FIN has been sent: `fin_seq` holds its sequence number.
    pub(crate) const FIN_SENT: u16 = 1 << 8;
    /// A FIN from the peer arrived ahead of a gap: `ooo_fin` holds its sequence number.
    pub(crate) const OOO_FIN: u16 = 1 << 9;

    /// Whether `f` is set.
    #[inline]
    pub(crate) fn has(self, f: u16) -> bool {
        self.0 & f != 0
    }

    /// Set or clear `f`.
    #[inline]
    pub(crate) fn set(&mut self, f: u16, on: bool) {
        if on {
            self.0 |= f;
        } else {
            self.0 &= !f;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_independent() {
        let mut f = Flags::default();
        f.set(Flags::SACK_OK, true);
        f.set(Flags::OOO_FIN, true);
        assert!(f.has(Flags::SACK_OK) && f.has(Flags::OOO_FIN) && !f.has(Flags::TS_OK));
        f.set(Flags::SACK_OK, false);
        assert!(!f.has(Flags::SACK_OK) && f.has(Flags::OOO_FIN));
        f.set(Flags::OOO_FIN, false);
        assert_eq!(f, Flags::default());
    }
}
