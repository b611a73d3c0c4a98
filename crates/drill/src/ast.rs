//! The parsed form of a packetdrill script: header flags, then one event per line, each with
//! its timing. The parser (`parse`) produces it; the runner (`run`) executes it.
//!
//! Nothing here interprets a value: a syscall's arguments stay expressions and a shell line
//! stays text, so the runner decides what it supports and names what it does not.

use std::fmt;

/// A whole script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// Header flags such as `--ip_version=ipv4`, in order: (name without dashes, value).
    pub flags: Vec<Flag>,
    /// Events in script order.
    pub events: Vec<Event>,
}

/// A header flag line, `--name` or `--name=value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flag {
    /// 1-based line number in the source.
    pub line: usize,
    /// Name without the leading dashes (`ip_version`).
    pub name: String,
    /// The text after `=`, if any.
    pub value: Option<String>,
}

/// One timed line of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// 1-based line number where the event starts.
    pub line: usize,
    /// The source text of the event, trimmed (for failure reports).
    pub text: String,
    /// When it happens.
    pub timing: Timing,
    /// What happens.
    pub kind: EventKind,
}

/// Whether a time is measured from the script start or from the previous event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// `0.100`: microseconds since the script started.
    Absolute,
    /// `+0.100`: microseconds after the previous event's time.
    Relative,
}

/// A time written in the script, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimePoint {
    /// What the value is measured from.
    pub anchor: Anchor,
    /// Microseconds (may be negative only if the script says so, e.g. `-0.1` is rejected by
    /// the parser; kept signed so arithmetic on it is simple).
    pub usecs: i64,
}

/// The time column of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timing {
    /// `*`: any time after the previous event.
    Any,
    /// `0.1` or `+0.1`: at this time, within the script's tolerance.
    At(TimePoint),
    /// `0.1~0.2`: anywhere in this range (the end may be `+`-relative to the start's anchor
    /// base as written).
    Range(TimePoint, TimePoint),
    /// `0.1...0.2`: a blocking call that starts at the first time and returns at the second.
    Blocking(TimePoint, TimePoint),
}

/// What an event does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// `<` or `>` packet line.
    Packet(PacketSpec),
    /// A system call with its expected result.
    Syscall(Syscall),
    /// A backquoted shell command, without the backquotes.
    Shell(String),
    /// A `%{ ... }%` code block, without the delimiters, trimmed.
    Code(String),
}

/// Direction of a packet line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `<`: the script injects it into the stack.
    Inbound,
    /// `>`: the stack is expected to send it.
    Outbound,
}

/// Sequence-number field of a packet line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqSpec {
    /// `start:end(len)`, relative to the sender's ISN in the script's numbering.
    Range {
        /// First sequence number.
        start: u32,
        /// Sequence number after the payload.
        end: u32,
        /// Payload length in bytes.
        len: u32,
    },
    /// `...(len)`: any sequence number, payload of `len` bytes (outbound lines).
    Any {
        /// Payload length in bytes.
        len: u32,
    },
}

impl SeqSpec {
    /// Payload length in bytes.
    pub fn len(&self) -> u32 {
        match *self {
            SeqSpec::Range { len, .. } | SeqSpec::Any { len } => len,
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One TCP option as written inside `<...>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpOpt {
    /// `nop`
    Nop,
    /// `eol`
    Eol,
    /// `mss N`
    Mss(u16),
    /// `wscale N`
    WScale(u8),
    /// `sackOK`
    SackOk,
    /// `sack a:b c:d ...` (relative to the peer's ISN, as written)
    Sack(Vec<(u32, u32)>),
    /// `TS val N ecr M`
    Timestamp {
        /// TSval.
        val: u32,
        /// TSecr.
        ecr: u32,
    },
}

/// A packet line, `< S. 0:0(0) ack 1 win 32767 <mss 1460,nop,eol>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketSpec {
    /// Who sends it.
    pub dir: Direction,
    /// The flag letters exactly as written (`S`, `S.`, `F.`, `R`, `.`, `P.`, `SF`, ...): `.` is
    /// ACK; `S F R P U E W` are SYN FIN RST PSH URG ECE CWR.
    pub flags: String,
    /// Sequence numbers and payload length.
    pub seq: SeqSpec,
    /// `ack N`, if written.
    pub ack: Option<u32>,
    /// `win N`, if written.
    pub win: Option<u32>,
    /// `<...>` options in order, if written (`Some(vec![])` for `<>`).
    pub options: Option<Vec<TcpOpt>>,
}

/// An expression in a syscall's arguments or result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// `...`: an argument the script leaves to the runner (addresses, buffers).
    Ellipsis,
    /// A decimal or `0x` integer, possibly negative.
    Int(i64),
    /// A symbolic name: `SOCK_STREAM`, `O_NONBLOCK`, `ECONNRESET`, `SHUT_WR`.
    Name(String),
    /// `A | B | ...`
    Or(Vec<Expr>),
    /// `[a, b]`: a value passed or returned through a pointer.
    List(Vec<Expr>),
    /// `"..."`, without the quotes.
    Str(String),
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Ellipsis => f.write_str("..."),
            Expr::Int(v) => write!(f, "{v}"),
            Expr::Name(n) => f.write_str(n),
            Expr::Or(items) => {
                for (i, e) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" | ")?;
                    }
                    write!(f, "{e}")?;
                }
                Ok(())
            }
            Expr::List(items) => {
                f.write_str("[")?;
                for (i, e) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str("]")
            }
            Expr::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// A system call line, `connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Syscall {
    /// The call's name.
    pub name: String,
    /// Its arguments.
    pub args: Vec<Expr>,
    /// The expected return value (`Expr::Int`, or `Expr::Ellipsis` for "any").
    pub ret: Expr,
    /// The expected errno name, when the line gives one (`EINPROGRESS`).
    pub errno: Option<String>,
    /// The parenthesised note after the result, if any (`Operation now in progress`).
    pub note: Option<String>,
}
