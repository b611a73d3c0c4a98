//! TCP control bits (RFC 9293 §3.1, with ECE and CWR from RFC 3168 §23.2).

use core::fmt;
use core::ops::{BitOr, BitOrAssign};

/// The eight TCP control bits of header byte 13.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(u8);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// Push function.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// Acknowledgment field is significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// Urgent pointer field is significant.
    pub const URG: TcpFlags = TcpFlags(0x20);
    /// ECN-Echo (RFC 3168).
    pub const ECE: TcpFlags = TcpFlags(0x40);
    /// Congestion Window Reduced (RFC 3168).
    pub const CWR: TcpFlags = TcpFlags(0x80);
    /// No flags set.
    pub const EMPTY: TcpFlags = TcpFlags(0);

    /// Display order: SYN first, as in tcpdump-style traces.
    const NAMES: [(TcpFlags, &'static str); 8] = [
        (Self::SYN, "SYN"),
        (Self::FIN, "FIN"),
        (Self::RST, "RST"),
        (Self::PSH, "PSH"),
        (Self::ACK, "ACK"),
        (Self::URG, "URG"),
        (Self::ECE, "ECE"),
        (Self::CWR, "CWR"),
    ];

    /// Flags from the raw header byte.
    pub const fn from_bits(bits: u8) -> Self {
        TcpFlags(bits)
    }

    /// The raw header byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// True if every flag in `other` is set in `self`.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Sets the flags in `f`.
    pub fn insert(&mut self, f: TcpFlags) {
        self.0 |= f.0;
    }

    /// Clears the flags in `f`.
    pub fn remove(&mut self, f: TcpFlags) {
        self.0 &= !f.0;
    }

    /// Flags set in either operand.
    pub const fn union(self, other: TcpFlags) -> Self {
        TcpFlags(self.0 | other.0)
    }

    /// True if no flag is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// SYN is set.
    pub fn syn(self) -> bool {
        self.contains(Self::SYN)
    }

    /// FIN is set.
    pub fn fin(self) -> bool {
        self.contains(Self::FIN)
    }

    /// RST is set.
    pub fn rst(self) -> bool {
        self.contains(Self::RST)
    }

    /// PSH is set.
    pub fn psh(self) -> bool {
        self.contains(Self::PSH)
    }

    /// ACK is set.
    pub fn ack(self) -> bool {
        self.contains(Self::ACK)
    }

    /// URG is set.
    pub fn urg(self) -> bool {
        self.contains(Self::URG)
    }

    /// ECE is set.
    pub fn ece(self) -> bool {
        self.contains(Self::ECE)
    }

    /// CWR is set.
    pub fn cwr(self) -> bool {
        self.contains(Self::CWR)
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        self.union(rhs)
    }
}

impl BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.insert(rhs);
    }
}

impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let mut first = true;
        for (flag, name) in Self::NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_orders_syn_before_fin_and_ack() {
        let all = TcpFlags::from_bits(0xff);
        assert_eq!(all.to_string(), "SYN|FIN|RST|PSH|ACK|URG|ECE|CWR");
        assert_eq!((TcpFlags::ACK | TcpFlags::SYN).to_string(), "SYN|ACK");
        assert_eq!(format!("{:?}", TcpFlags::FIN | TcpFlags::ACK), "FIN|ACK");
        assert_eq!(TcpFlags::EMPTY.to_string(), "none");
        assert_eq!(format!("{:?}", TcpFlags::default()), "none");
    }

    #[test]
    fn insert_remove_contains() {
        let mut f = TcpFlags::EMPTY;
        f |= TcpFlags::SYN;
        f.insert(TcpFlags::ACK);
        assert!(f.syn() && f.ack() && !f.fin() && !f.rst() && !f.psh() && !f.urg());
        assert!(f.contains(TcpFlags::SYN.union(TcpFlags::ACK)));
        assert!(!f.contains(TcpFlags::SYN | TcpFlags::FIN));
        f.remove(TcpFlags::SYN);
        assert_eq!(f, TcpFlags::ACK);
        assert_eq!(f.bits(), 0x10);
        f.remove(TcpFlags::ACK);
        assert!(f.is_empty());
        assert!(TcpFlags::from_bits(0xc0).ece() && TcpFlags::from_bits(0xc0).cwr());
    }
}
