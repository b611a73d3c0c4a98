//! Packet lines after `<` or `>`: flags, sequence numbers, `ack`, `win` and `<options>`.

use super::event::{expect_ident, expect_punct, number_u32};
use super::lexer::{Kind, Lexer, Token};
use super::ParseError;
use crate::ast::{Direction, PacketSpec, SeqSpec, TcpOpt};

/// The rest of a packet line after `<` or `>`.
pub(super) fn packet(lx: &mut Lexer<'_>, dir: Direction) -> Result<PacketSpec, ParseError> {
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
