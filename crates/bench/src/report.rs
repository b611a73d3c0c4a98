//! Figures as rows (one per system and figure), the table printed for them, and the JSON list
//! `--json` writes: `{figure, system, median, unit, advantage}`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;

/// The system every figure is about; the others are its peers.
pub const OXTCP: &str = "oxtcp";

/// Which way a figure is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// Throughput, rates.
    Higher,
    /// Costs: time, bytes, instructions.
    Lower,
}

/// One system's result on one figure: the median of its runs.
#[derive(Clone, Debug)]
pub struct Row {
    pub figure: String,
    pub system: String,
    pub median: f64,
    pub unit: &'static str,
    pub better: Better,
    /// Every run, in the order measured.
    pub runs: Vec<f64>,
}

impl Row {
    pub fn new(
        figure: impl Into<String>,
        system: impl Into<String>,
        unit: &'static str,
        better: Better,
        runs: Vec<f64>,
    ) -> Row {
        Row {
            figure: figure.into(),
            system: system.into(),
            median: median(&runs),
            unit,
            better,
            runs,
        }
    }
}

/// The median (the mean of the middle two for an even count); NaN for no runs.
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// How many times better oxtcp is than `peer` on a figure, whichever way is better: above 1,
/// oxtcp leads. `None` when either value is missing or zero.
pub fn advantage(oxtcp: f64, peer: f64, better: Better) -> Option<f64> {
    let r = match better {
        Better::Higher => oxtcp / peer,
        Better::Lower => peer / oxtcp,
    };
    (r.is_finite() && r > 0.0).then_some(r)
}

/// oxtcp's median on `figure`, if the rows have it.
fn oxtcp_median(rows: &[Row], figure: &str) -> Option<f64> {
    rows.iter()
        .find(|r| r.figure == figure && r.system == OXTCP)
        .map(|r| r.median)
}

/// A value with three significant digits (and no exponent for everyday magnitudes).
pub fn show(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a >= 1e9 || (a > 0.0 && a < 1e-3) {
        format!("{v:.3e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// One line per figure: each system's median, and for each peer oxtcp's advantage over it.
pub fn table(rows: &[Row]) -> String {
    let mut figures: Vec<&str> = Vec::new();
    for r in rows {
        if !figures.contains(&r.figure.as_str()) {
            figures.push(&r.figure);
        }
    }
    let width = figures.iter().map(|f| f.len()).max().unwrap_or(0);
    let mut out = String::new();
    for f in figures {
        let ox = oxtcp_median(rows, f);
        let mut line = format!("{f:<width$}");
        for r in rows.iter().filter(|r| r.figure == f) {
            let _ = write!(line, "  {}: {} {}", r.system, show(r.median), r.unit);
            if r.system != OXTCP {
                match ox.and_then(|o| advantage(o, r.median, r.better)) {
                    Some(a) => {
                        let _ = write!(line, " (oxtcp {a:.2}x)");
                    }
                    None => line.push_str(" (oxtcp -)"),
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The rows as JSON objects; `advantage` is oxtcp's over that row's system (1 for oxtcp's
/// own rows, null where it cannot be computed).
pub fn to_json(rows: &[Row]) -> serde_json::Value {
    let list: Vec<_> = rows
        .iter()
        .map(|r| {
            let adv = oxtcp_median(rows, &r.figure).and_then(|o| advantage(o, r.median, r.better));
            json!({
                "figure": r.figure,
                "system": r.system,
                "median": r.median,
                "unit": r.unit,
                "advantage": adv,
                "runs": r.runs,
            })
        })
        .collect();
    serde_json::Value::Array(list)
}

/// Write the rows' JSON to `path`.
pub fn write_json(path: &Path, rows: &[Row]) -> Result<()> {
    let text = serde_json::to_string_pretty(&to_json(rows))?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Row> {
        vec![
            Row::new("bulk", OXTCP, "Gbit/s", Better::Higher, vec![3.0, 1.0, 2.0]),
            Row::new("bulk", "smoltcp", "Gbit/s", Better::Higher, vec![1.0, 1.0]),
            Row::new("bytes", OXTCP, "B", Better::Lower, vec![100.0]),
            Row::new("bytes", "linux", "B", Better::Lower, vec![250.0]),
        ]
    }

    #[test]
    fn medians_and_advantage_either_way() {
        let r = rows();
        assert_eq!(r[0].median, 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(advantage(2.0, 1.0, Better::Higher), Some(2.0));
        assert_eq!(advantage(100.0, 250.0, Better::Lower), Some(2.5));
        assert_eq!(advantage(0.0, 1.0, Better::Higher), None);
    }

    #[test]
    fn table_has_a_line_per_figure_with_ratios() {
        let t = table(&rows());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains("oxtcp: 2.000 Gbit/s"), "{t}");
        assert!(
            lines[0].contains("smoltcp: 1.000 Gbit/s (oxtcp 2.00x)"),
            "{t}"
        );
        assert!(lines[1].contains("linux: 250 B (oxtcp 2.50x)"), "{t}");
    }

    #[test]
    fn json_lists_every_row_with_its_advantage() {
        let v = to_json(&rows());
        let a = v.as_array().unwrap();
        assert_eq!(a.len(), 4);
        assert_eq!(a[0]["advantage"], 1.0);
        assert_eq!(a[1]["advantage"], 2.0);
        assert_eq!(a[3]["advantage"], 2.5);
        assert_eq!(a[3]["unit"], "B");
    }
}
