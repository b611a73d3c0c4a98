//! Traces: a pcap or pcapng capture read, split into TCP connections, both endpoints' states
//! inferred from the segments, and summarized; the ladder draws the result like a simulation.
//!
//! - [`capture`]: reading the file and removing link headers;
//! - [`split`]: segments (parsed by oxtcp-wire) and connections;
//! - [`infer`]: the state rules, and each endpoint's trace events;
//! - [`summary`]: RTT, bytes, retransmissions, zero windows, how it closed.

pub mod capture;
pub mod infer;
pub mod split;
pub mod summary;

pub use capture::{read_capture, CaptureError, Frame};
pub use infer::{infer, Endpoint, Inferred};
pub use split::{split, Connection, Seg, Skipped};
pub use summary::{summarize, Summary};

use crate::ladder::Side;

/// One analysed connection.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The segments.
    pub conn: Connection,
    /// Both sides' inferred states and events.
    pub inferred: Inferred,
    /// The summary.
    pub summary: Summary,
}

impl Analysis {
    /// The two sides for [`crate::ladder::render`] (A on the left).
    pub fn ladder_sides(&self) -> [Side<'_>; 2] {
        let [a, b] = &self.inferred.sides;
        [
            Side {
                name: "A",
                events: &a.events,
                initial: a.initial,
            },
            Side {
                name: "B",
                events: &b.events,
                initial: b.initial,
            },
        ]
    }
}

/// Read a capture and analyse every TCP connection in it, in order of first packet.
pub fn analyze(bytes: &[u8]) -> Result<(Vec<Analysis>, Skipped), CaptureError> {
    let frames = read_capture(bytes)?;
    let (conns, skipped) = split(&frames);
    let out = conns
        .into_iter()
        .map(|conn| {
            let inferred = infer(&conn);
            let summary = summarize(&conn, &inferred);
            Analysis {
                conn,
                inferred,
                summary,
            }
        })
        .collect();
    Ok((out, skipped))
}
