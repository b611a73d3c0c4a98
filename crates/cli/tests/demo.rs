//! `oxtcp demo` end to end: the ladder shows both closing paths, the JSON Lines trace carries
//! the documented fields and the full state sequences, and the pcap opens cleanly in tshark.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

mod bin;
use bin::{oxtcp, oxtcp_env, oxtcp_on_terminal};

fn temp(name: &str) -> PathBuf {
    bin::temp_in("demo", name)
}

fn states(trace: &[Value], host: &str) -> Vec<String> {
    let mut seq = Vec::new();
    for e in trace
        .iter()
        .filter(|e| e["host"] == host && e["kind"] == "state")
    {
        if seq.is_empty() {
            seq.push(e["from"].as_str().unwrap().to_string());
        }
        seq.push(e["to"].as_str().unwrap().to_string());
    }
    seq
}

#[test]
fn demo_shows_every_state_of_both_closing_paths_in_order() {
    let trace_path = temp("trace.jsonl");
    let pcap_path = temp("demo.pcap");
    let (ok, stdout, stderr) = oxtcp(&[
        "demo",
        "--trace",
        trace_path.to_str().unwrap(),
        "--pcap",
        pcap_path.to_str().unwrap(),
    ]);
    assert!(ok, "demo failed: {stderr}");
    assert!(stdout.contains(
        "A: CLOSED → SYN-SENT → ESTABLISHED → FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT → CLOSED"
    ));
    assert!(
        stdout.contains("B: LISTEN → SYN-RECEIVED → ESTABLISHED → CLOSE-WAIT → LAST-ACK → CLOSED")
    );
    assert!(stdout.contains("2×MSL timer fires"));

    let text = std::fs::read_to_string(&trace_path).unwrap();
    let trace: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        states(&trace, "A"),
        [
            "CLOSED",
            "SYN-SENT",
            "ESTABLISHED",
            "FIN-WAIT-1",
            "FIN-WAIT-2",
            "TIME-WAIT",
            "CLOSED"
        ]
    );
    assert_eq!(
        states(&trace, "B"),
        [
            "LISTEN",
            "SYN-RECEIVED",
            "ESTABLISHED",
            "CLOSE-WAIT",
            "LAST-ACK",
            "CLOSED"
        ]
    );
    for e in &trace {
        assert!(e["t_us"].is_u64() && (e["host"] == "A" || e["host"] == "B"));
        match e["kind"].as_str().unwrap() {
            "segment" => {
                assert!(["tx", "rx", "drop"].contains(&e["dir"].as_str().unwrap()));
                for f in ["flags", "seq", "ack", "len", "win"] {
                    assert!(!e[f].is_null(), "segment without {f}: {e}");
                }
            }
            "state" => {
                for f in ["from", "to", "cause"] {
                    assert!(e[f].is_string(), "state without {f}: {e}");
                }
            }
            "timer" => assert!(e["timer"].is_string()),
            other => panic!("unexpected kind {other}"),
        }
    }
    // TIME-WAIT lasted 2×MSL (60 s by default) on A.
    let t = |to: &str| {
        trace
            .iter()
            .find(|e| e["host"] == "A" && e["kind"] == "state" && e["to"] == to)
            .unwrap()["t_us"]
            .as_u64()
            .unwrap()
    };
    let tw_start = t("TIME-WAIT");
    let closed = trace
        .iter()
        .rev()
        .find(|e| e["host"] == "A" && e["kind"] == "state" && e["to"] == "CLOSED")
        .unwrap()["t_us"]
        .as_u64()
        .unwrap();
    assert_eq!(closed - tw_start, 60_000_000);

    check_pcap_with_tshark(&pcap_path, 12);
}

/// tshark must read every packet with no malformed or warning-level expert info. CI installs
/// tshark; on a machine without it the check is reported and skipped, but never under CI.
fn check_pcap_with_tshark(path: &std::path::Path, min_packets: usize) {
    let bytes = std::fs::read(path).unwrap();
    assert!(bytes.len() > 24, "pcap has no packets");
    let Ok(out) = Command::new("tshark").arg("-r").arg(path).output() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "tshark is required under CI"
        );
        eprintln!("tshark not installed: pcap checked only for size");
        return;
    };
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.lines().count() >= min_packets, "{listing}");
    let bad = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-Y", "_ws.malformed || _ws.expert.severity >= error"])
        .output()
        .unwrap();
    assert!(bad.status.success());
    assert_eq!(
        String::from_utf8_lossy(&bad.stdout).trim(),
        "",
        "malformed packets"
    );
}

#[test]
fn demo_completes_the_lifecycle_under_loss_any_seed() {
    for seed in 0..20 {
        let (ok, stdout, stderr) = oxtcp(&["demo", "--loss", "0.25", "--seed", &seed.to_string()]);
        assert!(ok, "seed {seed}: {stderr}\n{stdout}");
        assert!(
            stdout.contains("✓ A receives B's 3000-byte response intact")
                && stdout.contains("✓ both sides end CLOSED")
                && !stdout.lines().any(|l| l.starts_with("✗ ")),
            "seed {seed}: {stdout}"
        );
    }
}

#[test]
fn same_seed_draws_the_same_ladder() {
    let (_, x, _) = oxtcp(&["demo", "--loss", "0.3", "--seed", "9"]);
    let (_, y, _) = oxtcp(&["demo", "--loss", "0.3", "--seed", "9"]);
    assert_eq!(x, y);
    assert!(x.contains("✗"), "a 30% loss run shows a lost segment");
}

#[test]
fn bad_arguments_get_a_clear_error() {
    let (ok, _, stderr) = oxtcp(&["demo", "--loss", "1.5"]);
    assert!(!ok);
    assert!(stderr.contains("not a probability"), "{stderr}");
}

#[test]
fn demo_list_names_every_scenario_and_each_one_runs_with_its_checks() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oxtcp"))
        .args(["demo", "--list"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let list = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.contains(&"handshake-and-close") && names.contains(&"simultaneous-close"));
    for name in &names {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_oxtcp"))
            .args(["demo", name])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name}: {stdout}");
        assert!(stdout.contains("✓ A"), "{name}: no state check: {stdout}");
        assert!(
            !stdout.lines().any(|l| l.starts_with("✗ ")),
            "{name}: a failed claim: {stdout}"
        );
    }
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_oxtcp"))
        .args(["demo", "no-such-scenario"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--list"));
}

#[test]
fn no_time_wait_runs_old_duplicate_into_its_hazard_and_is_refused_elsewhere() {
    let (ok, stdout, _) = oxtcp(&["demo", "old-duplicate", "--no-time-wait"]);
    assert!(ok, "{stdout}");
    assert!(stdout.starts_with("oxtcp demo old-duplicate --no-time-wait:"));
    assert!(
        stdout.contains("✓ the new connection reads stale bytes from the old one"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("→TIME-WAIT"),
        "TIME-WAIT was off: {stdout}"
    );
    let (ok, _, stderr) = oxtcp(&["demo", "refused", "--no-time-wait"]);
    assert!(!ok);
    assert!(
        stderr.contains("refused has no --no-time-wait run"),
        "{stderr}"
    );
}

#[test]
fn demo_and_trace_write_svg_figures() {
    let dir = std::env::temp_dir().join(format!("oxtcp-svg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (svg, pcap, tsvg) = (dir.join("d.svg"), dir.join("d.pcap"), dir.join("t.svg"));
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_oxtcp"))
        .args(["demo", "lost-syn", "--svg"])
        .arg(&svg)
        .arg("--pcap")
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(ok.status.success());
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_oxtcp"))
        .arg("trace")
        .arg(&pcap)
        .arg("--svg")
        .arg(&tsvg)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    for f in [&svg, &tsvg] {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            text.contains("<svg") && text.trim_end().ends_with("</svg>"),
            "{}",
            f.display()
        );
        assert!(
            text.contains("class=\"seg"),
            "no segments drawn in {}",
            f.display()
        );
    }
    // The demo knows which SYNs were lost; the figure draws them with crosses.
    assert!(std::fs::read_to_string(&svg).unwrap().contains("cross"));
    let _ = std::fs::remove_dir_all(&dir);
}

const ESC: &str = "\x1b[";

#[test]
fn relative_by_default_absolute_on_request_and_never_both() {
    let (ok, rel, _) = oxtcp(&["demo", "lost-final-ack"]);
    assert!(ok);
    let (ok, rel2, _) = oxtcp(&["demo", "lost-final-ack", "--relative"]);
    assert!(ok && rel == rel2);
    assert!(
        rel.contains("(seq/ack relative to each side's ISN)"),
        "{rel}"
    );
    assert!(rel.contains(" SYN|ACK seq=0 ack=1 win=65535"), "{rel}");

    let (ok, abs, _) = oxtcp(&["demo", "lost-final-ack", "--absolute"]);
    assert!(ok);
    assert!(abs.contains("(absolute seq/ack)"), "{abs}");
    assert!(!abs.contains("relative to each side"), "{abs}");
    assert!(!abs.contains(" seq=0 "), "{abs}");
    // Every seq= in the absolute ladder is a raw 32-bit number; the SYN's is A's ISN, which
    // the SYN-ACK acknowledges plus one.
    let syn = abs.lines().find(|l| l.contains(" SYN seq=")).unwrap();
    let isn: u32 = syn
        .split(" SYN seq=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        abs.contains(&format!(" ack={} ", isn.wrapping_add(1))),
        "{abs}"
    );

    let (ok, _, err) = oxtcp(&["demo", "lost-final-ack", "--relative", "--absolute"]);
    assert!(!ok && err.contains("cannot be used with"), "{err}");
    let (ok, _, err) = oxtcp(&["demo", "--absolute", "--relative"]);
    assert!(!ok && err.contains("cannot be used with"), "{err}");
}

#[test]
fn svg_numbers_follow_relative_and_absolute() {
    let (rel, abs) = (temp("rel.svg"), temp("abs.svg"));
    let (ok, _, err) = oxtcp(&["demo", "lost-final-ack", "--svg", rel.to_str().unwrap()]);
    assert!(ok, "{err}");
    let (ok, _, err) = oxtcp(&[
        "demo",
        "lost-final-ack",
        "--absolute",
        "--svg",
        abs.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let (rel, abs) = (
        std::fs::read_to_string(rel).unwrap(),
        std::fs::read_to_string(abs).unwrap(),
    );
    assert!(rel.contains("SYN seq=0 win=65535"));
    assert!(!abs.contains("SYN seq=0 win=65535"));
    assert!(
        abs.contains("absolute"),
        "the figure says its numbers are absolute"
    );
}

#[test]
fn piped_output_has_no_colour_unless_asked() {
    for name in ["lost-final-ack", "handshake-and-close"] {
        let (ok, plain) = oxtcp_env(&["demo", name], None);
        assert!(ok);
        assert!(
            !plain.contains(ESC) && !plain.contains('\x1b'),
            "{name}: {plain}"
        );
        let (ok, never) = oxtcp_env(&["demo", name, "--color", "never"], None);
        assert!(ok && never == plain);
        let (ok, auto) = oxtcp_env(&["demo", name, "--color", "auto"], None);
        assert!(ok && auto == plain);

        // Explicitly asked for, colour comes even through a pipe and over NO_COLOR.
        for no_color in [None, Some("1")] {
            let (ok, always) = oxtcp_env(&["demo", name, "--color", "always"], no_color);
            assert!(ok);
            assert!(
                always.contains(ESC),
                "{name}: no colour with --color always"
            );
            assert!(always.contains("\x1b[1;32m→ESTABLISHED\x1b[0m"), "{always}");
        }
    }
    let (ok, always) = oxtcp_env(&["demo", "lost-final-ack", "--color", "always"], None);
    assert!(ok);
    assert!(always.contains("\x1b[32m✓\x1b[0m A: CLOSED"), "{always}");
    assert!(always.contains("\x1b[31mlost\x1b[0m"), "{always}");
    let (ok, _, err) = oxtcp(&["demo", "--color", "sometimes"]);
    assert!(
        !ok && err.contains("auto") && err.contains("never"),
        "{err}"
    );
}

#[test]
fn a_terminal_gets_colour_unless_no_color_is_set() {
    let args = ["demo", "lost-final-ack"];
    let Some(tty) = oxtcp_on_terminal(&args, None) else {
        return;
    };
    assert!(tty.contains(ESC), "no colour on a terminal: {tty}");
    let empty = oxtcp_on_terminal(&args, Some("")).unwrap();
    assert!(
        empty.contains(ESC),
        "an empty NO_COLOR does not disable colour"
    );
    let off = oxtcp_on_terminal(&args, Some("1")).unwrap();
    assert!(!off.contains(ESC), "NO_COLOR=1 still coloured: {off}");
    let never = oxtcp_on_terminal(&["demo", "lost-final-ack", "--color", "never"], None).unwrap();
    assert!(!never.contains(ESC));
}

/// The plain ladders `oxtcp demo NAME` prints for these scenarios (seed 1), compared exactly
/// with crates/cli/tests/golden/NAME.txt. `UPDATE_GOLDEN=1` rewrites the files instead.
#[test]
fn golden_ladders() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for name in [
        "three-segment-close",
        "simultaneous-close",
        "lost-final-ack",
    ] {
        let (ok, got) = oxtcp_env(&["demo", name], None);
        assert!(ok, "{name} failed: {got}");
        let path = dir.join(format!("{name}.txt"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run with UPDATE_GOLDEN=1 to create it",
                path.display()
            )
        });
        if let Some(diff) = first_difference(&want, &got) {
            failures.push(format!("{}:\n{diff}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "the ladder differs from its golden file (if the change is intended, rerun with \
         UPDATE_GOLDEN=1 and review `git diff crates/cli/tests/golden`):\n\n{}",
        failures.join("\n\n")
    );
}

/// The first line where `want` and `got` differ, both shown, with a caret under the first
/// differing character; `None` if they are equal.
fn first_difference(want: &str, got: &str) -> Option<String> {
    if want == got {
        return None;
    }
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let n = (0..w.len().max(g.len()))
        .find(|&i| w.get(i) != g.get(i))
        .unwrap_or(w.len());
    let (wl, gl) = (
        w.get(n).copied().unwrap_or("<end>"),
        g.get(n).copied().unwrap_or("<end>"),
    );
    let col = wl
        .chars()
        .zip(gl.chars())
        .take_while(|(a, b)| a == b)
        .count();
    Some(format!(
        "line {} (expected {} lines, got {}):\n- {wl}\n+ {gl}\n  {}^",
        n + 1,
        w.len(),
        g.len(),
        " ".repeat(col)
    ))
}
