//! Nothing a peer sends can panic the stack (design: "Errors"): malformed datagrams are dropped
//! and counted by cause, and arbitrary well-formed segments, fed to a connection in every state,
//! keep the connection's queues within their configured bounds.

mod common;

use std::time::Duration;

use common::*;
use oxtcp_core::{DropReason, EventKind, State};
use oxtcp_wire::{parse_packet, Ipv4Packet, TcpFlags, TcpPacket};
use proptest::prelude::*;

/// Deliver `pkt` to an established connection and check it was dropped as malformed, counted
/// under the wire error `parse_packet` reports, with no reply and no state change.
fn check_malformed(pkt: &[u8]) {
    let mut t = Harness::established_server();
    let err = parse_packet(pkt).expect_err("the datagram should be malformed");
    t.send_raw(pkt);
    t.expect_none();
    t.assert_state(State::Established);
    assert_eq!(
        t.stack.stats().drops_for(DropReason::Malformed(err)),
        1,
        "counted under {err}"
    );
    assert!(t
        .events
        .iter()
        .any(|e| e.kind == EventKind::Malformed(DropReason::Malformed(err))));
}

fn valid_data_segment() -> Vec<u8> {
    let mut t = Harness::established_server();
    let pkt = t.build(seg().ack().seq(1).ack_no(1).data(b"payload"));
    t.drain();
    pkt
}

#[test]
fn bad_tcp_checksum_is_dropped_and_counted() {
    let mut pkt = valid_data_segment();
    let last = pkt.len() - 1;
    pkt[last] ^= 0x55;
    assert_eq!(
        parse_packet(&pkt).unwrap_err(),
        oxtcp_wire::Error::BadChecksum
    );
    check_malformed(&pkt);
}

#[test]
fn bad_ipv4_header_checksum_is_dropped_and_counted() {
    let mut pkt = valid_data_segment();
    pkt[8] ^= 1; // TTL, covered by the header checksum.
    check_malformed(&pkt);
}

#[test]
fn truncated_datagrams_are_dropped_and_counted() {
    let pkt = valid_data_segment();
    for n in [0, 1, 19, 20, 30, pkt.len() - 1] {
        let mut t = Harness::established_server();
        t.send_raw(&pkt[..n]);
        t.expect_none();
        t.assert_state(State::Established);
        let err = parse_packet(&pkt[..n]).unwrap_err();
        assert_eq!(t.stack.stats().drops_for(DropReason::Malformed(err)), 1);
    }
}

#[test]
fn wrong_ip_version_is_dropped_and_counted() {
    let mut pkt = valid_data_segment();
    pkt[0] = (pkt[0] & 0x0f) | 0x50;
    assert_eq!(
        parse_packet(&pkt).unwrap_err(),
        oxtcp_wire::Error::BadVersion
    );
    check_malformed(&pkt);
}

#[test]
fn non_tcp_protocol_is_dropped_and_counted() {
    let mut pkt = valid_data_segment();
    let mut ip = Ipv4Packet::new_unchecked(&mut pkt[..]);
    ip.set_protocol(17);
    ip.fill_checksum();
    assert_eq!(parse_packet(&pkt).unwrap_err(), oxtcp_wire::Error::NotTcp);
    check_malformed(&pkt);
}

#[test]
fn ipv4_fragment_is_dropped_and_counted() {
    let mut pkt = valid_data_segment();
    let mut ip = Ipv4Packet::new_unchecked(&mut pkt[..]);
    ip.set_more_frags(true);
    ip.fill_checksum();
    assert_eq!(
        parse_packet(&pkt).unwrap_err(),
        oxtcp_wire::Error::Fragmented
    );
    check_malformed(&pkt);
}

#[test]
fn bad_tcp_data_offset_with_a_good_checksum_is_dropped_and_counted() {
    let mut pkt = valid_data_segment();
    {
        let mut tcp = TcpPacket::new_unchecked(&mut pkt[20..]);
        tcp.set_header_len(16);
        tcp.fill_checksum(peer_ip(), ox_ip());
    }
    assert_eq!(
        parse_packet(&pkt).unwrap_err(),
        oxtcp_wire::Error::BadHeaderLen
    );
    check_malformed(&pkt);
}

#[test]
fn malformed_tcp_option_with_a_good_checksum_is_dropped_and_counted() {
    let mut pkt = valid_data_segment();
    {
        let mut tcp = TcpPacket::new_unchecked(&mut pkt[20..]);
        tcp.set_header_len(24);
        // MSS kind with a length of 1: malformed. The first payload bytes become options.
        tcp.options_mut().copy_from_slice(&[2, 1, 0, 0]);
        tcp.fill_checksum(peer_ip(), ox_ip());
    }
    assert_eq!(
        parse_packet(&pkt).unwrap_err(),
        oxtcp_wire::Error::BadOption
    );
    check_malformed(&pkt);
}

// ----- property tests -----

/// One step of a random script against a connection.
#[derive(Clone, Debug)]
enum Op {
    /// A segment from the peer; seq and ack are offsets from RCV.NXT and SND.NXT, or raw.
    Seg {
        flags: u8,
        seq: SeqChoice,
        ack: SeqChoice,
        win: u16,
        len: usize,
        mss: Option<u16>,
    },
    Send(usize),
    Recv(usize),
    Advance(u64),
    Shutdown,
}

#[derive(Clone, Copy, Debug)]
enum SeqChoice {
    Near(i32),
    Raw(u32),
}

fn seq_choice() -> impl Strategy<Value = SeqChoice> {
    prop_oneof![
        4 => (-3000i32..70_000).prop_map(SeqChoice::Near),
        2 => (-2i32..3).prop_map(SeqChoice::Near),
        1 => any::<u32>().prop_map(SeqChoice::Raw),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (
            any::<u8>(),
            seq_choice(),
            seq_choice(),
            prop_oneof![Just(0u16), Just(1u16), any::<u16>()],
            prop_oneof![Just(0usize), 1usize..1500],
            proptest::option::of(any::<u16>()),
        )
            .prop_map(|(flags, seq, ack, win, len, mss)| Op::Seg {
                flags: flags & 0x3f,
                seq,
                ack,
                win,
                len,
                mss
            }),
        2 => (1usize..5000).prop_map(Op::Send),
        2 => (1usize..5000).prop_map(Op::Recv),
        2 => (0u64..5000).prop_map(Op::Advance),
        1 => Just(Op::Shutdown),
    ]
}

const SEND_BUFFER: usize = 3000;
const RECV_BUFFER: usize = 2000;

const STATES: [State; 11] = [
    State::Listen,
    State::SynSent,
    State::SynReceived,
    State::Established,
    State::FinWait1,
    State::FinWait2,
    State::CloseWait,
    State::Closing,
    State::LastAck,
    State::TimeWait,
    // A passive half-open entry.
    State::Closed,
];

fn start(state: State) -> Harness {
    let cfg = |c: &mut oxtcp_core::StackConfig| {
        c.send_buffer = SEND_BUFFER;
        c.recv_buffer = RECV_BUFFER;
        c.data_retries = 4;
        c.syn_retries = 3;
    };
    if state == State::Closed {
        let mut t = Harness::server_with(4, cfg);
        t.send(seg().syn().seq(0));
        t.expect(seg().syn().ack().seq(0).ack_no(1));
        return t;
    }
    in_state_with(state, cfg)
}

fn run(t: &mut Harness, ops: &[Op]) -> Result<(), TestCaseError> {
    let rcv_base = t.peer_isn.wrapping_add(t.peer_nxt());
    let snd_base = t.ox_iss().unwrap_or(0).wrapping_add(t.ox_nxt());
    for op in ops {
        match *op {
            Op::Seg {
                flags,
                seq,
                ack,
                win,
                len,
                mss,
            } => {
                let resolve = |c: SeqChoice, base: u32| match c {
                    SeqChoice::Near(d) => base.wrapping_add(d as u32),
                    SeqChoice::Raw(r) => r,
                };
                let mut s = seg()
                    .flags(TcpFlags::from_bits(flags))
                    .seq_abs(resolve(seq, rcv_base))
                    .ack_abs(resolve(ack, snd_base))
                    .win(win)
                    .len(len);
                if let Some(m) = mss {
                    s = s.mss(m);
                }
                t.inject(s);
            }
            Op::Send(n) => {
                if let Some(id) = t.conn {
                    let _ = t.stack.send(id, &pattern(0, n));
                }
            }
            Op::Recv(n) => {
                if let Some(id) = t.conn {
                    let mut buf = vec![0u8; n];
                    let _ = t.stack.recv(id, &mut buf);
                }
            }
            Op::Advance(ms) => t.advance(Duration::from_millis(ms)),
            Op::Shutdown => {
                if let Some(id) = t.conn {
                    let _ = t.stack.shutdown(t.now, id);
                }
            }
        }
        // Every datagram emitted parses (next_out checks it) and comes from our endpoint.
        for out in t.drain() {
            prop_assert!(out.payload.len() <= 1460);
            prop_assert!(!(out.flags.syn() && out.flags.fin()));
        }
        check_invariants(t)?;
    }
    Ok(())
}

fn check_invariants(t: &Harness) -> Result<(), TestCaseError> {
    if let Some(info) = t.conn.and_then(|id| t.stack.info(id)) {
        prop_assert!(
            info.send_queue <= SEND_BUFFER,
            "send queue {}",
            info.send_queue
        );
        prop_assert!(
            info.recv_queue + info.ooo_bytes <= RECV_BUFFER,
            "recv {} + ooo {}",
            info.recv_queue,
            info.ooo_bytes
        );
    }
    let r = t.stack.resources();
    prop_assert!(r.tuples <= r.connections + r.half_open);
    prop_assert!(r.timers <= r.connections + r.half_open);
    prop_assert!(r.half_open <= 4 || t.conn.is_some());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_segments_in_any_state_never_panic_and_keep_queues_bounded(
        state in proptest::sample::select(STATES.to_vec()),
        ops in proptest::collection::vec(op(), 1..12),
    ) {
        let mut t = start(state);
        run(&mut t, &ops)?;
        // Let every timer run out: the connection ends or idles, and nothing panics.
        t.advance(Duration::from_secs(2000));
        t.drain();
        check_invariants(&t)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        let mut t = Harness::established_server();
        t.send_raw(&bytes);
        for pkt in t.drain_raw() {
            prop_assert!(parse_packet(&pkt).is_ok());
        }
        check_invariants(&t)?;
    }

    #[test]
    fn bit_flips_of_a_valid_segment_never_panic(
        flips in proptest::collection::vec((0usize..47, 0u8..8), 1..4),
    ) {
        let mut pkt = valid_data_segment();
        for (i, b) in flips {
            let i = i % pkt.len();
            pkt[i] ^= 1 << b;
        }
        let mut t = Harness::established_server();
        t.send_raw(&pkt);
        // A flip that keeps the checksum valid may name another port: any reply is fine as
        // long as it parses.
        for pkt in t.drain_raw() {
            prop_assert!(parse_packet(&pkt).is_ok());
        }
        check_invariants(&t)?;
    }
}

// ----- illegal flag combinations (issue 7): each dropped silently and counted by cause -----

/// Deliver `s` to an established connection; it must be dropped without a reply, counted
/// under `reason`, and leave the connection ESTABLISHED.
fn check_flags_dropped(s: Seg, reason: DropReason) {
    let mut t = Harness::established_server();
    t.send(s);
    t.expect_none();
    t.assert_state(State::Established);
    assert_eq!(
        t.stack.stats().drops_for(reason),
        1,
        "counted under {reason:?}"
    );
}

#[test]
fn syn_rst_is_dropped_in_a_synchronized_state_even_at_rcv_nxt() {
    check_flags_dropped(seg().syn().rst().seq(1), DropReason::SynRst);
}

#[test]
fn syn_rst_to_a_listener_is_dropped_and_counted() {
    let mut t = Harness::server();
    t.send(seg().syn().rst().seq(0));
    t.expect_none();
    assert_eq!(t.stack.stats().drops_for(DropReason::SynRst), 1);
}

#[test]
fn a_segment_without_flags_is_dropped_in_or_out_of_the_window() {
    check_flags_dropped(
        seg().flags(TcpFlags::from_bits(0)).seq(1),
        DropReason::NoFlags,
    );
    check_flags_dropped(
        seg().flags(TcpFlags::from_bits(0)).seq(1_000_000),
        DropReason::NoFlags,
    );
}

#[test]
fn fin_without_ack_is_dropped_in_a_synchronized_state() {
    check_flags_dropped(seg().fin().seq(1), DropReason::FinWithoutAck);
    // The "Xmas" probe: FIN, PSH and URG.
    check_flags_dropped(
        seg()
            .flags(TcpFlags::FIN | TcpFlags::PSH | TcpFlags::URG)
            .seq(1_000_000),
        DropReason::FinWithoutAck,
    );
}

#[test]
fn data_beyond_the_window_is_counted_out_of_window() {
    let mut t = Harness::established_server();
    t.send(seg().ack().seq(1_000_000).ack_no(1).data(b"far"));
    t.expect(seg().ack().seq(1).ack_no(1));
    assert_eq!(t.stack.stats().drops_for(DropReason::OutOfWindow), 1);
}
