//! Steal time: the share of this machine's CPU time the host hypervisor gave to others
//! (`/proc/stat`'s `steal` column). On a shared virtual machine it comes in bursts, and a group
//! that runs through one loses wall-clock speed on every system at once: each group's share is
//! printed after it, so that a slow table can be told from a slow stack.

/// Steal and total CPU time of all CPUs so far, in clock ticks; `None` where `/proc/stat`
/// cannot be read.
pub fn cpu_ticks() -> Option<(u64, u64)> {
    parse(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// (steal, total) from the text of `/proc/stat`: its `cpu` line holds user, nice, system,
/// idle, iowait, irq, softirq, steal, then guest and guest_nice, which user and nice already
/// count.
fn parse(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let steal = *v.get(7)?;
    let total = v.iter().take(8).sum();
    Some((steal, total))
}

/// Steal between two readings, in % of all the CPU time that passed.
pub fn percent(before: (u64, u64), after: (u64, u64)) -> Option<f64> {
    let total = after.1.checked_sub(before.1)?;
    let steal = after.0.checked_sub(before.0)?;
    (total > 0).then(|| 100.0 * steal as f64 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_is_the_eighth_column_of_the_cpu_line() {
        let a = "cpu  100 5 50 800 10 0 5 30 7 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n";
        let b = "cpu  150 5 60 880 10 0 5 50 9 0\n";
        let (before, after) = (parse(a).unwrap(), parse(b).unwrap());
        assert_eq!(before, (30, 1000));
        assert_eq!(after, (50, 1160));
        assert_eq!(percent(before, after), Some(12.5));
        assert_eq!(parse("cpu0 1 2\n"), None);
        assert!(cpu_ticks().is_some());
    }
}
