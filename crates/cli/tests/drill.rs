//! `oxtcp drill` end to end: one line per script, the failure details, the closing count and
//! the exit status.

use std::path::PathBuf;
use std::process::Command;

fn oxtcp(args: &[&str]) -> (bool, String, String) {
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

/// A scratch directory of one test (tests run in parallel and each removes its own).
fn dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("oxtcp-drill-test-{}-{test}", std::process::id()));
    std::fs::create_dir_all(d.join("sub")).unwrap();
    d
}

const PASSIVE_OPEN: &str = "\
--tolerance_usecs=10000
0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 32767 <mss 1460>
+0 > S. 0:0(0) ack 1 win 65536
+0.1 < . 1:1(0) ack 1 win 32767
+0 accept(3, ..., ...) = 4
";

#[test]
fn drill_reports_each_script_and_the_count() {
    let d = dir("report");
    // FreeBSD's default receive space is 65536, advertised as 65535: the window is wrong.
    std::fs::write(d.join("a-wrong-window.pkt"), PASSIVE_OPEN).unwrap();
    std::fs::write(
        d.join("sub/b-right.pkt"),
        PASSIVE_OPEN.replace("win 65536", "win 65535"),
    )
    .unwrap();
    std::fs::write(d.join("c-unsupported.pkt"), "0 `reboot`\n").unwrap();
    std::fs::write(d.join("ignored.txt"), "not a script").unwrap();
    let (ok, out, err) = oxtcp(&["drill", d.to_str().unwrap()]);
    assert!(
        !ok,
        "a failing script makes the exit status non-zero\n{out}{err}"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("FAIL") && lines[0].ends_with("a-wrong-window.pkt"));
    assert!(
        out.contains("line 6: +0 > S. 0:0(0) ack 1 win 65536"),
        "{out}"
    );
    assert!(out.contains("window differs"), "{out}");
    assert!(
        out.contains("UNSUPPORTED") && out.contains("shell command `reboot`"),
        "{out}"
    );
    assert!(out
        .lines()
        .any(|l| l.starts_with("PASS") && l.ends_with("b-right.pkt")));
    assert_eq!(*lines.last().unwrap(), "1 passed, 1 failed, 1 skipped");

    // The Linux profile does not compare windows; only passes are left besides the skip.
    let (ok, out, _) = oxtcp(&[
        "drill",
        "--profile",
        "linux",
        d.join("a-wrong-window.pkt").to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    assert_eq!(out.lines().last().unwrap(), "1 passed, 0 failed");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn drill_rejects_a_bad_profile_and_an_empty_path() {
    let (ok, _, err) = oxtcp(&["drill", "--profile", "plan9", "."]);
    assert!(!ok);
    assert!(err.contains("unknown profile 'plan9'"), "{err}");
    let d = dir("empty-path").join("empty");
    std::fs::create_dir_all(&d).unwrap();
    let (ok, _, err) = oxtcp(&["drill", d.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("no *.pkt scripts"), "{err}");
    let _ = std::fs::remove_dir_all(d.parent().unwrap());
}
