//! The lifecycle scenarios of `oxtcp demo NAME`: each sets up two simulated hosts, runs them,
//! and checks its own claims — both sides' full state sequences, and the segments that must
//! and must not appear (the claims are those of `lifecycle.md`).

mod catalog;
mod run;
mod script;

use oxtcp_core::{ConnError, Dir, Event, EventKind, SegmentEvent, State};
use oxtcp_wire::TcpFlags;

pub use catalog::{all, find};
pub use run::{packet_arrivals, run, Filter, Run, Setup, A_IP, B_IP};
pub use script::{AppConn, Call, Script};

use crate::ladder::Side;
pub use crate::model::show_states;
use crate::model::state_sequences;

/// A named scenario.
pub struct Scenario {
    /// Its name on the command line.
    pub name: &'static str,
    /// What it shows, in one line.
    pub shows: &'static str,
    /// The same scenario with TIME-WAIT disabled (`--no-time-wait`), where it has one.
    pub no_time_wait: Option<&'static Scenario>,
    /// B's state before anything happens (LISTEN for a server).
    pub b_initial: State,
    /// The setup.
    pub setup: fn() -> Setup,
    /// A's full state sequence, one per connection in the order they began.
    pub expect_a: &'static [&'static [State]],
    /// B's full state sequence, one per connection (none: B never had one).
    pub expect_b: &'static [&'static [State]],
    /// The scenario's own claims about segments and outcomes.
    pub claims: fn(&Run) -> Vec<Check>,
}

/// One claim and whether the run bore it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// The claim.
    pub claim: String,
    /// Whether it held.
    pub ok: bool,
}

impl Check {
    /// A claim with its verdict.
    pub fn new(claim: impl Into<String>, ok: bool) -> Check {
        Check {
            claim: claim.into(),
            ok,
        }
    }
}

impl Scenario {
    /// The two sides of a finished run, for drawing.
    pub fn sides<'a>(&self, r: &'a Run) -> (Side<'a>, Side<'a>) {
        (
            Side {
                name: "A",
                events: &r.a,
                initial: State::Closed,
            },
            Side {
                name: "B",
                events: &r.b,
                initial: self.b_initial,
            },
        )
    }

    /// Every check of a finished run: each connection's state sequence on both sides, then
    /// the scenario's own claims.
    pub fn check(&self, r: &Run) -> Vec<Check> {
        let (a, b) = self.sides(r);
        let mut out = Vec::new();
        for (side, expect) in [(&a, self.expect_a), (&b, self.expect_b)] {
            let got = state_sequences(side);
            let many = expect.len() > 1 || got.len() > 1;
            for (k, want) in expect.iter().enumerate() {
                let name = match got.get(k) {
                    Some((t, _)) if many => format!("{} #{} :{}", side.name, k + 1, t.local.port()),
                    _ if many => format!("{} #{}", side.name, k + 1),
                    _ => side.name.to_string(),
                };
                let ok = got.get(k).is_some_and(|(_, s)| s == want);
                out.push(Check::new(format!("{name}: {}", show_states(want)), ok));
            }
            if got.len() != expect.len() {
                out.push(Check::new(
                    format!(
                        "{} has {} connection(s), as expected",
                        side.name,
                        expect.len()
                    ),
                    false,
                ));
            }
        }
        out.extend((self.claims)(r));
        out
    }
}

/// The segments a side sent.
pub fn sent(events: &[Event]) -> impl Iterator<Item = &SegmentEvent> {
    events.iter().filter_map(|e| match &e.kind {
        EventKind::Segment(s) if s.dir == Dir::Tx => Some(s),
        _ => None,
    })
}

/// How many segments a side sent with exactly `flags` (ignoring PSH).
pub fn count_sent(events: &[Event], flags: TcpFlags) -> usize {
    sent(events)
        .filter(|s| {
            let mut f = s.flags;
            f.remove(TcpFlags::PSH);
            f == flags
        })
        .count()
}

/// The error a side's connection ended with, from its state events.
pub fn ended_with(events: &[Event]) -> Option<ConnError> {
    events.iter().rev().find_map(|e| match &e.kind {
        EventKind::State(s) => s.error,
        _ => None,
    })
}
