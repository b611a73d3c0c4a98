//! Running the systems of a figure alternately, and the clocks the figures read.

use std::time::Instant as StdInstant;

use anyhow::Result;

use crate::report::{Better, Row};

/// How much work a run of the suite may do.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// `--quick`.
    pub quick: bool,
    /// Runs of each system per figure.
    pub runs: usize,
}

impl Budget {
    pub fn new(quick: bool) -> Budget {
        Budget {
            quick,
            runs: if quick { 3 } else { 7 },
        }
    }

    /// `full` normally, `quick` with `--quick`.
    pub fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

/// One system of a figure: its name and one run, returning the run's value.
pub struct System<'a> {
    pub name: &'static str,
    pub run: Box<dyn FnMut() -> Result<f64> + 'a>,
}

impl<'a> System<'a> {
    pub fn new(name: &'static str, run: impl FnMut() -> Result<f64> + 'a) -> System<'a> {
        System {
            name,
            run: Box::new(run),
        }
    }
}

/// Run every system `budget.runs` times, alternating (A, B, C, A, B, C, ...) so that drift in
/// the machine's state falls on all of them alike, and return one row per system.
pub fn alternate(
    budget: &Budget,
    figure: &str,
    unit: &'static str,
    better: Better,
    mut systems: Vec<System<'_>>,
) -> Result<Vec<Row>> {
    let mut runs: Vec<Vec<f64>> = vec![Vec::new(); systems.len()];
    for _ in 0..budget.runs {
        for (i, s) in systems.iter_mut().enumerate() {
            runs[i].push((s.run)()?);
        }
    }
    Ok(systems
        .iter()
        .zip(runs)
        .map(|(s, r)| Row::new(figure, s.name, unit, better, r))
        .collect())
}

/// CPU time this thread has used, in nanoseconds (CLOCK_THREAD_CPUTIME_ID).
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec to the pointer it is given.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Wall-clock and thread CPU time of `f`.
pub fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, f64, f64)> {
    let cpu0 = thread_cpu_ns();
    let t0 = StdInstant::now();
    let v = f()?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = (thread_cpu_ns() - cpu0) as f64 / 1e9;
    Ok((v, wall, cpu))
}
