//! Where the tun group runs: the stack under test on one CPU, the kernel end of its transfer
//! on another, for every system alike.
//!
//! Unpinned, the scheduler places three busy threads (the kernel's sender or receiver, and a
//! two-thread stack such as oxtcp's runtime and application) on two cores as it likes, and a
//! figure swings with the placement: oxtcp receiving with offloads measured anywhere from 7
//! to 16 Gbit/s in consecutive runs of one setup, and smoltcp (one thread) 4.4 to 5.1. Pinned,
//! each side has a core of its own and the runs agree.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{bail, Result};

/// The two CPUs of a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Every thread of the stack under test (for linux veth, the end in the stack's role).
    pub stack: usize,
    /// The kernel end's thread.
    pub peer: usize,
}

/// The first two CPUs this process may run on; `None` with fewer than two (then nothing is
/// pinned).
pub fn placement() -> Option<Placement> {
    static P: OnceLock<Option<Placement>> = OnceLock::new();
    *P.get_or_init(|| {
        let mut allowed = allowed_cpus().ok()?.into_iter();
        let peer = allowed.next()?;
        let stack = allowed.next()?;
        Some(Placement { stack, peer })
    })
}

/// The CPUs the calling thread may run on, in order.
fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity writes at most
    // size_of::<cpu_set_t>() bytes into it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: CPU_ISSET reads the set for CPUs below CPU_SETSIZE.
    Ok((0..libc::CPU_SETSIZE as usize)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect())
}

/// Restrict the calling thread (pid 0 of sched_setaffinity) to `cpu`.
fn pin_self(cpu: usize) -> io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set, and CPU_SET stays within it for a CPU
    // below CPU_SETSIZE (checked by the caller's source, sched_getaffinity).
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    unsafe { libc::CPU_SET(cpu, &mut set) };
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Pin the calling thread to `cpu`.
pub fn pin_thread(cpu: usize) -> Result<()> {
    if let Err(e) = pin_self(cpu) {
        bail!("cannot pin a thread to CPU {cpu}: {e}");
    }
    Ok(())
}

/// Make `cmd`'s process (and whatever it executes, such as `ip netns exec`'s program) start
/// pinned to `cpu`, with all the threads it makes.
pub fn pin_child(cmd: &mut Command, cpu: usize) {
    // SAFETY: the hook runs in the forked child before exec and makes one syscall, which is
    // async-signal-safe; it touches no memory shared with the parent.
    unsafe {
        cmd.pre_exec(move || pin_self(cpu));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_thread_runs_on_its_cpu_only() {
        let cpus = allowed_cpus().unwrap();
        assert!(!cpus.is_empty());
        let last = *cpus.last().unwrap();
        let on = std::thread::spawn(move || {
            pin_thread(last).unwrap();
            allowed_cpus().unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(on, vec![last]);
        // The pin was the spawned thread's own.
        assert_eq!(allowed_cpus().unwrap(), cpus);
        if let Some(p) = placement() {
            assert_ne!(p.stack, p.peer);
            assert!(cpus.contains(&p.stack) && cpus.contains(&p.peer));
        }
    }

    #[test]
    fn a_pinned_child_starts_on_its_cpu() {
        let cpu = *allowed_cpus().unwrap().last().unwrap();
        let mut c = Command::new("grep");
        c.args(["Cpus_allowed_list", "/proc/self/status"]);
        pin_child(&mut c, cpu);
        let out = c.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.split_whitespace().last(),
            Some(cpu.to_string().as_str())
        );
    }
}
