//! The Internet checksum (RFC 1071) and the TCP pseudo-header sums for IPv4
//! (RFC 9293 §3.1) and IPv6 (RFC 8200 §8.1).
//!
//! Partial sums are kept as `u32` and combined with end-around carry, so any number of
//! pieces can be summed without overflow; [`fold`] turns a sum into the header value. Every
//! partial sum this module returns is folded to at most 0xffff, so a few may also be added
//! as plain integers and the total handed to [`fold`], which wraps the carries around.

use core::net::IpAddr;

#[cfg(target_arch = "x86_64")]
mod avx2;

/// Who takes care of a TCP checksum: this crate, or the device (checksum offload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// Computed on emit, verified on parse.
    Computed,
    /// Left to the device. On emit the field holds only the pseudo-header's sum, which the
    /// device completes (virtio-net `NEEDS_CSUM`, a NIC's transmit checksum offload). On parse
    /// it is not verified: the device vouches for it, having verified it or having taken the
    /// datagram from a local sender over no wire (virtio-net `DATA_VALID` or `NEEDS_CSUM`,
    /// Linux's `CHECKSUM_UNNECESSARY`).
    Offloaded,
}

/// Folds carries above 16 bits back into the low 16 bits (end-around carry).
///
/// The two halves are added with the carry out wrapped around (2^16 ≡ 1 modulo 2^16 − 1);
/// that cannot carry again, and the result is 0 only when `sum` is.
fn fold_carries(sum: u32) -> u32 {
    let (s, carry) = (sum as u16).overflowing_add((sum >> 16) as u16);
    u32::from(s + u16::from(carry))
}

/// Ones'-complement partial sum of big-endian 16-bit words; an odd trailing byte is padded with zero.
///
/// RFC 1071 §2 (B) and (C): the sum does not depend on byte order and may be computed in
/// wider words, so it is taken over native-endian 64-bit words with end-around carry, folded
/// to 16 bits (2^32 ≡ 2^16 ≡ 1 modulo 2^16 − 1) and, on a little-endian machine,
/// byte-swapped into the big-endian sum. Each run of words is one carry chain
/// (`add_words`), which the compiler emits as `add` then `adc` per word with the carry
/// out counted once per run; 128-byte blocks are two independent 64-byte chains, so the
/// processor overlaps them. The rest is taken 64, 32, 16 and 8 bytes at a time, then 4, 2
/// and 1, without a loop. Measured here (x86-64, baseline target; callgrind, and a timing
/// loop over slices starting at offsets 0 to 2, both loops in the same run, on a shared
/// machine whose clock wanders) against the eight-lane 32-bit vector loop before it:
/// 1,448 bytes in 298 instructions instead of 726 and 1.2–1.35× the speed (25 against
/// 19 B/ns in a typical run); 40 bytes in 53 instructions instead of 86 and 1.15–1.45× the
/// speed (5.0 against 4.1 B/ns). The 64-bit add-with-carry loop before that one lost to
/// the vector loop because it kept one chain and materialised the carry at every word.
///
/// On x86-64 a slice of `avx2::MIN_LEN` bytes or more has its whole 64-byte blocks summed
/// by 256-bit vector adds when the processor has AVX2 (`avx2.rs`), and the rest here; the
/// two partial sums combine as any two do, the rest starting at an even offset.
pub fn sum(data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if data.len() >= avx2::MIN_LEN {
        return sum_long(data);
    }
    sum_inline(data)
}

/// Which loop sums long slices on this processor: `"AVX2"` or `"add-with-carry"`. For the
/// record of a benchmark run.
pub fn long_loop() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if avx2::available() {
        return "AVX2";
    }
    "add-with-carry"
}

/// [`sum`] of a long slice: with the vector loop where the processor has AVX2, in pieces of
/// at most 2^32 bytes so that its accumulators cannot overflow. Out of line and reached by a
/// tail call, so that the short sums of headers keep [`sum`] without a stack frame.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
fn sum_long(data: &[u8]) -> u32 {
    let whole = data.len() - data.len() % avx2::BLOCK;
    let (blocks, rest) = data.split_at(whole);
    let mut acc = sum_inline(rest);
    if blocks.len() <= 1 << 32 {
        // Every datagram: one piece, without the loop.
        return match avx2::sum_blocks(blocks) {
            Some(native) => combine(acc, big_endian_sum(native)),
            None => sum_inline(data),
        };
    }
    for piece in blocks.chunks(1 << 32) {
        let Some(native) = avx2::sum_blocks(piece) else {
            // No AVX2: the tail's sum above was the only work spent in vain.
            return sum_inline(data);
        };
        acc = combine(acc, big_endian_sum(native));
    }
    acc
}

/// Copies `src` into `dst`, which must be as long, and returns [`sum`] of the bytes: a
/// payload copied into a datagram is summed on the way.
///
/// With the vector loop (`avx2.rs`) the bytes are read once: each block is loaded, stored,
/// and added from the registers it was loaded into, rather than stored and read back by a
/// second pass. Measured on this project's machine (one thread pinned, source and
/// destination reused): 65,472 bytes at 52–56 B/ns against 31–32 for a copy then a sum, and
/// 50–52 for the copy alone; 1,408 bytes at 54–58 against 35–39. Without AVX2, and for short
/// or very long slices, it is a copy and then [`sum`] of the source.
///
/// # Panics
/// If the lengths differ, as `copy_from_slice` does.
pub fn copy_and_sum(dst: &mut [u8], src: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if src.len() >= avx2::MIN_LEN && src.len() as u64 <= 1 << 32 {
        return copy_and_sum_long(dst, src);
    }
    dst.copy_from_slice(src);
    sum(src)
}

/// [`copy_and_sum`] of a slice long enough for the vector loop, and short enough to be one
/// piece of it.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
fn copy_and_sum_long(dst: &mut [u8], src: &[u8]) -> u32 {
    let whole = src.len() - src.len() % avx2::BLOCK;
    let (blocks, rest) = src.split_at(whole);
    let (dst_blocks, dst_rest) = dst.split_at_mut(whole);
    dst_rest.copy_from_slice(rest);
    let acc = sum_inline(rest);
    match avx2::copy_sum_blocks(dst_blocks, blocks) {
        Some(native) => combine(acc, big_endian_sum(native)),
        None => {
            dst_blocks.copy_from_slice(blocks);
            combine(acc, sum_inline(blocks))
        }
    }
}

/// [`sum`] of a fixed-size piece such as a 20-byte header, inlined into the caller so that
/// the length tests fold away.
#[inline]
pub(crate) fn sum_array<const N: usize>(data: &[u8; N]) -> u32 {
    sum_inline(data)
}

/// The body of [`sum`].
#[inline(always)]
fn sum_inline(data: &[u8]) -> u32 {
    let (mut acc, mut acc2, mut carries) = (0u64, 0u64, 0u64);
    let mut blocks = data.chunks_exact(128);
    for block in &mut blocks {
        let (lo, hi) = block.split_at(64);
        let (a, c) = add_words::<8>(acc, lo);
        let (a2, c2) = add_words::<8>(acc2, hi);
        (acc, acc2) = (a, a2);
        carries += u64::from(c) + u64::from(c2);
    }
    let (a, c) = acc.overflowing_add(acc2);
    acc = a;
    carries += u64::from(c);
    let mut rest = blocks.remainder();
    // Each step runs only if `rest` holds its words, so the slicing cannot fail.
    if rest.len() >= 64 {
        let (a, c) = add_words::<8>(acc, rest);
        (acc, carries, rest) = (a, carries + u64::from(c), &rest[64..]);
    }
    if rest.len() >= 32 {
        let (a, c) = add_words::<4>(acc, rest);
        (acc, carries, rest) = (a, carries + u64::from(c), &rest[32..]);
    }
    if rest.len() >= 16 {
        let (a, c) = add_words::<2>(acc, rest);
        (acc, carries, rest) = (a, carries + u64::from(c), &rest[16..]);
    }
    if rest.len() >= 8 {
        let (a, c) = add_words::<1>(acc, rest);
        (acc, carries, rest) = (a, carries + u64::from(c), &rest[8..]);
    }
    let (a, c) = acc.overflowing_add(tail_sum(rest));
    carries += u64::from(c);
    // Each carry out of 64 bits is worth 2^64 ≡ 1, so the count is added back in.
    let (a, c) = a.overflowing_add(carries);
    big_endian_sum(a + u64::from(c))
}

/// A sum of native-endian words, folded to 16 bits and, on a little-endian machine,
/// byte-swapped into the sum of the big-endian words (RFC 1071 §2 (B)).
#[inline(always)]
fn big_endian_sum(native: u64) -> u32 {
    let folded = fold64(native) as u16;
    let folded = if cfg!(target_endian = "little") {
        folded.swap_bytes()
    } else {
        folded
    };
    u32::from(folded)
}

/// Adds the first `N` native-endian 64-bit words of `bytes` to `acc` as one carry chain;
/// returns the sum and the carry out of the last word. `bytes` must hold `8 * N` bytes.
#[inline(always)]
fn add_words<const N: usize>(acc: u64, bytes: &[u8]) -> (u64, bool) {
    let (mut a, mut carry) = acc.overflowing_add(word(bytes, 0));
    for i in 1..N {
        // A carry into a word is the carry out of the one before it, so the chain is exact.
        let (s, c1) = a.overflowing_add(word(bytes, i));
        let (s, c2) = s.overflowing_add(u64::from(carry));
        (a, carry) = (s, c1 | c2);
    }
    (a, carry)
}

/// The `i`th native-endian 64-bit word of `bytes`.
#[inline(always)]
fn word(bytes: &[u8], i: usize) -> u64 {
    let b = &bytes[8 * i..8 * i + 8];
    u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// The native-endian sum of fewer than 8 trailing bytes, padded with zero.
///
/// The bytes start at a multiple of 8, so each 16-bit word keeps its alignment and a
/// 32-bit or 16-bit piece adds in as the same words a zero-padded 64-bit word would.
fn tail_sum(rest: &[u8]) -> u64 {
    let mut acc = 0;
    let mut rest = rest;
    if let [a, b, c, d, more @ ..] = rest {
        acc += u64::from(u32::from_ne_bytes([*a, *b, *c, *d]));
        rest = more;
    }
    if let [a, b, more @ ..] = rest {
        acc += u64::from(u16::from_ne_bytes([*a, *b]));
        rest = more;
    }
    if let [a] = rest {
        acc += u64::from(u16::from_ne_bytes([*a, 0]));
    }
    acc
}

/// `data` summed 16 bits at a time: the plain RFC 1071 loop, the reference for the tests.
#[cfg(test)]
fn sum_words(data: &[u8]) -> u32 {
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(2);
    for w in &mut chunks {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    fold64(acc)
}

/// A 64-bit ones'-complement sum folded to at most 16 bits (end-around carry); 0 only for 0.
fn fold64(acc: u64) -> u32 {
    // 2^32 ≡ 1 (modulo 2^16 − 1): add the halves, wrapping the carry out around, which
    // cannot carry again.
    let (s, carry) = (acc as u32).overflowing_add((acc >> 32) as u32);
    fold_carries(s + u32::from(carry))
}

/// A partial sum of bytes that begin at an odd offset of the data they are part of, made to
/// combine with the sums of the rest: folded, with its two bytes swapped (RFC 1071 §2 (B):
/// the sum of the same bytes one position over).
pub(crate) fn swapped(sum: u32) -> u32 {
    let s = fold_carries(sum);
    (s & 0xff) << 8 | s >> 8
}

/// The partial sum of bytes that begin `offset` bytes into the data they are part of, made
/// to combine with the sums of the rest: [`swapped`] at an odd offset, as it is at an even one.
pub(crate) fn at_offset(sum: u32, offset: usize) -> u32 {
    if offset % 2 == 1 {
        swapped(sum)
    } else {
        sum
    }
}

/// Adds two partial sums in ones'-complement arithmetic.
pub fn combine(a: u32, b: u32) -> u32 {
    // Both folded values are at most 0xffff, so their sum cannot overflow.
    fold_carries(fold_carries(a) + fold_carries(b))
}

/// Folds carries and returns the ones' complement: the value to put in a checksum field.
pub fn fold(sum: u32) -> u16 {
    !(fold_carries(sum) as u16)
}

/// Partial sum of the TCP/UDP pseudo-header: addresses, protocol and upper-layer length.
///
/// IPv4 (RFC 9293 §3.1) uses a 16-bit length and IPv6 (RFC 8200 §8.1) a 32-bit one; as
/// both are summed as 16-bit words, summing the 32-bit length covers both. Mixed families
/// are not meaningful, but each address is summed as given rather than panicking.
///
/// Computed from the addresses as integers rather than by summing their octets: a
/// big-endian 32-bit value `x` is the words `x >> 16` and `x & 0xffff`, and since
/// 2^16 ≡ 1 (modulo 2^16 − 1) it may be added whole (RFC 1071 §2 (C), wider words) and
/// folded once at the end.
///
/// Always inlined: every segment emitted or verified takes one, and out of line (as the
/// compiler left it once `TcpRepr::emit_with` called it directly) emitting an ACK took
/// 8 instructions more (callgrind).
#[inline(always)]
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, length: u32) -> u32 {
    let acc = address_sum(src) + address_sum(dst) + u64::from(protocol) + u64::from(length);
    fold64(acc)
}

/// An address as the sum of its big-endian 32-bit words, not folded (below 2^35).
fn address_sum(addr: IpAddr) -> u64 {
    match addr {
        IpAddr::V4(a) => u64::from(u32::from(a)),
        IpAddr::V6(a) => {
            let x = u128::from(a);
            let (hi, lo) = ((x >> 64) as u64, x as u64);
            (hi >> 32) + (hi & 0xffff_ffff) + (lo >> 32) + (lo & 0xffff_ffff)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn rfc1071_example_sums_to_ddf2() {
        // RFC 1071 §3 numerical example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold_carries(sum(&data)), 0xddf2);
        assert_eq!(fold(sum(&data)), !0xddf2);
    }

    #[test]
    fn odd_trailing_byte_is_padded_with_zero() {
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
        assert_eq!(sum(&[]), 0);
    }

    #[test]
    fn sum_is_split_invariant_on_even_boundaries() {
        let data: [u8; 9] = [0xff, 0xff, 0xff, 0xfe, 0x01, 0x02, 0x03, 0x04, 0x05];
        let whole = fold(sum(&data));
        let parts = fold(combine(sum(&data[..4]), sum(&data[4..])));
        assert_eq!(whole, parts);
    }

    #[test]
    fn large_input_does_not_overflow() {
        let data = [0xffu8; 200_000];
        assert_eq!(fold_carries(sum(&data)), 0xffff);
        assert_eq!(
            combine(u32::MAX, u32::MAX),
            fold_carries(combine(0xffff, 0xffff))
        );
    }

    #[test]
    fn pseudo_header_v4_matches_manual_sum() {
        let src = Ipv4Addr::new(10, 0, 0, 1);
        let dst = Ipv4Addr::new(10, 0, 0, 2);
        let mut manual = [0u8; 12];
        manual[..4].copy_from_slice(&src.octets());
        manual[4..8].copy_from_slice(&dst.octets());
        manual[9] = 6;
        manual[10..12].copy_from_slice(&40u16.to_be_bytes());
        assert_eq!(
            fold(pseudo_header(src.into(), dst.into(), 6, 40)),
            fold(sum(&manual))
        );
    }

    #[test]
    fn pseudo_header_v6_matches_manual_sum() {
        let src = Ipv6Addr::LOCALHOST;
        let dst = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x1234);
        let mut manual = [0u8; 40];
        manual[..16].copy_from_slice(&src.octets());
        manual[16..32].copy_from_slice(&dst.octets());
        manual[32..36].copy_from_slice(&70_000u32.to_be_bytes());
        manual[39] = 6;
        assert_eq!(
            fold(pseudo_header(src.into(), dst.into(), 6, 70_000)),
            fold(sum(&manual))
        );
    }

    proptest::proptest! {
        /// `sum` equals the plain 16-bit RFC 1071 loop for every length, content and start
        /// offset, so unaligned slices and every remainder path are covered.
        #[test]
        fn sum_equals_the_rfc1071_reference_at_any_offset(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 3..3003),
            start in 0usize..4,
            len in 0usize..3000,
        ) {
            let len = len.min(data.len() - start);
            let piece = &data[start..start + len];
            proptest::prop_assert_eq!(sum(piece), sum_words(piece));
            // `sum` hands long slices to the vector loop where it can; the scalar loop
            // must hold on its own for processors without AVX2.
            proptest::prop_assert_eq!(sum_inline(piece), sum_words(piece));
        }

        /// The integer pseudo-header sum equals the sum over its bytes laid out as on the wire.
        #[test]
        fn pseudo_header_equals_the_byte_sum(
            src4 in proptest::prelude::any::<u32>(),
            dst4 in proptest::prelude::any::<u32>(),
            src6 in proptest::prelude::any::<u128>(),
            dst6 in proptest::prelude::any::<u128>(),
            protocol in proptest::prelude::any::<u8>(),
            len in proptest::prelude::any::<u32>(),
        ) {
            let (s4, d4) = (Ipv4Addr::from(src4), Ipv4Addr::from(dst4));
            let mut v4 = [0u8; 12];
            v4[..4].copy_from_slice(&s4.octets());
            v4[4..8].copy_from_slice(&d4.octets());
            v4[9] = protocol;
            let len16 = len & 0xffff;
            v4[10..12].copy_from_slice(&(len16 as u16).to_be_bytes());
            proptest::prop_assert_eq!(
                pseudo_header(s4.into(), d4.into(), protocol, len16),
                sum(&v4)
            );
            let (s6, d6) = (Ipv6Addr::from(src6), Ipv6Addr::from(dst6));
            let mut v6 = [0u8; 40];
            v6[..16].copy_from_slice(&s6.octets());
            v6[16..32].copy_from_slice(&d6.octets());
            v6[32..36].copy_from_slice(&len.to_be_bytes());
            v6[39] = protocol;
            proptest::prop_assert_eq!(
                pseudo_header(s6.into(), d6.into(), protocol, len),
                sum(&v6)
            );
        }

        /// The wide sum equals the plain 16-bit loop for every length and content.
        #[test]
        fn wide_sum_equals_the_word_by_word_sum(data in proptest::collection::vec(0u8.., 0..3000)) {
            proptest::prop_assert_eq!(sum(&data), sum_words(&data));
        }

        /// Copying and summing gives the plain loop's sum and an exact copy, for every length
        /// (across the vector loop's threshold and block size) and start offset.
        #[test]
        fn copy_and_sum_equals_the_sum_and_copies(
            data in proptest::collection::vec(0u8.., 0..3000),
            offset in 0usize..3,
        ) {
            let src = data.get(offset..).unwrap_or(&[]);
            let mut dst = vec![0xa5u8; src.len() + 1];
            let got = copy_and_sum(&mut dst[1..], src);
            proptest::prop_assert_eq!(got, sum_words(src));
            proptest::prop_assert_eq!(&dst[1..], src);
        }
    }

    #[test]
    fn array_sum_equals_sum() {
        let data: [u8; 20] = core::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0xa5);
        assert_eq!(sum_array(&data), sum(&data));
        assert_eq!(sum_array(&[0xffu8; 20]), sum_words(&[0xffu8; 20]));
    }

    #[test]
    fn wide_sum_carries_are_counted() {
        // 0xff bytes overflow the 64-bit accumulator on the second word.
        for n in [8, 16, 24, 1448, 65_535] {
            let data = vec![0xffu8; n];
            assert_eq!(sum(&data), sum_words(&data), "{n} bytes");
        }
    }

    #[test]
    fn pseudo_header_mixed_families_does_not_panic() {
        let _ = pseudo_header(
            Ipv4Addr::LOCALHOST.into(),
            Ipv6Addr::LOCALHOST.into(),
            6,
            u32::MAX,
        );
    }
}
