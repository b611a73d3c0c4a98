//! The one error type of the wire crate: every reason a datagram or segment can be rejected,
//! so that drops can be counted by cause.

/// Why parsing or emitting a packet failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Error {
    /// The buffer is shorter than a minimal header or than a length field says.
    #[error("packet truncated")]
    Truncated,
    /// The IP version nibble is not the expected one.
    #[error("wrong IP version")]
    BadVersion,
    /// An IPv4 IHL or TCP data offset is below 5 words or beyond the buffer.
    #[error("bad header length")]
    BadHeaderLen,
    /// An IP total or payload length disagrees with the header or the buffer.
    #[error("bad total length")]
    BadTotalLen,
    /// An IPv4 header checksum or a TCP checksum is wrong.
    #[error("bad checksum")]
    BadChecksum,
    /// The TCP option list is malformed.
    #[error("malformed TCP option")]
    BadOption,
    /// The IPv4 datagram is a fragment; fragments are not reassembled.
    #[error("IPv4 fragment (not reassembled)")]
    Fragmented,
    /// The IP protocol or next header is not TCP.
    #[error("not a TCP packet")]
    NotTcp,
    /// Source and destination addresses are of different families.
    #[error("source and destination address families differ")]
    AddressFamilyMismatch,
    /// The output buffer is too small for what is to be emitted.
    #[error("output buffer too small")]
    BufferTooSmall,
    /// A segment that cannot be cut into several (SYN, RST or URG set).
    #[error("SYN, RST or URG segment cannot be segmented")]
    NotSegmentable,
}

impl Error {
    /// Stable snake_case name of the cause, for counters and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Error::Truncated => "truncated",
            Error::BadVersion => "bad_version",
            Error::BadHeaderLen => "bad_header_len",
            Error::BadTotalLen => "bad_total_len",
            Error::BadChecksum => "bad_checksum",
            Error::BadOption => "bad_option",
            Error::Fragmented => "fragmented",
            Error::NotTcp => "not_tcp",
            Error::AddressFamilyMismatch => "address_family_mismatch",
            Error::BufferTooSmall => "buffer_too_small",
            Error::NotSegmentable => "not_segmentable",
        }
    }
}

/// Result with the wire [`Error`].
pub type Result<T> = core::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_snake_case_and_distinct() {
        let all = [
            Error::Truncated,
            Error::BadVersion,
            Error::BadHeaderLen,
            Error::BadTotalLen,
            Error::BadChecksum,
            Error::BadOption,
            Error::Fragmented,
            Error::NotTcp,
            Error::AddressFamilyMismatch,
            Error::BufferTooSmall,
        ];
        for (i, a) in all.iter().enumerate() {
            assert!(a.name().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert!(!a.to_string().is_empty());
            for b in &all[i + 1..] {
                assert_ne!(a.name(), b.name());
            }
        }
        assert_eq!(Error::BadChecksum.name(), "bad_checksum");
    }
}
