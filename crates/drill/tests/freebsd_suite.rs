//! The FreeBSD state-event-engine suite: all 307 scripts, run through oxtcp's own runner with
//! the FreeBSD profile and the suite's STANDARD (RFC) branches. Every script passes except
//! those on `conformance/freebsd-deviations.txt`, and every script on that list still fails:
//! a listed script that starts passing must be taken off the list.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use oxtcp_drill::suite::{find_scripts, parse_deviations, report, run_file};
use oxtcp_drill::{Profile, ProfileKind, RunOptions, Verdict};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn suite_root() -> PathBuf {
    repo().join("conformance/freebsd/state-event-engine")
}

fn options(seed: u64) -> RunOptions {
    RunOptions {
        profile: Profile::new(ProfileKind::FreeBsd, false),
        defines: vec!["STANDARD".into()],
        seed,
    }
}

fn relative(path: &Path) -> String {
    path.strip_prefix(suite_root())
        .expect("script under the suite root")
        .to_string_lossy()
        .replace('\\', "/")
}

#[test]
fn freebsd_state_event_engine_suite() {
    let text = std::fs::read_to_string(repo().join("conformance/freebsd-deviations.txt"))
        .expect("deviation list");
    let deviations = parse_deviations(&text).expect("well-formed deviation list");
    assert!(
        deviations.len() <= 15,
        "at most 15 deviations, have {}",
        deviations.len()
    );
    let listed: BTreeSet<String> = deviations.iter().map(|d| d.script.clone()).collect();
    assert_eq!(listed.len(), deviations.len(), "a script is listed twice");

    let scripts = find_scripts(&[suite_root()]).expect("suite directory");
    assert_eq!(scripts.len(), 307, "the suite has 307 scripts");
    let names: BTreeSet<String> = scripts.iter().map(|p| relative(p)).collect();
    for d in &listed {
        assert!(
            names.contains(d),
            "deviation list names a missing script: {d}"
        );
    }

    let opts = options(1);
    let mut problems = Vec::new();
    let mut passed = 0;
    for path in &scripts {
        let name = relative(path);
        let verdict = run_file(path, &opts);
        match (&verdict, listed.contains(&name)) {
            (Verdict::Pass, false) => passed += 1,
            (Verdict::Pass, true) => problems.push(format!(
                "{name} passes but is on the deviation list: take it off"
            )),
            (Verdict::Fail(_), true) => {}
            (_, _) => problems.push(report(path, &verdict)),
        }
    }
    println!("{passed} passed, {} on the deviation list", listed.len());
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    assert_eq!(passed + listed.len(), 307);
}

#[test]
fn suite_verdicts_do_not_depend_on_the_seed() {
    // ISNs, ports and the script side's ISN all change with the seed; the verdicts must not.
    let scripts = find_scripts(&[suite_root()]).expect("suite directory");
    let sample: Vec<&PathBuf> = scripts.iter().step_by(7).collect();
    for path in sample {
        let a = run_file(path, &options(1));
        let b = run_file(path, &options(0xdead_beef));
        assert_eq!(a.label(), b.label(), "{}", relative(path));
    }
}
