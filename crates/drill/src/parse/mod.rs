//! Parsing packetdrill scripts into the `ast` form.
//!
//! The work is done in three steps:
//!
//! - `preproc`: removes comments, applies `#ifdef`/`#ifndef`/`#else`/`#endif`, and cuts the
//!   source into logical lines (one per flag or event; a `%{ }%` block or a `/* */` comment
//!   may make one logical line span several physical ones).
//! - `lexer`: splits one logical line into tokens on demand.
//! - `event`: an event line (dispatching on its kind; shell and code lines), with
//!   `time` (the time column), `packet` (`<`/`>` lines) and `syscall` (calls and their
//!   argument expressions) for the larger parts.
//!
//! This module ties them together: header flags, then events.

mod event;
mod lexer;
mod packet;
mod preproc;
mod syscall;
mod time;

use crate::ast::{Flag, Script};

/// A script that could not be parsed: the 1-based line and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based source line of the offending construct.
    pub line: usize,
    /// What is wrong, naming the token or construct found.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(line: usize, message: impl Into<String>) -> Self {
        ParseError {
            line,
            message: message.into(),
        }
    }
}

/// Parses a packetdrill script.
///
/// `defines` lists the names that count as defined for `#ifdef`/`#ifndef` (for example
/// `["STANDARD"]`); lines in inactive branches are skipped without being parsed.
pub fn parse(src: &str, defines: &[&str]) -> Result<Script, ParseError> {
    let mut script = Script {
        flags: Vec::new(),
        events: Vec::new(),
    };
    preproc::for_each_line(src, defines, |chunk| {
        if let Some(rest) = chunk.text.strip_prefix("--") {
            if let Some(first) = script.events.first() {
                return Err(ParseError::new(
                    chunk.line,
                    format!(
                        "header flag '--{}' after the first event (line {}); flags must come \
                         before all events",
                        flag_name_part(rest),
                        first.line
                    ),
                ));
            }
            script.flags.push(parse_flag(chunk.line, rest)?);
        } else {
            script
                .events
                .push(event::parse_event(chunk.line, &chunk.text)?);
        }
        Ok(())
    })?;
    Ok(script)
}

/// The part of a flag line (after `--`) before any `=`.
fn flag_name_part(rest: &str) -> &str {
    rest.split('=').next().unwrap_or("").trim()
}

/// Parses `name` or `name=value` (the text after `--`).
fn parse_flag(line: usize, rest: &str) -> Result<Flag, ParseError> {
    let (name, value) = match rest.split_once('=') {
        Some((name, value)) => (name, Some(value.trim().to_string())),
        None => (rest, None),
    };
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(ParseError::new(
            line,
            format!(
                "invalid header flag name '{}' in '--{}' (expected --name or --name=value)",
                name,
                rest.trim()
            ),
        ));
    }
    Ok(Flag {
        line,
        name: name.to_string(),
        value,
    })
}
