//! Tokens of one logical line, read on demand.
//!
//! The event grammar mixes token-level parts (syscall arguments, TCP options) with parts read
//! as raw characters (the time column, a packet's flag letters, a syscall's note), so the
//! lexer is a cursor that offers both.

use super::ParseError;

/// What a token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Decimal digits, or `0x` and hex digits; the value is read by the parser.
    Int,
    /// `[A-Za-z_][A-Za-z0-9_]*`
    Ident,
    /// `...`
    Ellipsis,
    /// A single punctuation character.
    Punct(char),
    /// `"..."`, with its escapes resolved.
    Str(String),
    /// `` `...` ``; the token text includes the backquotes.
    Shell,
    /// `%{ ... }%`; the token text includes the delimiters.
    Code,
    /// End of the logical line.
    Eof,
}

/// A token with its source text and byte offset in the logical line.
#[derive(Clone, Debug)]
pub(crate) struct Token<'a> {
    pub kind: Kind,
    pub text: &'a str,
    pub pos: usize,
}

impl Token<'_> {
    /// How the token is named in an error message.
    pub fn describe(&self) -> String {
        match self.kind {
            Kind::Eof => "end of line".to_string(),
            _ => format!("'{}'", self.text),
        }
    }

    /// Whether this is the punctuation character `c`.
    pub fn is(&self, c: char) -> bool {
        self.kind == Kind::Punct(c)
    }
}

/// Punctuation characters that form single-character tokens.
const PUNCT: &str = "()[]{},:|=<>-+~*.";

/// A cursor over one logical line.
#[derive(Clone)]
pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    /// Source line of `src`'s first character.
    line: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(line: usize, src: &'a str) -> Self {
        Lexer { src, pos: 0, line }
    }

    /// The unread text.
    pub fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    /// Current byte offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The source text between two byte offsets (as returned by `pos`).
    pub fn src_between(&self, start: usize, end: usize) -> &'a str {
        &self.src[start..end]
    }

    /// The next character, without consuming it.
    pub fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    /// Skips whitespace (newlines included: a logical line may span physical ones).
    pub fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// Consumes `s` if the unread text starts with it.
    pub fn eat_str(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// Consumes and returns the longest prefix whose characters satisfy `f`.
    pub fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let len = rest.find(|c: char| !f(c)).unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    /// After skipping whitespace, the run of non-whitespace characters, not consumed.
    pub fn peek_word(&self) -> &'a str {
        let mut copy = self.clone();
        copy.word()
    }

    /// Skips whitespace, then consumes and returns the run of non-whitespace characters.
    pub fn word(&mut self) -> &'a str {
        self.skip_ws();
        self.take_while(|c| !c.is_whitespace())
    }

    /// Consumes text up to and including `end`, returning what lies before it; `None` (and
    /// nothing consumed) if `end` does not occur.
    pub fn raw_until(&mut self, end: char) -> Option<&'a str> {
        let rest = self.rest();
        let at = rest.find(end)?;
        self.pos += at + end.len_utf8();
        Some(&rest[..at])
    }

    /// An error located at byte offset `pos` of this logical line.
    pub fn err_at(&self, pos: usize, message: impl Into<String>) -> ParseError {
        let pos = pos.min(self.src.len());
        let newlines = self.src.as_bytes()[..pos]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        ParseError::new(self.line + newlines, message)
    }

    /// An error located at `tok`.
    pub fn err_tok(&self, tok: &Token<'_>, message: impl Into<String>) -> ParseError {
        self.err_at(tok.pos, message)
    }

    /// The next token, not consumed.
    pub fn peek(&self) -> Result<Token<'a>, ParseError> {
        self.clone().next()
    }

    /// Consumes and returns the next token.
    pub fn next(&mut self) -> Result<Token<'a>, ParseError> {
        self.skip_ws();
        let start = self.pos;
        let rest = self.rest();
        let Some(c) = rest.chars().next() else {
            return Ok(self.token(Kind::Eof, start));
        };
        let kind = if c.is_ascii_digit() {
            self.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
            let text = &self.src[start..self.pos];
            let hex = text
                .strip_prefix("0x")
                .or_else(|| text.strip_prefix("0X"))
                .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()));
            if !hex && !text.chars().all(|c| c.is_ascii_digit()) {
                return Err(self.err_at(start, format!("invalid number '{text}'")));
            }
            Kind::Int
        } else if c.is_ascii_alphabetic() || c == '_' {
            self.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
            Kind::Ident
        } else if self.eat_str("...") {
            Kind::Ellipsis
        } else if c == '"' {
            self.pos += 1;
            Kind::Str(self.string_body(start)?)
        } else if c == '`' {
            self.pos += 1;
            if self.raw_until('`').is_none() {
                return Err(self.err_at(start, "unterminated shell command: missing closing '`'"));
            }
            Kind::Shell
        } else if rest.starts_with("%{") {
            match rest.find("}%") {
                Some(end) => self.pos += end + 2,
                None => {
                    return Err(self.err_at(start, "unterminated code block: '%{' without '}%'"))
                }
            }
            Kind::Code
        } else if PUNCT.contains(c) {
            self.pos += 1;
            Kind::Punct(c)
        } else {
            return Err(self.err_at(start, format!("unexpected character '{c}'")));
        };
        Ok(self.token(kind, start))
    }

    fn token(&self, kind: Kind, start: usize) -> Token<'a> {
        Token {
            kind,
            text: &self.src[start..self.pos],
            pos: start,
        }
    }

    /// Reads a string literal after its opening quote, resolving `\"`, `\\`, `\n` and `\t`.
    fn string_body(&mut self, start: usize) -> Result<String, ParseError> {
        let mut value = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('"' | '\\'))) => value.push(e),
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 't')) => value.push('\t'),
                    Some((j, e)) => {
                        return Err(self.err_at(
                            self.pos + j,
                            format!("unsupported escape '\\{e}' in string literal"),
                        ))
                    }
                    None => break,
                },
                _ => value.push(c),
            }
        }
        Err(self.err_at(start, "unterminated string literal: missing closing '\"'"))
    }
}
