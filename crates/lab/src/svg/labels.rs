//! Label layout for the SVG ladder: each label's estimated box (DejaVu Sans glyph widths,
//! rotated along its arrow), the spots along an arrow where it may go, and the placement that
//! keeps every label clear of the others, moving a label aside or asking for a crowded stretch
//! of the time axis to be stretched where it must.

use super::{XA, XB};

/// Label font size, px (`.label` in the style sheet).
pub(super) const LABEL_PX: f64 = 10.5;
/// A label's baseline sits this far above its arrow (the `dy` of `text.label`).
pub(super) const LABEL_RISE: f64 = 4.0;
/// Where along its arrow a label may go, in order of preference.
pub(super) const FRACTIONS: [f64; 9] = [0.5, 0.35, 0.65, 0.25, 0.75, 0.42, 0.58, 0.18, 0.82];
/// A label stays this far from its arrow's ends (the arrowhead), when it fits.
pub(super) const LABEL_MARGIN: f64 = 12.0;
/// How much a crowded stretch of the time axis grows per layout round, and at most.
pub(super) const STRETCH_STEP: f64 = 1.35;
pub(super) const MAX_STRETCH: f64 = 8.0;
/// The most a stretch grows for labels that are free but crossed by other arrows.
pub(super) const SOFT_STRETCH: f64 = 5.0;
/// Layout rounds at most.
pub(super) const MAX_ROUNDS: usize = 24;

/// Estimated advance width of `text` in px at font size `px`, from DejaVu Sans's glyph widths
/// (the figure's first font; Helvetica and Arial are narrower, so this errs on the wide side).
pub fn text_width(text: &str, px: f64) -> f64 {
    let em = |c: char| match c {
        ' ' | '.' | ',' | '·' => 0.3179,
        ':' | '|' => 0.337,
        'i' | 'l' | 'j' => 0.278,
        'I' => 0.295,
        'f' => 0.352,
        't' => 0.392,
        '(' | ')' => 0.39,
        'r' => 0.411,
        '_' => 0.5,
        's' => 0.521,
        'c' => 0.55,
        'w' => 0.818,
        'm' => 0.974,
        'M' | 'W' => 0.99,
        '=' | '+' | '→' | '<' | '>' => 0.838,
        '…' => 1.0,
        '0'..='9' => 0.636,
        'a'..='z' => 0.62,
        'A'..='Z' => 0.72,
        _ => 0.8,
    };
    text.chars().map(em).sum::<f64>() * px
}

/// The estimated box of a segment label as drawn: `text` centred at (`x`, `y`), its baseline
/// 4 px above that point, rotated by `angle` degrees about it (the attributes of a
/// `text.label`). Corners in order, in figure coordinates.
pub fn label_box(x: f64, y: f64, angle: f64, text: &str) -> [(f64, f64); 4] {
    rotated_box(x, y, angle, text_width(text, LABEL_PX), 0.0)
}

pub(super) fn rotated_box(x: f64, y: f64, angle: f64, w: f64, pad: f64) -> [(f64, f64); 4] {
    let (sin, cos) = angle.to_radians().sin_cos();
    let (u0, u1) = (-w / 2.0 - pad, w / 2.0 + pad);
    // Ascent and descent of the font, about 0.76 and 0.24 em.
    let v0 = -LABEL_RISE - 0.76 * LABEL_PX - pad;
    let v1 = -LABEL_RISE + 0.24 * LABEL_PX + pad;
    let p = |u: f64, v: f64| (x + u * cos - v * sin, y + u * sin + v * cos);
    [p(u0, v0), p(u1, v0), p(u1, v1), p(u0, v1)]
}

pub(super) fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> [(f64, f64); 4] {
    [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
}

/// Whether two boxes (rectangles given by their corners in order) overlap, by the separating
/// axis test; touching is not overlapping.
pub fn boxes_overlap(a: &Quad, b: &Quad) -> bool {
    let span = |r: &Quad, ax: (f64, f64)| {
        r.iter()
            .map(|p| p.0 * ax.0 + p.1 * ax.1)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), d| {
                (lo.min(d), hi.max(d))
            })
    };
    for r in [a, b] {
        for k in 0..2 {
            let (p, q) = (r[k], r[k + 1]);
            let ax = (p.1 - q.1, q.0 - p.0);
            let (a0, a1) = span(a, ax);
            let (b0, b1) = span(b, ax);
            // A small tolerance, relative to the axis length, against rounding.
            let eps = 1e-6 * (ax.0.abs() + ax.1.abs());
            if a1 <= b0 + eps || b1 <= a0 + eps {
                return false;
            }
        }
    }
    true
}

/// An arrow with a label, for the layout.
pub(super) struct Arrow {
    pub(super) x0: f64,
    pub(super) y0: f64,
    pub(super) x1: f64,
    pub(super) y1: f64,
    pub(super) text: String,
    /// The stretch of the time axis it lies in.
    pub(super) region: Option<usize>,
    /// Its label may also be drawn upright across it (for a long, steep arrow, whose
    /// slanted label would cross everything on the way).
    pub(super) upright: bool,
}

pub(super) type Quad = [(f64, f64); 4];

/// Where an arrow's label may go, best first: as (x, y, angle) with its box. Along the arrow
/// at each of [`FRACTIONS`] where it fits (the middle always), then, if allowed, upright
/// across it.
pub(super) fn candidates(a: &Arrow) -> Vec<((f64, f64, f64), Quad)> {
    // Read left to right, whichever way the arrow points.
    let (lx0, ly0, lx1, ly1) = if a.x1 >= a.x0 {
        (a.x0, a.y0, a.x1, a.y1)
    } else {
        (a.x1, a.y1, a.x0, a.y0)
    };
    let angle = (ly1 - ly0).atan2(lx1 - lx0).to_degrees();
    let len = (lx1 - lx0).hypot(ly1 - ly0);
    let w = text_width(&a.text, LABEL_PX);
    let fits = w + 2.0 * LABEL_MARGIN <= len;
    let (left, right) = (XA.min(XB), XA.max(XB));
    let mut out = Vec::new();
    for (ci, &f) in FRACTIONS.iter().enumerate() {
        let along = f * len;
        if fits && (along - w / 2.0 < LABEL_MARGIN || along + w / 2.0 > len - LABEL_MARGIN) {
            continue;
        }
        let (x, y) = (lx0 + f * (lx1 - lx0), ly0 + f * (ly1 - ly0));
        let bx = rotated_box(x, y, angle, w, 1.0);
        let (xmin, xmax) = bx
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p.0), hi.max(p.0))
            });
        // Off the middle, stay between the timelines.
        if ci > 0 && (xmin < left + 3.0 || xmax > right - 3.0) {
            continue;
        }
        out.push(((x, y, angle), bx));
    }
    if a.upright {
        // Upright, centred on a point of the arrow as far as the timelines allow.
        let (lo, hi) = (left + 6.0 + w / 2.0, right - 6.0 - w / 2.0);
        for step in 1..20 {
            let f = f64::from(step) / 20.0;
            let (ax, y) = (lx0 + f * (lx1 - lx0), ly0 + f * (ly1 - ly0));
            let x = if lo <= hi {
                ax.clamp(lo, hi)
            } else {
                (left + right) / 2.0
            };
            out.push(((x, y, 0.0), rotated_box(x, y, 0.0, w, 1.0)));
        }
    }
    out
}

/// How many of the arrows cross the box `q`.
pub(super) fn crossings(arrows: &[Arrow], q: &Quad) -> usize {
    arrows
        .iter()
        .filter(|a| segment_hits(q, (a.x0, a.y0), (a.x1, a.y1)))
        .count()
}

/// Whether the segment from `p` to `r` meets the box `q` (separating axis test).
pub(super) fn segment_hits(q: &Quad, p: (f64, f64), r: (f64, f64)) -> bool {
    let normal = |a: (f64, f64), b: (f64, f64)| (a.1 - b.1, b.0 - a.0);
    let axes = [normal(q[0], q[1]), normal(q[1], q[2]), normal(p, r)];
    axes.iter().all(|&ax| {
        let d = |v: (f64, f64)| v.0 * ax.0 + v.1 * ax.1;
        let (q0, q1) = q
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(d(v)), hi.max(d(v)))
            });
        let (s0, s1) = (d(p).min(d(r)), d(p).max(d(r)));
        s1 > q0 && q1 > s0
    })
}

/// Place each arrow's label, in order, at the candidate spot whose box overlaps no box placed
/// so far (the `fixed` ones included) and is crossed by the fewest arrows, the earliest of
/// those; failing that, try moving one label already
/// placed that is in the way to another of its spots; failing that, take the spot that
/// overlaps fewest.
pub(super) fn place(arrows: &[Arrow], fixed: &[Quad]) -> Placement {
    let nf = fixed.len();
    let mut boxes: Vec<Quad> = fixed.to_vec();
    let mut out: Vec<(f64, f64, f64)> = Vec::with_capacity(arrows.len());
    let mut failed = Vec::new();
    let mut crossed = Vec::new();
    let cands: Vec<_> = arrows.iter().map(candidates).collect();
    // Whether `bx` is clear of every box but the `skip`th.
    let clear = |boxes: &[Quad], bx: &Quad, skip: usize| {
        boxes
            .iter()
            .enumerate()
            .all(|(i, p)| i == skip || !boxes_overlap(p, bx))
    };
    for (k, c) in cands.iter().enumerate() {
        // Of the free spots, the one fewest other arrows cross (the earliest of those).
        let free = c
            .iter()
            .filter(|(_, bx)| clear(&boxes, bx, usize::MAX))
            .map(|(pos, bx)| (crossings(arrows, bx), pos, bx))
            .min_by_key(|c| c.0);
        if let Some((n, pos, bx)) = free {
            if n > 0 {
                crossed.push(k);
            }
            boxes.push(*bx);
            out.push(*pos);
            continue;
        }
        // The labels in the way of any of this one's spots, in order.
        let mut blocking: Vec<usize> = (nf..boxes.len())
            .filter(|&i| c.iter().any(|(_, bx)| boxes_overlap(&boxes[i], bx)))
            .collect();
        blocking.dedup();
        let mut moved = None;
        'search: for &i in &blocking {
            for (pj, bj) in &cands[i - nf] {
                if !clear(&boxes, bj, i) {
                    continue;
                }
                for (pk, bk) in c {
                    if !boxes_overlap(bj, bk) && clear(&boxes, bk, i) {
                        moved = Some((i, *pj, *bj, *pk, *bk));
                        break 'search;
                    }
                }
            }
        }
        if let Some((i, pj, bj, pk, bk)) = moved {
            boxes[i] = bj;
            out[i - nf] = pj;
            boxes.push(bk);
            out.push(pk);
            continue;
        }
        let hits = |bx: &Quad| boxes.iter().filter(|p| boxes_overlap(p, bx)).count();
        let (pos, bx) = c
            .iter()
            .min_by_key(|(_, bx)| hits(bx))
            .copied()
            .expect("the middle is always a candidate");
        failed.push(k);
        failed.extend(
            (nf..boxes.len())
                .filter(|&i| boxes_overlap(&boxes[i], &bx))
                .map(|i| i - nf),
        );
        boxes.push(bx);
        out.push(pos);
    }
    Placement {
        at: out,
        failed,
        crossed,
    }
}

/// Where the labels went.
pub(super) struct Placement {
    /// Each label's (x, y, angle).
    pub(super) at: Vec<(f64, f64, f64)>,
    /// The arrows whose labels overlap another label: those that found no free spot and
    /// those whose labels they overlap.
    pub(super) failed: Vec<usize>,
    /// The arrows whose labels are free but crossed by another arrow.
    pub(super) crossed: Vec<usize>,
}
