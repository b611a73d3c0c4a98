//! Parser tests: each construct of the script language, its error cases, the whole FreeBSD
//! state-event-engine suite, and a no-panic sweep over mutated scripts.

use oxtcp_drill::ast::{
    Anchor, Direction, Event, EventKind, Expr, Flag, PacketSpec, Script, SeqSpec, Syscall, TcpOpt,
    TimePoint, Timing,
};
use oxtcp_drill::parse::{parse, ParseError};
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// Helpers

fn ok(src: &str) -> Script {
    ok_with(src, &[])
}

fn ok_with(src: &str, defines: &[&str]) -> Script {
    match parse(src, defines) {
        Ok(script) => script,
        Err(e) => panic!("unexpected error: {e}\nscript:\n{src}"),
    }
}

/// The only event of a one-event script.
fn event(src: &str) -> Event {
    let script = ok(src);
    assert!(script.flags.is_empty(), "{script:?}");
    assert_eq!(script.events.len(), 1, "{script:?}");
    script.events.into_iter().next().unwrap()
}

fn kind(src: &str) -> EventKind {
    event(src).kind
}

fn timing(src: &str) -> Timing {
    event(src).timing
}

fn err(src: &str) -> ParseError {
    err_with(src, &[])
}

fn err_with(src: &str, defines: &[&str]) -> ParseError {
    match parse(src, defines) {
        Ok(script) => panic!("expected an error, got {script:?}\nscript:\n{src}"),
        Err(e) => e,
    }
}

/// Asserts the error is on `line` and its message contains every one of `parts`.
fn assert_err(src: &str, line: usize, parts: &[&str]) {
    assert_err_with(src, &[], line, parts);
}

fn assert_err_with(src: &str, defines: &[&str], line: usize, parts: &[&str]) {
    let e = err_with(src, defines);
    assert_eq!(e.line, line, "wrong line for {e}\nscript:\n{src}");
    for part in parts {
        assert!(e.message.contains(part), "'{e}' does not mention '{part}'");
    }
}

fn abs(usecs: i64) -> TimePoint {
    TimePoint {
        anchor: Anchor::Absolute,
        usecs,
    }
}

fn rel(usecs: i64) -> TimePoint {
    TimePoint {
        anchor: Anchor::Relative,
        usecs,
    }
}

fn range(start: u32, end: u32, len: u32) -> SeqSpec {
    SeqSpec::Range { start, end, len }
}

fn packet(src: &str) -> PacketSpec {
    match kind(src) {
        EventKind::Packet(p) => p,
        other => panic!("not a packet: {other:?}"),
    }
}

fn syscall(src: &str) -> Syscall {
    match kind(src) {
        EventKind::Syscall(s) => s,
        other => panic!("not a syscall: {other:?}"),
    }
}

fn pkt(
    dir: Direction,
    flags: &str,
    seq: SeqSpec,
    ack: Option<u32>,
    win: Option<u32>,
    options: Option<Vec<TcpOpt>>,
) -> PacketSpec {
    PacketSpec {
        dir,
        flags: flags.to_string(),
        seq,
        ack,
        win,
        options,
    }
}

fn name(n: &str) -> Expr {
    Expr::Name(n.to_string())
}

fn call(
    name: &str,
    args: Vec<Expr>,
    ret: Expr,
    errno: Option<&str>,
    note: Option<&str>,
) -> Syscall {
    Syscall {
        name: name.to_string(),
        args,
        ret,
        errno: errno.map(str::to_string),
        note: note.map(str::to_string),
    }
}

/// One letter per event: `<` `>` packets, `c` syscall, `s` shell, `%` code.
fn shape(script: &Script) -> String {
    script
        .events
        .iter()
        .map(|e| match &e.kind {
            EventKind::Packet(p) if p.dir == Direction::Inbound => '<',
            EventKind::Packet(_) => '>',
            EventKind::Syscall(_) => 'c',
            EventKind::Shell(_) => 's',
            EventKind::Code(_) => '%',
        })
        .collect()
}

use Direction::{Inbound, Outbound};

// ---------------------------------------------------------------------------------------------
// Time column

#[test]
fn absolute_times_are_exact_microseconds() {
    assert_eq!(timing("0.100 close(3) = 0"), Timing::At(abs(100_000)));
    assert_eq!(timing("0 close(3) = 0"), Timing::At(abs(0)));
    assert_eq!(timing("1 close(3) = 0"), Timing::At(abs(1_000_000)));
    assert_eq!(timing("0.00 close(3) = 0"), Timing::At(abs(0)));
    assert_eq!(timing("0.000001 close(3) = 0"), Timing::At(abs(1)));
    assert_eq!(timing("2.5 close(3) = 0"), Timing::At(abs(2_500_000)));
    assert_eq!(
        timing("12.345678 close(3) = 0"),
        Timing::At(abs(12_345_678))
    );
    assert_eq!(timing("  1.00 close(3) = 0"), Timing::At(abs(1_000_000)));
}

#[test]
fn relative_times() {
    assert_eq!(timing("+0.1 close(3) = 0"), Timing::At(rel(100_000)));
    assert_eq!(timing("+0.00 close(3) = 0"), Timing::At(rel(0)));
    assert_eq!(timing("+0 close(3) = 0"), Timing::At(rel(0)));
    assert_eq!(timing("+3 close(3) = 0"), Timing::At(rel(3_000_000)));
    assert_eq!(timing("+0.000250 close(3) = 0"), Timing::At(rel(250)));
}

#[test]
fn any_time() {
    assert_eq!(timing("* > F. 1:1(0) ack 1"), Timing::Any);
    assert_eq!(timing("*close(3) = 0"), Timing::Any);
}

#[test]
fn time_ranges() {
    assert_eq!(
        timing("0.1~0.2 close(3) = 0"),
        Timing::Range(abs(100_000), abs(200_000))
    );
    assert_eq!(
        timing("+0.1~+0.2 close(3) = 0"),
        Timing::Range(rel(100_000), rel(200_000))
    );
    assert_eq!(
        timing("0.1 ~ +0.05 close(3) = 0"),
        Timing::Range(abs(100_000), rel(50_000))
    );
}

#[test]
fn blocking_times() {
    assert_eq!(
        timing("0.1...0.2 read(4, ..., 1000) = 1000"),
        Timing::Blocking(abs(100_000), abs(200_000))
    );
    assert_eq!(
        timing("+0...+0.1 accept(3, ..., ...) = 4"),
        Timing::Blocking(rel(0), rel(100_000))
    );
    assert_eq!(
        timing("1 ... 1.5 close(3) = 0"),
        Timing::Blocking(abs(1_000_000), abs(1_500_000))
    );
    // The time separator is not confused with the ellipsis arguments that follow it.
    let e = event("+0...+0.1 read(3, ..., 100) = ...");
    assert_eq!(e.timing, Timing::Blocking(rel(0), rel(100_000)));
    assert_eq!(
        e.kind,
        EventKind::Syscall(call(
            "read",
            vec![Expr::Int(3), Expr::Ellipsis, Expr::Int(100)],
            Expr::Ellipsis,
            None,
            None
        ))
    );
}

#[test]
fn time_errors() {
    assert_err(
        "0.1234567 close(3) = 0",
        1,
        &["0.1234567", "6 fractional digits"],
    );
    assert_err("+0.0000001 close(3) = 0", 1, &["+0.0000001"]);
    assert_err("-0.1 close(3) = 0", 1, &["negative", "-0.1"]);
    assert_err("close(3) = 0", 1, &["expected a time", "close(3)"]);
    assert_err("\n\n  < S 0:0(0) win 1", 3, &["expected a time", "'<'"]);
    assert_err(
        "0.2~0.1 close(3) = 0",
        1,
        &["0.2~0.1", "ends before it starts"],
    );
    assert_err("2...1 close(3) = 0", 1, &["2...1"]);
    assert_err("0.1~ close(3) = 0", 1, &["expected a time", "close(3)"]);
    assert_err("0.1...", 1, &["expected a time", "end of line"]);
    assert_err("99999999999999 close(3) = 0", 1, &["too large"]);
    assert_err("0.1", 1, &["after the time", "end of line"]);
    assert_err("1. close(3) = 0", 1, &["after the time", "'.'"]);
}

// ---------------------------------------------------------------------------------------------
// Packets

#[test]
fn outbound_syn_with_all_syn_options() {
    assert_eq!(
        packet("+0.00 > S  0:0(0)       win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>"),
        pkt(
            Outbound,
            "S",
            range(0, 0, 0),
            None,
            Some(65535),
            Some(vec![
                TcpOpt::Mss(1460),
                TcpOpt::Nop,
                TcpOpt::WScale(6),
                TcpOpt::SackOk,
                TcpOpt::Timestamp { val: 100, ecr: 0 },
            ])
        )
    );
}

#[test]
fn inbound_syn_ack_with_eols() {
    assert_eq!(
        packet("+0.10 < S. 0:0(0) ack 1 win 32767 <mss 1460,sackOK,eol,eol>"),
        pkt(
            Inbound,
            "S.",
            range(0, 0, 0),
            Some(1),
            Some(32767),
            Some(vec![
                TcpOpt::Mss(1460),
                TcpOpt::SackOk,
                TcpOpt::Eol,
                TcpOpt::Eol
            ])
        )
    );
}

#[test]
fn bare_ack_rst_and_syn_fin() {
    assert_eq!(
        packet("+0.00 >  . 1:1(0) ack 1 win 65535"),
        pkt(Outbound, ".", range(1, 1, 0), Some(1), Some(65535), None)
    );
    assert_eq!(
        packet("+0.10 < R  1:1(0)       win 32767"),
        pkt(Inbound, "R", range(1, 1, 0), None, Some(32767), None)
    );
    assert_eq!(
        packet("+0.00 < SF 0:0(0)       win 32767 <mss 1460,sackOK,eol,eol>"),
        pkt(
            Inbound,
            "SF",
            range(0, 0, 0),
            None,
            Some(32767),
            Some(vec![
                TcpOpt::Mss(1460),
                TcpOpt::SackOk,
                TcpOpt::Eol,
                TcpOpt::Eol
            ])
        )
    );
    assert_eq!(
        packet("+0.00 >  R. 1:1(0) ack 1 win     0"),
        pkt(Outbound, "R.", range(1, 1, 0), Some(1), Some(0), None)
    );
}

#[test]
fn any_sequence_number() {
    assert_eq!(
        packet("+0.00 > S.     ...(0)     ack 65537 win 65535 <mss 1460,sackOK,eol,eol>"),
        pkt(
            Outbound,
            "S.",
            SeqSpec::Any { len: 0 },
            Some(65537),
            Some(65535),
            Some(vec![
                TcpOpt::Mss(1460),
                TcpOpt::SackOk,
                TcpOpt::Eol,
                TcpOpt::Eol
            ])
        )
    );
    assert_eq!(
        packet("+0 > P. ...(10) ack 1").seq,
        SeqSpec::Any { len: 10 }
    );
}

#[test]
fn data_segment_with_sack_blocks() {
    assert_eq!(
        packet("+0.1 < P. 1:1001(1000) ack 1 win 257 <sack 1:2 3:4,nop,nop,TS val 5 ecr 6>"),
        pkt(
            Inbound,
            "P.",
            range(1, 1001, 1000),
            Some(1),
            Some(257),
            Some(vec![
                TcpOpt::Sack(vec![(1, 2), (3, 4)]),
                TcpOpt::Nop,
                TcpOpt::Nop,
                TcpOpt::Timestamp { val: 5, ecr: 6 },
            ])
        )
    );
    assert_eq!(
        packet("+0 < . 1:1(0) ack 1 <sack 5:10>").options,
        Some(vec![TcpOpt::Sack(vec![(5, 10)])])
    );
}

#[test]
fn every_flag_combination_is_kept_as_written() {
    for flags in [
        "S", "S.", ".", "SF", "F", "F.", "R", "R.", "P.", "P", "SFRPUEW.", "SEW",
    ] {
        let p = packet(&format!("+0 < {flags} 0:0(0) win 100"));
        assert_eq!(p.flags, flags);
    }
}

#[test]
fn packet_fields_are_optional_and_spacing_is_free() {
    assert_eq!(
        packet("0 <S 0:0(0)"),
        pkt(Inbound, "S", range(0, 0, 0), None, None, None)
    );
    assert_eq!(
        packet("+0.00\t>\t.\t1:1(0)\tack\t1"),
        pkt(Outbound, ".", range(1, 1, 0), Some(1), None, None)
    );
    assert_eq!(
        packet("+0 < . 1 : 1 ( 0 ) ack 1 win 5 < nop , eol >"),
        pkt(
            Inbound,
            ".",
            range(1, 1, 0),
            Some(1),
            Some(5),
            Some(vec![TcpOpt::Nop, TcpOpt::Eol])
        )
    );
    assert_eq!(packet("+0 > S 0:0(0) <>").options, Some(vec![]));
    assert_eq!(packet("+0 > S 0:0(0) win 0 <>").options, Some(vec![]));
}

#[test]
fn sequence_numbers_are_u32_and_may_wrap() {
    assert_eq!(
        packet("+0 < . 4294967295:9(10) ack 4294967295").seq,
        range(u32::MAX, 9, 10)
    );
}

#[test]
fn packet_errors() {
    assert_err(
        "+0 < SX 0:0(0) win 1",
        1,
        &["invalid packet flag 'X'", "SX"],
    );
    assert_err("+0 < 0:0(0) win 1", 1, &["invalid packet flag '0'"]);
    assert_err("+0 >", 1, &["expected packet flags", "end of line"]);
    assert_err("+0 < S 1:10(5) win 1", 1, &["1:10(5)", "9"]);
    assert_err("+0 < S win 1", 1, &["expected sequence numbers", "'win'"]);
    assert_err("+0 < S 0:0 win 1", 1, &["expected '('", "'win'"]);
    assert_err("+0 < S 0:0(0 win 1", 1, &["expected ')'", "'win'"]);
    assert_err("+0 < S 0:4294967296(0)", 1, &["4294967296", "out of range"]);
    assert_err(
        "+0 < . 1:1(0) ack 1 urg 5",
        1,
        &["unsupported packet field 'urg'"],
    );
    assert_err(
        "+0 < [ect0] . 1:1(0) ack 1",
        1,
        &["unsupported packet field '[ect0]'"],
    );
    assert_err(
        "+0 < . 1:1(0) ack 1 [ce]",
        1,
        &["unsupported packet field '[ce]'"],
    );
    assert_err("+0 < . 1:1(0) win 1 ack 1", 1, &["'ack'", "out of order"]);
    assert_err("+0 < . 1:1(0) ack 1 ack 2", 1, &["'ack'", "repeated"]);
    assert_err("+0 < . 1:1(0) ack win 1", 1, &["'ack' value", "'win'"]);
    assert_err("+0 < . 1:1(0) <nop> ack 1", 1, &["'ack'", "out of order"]);
    assert_err(
        "+0 < . 1:1(0) <nop> junk",
        1,
        &["'junk'", "after the TCP options"],
    );
    assert_err(
        "+0 < S 0:0(0) <md5 abc>",
        1,
        &["unsupported TCP option 'md5'"],
    );
    assert_err(
        "+0 < S 0:0(0) <mss 70000>",
        1,
        &["mss", "70000", "out of range"],
    );
    assert_err("+0 < S 0:0(0) <wscale 300>", 1, &["wscale", "300"]);
    assert_err(
        "+0 < S 0:0(0) <mss 1460",
        1,
        &["expected ',' or '>'", "end of line"],
    );
    assert_err(
        "+0 < S 0:0(0) <mss 1460 nop>",
        1,
        &["expected ',' or '>'", "'nop'"],
    );
    assert_err("+0 < S 0:0(0) <mss>", 1, &["mss value", "'>'"]);
    assert_err("+0 < S 0:0(0) <nop,>", 1, &["expected a TCP option", "'>'"]);
    assert_err("+0 < S 0:0(0) <TS 1 ecr 2>", 1, &["expected 'val'", "'1'"]);
    assert_err("+0 < S 0:0(0) <TS val 1 2>", 1, &["expected 'ecr'", "'2'"]);
    assert_err("+0 < S 0:0(0) <sack>", 1, &["sack block", "'>'"]);
    assert_err("+0 < S 0:0(0) <sack 1-2>", 1, &["expected ':'", "'-'"]);
}

// ---------------------------------------------------------------------------------------------
// Syscalls

#[test]
fn socket_and_fcntl() {
    assert_eq!(
        syscall("+0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3"),
        call(
            "socket",
            vec![Expr::Ellipsis, name("SOCK_STREAM"), name("IPPROTO_TCP")],
            Expr::Int(3),
            None,
            None
        )
    );
    assert_eq!(
        syscall("+0.00 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)"),
        call(
            "fcntl",
            vec![Expr::Int(3), name("F_GETFL")],
            Expr::Int(2),
            None,
            Some("flags O_RDWR")
        )
    );
    assert_eq!(
        syscall("+0.00 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0"),
        call(
            "fcntl",
            vec![
                Expr::Int(3),
                name("F_SETFL"),
                Expr::Or(vec![name("O_RDWR"), name("O_NONBLOCK")])
            ],
            Expr::Int(0),
            None,
            None
        )
    );
}

#[test]
fn sockopts_with_lists() {
    assert_eq!(
        syscall("+0 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [65536], [4]) = 0"),
        call(
            "getsockopt",
            vec![
                Expr::Int(3),
                name("SOL_SOCKET"),
                name("SO_RCVBUF"),
                Expr::List(vec![Expr::Int(65536)]),
                Expr::List(vec![Expr::Int(4)]),
            ],
            Expr::Int(0),
            None,
            None
        )
    );
    assert_eq!(
        syscall("+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0").args[3],
        Expr::List(vec![name("ECONNRESET")])
    );
    assert_eq!(
        syscall("+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0").args[3..],
        [Expr::List(vec![Expr::Int(1)]), Expr::Int(4)]
    );
}

#[test]
fn errno_and_note() {
    assert_eq!(
        syscall("+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)"),
        call(
            "connect",
            vec![Expr::Int(3), Expr::Ellipsis, Expr::Ellipsis],
            Expr::Int(-1),
            Some("EINPROGRESS"),
            Some("Operation now in progress")
        )
    );
    assert_eq!(
        syscall("+0 read(3, ..., 100) = -1 EWOULDBLOCK (Operation would block)"),
        call(
            "read",
            vec![Expr::Int(3), Expr::Ellipsis, Expr::Int(100)],
            Expr::Int(-1),
            Some("EWOULDBLOCK"),
            Some("Operation would block")
        )
    );
    let s = syscall("+0 connect(3, ..., ...) = -1 ECONNREFUSED");
    assert_eq!((s.errno.as_deref(), s.note), (Some("ECONNREFUSED"), None));
    let s = syscall("+0 close(3) = -1 E2BIG (  can't: \"x\", [y] {z} <w>  )");
    assert_eq!(s.note.as_deref(), Some("can't: \"x\", [y] {z} <w>"));
    assert_eq!(syscall("+0 close(3) = 0 ()").note.as_deref(), Some(""));
    let s = syscall("+0 close(3) = -1 EIO (a lone \" or ` is fine)");
    assert_eq!(s.note.as_deref(), Some("a lone \" or ` is fine"));
}

#[test]
fn plain_calls() {
    assert_eq!(
        syscall("+0 write(4, ..., 1000) = 1000"),
        call(
            "write",
            vec![Expr::Int(4), Expr::Ellipsis, Expr::Int(1000)],
            Expr::Int(1000),
            None,
            None
        )
    );
    assert_eq!(
        syscall("+0 shutdown(4, SHUT_WR) = 0"),
        call(
            "shutdown",
            vec![Expr::Int(4), name("SHUT_WR")],
            Expr::Int(0),
            None,
            None
        )
    );
    assert_eq!(
        syscall("+0 accept(3, ..., ...) = 4"),
        call(
            "accept",
            vec![Expr::Int(3), Expr::Ellipsis, Expr::Ellipsis],
            Expr::Int(4),
            None,
            None
        )
    );
    assert_eq!(
        syscall("+0 getpid() = ..."),
        call("getpid", vec![], Expr::Ellipsis, None, None)
    );
}

#[test]
fn every_expression_kind() {
    let s = syscall(
        r#"+0 f(..., 42, 0x1F, -7, -0x10, NAME, A | B | 4, [], [1, [X, "s"]], "a \"q\" \\ b\tc\n", 9223372036854775807, -9223372036854775808) = -22"#,
    );
    assert_eq!(
        s.args,
        vec![
            Expr::Ellipsis,
            Expr::Int(42),
            Expr::Int(31),
            Expr::Int(-7),
            Expr::Int(-16),
            name("NAME"),
            Expr::Or(vec![name("A"), name("B"), Expr::Int(4)]),
            Expr::List(vec![]),
            Expr::List(vec![
                Expr::Int(1),
                Expr::List(vec![name("X"), Expr::Str("s".to_string())])
            ]),
            Expr::Str("a \"q\" \\ b\tc\n".to_string()),
            Expr::Int(i64::MAX),
            Expr::Int(i64::MIN),
        ]
    );
    assert_eq!(s.ret, Expr::Int(-22));
    // A `//` inside a string is not a comment.
    assert_eq!(
        syscall(r#"+0 f("http://x") = 0"#).args,
        vec![Expr::Str("http://x".to_string())]
    );
}

#[test]
fn syscall_errors() {
    assert_err("+0 close 3 = 0", 1, &["expected '('", "'close'", "'3'"]);
    assert_err(
        "+0 close(3 = 0",
        1,
        &["expected ',' or ')'", "close()", "'='"],
    );
    assert_err("+0 close(3)", 1, &["expected '='", "end of line"]);
    assert_err("+0 close(3) 0", 1, &["expected '='", "'0'"]);
    assert_err("+0 close(3) =", 1, &["return value", "end of line"]);
    assert_err("+0 close(3) = FOO", 1, &["return value", "'FOO'"]);
    assert_err("+0 close(3) = -1 oops", 1, &["errno", "'oops'"]);
    assert_err("+0 close(3) = -1 EIO (no end", 1, &["unterminated note"]);
    assert_err(
        "+0 close(3) = -1 EIO (a) b",
        1,
        &["unexpected 'b'", "close()"],
    );
    assert_err("+0 close(3) = 0 EIO EIO", 1, &["unexpected 'EIO'"]);
    assert_err("+0 f({1, 2}) = 0", 1, &["unsupported struct literal"]);
    assert_err("+0 f([1, 2) = 0", 1, &["expected ',' or ']'", "')'"]);
    assert_err("+0 f(1,) = 0", 1, &["expected an argument", "')'"]);
    assert_err("+0 f(A |) = 0", 1, &["expected an argument", "')'"]);
    assert_err(
        "+0 f(- X) = 0",
        1,
        &["expected an integer after '-'", "'X'"],
    );
    assert_err("+0 f(12ab) = 0", 1, &["invalid number '12ab'"]);
    assert_err("+0 f(0x) = 0", 1, &["invalid number '0x'"]);
    assert_err("+0 f(9223372036854775808) = 0", 1, &["out of range"]);
    assert_err("+0 f(\"a\\q\") = 0", 1, &["unsupported escape '\\q'"]);
    assert_err("+0 f(\"abc) = 0", 1, &["unterminated string"]);
    assert_err("+0 f(@) = 0", 1, &["unexpected character '@'"]);
    let deep = format!("+0 f({}1{}) = 0", "[".repeat(100_000), "]".repeat(100_000));
    assert_err(&deep, 1, &["lists nested more than 32 deep"]);
    let ok_depth = format!("+0 f({}1{}) = 0", "[".repeat(32), "]".repeat(32));
    assert_eq!(syscall(&ok_depth).args.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Shell commands and code blocks

#[test]
fn shell_commands() {
    assert_eq!(
        kind("+0.00 `sysctl -w net.inet.tcp.rfc1323=1`"),
        EventKind::Shell("sysctl -w net.inet.tcp.rfc1323=1".to_string())
    );
    assert_eq!(
        kind("+0.10 `sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1`"),
        EventKind::Shell(
            "sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1".to_string()
        )
    );
    // `//` and `/*` inside the command are part of it; a comment after it is not.
    assert_eq!(
        kind("+0 `echo http://x /* y */` // done"),
        EventKind::Shell("echo http://x /* y */".to_string())
    );
}

#[test]
fn single_line_code_block() {
    let e = event("+0.00 %{ assert tcpi_state == TCPI_SYN_RECEIVED }%");
    assert_eq!(
        e.kind,
        EventKind::Code("assert tcpi_state == TCPI_SYN_RECEIVED".to_string())
    );
    assert_eq!(e.text, "+0.00 %{ assert tcpi_state == TCPI_SYN_RECEIVED }%");
}

#[test]
fn multi_line_code_block() {
    let src = "\
+0 close(3) = 0
+0 %{
# a Python comment, not a directive
assert tcpi_state == TCPI_CLOSED  // not a comment either
x = {1: 2}
}%   // this one is
+0 close(4) = 0
";
    let script = ok(src);
    assert_eq!(shape(&script), "c%c");
    let code = &script.events[1];
    assert_eq!(code.line, 2);
    assert_eq!(
        code.kind,
        EventKind::Code(
            "# a Python comment, not a directive\n\
             assert tcpi_state == TCPI_CLOSED  // not a comment either\n\
             x = {1: 2}"
                .to_string()
        )
    );
    assert_eq!(
        code.text,
        "+0 %{\n# a Python comment, not a directive\n\
         assert tcpi_state == TCPI_CLOSED  // not a comment either\nx = {1: 2}\n}%"
    );
    assert_eq!(script.events[2].line, 7);
}

#[test]
fn shell_and_code_errors() {
    assert_err("+0 `ls", 1, &["unterminated shell command"]);
    assert_err(
        "+0 close(3) = 0\n+0 `ls\n+0 `ls`",
        2,
        &["unterminated shell command"],
    );
    assert_err(
        "+0 close(3) = 0\n+0 %{ x = 1\n\n",
        2,
        &["unterminated code block"],
    );
    assert_err("+0 `ls` x", 1, &["unexpected 'x'", "shell command"]);
    assert_err("+0 %{ x }% y", 1, &["unexpected 'y'", "code block"]);
    assert_err("+0 %{ x }%\n+0 %{ y }% }%", 2, &["unexpected '}'"]);
}

// ---------------------------------------------------------------------------------------------
// Comments, blank lines, text and line numbers

#[test]
fn comments_in_odd_places() {
    let src = "\
// leading comment
/* block
   comment */

  +0.1 /* inline */ < S /* mid */ 0:0(0) win 10 <mss 1460 /* in options */, nop> // tail
+0 close(3) /* spans
   two lines */ = 0
/**/+0 close(4) = 0/**/
/* a
   b */ +0 close(5) = 0
+0 `true` /* trailing block */
/* unclosed-looking // */ +0 close(6) = 0
";
    let script = ok(src);
    assert_eq!(shape(&script), "<cccsc");
    let lines: Vec<usize> = script.events.iter().map(|e| e.line).collect();
    assert_eq!(lines, [5, 6, 8, 10, 11, 12]);
    assert_eq!(
        script.events[0].kind,
        EventKind::Packet(pkt(
            Inbound,
            "S",
            range(0, 0, 0),
            None,
            Some(10),
            Some(vec![TcpOpt::Mss(1460), TcpOpt::Nop])
        ))
    );
    assert_eq!(script.events[0].timing, Timing::At(rel(100_000)));
    assert_eq!(
        script.events[0].text,
        "+0.1   < S   0:0(0) win 10 <mss 1460  , nop>"
    );
    assert_eq!(
        script.events[1].kind,
        EventKind::Syscall(call("close", vec![Expr::Int(3)], Expr::Int(0), None, None))
    );
    assert_eq!(script.events[2].text, "+0 close(4) = 0");
    assert_eq!(script.events[4].kind, EventKind::Shell("true".to_string()));
}

#[test]
fn event_text_is_trimmed_source_without_comments() {
    let e = event("   +0.00 >  . 1:1(0) ack 1 win 65535    // the ACK   ");
    assert_eq!(e.text, "+0.00 >  . 1:1(0) ack 1 win 65535");
    assert_eq!(e.line, 1);
}

#[test]
fn crlf_line_endings() {
    let script = ok("--mss=1000\r\n+0 close(3) = 0\r\n// c\r\n+0 `ls`\r\n");
    assert_eq!(script.flags[0].value.as_deref(), Some("1000"));
    assert_eq!(shape(&script), "cs");
    assert_eq!(script.events[1].line, 4);
}

#[test]
fn errors_after_multi_line_constructs_have_the_right_line() {
    assert_err("/*\n\n*/\n+0 close(3) = x", 4, &["'x'"]);
    assert_err("+0 close(3) /*\n*/ = x", 2, &["'x'"]);
    assert_err(
        "+0 %{\n\n}%\n+0 bad",
        4,
        &["'(' after the syscall name 'bad'"],
    );
    assert_err(
        "+0 < S 0:0(0) <mss 1, /*\n*/ md5>",
        2,
        &["unsupported TCP option 'md5'"],
    );
    // Outside a comment or code block a newline ends the event.
    assert_err(
        "+0 < S 0:0(0) <mss 1,\n md5>",
        1,
        &["expected a TCP option", "end of line"],
    );
    assert_err(
        "+0 close(3) = 0\n/* never\nclosed\n",
        2,
        &["unterminated comment"],
    );
}

#[test]
fn lines_that_are_no_event() {
    assert_err("+0 ; x", 1, &["after the time", "';'"]);
    assert_err("+0 42", 1, &["after the time", "'42'"]);
    assert_err("+0 \"str\"", 1, &["after the time"]);
    assert_err("+0 ...", 1, &["expected a time", "end of line"]);
    assert_err(
        "+0 close(3) = 0\n\n  hello world",
        3,
        &["expected a time", "'hello'"],
    );
}

// ---------------------------------------------------------------------------------------------
// Preprocessor

const CONDITIONAL: &str = "\
+0 `always`
#ifdef STANDARD
+0 `standard`
#else
+0 `not standard`
#endif
#ifndef FreeBSD
+0 `not freebsd`
#endif // FreeBSD
";

fn shells(script: &Script) -> Vec<String> {
    script
        .events
        .iter()
        .map(|e| match &e.kind {
            EventKind::Shell(s) => s.clone(),
            other => panic!("not a shell: {other:?}"),
        })
        .collect()
}

#[test]
fn ifdef_ifndef_else_with_defines_on_and_off() {
    assert_eq!(
        shells(&ok_with(CONDITIONAL, &[])),
        ["always", "not standard", "not freebsd"]
    );
    assert_eq!(
        shells(&ok_with(CONDITIONAL, &["STANDARD"])),
        ["always", "standard", "not freebsd"]
    );
    assert_eq!(
        shells(&ok_with(CONDITIONAL, &["FreeBSD"])),
        ["always", "not standard"]
    );
    assert_eq!(
        shells(&ok_with(CONDITIONAL, &["FreeBSD", "STANDARD"])),
        ["always", "standard"]
    );
    // Lines keep their source numbers.
    let lines: Vec<usize> = ok_with(CONDITIONAL, &["STANDARD"])
        .events
        .iter()
        .map(|e| e.line)
        .collect();
    assert_eq!(lines, [1, 3, 8]);
}

const NESTED: &str = "\
#ifdef A
  #ifdef B
+0 `a b`
  #else
+0 `a !b`
  #endif
#else
  # ifndef B
+0 `!a !b`
  #endif
#endif
";

#[test]
fn nested_conditionals() {
    assert_eq!(shells(&ok_with(NESTED, &["A", "B"])), ["a b"]);
    assert_eq!(shells(&ok_with(NESTED, &["A"])), ["a !b"]);
    assert_eq!(shells(&ok_with(NESTED, &["B"])), Vec::<String>::new());
    assert_eq!(shells(&ok_with(NESTED, &[])), ["!a !b"]);
}

#[test]
fn inactive_lines_are_not_parsed() {
    let src = "\
#ifdef NOPE
this is { not ` a script /* at all
+0 < [ect0] S 0:0(0) urg 4
--flag_after_events=1
#endif
+0 close(3) = 0
#ifndef NOPE
#else
%{ never closed
#endif
";
    assert_eq!(shape(&ok(src)), "c");
    assert_err_with(src, &["NOPE"], 2, &["expected a time", "'this'"]);
}

#[test]
fn directives_inside_comments_and_code_are_not_directives() {
    let src = "\
/*
#ifdef X
*/
+0 %{
#endif
}%
";
    assert_eq!(shape(&ok(src)), "%");
}

#[test]
fn directive_errors() {
    assert_err("+0 `a`\n#endif", 2, &["'#endif' without a matching"]);
    assert_err("#else\n", 1, &["'#else' without a matching"]);
    assert_err(
        "#ifdef A\n#else\n#else\n#endif",
        3,
        &["second '#else'", "#ifdef A"],
    );
    assert_err(
        "\n#ifdef A\n#ifndef B\n#endif\n",
        2,
        &["'#ifdef A' is never closed"],
    );
    assert_err("#ifdef A\n#ifndef B\n", 2, &["'#ifndef B' is never closed"]);
    assert_err("#define X 1", 1, &["unsupported directive '#define'"]);
    assert_err("#include \"x.pkt\"", 1, &["'#include'"]);
    assert_err(
        "#ifdef A\n#if 0\n#endif\n#endif",
        2,
        &["unsupported directive '#if'"],
    );
    assert_err("#ifdef\n#endif", 1, &["'#ifdef' needs a name"]);
    assert_err("#ifndef A B\n#endif", 1, &["one name", "'B'"]);
    assert_err("#ifdef A\n#endif A", 2, &["unexpected 'A' after '#endif'"]);
    assert_err("#", 1, &["empty directive"]);
    assert_err(
        "#ifdef A /* open\n*/\n#endif",
        1,
        &["'/*'", "directive line"],
    );
    // Directives are checked in inactive branches too, so nesting stays right.
    assert_err_with("#ifdef A\n#pragma x\n#endif", &[], 2, &["'#pragma'"]);
    // Errors are reported in source order, whichever step finds them.
    assert_err("+0 bad\n#ifdef A\n", 1, &["'bad'"]);
    assert_err("+0 bad\n+0 %{\n", 1, &["'bad'"]);
}

#[test]
fn directive_comments_are_ignored() {
    let src = "#ifdef A /* why */\n+0 `a`\n#else // other\n+0 `b`\n#endif /* A */";
    assert_eq!(shells(&ok_with(src, &["A"])), ["a"]);
    assert_eq!(shells(&ok_with(src, &[])), ["b"]);
}

// ---------------------------------------------------------------------------------------------
// Header flags

#[test]
fn flags_before_events() {
    let src = "\
// header
--ip_version=ipv4
--tolerance_usecs=75000   // generous
  --mss=1000
--no_flag
--empty=
--weird-name=a b

0.000 close(3) = 0
";
    let script = ok(src);
    let flag = |line, name: &str, value: Option<&str>| Flag {
        line,
        name: name.to_string(),
        value: value.map(str::to_string),
    };
    assert_eq!(
        script.flags,
        vec![
            flag(2, "ip_version", Some("ipv4")),
            flag(3, "tolerance_usecs", Some("75000")),
            flag(4, "mss", Some("1000")),
            flag(5, "no_flag", None),
            flag(6, "empty", Some("")),
            flag(7, "weird-name", Some("a b")),
        ]
    );
    assert_eq!(script.events.len(), 1);
    assert_eq!(script.events[0].line, 9);
}

#[test]
fn flag_errors() {
    assert_err(
        "--mss=1000\n+0 close(3) = 0\n\n--ip_version=ipv4",
        4,
        &["'--ip_version'", "after the first event (line 2)"],
    );
    assert_err("--=1", 1, &["invalid header flag name ''"]);
    assert_err("--mss =1000", 1, &["invalid header flag name 'mss '"]);
    assert_err("--", 1, &["invalid header flag name"]);
}

#[test]
fn error_display_names_the_line() {
    let e = err("+0 close(3) = 0\n+0 < S 0:0(0) <bogus>");
    assert_eq!(e.to_string(), "line 2: unsupported TCP option 'bogus'");
    assert_eq!(
        e,
        ParseError {
            line: 2,
            message: "unsupported TCP option 'bogus'".to_string()
        }
    );
}

#[test]
fn empty_scripts() {
    for src in [
        "",
        "\n\n",
        "// only a comment\n",
        "/* */",
        "#ifdef A\n#endif\n",
    ] {
        assert_eq!(
            ok(src),
            Script {
                flags: vec![],
                events: vec![]
            }
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The FreeBSD state-event-engine suite

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/freebsd/state-event-engine")
}

fn pkt_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            pkt_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "pkt") {
            out.push(path);
        }
    }
}

fn suite_script(rel_path: &str, defines: &[&str]) -> Script {
    let path = suite_dir().join(rel_path);
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel_path}: {e}"));
    ok_with(&src, defines)
}

#[test]
fn every_script_of_the_freebsd_suite_parses() {
    let dir = suite_dir();
    assert!(dir.is_dir(), "missing {}", dir.display());
    let mut files = Vec::new();
    pkt_files(&dir, &mut files);
    files.sort();
    assert_eq!(
        files.len(),
        307,
        "expected 307 .pkt files under {}",
        dir.display()
    );
    let mut failures = Vec::new();
    for file in &files {
        let src = std::fs::read_to_string(file).unwrap();
        for defines in [["STANDARD"], ["FreeBSD"]] {
            match parse(&src, &defines) {
                Ok(script) => {
                    assert!(!script.events.is_empty(), "{}", file.display());
                    assert_eq!(script.flags.len(), 2, "{}", file.display());
                }
                Err(e) => failures.push(format!("{} {defines:?}: {e}", file.display())),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_syn_sent_script_in_detail() {
    let script = suite_script(
        "rcv-syn-ack-syn-sent/rcv-syn-ack-without-data-syn-sent-ack-left-edge-ipv4.pkt",
        &["STANDARD"],
    );
    assert_eq!(
        script.flags,
        vec![
            Flag {
                line: 31,
                name: "ip_version".to_string(),
                value: Some("ipv4".to_string())
            },
            Flag {
                line: 32,
                name: "tolerance_usecs".to_string(),
                value: Some("75000".to_string())
            },
        ]
    );
    assert_eq!(script.events.len(), 23);
    assert_eq!(shape(&script), "ssssssssccccc>c<>c%c><>");
    let first = &script.events[0];
    assert_eq!((first.line, first.timing), (35, Timing::At(abs(0))));
    let code = script.events.iter().find(|e| e.line == 56).unwrap();
    assert_eq!(
        code.kind,
        EventKind::Code("assert tcpi_state == TCPI_ESTABLISHED".to_string())
    );
}

#[test]
fn a_script_with_platform_branches() {
    let path = "rcv-syn-fin-time-wait/\
                rcv-syn-fin-time-wait-using-shutdown-outside-right-secure-drop-ipv4.pkt";
    let standard = suite_script(path, &["STANDARD"]);
    let freebsd = suite_script(path, &["FreeBSD"]);
    let neither = suite_script(path, &[]);
    assert_eq!(standard.events.len(), 32);
    assert_eq!(freebsd.events.len(), 34);
    assert_eq!(neither.events.len(), 30);
    let lines = |s: &Script| s.events.iter().map(|e| e.line).collect::<Vec<_>>();
    assert!(lines(&standard).contains(&69) && !lines(&standard).contains(&72));
    assert!(lines(&freebsd).contains(&72) && !lines(&freebsd).contains(&69));
    let tail = |s: &Script| shape(s)[27..].to_string();
    assert_eq!(tail(&standard), ">sccs");
    assert_eq!(tail(&freebsd), "<>ssccs");
    assert_eq!(tail(&neither), "ccs");
}

// ---------------------------------------------------------------------------------------------
// No panics on malformed input

/// A small deterministic generator (64-bit LCG), so the sweep needs no dependencies.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }

    fn below(&mut self, n: usize) -> usize {
        self.next() % n.max(1)
    }
}

/// Parses `src` with a few define sets, failing (with the input) if the parser panics.
fn must_not_panic(src: &str) {
    for defines in [&[][..], &["STANDARD"][..], &["FreeBSD", "A"][..]] {
        let result = std::panic::catch_unwind(|| parse(src, defines));
        assert!(result.is_ok(), "parser panicked on {defines:?}:\n{src}");
    }
}

const EVERYTHING: &str = "\
--ip_version=ipv4
--tolerance_usecs=75000
/* block
   comment */
0.000 `sysctl -w a=1` // tail
+0.1~+0.2 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
0.5...0.6 read(3, ..., 100) = -1 EWOULDBLOCK (Operation would block)
* fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0x0
#ifdef STANDARD
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1, [2]], \"s\\\"t\") = 0
#else
+0 > S.     ...(0)     ack 65537 win 65535 <mss 1460,sackOK,eol,eol>
#endif
+0.1 < P. 1:1001(1000) ack 1 win 257 <sack 1:2 3:4,nop,nop,TS val 5 ecr 6,wscale 7>
+0 %{
assert tcpi_state == TCPI_ESTABLISHED
}%
+0 > S 0:0(0) <>
";

#[test]
fn mutated_scripts_never_panic() {
    let mut sources = vec![EVERYTHING.to_string()];
    for rel_path in [
        "rcv-syn-fin-time-wait/rcv-syn-fin-time-wait-using-shutdown-outside-right-secure-drop-ipv4.pkt",
        "rcv-syn-ack-syn-sent/rcv-syn-ack-without-data-syn-sent-ack-left-edge-ipv4.pkt",
    ] {
        sources.push(std::fs::read_to_string(suite_dir().join(rel_path)).unwrap());
    }
    // Characters that matter to the grammar, plus some that do not belong in it at all.
    let specials: Vec<char> = "()[]{}<>,:|=~*.+-`\"\\%#/ \n\t0159xSFR.Eé\u{0}\r"
        .chars()
        .collect();
    let mut rng = Lcg(0x5eed);
    for src in &sources {
        let chars: Vec<char> = src.chars().collect();
        // Every truncation.
        for cut in 0..=chars.len() {
            must_not_panic(&chars[..cut].iter().collect::<String>());
        }
        // Every single-character deletion, and a deletion of the rest of the line.
        for at in 0..chars.len() {
            let mut m = chars.clone();
            m.remove(at);
            must_not_panic(&m.iter().collect::<String>());
            let mut m = chars.clone();
            let end = m[at..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(m.len(), |p| at + p);
            m.drain(at..end);
            must_not_panic(&m.iter().collect::<String>());
        }
        // Random replacements, insertions and line shuffles.
        for _ in 0..3000 {
            let mut m = chars.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(m.len() + 1);
                let c = specials[rng.below(specials.len())];
                match rng.below(3) {
                    0 if at < m.len() => m[at] = c,
                    1 if at < m.len() => {
                        m.remove(at);
                    }
                    _ => m.insert(at, c),
                }
            }
            must_not_panic(&m.iter().collect::<String>());
        }
        let lines: Vec<&str> = src.lines().collect();
        for _ in 0..500 {
            let mut m = lines.clone();
            let (a, b) = (rng.below(m.len()), rng.below(m.len()));
            m.swap(a, b);
            let dup = m[rng.below(m.len())];
            m.insert(rng.below(m.len()), dup);
            must_not_panic(&m.join("\n"));
        }
    }
    // A real packet line with each of its characters replaced by each special character.
    let line = "+0.00 > S.     ...(0)     ack 65537 win 65535 <mss 1460,sackOK,eol,eol>";
    let chars: Vec<char> = line.chars().collect();
    for at in 0..chars.len() {
        for &c in &specials {
            let mut m = chars.clone();
            m[at] = c;
            must_not_panic(&m.iter().collect::<String>());
        }
    }
}
