//! A two-column ladder diagram of one connection between hosts A and B, drawn from both
//! stacks' trace events: one row per segment with its send time, flags, seq/ack relative to
//! each side's ISN and absolute, window and length, and the state each side is in after it.
//! A segment that never arrived ends in ✗.

use std::fmt::Write as _;

use oxtcp_core::{Cause, Dir, Event, EventKind, SegmentEvent, State, TimerKind};

/// Width of the arrow column.
const ARROW: usize = 74;
/// Width of a state column.
const STATE: usize = 14;

/// One side's events and what we know about it.
pub struct Side<'a> {
    /// Display name (`A`, `B`).
    pub name: &'a str,
    /// Its trace events, in order.
    pub events: &'a [Event],
    /// Its initial state (CLOSED for a client, LISTEN for a listener).
    pub initial: State,
}

struct Row {
    time: u64,
    /// Side 0 (A) or 1 (B) for ordering ties.
    order: (usize, usize),
    text: String,
}

/// The state of a side after each of its events (state events applied in order).
fn states_after(side: &Side<'_>) -> Vec<State> {
    let mut cur = side.initial;
    let mut after = vec![cur; side.events.len()];
    for (i, e) in side.events.iter().enumerate() {
        if let EventKind::State(s) = &e.kind {
            cur = s.to;
        }
        after[i] = cur;
    }
    // A segment's "state after" includes the state changes it caused, which the trace records
    // right after it, up to the next segment.
    let mut result = after.clone();
    for (i, slot) in result.iter_mut().enumerate() {
        if !matches!(side.events[i].kind, EventKind::Segment(_)) {
            continue;
        }
        for (j, e) in side.events.iter().enumerate().skip(i + 1) {
            match &e.kind {
                EventKind::Segment(_) => break,
                EventKind::State(s) if !is_user_cause(s.cause) => *slot = after[j],
                _ => {}
            }
        }
    }
    result
}

fn is_user_cause(c: Cause) -> bool {
    matches!(
        c,
        Cause::Connect
            | Cause::Close
            | Cause::Abort
            | Cause::TimeWaitExpired
            | Cause::FinWait2Timeout
            | Cause::RetriesExhausted
            | Cause::ListenerClosed
    )
}

fn first_syn(side: &Side<'_>) -> Option<u32> {
    side.events.iter().find_map(|e| match &e.kind {
        EventKind::Segment(s) if s.dir == Dir::Tx && s.flags.syn() => Some(s.seq),
        _ => None,
    })
}

fn key(s: &SegmentEvent) -> (u32, u32, u8, u32, u16) {
    (s.seq, s.ack, s.flags.bits(), s.len, s.win)
}

fn label(s: &SegmentEvent, own_isn: Option<u32>, peer_isn: Option<u32>) -> String {
    let rel = |v: u32, isn: Option<u32>| match isn {
        Some(i) => format!("{}", v.wrapping_sub(i)),
        None => "?".to_string(),
    };
    let ack = if s.flags.ack() {
        format!(" ack={}({})", rel(s.ack, peer_isn), s.ack)
    } else {
        String::new()
    };
    let mss = s
        .options
        .mss
        .map(|m| format!(" mss={m}"))
        .unwrap_or_default();
    let rtx = if s.retransmit { "rtx " } else { "" };
    format!(
        "{rtx}{} seq={}({}){ack} win={} len={}{mss}",
        s.flags,
        rel(s.seq, own_isn),
        s.seq,
        s.win,
        s.len
    )
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

fn secs(t: u64) -> String {
    format!("{}.{:06}", t / 1_000_000, t % 1_000_000)
}

/// For each side, for each of its events that is a transmitted segment, the index of the
/// event on the other side where that very packet arrived (`None`: lost in the network).
pub type Arrivals = [Vec<Option<usize>>; 2];

/// Render the ladder for two sides; `a` is drawn on the left. With `arrivals` (exact packet
/// fates, e.g. from the simulator) each segment is paired with its own arrival; without, with
/// the first unpaired arrival of an identical segment.
pub fn render(a: &Side<'_>, b: &Side<'_>, arrivals: Option<&Arrivals>) -> String {
    let sides = [a, b];
    let isn = [first_syn(a), first_syn(b)];
    let after = [states_after(a), states_after(b)];
    let mut matched = [vec![false; a.events.len()], vec![false; b.events.len()]];
    let mut rows: Vec<Row> = Vec::new();
    // State just before each event, to mark changes.
    let before = |side: usize, i: usize| -> State {
        if i == 0 {
            sides[side].initial
        } else {
            after[side][i - 1]
        }
    };

    for from in 0..2 {
        let to = 1 - from;
        for (i, e) in sides[from].events.iter().enumerate() {
            let EventKind::Segment(s) = &e.kind else {
                continue;
            };
            if s.dir != Dir::Tx {
                continue;
            }
            let arrival = match arrivals {
                Some(arr) => arr[from].get(i).copied().flatten(),
                // The first unmatched arrival of an identical segment on the other side.
                None => sides[to].events.iter().enumerate().position(|(j, r)| {
                    !matched[to][j]
                        && r.time >= e.time
                        && matches!(&r.kind, EventKind::Segment(x) if x.dir != Dir::Tx && key(x) == key(s))
                }),
            };
            let text = label(s, isn[from], isn[to]);
            let (to_state, to_changed, note) = match arrival {
                Some(j) => {
                    matched[to][j] = true;
                    let r = &sides[to].events[j];
                    let at = secs(r.time.as_micros());
                    let note = match &r.kind {
                        EventKind::Segment(x) => match x.reason {
                            Some(reason) if x.dir == Dir::Drop => {
                                format!("arrives {at} · dropped: {}", reason.as_str())
                            }
                            _ => format!("arrives {at}"),
                        },
                        EventKind::Malformed(reason) => {
                            format!("arrives {at} damaged · dropped: {}", reason.as_str())
                        }
                        _ => format!("arrives {at}"),
                    };
                    let st = after[to][j];
                    (st, st != before(to, j), note)
                }
                None => {
                    // Lost in the network: the receiver's state at the send time.
                    let st = state_at(sides[to], &after[to], e.time.as_micros());
                    (st, false, "lost".to_string())
                }
            };
            let from_state = after[from][i];
            let from_changed = from_state != before(from, i);
            let (left, right) = if from == 0 {
                (
                    state_cell(from_state, from_changed),
                    state_cell(to_state, to_changed),
                )
            } else {
                (
                    state_cell(to_state, to_changed),
                    state_cell(from_state, from_changed),
                )
            };
            let line = format!(
                "{:>11}  {left}{}  {right} {note}",
                secs(e.time.as_micros()),
                arrow(&text, from == 0, arrival.is_none())
            );
            rows.push(Row {
                time: e.time.as_micros(),
                order: (from, i),
                text: line,
            });
        }
    }

    // Transitions with no segment behind them (application calls, timers), and timers.
    for (side, sd) in sides.iter().enumerate() {
        for (i, e) in sd.events.iter().enumerate() {
            let note = match &e.kind {
                EventKind::State(s) if is_user_cause(s.cause) => {
                    let err = s.error.map(|e| format!(", {e}")).unwrap_or_default();
                    format!("{} → {} ({}{err})", s.from, s.to, s.cause.as_str())
                }
                EventKind::Timer(t) => {
                    let what = match t.timer {
                        TimerKind::TimeWait => "2×MSL timer fires".to_string(),
                        TimerKind::Retransmit => format!("retransmission timeout #{}", t.attempt),
                        TimerKind::SynAckRetransmit => format!("SYN-ACK retry #{}", t.attempt),
                        TimerKind::Persist => format!("persist timer #{}", t.attempt),
                        TimerKind::FinWait2 => "FIN-WAIT-2 timer fires".to_string(),
                    };
                    format!("⏱ {what}")
                }
                EventKind::Segment(s) if s.dir != Dir::Tx && !matched[side][i] => {
                    let text = label(s, isn[1 - side], isn[side]);
                    format!("(unmatched arrival, e.g. a network duplicate: {text})")
                }
                _ => continue,
            };
            let pad = if side == 0 { 2 } else { 2 + STATE + ARROW + 2 };
            rows.push(Row {
                time: e.time.as_micros(),
                order: (side, i),
                text: format!(
                    "{:>11}{}{} {note}",
                    secs(e.time.as_micros()),
                    " ".repeat(pad),
                    sd.name
                ),
            });
        }
    }
    rows.sort_by_key(|r| (r.time, r.order));

    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>11}  {:<STATE$}{:^ARROW$}  {:<STATE$}",
        "time (s)", a.name, "segment: flags seq=rel(abs) ack=rel(abs) win len", b.name
    );
    let _ = writeln!(
        out,
        "{:>11}  {}{}  {}",
        "",
        state_cell(a.initial, false),
        " ".repeat(ARROW),
        state_cell(b.initial, false)
    );
    for r in rows {
        let _ = writeln!(out, "{}", r.text.trim_end());
    }
    out
}

fn state_at(side: &Side<'_>, after: &[State], t: u64) -> State {
    let mut st = side.initial;
    for (i, e) in side.events.iter().enumerate() {
        if e.time.as_micros() > t {
            break;
        }
        st = after[i];
    }
    st
}

/// The sequence of states a side went through, starting with its initial state.
pub fn state_sequence(side: &Side<'_>) -> Vec<State> {
    let mut seq = vec![side.initial];
    for e in side.events {
        if let EventKind::State(s) = &e.kind {
            seq.push(s.to);
        }
    }
    seq
}
