//! Runner tests: small packetdrill scripts run against oxtcp through `run_source`, each with
//! an exact expectation of the verdict. Passing scripts show the runner accepts what oxtcp
//! really does; deliberately wrong scripts show each comparison can fail, on the right line.
//!
//! Scripts are raw strings whose first line follows the opening newline, so line 1 of a
//! script is the first line shown.
//!
//! What oxtcp does, as these scripts state it: IW10, MSS 1460 (IPv4, MTU 1500), a SYN or
//! SYN-ACK carrying only `<mss 1460>`, window 65535, every segment ACKed at once, PSH on the
//! segment that empties the send buffer, initial RTO 1 s doubling, RFC 5961 RST handling.

use oxtcp_drill::suite::{parse_deviations, Deviation};
use oxtcp_drill::{run_source, Profile, ProfileKind, RunOptions, Verdict};

// ---------------------------------------------------------------------------------------------
// Helpers

const FREEBSD: ProfileKind = ProfileKind::FreeBsd;
const LINUX: ProfileKind = ProfileKind::Linux;

/// The script text, without the newline after the opening quote.
fn src(script: &str) -> &str {
    script.strip_prefix('\n').unwrap_or(script)
}

fn options(kind: ProfileKind, strict: bool, defines: &[&str], seed: u64) -> RunOptions {
    RunOptions {
        profile: Profile::new(kind, strict),
        defines: defines.iter().map(|d| d.to_string()).collect(),
        seed,
    }
}

/// Run with the FreeBSD profile, not strict, `STANDARD` defined, seed 1.
fn run(script: &str) -> Verdict {
    run_with(FREEBSD, false, script)
}

fn run_with(kind: ProfileKind, strict: bool, script: &str) -> Verdict {
    run_source(src(script), &options(kind, strict, &["STANDARD"], 1))
}

fn run_seeded(seed: u64, script: &str) -> Verdict {
    run_source(src(script), &options(FREEBSD, false, &["STANDARD"], seed))
}

fn run_defines(defines: &[&str], script: &str) -> Verdict {
    run_source(src(script), &options(FREEBSD, false, defines, 1))
}

fn show(v: &Verdict) -> String {
    match v {
        Verdict::Pass => "PASS".into(),
        Verdict::Fail(f) => format!("FAIL\n{f}"),
        Verdict::Unsupported(u) => format!("UNSUPPORTED\n{u}"),
    }
}

#[track_caller]
fn assert_pass(v: Verdict) {
    assert!(v.is_pass(), "expected PASS, got {}", show(&v));
}

/// A failure on `line` whose expected or actual text mentions `needle`.
#[track_caller]
fn assert_fail_at(v: Verdict, line: usize, needle: &str) {
    match &v {
        Verdict::Fail(f) => {
            assert_eq!(f.line, line, "failed on the wrong line: {}", show(&v));
            assert!(
                f.expected.contains(needle) || f.actual.contains(needle),
                "failure does not mention {needle:?}: {}",
                show(&v)
            );
        }
        _ => panic!("expected FAIL at line {line}, got {}", show(&v)),
    }
}

/// A failure whose expected or actual text mentions `needle`, on whatever line. For a
/// blocking call that returns wrongly, the line is the event during which it returned; see
/// the report on which line that should be.
#[track_caller]
fn assert_fail_mentions(v: Verdict, needle: &str) {
    match &v {
        Verdict::Fail(f) => assert!(
            f.expected.contains(needle) || f.actual.contains(needle),
            "failure does not mention {needle:?}: {}",
            show(&v)
        ),
        _ => panic!("expected FAIL mentioning {needle:?}, got {}", show(&v)),
    }
}

/// An unsupported construct named with `needle`; returns its line.
#[track_caller]
fn assert_unsupported(v: Verdict, needle: &str) -> usize {
    match &v {
        Verdict::Unsupported(u) => {
            assert!(
                u.construct.contains(needle),
                "construct not named {needle:?}: {}",
                show(&v)
            );
            u.line
        }
        _ => panic!("expected UNSUPPORTED ({needle}), got {}", show(&v)),
    }
}

/// Lines 1-8 of many scripts: a listener on fd 3, the three-way handshake, accept = 4.
macro_rules! passive_open {
    () => {
        r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S  0:0(0) win 32767 <mss 1460,sackOK,eol,eol>
+0.000 > S. 0:0(0) ack 1 win 65535 <mss 1460>
+0.100 < .  1:1(0) ack 1 win 32767
+0.000 accept(3, ..., ...) = 4"
    };
}

/// Lines 1-6: a non-blocking socket on fd 3 connects; the handshake completes at 0.1.
macro_rules! active_open {
    () => {
        r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.000 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0.000 > S  0:0(0) win 65535 <mss 1460>
+0.100 < S. 0:0(0) ack 1 win 32767 <mss 1460>
+0.000 > .  1:1(0) ack 1 win 65535"
    };
}

// ---------------------------------------------------------------------------------------------
// Passive open

#[test]
fn passive_open_passes() {
    assert_pass(run(concat!(
        passive_open!(),
        r"
+0.000 %{ assert tcpi_state == TCPI_ESTABLISHED }%
"
    )));
}

#[test]
fn passive_open_with_written_out_script_passes() {
    assert_pass(run(r"
--ip_version=ipv4
--tolerance_usecs=10000
 0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.00 bind(3, ..., ...) = 0
+0.00 listen(3, 5) = 0
+0.00 %{ assert tcpi_state == TCPI_LISTEN }%
+0.00 < S 0:0(0) win 32767 <mss 1000>
+0.00 > S. 0:0(0) ack 1 win 65535
+0.00 %{ assert tcpi_state == TCPI_LISTEN }%
+0.05 < . 1:1(0) ack 1 win 32767
+0.00 accept(3, ..., ...) = 4
+0.00 %{ assert tcpi_state == TCPI_ESTABLISHED }%
"));
}

#[test]
fn synack_with_wrong_ack_fails_on_its_line() {
    assert_fail_at(
        run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S  0:0(0) win 32767 <mss 1460>
+0.000 > S. 0:0(0) ack 2 win 65535 <mss 1460>
"),
        5,
        "ack differs",
    );
}

#[test]
fn synack_with_wrong_flags_fails_on_its_line() {
    assert_fail_at(
        run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S 0:0(0) win 32767 <mss 1460>
+0.000 > S 0:0(0) win 65535 <mss 1460>
"),
        5,
        "flags differs",
    );
}

#[test]
fn synack_window_is_compared_by_freebsd_and_ignored_by_linux() {
    let script = r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S  0:0(0) win 32767 <mss 1460>
+0.000 > S. 0:0(0) ack 1 win 29200 <mss 1460>
+0.100 < .  1:1(0) ack 1 win 32767
+0.000 accept(3, ..., ...) = 4
";
    assert_fail_at(run(script), 5, "window differs");
    assert_pass(run_with(LINUX, false, script));
    assert_fail_at(run_with(LINUX, true, script), 5, "window differs");
}

#[test]
fn option_layout_is_compared_only_when_strict() {
    // FreeBSD's own SYN-ACK options; oxtcp sends only the MSS.
    let freebsd_layout = r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S  0:0(0) win 32767 <mss 1460,sackOK,eol,eol>
+0.000 > S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,eol,eol>
+0.100 < .  1:1(0) ack 1 win 32767
";
    assert_pass(run_with(FREEBSD, false, freebsd_layout));
    assert_fail_at(
        run_with(FREEBSD, true, freebsd_layout),
        5,
        "options differs",
    );

    let oxtcp_layout = r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S  0:0(0) win 32767 <mss 1460,sackOK,eol,eol>
+0.000 > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK>
+0.100 < .  1:1(0) ack 1 win 32767
";
    assert_pass(run_with(FREEBSD, true, oxtcp_layout));
    assert_pass(run_with(LINUX, true, oxtcp_layout));

    let wrong_mss = r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S  0:0(0) win 32767 <mss 1460>
+0.000 > S. 0:0(0) ack 1 win 65535 <mss 1400>
";
    assert_pass(run_with(FREEBSD, false, wrong_mss));
    assert_fail_at(run_with(FREEBSD, true, wrong_mss), 5, "options differs");
}

#[test]
fn unclaimed_synack_fails_at_the_next_inbound_line() {
    // The script forgets the SYN-ACK: it is still waiting when the ACK is injected.
    assert_fail_at(
        run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S 0:0(0) win 32767 <mss 1460>
+0.100 < . 1:1(0) ack 1 win 32767
+0.000 accept(3, ..., ...) = 4
"),
        5,
        "no packet from oxtcp before this line",
    );
    // The description names the packet; its seq is printed in absolute terms here (see the
    // report: the stack's ISN is not yet known when the SYN-ACK is described).
    let v = run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S 0:0(0) win 32767 <mss 1460>
+0.100 < . 1:1(0) ack 1 win 32767
");
    assert_fail_at(v.clone(), 5, "oxtcp sent > S. ");
    assert_fail_at(v, 5, "ack 1 win 65535 <mss 1460> at 0.000000");
}

#[test]
fn packet_the_stack_never_sends_fails_as_missing() {
    // A pure ACK is not answered: the expected ACK never comes.
    assert_fail_at(
        run(concat!(
            passive_open!(),
            r"
+0.100 < .  1:1(0) ack 1 win 32767
+0.000 > .  1:1(0) ack 1 win 65535
"
        )),
        10,
        "oxtcp sent nothing",
    );
}

#[test]
fn syn_to_a_closed_port_draws_rst_ack() {
    assert_pass(run(r"
 0.000 < S 0:0(0) win 32767 <mss 1460>
+0.000 > R. 0:0(0) ack 1 win 0
"));
    assert_fail_at(
        run(r"
 0.000 < S 0:0(0) win 32767 <mss 1460>
+0.000 > R 0:0(0) win 0
"),
        2,
        "flags differs",
    );
}

#[test]
fn passive_open_over_ipv6_passes() {
    assert_pass(run(r"
--ip_version=ipv6
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S  0:0(0) win 32767 <mss 1440>
+0.000 > S. 0:0(0) ack 1 win 65535 <mss 1440>
+0.100 < .  1:1(0) ack 1 win 32767
+0.000 accept(3, ..., ...) = 4
+0.000 getsockopt(4, IPPROTO_TCP, TCP_MAXSEG, [1440], [4]) = 0
+0.000 write(4, ..., 100) = 100
+0.000 > P. 1:101(100) ack 1 win 65535
"));
}

#[test]
fn ipv6_strict_sees_the_ipv6_mss() {
    // MTU 1500 less 60 bytes of IPv6 and TCP headers.
    let script = r"
--ip_version=ipv6
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S  0:0(0) win 32767 <mss 1440>
+0.000 > S. 0:0(0) ack 1 win 65535 <mss 1460>
";
    assert_pass(run_with(FREEBSD, false, script));
    assert_fail_at(run_with(FREEBSD, true, script), 6, "options differs");
}

// ---------------------------------------------------------------------------------------------
// Active open

#[test]
fn nonblocking_connect_passes() {
    assert_pass(run(concat!(
        active_open!(),
        r"
+0.000 getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
+0.000 %{ assert tcpi_state == TCPI_ESTABLISHED }%
"
    )));
}

#[test]
fn nonblocking_connect_in_syn_sent_passes() {
    assert_pass(run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.000 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0.000 > S 0:0(0) win 65535 <mss 1460>
+0.000 %{ assert tcpi_state == TCPI_SYN_SENT }%
+0.000 connect(3, ..., ...) = -1 EALREADY (Operation already in progress)
"));
}

#[test]
fn nonblocking_connect_written_as_succeeding_fails() {
    assert_fail_at(
        run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.000 connect(3, ..., ...) = 0
"),
        3,
        "EINPROGRESS",
    );
}

#[test]
fn nonblocking_connect_with_wrong_errno_fails() {
    let v = run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.000 connect(3, ..., ...) = -1 EALREADY
");
    assert_fail_at(v.clone(), 3, "= -1 EALREADY");
    assert_fail_at(v, 3, "= -1 EINPROGRESS");
}

#[test]
fn blocking_connect_returns_when_the_synack_arrives() {
    assert_pass(run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
 0.000...0.100 connect(3, ..., ...) = 0
 0.000 > S  0:0(0) win 65535 <mss 1460>
 0.100 < S. 0:0(0) ack 1 win 32767 <mss 1460>
 0.100 > .  1:1(0) ack 1 win 65535
+0.000 %{ assert tcpi_state == TCPI_ESTABLISHED }%
"));
}

#[test]
fn blocking_connect_written_to_return_at_once_fails() {
    assert_fail_at(
        run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 connect(3, ..., ...) = 0
"),
        2,
        "it blocked",
    );
}

#[test]
fn blocking_connect_still_blocked_at_the_end_fails() {
    // No SYN-ACK ever comes; the call was to return at 0.1.
    assert_fail_at(
        run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
 0.000...0.100 connect(3, ..., ...) = 0
 0.000 > S 0:0(0) win 65535 <mss 1460>
"),
        2,
        "still blocked",
    );
}

#[test]
fn rst_answering_the_syn_sets_so_error_econnrefused() {
    let script = r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.000 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0.000 > S  0:0(0) win 65535 <mss 1460>
+0.100 < R. 0:0(0) ack 1 win 0
+0.000 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0
+0.000 close(3) = 0
";
    assert_pass(run(script));
    let wrong = script.replace("[ECONNREFUSED]", "[0]");
    assert_fail_at(run(&wrong), 6, "SO_ERROR = [ECONNREFUSED]");
    let wrong = script.replace("[ECONNREFUSED]", "[ECONNRESET]");
    assert_fail_at(run(&wrong), 6, "SO_ERROR = [ECONNREFUSED]");
}

#[test]
fn blocking_connect_refused_returns_econnrefused() {
    assert_pass(run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
 0.000...0.100 connect(3, ..., ...) = -1 ECONNREFUSED (Connection refused)
 0.000 > S  0:0(0) win 65535 <mss 1460>
 0.100 < R. 0:0(0) ack 1 win 0
"));
}

#[test]
fn syn_retries_exhausted_sets_so_error_etimedout() {
    // Linux profile: one retransmission, then the connection times out one RTO (2 s) later.
    let script = r"
 0.000 `sysctl -w net.ipv4.tcp_syn_retries=1`
+0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.000 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
 0.000 > S 0:0(0) win 65535 <mss 1460>
 1.000 > S 0:0(0) win 65535 <mss 1460>
 3.100 getsockopt(3, SOL_SOCKET, SO_ERROR, [ETIMEDOUT], [4]) = 0
";
    assert_pass(run_with(LINUX, false, script));
    assert_fail_at(
        run_with(LINUX, false, &script.replace("3.100", "2.900")),
        7,
        "SO_ERROR = [ETIMEDOUT]",
    );
}

// ---------------------------------------------------------------------------------------------
// Data

#[test]
fn write_sends_a_psh_segment() {
    assert_pass(run(concat!(
        passive_open!(),
        r"
+0.100 write(4, ..., 1000) = 1000
+0.000 > P. 1:1001(1000) ack 1 win 65535
+0.100 < .  1:1(0) ack 1001 win 32767
"
    )));
}

#[test]
fn write_larger_than_the_mss_sends_full_segments_then_psh() {
    assert_pass(run(concat!(
        passive_open!(),
        r"
+0.100 write(4, ..., 3000) = 3000
+0.000 > .  1:1461(1460) ack 1 win 65535
+0.000 > .  1461:2921(1460) ack 1 win 65535
+0.000 > P. 2921:3001(80) ack 1 win 65535
+0.100 < .  1:1(0) ack 3001 win 32767
"
    )));
}

#[test]
fn data_segment_with_wrong_payload_length_fails() {
    assert_fail_at(
        run(concat!(
            passive_open!(),
            r"
+0.100 write(4, ..., 1000) = 1000
+0.000 > P. 1:1201(1200) ack 1 win 65535
"
        )),
        10,
        "payload length differs",
    );
}

#[test]
fn data_segment_with_wrong_seq_fails() {
    assert_fail_at(
        run(concat!(
            passive_open!(),
            r"
+0.100 write(4, ..., 1000) = 1000
+0.000 > P. 2:1002(1000) ack 1 win 65535
"
        )),
        10,
        "seq differs",
    );
}

#[test]
fn data_segment_without_psh_fails() {
    assert_fail_at(
        run(concat!(
            passive_open!(),
            r"
+0.100 write(4, ..., 1000) = 1000
+0.000 > .  1:1001(1000) ack 1 win 65535
"
        )),
        10,
        "flags differs",
    );
}

#[test]
fn write_with_wrong_return_value_fails() {
    assert_fail_at(
        run(concat!(
            passive_open!(),
            r"
+0.100 write(4, ..., 1000) = 999
"
        )),
        9,
        "= 999",
    );
}

#[test]
fn wildcard_seq_on_an_outbound_line_matches_any_seq_but_not_any_length() {
    let script = concat!(
        passive_open!(),
        r"
+0.100 write(4, ..., 10) = 10
+0.000 > P. ...(10) ack 1 win 65535
+0.100 < .  1:1(0) ack 11 win 32767
"
    );
    assert_pass(run(script));
    assert_fail_at(
        run(&script.replace("...(10)", "...(11)")),
        10,
        "payload length differs",
    );
}

#[test]
fn inbound_data_is_acked_after_the_delayed_ack_timer_and_read() {
    // FreeBSD delays the ACK of a lone segment by delacktime (40 ms).
    assert_pass(run(concat!(
        passive_open!(),
        r"
+0.100 < P. 1:101(100) ack 1 win 32767
+0.040 > .  1:1(0) ack 101 win 65535
+0.000 read(4, ..., 1000) = 100
"
    )));
}

#[test]
fn ack_of_inbound_data_with_wrong_ack_fails() {
    assert_fail_at(
        run(concat!(
            passive_open!(),
            r"
+0.100 < P. 1:101(100) ack 1 win 32767
+0.040 > .  1:1(0) ack 100 win 65535
"
        )),
        10,
        "ack differs",
    );
}

#[test]
fn blocking_read_returns_when_data_arrives() {
    assert_pass(run(concat!(
        passive_open!(),
        r"
 0.200...0.300 read(4, ..., 1000) = 100
 0.300 < P. 1:101(100) ack 1 win 32767
 0.340 > .  1:1(0) ack 101 win 65535
"
    )));
}

#[test]
fn blocking_read_with_wrong_return_value_fails() {
    // The call returns 100 while the data packet (line 10) is handled.
    assert_fail_mentions(
        run(concat!(
            passive_open!(),
            r"
 0.200...0.300 read(4, ..., 1000) = 50
 0.300 < P. 1:101(100) ack 1 win 32767
 0.300 > .  1:1(0) ack 101 win 65535
"
        )),
        "= 50",
    );
}

#[test]
fn blocking_read_that_returns_at_once_fails() {
    assert_fail_at(
        run(concat!(
            passive_open!(),
            r"
+0.000 < P. 1:101(100) ack 1 win 32767
+0.040 > .  1:1(0) ack 101 win 65535
 0.200...0.300 read(4, ..., 1000) = 100
"
        )),
        11,
        "block until 0.300000",
    );
}

#[test]
fn read_that_would_block_without_blocking_timing_fails() {
    assert_fail_at(
        run(concat!(
            passive_open!(),
            r"
+0.100 read(4, ..., 1000) = 100
"
        )),
        9,
        "it blocked",
    );
}

#[test]
fn nonblocking_read_without_data_returns_eagain() {
    let script = concat!(
        passive_open!(),
        r"
+0.000 fcntl(4, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.100 read(4, ..., 1000) = -1 EAGAIN (Resource temporarily unavailable)
+0.000 read(4, ..., 1000) = -1 EWOULDBLOCK (Resource temporarily unavailable)
"
    );
    assert_pass(run(script));
    assert_fail_at(
        run(&script.replace("= -1 EAGAIN", "= -1 ECONNRESET")),
        10,
        "= -1 EAGAIN",
    );
    assert_fail_at(run(&script.replace("= -1 EAGAIN", "= 0")), 10, "= 0");
}

#[test]
fn blocking_accept_returns_when_the_handshake_completes() {
    assert_pass(run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
 0.000...0.200 accept(3, ..., ...) = 4
 0.100 < S  0:0(0) win 32767 <mss 1460>
 0.100 > S. 0:0(0) ack 1 win 65535 <mss 1460>
 0.200 < .  1:1(0) ack 1 win 32767
 0.300 %{ assert tcpi_state == TCPI_ESTABLISHED }%
"));
}

#[test]
fn blocking_accept_that_returns_early_fails() {
    // Scripted to return at 0.3, but the handshake completes at 0.2 (line 7).
    assert_fail_mentions(
        run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
 0.000...0.300 accept(3, ..., ...) = 4
 0.100 < S  0:0(0) win 32767 <mss 1460>
 0.100 > S. 0:0(0) ack 1 win 65535 <mss 1460>
 0.200 < .  1:1(0) ack 1 win 32767
"),
        "return at 0.300000",
    );
}

#[test]
fn nonblocking_accept_without_a_connection_returns_eagain() {
    assert_pass(run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 accept(3, ..., ...) = -1 EAGAIN (Resource temporarily unavailable)
"));
}

// ---------------------------------------------------------------------------------------------
// Close, TIME-WAIT, sockstat, tcpdrop

#[test]
fn close_sends_fin_and_the_peer_fin_is_acked() {
    assert_pass(run(concat!(
        passive_open!(),
        r"
+0.100 close(4) = 0
+0.000 > F. 1:1(0) ack 1 win 65535
+0.100 < F. 1:1(0) ack 2 win 32767
+0.000 > .  2:2(0) ack 2 win 65535
+0.000 close(3) = 0
"
    )));
}

#[test]
fn close_without_its_fin_line_fails_at_the_next_syscall() {
    assert_fail_at(
        run(concat!(
            passive_open!(),
            r"
+0.100 close(4) = 0
+0.000 close(3) = 0
"
        )),
        10,
        "> F. 1:1(0) ack 1 win 65535",
    );
}

#[test]
fn shutdown_sends_fin_and_the_peer_fin_leads_to_time_wait() {
    let script = concat!(
        passive_open!(),
        r"
+0.100 shutdown(4, SHUT_WR) = 0
+0.000 > F. 1:1(0) ack 1 win 65535
+0.000 %{ assert tcpi_state == TCPI_FIN_WAIT_1 }%
+0.100 < .  1:1(0) ack 2 win 32767
+0.000 %{ assert tcpi_state == TCPI_FIN_WAIT_2 }%
+0.100 < F. 1:1(0) ack 2 win 32767
+0.000 > .  2:2(0) ack 2 win 65535
+0.000 %{ assert tcpi_state == TCPI_TIME_WAIT }%
+0.100 `sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1`
+0.000 `tcpdrop -s TIME_WAIT`
+0.000 `sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 0`
+0.000 close(4) = 0
+0.000 close(3) = 0
"
    );
    assert_pass(run(script));
    // Off by one in either count.
    assert_fail_at(
        run(&script.replace("TIME_WAIT | grep 1", "TIME_WAIT | grep 2")),
        17,
        "2 socket(s) in TIME_WAIT",
    );
    assert_fail_at(
        run(&script.replace("TIME_WAIT | grep 0", "TIME_WAIT | grep 1")),
        19,
        "1 socket(s) in TIME_WAIT",
    );
}

#[test]
fn sockstat_counts_the_listener_and_the_connection() {
    assert_pass(run(concat!(
        passive_open!(),
        r"
+0.000 `sockstat -4 -P tcp -s | grep packetdril | grep -c LISTEN | grep 1`
+0.000 `sockstat -4 -P tcp -s | grep packetdril | grep -c ESTABLISHED | grep 1`
+0.000 `sockstat -6 -P tcp -s | grep packetdril | grep -c ESTABLISHED | grep 0`
"
    )));
}

#[test]
fn time_wait_after_close_belongs_to_no_process() {
    // After close() the TIME-WAIT connection has no socket: sockstat shows it with `??` for
    // user and command, so `grep packetdril` drops it.
    assert_pass(run(concat!(
        passive_open!(),
        r"
+0.100 close(4) = 0
+0.000 > F. 1:1(0) ack 1 win 65535
+0.100 < F. 1:1(0) ack 2 win 32767
+0.000 > .  2:2(0) ack 2 win 65535
+0.000 `sockstat -4 -P tcp -s | grep -c TIME_WAIT | grep 1`
+0.000 `sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 0`
"
    )));
}

#[test]
fn tcpdrop_of_an_established_connection_resets_it() {
    // oxtcp's ABORT sends RFC 9293's <SEQ=SND.NXT><CTL=RST> (FreeBSD sends RST|ACK).
    assert_pass(run(concat!(
        passive_open!(),
        r"
+0.100 `tcpdrop -a`
+0.000 > R  1:1(0) win 0
+0.000 read(4, ..., 1000) = -1 ECONNABORTED (Software caused connection abort)
"
    )));
}

#[test]
fn wrong_tcpi_state_fails() {
    assert_fail_at(
        run(concat!(
            passive_open!(),
            r"
+0.000 %{ assert tcpi_state == TCPI_CLOSE_WAIT }%
"
        )),
        9,
        "tcpi_state",
    );
    assert_fail_at(
        run(concat!(
            passive_open!(),
            r"
+0.000 %{ assert tcpi_state != TCPI_ESTABLISHED }%
"
        )),
        9,
        "tcpi_state",
    );
}

#[test]
fn peer_fin_moves_to_close_wait_and_read_returns_zero() {
    assert_pass(run(concat!(
        passive_open!(),
        r"
+0.100 < F. 1:1(0) ack 1 win 32767
+0.000 > .  1:1(0) ack 2 win 65535
+0.000 %{ assert tcpi_state == TCPI_CLOSE_WAIT }%
+0.000 read(4, ..., 1000) = 0
+0.000 shutdown(4, SHUT_WR) = 0
+0.000 > F. 1:1(0) ack 2 win 65535
+0.000 %{ assert tcpi_state == TCPI_LAST_ACK }%
+0.100 < .  2:2(0) ack 2 win 32767
+0.000 %{ assert tcpi_state == TCPI_CLOSED }%
"
    )));
}

// ---------------------------------------------------------------------------------------------
// RST handling and sysctl

#[test]
fn in_window_rst_draws_a_challenge_ack_by_default() {
    assert_pass(run(concat!(
        passive_open!(),
        r"
+0.100 < R  1000:1000(0) win 0
+0.000 > .  1:1(0) ack 1 win 65535
+0.000 getsockopt(4, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
+0.000 %{ assert tcpi_state == TCPI_ESTABLISHED }%
"
    )));
}

#[test]
fn in_window_rst_resets_with_insecure_rst() {
    let script = r"
 0.000 `sysctl -w net.inet.tcp.insecure_rst=1`
+0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S  0:0(0) win 32767 <mss 1460>
+0.000 > S. 0:0(0) ack 1 win 65535 <mss 1460>
+0.100 < .  1:1(0) ack 1 win 32767
+0.000 accept(3, ..., ...) = 4
+0.100 < R  1000:1000(0) win 0
+0.000 getsockopt(4, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0
+0.000 %{ assert tcpi_state == TCPI_CLOSED }%
";
    assert_pass(run(script));
    // Under the default policy the same RST draws a challenge ACK the script does not expect.
    let secure = script.replace("insecure_rst=1", "insecure_rst=0");
    assert_fail_at(run(&secure), 10, "> . 1:1(0) ack 1 win 65535");
}

#[test]
fn rst_at_rcv_nxt_resets_and_read_reports_econnreset() {
    assert_pass(run(concat!(
        passive_open!(),
        r"
+0.100 < R  1:1(0) win 0
+0.000 read(4, ..., 1000) = -1 ECONNRESET (Connection reset by peer)
+0.000 read(4, ..., 1000) = 0
"
    )));
}

#[test]
fn write_after_a_reset_reports_econnreset_then_epipe() {
    assert_pass(run(concat!(
        passive_open!(),
        r"
+0.100 < R  1:1(0) win 0
+0.000 write(4, ..., 100) = -1 ECONNRESET (Connection reset by peer)
+0.000 write(4, ..., 100) = -1 EPIPE (Broken pipe)
"
    )));
}

#[test]
fn syn_retransmissions_follow_the_rto_exactly() {
    let script = r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.000 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
 0.000 > S 0:0(0) win 65535 <mss 1460>
 1.000 > S 0:0(0) win 65535 <mss 1460>
 3.000 > S 0:0(0) win 65535 <mss 1460>
 7.000 > S 0:0(0) win 65535 <mss 1460>
";
    assert_pass(run(script));
}

#[test]
fn rexmit_initial_sysctl_changes_the_first_rto() {
    assert_pass(run(r"
 0.000 `sysctl -w net.inet.tcp.rexmit_initial=500`
+0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.000 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
 0.000 > S 0:0(0) win 65535 <mss 1460>
 0.500 > S 0:0(0) win 65535 <mss 1460>
 1.500 > S 0:0(0) win 65535 <mss 1460>
"));
}

// ---------------------------------------------------------------------------------------------
// Timing: tolerance, `*`, ranges

/// Lines 1-4: a SYN at 0, retransmitted at 1.0 and 3.0 by the RTO; line 5 is appended.
macro_rules! syn_sent {
    () => {
        r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.000 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0.000 > S 0:0(0) win 65535 <mss 1460>"
    };
}

#[test]
fn retransmission_before_its_time_fails_as_too_early() {
    assert_fail_at(
        run(concat!(
            syn_sent!(),
            r"
 1.100 > S 0:0(0) win 65535 <mss 1460>
"
        )),
        5,
        "at 1.000000",
    );
}

#[test]
fn retransmission_after_its_time_fails_as_missing() {
    assert_fail_at(
        run(concat!(
            syn_sent!(),
            r"
 0.900 > S 0:0(0) win 65535 <mss 1460>
"
        )),
        5,
        "oxtcp sent nothing",
    );
}

#[test]
fn tolerance_flag_widens_the_window() {
    // 1.000 is 100 ms from 1.100: within a 150 ms tolerance, not a 50 ms one.
    let script = r"
--tolerance_usecs=150000
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.000 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0.000 > S 0:0(0) win 65535 <mss 1460>
 1.100 > S 0:0(0) win 65535 <mss 1460>
 0.900 > S 0:0(0) win 65535 <mss 1460>
";
    // The first retransmission matches; the second, at 3.0, is not due by 1.05.
    assert_fail_at(run(script), 7, "oxtcp sent nothing");
    let tight = script.replace("150000", "50000");
    assert_fail_at(run(&tight), 6, "at 1.000000");
}

#[test]
fn tolerance_bounds_are_inclusive() {
    assert_pass(run(r"
--tolerance_usecs=100000
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.000 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0.000 > S 0:0(0) win 65535 <mss 1460>
 1.100 > S 0:0(0) win 65535 <mss 1460>
 2.900 > S 0:0(0) win 65535 <mss 1460>
"));
}

#[test]
fn any_time_matches_the_next_retransmission() {
    assert_pass(run(concat!(
        syn_sent!(),
        r"
*      > S 0:0(0) win 65535 <mss 1460>
*      > S 0:0(0) win 65535 <mss 1460>
// Relative times now count from when the last one was seen, 3.0.
+4.000 > S 0:0(0) win 65535 <mss 1460>
"
    )));
}

#[test]
fn range_timing_accepts_inside_and_rejects_outside() {
    assert_pass(run(concat!(
        syn_sent!(),
        r"
 0.900~1.100 > S 0:0(0) win 65535 <mss 1460>
 2.000~4.000 > S 0:0(0) win 65535 <mss 1460>
"
    )));
    assert_fail_at(
        run(concat!(
            syn_sent!(),
            r"
 1.100~1.500 > S 0:0(0) win 65535 <mss 1460>
"
        )),
        5,
        "at 1.000000",
    );
    assert_fail_at(
        run(concat!(
            syn_sent!(),
            r"
 0.500~0.900 > S 0:0(0) win 65535 <mss 1460>
"
        )),
        5,
        "oxtcp sent nothing",
    );
}

#[test]
fn relative_time_after_an_outbound_line_counts_from_its_scripted_time() {
    // The retransmission at 1.0 is scripted at 1.003 (within 4 ms); +1.997 is then 3.0.
    assert_pass(run(concat!(
        syn_sent!(),
        r"
 1.003 > S 0:0(0) win 65535 <mss 1460>
+1.997 > S 0:0(0) win 65535 <mss 1460>
"
    )));
}

// ---------------------------------------------------------------------------------------------
// Socket options and fcntl per profile

#[test]
fn fcntl_flags_follow_the_profile() {
    let freebsd = r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 fcntl(3, F_GETFL) = 0x2 (flags O_RDWR)
+0.000 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.000 fcntl(3, F_GETFL) = 0x6 (flags O_RDWR|O_NONBLOCK)
+0.000 fcntl(3, F_SETFL, O_RDWR) = 0
+0.000 fcntl(3, F_GETFL) = 0x2 (flags O_RDWR)
";
    assert_pass(run_with(FREEBSD, false, freebsd));
    assert_fail_at(run_with(LINUX, false, freebsd), 4, "= 2050");

    let linux = freebsd.replace("0x6", "0x802");
    assert_pass(run_with(LINUX, false, &linux));
    assert_fail_at(run_with(FREEBSD, false, &linux), 4, "= 6");
}

#[test]
fn so_rcvbuf_follows_the_profile() {
    // FreeBSD: recvspace 65536 until the MSS is known, then rounded up to whole segments:
    // 45 of 1460 bytes.
    let freebsd = r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [65536], [4]) = 0
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [65536], [4]) = 0
+0.000 < S  0:0(0) win 32767 <mss 1460>
+0.000 > S. 0:0(0) ack 1 win 65535 <mss 1460>
+0.100 < .  1:1(0) ack 1 win 32767
+0.000 accept(3, ..., ...) = 4
+0.000 getsockopt(4, SOL_SOCKET, SO_RCVBUF, [65700], [4]) = 0
";
    assert_pass(run(freebsd));
    let wrong = freebsd.replace("[65700]", "[65536]");
    assert_fail_at(run(&wrong), 10, "SO_RCVBUF = [65700]");

    // Linux: twice tcp_rmem[1] = 131072, before and after, with no rounding.
    let linux = freebsd
        .replace("[65536]", "[262144]")
        .replace("[65700]", "[262144]");
    assert_pass(run_with(LINUX, false, &linux));
    assert_fail_at(run_with(LINUX, false, freebsd), 2, "SO_RCVBUF = [262144]");
}

#[test]
fn so_rcvbuf_over_ipv6_rounds_to_the_ipv6_mss() {
    // 65536 rounded up to whole segments of 1440: 46 of them.
    let script = r"
--ip_version=ipv6
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S  0:0(0) win 32767 <mss 1440>
+0.000 > S. 0:0(0) ack 1 win 65535 <mss 1440>
+0.100 < .  1:1(0) ack 1 win 32767
+0.000 accept(3, ..., ...) = 4
+0.000 getsockopt(4, SOL_SOCKET, SO_RCVBUF, [66240], [4]) = 0
";
    assert_pass(run(script));
    assert_fail_at(
        run(&script.replace("[66240]", "[65700]")),
        9,
        "SO_RCVBUF = [66240]",
    );
}

#[test]
fn so_rcvbuf_set_before_listen_sizes_the_window() {
    // The SYN-ACK offers the 16384 set; once the MSS is known FreeBSD rounds the buffer up
    // to 12 segments of 1460, and 100 unread bytes leave 17420 of it. The ACK is delayed.
    let script = r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 setsockopt(3, SOL_SOCKET, SO_RCVBUF, [16384], 4) = 0
+0.000 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [16384], [4]) = 0
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S  0:0(0) win 32767 <mss 1460>
+0.000 > S. 0:0(0) ack 1 win 16384 <mss 1460>
+0.100 < .  1:1(0) ack 1 win 32767
+0.000 accept(3, ..., ...) = 4
+0.000 getsockopt(4, SOL_SOCKET, SO_RCVBUF, [17520], [4]) = 0
+0.000 < P. 1:101(100) ack 1 win 32767
+0.040 > .  1:1(0) ack 101 win 17420
";
    assert_pass(run_with(FREEBSD, true, script));
    assert_fail_at(
        run(&script.replace("win 16384 <", "win 65535 <")),
        7,
        "window differs",
    );
    // Linux reports twice what it was given.
    assert_fail_at(run_with(LINUX, false, script), 3, "SO_RCVBUF = [32768]");
}

#[test]
fn tcp_maxseg_set_before_connect_is_offered_and_used() {
    // Without the RFC 7323 options and SACK the SYN carries the MSS alone and each segment carries a
    // full MSS of data (with timestamps it would be 12 bytes less).
    let script = r"
 0.000 `sysctl -w net.inet.tcp.rfc1323=0`
 0.000 `sysctl -w net.inet.tcp.sack.enable=0`
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 setsockopt(3, IPPROTO_TCP, TCP_MAXSEG, [1000], 4) = 0
+0.000 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.000 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0.000 > S  0:0(0) win 65535 <mss 1000>
+0.100 < S. 0:0(0) ack 1 win 32767 <mss 1460>
+0.000 > .  1:1(0) ack 1 win 65535
+0.000 getsockopt(3, IPPROTO_TCP, TCP_MAXSEG, [1000], [4]) = 0
+0.000 write(3, ..., 1500) = 1500
+0.000 > .  1:1001(1000) ack 1 win 65535
+0.000 > P. 1001:1501(500) ack 1 win 65535
";
    assert_pass(run_with(FREEBSD, true, script));
    assert_fail_at(
        run_with(FREEBSD, true, &script.replace("<mss 1000>", "<mss 1460>")),
        7,
        "options differs",
    );
}

#[test]
fn so_sndbuf_limits_a_nonblocking_write() {
    let script = r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 setsockopt(3, SOL_SOCKET, SO_SNDBUF, [4000], 4) = 0
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S  0:0(0) win 32767 <mss 1460>
+0.000 > S. 0:0(0) ack 1 win 65535 <mss 1460>
+0.100 < .  1:1(0) ack 1 win 32767
+0.000 accept(3, ..., ...) = 4
+0.000 getsockopt(4, SOL_SOCKET, SO_SNDBUF, [4000], [4]) = 0
+0.000 fcntl(4, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.000 write(4, ..., 6000) = 4000
+0.000 > .  1:1461(1460) ack 1 win 65535
+0.000 > .  1461:2921(1460) ack 1 win 65535
+0.000 > P. 2921:4001(1080) ack 1 win 65535
+0.000 write(4, ..., 6000) = -1 EAGAIN (Resource temporarily unavailable)
+0.100 < .  1:1(0) ack 4001 win 32767
+0.000 write(4, ..., 6000) = 4000
+0.000 > .  4001:5461(1460) ack 1 win 65535
+0.000 > .  5461:6921(1460) ack 1 win 65535
+0.000 > P. 6921:8001(1080) ack 1 win 65535
";
    assert_pass(run(script));
    assert_fail_at(
        run(&script.replacen("= 4000\n", "= 6000\n", 1)),
        11,
        "= 6000",
    );
}

#[test]
fn buffer_option_after_listen_is_unsupported() {
    let line = assert_unsupported(
        run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 setsockopt(3, SOL_SOCKET, SO_RCVBUF, [16384], 4) = 0
"),
        "setsockopt SO_RCVBUF after connect or listen",
    );
    assert_eq!(line, 4);
}

#[test]
fn getsockopt_tcp_maxseg_and_wrong_value() {
    let script = concat!(
        passive_open!(),
        r"
+0.000 getsockopt(4, IPPROTO_TCP, TCP_MAXSEG, [1460], [4]) = 0
+0.000 getsockopt(4, SOL_SOCKET, SO_SNDBUF, [32768], [4]) = 0
"
    );
    assert_pass(run(script));
    assert_fail_at(
        run(&script.replace("[1460]", "[1400]")),
        9,
        "TCP_MAXSEG = [1460]",
    );
}

#[test]
fn syscall_on_a_bad_descriptor_returns_ebadf() {
    assert_pass(run(r"
 0.000 close(7) = -1 EBADF (Bad file descriptor)
"));
    assert_fail_at(run("0.000 close(7) = 0\n"), 1, "EBADF");
}

// ---------------------------------------------------------------------------------------------
// Unsupported constructs, named

#[test]
fn unknown_sysctl_is_unsupported() {
    let line = assert_unsupported(
        run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 `sysctl -w net.inet.tcp.no_such_knob=1`
"),
        "net.inet.tcp.no_such_knob",
    );
    assert_eq!(line, 2);
}

#[test]
fn sysctl_of_the_other_profile_is_unsupported() {
    let script = r"
 0.000 `sysctl -w net.ipv4.tcp_syn_retries=3`
";
    assert_unsupported(run(script), "net.ipv4.tcp_syn_retries (profile freebsd)");
    assert_pass(run_with(LINUX, false, script));
}

#[test]
fn unknown_syscall_is_unsupported() {
    let line = assert_unsupported(
        run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 ioctl(3, FIONREAD, [0]) = 0
"),
        "syscall ioctl()",
    );
    assert_eq!(line, 2);
}

#[test]
fn struct_argument_is_unsupported() {
    let line = assert_unsupported(
        run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 poll([{fd=3, events=POLLIN, revents=0}], 1, 0) = 0
"),
        "struct literal",
    );
    assert_eq!(line, 2);
}

#[test]
fn unknown_shell_command_is_unsupported() {
    let line = assert_unsupported(
        run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 `ifconfig lo0 mtu 1280`
"),
        "ifconfig lo0 mtu 1280",
    );
    assert_eq!(line, 2);
}

#[test]
fn unknown_header_flag_is_unsupported() {
    let line = assert_unsupported(
        run(r"
--ip_version=ipv4
--no_such_flag=1
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
"),
        "--no_such_flag",
    );
    assert_eq!(line, 2);
}

#[test]
fn unknown_code_block_is_unsupported() {
    let line = assert_unsupported(
        run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 %{ assert tcpi_snd_cwnd == 10 }%
"),
        "tcpi_snd_cwnd",
    );
    assert_eq!(line, 2);
}

#[test]
fn unparseable_line_is_unsupported_with_its_line() {
    let line = assert_unsupported(
        run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 > S 0:0 win 65535
"),
        "",
    );
    assert_eq!(line, 2);
}

// ---------------------------------------------------------------------------------------------
// Preprocessor, determinism, deviation lists

#[test]
fn ifdef_branches_follow_the_defines() {
    let script = r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S  0:0(0) win 32767 <mss 1460>
#ifdef STANDARD
+0.000 > S. 0:0(0) ack 1 win 65535 <mss 1460>
#else
+0.000 > S. 0:0(0) ack 1 win 1 <mss 1460>
#endif
";
    assert_pass(run_defines(&["STANDARD"], script));
    assert_fail_at(run_defines(&[], script), 8, "window differs");
    assert_fail_at(run_defines(&["FreeBSD"], script), 8, "window differs");
}

#[test]
fn same_seed_gives_the_same_verdict_and_any_seed_passes() {
    let passing = concat!(
        passive_open!(),
        r"
+0.100 write(4, ..., 10) = 10
+0.000 > P. 1:11(10) ack 1 win 65535
+0.100 < .  1:1(0) ack 11 win 32767
"
    );
    for seed in [0, 1, 2, 42, u64::MAX] {
        assert_pass(run_seeded(seed, passing));
    }
    // A failure's text names the actual packet in relative numbers: the same for any seed.
    let failing = passing.replace("ack 1 win 65535", "ack 7 win 65535");
    let first = run_seeded(7, &failing);
    assert_fail_at(first.clone(), 6, "ack differs");
    assert_eq!(run_seeded(7, &failing), first);
    assert_eq!(run_seeded(8, &failing), first);
}

#[test]
fn deviation_lists_parse() {
    let good = "\
# scripts oxtcp is known to fail
rcv-syn-listen/a.pkt
    oxtcp answers with a challenge ACK
    rather than an RST

rcv-rst-time-wait/b.pkt
\tno TIME-WAIT assassination
";
    assert_eq!(
        parse_deviations(good),
        Ok(vec![
            Deviation {
                script: "rcv-syn-listen/a.pkt".into(),
                reason: "oxtcp answers with a challenge ACK rather than an RST".into(),
            },
            Deviation {
                script: "rcv-rst-time-wait/b.pkt".into(),
                reason: "no TIME-WAIT assassination".into(),
            },
        ])
    );
    assert_eq!(parse_deviations(""), Ok(vec![]));
    assert_eq!(parse_deviations("# only a comment\n\n"), Ok(vec![]));

    let reason_first = parse_deviations("  a reason\nx.pkt\n  why\n").unwrap_err();
    assert!(reason_first.contains("line 1"), "{reason_first}");
    let no_reason = parse_deviations("x.pkt\ny.pkt\n  why\n").unwrap_err();
    assert!(
        no_reason.contains("line 2") && no_reason.contains("no reason"),
        "{no_reason}"
    );
    let last_no_reason = parse_deviations("x.pkt\n  why\ny.pkt\n").unwrap_err();
    assert!(last_no_reason.contains("last script"), "{last_no_reason}");
}
// ---------------------------------------------------------------------------------------------
// Runner bugs: each test states the correct behaviour and fails until the runner is fixed.

/// A successful blocking connect must not use up the socket's pending error: a later RST
/// still shows as ECONNRESET (SO_ERROR, read).
#[test]
fn reset_after_a_blocking_connect_is_reported() {
    let script = r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
 0.000...0.100 connect(3, ..., ...) = 0
 0.000 > S  0:0(0) win 65535 <mss 1460>
 0.100 < S. 0:0(0) ack 1 win 32767 <mss 1460>
 0.100 > .  1:1(0) ack 1 win 65535
 0.200 < R  1:1(0) win 0
+0.000 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0
";
    assert_pass(run(script));
    let read = script.replace(
        "getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0",
        "read(3, ..., 1000) = -1 ECONNRESET (Connection reset by peer)",
    );
    assert_pass(run(&read));
}

/// FreeBSD's accept() gives the new socket the listener's O_NONBLOCK (kern_accept4 with
/// ACCEPT4_INHERIT); Linux's does not.
#[test]
fn freebsd_accept_inherits_o_nonblock() {
    let script = r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S  0:0(0) win 32767 <mss 1460>
+0.000 > S. 0:0(0) ack 1 win 65535 <mss 1460>
+0.100 < .  1:1(0) ack 1 win 32767
+0.000 accept(3, ..., ...) = 4
+0.000 fcntl(4, F_GETFL) = 0x6 (flags O_RDWR|O_NONBLOCK)
+0.000 read(4, ..., 1000) = -1 EAGAIN (Resource temporarily unavailable)
";
    assert_pass(run(script));
    let linux = r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S  0:0(0) win 32767 <mss 1460>
+0.000 > S. 0:0(0) ack 1 win 65535 <mss 1460>
+0.100 < .  1:1(0) ack 1 win 32767
+0.000 accept(3, ..., ...) = 4
+0.000 fcntl(4, F_GETFL) = 0x2 (flags O_RDWR)
";
    assert_pass(run_with(LINUX, false, linux));
}

/// A SYN matched by `...` still tells the runner the stack's ISN (packetdrill learns it from
/// the live SYN whatever the script's seq); the next lines count from it.
#[test]
fn wildcard_seq_on_the_synack_still_learns_the_isn() {
    assert_pass(run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S  0:0(0) win 32767 <mss 1460>
+0.000 > S. ...(0) ack 1 win 65535 <mss 1460>
+0.100 < .  1:1(0) ack 1 win 32767
+0.000 accept(3, ..., ...) = 4
+0.000 write(4, ..., 10) = 10
+0.000 > P. 1:11(10) ack 1 win 65535
"));
}

/// An unclaimed SYN-ACK is described relative to its own ISN, as 0:0(0), not with the raw
/// (seed-dependent) sequence number.
#[test]
fn unclaimed_synack_is_described_relative_to_its_own_isn() {
    let script = r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S 0:0(0) win 32767 <mss 1460>
+0.100 < . 1:1(0) ack 1 win 32767
";
    assert_fail_at(
        run(script),
        5,
        "oxtcp sent > S. 0:0(0) ack 1 win 65535 <mss 1460> at 0.000000",
    );
    assert_eq!(run_seeded(1, script), run_seeded(2, script));
}

/// `+T...E`: when the start is relative, the end counts from the same base, the previous
/// event (packetdrill's adjust_relative_event_times adds the same offset to both). This is
/// the form of the Linux selftests, e.g. `+0...0.300 write(4, ..., 61000)` after the
/// handshake. Here the accept starts at 1.0 and returns at 1.2.
#[test]
fn blocking_end_time_is_relative_when_the_start_is() {
    assert_pass(run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
 1.000 listen(3, 1) = 0
+0.000...0.200 accept(3, ..., ...) = 4
+0.100 < S  0:0(0) win 32767 <mss 1460>
+0.000 > S. 0:0(0) ack 1 win 65535 <mss 1460>
+0.100 < .  1:1(0) ack 1 win 32767
"));
}

/// A blocking call that returns at the wrong time, or with the wrong value, fails on its own
/// line (as packetdrill reports it), not on the line during which it returned.
#[test]
fn blocking_call_failures_are_reported_on_the_call_line() {
    // Still blocked past its end: noticed at line 7.
    assert_fail_at(
        run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
 0.000...0.100 accept(3, ..., ...) = 4
 0.100 < S  0:0(0) win 32767 <mss 1460>
 0.100 > S. 0:0(0) ack 1 win 65535 <mss 1460>
 0.200 < .  1:1(0) ack 1 win 32767
"),
        4,
        "0.100000",
    );
    // Returns early, at line 7.
    assert_fail_at(
        run(r"
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
 0.000...0.300 accept(3, ..., ...) = 4
 0.100 < S  0:0(0) win 32767 <mss 1460>
 0.100 > S. 0:0(0) ack 1 win 65535 <mss 1460>
 0.200 < .  1:1(0) ack 1 win 32767
"),
        4,
        "0.300000",
    );
    // Returns the wrong value, at line 10.
    assert_fail_at(
        run(concat!(
            passive_open!(),
            r"
 0.200...0.300 read(4, ..., 1000) = 50
 0.300 < P. 1:101(100) ack 1 win 32767
 0.300 > .  1:1(0) ack 101 win 65535
"
        )),
        9,
        "= 50",
    );
}

/// A blocking write that completes when an ACK frees the send buffer: its data goes out at
/// once. (The runner collects the stack's output before retrying the parked call, not after,
/// so the segments wait for the next timer.)
#[test]
fn blocking_write_completing_on_an_ack_is_sent_at_once() {
    assert_pass(run(r"
 0.000 `sysctl -w net.inet.tcp.sendspace=4000`
+0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S  0:0(0) win 32767 <mss 1460>
+0.000 > S. 0:0(0) ack 1 win 65535 <mss 1460>
+0.100 < .  1:1(0) ack 1 win 32767
+0.000 accept(3, ..., ...) = 4
 0.200 write(4, ..., 4000) = 4000
 0.200 > .  1:1461(1460) ack 1
 0.200 > .  1461:2921(1460) ack 1
 0.200 > P. 2921:4001(1080) ack 1
 0.200...0.300 write(4, ..., 4000) = 4000
 0.300 < .  1:1(0) ack 4001 win 32767
 0.300 > .  4001:5461(1460) ack 1
 0.300 > .  5461:6921(1460) ack 1
 0.300 > P. 6921:8001(1080) ack 1
"));
}

/// A blocking write larger than the free send buffer queues what fits, and on each retry
/// only what is still unwritten; it returns the whole length once all is queued. (The runner
/// retries with the full length: data is queued twice and the call never completes.)
#[test]
fn blocking_write_larger_than_the_send_buffer_writes_each_byte_once() {
    assert_pass(run(r"
 0.000 `sysctl -w net.inet.tcp.sendspace=4000`
+0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S  0:0(0) win 32767 <mss 1460>
+0.000 > S. 0:0(0) ack 1 win 65535 <mss 1460>
+0.100 < .  1:1(0) ack 1 win 32767
+0.000 accept(3, ..., ...) = 4
 0.200...0.300 write(4, ..., 6000) = 6000
 0.200 > .  1:1461(1460) ack 1
 0.200 > .  1461:2921(1460) ack 1
 0.200 > P. 2921:4001(1080) ack 1
 0.300 < .  1:1(0) ack 4001 win 32767
 0.300 > .  4001:5461(1460) ack 1
 0.300 > P. 5461:6001(540) ack 1
 0.400 < .  1:1(0) ack 6001 win 32767
"));
}

/// `= -1` without an errno accepts any errno: packetdrill compares the errno only when the
/// script names one.
#[test]
fn minus_one_without_errno_accepts_any_errno() {
    assert_pass(run(r"
 0.000 close(7) = -1
"));
}

/// packetdrill rejects `*` and time ranges on anything but an outbound packet ("event time
/// <star> can only be used with outbound packets", "event time range can only be used with
/// outbound packets"); the runner accepts them on syscalls, shell lines and inbound packets.
#[test]
fn any_time_and_ranges_are_only_for_outbound_packets() {
    for timing in ["*", "0.000~0.100"] {
        let script =
            format!(" 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n{timing} close(3) = 0\n");
        assert_eq!(assert_unsupported(run(&script), ""), 2);
    }
}

#[test]
fn tcp_syncookies_2_answers_every_syn_with_a_cookie_and_its_ack_is_accepted() {
    // Linux's tcp_syncookies = 2: no half-open entry, so no SYN-ACK is retransmitted while
    // the client takes 1.5 s to answer; the final ACK alone makes the connection, which
    // accept() returns.
    let script = r"
 0.000 `sysctl -w net.ipv4.tcp_syncookies=2`
 0.000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.000 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0.000 bind(3, ..., ...) = 0
+0.000 listen(3, 1) = 0
+0.000 < S 0:0(0) win 32792 <mss 1000>
+0.000 > S. 0:0(0) ack 1 <mss 1460>
+1.500 < . 1:1(0) ack 1 win 257
+0.000 accept(3, ..., ...) = 4
+0.000 < P. 1:11(10) ack 1 win 257
+0.000 > . 1:1(0) ack 11
";
    assert_pass(run_with(LINUX, false, script));
    // With cookies off the half-open entry retransmits its SYN-ACK after 1 s, which the
    // script does not expect.
    assert!(!matches!(
        run_with(
            LINUX,
            false,
            &script.replace("syncookies=2", "syncookies=0")
        ),
        Verdict::Pass
    ));
}
