//! The time column: `*`, `0.100`, `+0.1`, `a~b` (a range) or `a...b` (a blocking call).
//! Seconds are converted to microseconds from their digits, never through floating point.

use super::lexer::Lexer;
use super::ParseError;
use crate::ast::{Anchor, TimePoint, Timing};

/// `*`, `T`, `T~T` or `T...T`.
pub(super) fn timing(lx: &mut Lexer<'_>) -> Result<Timing, ParseError> {
    lx.skip_ws();
    if lx.eat_str("*") {
        return Ok(Timing::Any);
    }
    let start = lx.pos();
    let a = time_point(lx)?;
    lx.skip_ws();
    let (b, blocking) = if lx.eat_str("~") {
        lx.skip_ws();
        (time_point(lx)?, false)
    } else if lx.eat_str("...") {
        lx.skip_ws();
        (time_point(lx)?, true)
    } else {
        return Ok(Timing::At(a));
    };
    if a.anchor == Anchor::Absolute && b.anchor == Anchor::Absolute && b.usecs < a.usecs {
        let written = lx.src_between(start, lx.pos());
        return Err(lx.err_at(
            start,
            format!("time range '{written}' ends before it starts"),
        ));
    }
    Ok(if blocking {
        Timing::Blocking(a, b)
    } else {
        Timing::Range(a, b)
    })
}

/// `0.100` or `+0.1`: seconds with up to six fractional digits, converted exactly.
fn time_point(lx: &mut Lexer<'_>) -> Result<TimePoint, ParseError> {
    let start = lx.pos();
    let anchor = if lx.eat_str("+") {
        Anchor::Relative
    } else {
        Anchor::Absolute
    };
    let whole = lx.take_while(|c| c.is_ascii_digit());
    if whole.is_empty() {
        let found = lx.peek_word();
        let found = if found.is_empty() {
            "end of line".to_string()
        } else {
            format!("'{found}'")
        };
        let msg = if found.starts_with("'-") {
            format!("negative time {found}: times must not be negative")
        } else {
            format!("expected a time (like 0.100, +0.1 or *), found {found}")
        };
        return Err(lx.err_at(start, msg));
    }
    let mut frac = "";
    let mut chars = lx.rest().chars();
    if chars.next() == Some('.') && chars.next().is_some_and(|c| c.is_ascii_digit()) {
        lx.eat_str(".");
        frac = lx.take_while(|c| c.is_ascii_digit());
    }
    let written = lx.src_between(start, lx.pos());
    if frac.len() > 6 {
        return Err(lx.err_at(
            start,
            format!("time '{written}' has more than 6 fractional digits (the unit is 1 µs)"),
        ));
    }
    let frac_usecs = format!("{frac:0<6}").parse::<i64>().unwrap_or(0);
    let usecs = whole
        .parse::<i64>()
        .ok()
        .and_then(|s| s.checked_mul(1_000_000))
        .and_then(|u| u.checked_add(frac_usecs))
        .ok_or_else(|| lx.err_at(start, format!("time '{written}' is too large")))?;
    Ok(TimePoint { anchor, usecs })
}
