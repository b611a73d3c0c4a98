//! A two-column ladder diagram of one connection between hosts A and B, drawn from both
//! stacks' trace events: one row per segment with its send time, flags, seq/ack relative to
//! each side's ISN and absolute, window and length, and the state each side is in after it.
//! A segment that never arrived ends in ✗.

use std::fmt::Write as _;

use oxtcp_core::{State, TimerKind};

use crate::model::{secs, Fate, Ladder, NoteKind};
pub use crate::model::{state_sequence, state_sequences, Arrivals, Side};

/// Width of the arrow column.
const ARROW: usize = 74;
/// Width of a state column.
const STATE: usize = 14;

struct Row {
    time: u64,
    /// Side 0 (A) or 1 (B) for ordering ties.
    order: (usize, usize),
    text: String,
}

fn arrow(text: &str, rightward: bool, lost: bool) -> String {
    let body = format!(" {text} ");
    let fill = ARROW.saturating_sub(body.chars().count() + 3);
    let (l, r) = (fill / 2, fill - fill / 2);
    if rightward {
        let head = if lost { "✗" } else { "▶" };
        format!("─{}{body}{}─{head}", "─".repeat(l), "─".repeat(r))
    } else {
        let head = if lost { "✗" } else { "◀" };
        format!("{head}─{}{body}{}─", "─".repeat(l), "─".repeat(r))
    }
}

fn state_cell(s: State, changed: bool) -> String {
    let text = if changed {
        format!("→{}", s.as_str())
    } else {
        format!(" {}", s.as_str())
    };
    format!("{text:<STATE$}")
}

/// Render the ladder for two sides; `a` is drawn on the left. With `arrivals` (exact packet
/// fates, e.g. from the simulator) each segment is paired with its own arrival; without, with
/// the first unpaired arrival of an identical segment.
pub fn render(a: &Side<'_>, b: &Side<'_>, arrivals: Option<&Arrivals>) -> String {
    render_ladder(&Ladder::new(a, b, arrivals))
}

/// Render an already built [`Ladder`].
pub fn render_ladder(ladder: &Ladder) -> String {
    let mut rows: Vec<Row> = Vec::new();
    for seg in &ladder.segments {
        let note = match seg.arrival {
            Some(arr) => {
                let at = secs(arr.time);
                match arr.fate {
                    Fate::Processed => format!("arrives {at}"),
                    Fate::Dropped(reason) => {
                        format!("arrives {at} · dropped: {}", reason.as_str())
                    }
                    Fate::Damaged(reason) => {
                        format!("arrives {at} damaged · dropped: {}", reason.as_str())
                    }
                }
            }
            None => "lost".to_string(),
        };
        let from = state_cell(seg.from_state.0, seg.from_state.1);
        let to = state_cell(seg.to_state.0, seg.to_state.1);
        let (left, right) = if seg.from == 0 {
            (from, to)
        } else {
            (to, from)
        };
        let line = format!(
            "{:>11}  {left}{}  {right} {note}",
            secs(seg.send),
            arrow(&seg.label.text(), seg.from == 0, seg.arrival.is_none())
        );
        rows.push(Row {
            time: seg.send,
            order: (seg.from, seg.index),
            text: line,
        });
    }

    // Transitions with no segment behind them (application calls, timers), and timers.
    for n in &ladder.notes {
        let note = match &n.kind {
            NoteKind::Transition {
                from,
                to,
                cause,
                error,
            } => {
                let err = error.map(|e| format!(", {e}")).unwrap_or_default();
                format!("{from} → {to} ({}{err})", cause.as_str())
            }
            NoteKind::Timer { kind, attempt } => {
                let what = match kind {
                    TimerKind::TimeWait => "2×MSL timer fires".to_string(),
                    TimerKind::Retransmit => format!("retransmission timeout #{attempt}"),
                    TimerKind::SynAckRetransmit => format!("SYN-ACK retry #{attempt}"),
                    TimerKind::Persist => format!("persist timer #{attempt}"),
                    TimerKind::FinWait2 => "FIN-WAIT-2 timer fires".to_string(),
                };
                format!("⏱ {what}")
            }
            NoteKind::Unmatched(label) => {
                format!(
                    "(unmatched arrival, e.g. a network duplicate: {})",
                    label.text()
                )
            }
        };
        let pad = if n.side == 0 {
            2
        } else {
            2 + STATE + ARROW + 2
        };
        rows.push(Row {
            time: n.time,
            order: (n.side, n.index),
            text: format!(
                "{:>11}{}{} {note}",
                secs(n.time),
                " ".repeat(pad),
                ladder.names[n.side]
            ),
        });
    }
    rows.sort_by_key(|r| (r.time, r.order));

    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>11}  {:<STATE$}{:^ARROW$}  {:<STATE$}",
        "time (s)",
        ladder.names[0],
        "segment: flags seq=rel(abs) ack=rel(abs) win len",
        ladder.names[1]
    );
    let _ = writeln!(
        out,
        "{:>11}  {}{}  {}",
        "",
        state_cell(ladder.initial[0], false),
        " ".repeat(ARROW),
        state_cell(ladder.initial[1], false)
    );
    for r in rows {
        let _ = writeln!(out, "{}", r.text.trim_end());
    }
    out
}
