//! Value parsers the subcommands share.

/// A probability between 0 and 1 (`--loss`, `--reorder`).
pub fn probability(s: &str) -> Result<f64, String> {
    let p: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a probability between 0 and 1"))
    }
}

/// Smallest and largest socket buffer `--buffer` takes: a few segments, and what window
/// scaling's largest shift can advertise (RFC 7323 §2.3: 2^14 × 65535, about 1 GiB).
const BUFFER_RANGE: std::ops::RangeInclusive<usize> = 4096..=(65535 << 14);

/// A socket buffer size in bytes, optionally with a K or M suffix (binary: 1K = 1024).
pub fn buffer_size(s: &str) -> Result<usize, String> {
    let (digits, unit) = match s.strip_suffix(['K', 'k']) {
        Some(d) => (d, 1024),
        None => match s.strip_suffix(['M', 'm']) {
            Some(d) => (d, 1024 * 1024),
            None => (s, 1),
        },
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size in bytes (like 65536, 64K or 1M)"))?;
    let bytes = n
        .checked_mul(unit)
        .filter(|b| BUFFER_RANGE.contains(b))
        .ok_or_else(|| {
            format!(
                "{s} is outside {} to {} bytes",
                BUFFER_RANGE.start(),
                BUFFER_RANGE.end()
            )
        })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_sizes_take_k_and_m_and_stay_in_range() {
        assert_eq!(buffer_size("65536"), Ok(65536));
        assert_eq!(buffer_size("64K"), Ok(65536));
        assert_eq!(buffer_size("1M"), Ok(1 << 20));
        assert!(buffer_size("100").unwrap_err().contains("outside"));
        assert!(buffer_size("2048M").unwrap_err().contains("outside"));
        assert!(buffer_size("lots").unwrap_err().contains("not a size"));
        assert!(buffer_size("99999999999999999999M").is_err());
    }
}
