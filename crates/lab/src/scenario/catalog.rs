//! The scenarios, each with the claims of `lifecycle.md` it demonstrates.

use std::net::SocketAddr;
use std::time::Duration;

use oxtcp_core::{
    Cause, ConnError, ConnectError, Dir, DropReason, EventKind, SocketOptions, StackConfig, State,
    SynCookies, TimerKind,
};
use oxtcp_sim::{LinkConfig, PacketInfo, Verdict};
use oxtcp_wire::TcpFlags;

use super::run::{Setup, A_IP, B_IP};
use super::script::{Call, Script};
use super::{count_sent, ended_with, sent, Check, Run, Scenario};

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

/// Both sides connect to each other at once (A from port 40000, B from 50000) and close at
/// the given times.
fn simultaneous_open(a_close: Duration, b_close: Duration) -> Setup {
    let b_port = SocketAddr::new(B_IP, 50000);
    let opts = SocketOptions::default();
    setup(
        Script::new(vec![
            (ms(0), Call::Connect(a_end(), b_port, opts)),
            (a_close, Call::Close),
        ]),
        Script::new(vec![
            (ms(0), Call::Connect(b_port, a_end(), opts)),
            (b_close, Call::Close),
        ]),
    )
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

/// seq-wrap's ISNs: 20000 and 2000 below 2^32.
const A_WRAP_ISS: u32 = u32::MAX - 19_999;
const B_WRAP_ISS: u32 = u32::MAX - 1_999;

/// old-duplicate: when A's second connect() reaches B (sent at 15 ms, 1 ms one way).
const REOPEN_ARRIVES: Duration = Duration::from_millis(16);
/// How long the old duplicate trails the original: less than MSL, as a real one must.
const DUPLICATE_LAG: Duration = Duration::from_millis(14);

fn old_data() -> Vec<u8> {
    bytes(6_000)
}
fn new_data() -> Vec<u8> {
    b"NEW CONNECTION DATA\n".repeat(100)
}

/// Both old-duplicate runs, on a 1 ms link: A fetches 6000 bytes from B on port 40000 → 80
/// and closes, then connects again on the same 4-tuple; one of B's first-connection data
/// segments is duplicated in the network and its copy arrives 14 ms late.
///
/// The segment picked is the one holding the sequence number that B's *next* connection on
/// the same 4-tuple will start from: RFC 6528 ISNs advance one per 4 µs, so that number is
/// B's old ISN plus the time between the two SYNs' arrivals over 4 µs. That is the unlucky
/// case TIME-WAIT exists for; an old segment anywhere else would fall outside the new window.
fn old_duplicate_setup(time_wait: bool) -> Setup {
    let a_calls = if time_wait {
        vec![
            (ms(0), connect()),
            (ms(10), Call::Close),
            // Refused while A is in TIME-WAIT, so A tries again once 2×MSL is over.
            (ms(15), connect()),
            (ms(2100), connect()),
            (ms(2200), Call::Close),
        ]
    } else {
        vec![
            (ms(0), connect()),
            (ms(10), Call::Close),
            (ms(15), connect()),
            (ms(50), Call::Close),
        ]
    };
    let mut b = Script::new(vec![
        (ms(0), listen()),
        (ms(5), Call::Send(old_data())),
        (
            ms(if time_wait { 2150 } else { 30 }),
            Call::Send(new_data()),
        ),
    ]);
    b.close_on_eof = true;
    let mut s = setup(Script::new(a_calls), b);
    s.link = LinkConfig::default().with_latency(ms(1));
    let msl = Duration::from_secs(1);
    s.cfg_a.msl = msl;
    s.cfg_b.msl = msl;
    s.cfg_a.time_wait = time_wait;
    s.cfg_b.time_wait = time_wait;
    // Timestamps off: with them, PAWS (RFC 7323 §5) would drop the old duplicate in the new
    // incarnation, whose TSvals are above the old one's (the TSval offset is per 4-tuple),
    // and A could take the 4-tuple over from its TIME-WAIT after a second
    // (`connect_reuses_time_wait`). The scenario shows what TIME-WAIT alone guards against.
    s.cfg_a.timestamps = false;
    s.cfg_b.timestamps = false;
    let mut b_syn: Option<(u32, oxtcp_core::Instant)> = None;
    let mut done = false;
    s.filter = Some(Box::new(move |p: &PacketInfo| {
        let Ok(seg) = oxtcp_wire::parse_packet(p.bytes) else {
            return Verdict::Pass;
        };
        if p.from.0 != 1 || done {
            return Verdict::Pass;
        }
        if seg.tcp.flags.syn() {
            b_syn.get_or_insert((seg.tcp.seq, p.time));
            return Verdict::Pass;
        }
        let Some((isn, at)) = b_syn else {
            return Verdict::Pass;
        };
        let ticks = (REOPEN_ARRIVES.as_micros() as u64 - at.as_micros()) / 4;
        let next_first = isn.wrapping_add(1).wrapping_add(ticks as u32);
        let offset = next_first.wrapping_sub(seg.tcp.seq);
        if !seg.payload.is_empty() && (offset as usize) < seg.payload.len() {
            done = true;
            return Verdict::Duplicate(DUPLICATE_LAG);
        }
        Verdict::Pass
    }));
    s
}

/// The bytes A read on its second connection.
fn second_read(r: &Run) -> &[u8] {
    r.a_app.conns.get(1).map_or(&[], |c| &c.received)
}

/// Whether A received an arrival that nothing B sent matches (the network's late copy), and
/// in what state.
fn duplicate_arrived_in(r: &Run, want: State) -> bool {
    let matched: std::collections::HashSet<usize> =
        r.arrivals[1].iter().flatten().copied().collect();
    let mut state = Closed;
    r.a.iter().enumerate().any(|(i, e)| match &e.kind {
        EventKind::State(s) => {
            state = s.to;
            false
        }
        EventKind::Segment(s) => {
            s.dir != Dir::Tx && s.len > 0 && !matched.contains(&i) && state == want
        }
        _ => false,
    })
}

const OLD_DUPLICATE: Scenario = Scenario {
    name: "old-duplicate",
    shows: "C9: an old duplicate of B's data arrives after A closed; A is in TIME-WAIT, absorbs it, and refuses to reuse the 4-tuple until 2×MSL is over (add --no-time-wait for the hazard)",
    no_time_wait: Some(&OLD_DUPLICATE_NO_TIME_WAIT),
    b_initial: Listen,
    setup: || old_duplicate_setup(true),
    expect_a: &[
        &[Closed, SynSent, Established, FinWait1, TimeWait, Closed],
        &[Closed, SynSent, Established, FinWait1, TimeWait, Closed],
    ],
    expect_b: &[
        &[Listen, SynReceived, Established, CloseWait, LastAck, Closed],
        &[Listen, SynReceived, Established, CloseWait, LastAck, Closed],
    ],
    claims: |r| {
        vec![
            Check::new("the old duplicate arrives while A is in TIME-WAIT", duplicate_arrived_in(r, TimeWait)),
            Check::new("A's connect() on the same 4-tuple during TIME-WAIT fails: address in use", r.a_app.connect_errors.iter().any(|(_, e)| *e == ConnectError::AddrInUse)),
            Check::new("A's TIME-WAIT lasts its full 2×MSL", r.a.iter().any(|e| matches!(&e.kind, EventKind::Timer(t) if t.timer == TimerKind::TimeWait))),
            Check::new("the new connection reads exactly B's new data", second_read(r) == new_data()),
            Check::new("and the first read exactly the old data", r.a_app.received() == old_data()),
        ]
    },
};

const OLD_DUPLICATE_NO_TIME_WAIT: Scenario = Scenario {
    name: "old-duplicate",
    shows: "C9, the hazard: TIME-WAIT disabled; A reuses the 4-tuple at once and the old duplicate lands inside the new connection's window",
    no_time_wait: None,
    b_initial: Listen,
    setup: || old_duplicate_setup(false),
    expect_a: &[
        &[Closed, SynSent, Established, FinWait1, Closed],
        &[Closed, SynSent, Established, FinWait1, Closed],
    ],
    expect_b: &[
        &[Listen, SynReceived, Established, CloseWait, LastAck, Closed],
        &[Listen, SynReceived, Established, CloseWait, LastAck, Closed],
    ],
    claims: |r| {
        let read = second_read(r);
        vec![
            Check::new("A reuses the 4-tuple at once: no connect() fails", r.a_app.connect_errors.is_empty() && r.a_app.conns.len() == 2),
            Check::new("the old duplicate arrives in the new connection", duplicate_arrived_in(r, Established)),
            Check::new("the new connection reads stale bytes from the old one: its data is corrupted", read != new_data() && read.iter().any(|c| c.is_ascii_lowercase())),
        ]
    },
};

static SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "three-segment-close",
        shows: "C6: B has nothing left to send, so its ACK and FIN travel as one FIN+ACK and A goes FIN-WAIT-1 → TIME-WAIT",
        no_time_wait: None,
        b_initial: Listen,
        setup: || {
            let mut b = Script::new(vec![(ms(0), listen())]);
            b.close_on_eof = true;
            setup(Script::new(vec![(ms(0), connect()), (ms(100), Call::Close)]), b)
        },
        expect_a: &[&[Closed, SynSent, Established, FinWait1, TimeWait, Closed]],
        expect_b: &[&[Listen, SynReceived, Established, CloseWait, LastAck, Closed]],
        claims: |r| {
            vec![
                Check::new("B sends one FIN+ACK and no separate ACK of A's FIN", count_sent(&r.b, FIN | ACK) == 1),
            ]
        },
    },
    Scenario {
        name: "half-close",
        shows: "C1, C2: A shuts down writing; B keeps sending in CLOSE-WAIT while A, in FIN-WAIT-2, still receives",
        no_time_wait: None,
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
        expect_a: &[&[Closed, SynSent, Established, FinWait1, FinWait2, TimeWait, Closed]],
        expect_b: &[&[Listen, SynReceived, Established, CloseWait, LastAck, Closed]],
        claims: |r| {
            vec![
                Check::new("A receives all 20000 bytes B sends after A's FIN", r.a_app.received() == bytes(20_000)),
                Check::new("B receives A's 100 bytes, then end of stream", r.b_app.received() == bytes(100) && r.b_app.first().is_some_and(|c| c.eof)),
            ]
        },
    },
    Scenario {
        name: "simultaneous-open",
        shows: "O5: both send SYN at once; each goes SYN-SENT → SYN-RECEIVED → ESTABLISHED, four segments",
        no_time_wait: None,
        b_initial: Closed,
        setup: || simultaneous_open(ms(100), ms(300)),
        expect_a: &[&[Closed, SynSent, SynReceived, Established, FinWait1, FinWait2, TimeWait, Closed]],
        expect_b: &[&[Closed, SynSent, SynReceived, Established, CloseWait, LastAck, Closed]],
        claims: |r| {
            vec![
                Check::new("each side sends one SYN and one SYN+ACK", count_sent(&r.a, SYN) == 1 && count_sent(&r.b, SYN) == 1 && count_sent(&r.a, SYN | ACK) == 1 && count_sent(&r.b, SYN | ACK) == 1),
            ]
        },
    },
    Scenario {
        name: "close-in-syn-received",
        shows: "RFC 9293 §3.10.4: B calls close() in SYN-RECEIVED (reachable by simultaneous open); oxtcp queues the FIN until the handshake completes, then enters FIN-WAIT-1",
        no_time_wait: None,
        b_initial: Closed,
        setup: || simultaneous_open(ms(300), ms(15)),
        expect_a: &[&[Closed, SynSent, SynReceived, Established, CloseWait, LastAck, Closed]],
        // Deviation: RFC 9293 would send the FIN at once and enter FIN-WAIT-1 from
        // SYN-RECEIVED; oxtcp always takes its "queue for processing after entering
        // ESTABLISHED" branch, so a FIN never rides ahead of the ACK of its SYN.
        expect_b: &[&[Closed, SynSent, SynReceived, Established, FinWait1, FinWait2, TimeWait, Closed]],
        claims: |r| {
            let first_fin = sent(&r.b).position(|s| s.flags.fin());
            let first_synack = sent(&r.b).position(|s| s.flags.syn() && s.flags.ack());
            vec![
                Check::new("B's close() comes while it is in SYN-RECEIVED", r.b.iter().any(|e| matches!(&e.kind, EventKind::State(s) if s.to == SynReceived && e.time.as_micros() < 15_000)) && !r.b.iter().any(|e| matches!(&e.kind, EventKind::State(s) if s.to == Established && e.time.as_micros() <= 15_000))),
                Check::new("B's FIN follows its SYN+ACK, never before the handshake", matches!((first_synack, first_fin), (Some(s), Some(f)) if s < f)),
                Check::new("B sends one FIN", count_sent(&r.b, FIN | ACK) == 1),
            ]
        },
    },
    Scenario {
        name: "simultaneous-close",
        shows: "C7: both send FIN before seeing the other's; each goes FIN-WAIT-1 → CLOSING → TIME-WAIT",
        no_time_wait: None,
        b_initial: Listen,
        setup: || {
            setup(
                Script::new(vec![(ms(0), connect()), (ms(100), Call::Close)]),
                Script::new(vec![(ms(0), listen()), (ms(100), Call::Close)]),
            )
        },
        expect_a: &[&[Closed, SynSent, Established, FinWait1, Closing, TimeWait, Closed]],
        expect_b: &[&[Listen, SynReceived, Established, FinWait1, Closing, TimeWait, Closed]],
        claims: |r| {
            vec![Check::new("both sides wait out TIME-WAIT", count_sent(&r.a, FIN | ACK) >= 1 && count_sent(&r.b, FIN | ACK) >= 1)]
        },
    },
    Scenario {
        name: "lost-syn",
        shows: "O6: A's SYN is lost twice and retransmitted after 1 s, then 2 s (exponential backoff)",
        no_time_wait: None,
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
        expect_a: &[&[Closed, SynSent, Established, FinWait1, FinWait2, TimeWait, Closed]],
        expect_b: &[&[Listen, SynReceived, Established, CloseWait, LastAck, Closed]],
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
        no_time_wait: None,
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
        expect_a: &[&[Closed, SynSent, Established, FinWait1, FinWait2, TimeWait, Closed]],
        expect_b: &[&[Listen, SynReceived, Established, CloseWait, LastAck, Closed]],
        claims: |r| vec![Check::new("B sends SYN+ACK at least three times", count_sent(&r.b, SYN | ACK) >= 3)],
    },
    Scenario {
        name: "syn-ack-retries-exhausted",
        shows: "Q3: A never acknowledges; B retries its SYN+ACK 3 times with backoff, then drops the half-open entry",
        no_time_wait: None,
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
        expect_a: &[&[Closed, SynSent, Established]],
        expect_b: &[&[Listen, SynReceived, Closed]],
        claims: |r| vec![Check::new("B sends SYN+ACK 1 + 3 times", count_sent(&r.b, SYN | ACK) == 4)],
    },
    Scenario {
        name: "stale-syn",
        shows: "O4: A gives up on a connect; its SYN, held up in the network, reaches B later; B answers SYN+ACK, A answers RST, and B drops the half-open entry",
        no_time_wait: None,
        b_initial: Listen,
        setup: || {
            let mut s = setup(Script::new(vec![(ms(0), connect())]), Script::new(vec![(ms(0), listen())]));
            // A waits one RTO for an answer, then connect() fails; its SYN arrives after that.
            s.cfg_a.syn_retries = 0;
            s.filter = Some(Box::new(|p: &PacketInfo| {
                if p.from.0 == 0 && p.nth_from_host == 1 { Verdict::Delay(ms(1500)) } else { Verdict::Pass }
            }));
            s
        },
        expect_a: &[&[Closed, SynSent, Closed]],
        expect_b: &[&[Listen, SynReceived, Listen]],
        claims: |r| {
            vec![
                Check::new("A's connect fails (timed out) before its SYN arrives", ended_with(&r.a) == Some(ConnError::TimedOut)),
                Check::new("B answers the stale SYN with SYN+ACK", count_sent(&r.b, SYN | ACK) == 1),
                Check::new("A, expecting nothing, answers with RST", count_sent(&r.a, RST) == 1),
                Check::new("B never reaches ESTABLISHED and accepts nothing", r.b_app.conns.is_empty()),
            ]
        },
    },
    Scenario {
        name: "lost-final-ack",
        shows: "C8: A's last ACK is lost; B retransmits its FIN and A, still in TIME-WAIT, acknowledges it again",
        no_time_wait: None,
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
        expect_a: &[&[Closed, SynSent, Established, FinWait1, FinWait2, TimeWait, Closed]],
        expect_b: &[&[Listen, SynReceived, Established, CloseWait, LastAck, Closed]],
        claims: |r| {
            vec![
                Check::new("B sends its FIN twice", count_sent(&r.b, FIN | ACK) == 2),
                Check::new("A acknowledges B's FIN twice, from TIME-WAIT", count_sent(&r.a, ACK) >= 3),
                Check::new("B ends without an error", ended_with(&r.b).is_none()),
            ]
        },
    },
    OLD_DUPLICATE,
    Scenario {
        name: "syn-flood",
        shows: "Q2 with SYN cookies: four SYNs whose senders never answer fill B's SYN queue (backlog 4); a legitimate client's SYN then finds it full, is answered with a SYN cookie instead of an entry, and connects",
        no_time_wait: None,
        b_initial: Listen,
        setup: || {
            let flood = |port| Call::Connect(SocketAddr::new(A_IP, port), b_end(), SocketOptions::default());
            let a = Script::new(vec![
                (ms(0), flood(41001)),
                (ms(0), flood(41002)),
                (ms(0), flood(41003)),
                (ms(0), flood(41004)),
                (ms(100), Call::Connect(SocketAddr::new(A_IP, 40001), b_end(), SocketOptions::default())),
                (ms(200), Call::Send(b"GET /\n".to_vec())),
                (ms(400), Call::Close),
            ]);
            let mut b = Script::new(vec![(ms(0), Call::Listen(b_end(), 4, SocketOptions::default()))]);
            b.on_accept = b"hello\n".to_vec();
            b.close_on_eof = true;
            let mut s = setup(a, b);
            // The flood's senders never answer: every segment to ports 41001-41004 is lost, as
            // SYN-ACKs to spoofed addresses would be. They give up after one RTO; B retries
            // each SYN-ACK once and then forgets the entry.
            s.cfg_a.syn_retries = 0;
            s.cfg_b.synack_retries = 1;
            s.cfg_b.syn_cookies = SynCookies::WhenFull;
            s.filter = Some(Box::new(|p: &PacketInfo| {
                let to_flood = p.from.0 == 1
                    && oxtcp_wire::parse_packet(p.bytes).is_ok_and(|s| (41001..=41004).contains(&s.tcp.dst_port));
                if to_flood { Verdict::Drop } else { Verdict::Pass }
            }));
            s
        },
        expect_a: &[
            &[Closed, SynSent, Closed],
            &[Closed, SynSent, Closed],
            &[Closed, SynSent, Closed],
            &[Closed, SynSent, Closed],
            &[Closed, SynSent, Established, FinWait1, TimeWait, Closed],
        ],
        expect_b: &[
            &[Listen, SynReceived, Closed],
            &[Listen, SynReceived, Closed],
            &[Listen, SynReceived, Closed],
            &[Listen, SynReceived, Closed],
            &[Listen, SynReceived, Established, CloseWait, LastAck, Closed],
        ],
        claims: |r| {
            let drops = |why: DropReason| r.b.iter().filter(|e| matches!(&e.kind, EventKind::Segment(s) if s.dir == Dir::Drop && s.reason == Some(why))).count();
            let by_cookie = r.b.iter().filter(|e| matches!(&e.kind, EventKind::State(s) if s.cause == Cause::SynCookie)).count();
            vec![
                Check::new("no SYN is dropped: the fifth finds the SYN queue full and gets a cookie", drops(DropReason::SynQueueFull) == 0),
                Check::new("B's legitimate connection is built from the cookie in the final ACK", by_cookie == 1),
                Check::new("the legitimate client reads B's greeting", r.a_app.conns.iter().any(|c| c.received == b"hello\n")),
                Check::new("B's application accepts exactly one connection", r.b_app.conns.len() == 1),
                Check::new("the four flood connects time out on A", r.a.iter().filter(|e| matches!(&e.kind, EventKind::State(s) if s.to == Closed && s.error == Some(ConnError::TimedOut))).count() == 4),
            ]
        },
    },
    Scenario {
        name: "backlog-full",
        shows: "Q1, Q2, Q4: backlog 2 and an application not yet accepting; two handshakes complete and wait in the accept queue, a third client's SYNs are dropped until accept() makes room",
        no_time_wait: None,
        b_initial: Listen,
        setup: || {
            let client = |port| Call::Connect(SocketAddr::new(A_IP, port), b_end(), SocketOptions::default());
            let mut b = Script::new(vec![
                (ms(0), Call::Listen(b_end(), 2, SocketOptions::default())),
                (ms(0), Call::StopAccepting),
                (ms(2500), Call::ResumeAccepting),
            ]);
            b.on_accept = b"hello\n".to_vec();
            b.close_on_eof = true;
            let a = Script::new(vec![
                (ms(0), client(40001)),
                (ms(0), client(40002)),
                (ms(0), client(40003)),
                (ms(5000), Call::CloseAll),
            ]);
            let mut s = setup(a, b);
            // The backlog as the lifecycle notes describe it: without SYN cookies, which
            // would answer the third SYN statelessly (the syn-flood scenario shows them).
            s.cfg_b.syn_cookies = SynCookies::Off;
            s
        },
        // One sequence per client, in the order the connections began: B's third entry only
        // exists once the retried SYN is admitted.
        expect_a: &[
            &[Closed, SynSent, Established, FinWait1, TimeWait, Closed],
            &[Closed, SynSent, Established, FinWait1, TimeWait, Closed],
            &[Closed, SynSent, Established, FinWait1, TimeWait, Closed],
        ],
        expect_b: &[
            &[Listen, SynReceived, Established, CloseWait, LastAck, Closed],
            &[Listen, SynReceived, Established, CloseWait, LastAck, Closed],
            &[Listen, SynReceived, Established, CloseWait, LastAck, Closed],
        ],
        claims: |r| {
            let drops = |why: DropReason| r.b.iter().filter(|e| matches!(&e.kind, EventKind::Segment(s) if s.dir == Dir::Drop && s.reason == Some(why) && s.flags == SYN)).count();
            let accepted_at: Vec<u64> = r.b.iter().filter_map(|e| match &e.kind {
                EventKind::State(s) if s.to == Established => Some(e.time.as_micros()),
                _ => None,
            }).collect();
            vec![
                Check::new("the third SYN finds the SYN queue full (two half-open entries) and is dropped", drops(DropReason::SynQueueFull) == 1),
                Check::new("its retry finds the accept queue full (two connections not yet accepted) and is dropped", drops(DropReason::AcceptQueueFull) == 1),
                Check::new("A retransmits that SYN twice, after 1 s and 2 s more", count_sent(&r.a, SYN) == 5),
                Check::new("two handshakes complete before accept() is ever called", accepted_at.iter().filter(|&&t| t < 2_500_000).count() == 2),
                Check::new("once the application accepts, the third client gets in and all three read B's greeting", r.b_app.conns.len() == 3 && r.a_app.conns.iter().all(|c| c.received == b"hello\n")),
            ]
        },
    },
    Scenario {
        name: "refused",
        shows: "C10: a SYN to a port with no listener is answered by RST, and connect() fails with \"connection refused\"",
        no_time_wait: None,
        b_initial: Closed,
        setup: || setup(Script::new(vec![(ms(0), connect())]), Script::new(vec![])),
        expect_a: &[&[Closed, SynSent, Closed]],
        expect_b: &[],
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
        no_time_wait: None,
        b_initial: Listen,
        setup: || {
            setup(
                Script::new(vec![(ms(0), connect()), (ms(100), Call::Send(bytes(500))), (ms(100), Call::Abort)]),
                Script::new(vec![(ms(0), listen())]),
            )
        },
        expect_a: &[&[Closed, SynSent, Established, Closed]],
        expect_b: &[&[Listen, SynReceived, Established, Closed]],
        claims: |r| {
            vec![
                Check::new("A sends RST and none of the queued data", count_sent(&r.a, RST | ACK) + count_sent(&r.a, RST) == 1 && sent(&r.a).all(|s| s.len == 0)),
                Check::new("B's connection ends: connection reset", r.b_app.first().and_then(|c| c.error) == Some(ConnError::Reset)),
            ]
        },
    },
    Scenario {
        name: "zero-window",
        shows: "a receiver that stops reading: its window falls to 0, the sender probes, and the transfer resumes when it reads",
        no_time_wait: None,
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
        expect_a: &[&[Closed, SynSent, Established, FinWait1, FinWait2, TimeWait, Closed]],
        expect_b: &[&[Listen, SynReceived, Established, CloseWait, LastAck, Closed]],
        claims: |r| {
            vec![
                Check::new("B advertises a zero window", sent(&r.b).any(|s| s.win == 0)),
                Check::new("A probes the zero window", r.a.iter().any(|e| matches!(&e.kind, oxtcp_core::EventKind::Timer(t) if t.timer == oxtcp_core::TimerKind::Persist))),
                Check::new("B reads all 12000 bytes once it reads again", r.b_app.received() == bytes(12_000)),
            ]
        },
    },
    Scenario {
        name: "seq-wrap",
        shows: "H2: both ISNs just below 2^32; sequence numbers wrap to 0 mid-transfer and every comparison still works (try --absolute)",
        no_time_wait: None,
        b_initial: Listen,
        setup: || {
            let mut s = setup(
                Script::new(vec![(ms(0), connect()), (ms(0), Call::Send(bytes(30_000))), (ms(300), Call::Close)]),
                Script::new(vec![(ms(0), listen()), (ms(100), Call::Send(bytes(3_000))), (ms(400), Call::Close)]),
            );
            s.cfg_a.fixed_iss = Some(A_WRAP_ISS);
            s.cfg_b.fixed_iss = Some(B_WRAP_ISS);
            s
        },
        expect_a: &[&[Closed, SynSent, Established, FinWait1, FinWait2, TimeWait, Closed]],
        expect_b: &[&[Listen, SynReceived, Established, CloseWait, LastAck, Closed]],
        claims: |r| {
            let wrapped = |events: &[oxtcp_core::Event], iss: u32| sent(events).any(|s| s.len > 0 && s.seq < iss && s.seq.wrapping_add(s.len) > 0);
            vec![
                Check::new("A's data crosses 2^32: a later segment's seq is numerically below its ISN", wrapped(&r.a, A_WRAP_ISS)),
                Check::new("B's data crosses 2^32 too", wrapped(&r.b, B_WRAP_ISS)),
                Check::new("B reads all 30000 bytes in order", r.b_app.received() == bytes(30_000)),
                Check::new("A reads all 3000 bytes in order", r.a_app.received() == bytes(3_000)),
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
