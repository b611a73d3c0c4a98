//! Running many scripts: finding `*.pkt` files under the given paths, one verdict per
//! script, the closing count, and the list of expected deviations.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::run::{run_source, RunOptions};
use crate::verdict::{Failure, Verdict};

/// The scripts named by `paths`: files as given, directories searched recursively for
/// `*.pkt`, each directory's entries in name order.
pub fn find_scripts(paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = fs::metadata(p)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "pkt") {
            out.push(p);
        }
    }
    Ok(())
}

/// Run one script file. A file that cannot be read fails with the reason.
pub fn run_file(path: &Path, opts: &RunOptions) -> Verdict {
    match fs::read_to_string(path) {
        Ok(src) => run_source(&src, opts),
        Err(e) => Verdict::Fail(Failure {
            line: 0,
            text: String::new(),
            expected: "a readable script".into(),
            actual: e.to_string(),
        }),
    }
}

/// Counts over a run of scripts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Scripts that passed.
    pub passed: usize,
    /// Scripts that failed.
    pub failed: usize,
    /// Scripts with an unsupported construct.
    pub skipped: usize,
}

impl Summary {
    /// Count one verdict.
    pub fn add(&mut self, v: &Verdict) {
        match v {
            Verdict::Pass => self.passed += 1,
            Verdict::Fail(_) => self.failed += 1,
            Verdict::Unsupported(_) => self.skipped += 1,
        }
    }

    /// `N passed, M failed` and `, K skipped` when any were.
    pub fn line(&self) -> String {
        let mut s = format!("{} passed, {} failed", self.passed, self.failed);
        if self.skipped > 0 {
            s.push_str(&format!(", {} skipped", self.skipped));
        }
        s
    }
}

/// The report lines of one script: the verdict and path, then the details of a failure.
pub fn report(path: &Path, v: &Verdict) -> String {
    let mut s = format!("{:<11} {}", v.label(), path.display());
    match v {
        Verdict::Pass => {}
        Verdict::Fail(f) => s.push_str(&format!("\n{f}")),
        Verdict::Unsupported(u) => s.push_str(&format!("\n{u}")),
    }
    s
}

/// One entry of a deviation list: a script expected to fail, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deviation {
    /// The script's path relative to the suite root.
    pub script: String,
    /// Why oxtcp differs.
    pub reason: String,
}

/// Parse a deviation list: each script path on a line of its own, followed by its reason
/// on indented lines; `#` starts a comment line. Every entry needs a reason.
pub fn parse_deviations(text: &str) -> Result<Vec<Deviation>, String> {
    let mut out: Vec<Deviation> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            let Some(last) = out.last_mut() else {
                return Err(format!("line {}: a reason before any script", i + 1));
            };
            if !last.reason.is_empty() {
                last.reason.push(' ');
            }
            last.reason.push_str(line.trim());
        } else {
            if out.last().is_some_and(|d| d.reason.is_empty()) {
                return Err(format!("line {}: the previous script has no reason", i + 1));
            }
            out.push(Deviation {
                script: line.trim().to_string(),
                reason: String::new(),
            });
        }
    }
    if out.last().is_some_and(|d| d.reason.is_empty()) {
        return Err("the last script has no reason".into());
    }
    Ok(out)
}
