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
pub use script::{Call, Script};

use crate::ladder::{state_sequence, Side};

/// A named scenario.
pub struct Scenario {
    /// Its name on the command line.
    pub name: &'static str,
    /// What it shows, in one line.
    pub shows: &'static str,
    /// B's state before anything happens (LISTEN for a server).
    pub b_initial: State,
    /// The setup.
    pub setup: fn() -> Setup,
    /// A's full state sequence.
    pub expect_a: &'static [State],
    /// B's full state sequence.
    pub expect_b: &'static [State],
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

    /// Every check of a finished run: both state sequences, then the scenario's own claims.
    pub fn check(&self, r: &Run) -> Vec<Check> {
        let (a, b) = self.sides(r);
        let show = |s: &[State]| s.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" → ");
        let (sa, sb) = (state_sequence(&a), state_sequence(&b));
        let mut out = vec![
            Check::new(format!("A: {}", show(self.expect_a)), sa == self.expect_a),
            Check::new(format!("B: {}", show(self.expect_b)), sb == self.expect_b),
        ];
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
