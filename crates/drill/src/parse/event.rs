//! The grammar of one event line: the time column, then a packet, a syscall, a shell command
//! or a code block.

use super::lexer::{Kind, Lexer, Token};
use super::ParseError;
use crate::ast::{
    Anchor, Direction, Event, EventKind, Expr, PacketSpec, SeqSpec, Syscall, TcpOpt, TimePoint,
    Timing,
};

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
        _ => {
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
                Kind::Ident => EventKind::Syscall(syscall(&mut lx, tok.text)?),
                _ => {
                    return Err(lx.err_tok(
                        &tok,
                        format!(
                            "expected a packet ('<' or '>'), a syscall, a `shell command` or a \
                             %{{ code block }}% after the time, found {}",
                            tok.describe()
                        ),
                    ))
                }
            }
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
fn expect_end(lx: &mut Lexer<'_>, context: &str) -> Result<(), ParseError> {
    let tok = lx.next()?;
    if tok.kind == Kind::Eof {
        Ok(())
    } else {
        Err(lx.err_tok(&tok, format!("unexpected {} {context}", tok.describe())))
    }
}

/// Consumes the next token, which must be the punctuation `c`.
fn expect_punct(lx: &mut Lexer<'_>, c: char, context: &str) -> Result<(), ParseError> {
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

// ---------------------------------------------------------------------------------------------
// Time column

/// `*`, `T`, `T~T` or `T...T`.
fn timing(lx: &mut Lexer<'_>) -> Result<Timing, ParseError> {
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

// ---------------------------------------------------------------------------------------------
// Packets

/// The rest of a packet line after `<` or `>`.
fn packet(lx: &mut Lexer<'_>, dir: Direction) -> Result<PacketSpec, ParseError> {
    let arrow = if dir == Direction::Inbound { '<' } else { '>' };
    lx.skip_ws();
    let flags_pos = lx.pos();
    let flags = lx.word();
    if flags.is_empty() {
        return Err(lx.err_at(
            flags_pos,
            format!("expected packet flags after '{arrow}', found end of line"),
        ));
    }
    if flags.starts_with('[') || flags.starts_with('(') {
        return Err(lx.err_at(flags_pos, format!("unsupported packet field '{flags}'")));
    }
    if let Some(bad) = flags.chars().find(|c| !"SFRPUEW.".contains(*c)) {
        return Err(lx.err_at(
            flags_pos,
            format!(
                "invalid packet flag '{bad}' in '{flags}' (flags are S F R P U E W and . for ACK)"
            ),
        ));
    }
    let seq = seq_spec(lx)?;
    let mut spec = PacketSpec {
        dir,
        flags: flags.to_string(),
        seq,
        ack: None,
        win: None,
        options: None,
    };
    // Fields come in this order, each at most once: ack, win, <options>.
    let mut rank = 0;
    loop {
        let tok = lx.peek()?;
        let (field_rank, name) = match (&tok.kind, tok.text) {
            (Kind::Eof, _) => return Ok(spec),
            (Kind::Ident, "ack") => (1, "ack"),
            (Kind::Ident, "win") => (2, "win"),
            (Kind::Punct('<'), _) => (3, "<options>"),
            _ => {
                let word = lx.peek_word();
                let msg = if rank == 3 {
                    format!("unexpected '{word}' after the TCP options")
                } else {
                    format!("unsupported packet field '{word}'")
                };
                return Err(lx.err_tok(&tok, msg));
            }
        };
        if field_rank <= rank {
            return Err(lx.err_tok(
                &tok,
                format!(
                    "packet field '{name}' repeated or out of order (the order is: ack, win, \
                     <options>)"
                ),
            ));
        }
        rank = field_rank;
        lx.next()?;
        match field_rank {
            1 => spec.ack = Some(number_u32(lx, "the 'ack' value")?),
            2 => spec.win = Some(number_u32(lx, "the 'win' value")?),
            _ => spec.options = Some(tcp_options(lx)?),
        }
    }
}

/// `start:end(len)` or `...(len)`.
fn seq_spec(lx: &mut Lexer<'_>) -> Result<SeqSpec, ParseError> {
    let tok = lx.peek()?;
    match tok.kind {
        Kind::Ellipsis => {
            lx.next()?;
            let len = seq_len(lx)?;
            Ok(SeqSpec::Any { len })
        }
        Kind::Int => {
            let start = number_u32(lx, "the start sequence number")?;
            expect_punct(lx, ':', "between the start and end sequence numbers")?;
            let end = number_u32(lx, "the end sequence number")?;
            let len = seq_len(lx)?;
            if end.wrapping_sub(start) != len {
                return Err(lx.err_tok(
                    &tok,
                    format!(
                        "sequence range {start}:{end}({len}) is inconsistent: end - start is {}, \
                         not {len}",
                        end.wrapping_sub(start)
                    ),
                ));
            }
            Ok(SeqSpec::Range { start, end, len })
        }
        _ => Err(lx.err_tok(
            &tok,
            format!(
                "expected sequence numbers 'start:end(len)' or '...(len)', found {}",
                tok.describe()
            ),
        )),
    }
}

/// `(len)` after the sequence numbers.
fn seq_len(lx: &mut Lexer<'_>) -> Result<u32, ParseError> {
    expect_punct(lx, '(', "before the payload length")?;
    let len = number_u32(lx, "the payload length")?;
    expect_punct(lx, ')', "after the payload length")?;
    Ok(len)
}

/// The options after `<`, through the closing `>`.
fn tcp_options(lx: &mut Lexer<'_>) -> Result<Vec<TcpOpt>, ParseError> {
    let mut opts = Vec::new();
    if lx.peek()?.is('>') {
        lx.next()?;
        return Ok(opts);
    }
    loop {
        opts.push(tcp_option(lx)?);
        let tok = lx.next()?;
        if tok.is('>') {
            return Ok(opts);
        }
        if !tok.is(',') {
            return Err(lx.err_tok(
                &tok,
                format!(
                    "expected ',' or '>' after a TCP option, found {}",
                    tok.describe()
                ),
            ));
        }
    }
}

/// One TCP option.
fn tcp_option(lx: &mut Lexer<'_>) -> Result<TcpOpt, ParseError> {
    let tok = lx.next()?;
    if tok.kind != Kind::Ident {
        return Err(lx.err_tok(
            &tok,
            format!("expected a TCP option, found {}", tok.describe()),
        ));
    }
    Ok(match tok.text {
        "nop" => TcpOpt::Nop,
        "eol" => TcpOpt::Eol,
        "sackOK" => TcpOpt::SackOk,
        "mss" => {
            let v = number_u32(lx, "the mss value")?;
            TcpOpt::Mss(narrow(lx, &tok, v, "mss")?)
        }
        "wscale" => {
            let v = number_u32(lx, "the wscale value")?;
            TcpOpt::WScale(narrow(lx, &tok, v, "wscale")?)
        }
        "sack" => {
            let mut blocks = Vec::new();
            while lx.peek()?.kind == Kind::Int || blocks.is_empty() {
                let a = number_u32(lx, "a sack block start")?;
                expect_punct(lx, ':', "in a sack block")?;
                let b = number_u32(lx, "a sack block end")?;
                blocks.push((a, b));
            }
            TcpOpt::Sack(blocks)
        }
        "TS" => {
            expect_ident(lx, "val", "after 'TS'")?;
            let val = number_u32(lx, "the TS val")?;
            expect_ident(lx, "ecr", "after the TS val")?;
            let ecr = number_u32(lx, "the TS ecr")?;
            TcpOpt::Timestamp { val, ecr }
        }
        other => {
            return Err(lx.err_tok(&tok, format!("unsupported TCP option '{other}'")));
        }
    })
}

/// Converts an option value to its field width, or names the option in an error.
fn narrow<T: TryFrom<u32>>(
    lx: &Lexer<'_>,
    tok: &Token<'_>,
    v: u32,
    name: &str,
) -> Result<T, ParseError> {
    T::try_from(v).map_err(|_| lx.err_tok(tok, format!("{name} value {v} is out of range")))
}

/// Consumes the identifier `word`.
fn expect_ident(lx: &mut Lexer<'_>, word: &str, context: &str) -> Result<(), ParseError> {
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
fn number_u32(lx: &mut Lexer<'_>, what: &str) -> Result<u32, ParseError> {
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
fn int_value(tok: &Token<'_>) -> Option<u128> {
    match tok
        .text
        .strip_prefix("0x")
        .or_else(|| tok.text.strip_prefix("0X"))
    {
        Some(hex) => u128::from_str_radix(hex, 16).ok(),
        None => tok.text.parse().ok(),
    }
}

// ---------------------------------------------------------------------------------------------
// Syscalls

/// The rest of a syscall line after its name: `(args) = ret [ERRNO] [(note)]`.
fn syscall(lx: &mut Lexer<'_>, name: &str) -> Result<Syscall, ParseError> {
    expect_punct(lx, '(', &format!("after the syscall name '{name}'"))?;
    let mut args = Vec::new();
    if lx.peek()?.is(')') {
        lx.next()?;
    } else {
        loop {
            args.push(expr(lx)?);
            let tok = lx.next()?;
            if tok.is(')') {
                break;
            }
            if !tok.is(',') {
                return Err(lx.err_tok(
                    &tok,
                    format!(
                        "expected ',' or ')' in the arguments of {name}(), found {}",
                        tok.describe()
                    ),
                ));
            }
        }
    }
    expect_punct(lx, '=', &format!("after {name}(...)"))?;
    let tok = lx.peek()?;
    let ret = match tok.kind {
        Kind::Ellipsis => {
            lx.next()?;
            Expr::Ellipsis
        }
        Kind::Int => Expr::Int(signed_int(lx)?),
        Kind::Punct('-') => Expr::Int(signed_int(lx)?),
        _ => {
            return Err(lx.err_tok(
                &tok,
                format!(
                    "expected the return value of {name}() (an integer or '...') after '=', \
                     found {}",
                    tok.describe()
                ),
            ))
        }
    };
    let mut errno = None;
    let tok = lx.peek()?;
    if tok.kind == Kind::Ident {
        if !is_errno(tok.text) {
            return Err(lx.err_tok(
                &tok,
                format!(
                    "expected an errno name (like EINPROGRESS) after the return value, found {}",
                    tok.describe()
                ),
            ));
        }
        lx.next()?;
        errno = Some(tok.text.to_string());
    }
    lx.skip_ws();
    let mut note = None;
    let note_pos = lx.pos();
    if lx.eat_str("(") {
        match lx.raw_until(')') {
            Some(text) => note = Some(text.trim().to_string()),
            None => {
                return Err(lx.err_at(note_pos, "unterminated note: '(' without ')'"));
            }
        }
    }
    expect_end(lx, &format!("after the result of {name}()"))?;
    Ok(Syscall {
        name: name.to_string(),
        args,
        ret,
        errno,
        note,
    })
}

/// An errno name: `E` followed by capitals, digits or `_`.
fn is_errno(s: &str) -> bool {
    s.len() > 1
        && s.starts_with('E')
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// `primary ('|' primary)*`
fn expr(lx: &mut Lexer<'_>) -> Result<Expr, ParseError> {
    let first = primary(lx)?;
    if !lx.peek()?.is('|') {
        return Ok(first);
    }
    let mut items = vec![first];
    while lx.peek()?.is('|') {
        lx.next()?;
        items.push(primary(lx)?);
    }
    Ok(Expr::Or(items))
}

/// `...`, an integer, a name, a `[list]` or a string.
fn primary(lx: &mut Lexer<'_>) -> Result<Expr, ParseError> {
    let tok = lx.peek()?;
    match &tok.kind {
        Kind::Ellipsis => {
            lx.next()?;
            Ok(Expr::Ellipsis)
        }
        Kind::Int | Kind::Punct('-') => Ok(Expr::Int(signed_int(lx)?)),
        Kind::Ident => {
            lx.next()?;
            Ok(Expr::Name(tok.text.to_string()))
        }
        Kind::Str(s) => {
            lx.next()?;
            Ok(Expr::Str(s.clone()))
        }
        Kind::Punct('[') => {
            lx.next()?;
            let mut items = Vec::new();
            if lx.peek()?.is(']') {
                lx.next()?;
                return Ok(Expr::List(items));
            }
            loop {
                items.push(expr(lx)?);
                let tok = lx.next()?;
                if tok.is(']') {
                    return Ok(Expr::List(items));
                }
                if !tok.is(',') {
                    return Err(lx.err_tok(
                        &tok,
                        format!("expected ',' or ']' in a list, found {}", tok.describe()),
                    ));
                }
            }
        }
        Kind::Punct('{') => Err(lx.err_tok(&tok, "unsupported struct literal '{...}'")),
        _ => Err(lx.err_tok(
            &tok,
            format!("expected an argument, found {}", tok.describe()),
        )),
    }
}

/// An integer with an optional leading `-`, as an `i64`.
fn signed_int(lx: &mut Lexer<'_>) -> Result<i64, ParseError> {
    let first = lx.next()?;
    let negative = first.is('-');
    let tok = if negative { lx.next()? } else { first.clone() };
    if tok.kind != Kind::Int {
        return Err(lx.err_tok(
            &tok,
            format!("expected an integer after '-', found {}", tok.describe()),
        ));
    }
    let value = int_value(&tok).and_then(|v| i128::try_from(v).ok());
    let value = value.map(|v| if negative { -v } else { v });
    value.and_then(|v| i64::try_from(v).ok()).ok_or_else(|| {
        let sign = if negative { "-" } else { "" };
        lx.err_at(
            first.pos,
            format!("integer '{sign}{}' is out of range", tok.text),
        )
    })
}
