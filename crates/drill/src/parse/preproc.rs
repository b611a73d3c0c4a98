//! Comments, conditional directives and logical lines.
//!
//! Input is cut into physical lines. A line whose first non-blank character is `#` is a
//! directive (`#ifdef NAME`, `#ifndef NAME`, `#else`, `#endif`), checked even inside an
//! inactive branch so nesting stays right; any other directive is an error. Lines in an
//! inactive branch are otherwise skipped unread.
//!
//! An active line is scanned for comments: `//` ends the line, `/* */` becomes blank (its
//! newlines kept, so line numbers stay exact) and may span lines. Backquoted commands, string
//! literals and `%{ }%` code blocks are copied untouched, so `//` or `#` inside them is kept;
//! a code block may span lines. The result is one logical line per flag or event, with the
//! number of the physical line where its text starts.

use super::ParseError;

/// One flag or event, comments removed, trimmed; never empty.
#[derive(Debug)]
pub(crate) struct Chunk {
    /// 1-based line of the first non-blank character.
    pub line: usize,
    /// The text; may contain newlines if a code block or comment spans lines.
    pub text: String,
}

/// One open `#ifdef`/`#ifndef`.
struct Cond {
    /// Line of the opening directive.
    line: usize,
    /// `#ifdef NAME` or `#ifndef NAME`, for messages.
    opener: String,
    /// Whether the enclosing region is active.
    parent_active: bool,
    /// Whether the opening test held.
    holds: bool,
    /// Line of the `#else`, once seen.
    else_line: Option<usize>,
}

impl Cond {
    fn active(&self) -> bool {
        self.parent_active && (self.holds != self.else_line.is_some())
    }
}

/// Cuts `src` into logical lines of the active branches and hands each to `each`, in order,
/// so the first error in the source is the one reported.
pub(crate) fn for_each_line(
    src: &str,
    defines: &[&str],
    mut each: impl FnMut(Chunk) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let lines: Vec<&str> = src
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut conds: Vec<Cond> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let active = conds.iter().all(Cond::active);
        if lines[i].trim_start().starts_with('#') {
            directive(i + 1, lines[i], active, defines, &mut conds)?;
            i += 1;
        } else if !active {
            i += 1;
        } else {
            let (chunk, next) = scan(&lines, i)?;
            if let Some(chunk) = chunk {
                each(chunk)?;
            }
            i = next;
        }
    }
    if let Some(open) = conds.last() {
        return Err(ParseError::new(
            open.line,
            format!("'{}' is never closed by '#endif'", open.opener),
        ));
    }
    Ok(())
}

/// Applies one directive line.
fn directive(
    line: usize,
    text: &str,
    active: bool,
    defines: &[&str],
    conds: &mut Vec<Cond>,
) -> Result<(), ParseError> {
    let body = strip_directive_comment(line, text.trim_start())?;
    let body = body.strip_prefix('#').unwrap_or(body);
    let mut words = body.split_whitespace();
    let Some(name) = words.next() else {
        return Err(ParseError::new(line, "empty directive '#'"));
    };
    let args: Vec<&str> = words.collect();
    match name {
        "ifdef" | "ifndef" => {
            let [arg] = args[..] else {
                return Err(ParseError::new(
                    line,
                    if args.is_empty() {
                        format!("'#{name}' needs a name")
                    } else {
                        format!(
                            "'#{name}' takes one name, found extra '{}'",
                            args[1..].join(" ")
                        )
                    },
                ));
            };
            let defined = defines.contains(&arg);
            conds.push(Cond {
                line,
                opener: format!("#{name} {arg}"),
                parent_active: active,
                holds: defined == (name == "ifdef"),
                else_line: None,
            });
        }
        "else" | "endif" => {
            if let Some(extra) = args.first() {
                return Err(ParseError::new(
                    line,
                    format!("unexpected '{extra}' after '#{name}'"),
                ));
            }
            let Some(open) = conds.last_mut() else {
                return Err(ParseError::new(
                    line,
                    format!("'#{name}' without a matching '#ifdef' or '#ifndef'"),
                ));
            };
            if name == "endif" {
                conds.pop();
            } else if let Some(prev) = open.else_line {
                return Err(ParseError::new(
                    line,
                    format!(
                        "second '#else' for '{}' (line {}); its '#else' is on line {prev}",
                        open.opener, open.line
                    ),
                ));
            } else {
                open.else_line = Some(line);
            }
        }
        other => {
            return Err(ParseError::new(
                line,
                format!(
                    "unsupported directive '#{other}' (only #ifdef, #ifndef, #else and #endif)"
                ),
            ))
        }
    }
    Ok(())
}

/// Removes a trailing `// ...` or `/* ... */` from a directive line. A `/*` comment that
/// starts on a directive line must end on it.
fn strip_directive_comment(line: usize, text: &str) -> Result<&str, ParseError> {
    let cut = match (text.find("//"), text.find("/*")) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => return Ok(text),
    };
    let rest = &text[cut..];
    if rest.starts_with("/*") && !rest[2..].contains("*/") {
        return Err(ParseError::new(
            line,
            "a '/*' comment that starts on a directive line must end on that line",
        ));
    }
    Ok(&text[..cut])
}

/// Where the scanner is within a logical line; a multi-line construct carries the line it
/// started on.
#[derive(Clone, Copy)]
enum State {
    Normal,
    BlockComment(usize),
    Backquote,
    Str,
    Code(usize),
}

/// Scans the logical line starting at `lines[start]`; returns it (if not blank) and the index
/// of the next unread line.
fn scan(lines: &[&str], start: usize) -> Result<(Option<Chunk>, usize), ParseError> {
    let mut out = String::new();
    let mut state = State::Normal;
    let mut i = start;
    loop {
        let cs: Vec<char> = lines[i].chars().collect();
        let mut k = 0;
        while k < cs.len() {
            let c = cs[k];
            let next = cs.get(k + 1).copied();
            k += 1;
            match state {
                State::Normal => match (c, next) {
                    ('/', Some('/')) => break,
                    ('/', Some('*')) => {
                        k += 1;
                        out.push(' ');
                        state = State::BlockComment(i + 1);
                    }
                    ('`', _) => {
                        out.push(c);
                        state = State::Backquote;
                    }
                    ('"', _) => {
                        out.push(c);
                        state = State::Str;
                    }
                    ('%', Some('{')) => {
                        k += 1;
                        out.push_str("%{");
                        state = State::Code(i + 1);
                    }
                    _ => out.push(c),
                },
                State::BlockComment(_) => {
                    if c == '*' && next == Some('/') {
                        k += 1;
                        state = State::Normal;
                    }
                }
                State::Backquote => {
                    out.push(c);
                    if c == '`' {
                        state = State::Normal;
                    }
                }
                State::Str => {
                    out.push(c);
                    if c == '\\' {
                        if let Some(n) = next {
                            out.push(n);
                            k += 1;
                        }
                    } else if c == '"' {
                        state = State::Normal;
                    }
                }
                State::Code(_) => {
                    if c == '}' && next == Some('%') {
                        k += 1;
                        out.push_str("}%");
                        state = State::Normal;
                    } else {
                        out.push(c);
                    }
                }
            }
        }
        i += 1;
        let open_line = match state {
            // An unclosed quote or backquote ends with its line; the event parser reports
            // it if it is in a place where it matters (a note may hold a lone `"`).
            State::Normal | State::Backquote | State::Str => {
                return Ok((chunk(start + 1, &out), i))
            }
            State::BlockComment(l) | State::Code(l) => l,
        };
        if i == lines.len() {
            let what = if matches!(state, State::Code(_)) {
                "unterminated code block: '%{' is never closed by '}%'"
            } else {
                "unterminated comment: '/*' is never closed by '*/'"
            };
            return Err(ParseError::new(open_line, what));
        }
        out.push('\n');
    }
}

/// Trims `text` into a chunk, moving `line` down past leading blank lines; `None` if blank.
fn chunk(line: usize, text: &str) -> Option<Chunk> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    let lead = &text[..text.len() - text.trim_start().len()];
    Some(Chunk {
        line: line + lead.matches('\n').count(),
        text: trimmed.to_string(),
    })
}
