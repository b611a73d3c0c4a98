//! The checksum's long runs summed with AVX2, where the processor has it (x86-64 only).
//!
//! The build targets baseline x86-64, whose widest integer vectors are SSE2's; there the
//! add-with-carry loop of [`super::sum`] is the fastest we measured. Most x86-64 processors
//! in service have AVX2, and with it the compiler turns a plain widening loop into 256-bit
//! adds. The processor is asked once (std caches the answer), and the loop is called only
//! if it has AVX2: the crate's one `unsafe` block. The same loop copies as it sums, for a
//! payload copied into a datagram (`super::copy_and_sum`).
//!
//! Measured on this project's machine (AMD EPYC, x86-64 with AVX-512; one thread pinned,
//! the slice reused so it stays in the first-level cache, best of five runs): 1,448 bytes
//! at 51–76 B/ns against 37 for the add-with-carry loop, 8,948 bytes at 88 against 42–50,
//! 65,483 at 87 against 41–49. At 64 bytes the two are even, and at 40 the scalar loop is
//! faster (6.1 against 4.9 B/ns); hence [`MIN_LEN`].

/// Shorter slices are summed by the scalar loop: headers, ACKs and small segments.
pub(super) const MIN_LEN: usize = 128;

/// Bytes per block of the vector loop: sixteen 32-bit words, two 256-bit registers' worth.
pub(super) const BLOCK: usize = 64;

/// The native-endian 32-bit words of `blocks` added as integers, unfolded; `None` when the
/// processor lacks AVX2. `blocks` holds whole [`BLOCK`]s and at most 2^32 bytes, so no
/// accumulator can overflow (each takes at most 2^26 words below 2^32).
pub(super) fn sum_blocks(blocks: &[u8]) -> Option<u64> {
    run(blocks, None)
}

/// [`sum_blocks`] of `src`, copying it into `dst` (as long as `src`) in the same pass: each
/// block is loaded once, stored, and added from the registers it was loaded into.
pub(super) fn copy_sum_blocks(dst: &mut [u8], src: &[u8]) -> Option<u64> {
    debug_assert_eq!(dst.len(), src.len());
    run(src, Some(dst))
}

/// The vector loop over `src`, copying into `dst` if there is one; `None` without AVX2.
fn run(src: &[u8], dst: Option<&mut [u8]>) -> Option<u64> {
    debug_assert!(src.len() % BLOCK == 0 && src.len() as u64 <= 1 << 32);
    if !available() {
        return None;
    }
    // SAFETY: `blocks_avx2` needs nothing but the AVX2 instructions its target feature lets
    // the compiler use, and the processor was just found to have them.
    #[allow(unsafe_code)]
    let total = unsafe {
        match dst {
            None => blocks_avx2::<false>(src, &mut []),
            Some(dst) => blocks_avx2::<true>(src, dst),
        }
    };
    Some(total)
}

/// Whether this processor has AVX2 (asked once; std caches the answer).
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// The loop of [`run`], compiled with AVX2: each 32-bit word is widened to 64 bits and added
/// to one of sixteen accumulators, which the compiler keeps in four registers (a widening
/// load and an add per eight bytes, no carries to track). With `COPY`, each block is first
/// taken into a local array, which the compiler keeps in two registers, and stored into
/// `dst` from there.
#[target_feature(enable = "avx2")]
fn blocks_avx2<const COPY: bool>(src: &[u8], dst: &mut [u8]) -> u64 {
    let mut acc = [0u64; BLOCK / 4];
    let mut add = |block: &[u8]| {
        for (i, a) in acc.iter_mut().enumerate() {
            let w = &block[4 * i..4 * i + 4];
            *a += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
        }
    };
    if COPY {
        for (s, d) in src.chunks_exact(BLOCK).zip(dst.chunks_exact_mut(BLOCK)) {
            let mut block = [0u8; BLOCK];
            block.copy_from_slice(s);
            d.copy_from_slice(&block);
            add(&block);
        }
    } else {
        src.chunks_exact(BLOCK).for_each(add);
    }
    acc.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: the same integer total, one word at a time.
    fn words(blocks: &[u8]) -> u64 {
        blocks
            .chunks_exact(4)
            .map(|w| u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
            .sum()
    }

    /// Both forms of the loop: the summing one, and the copying one, which must also copy.
    #[test]
    fn vector_total_equals_the_word_total_and_copies() {
        if !available() {
            eprintln!("no AVX2 on this processor: the vector loop is never called here");
            return;
        }
        let data: Vec<u8> = (0..64 * 1100)
            .map(|i: u32| (i.wrapping_mul(97) >> 3) as u8)
            .collect();
        let ones = vec![0xffu8; 64 * 1024];
        let sizes = [0, 1, 2, 23, 1024, 1100];
        let cases = sizes.iter().map(|&n| &data[..n * BLOCK]).chain([&ones[..]]);
        for src in cases {
            let n = src.len() / BLOCK;
            assert_eq!(sum_blocks(src), Some(words(src)), "{n} blocks");
            let mut dst = vec![0x5a; src.len()];
            let copied = copy_sum_blocks(&mut dst, src);
            assert_eq!(copied, Some(words(src)), "{n} blocks, copying");
            assert!(dst == src, "{n} blocks: the copy differs");
        }
    }
}
