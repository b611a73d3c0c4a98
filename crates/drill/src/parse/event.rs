//! One event line: the time column, then a packet, a syscall, a shell command or a code
//! block. The parts have a file each (`time`, `packet`, `syscall`); the token helpers they
//! share are here.

use super::lexer::{Kind, Lexer, Token};
use super::packet::packet;
use super::syscall::syscall;
use super::time::timing;
use super::ParseError;
use crate::ast::{Direction, Event, EventKind};

/// Parses the event in `text`, a trimmed logical line starting on source line `line`.
pub(crate) fn parse_event(line: usize, text: &str) -> Result<Event, ParseError> {
    let mut lx = Lexer::new(line, text);
    let timing = timing(&mut lx)?;
    lx.skip_ws();
    let kind = match lx.peek_char() {
        Some('<') => {
            lx.eat_str("<");
            EventKind::Packet(packet(&mut lx, Direction::Inbound)?)
        }
        Some('>') => {
            lx.eat_str(">");
            EventKind::Packet(packet(&mut lx, Direction::Outbound)?)
        }
        Some(c)
            if c == '`' || c.is_ascii_alphabetic() || c == '_' || lx.rest().starts_with("%{") =>
        {
            let tok = lx.next()?;
            match tok.kind {
                Kind::Shell => {
                    let cmd = &tok.text[1..tok.text.len() - 1];
                    expect_end(&mut lx, "after the shell command")?;
                    EventKind::Shell(cmd.to_string())
                }
                Kind::Code => {
                    let code = tok.text[2..tok.text.len() - 2].trim();
                    expect_end(&mut lx, "after the code block")?;
                    EventKind::Code(code.to_string())
                }
                _ => EventKind::Syscall(syscall(&mut lx, tok.text)?),
            }
        }
        _ => {
            let found = match lx.peek_word() {
                "" => "end of line".to_string(),
                word => format!("'{word}'"),
            };
            return Err(lx.err_at(
                lx.pos(),
                format!(
                    "expected a packet ('<' or '>'), a syscall, a `shell command` or a \
                     %{{ code block }}% after the time, found {found}"
                ),
            ));
        }
    };
    Ok(Event {
        line,
        text: text.to_string(),
        timing,
        kind,
    })
}

/// Fails unless only whitespace is left.
pub(super) fn expect_end(lx: &mut Lexer<'_>, context: &str) -> Result<(), ParseError> {
    let tok = lx.next()?;
    if tok.kind == Kind::Eof {
        Ok(())
    } else {
        Err(lx.err_tok(&tok, format!("unexpected {} {context}", tok.describe())))
    }
}

/// Consumes the next token, which must be the punctuation `c`.
pub(super) fn expect_punct(lx: &mut Lexer<'_>, c: char, context: &str) -> Result<(), ParseError> {
    let tok = lx.next()?;
    if tok.is(c) {
        Ok(())
    } else {
        Err(lx.err_tok(
            &tok,
            format!("expected '{c}' {context}, found {}", tok.describe()),
        ))
    }
}

/// Consumes the identifier `word`.
pub(super) fn expect_ident(
    lx: &mut Lexer<'_>,
    word: &str,
    context: &str,
) -> Result<(), ParseError> {
    let tok = lx.next()?;
    if tok.kind == Kind::Ident && tok.text == word {
        Ok(())
    } else {
        Err(lx.err_tok(
            &tok,
            format!("expected '{word}' {context}, found {}", tok.describe()),
        ))
    }
}

/// Consumes an unsigned 32-bit integer (`what` names it in errors).
pub(super) fn number_u32(lx: &mut Lexer<'_>, what: &str) -> Result<u32, ParseError> {
    let tok = lx.next()?;
    if tok.kind != Kind::Int {
        return Err(lx.err_tok(
            &tok,
            format!("expected a number for {what}, found {}", tok.describe()),
        ));
    }
    int_value(&tok)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| {
            lx.err_tok(
                &tok,
                format!("{what} '{}' is out of range (0 to 4294967295)", tok.text),
            )
        })
}

/// The value of an `Int` token, if it fits in 128 bits.
pub(super) fn int_value(tok: &Token<'_>) -> Option<u128> {
    match tok
        .text
        .strip_prefix("0x")
        .or_else(|| tok.text.strip_prefix("0X"))
    {
        Some(hex) => u128::from_str_radix(hex, 16).ok(),
        None => tok.text.parse().ok(),
    }
}
