//! Running the `oxtcp` binary from a test, and a scratch directory per test binary.

use std::path::PathBuf;
use std::process::Command;

/// Run `oxtcp args...`: (success, stdout, stderr).
pub fn oxtcp(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_oxtcp"))
        .args(args)
        .output()
        .expect("run oxtcp");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `name` inside this test process's own scratch directory, `oxtcp-<suite>-test-<pid>`.
pub fn temp_in(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oxtcp-{suite}-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}
