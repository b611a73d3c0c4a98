//! A two-column ladder diagram of one connection between hosts A and B, drawn from both
//! stacks' trace events: one row per segment with its send time, flags, seq/ack (relative to
//! each side's ISN, or absolute), window and length, and the state each side is in after it.
//! A segment that never arrived ends in ✗. With [`LadderOptions::colour`] the ladder is
//! coloured with ANSI escape codes, added after every column is padded so alignment holds.

use std::fmt::Write as _;

use oxtcp_core::{State, TimerKind};

use crate::model::{secs, Fate, Label, Ladder, NoteKind};
pub use crate::model::{show_states, state_sequence, state_sequences, Arrivals, Side};

/// How the terminal ladder is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LadderOptions {
    /// Sequence and acknowledgment numbers relative to each side's ISN (`?` where it is
    /// unknown), like Wireshark; `false`: the raw 32-bit numbers.
    pub relative: bool,
    /// Colour with ANSI escape codes (for a terminal); `false`: plain text.
    pub colour: bool,
}

impl Default for LadderOptions {
    /// Relative numbers, no colour.
    fn default() -> Self {
        LadderOptions {
            relative: true,
            colour: false,
        }
    }
}

/// ANSI styles of the ladder.
pub mod ansi {
    /// Bold green: state changes, claims that held.
    pub const STATE: &str = "1;32";
    /// Green: a claim that held.
    pub const OK: &str = "32";
    /// Red: lost segments, failed claims, drops.
    pub const BAD: &str = "31";
    /// Yellow: retransmissions and unmatched arrivals.
    pub const RTX: &str = "33";
    /// Magenta: RST segments.
    pub const RST: &str = "35";
    /// Cyan: timers.
    pub const TIMER: &str = "36";

    /// `text` in style `code` when `on`, else unchanged.
    pub fn paint(text: &str, code: &str, on: bool) -> String {
        if on && !text.is_empty() {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// `text` with every ANSI CSI escape sequence removed.
    pub fn strip(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                // ESC [ parameters... final byte in @..~
                if chars.next() == Some('[') {
                    for d in chars.by_ref() {
                        if ('@'..='~').contains(&d) {
                            break;
                        }
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}

use ansi::paint;

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

/// A state cell padded to its column; a change (`→STATE`) is bold green with `colour`. The
/// padding stays outside the escape codes.
fn state_cell(s: State, changed: bool, colour: bool) -> String {
    let text = if changed {
        format!("→{}", s.as_str())
    } else {
        format!(" {}", s.as_str())
    };
    let pad = STATE.saturating_sub(text.chars().count());
    let text = if changed {
        paint(&text, ansi::STATE, colour)
    } else {
        text
    };
    format!("{text}{}", " ".repeat(pad))
}

/// A segment's label on the ladder: `rtx SYN|ACK seq=0 ack=1 win=65535 len=0 mss=1460`, with
/// numbers relative to each side's ISN (`?` where unknown) or absolute.
pub fn label_text(label: &Label, relative: bool) -> String {
    label.terminal(relative)
}

/// Render the ladder for two sides; `a` is drawn on the left. With `arrivals` (exact packet
/// fates, e.g. from the simulator) each segment is paired with its own arrival; without, with
/// the first unpaired arrival of an identical segment. Relative numbers, no colour.
pub fn render(a: &Side<'_>, b: &Side<'_>, arrivals: Option<&Arrivals>) -> String {
    render_with(a, b, arrivals, &LadderOptions::default())
}

/// [`render`] with options.
pub fn render_with(
    a: &Side<'_>,
    b: &Side<'_>,
    arrivals: Option<&Arrivals>,
    opts: &LadderOptions,
) -> String {
    render_ladder_with(&Ladder::new(a, b, arrivals), opts)
}

/// Render an already built [`Ladder`] (relative numbers, no colour).
pub fn render_ladder(ladder: &Ladder) -> String {
    render_ladder_with(ladder, &LadderOptions::default())
}

/// Render an already built [`Ladder`] with options.
pub fn render_ladder_with(ladder: &Ladder, opts: &LadderOptions) -> String {
    let colour = opts.colour;
    let mut rows: Vec<Row> = Vec::new();
    for seg in &ladder.segments {
        let note = match seg.arrival {
            Some(arr) => {
                let at = secs(arr.time);
                match arr.fate {
                    Fate::Processed => format!("arrives {at}"),
                    Fate::Dropped(reason) => paint(
                        &format!("arrives {at} · dropped: {}", reason.as_str()),
                        ansi::BAD,
                        colour,
                    ),
                    Fate::Damaged(reason) => paint(
                        &format!("arrives {at} damaged · dropped: {}", reason.as_str()),
                        ansi::BAD,
                        colour,
                    ),
                }
            }
            None => paint("lost", ansi::BAD, colour),
        };
        let from = state_cell(seg.from_state.0, seg.from_state.1, colour);
        let to = state_cell(seg.to_state.0, seg.to_state.1, colour);
        let (left, right) = if seg.from == 0 {
            (from, to)
        } else {
            (to, from)
        };
        let drawn = arrow(
            &label_text(&seg.label, opts.relative),
            seg.from == 0,
            seg.arrival.is_none(),
        );
        // Lost beats RST beats retransmission.
        let style = if seg.arrival.is_none() {
            Some(ansi::BAD)
        } else if seg.rst {
            Some(ansi::RST)
        } else if seg.label.rtx {
            Some(ansi::RTX)
        } else {
            None
        };
        let drawn = match style {
            Some(code) => paint(&drawn, code, colour),
            None => drawn,
        };
        let line = format!("{:>11}  {left}{drawn}  {right} {note}", secs(seg.send));
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
                paint(
                    &format!("{from} → {to} ({}{err})", cause.as_str()),
                    ansi::STATE,
                    colour,
                )
            }
            NoteKind::Timer { kind, attempt } => {
                let what = match kind {
                    TimerKind::TimeWait => "2×MSL timer fires".to_string(),
                    TimerKind::Retransmit => format!("retransmission timeout #{attempt}"),
                    TimerKind::SynAckRetransmit => format!("SYN-ACK retry #{attempt}"),
                    TimerKind::Persist => format!("persist timer #{attempt}"),
                    TimerKind::FinWait2 => "FIN-WAIT-2 timer fires".to_string(),
                    TimerKind::KeepAlive => format!("keep-alive probe #{attempt}"),
                    TimerKind::DelayedAck => "delayed ACK due".to_string(),
                };
                paint(&format!("⏱ {what}"), ansi::TIMER, colour)
            }
            NoteKind::Unmatched(label) => paint(
                &format!(
                    "(unmatched arrival, e.g. a network duplicate: {})",
                    label_text(label, opts.relative)
                ),
                ansi::RTX,
                colour,
            ),
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
                "{:>11}{}{}{} {note}",
                secs(n.time),
                " ".repeat(pad),
                ladder.names[n.side],
                n.port.map(|p| format!(" :{p}")).unwrap_or_default()
            ),
        });
    }
    rows.sort_by_key(|r| (r.time, r.order));

    let mut out = String::new();
    let numbers = if opts.relative {
        "seq/ack relative to each side's ISN"
    } else {
        "absolute seq/ack"
    };
    let header = format!(
        "{:>11}  {:<STATE$}{:^ARROW$}  {:<STATE$}",
        "time (s)",
        ladder.names[0],
        format!("segment: flags seq ack win len ({numbers})"),
        ladder.names[1]
    );
    let _ = writeln!(out, "{}", header.trim_end());
    let initial = format!(
        "{:>11}  {}{}  {}",
        "",
        state_cell(ladder.initial[0], false, colour),
        " ".repeat(ARROW),
        state_cell(ladder.initial[1], false, colour)
    );
    let _ = writeln!(out, "{}", initial.trim_end());
    for r in rows {
        let _ = writeln!(out, "{}", r.text.trim_end());
    }
    out
}
