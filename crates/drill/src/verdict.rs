//! What running one script came to: PASS, FAIL with the line, what the script expected and
//! what oxtcp did, or UNSUPPORTED naming the construct.

use std::fmt;

/// The result of one script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every event happened as the script says.
    Pass,
    /// An event did not.
    Fail(Failure),
    /// The script uses something the runner does not implement.
    Unsupported(Unsupported),
}

impl Verdict {
    /// `PASS`, `FAIL` or `UNSUPPORTED`.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail(_) => "FAIL",
            Verdict::Unsupported(_) => "UNSUPPORTED",
        }
    }

    /// Whether the script passed.
    pub fn is_pass(&self) -> bool {
        matches!(self, Verdict::Pass)
    }
}

/// Where and how a script failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// 1-based script line (0 for a parse-level failure with no line).
    pub line: usize,
    /// The script's text of that line.
    pub text: String,
    /// What the script expected, in words or packetdrill syntax.
    pub expected: String,
    /// What oxtcp actually did.
    pub actual: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  line {}: {}", self.line, self.text)?;
        writeln!(f, "    expected: {}", self.expected)?;
        write!(f, "    actual:   {}", self.actual)
    }
}

/// A construct the runner does not implement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// 1-based script line.
    pub line: usize,
    /// The construct, named.
    pub construct: String,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "  line {}: unsupported: {}", self.line, self.construct)
    }
}

/// Why an event stopped the script; the runner turns it into a `Verdict`.
#[derive(Clone, Debug)]
pub(crate) enum Stop {
    Fail {
        expected: String,
        actual: String,
        at: Option<(usize, String)>,
    },
    Unsupported(String),
}

impl Stop {
    pub(crate) fn fail(expected: impl Into<String>, actual: impl Into<String>) -> Stop {
        Stop::Fail {
            expected: expected.into(),
            actual: actual.into(),
            at: None,
        }
    }

    pub(crate) fn fail_at(
        line: usize,
        text: String,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Stop {
        Stop::Fail {
            expected: expected.into(),
            actual: actual.into(),
            at: Some((line, text)),
        }
    }

    pub(crate) fn unsupported(construct: impl Into<String>) -> Stop {
        Stop::Unsupported(construct.into())
    }
}
