//! Seed sweeps for `*_any_seed` tests: run a check over many seeds, print the one that fails,
//! and replay just that one with `OXTCP_SEED=...`.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// Run `check` for seeds `0..count`, or only for `OXTCP_SEED` if it is set.
///
/// When a seed fails, prints `failing seed: OXTCP_SEED=<seed>` and re-raises the panic.
pub fn sweep_seeds(count: u64, mut check: impl FnMut(u64)) {
    let seeds: Vec<u64> = match std::env::var("OXTCP_SEED") {
        Ok(s) => vec![s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("OXTCP_SEED={s:?} is not a u64"))],
        Err(_) => (0..count).collect(),
    };
    for seed in seeds {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(seed))) {
            eprintln!("failing seed: OXTCP_SEED={seed}");
            resume_unwind(panic);
        }
    }
}
