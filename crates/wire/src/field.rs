//! Bounds-checked big-endian field access shared by the header views.
//!
//! Views built with `new_unchecked` may sit on buffers shorter than a header; rather than
//! panicking, reads past the end return zero and writes past the end are dropped. Views built
//! with `new_checked` never reach those paths.

/// Returns `N` bytes at `at`, or `None` if they are not all inside `buf`.
pub(crate) fn bytes<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    buf.get(at..)?.get(..N)?.try_into().ok()
}

/// Reads a byte, or 0 past the end.
pub(crate) fn get_u8(buf: &[u8], at: usize) -> u8 {
    buf.get(at).copied().unwrap_or(0)
}

/// Reads a big-endian u16, or 0 past the end.
pub(crate) fn get_u16(buf: &[u8], at: usize) -> u16 {
    bytes(buf, at).map(u16::from_be_bytes).unwrap_or(0)
}

/// Reads a big-endian u32, or 0 past the end.
pub(crate) fn get_u32(buf: &[u8], at: usize) -> u32 {
    bytes(buf, at).map(u32::from_be_bytes).unwrap_or(0)
}

/// Writes `src` at `at` if it fits entirely; otherwise writes nothing.
pub(crate) fn set_bytes(buf: &mut [u8], at: usize, src: &[u8]) {
    if let Some(dst) = buf.get_mut(at..).and_then(|b| b.get_mut(..src.len())) {
        dst.copy_from_slice(src);
    }
}

/// Writes a byte if it is inside the buffer.
pub(crate) fn set_u8(buf: &mut [u8], at: usize, value: u8) {
    if let Some(b) = buf.get_mut(at) {
        *b = value;
    }
}

/// Writes a big-endian u16 if it fits.
pub(crate) fn set_u16(buf: &mut [u8], at: usize, value: u16) {
    set_bytes(buf, at, &value.to_be_bytes());
}

/// Writes a big-endian u32 if it fits.
pub(crate) fn set_u32(buf: &mut [u8], at: usize, value: u32) {
    set_bytes(buf, at, &value.to_be_bytes());
}

/// `buf[start..end]`, or an empty slice if that range is not valid.
pub(crate) fn range(buf: &[u8], start: usize, end: usize) -> &[u8] {
    buf.get(start..end).unwrap_or(&[])
}

/// `buf[start..end]` mutably, or an empty slice if that range is not valid.
pub(crate) fn range_mut(buf: &mut [u8], start: usize, end: usize) -> &mut [u8] {
    buf.get_mut(start..end).unwrap_or(&mut [])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_the_end_are_zero() {
        let b = [1u8, 2, 3];
        assert_eq!(get_u16(&b, 1), 0x0203);
        assert_eq!(get_u16(&b, 2), 0);
        assert_eq!(get_u32(&b, usize::MAX), 0);
        assert_eq!(get_u8(&b, 3), 0);
        assert_eq!(range(&b, 2, 1), &[] as &[u8]);
    }

    #[test]
    fn writes_past_the_end_are_dropped() {
        let mut b = [0u8; 3];
        set_u32(&mut b, 0, 0xdead_beef);
        set_u16(&mut b, usize::MAX, 1);
        set_u8(&mut b, 3, 1);
        assert_eq!(b, [0, 0, 0]);
        set_u16(&mut b, 1, 0xabcd);
        assert_eq!(b, [0, 0xab, 0xcd]);
    }
}
