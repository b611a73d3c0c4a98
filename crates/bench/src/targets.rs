//! Issue 8's targets, checked against the figures of one or more runs: for each target, the
//! value it asks about in each run and whether it held. `oxtcp-bench --targets FILE...` reads
//! files written by `--json`; a run of the suite ends with the same check of its own figures.
//!
//! What each check reads, where the issue leaves a choice:
//! - *Bulk* is judged per cell (MTU, buffer size, copying or reading in place) by throughput,
//!   the best of the oxtcp systems in that cell against smoltcp. At MTU 1500 that is
//!   `oxtcp+gso+gro` (the pair with its link segmenting and coalescing in software, as Linux
//!   does for a device without offloads; BENCHMARKS.md's method); the verdict names the system.
//! - *TUN* is oxtcp with the TUN offloads (`oxtcp+offload`), as the issue asks, against smoltcp
//!   on the same TUN and against kernel-to-kernel TCP over veth with offloads on.
//! - *Memory* compares oxtcp's own medians with the bounds; *scaling* divides the per-segment
//!   cost with 1,000,000 connections open by the cost with one.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::report::{advantage, Better, Row, OXTCP};

/// Figures by (figure, system): the median.
#[derive(Debug, Default)]
pub struct Figures(HashMap<(String, String), f64>);

impl Figures {
    /// The figures of rows just measured.
    pub fn from_rows(rows: &[Row]) -> Figures {
        Figures(
            rows.iter()
                .map(|r| ((r.figure.clone(), r.system.clone()), r.median))
                .collect(),
        )
    }

    /// The figures of a file `--json` wrote.
    pub fn load(path: &Path) -> Result<Figures> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Figures::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    /// The figures of the JSON list `--json` writes: objects with `figure`, `system` and a
    /// numeric `median`; other fields are ignored.
    pub fn parse(text: &str) -> Result<Figures> {
        let v: serde_json::Value = serde_json::from_str(text).context("not JSON")?;
        let Some(list) = v.as_array() else {
            bail!("not a list of figures (the JSON `--json` writes)");
        };
        let mut map = HashMap::new();
        for (i, item) in list.iter().enumerate() {
            let field = |k: &str| item.get(k).and_then(|x| x.as_str());
            let (Some(figure), Some(system)) = (field("figure"), field("system")) else {
                bail!("item {i}: no `figure` or `system` string");
            };
            // A median that could not be measured is written as null: the figure is absent.
            if let Some(m) = item.get("median").and_then(serde_json::Value::as_f64) {
                map.insert((figure.to_owned(), system.to_owned()), m);
            }
        }
        Ok(Figures(map))
    }

    fn get(&self, figure: &str, system: &str) -> Option<f64> {
        self.0
            .get(&(figure.to_owned(), system.to_owned()))
            .copied()
            .filter(|v| v.is_finite())
    }
}

/// How a check turns figures into one value.
enum Measure {
    /// The best oxtcp system's throughput over the peer's (systems named `oxtcp` or
    /// `oxtcp+...`), with the system that gave it.
    BestOverPeer { figure: String, peer: &'static str },
    /// One system's value over the peer's (rates and throughputs).
    Over {
        figure: &'static str,
        system: &'static str,
        peer: &'static str,
    },
    /// oxtcp's own value.
    Own { figure: &'static str },
    /// oxtcp's value on one figure over its value on another.
    OwnRatio {
        figure: &'static str,
        base: &'static str,
    },
}

/// Which side of the bound the value must be on.
#[derive(Clone, Copy)]
enum Bound {
    AtLeast(f64),
    AtMost(f64),
}

/// One target: what it is about, the bound, and how to read it from the figures.
struct Check {
    about: String,
    target: String,
    unit: &'static str,
    bound: Bound,
    measure: Measure,
}

/// A check's value in one run, and the system that gave it where that was a choice.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    pub value: f64,
    pub system: Option<String>,
}

impl Check {
    fn read(&self, f: &Figures) -> Option<Value> {
        match &self.measure {
            Measure::BestOverPeer { figure, peer } => {
                let peer = f.get(figure, peer)?;
                f.0.iter()
                    .filter(|((fig, sys), _)| fig == figure && is_oxtcp(sys))
                    .filter_map(|((_, sys), &v)| (v.is_finite() && v > 0.0).then_some((sys, v)))
                    // Ties go to the name that sorts first, so the answer does not depend
                    // on the map's order.
                    .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(a.0)))
                    .and_then(|(sys, v)| {
                        ratio(v, peer).map(|value| Value {
                            value,
                            system: Some(sys.clone()),
                        })
                    })
            }
            Measure::Over {
                figure,
                system,
                peer,
            } => ratio(f.get(figure, system)?, f.get(figure, peer)?).map(|value| Value {
                value,
                system: None,
            }),
            Measure::Own { figure } => Some(Value {
                value: f.get(figure, OXTCP)?,
                system: None,
            }),
            Measure::OwnRatio { figure, base } => ratio(f.get(figure, OXTCP)?, f.get(base, OXTCP)?)
                .map(|value| Value {
                    value,
                    system: None,
                }),
        }
    }

    fn met(&self, v: &Value) -> bool {
        match self.bound {
            Bound::AtLeast(b) => v.value >= b,
            Bound::AtMost(b) => v.value <= b,
        }
    }

    fn show(&self, v: &Value) -> String {
        let mut s = match self.unit {
            "x" => format!("{:.2}×", v.value),
            unit => format!("{} {unit}", crate::report::show(v.value)),
        };
        if let Some(sys) = &v.system {
            let _ = write!(s, " (`{sys}`)");
        }
        if !self.met(v) {
            s = format!("**{s}**");
        }
        s
    }
}

fn is_oxtcp(system: &str) -> bool {
    system == OXTCP || system.starts_with("oxtcp+")
}

/// `a` over `b`, as the suite's table gives a peer's ratio: `None` unless finite and positive.
fn ratio(a: f64, b: f64) -> Option<f64> {
    advantage(a, b, Better::Higher)
}

/// The targets, one check per cell of the suite's tables they cover.
fn checks() -> Vec<Check> {
    let mut v = Vec::new();
    let (bulk_times, bulk_peer) = (1.5, "smoltcp");
    for mtu in [1500, 65535] {
        for read in ["", ", read in place"] {
            for buf in ["64 KiB", "1 MiB"] {
                let cell = format!("bulk MTU {mtu} buf {buf}{read}");
                v.push(Check {
                    about: cell.clone(),
                    target: format!("≥ {bulk_times}× {bulk_peer}"),
                    unit: "x",
                    bound: Bound::AtLeast(bulk_times),
                    measure: Measure::BestOverPeer {
                        figure: format!("{cell}: throughput"),
                        peer: bulk_peer,
                    },
                });
            }
        }
    }
    for figure in [
        "lifecycle rate (client closes first)",
        "lifecycle rate (server closes first)",
    ] {
        for (peer, times) in [("smoltcp", 5.0), ("linux", 10.0)] {
            v.push(Check {
                about: figure.into(),
                target: format!("≥ {times}× {peer}"),
                unit: "x",
                bound: Bound::AtLeast(times),
                measure: Measure::Over {
                    figure,
                    system: OXTCP,
                    peer,
                },
            });
        }
    }
    let own = [
        ("idle established connection", "≤ 512 B", "B", 512.0),
        ("TIME-WAIT entry", "≤ 64 B", "B", 64.0),
        ("half-open entry", "≤ 128 B", "B", 128.0),
        (
            "RSS, 1000000 idle established connections",
            "≤ 1 GiB",
            "MiB",
            1024.0,
        ),
    ];
    for (figure, target, unit, most) in own {
        v.push(Check {
            about: figure.into(),
            target: target.into(),
            unit,
            bound: Bound::AtMost(most),
            measure: Measure::Own { figure },
        });
    }
    v.push(Check {
        about: "per-segment cost, 1000000 open".into(),
        target: "≤ 2× the cost with 1 open".into(),
        unit: "x",
        bound: Bound::AtMost(2.0),
        measure: Measure::OwnRatio {
            figure: "per-segment cost, 1000000 open",
            base: "per-segment cost, 1 open",
        },
    });
    for (dir, figure) in [
        ("send", "TUN send (stack → kernel)"),
        ("receive", "TUN receive (kernel → stack)"),
    ] {
        for (peer, times) in [("smoltcp", 3.0), ("linux veth", 0.8)] {
            v.push(Check {
                about: format!("TUN {dir}, `oxtcp+offload`"),
                target: format!("≥ {times}× {peer}"),
                unit: "x",
                bound: Bound::AtLeast(times),
                measure: Measure::Over {
                    figure,
                    system: "oxtcp+offload",
                    peer,
                },
            });
        }
    }
    v
}

/// A check's outcome over the runs: its value in each (None where the run lacks the figures).
pub struct Outcome {
    check: Check,
    values: Vec<Option<Value>>,
    /// Runs that had the figures, and of those, runs where the target held.
    measured: usize,
    met: usize,
}

/// Every target checked against each run's figures, in the order given.
pub fn evaluate(runs: &[Figures]) -> Vec<Outcome> {
    checks()
        .into_iter()
        .map(|check| {
            let values: Vec<Option<Value>> = runs.iter().map(|f| check.read(f)).collect();
            let measured = values.iter().flatten().count();
            let met = values.iter().flatten().filter(|v| check.met(v)).count();
            Outcome {
                check,
                values,
                measured,
                met,
            }
        })
        .collect()
}

/// The outcomes as a Markdown table: a column per run (headed by `labels`), the value in bold
/// where the target was missed, and in how many of the runs with the figures it held.
pub fn table(outcomes: &[Outcome], labels: &[String]) -> String {
    let mut out = String::from("| figure | target |");
    for l in labels {
        let _ = write!(out, " {l} |");
    }
    out.push_str(" met |\n|---|---|");
    for _ in labels {
        out.push_str("---|");
    }
    out.push_str("---|\n");
    for o in outcomes {
        let _ = write!(out, "| {} | {} |", o.check.about, o.check.target);
        for v in &o.values {
            match v {
                Some(v) => {
                    let _ = write!(out, " {} |", o.check.show(v));
                }
                None => out.push_str(" – |"),
            }
        }
        let verdict = match (o.measured, o.met) {
            (0, _) => "not measured".to_owned(),
            (1, 1) => "yes".to_owned(),
            (1, _) => "no".to_owned(),
            (n, m) => format!("{m} of {n}"),
        };
        let _ = writeln!(out, " {verdict} |");
    }
    out
}

/// A run's label: its file name without the suite's prefix and the extension.
pub fn label(path: &Path) -> String {
    let stem = path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into(),
    );
    stem.strip_prefix("oxtcp-bench-all-")
        .unwrap_or(&stem)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(figure: &str, system: &str, v: f64) -> Row {
        Row::new(figure, system, "u", Better::Higher, vec![v])
    }

    fn find<'a>(o: &'a [Outcome], about: &str, target: &str) -> &'a Outcome {
        o.iter()
            .find(|o| o.check.about == about && o.check.target == target)
            .unwrap_or_else(|| panic!("no check {about} / {target}"))
    }

    /// A bulk cell is judged by the best oxtcp system, named in the answer, and the bound is
    /// inclusive: 1.5× holds and 1.49× does not.
    #[test]
    fn bulk_cells_take_the_best_oxtcp_system_against_smoltcp() {
        let fig = "bulk MTU 1500 buf 64 KiB: throughput";
        let at = |gso: f64| {
            Figures::from_rows(&[
                row(fig, OXTCP, 31.0),
                row(fig, "oxtcp+gso+gro", gso),
                row(fig, "smoltcp", 20.0),
            ])
        };
        let o = evaluate(&[at(30.0), at(29.8)]);
        let cell = find(&o, "bulk MTU 1500 buf 64 KiB", "≥ 1.5× smoltcp");
        let v0 = cell.values[0].as_ref().unwrap();
        assert_eq!(v0.system.as_deref(), Some(OXTCP));
        assert!((v0.value - 1.55).abs() < 1e-9);
        let o = evaluate(&[at(40.0), at(29.8)]);
        let cell = find(&o, "bulk MTU 1500 buf 64 KiB", "≥ 1.5× smoltcp");
        assert_eq!(
            cell.values[0].as_ref().unwrap().system.as_deref(),
            Some("oxtcp+gso+gro")
        );
        assert_eq!((cell.measured, cell.met), (2, 2));
        // Exactly at the bound holds; just under it does not.
        let edge = |ox: f64| Figures::from_rows(&[row(fig, OXTCP, ox), row(fig, "smoltcp", 20.0)]);
        let o = evaluate(&[edge(30.0), edge(29.8)]);
        let cell = find(&o, "bulk MTU 1500 buf 64 KiB", "≥ 1.5× smoltcp");
        assert_eq!((cell.measured, cell.met), (2, 1));
    }

    /// Bounds from above (memory, scaling) and ratios against each peer (lifecycle, TUN).
    #[test]
    fn bounds_both_ways_and_ratios_against_each_peer() {
        let f = Figures::from_rows(&[
            row("TIME-WAIT entry", OXTCP, 57.6),
            row("half-open entry", OXTCP, 129.0),
            row("per-segment cost, 1 open", OXTCP, 500.0),
            row("per-segment cost, 1000000 open", OXTCP, 1001.0),
            row("lifecycle rate (client closes first)", OXTCP, 100.0),
            row("lifecycle rate (client closes first)", "smoltcp", 150.0),
            row("lifecycle rate (client closes first)", "linux", 9.0),
            row("TUN receive (kernel → stack)", "oxtcp+offload", 20.0),
            row("TUN receive (kernel → stack)", OXTCP, 99.0),
            row("TUN receive (kernel → stack)", "smoltcp", 7.0),
            row("TUN receive (kernel → stack)", "linux veth", 21.0),
        ]);
        let o = evaluate(&[f]);
        let met = |about: &str, target: &str| {
            let c = find(&o, about, target);
            assert_eq!(c.measured, 1, "{about} / {target}");
            c.met == 1
        };
        assert!(met("TIME-WAIT entry", "≤ 64 B"));
        assert!(!met("half-open entry", "≤ 128 B"));
        assert!(!met(
            "per-segment cost, 1000000 open",
            "≤ 2× the cost with 1 open"
        ));
        assert!(!met("lifecycle rate (client closes first)", "≥ 5× smoltcp"));
        assert!(met("lifecycle rate (client closes first)", "≥ 10× linux"));
        // The TUN checks read the offloading system, not plain oxtcp: 20/7 is under 3×.
        assert!(!met("TUN receive, `oxtcp+offload`", "≥ 3× smoltcp"));
        assert!(met("TUN receive, `oxtcp+offload`", "≥ 0.8× linux veth"));
        // A run without a figure leaves the check unmeasured rather than missed.
        assert_eq!(
            find(&o, "idle established connection", "≤ 512 B").measured,
            0
        );
    }

    /// The JSON `--json` writes reads back to the same verdicts, and the table says in how
    /// many runs each target held, with missed values in bold.
    #[test]
    fn json_round_trip_and_table() {
        let rows = [
            Row::new("TIME-WAIT entry", OXTCP, "B", Better::Lower, vec![57.6]),
            Row::new("TIME-WAIT entry", "linux", "B", Better::Lower, vec![256.0]),
        ];
        let text = crate::report::to_json(&rows).to_string();
        let a = Figures::parse(&text).unwrap();
        let b = Figures::from_rows(&[row("TIME-WAIT entry", OXTCP, 70.0)]);
        let o = evaluate(&[a, b]);
        let t = table(&o, &["one".into(), "two".into()]);
        let line = t
            .lines()
            .find(|l| l.starts_with("| TIME-WAIT entry"))
            .unwrap();
        assert_eq!(
            line,
            "| TIME-WAIT entry | ≤ 64 B | 57.6 B | **70.0 B** | 1 of 2 |"
        );
        assert!(
            t.starts_with("| figure | target | one | two | met |\n"),
            "{t}"
        );
        assert!(t.contains("| not measured |"), "{t}");
    }

    #[test]
    fn bad_files_are_errors_that_say_why() {
        let e = Figures::parse("{\"figure\": 1}").unwrap_err();
        assert!(format!("{e:#}").contains("not a list"), "{e:#}");
        let e = Figures::parse("[{\"median\": 1}]").unwrap_err();
        assert!(format!("{e:#}").contains("item 0"), "{e:#}");
        assert!(Figures::parse("nope").is_err());
        assert_eq!(
            label(Path::new("r/oxtcp-bench-all-99ca7cd-2.json")),
            "99ca7cd-2"
        );
    }
}
