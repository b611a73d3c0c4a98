//! The scenarios, each with the claims of `lifecycle.md` it demonstrates.

use std::net::SocketAddr;
use std::time::Duration;

use oxtcp_core::{ConnError, SocketOptions, StackConfig, State};
use oxtcp_sim::{LinkConfig, PacketInfo, Verdict};
use oxtcp_wire::TcpFlags;

use super::run::{Setup, A_IP, B_IP};
use super::script::{Call, Script};
use super::{count_sent, ended_with, sent, Check, Scenario};

use State::*;

const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;
const FIN: TcpFlags = TcpFlags::FIN;
const RST: TcpFlags = TcpFlags::RST;

fn a_end() -> SocketAddr {
    SocketAddr::new(A_IP, 40000)
}
fn b_end() -> SocketAddr {
    SocketAddr::new(B_IP, 80)
}
fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
fn bytes(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz"[i % 26])
        .collect()
}
fn connect() -> Call {
    Call::Connect(a_end(), b_end(), SocketOptions::default())
}
fn listen() -> Call {
    Call::Listen(b_end(), 8, SocketOptions::default())
}

/// Short MSL so TIME-WAIT fits a figure; still 2×MSL on the timeline.
fn cfg() -> StackConfig {
    StackConfig {
        msl: Duration::from_secs(30),
        ..StackConfig::default()
    }
}

fn setup(a: Script, b: Script) -> Setup {
    Setup {
        a,
        b,
        cfg_a: cfg(),
        cfg_b: cfg(),
        link: LinkConfig::default().with_latency(ms(10)),
        filter: None,
    }
}

/// Is this packet from `side` (0 = A) carrying exactly `flags` (PSH ignored)?
fn is(p: &PacketInfo, side: usize, flags: TcpFlags) -> bool {
    p.from.0 == side
        && oxtcp_wire::parse_packet(p.bytes).is_ok_and(|s| {
            let mut f = s.tcp.flags;
            f.remove(TcpFlags::PSH);
            f == flags
        })
}

static SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "three-segment-close",
        shows: "C6: B has nothing left to send, so its ACK and FIN travel as one FIN+ACK and A goes FIN-WAIT-1 → TIME-WAIT",
        b_initial: Listen,
        setup: || {
            let mut b = Script::new(vec![(ms(0), listen())]);
            b.close_on_eof = true;
            setup(Script::new(vec![(ms(0), connect()), (ms(100), Call::Close)]), b)
        },
        expect_a: &[Closed, SynSent, Established, FinWait1, TimeWait, Closed],
        expect_b: &[Listen, SynReceived, Established, CloseWait, LastAck, Closed],
        claims: |r| {
            vec![
                Check::new("B sends one FIN+ACK and no separate ACK of A's FIN", count_sent(&r.b, FIN | ACK) == 1),
            ]
        },
    },
    Scenario {
        name: "half-close",
        shows: "C1, C2: A shuts down writing; B keeps sending in CLOSE-WAIT while A, in FIN-WAIT-2, still receives",
        b_initial: Listen,
        setup: || {
            setup(
                Script::new(vec![
                    (ms(0), connect()),
                    (ms(0), Call::Send(bytes(100))),
                    (ms(50), Call::Shutdown),
                    (ms(500), Call::Close),
                ]),
                Script::new(vec![
                    (ms(0), listen()),
                    (ms(150), Call::Send(bytes(20_000))),
                    (ms(300), Call::Close),
                ]),
            )
        },
        expect_a: &[Closed, SynSent, Established, FinWait1, FinWait2, TimeWait, Closed],
        expect_b: &[Listen, SynReceived, Established, CloseWait, LastAck, Closed],
        claims: |r| {
            vec![
                Check::new("A receives all 20000 bytes B sends after A's FIN", r.a_app.received == bytes(20_000)),
                Check::new("B receives A's 100 bytes, then end of stream", r.b_app.received == bytes(100) && r.b_app.eof),
            ]
        },
    },
    Scenario {
        name: "simultaneous-open",
        shows: "O5: both send SYN at once; each goes SYN-SENT → SYN-RECEIVED → ESTABLISHED, four segments",
        b_initial: Closed,
        setup: || {
            setup(
                Script::new(vec![
                    (ms(0), Call::Connect(a_end(), SocketAddr::new(B_IP, 50000), SocketOptions::default())),
                    (ms(100), Call::Close),
                ]),
                Script::new(vec![
                    (ms(0), Call::Connect(SocketAddr::new(B_IP, 50000), a_end(), SocketOptions::default())),
                    (ms(300), Call::Close),
                ]),
            )
        },
        expect_a: &[Closed, SynSent, SynReceived, Established, FinWait1, FinWait2, TimeWait, Closed],
        expect_b: &[Closed, SynSent, SynReceived, Established, CloseWait, LastAck, Closed],
        claims: |r| {
            vec![
                Check::new("each side sends one SYN and one SYN+ACK", count_sent(&r.a, SYN) == 1 && count_sent(&r.b, SYN) == 1 && count_sent(&r.a, SYN | ACK) == 1 && count_sent(&r.b, SYN | ACK) == 1),
            ]
        },
    },
    Scenario {
        name: "simultaneous-close",
        shows: "C7: both send FIN before seeing the other's; each goes FIN-WAIT-1 → CLOSING → TIME-WAIT",
        b_initial: Listen,
        setup: || {
            setup(
                Script::new(vec![(ms(0), connect()), (ms(100), Call::Close)]),
                Script::new(vec![(ms(0), listen()), (ms(100), Call::Close)]),
            )
        },
        expect_a: &[Closed, SynSent, Established, FinWait1, Closing, TimeWait, Closed],
        expect_b: &[Listen, SynReceived, Established, FinWait1, Closing, TimeWait, Closed],
        claims: |r| {
            vec![Check::new("both sides wait out TIME-WAIT", count_sent(&r.a, FIN | ACK) >= 1 && count_sent(&r.b, FIN | ACK) >= 1)]
        },
    },
    Scenario {
        name: "lost-syn",
        shows: "O6: A's SYN is lost twice and retransmitted after 1 s, then 2 s (exponential backoff)",
        b_initial: Listen,
        setup: || {
            let mut s = setup(
                Script::new(vec![(ms(0), connect()), (ms(4000), Call::Close)]),
                Script::new(vec![(ms(0), listen()), (ms(4200), Call::Close)]),
            );
            s.filter = Some(Box::new(|p: &PacketInfo| {
                if p.from.0 == 0 && p.nth_from_host <= 2 { Verdict::Drop } else { Verdict::Pass }
            }));
            s
        },
        expect_a: &[Closed, SynSent, Established, FinWait1, FinWait2, TimeWait, Closed],
        expect_b: &[Listen, SynReceived, Established, CloseWait, LastAck, Closed],
        claims: |r| {
            let times: Vec<u64> = r.a.iter().filter_map(|e| match &e.kind {
                oxtcp_core::EventKind::Segment(s) if s.dir == oxtcp_core::Dir::Tx && s.flags == SYN => Some(e.time.as_micros()),
                _ => None,
            }).collect();
            let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
            vec![
                Check::new("A sends its SYN three times", times.len() == 3),
                Check::new("the waits double: 1 s, then 2 s", gaps == [1_000_000, 2_000_000]),
            ]
        },
    },
    Scenario {
        name: "lost-syn-ack",
        shows: "Q3 on B and O6 on A: B's SYN+ACK is lost twice; both retry until the handshake completes",
        b_initial: Listen,
        setup: || {
            let mut s = setup(
                Script::new(vec![(ms(0), connect()), (ms(5000), Call::Close)]),
                Script::new(vec![(ms(0), listen()), (ms(5200), Call::Close)]),
            );
            s.filter = Some(Box::new(|p: &PacketInfo| {
                if p.from.0 == 1 && p.nth_from_host <= 2 { Verdict::Drop } else { Verdict::Pass }
            }));
            s
        },
        expect_a: &[Closed, SynSent, Established, FinWait1, FinWait2, TimeWait, Closed],
        expect_b: &[Listen, SynReceived, Established, CloseWait, LastAck, Closed],
        claims: |r| vec![Check::new("B sends SYN+ACK at least three times", count_sent(&r.b, SYN | ACK) >= 3)],
    },
    Scenario {
        name: "syn-ack-retries-exhausted",
        shows: "Q3: A never acknowledges; B retries its SYN+ACK 3 times with backoff, then drops the half-open entry",
        b_initial: Listen,
        setup: || {
            let mut s = setup(
                Script::new(vec![(ms(0), connect())]),
                Script::new(vec![(ms(0), listen())]),
            );
            s.cfg_b.synack_retries = 3;
            s.filter = Some(Box::new(|p: &PacketInfo| {
                if p.from.0 == 0 && p.nth_from_host > 1 { Verdict::Drop } else { Verdict::Pass }
            }));
            s
        },
        expect_a: &[Closed, SynSent, Established],
        expect_b: &[Listen, SynReceived, Closed],
        claims: |r| vec![Check::new("B sends SYN+ACK 1 + 3 times", count_sent(&r.b, SYN | ACK) == 4)],
    },
    Scenario {
        name: "lost-final-ack",
        shows: "C8: A's last ACK is lost; B retransmits its FIN and A, still in TIME-WAIT, acknowledges it again",
        b_initial: Listen,
        setup: || {
            let mut s = setup(
                Script::new(vec![(ms(0), connect()), (ms(100), Call::Close)]),
                Script::new(vec![(ms(0), listen()), (ms(300), Call::Close)]),
            );
            let mut b_fin_seen = false;
            let mut dropped = false;
            s.filter = Some(Box::new(move |p: &PacketInfo| {
                if is(p, 1, FIN | ACK) {
                    b_fin_seen = true;
                } else if b_fin_seen && !dropped && is(p, 0, ACK) {
                    dropped = true;
                    return Verdict::Drop;
                }
                Verdict::Pass
            }));
            s
        },
        expect_a: &[Closed, SynSent, Established, FinWait1, FinWait2, TimeWait, Closed],
        expect_b: &[Listen, SynReceived, Established, CloseWait, LastAck, Closed],
        claims: |r| {
            vec![
                Check::new("B sends its FIN twice", count_sent(&r.b, FIN | ACK) == 2),
                Check::new("A acknowledges B's FIN twice, from TIME-WAIT", count_sent(&r.a, ACK) >= 3),
                Check::new("B ends without an error", ended_with(&r.b).is_none()),
            ]
        },
    },
    Scenario {
        name: "refused",
        shows: "C10: a SYN to a port with no listener is answered by RST, and connect() fails with \"connection refused\"",
        b_initial: Closed,
        setup: || setup(Script::new(vec![(ms(0), connect())]), Script::new(vec![])),
        expect_a: &[Closed, SynSent, Closed],
        expect_b: &[Closed],
        claims: |r| {
            vec![
                Check::new("B answers with RST+ACK", count_sent(&r.b, RST | ACK) == 1),
                Check::new("A's connect fails: connection refused", ended_with(&r.a) == Some(ConnError::Refused)),
            ]
        },
    },
    Scenario {
        name: "abort",
        shows: "C10: A aborts with data queued; an RST goes out and B's next call fails with \"connection reset\"",
        b_initial: Listen,
        setup: || {
            setup(
                Script::new(vec![(ms(0), connect()), (ms(100), Call::Send(bytes(500))), (ms(100), Call::Abort)]),
                Script::new(vec![(ms(0), listen())]),
            )
        },
        expect_a: &[Closed, SynSent, Established, Closed],
        expect_b: &[Listen, SynReceived, Established, Closed],
        claims: |r| {
            vec![
                Check::new("A sends RST and none of the queued data", count_sent(&r.a, RST | ACK) + count_sent(&r.a, RST) == 1 && sent(&r.a).all(|s| s.len == 0)),
                Check::new("B's connection ends: connection reset", r.b_app.error == Some(ConnError::Reset)),
            ]
        },
    },
    Scenario {
        name: "zero-window",
        shows: "a receiver that stops reading: its window falls to 0, the sender probes, and the transfer resumes when it reads",
        b_initial: Listen,
        setup: || {
            let small = SocketOptions { recv_buffer: Some(4096), ..SocketOptions::default() };
            setup(
                Script::new(vec![(ms(0), connect()), (ms(0), Call::Send(bytes(12_000))), (ms(8000), Call::Close)]),
                Script::new(vec![
                    (ms(0), Call::Listen(b_end(), 8, small)),
                    (ms(0), Call::StopReading),
                    (ms(3000), Call::ResumeReading),
                    (ms(8200), Call::Close),
                ]),
            )
        },
        expect_a: &[Closed, SynSent, Established, FinWait1, FinWait2, TimeWait, Closed],
        expect_b: &[Listen, SynReceived, Established, CloseWait, LastAck, Closed],
        claims: |r| {
            vec![
                Check::new("B advertises a zero window", sent(&r.b).any(|s| s.win == 0)),
                Check::new("A probes the zero window", r.a.iter().any(|e| matches!(&e.kind, oxtcp_core::EventKind::Timer(t) if t.timer == oxtcp_core::TimerKind::Persist))),
                Check::new("B reads all 12000 bytes once it reads again", r.b_app.received == bytes(12_000)),
            ]
        },
    },
];

/// Every scenario, in the order of `lifecycle.md`.
pub fn all() -> &'static [Scenario] {
    SCENARIOS
}

/// The scenario called `name`.
pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}
