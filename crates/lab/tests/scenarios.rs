//! Every scenario runs in the simulator and bears out all its claims, starting with both
//! sides' full state sequences.

use oxtcp_lab::ladder::state_sequence;
use oxtcp_lab::scenario::{all, find, run};

#[test]
fn every_scenario_bears_out_its_claims() {
    let mut failed = Vec::new();
    for s in all() {
        let r = run((s.setup)(), 1, None).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        let (a, b) = s.sides(&r);
        for c in s.check(&r) {
            if !c.ok {
                failed.push(format!(
                    "{}: {}\n   got A: {:?}\n   got B: {:?}",
                    s.name,
                    c.claim,
                    state_sequence(&a),
                    state_sequence(&b)
                ));
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn a_wrong_expectation_is_caught() {
    // The checks can fail: run abort's exchange against refused's expectations.
    let s = find("refused").unwrap();
    let r = run((s.setup)(), 1, None).unwrap();
    assert!(s.check(&r).iter().all(|c| c.ok));
    let r2 = run((find("abort").unwrap().setup)(), 1, None).unwrap();
    assert!(s.check(&r2).iter().any(|c| !c.ok));
}

#[test]
fn scenarios_have_unique_names_and_say_what_they_show() {
    let mut names: Vec<_> = all().iter().map(|s| s.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), all().len());
    assert!(all().iter().all(|s| !s.shows.is_empty()));
}
