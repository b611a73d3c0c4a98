//! Every scenario is a test: it runs in the simulator and must bear out all its claims, starting
//! with the full state sequence of every connection on both sides.

use oxtcp_lab::ladder::state_sequences;
use oxtcp_lab::scenario::{all, find, run, show_states, Scenario};

fn bears_out(s: &Scenario) {
    let r = run((s.setup)(), 1, None).unwrap_or_else(|e| panic!("{}: {e}", s.name));
    let (a, b) = s.sides(&r);
    let got = |side| {
        state_sequences(side)
            .iter()
            .map(|(t, seq)| format!("\n   {} {t}: {}", side.name, show_states(seq)))
            .collect::<String>()
    };
    let failed: Vec<String> = s
        .check(&r)
        .into_iter()
        .filter(|c| !c.ok)
        .map(|c| c.claim)
        .collect();
    assert!(
        failed.is_empty(),
        "{}: did not hold:\n - {}\ngot:{}{}",
        s.name,
        failed.join("\n - "),
        got(&a),
        got(&b)
    );
}

/// One test per scenario of `lifecycle.md`'s table (syn-flood comes with SYN cookies).
macro_rules! scenarios {
    ($($test:ident = $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                bears_out(find($name).expect($name));
            }
        )*

        #[test]
        fn every_scenario_in_the_catalog_has_its_test() {
            let tested = [$($name),*];
            for s in all() {
                assert!(tested.contains(&s.name), "{} has no test", s.name);
            }
        }
    };
}

scenarios! {
    three_segment_close = "three-segment-close",
    half_close = "half-close",
    simultaneous_open = "simultaneous-open",
    close_in_syn_received = "close-in-syn-received",
    simultaneous_close = "simultaneous-close",
    lost_syn = "lost-syn",
    lost_syn_ack = "lost-syn-ack",
    syn_ack_retries_exhausted = "syn-ack-retries-exhausted",
    stale_syn = "stale-syn",
    lost_final_ack = "lost-final-ack",
    old_duplicate = "old-duplicate",
    backlog_full = "backlog-full",
    syn_flood = "syn-flood",
    refused = "refused",
    abort = "abort",
    zero_window = "zero-window",
    seq_wrap = "seq-wrap",
}

#[test]
fn old_duplicate_without_time_wait_shows_the_hazard() {
    let s = find("old-duplicate").unwrap();
    bears_out(
        s.no_time_wait
            .expect("old-duplicate has a --no-time-wait run"),
    );
    // And the hazard run's claims fail on the TIME-WAIT run's exchange: they can fail.
    let protected = run((s.setup)(), 1, None).unwrap();
    let hazard = s.no_time_wait.unwrap();
    assert!(hazard.check(&protected).iter().any(|c| !c.ok));
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

/// Bare ACKs each side sent in `r`, and the time of the last segment either side sent.
fn bare_acks_and_end(r: &oxtcp_lab::scenario::Run) -> (usize, u64) {
    use oxtcp_core::{Dir, EventKind};
    let tx = || {
        r.a.iter().chain(&r.b).filter_map(|e| match &e.kind {
            EventKind::Segment(s) if s.dir == Dir::Tx => Some((e.time, s)),
            _ => None,
        })
    };
    let acks = tx()
        .filter(|(_, s)| s.len == 0 && s.flags == oxtcp_wire::TcpFlags::ACK)
        .count();
    let end = tx().map(|(t, _)| t.as_micros()).max().unwrap_or(0);
    (acks, end)
}

/// Issue 7: in the hazard run the two sides each find the other's ACKs out of window. Without
/// a limit on ACKs to unacceptable segments (Linux's tcp_invalid_ratelimit) they trade them
/// every round trip; with the default 500 ms spacing the exchange stays bounded.
#[test]
fn old_duplicate_hazard_ack_exchange_is_rate_limited() {
    let s = find("old-duplicate").unwrap().no_time_wait.unwrap();
    let mut unlimited = (s.setup)();
    unlimited.cfg_a.invalid_ack_interval = std::time::Duration::ZERO;
    unlimited.cfg_b.invalid_ack_interval = std::time::Duration::ZERO;
    let before = bare_acks_and_end(&run(unlimited, 1, None).unwrap());
    let after = bare_acks_and_end(&run((s.setup)(), 1, None).unwrap());
    eprintln!("bare ACKs, last segment (µs): unlimited {before:?}, default {after:?}");
    assert!(after.0 < before.0, "{after:?} vs {before:?}");
}
