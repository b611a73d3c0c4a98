//! Syscall lines after the name: `(args) = ret [ERRNO] [(note)]`, and the argument
//! expressions.

use super::event::{expect_end, expect_punct, int_value};
use super::lexer::{Kind, Lexer};
use super::ParseError;
use crate::ast::{Expr, Syscall};

/// The rest of a syscall line after its name: `(args) = ret [ERRNO] [(note)]`.
pub(super) fn syscall(lx: &mut Lexer<'_>, name: &str) -> Result<Syscall, ParseError> {
    expect_punct(lx, '(', &format!("after the syscall name '{name}'"))?;
    let mut args = Vec::new();
    if lx.peek()?.is(')') {
        lx.next()?;
    } else {
        loop {
            args.push(expr(lx, 0)?);
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

/// How deeply `[...]` lists may nest (a bound, so a hostile script cannot exhaust the stack).
const MAX_NESTING: usize = 32;

/// `primary ('|' primary)*`, inside `depth` enclosing lists.
fn expr(lx: &mut Lexer<'_>, depth: usize) -> Result<Expr, ParseError> {
    let first = primary(lx, depth)?;
    if !lx.peek()?.is('|') {
        return Ok(first);
    }
    let mut items = vec![first];
    while lx.peek()?.is('|') {
        lx.next()?;
        items.push(primary(lx, depth)?);
    }
    Ok(Expr::Or(items))
}

/// `...`, an integer, a name, a `[list]` or a string.
fn primary(lx: &mut Lexer<'_>, depth: usize) -> Result<Expr, ParseError> {
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
        Kind::Punct('[') if depth >= MAX_NESTING => {
            Err(lx.err_tok(&tok, format!("lists nested more than {MAX_NESTING} deep")))
        }
        Kind::Punct('[') => {
            lx.next()?;
            let mut items = Vec::new();
            if lx.peek()?.is(']') {
                lx.next()?;
                return Ok(Expr::List(items));
            }
            loop {
                items.push(expr(lx, depth + 1)?);
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
