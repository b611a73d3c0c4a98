//! The ladder diagram as a standalone SVG figure, in the style of a textbook: two vertical
//! timelines (A left, B right), time flowing down, one slanted arrow per segment from its send
//! time on the sender's line to its arrival time on the receiver's line, labelled with flags,
//! seq/ack, length and window; state boxes where each side changes state; lost segments ending
//! in a cross part-way; timer brackets; a legend.
//!
//! Time is linear within busy stretches and broken across long idle gaps (a TIME-WAIT of 60 s
//! becomes a break mark "⋯ 60 s ⋯"); long runs of data segments in one direction, with no
//! state change, loss or retransmission, are drawn by their first and last few segments and a
//! note saying how many were elided.
//!
//! Labels are placed so that none overlaps another: each goes at the first spot along its
//! arrow (middle, then further out) whose estimated box ([`label_box`]) is free, preferring
//! spots no other arrow crosses; a label already placed may move aside to make room; and where
//! that is not enough the crowded stretch of the time axis (instants joined by segments in
//! flight) is stretched as a whole, so arrows within it keep slants proportional to latency.
//!
//! An old duplicate (an arrival nothing sent at that moment) is drawn as a dashed `g.dup`
//! arrow from the transmission it copies, labelled "old duplicate of …".
//!
//! Elements carry classes for tools and tests: each drawn segment is a `<g class="seg …">`
//! holding a `line.arrow`; lost ones also hold a `path.cross`; state boxes are `g.state`,
//! timer brackets `g.timer`, axis breaks `g.break`, elision notes `text.elision`; the legend's
//! samples use `lg-` classes only.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use oxtcp_core::{State, TimerKind};

use crate::model::{Arrivals, Fate, Ladder, NoteKind, Segment, Side};

mod labels;

use labels::*;
pub use labels::{boxes_overlap, label_box, text_width};

/// How to draw the figure.
#[derive(Debug, Clone)]
pub struct SvgOptions {
    /// Sequence and acknowledgment numbers relative to each side's ISN (`true`) or absolute.
    pub relative: bool,
    /// The figure's title, drawn at the top (none if empty).
    pub title: String,
    /// A run of more than this many same-direction data segments (no state change, loss or
    /// retransmission among them) is elided down to its first and last few.
    pub elide_after: usize,
    /// How many data segments to keep at each end of an elided run.
    pub keep: usize,
}

impl Default for SvgOptions {
    fn default() -> Self {
        SvgOptions {
            relative: true,
            title: String::new(),
            elide_after: 12,
            keep: 3,
        }
    }
}

// Layout, in px.
const XA: f64 = 270.0;
const XB: f64 = 850.0;
const WIDTH: f64 = 1060.0;
const BOX_W: f64 = 124.0;
const BOX_H: f64 = 18.0;
const SLOT: f64 = 22.0;
const PX_PER_MS: f64 = 5.0;
const MIN_GAP: f64 = 8.0;
const BREAK_US: u64 = 60_000;
const BREAK_H: f64 = 56.0;
const ELIDE_H: f64 = 40.0;
const LEGEND_H: f64 = 108.0;
/// Where along the way a lost segment's arrow ends.
const LOST_AT: f64 = 0.55;
/// Escape text for XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A duration in words: `60 s`, `1.5 s`, `250 ms`.
fn duration(us: u64) -> String {
    let secs = us as f64 / 1e6;
    let text = if us >= 10_000_000 {
        format!("{secs:.0} s")
    } else if us >= 1_000_000 {
        format!("{secs:.1} s")
    } else {
        format!("{:.0} ms", us as f64 / 1e3)
    };
    text.replace(".0 s", " s")
}

fn timer_name(kind: TimerKind, attempt: u32) -> String {
    match kind {
        TimerKind::Retransmit => format!("RTO #{attempt}"),
        TimerKind::SynAckRetransmit => format!("SYN-ACK retry #{attempt}"),
        TimerKind::Persist => format!("persist #{attempt}"),
        TimerKind::TimeWait => "2×MSL".to_string(),
        TimerKind::FinWait2 => "FIN-WAIT-2 timer".to_string(),
        TimerKind::KeepAlive => format!("keep-alive #{attempt}"),
        TimerKind::DelayedAck => "delayed ACK".to_string(),
    }
}

/// One run of elided segments.
struct Elision {
    data: usize,
    other: usize,
    from: usize,
    /// Send times of the first and last elided segment.
    t0: u64,
    t1: u64,
}

/// Decide which segments (indices into `order`) to elide.
fn elide(ladder: &Ladder, order: &[usize], opts: &SvgOptions) -> (HashSet<usize>, Vec<Elision>) {
    let segs = &ladder.segments;
    let eligible = |s: &Segment| {
        !s.label.rtx
            && !s.syn_or_fin
            && !s.rst
            && !s.from_state.1
            && !s.to_state.1
            && matches!(s.arrival, Some(a) if a.fate == Fate::Processed)
    };
    // Times of things that must stay visible: they break runs.
    let mut marks: Vec<u64> = ladder.changes.iter().map(|c| c.time).collect();
    marks.extend(ladder.timers.iter().map(|t| t.fire));
    marks.extend(ladder.notes.iter().map(|n| n.time));
    marks.sort_unstable();
    let marked = |a: u64, b: u64| {
        // Strictly after the earlier segment, up to the later one.
        let i = marks.partition_point(|&m| m <= a);
        i < marks.len() && marks[i] <= b
    };

    let mut hidden = HashSet::new();
    let mut runs = Vec::new();
    let mut k = 0;
    while k < order.len() {
        // Grow a run from k: eligible segments, data in one direction only.
        let mut dir: Option<usize> = None;
        let mut end = k;
        while end < order.len() {
            let s = &segs[order[end]];
            if !eligible(s) {
                break;
            }
            if end > k && marked(segs[order[end - 1]].send, s.send) {
                break;
            }
            if s.len > 0 {
                match dir {
                    Some(d) if d != s.from => break,
                    _ => dir = Some(s.from),
                }
            }
            end += 1;
        }
        if end == k {
            k += 1;
            continue;
        }
        let data: Vec<usize> = (k..end).filter(|&p| segs[order[p]].len > 0).collect();
        if data.len() > opts.elide_after && data.len() > 2 * opts.keep {
            let lo = data[opts.keep];
            let hi = data[data.len() - opts.keep];
            let mut e = Elision {
                data: 0,
                other: 0,
                from: dir.unwrap_or(0),
                t0: segs[order[lo]].send,
                t1: segs[order[lo]].send,
            };
            // Hidden: the data segments between the kept ends, and the other segments
            // (ACKs) from the first hidden data segment on, but the run's last few.
            let acks: Vec<usize> = (lo..end).filter(|&p| segs[order[p]].len == 0).collect();
            let last_acks = acks.len().saturating_sub(opts.keep);
            let hide = (lo..hi)
                .filter(|&p| segs[order[p]].len > 0)
                .chain(acks[..last_acks].iter().copied());
            for p in hide {
                let idx = order[p];
                let s = &segs[idx];
                hidden.insert(idx);
                if s.len > 0 {
                    e.data += 1;
                } else {
                    e.other += 1;
                }
                e.t1 = e.t1.max(s.send);
            }
            runs.push(e);
        }
        k = end;
    }
    (hidden, runs)
}

/// The broken time axis: a monotone map from time to y.
struct Axis {
    times: Vec<u64>,
    /// y of each instant's first slot.
    y: Vec<f64>,
    /// Extra height of each instant (slots beyond the first).
    extra: Vec<f64>,
    /// Height of the gap after each instant, and whether it is a break (idle or elided).
    gap: Vec<(f64, Gap)>,
}

#[derive(Clone, Copy, PartialEq)]
enum Gap {
    Linear,
    Idle,
    Elided,
}

impl Axis {
    /// `scale[i]`: how much the linear gap after the `i`th instant is stretched.
    fn new(slots: &BTreeMap<u64, usize>, elisions: &[Elision], top: f64, scale: &[f64]) -> Axis {
        let times: Vec<u64> = slots.keys().copied().collect();
        let mut y = Vec::with_capacity(times.len());
        let mut extra = Vec::with_capacity(times.len());
        let mut gap = Vec::with_capacity(times.len());
        let mut cur = top;
        for (i, &t) in times.iter().enumerate() {
            y.push(cur);
            let ex = (slots[&t].max(1) - 1) as f64 * SLOT;
            extra.push(ex);
            cur += ex;
            let g = match times.get(i + 1) {
                None => (0.0, Gap::Linear),
                Some(&next) => {
                    let elided = elisions
                        .iter()
                        .any(|e| (e.t0 > t && e.t0 < next) || (e.t0 <= t && next <= e.t1));
                    let dt = next - t;
                    if elided {
                        (ELIDE_H, Gap::Elided)
                    } else if dt > BREAK_US {
                        (BREAK_H, Gap::Idle)
                    } else {
                        let k = scale.get(i).copied().unwrap_or(1.0);
                        (
                            (dt as f64 / 1000.0 * PX_PER_MS).max(MIN_GAP) * k,
                            Gap::Linear,
                        )
                    }
                }
            };
            cur += g.0;
            gap.push(g);
        }
        Axis {
            times,
            y,
            extra,
            gap,
        }
    }

    /// y of time `t`, interpolated inside gaps.
    fn at(&self, t: u64) -> f64 {
        match self.times.binary_search(&t) {
            Ok(i) => self.y[i],
            Err(0) => self.y.first().copied().unwrap_or(0.0),
            Err(i) if i >= self.times.len() => {
                let j = self.times.len() - 1;
                self.y[j] + self.extra[j]
            }
            Err(i) => {
                let j = i - 1;
                let (t0, t1) = (self.times[j], self.times[i]);
                let f = (t - t0) as f64 / (t1 - t0) as f64;
                self.y[j] + self.extra[j] + f * self.gap[j].0
            }
        }
    }

    fn bottom(&self) -> f64 {
        match self.times.len() {
            0 => 0.0,
            n => self.y[n - 1] + self.extra[n - 1],
        }
    }
}

/// A segment label's `text` element, at `(x, y)` rotated by the angle (see [`label_box`]).
fn label_text((x, y, angle): (f64, f64, f64), text: &str) -> String {
    format!(
        r#"<text class="label" x="{x:.1}" y="{y:.1}" dy="-{LABEL_RISE}" transform="rotate({angle:.2} {x:.1} {y:.1})">{}</text>"#,
        escape(text)
    )
}

/// Whether the receiver dropped the segment, and the label's note saying so.
fn fate_text(s: &Segment) -> (bool, String) {
    match s.arrival.map(|a| a.fate) {
        Some(Fate::Dropped(r)) => (true, format!(" · dropped: {}", r.as_str())),
        Some(Fate::Damaged(r)) => (true, format!(" · damaged, dropped: {}", r.as_str())),
        _ => (false, String::new()),
    }
}

/// Boxes the labels must keep clear of: elision notes and idle-gap marks (as drawn below).
fn obstacles(axis: &Axis, elisions: &[Elision]) -> Vec<[(f64, f64); 4]> {
    let cx = (XA + XB) / 2.0;
    let mut out = Vec::new();
    for e in elisions {
        let mid = (axis.at(e.t0) + axis.at(e.t1)) / 2.0;
        // The note's width as drawn, or wider.
        let w = (e.data.to_string().len() as f64 + 60.0) * 6.6 + 16.0;
        out.push(rect(cx - w / 2.0, mid - 12.0, cx + w / 2.0, mid + 6.0));
    }
    for (i, &(h, kind)) in axis.gap.iter().enumerate() {
        if kind == Gap::Idle {
            let mid = axis.y[i] + axis.extra[i] + h / 2.0;
            out.push(rect(cx - 50.0, mid - 8.0, cx + 50.0, mid + 8.0));
        }
    }
    out
}

/// Render the ladder of two sides as a standalone SVG document; `a` is drawn on the left.
/// With `arrivals` (exact packet fates, e.g. from the simulator) each segment is paired with
/// its own arrival; without, with the first unpaired arrival of an identical segment.
pub fn render(
    a: &Side<'_>,
    b: &Side<'_>,
    arrivals: Option<&Arrivals>,
    opts: &SvgOptions,
) -> String {
    render_ladder(&Ladder::new(a, b, arrivals), opts)
}

/// Render an already built [`Ladder`] as a standalone SVG document.
pub fn render_ladder(ladder: &Ladder, opts: &SvgOptions) -> String {
    let segs = &ladder.segments;
    let mut order: Vec<usize> = (0..segs.len()).collect();
    order.sort_by_key(|&i| (segs[i].send, segs[i].from, segs[i].index));
    let (hidden, elisions) = elide(ladder, &order, opts);
    let shown: Vec<usize> = order
        .iter()
        .copied()
        .filter(|i| !hidden.contains(i))
        .collect();

    // Slots: at each instant, as many rows as the most sends or arrivals on one side.
    // rank[side][event index] = slot of that event within its instant.
    let mut count: BTreeMap<(u64, usize, bool), usize> = BTreeMap::new();
    let mut rank: [BTreeMap<usize, usize>; 2] = Default::default();
    let mut slot_events: Vec<(u64, usize, usize, bool)> = Vec::new();
    for &i in &shown {
        let s = &segs[i];
        slot_events.push((s.send, s.from, s.index, true));
        if let Some(arr) = s.arrival {
            slot_events.push((arr.time, 1 - s.from, arr.index, false));
        }
    }
    slot_events.sort_unstable();
    for &(t, side, idx, tx) in &slot_events {
        let c = count.entry((t, side, tx)).or_insert(0);
        rank[side].insert(idx, *c);
        *c += 1;
    }
    let mut slots: BTreeMap<u64, usize> = BTreeMap::new();
    for (&(t, _, _), &c) in &count {
        let e = slots.entry(t).or_insert(1);
        *e = (*e).max(c);
    }
    for c in &ladder.changes {
        slots.entry(c.time).or_insert(1);
    }
    for t in &ladder.timers {
        slots.entry(t.start).or_insert(1);
        slots.entry(t.fire).or_insert(1);
    }
    for n in &ladder.notes {
        slots.entry(n.time).or_insert(1);
        if let Some((_, _, t)) = n.origin {
            slots.entry(t).or_insert(1);
        }
    }
    let has_title = !opts.title.is_empty();
    let top = if has_title { 130.0 } else { 106.0 };

    let typical = {
        let mut l: Vec<u64> = shown
            .iter()
            .filter_map(|&i| segs[i].arrival.map(|a| a.time - segs[i].send))
            .collect();
        l.sort_unstable();
        l.get(l.len() / 2).copied().unwrap_or(10_000)
    };
    // Network duplicates with a known origin: drawn as arrows from it, labelled as the
    // original was (numbers relative to the connection that sent it).
    let dups: Vec<(
        &crate::model::Note,
        (usize, usize, u64),
        &crate::model::Label,
    )> = ladder
        .notes
        .iter()
        .filter_map(|n| match (&n.kind, n.origin) {
            (NoteKind::Unmatched(l), Some(o)) => {
                let original = segs.iter().find(|s| s.from == o.0 && s.index == o.1);
                Some((n, o, original.map_or(l, |s| &s.label)))
            }
            _ => None,
        })
        .collect();

    // Regions of the time axis: gaps joined by a segment in flight across both. Each region is
    // stretched as a whole where its labels need room, so arrows inside one keep their slant
    // proportional to their latency.
    let times: Vec<u64> = slots.keys().copied().collect();
    let ngaps = times.len().saturating_sub(1);
    let lost_us = (typical as f64 * LOST_AT) as u64;
    let spans: Vec<(u64, u64)> = shown
        .iter()
        .map(|&i| {
            let s = &segs[i];
            (s.send, s.arrival.map_or(s.send + lost_us, |a| a.time))
        })
        .chain(dups.iter().map(|(n, o, _)| (o.2.min(n.time), n.time)))
        .collect();
    // The gaps a span covers: first and last.
    let gaps_of = |(t0, t1): (u64, u64)| -> Option<(usize, usize)> {
        if ngaps == 0 {
            return None;
        }
        let lo = times
            .partition_point(|&x| x <= t0)
            .saturating_sub(1)
            .min(ngaps - 1);
        let hi = times
            .partition_point(|&x| x < t1)
            .saturating_sub(1)
            .clamp(lo, ngaps - 1);
        Some((lo, hi))
    };
    let mut linked = vec![false; ngaps];
    // Segments only: a duplicate's lag says nothing about the link's latency.
    for &sp in &spans[..shown.len()] {
        if let Some((lo, hi)) = gaps_of(sp) {
            for l in &mut linked[lo..hi] {
                *l = true;
            }
        }
    }
    let mut region = vec![0usize; ngaps];
    for j in 1..ngaps {
        region[j] = region[j - 1] + usize::from(!linked[j - 1]);
    }
    let arrow_region: Vec<Option<usize>> = spans
        .iter()
        .map(|&sp| gaps_of(sp).map(|(lo, _)| region[lo]))
        .collect();
    let mut stretch = vec![1.0f64; region.last().map_or(0, |r| r + 1)];

    // Lay out, stretching the regions where labels collide, until every label has room or the
    // regions are stretched to the limit.
    let side_x = |side: usize| if side == 0 { XA } else { XB };
    let mut round = 0;
    let (axis, arrows, placed) = loop {
        round += 1;
        let scale: Vec<f64> = (0..times.len())
            .map(|j| region.get(j).map_or(1.0, |&r| stretch[r]))
            .collect();
        let axis = Axis::new(&slots, &elisions, top, &scale);
        let event_y = |side: usize, idx: usize, t: u64| -> f64 {
            axis.at(t) + rank[side].get(&idx).copied().unwrap_or(0) as f64 * SLOT
        };
        let mut arrows = Vec::with_capacity(spans.len());
        for (k, &i) in shown.iter().enumerate() {
            let s = &segs[i];
            let (x0, x1) = (side_x(s.from), side_x(1 - s.from));
            let y0 = event_y(s.from, s.index, s.send);
            let (xe, ye) = match s.arrival {
                Some(arr) => (x1, event_y(1 - s.from, arr.index, arr.time)),
                None => {
                    // Slanted as a typical arrival would be, whatever breaks follow.
                    let k = arrow_region[k].map_or(1.0, |r| stretch[r]);
                    let dy = (typical as f64 / 1000.0 * PX_PER_MS).max(MIN_GAP) * k;
                    (x0 + (x1 - x0) * LOST_AT, y0 + dy * LOST_AT)
                }
            };
            let mut text = s.label.terminal(opts.relative);
            text.push_str(&fate_text(s).1);
            arrows.push(Arrow {
                x0,
                y0,
                x1: xe,
                y1: ye,
                text,
                region: arrow_region[k],
                upright: false,
            });
        }
        for (k, (n, o, l)) in dups.iter().enumerate() {
            arrows.push(Arrow {
                x0: side_x(o.0),
                y0: event_y(o.0, o.1, o.2),
                x1: side_x(n.side),
                y1: axis.at(n.time),
                text: format!("old duplicate of {}", l.terminal(opts.relative)),
                region: arrow_region[shown.len() + k],
                upright: true,
            });
        }
        let fixed = obstacles(&axis, &elisions);
        let placement = place(&arrows, &fixed);
        // Overlapping labels stretch their region up to the limit; labels crossed by other
        // arrows, only a little.
        let mut grow: Vec<usize> = placement
            .failed
            .iter()
            .filter_map(|&k| arrows[k].region)
            .filter(|&r| stretch[r] < MAX_STRETCH)
            .chain(
                placement
                    .crossed
                    .iter()
                    .filter_map(|&k| arrows[k].region)
                    .filter(|&r| stretch[r] < SOFT_STRETCH),
            )
            .collect();
        grow.sort_unstable();
        grow.dedup();
        if grow.is_empty() || round >= MAX_ROUNDS {
            break (axis, arrows, placement.at);
        }
        for r in grow {
            stretch[r] = (stretch[r] * STRETCH_STEP).min(MAX_STRETCH);
        }
    };
    let event_y = |side: usize, idx: usize, t: u64| -> f64 {
        axis.at(t) + rank[side].get(&idx).copied().unwrap_or(0) as f64 * SLOT
    };
    let bottom = axis.bottom() + 30.0;

    let mut body = String::new();
    let b = &mut body;

    // Timelines, broken at idle and elided gaps.
    let line_top = top - 46.0;
    let mut seg_start = line_top;
    let mut breaks = Vec::new();
    for (i, &(h, kind)) in axis.gap.iter().enumerate() {
        if kind == Gap::Linear {
            continue;
        }
        let y0 = axis.y[i] + axis.extra[i];
        breaks.push((y0, y0 + h, kind, axis.times[i + 1] - axis.times[i]));
    }
    for &(y0, y1, kind, dt) in &breaks {
        for x in [XA, XB] {
            let _ = writeln!(
                b,
                r#"<line class="timeline" x1="{x}" y1="{seg_start:.1}" x2="{x}" y2="{:.1}"/>"#,
                y0 + 6.0
            );
            let _ = writeln!(
                b,
                r#"<line class="gapline" x1="{x}" y1="{:.1}" x2="{x}" y2="{:.1}"/>"#,
                y0 + 6.0,
                y1 - 6.0
            );
        }
        seg_start = y1 - 6.0;
        if kind == Gap::Elided {
            // Elided stretches keep a dotted line; their note says what is missing.
            continue;
        }
        let mid = (y0 + y1) / 2.0;
        let _ = write!(b, r#"<g class="break">"#);
        for x in [XA, XB] {
            for dy in [-4.0, 4.0] {
                let _ = write!(
                    b,
                    r#"<line class="breakmark" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/>"#,
                    x - 9.0,
                    mid + dy + 3.0,
                    x + 9.0,
                    mid + dy - 3.0
                );
            }
        }
        let _ = write!(
            b,
            r#"<text class="gaplabel" x="{:.1}" y="{:.1}">⋯ {} ⋯</text>"#,
            (XA + XB) / 2.0,
            mid + 4.0,
            escape(&duration(dt))
        );
        let _ = writeln!(b, "</g>");
    }
    for x in [XA, XB] {
        let _ = writeln!(
            b,
            r#"<line class="timeline" x1="{x}" y1="{seg_start:.1}" x2="{x}" y2="{bottom:.1}"/>"#
        );
    }

    // Elision notes, across the middle of their compressed stretch.
    for e in &elisions {
        let mid = (axis.at(e.t0) + axis.at(e.t1)) / 2.0;
        let dir = if e.from == 0 {
            format!("{}→{}", ladder.names[0], ladder.names[1])
        } else {
            format!("{}→{}", ladder.names[1], ladder.names[0])
        };
        let other = if e.other > 0 {
            format!(" and {} ACKs", e.other)
        } else {
            String::new()
        };
        let text = format!("… {} data segments{other} elided ({dir}) …", e.data);
        let w = text.chars().count() as f64 * 6.6 + 16.0;
        let _ = writeln!(
            b,
            r#"<rect class="elision-bg" x="{:.1}" y="{:.1}" width="{w:.1}" height="18"/><text class="elision" x="{:.1}" y="{:.1}">{}</text>"#,
            (XA + XB) / 2.0 - w / 2.0,
            mid - 12.0,
            (XA + XB) / 2.0,
            mid + 1.0,
            escape(&text)
        );
    }

    // Time ticks at send times.
    let mut last_tick = f64::NEG_INFINITY;
    for &i in &shown {
        let s = &segs[i];
        let y = event_y(s.from, s.index, s.send);
        if y - last_tick < 13.0 {
            continue;
        }
        last_tick = y;
        let _ = writeln!(
            b,
            r#"<text class="tick" x="8" y="{:.1}">{:.3}</text>"#,
            y + 4.0,
            s.send as f64 / 1e6
        );
    }

    // Timer brackets, outside the state boxes.
    for t in &ladder.timers {
        let (x, toward) = if t.side == 0 {
            (XA - BOX_W - 34.0, 6.0)
        } else {
            (XB + BOX_W + 34.0, -6.0)
        };
        let y0 = axis.at(t.start);
        let y1 = axis.at(t.fire).max(y0 + 8.0);
        let name = timer_name(t.kind, t.attempt);
        let lx = if t.side == 0 { x - 5.0 } else { x + 12.0 };
        let ly = (y0 + y1) / 2.0;
        let _ = writeln!(
            b,
            r#"<g class="timer"><title>{}</title><path class="bracket" d="M{:.1},{y0:.1} H{x:.1} V{y1:.1} H{:.1}"/><text class="timerlabel" x="{lx:.1}" y="{ly:.1}" transform="rotate(-90 {lx:.1} {ly:.1})">{}</text></g>"#,
            escape(&format!(
                "{} {} fires at {:.6} s",
                ladder.names[t.side],
                name,
                t.fire as f64 / 1e6
            )),
            x + toward,
            x + toward,
            escape(&name)
        );
    }

    // Segments.
    for (k, &i) in shown.iter().enumerate() {
        let s = &segs[i];
        let ar = &arrows[k];
        let lost = s.arrival.is_none();
        let mut class = String::from("seg");
        class.push_str(if s.len > 0 { " data" } else { " ctl" });
        if s.label.rtx {
            class.push_str(" rtx");
        }
        if lost {
            class.push_str(" lost");
        }
        let (dropped, fate) = fate_text(s);
        if dropped {
            class.push_str(" dropped");
        }
        let tip = format!(
            "{} → {}: {} · sent {:.6} s · {}",
            ladder.names[s.from],
            ladder.names[1 - s.from],
            s.label.text(),
            s.send as f64 / 1e6,
            match s.arrival {
                Some(a) => format!("arrives {:.6} s{fate}", a.time as f64 / 1e6),
                None => "lost".to_string(),
            }
        );
        let _ = write!(
            b,
            r#"<g class="{class}" id="seg-{}-{}"><title>{}</title><line class="arrow" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"{}/>"#,
            s.from,
            s.index,
            escape(&tip),
            ar.x0,
            ar.y0,
            ar.x1,
            ar.y1,
            if lost {
                ""
            } else {
                r#" marker-end="url(#head)""#
            }
        );
        if lost {
            let _ = write!(
                b,
                r#"<path class="cross" d="M{:.1},{:.1} l10,10 m0,-10 l-10,10"/>"#,
                ar.x1 - 5.0,
                ar.y1 - 5.0
            );
        }
        let _ = writeln!(b, "{}</g>", label_text(placed[k], &ar.text));
    }

    // Network duplicates: a dashed arrow from the transmission they copy, where it is known,
    // and a dot where they arrive.
    for (k, (n, o, _)) in dups.iter().enumerate() {
        let ar = &arrows[shown.len() + k];
        let tip = format!(
            "{} → {}: old duplicate (a network copy) of the segment sent at {:.6} s, arriving {:.6} s",
            ladder.names[o.0],
            ladder.names[n.side],
            o.2 as f64 / 1e6,
            n.time as f64 / 1e6
        );
        let _ = writeln!(
            b,
            r#"<g class="dup" id="dup-{}-{}"><title>{}</title><line class="duparrow" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" marker-end="url(#duphead)"/>{}</g>"#,
            n.side,
            n.index,
            escape(&tip),
            ar.x0,
            ar.y0,
            ar.x1,
            ar.y1,
            label_text(placed[shown.len() + k], &ar.text)
        );
    }
    for n in &ladder.notes {
        if let NoteKind::Unmatched(l) = &n.kind {
            let x = side_x(n.side);
            let _ = writeln!(
                b,
                r#"<circle class="unmatched" cx="{x}" cy="{:.1}" r="3"><title>{}</title></circle>"#,
                axis.at(n.time),
                escape(&format!(
                    "unmatched arrival (e.g. a network duplicate): {}",
                    l.text()
                ))
            );
        }
    }

    // State boxes: the initial ones at the top, then one per change.
    let state_box = |b: &mut String, side: usize, y: f64, st: State, tip: &str, initial: bool| {
        let x = if side == 0 {
            XA - 12.0 - BOX_W
        } else {
            XB + 12.0
        };
        let _ = writeln!(
            b,
            r#"<g class="state{}"><title>{}</title><rect x="{x:.1}" y="{:.1}" width="{BOX_W}" height="{BOX_H}" rx="3"/><text x="{:.1}" y="{:.1}">{}</text></g>"#,
            if initial { " initial" } else { "" },
            escape(tip),
            y - BOX_H / 2.0,
            x + BOX_W / 2.0,
            y + 4.0,
            escape(st.as_str())
        );
    };
    for side in 0..2 {
        state_box(
            b,
            side,
            top - 30.0,
            ladder.initial[side],
            &format!("{} starts in {}", ladder.names[side], ladder.initial[side]),
            true,
        );
    }
    let mut last_box = [f64::NEG_INFINITY; 2];
    for c in &ladder.changes {
        // At the segment that caused it: the latest drawn event of that side at that instant.
        let idx = rank[c.side].range(..c.index).next_back().map(|(&j, _)| j);
        let mut y = axis.at(c.time);
        if let Some(j) = idx {
            let ty = event_y(c.side, j, c.time);
            // Only when that event is at the same instant.
            let same = ladder.segments.iter().any(|s| {
                (s.from == c.side && s.index == j && s.send == c.time)
                    || (s.from != c.side
                        && matches!(s.arrival, Some(a) if a.index == j && a.time == c.time))
            });
            if same {
                y = ty;
            }
        }
        let y = y.max(last_box[c.side] + BOX_H + 2.0);
        last_box[c.side] = y;
        let tip = format!(
            "{}: {} → {} ({}) at {:.6} s",
            ladder.names[c.side],
            c.from,
            c.to,
            c.cause.as_str(),
            c.time as f64 / 1e6
        );
        state_box(b, c.side, y, c.to, &tip, false);
    }

    // Header: title and names.
    let mut head = String::new();
    if has_title {
        let _ = writeln!(
            head,
            r#"<text class="title" x="{:.1}" y="28">{}</text>"#,
            WIDTH / 2.0,
            escape(&opts.title)
        );
    }
    let ny = top - 56.0;
    for (side, x) in [(0, XA), (1, XB)] {
        let _ = writeln!(
            head,
            r#"<text class="name" x="{x}" y="{ny:.1}">{}</text>"#,
            escape(&ladder.names[side])
        );
    }
    let _ = writeln!(
        head,
        r#"<text class="axis" x="8" y="{ny:.1}">time (s)</text><text class="axis" x="{:.1}" y="{ny:.1}">seq/ack {}</text>"#,
        (XA + XB) / 2.0 + 0.0,
        if opts.relative {
            "relative to each side's ISN"
        } else {
            "absolute"
        }
    );

    // Legend.
    let ly = bottom + 20.0;
    let mut legend = String::new();
    let _ = writeln!(
        legend,
        r#"<g id="legend"><rect class="lg-frame" x="8" y="{ly:.1}" width="{:.1}" height="{LEGEND_H}"/>"#,
        WIDTH - 16.0
    );
    let r1 = ly + 24.0;
    let r2 = ly + 56.0;
    let r3 = ly + 88.0;
    let item = |l: &mut String, x: f64, y: f64, shape: String, text: &str| {
        let _ = writeln!(
            l,
            r#"{shape}<text class="lg-text" x="{:.1}" y="{:.1}">{}</text>"#,
            x + 58.0,
            y + 4.0,
            escape(text)
        );
    };
    item(
        &mut legend,
        24.0,
        r1,
        format!(
            r#"<line class="lg-arrow" x1="24" y1="{:.1}" x2="72" y2="{:.1}" marker-end="url(#head)"/>"#,
            r1 - 4.0,
            r1 + 4.0
        ),
        "segment (send → arrival)",
    );
    item(
        &mut legend,
        290.0,
        r1,
        format!(
            r#"<line class="lg-arrow lg-rtx" x1="290" y1="{:.1}" x2="338" y2="{:.1}" marker-end="url(#head)"/>"#,
            r1 - 4.0,
            r1 + 4.0
        ),
        "retransmission (rtx)",
    );
    item(
        &mut legend,
        520.0,
        r1,
        format!(
            r#"<line class="lg-arrow" x1="520" y1="{:.1}" x2="546" y2="{:.1}"/><path class="lg-cross" d="M541,{:.1} l10,10 m0,-10 l-10,10"/>"#,
            r1 - 4.0,
            r1,
            r1 - 5.0
        ),
        "lost in the network",
    );
    item(
        &mut legend,
        760.0,
        r1,
        format!(
            r#"<rect class="lg-state" x="760" y="{:.1}" width="48" height="14" rx="3"/>"#,
            r1 - 7.0
        ),
        "state (entered here)",
    );
    item(
        &mut legend,
        24.0,
        r2,
        format!(
            r#"<path class="lg-bracket" d="M30,{:.1} H24 V{:.1} H30"/>"#,
            r2 - 9.0,
            r2 + 9.0
        ),
        "timer: armed → fired",
    );
    item(
        &mut legend,
        290.0,
        r2,
        format!(
            r#"<line class="lg-breakmark" x1="300" y1="{:.1}" x2="318" y2="{:.1}"/><line class="lg-breakmark" x1="300" y1="{:.1}" x2="318" y2="{:.1}"/>"#,
            r2 - 1.0,
            r2 - 7.0,
            r2 + 7.0,
            r2 + 1.0
        ),
        "⋯ idle gap ⋯ (time axis broken)",
    );
    item(
        &mut legend,
        580.0,
        r2,
        format!(
            r#"<text class="lg-text" x="580" y="{:.1}">…</text>"#,
            r2 + 4.0
        ),
        "long data runs elided (first and last few drawn)",
    );
    item(
        &mut legend,
        24.0,
        r3,
        format!(
            r#"<line class="lg-dup" x1="24" y1="{:.1}" x2="72" y2="{:.1}" marker-end="url(#duphead)"/><circle class="unmatched" cx="72" cy="{:.1}" r="3"/>"#,
            r3 - 4.0,
            r3 + 4.0,
            r3 + 4.0
        ),
        "old duplicate: a network copy of an earlier segment, arriving late",
    );
    let _ = writeln!(legend, "</g>");

    let height = ly + LEGEND_H + 12.0;
    let mut out = String::with_capacity(body.len() + 4096);
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">"#
    );
    let _ = writeln!(out, "<title>{}</title>", escape(&opts.title));
    out.push_str(STYLE);
    let _ = writeln!(
        out,
        r#"<rect class="bg" x="0" y="0" width="{WIDTH}" height="{height:.0}"/>"#
    );
    out.push_str(&head);
    out.push_str(&body);
    out.push_str(&legend);
    out.push_str("</svg>\n");
    out
}

const STYLE: &str = r##"<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#222"/></marker><marker id="duphead" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#c2185b"/></marker></defs>
<style>
.bg { fill: #fff; }
.title { font-size: 17px; font-weight: bold; text-anchor: middle; }
.name { font-size: 16px; font-weight: bold; text-anchor: middle; }
.axis { font-size: 11px; fill: #555; }
.axis + .axis { text-anchor: middle; }
.timeline { stroke: #222; stroke-width: 2; }
.gapline { stroke: #999; stroke-width: 2; stroke-dasharray: 2 4; }
.breakmark, .lg-breakmark { stroke: #222; stroke-width: 1.5; }
.gaplabel { font-size: 13px; fill: #444; text-anchor: middle; font-style: italic; }
.tick { font-size: 10px; fill: #666; }
.arrow, .lg-arrow { stroke: #222; stroke-width: 1.2; fill: none; }
.seg.data .arrow { stroke: #1f4e9c; }
.seg.rtx .arrow, .lg-rtx { stroke-dasharray: 6 4; }
.seg.rtx .arrow { stroke: #b35900; }
.seg.lost .arrow { stroke: #b00; }
.seg.dropped .arrow { stroke: #777; }
.cross, .lg-cross { stroke: #c00; stroke-width: 2.5; fill: none; }
.label { font-size: 10.5px; text-anchor: middle; fill: #111; }
.seg.rtx .label { fill: #b35900; }
.seg.lost .label { fill: #b00; }
.state rect, .lg-state { fill: #eef3fb; stroke: #1f4e9c; stroke-width: 1.2; }
.state.initial rect { fill: #fff; }
.state text { font-size: 11px; font-weight: bold; text-anchor: middle; fill: #1f3e7c; }
.bracket, .lg-bracket { stroke: #6a3d9a; stroke-width: 1.5; fill: none; }
.timerlabel { font-size: 10.5px; fill: #6a3d9a; text-anchor: middle; }
.elision { font-size: 11.5px; font-style: italic; text-anchor: middle; fill: #333; }
.elision-bg { fill: #fffbe6; stroke: #d9c36a; }
.unmatched { fill: #c2185b; }
.duparrow, .lg-dup { stroke: #c2185b; stroke-width: 1.4; stroke-dasharray: 2 3; fill: none; }
.dup .label { fill: #c2185b; font-style: italic; }
.lg-frame { fill: none; stroke: #bbb; }
.lg-text { font-size: 11.5px; fill: #222; }
</style>
"##;
