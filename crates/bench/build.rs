//! Records the compiler's version and the peer library's for the machine line of a run
//! (`src/machine.rs`).

use std::path::Path;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| "rustc (version unknown)".into());
    println!("cargo:rustc-env=OXTCP_BENCH_RUSTC={version}");
    println!("cargo:rerun-if-env-changed=RUSTC");

    // The workspace's lock file names the smoltcp release this binary links.
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    let smoltcp = std::fs::read_to_string(&lock)
        .ok()
        .and_then(|s| locked_version(&s, "smoltcp"))
        .unwrap_or_else(|| "(version unknown)".into());
    println!("cargo:rustc-env=OXTCP_BENCH_SMOLTCP={smoltcp}");
    println!("cargo:rerun-if-changed={}", lock.display());
}

/// The version of package `name` in a Cargo.lock.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let mut lines = lock.lines();
    lines.find(|l| *l == format!("name = \"{name}\""))?;
    let v = lines.next()?.strip_prefix("version = \"")?;
    Some(v.trim_end_matches('"').to_string())
}
