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

/// Run `oxtcp args...` with stdout piped and `NO_COLOR` set to `no_color` (or removed):
/// (success, stdout).
pub fn oxtcp_env(args: &[&str], no_color: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oxtcp"));
    cmd.args(args);
    match no_color {
        Some(v) => cmd.env("NO_COLOR", v),
        None => cmd.env_remove("NO_COLOR"),
    };
    let out = cmd.output().expect("run oxtcp");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Run `oxtcp args...` with stdout on a pseudo-terminal (util-linux `script`) and `NO_COLOR`
/// set to `no_color` (or removed): its output, or `None` when `script` is not available.
/// The arguments must not need shell quoting.
pub fn oxtcp_on_terminal(args: &[&str], no_color: Option<&str>) -> Option<String> {
    let line = std::iter::once(env!("CARGO_BIN_EXE_oxtcp"))
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        !line.contains(['\'', '"', '\\', '$', ';', '&', '|']),
        "{line}"
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .stdin(std::process::Stdio::null());
    match no_color {
        Some(v) => cmd.env("NO_COLOR", v),
        None => cmd.env_remove("NO_COLOR"),
    };
    let out = cmd.output().ok()?;
    if !out.status.success() {
        eprintln!(
            "script(1) did not run oxtcp on a terminal, skipping: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}
