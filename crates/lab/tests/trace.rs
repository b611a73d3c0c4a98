//! `oxtcp_lab::trace` against the simulator: captures written by `World::record_pcap` are read
//! back, and the states inferred for both sides must equal the states the two stacks really
//! went through. Also: every supported link type and pcapng, and damaged captures.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use oxtcp_core::{Cause, Dir, Event, EventKind, Stack, StackConfig, State};
use oxtcp_lab::ladder::{self, Side};
use oxtcp_lab::trace::{analyze, Analysis};
use oxtcp_sim::{ClosePolicy, Endpoint, Instant, LinkConfig, StackHost, World};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

/// What to do by hand once the connection is open.
#[derive(Clone, Copy, PartialEq)]
enum Ending {
    /// Demo-like: A closes after the response, B 50 ms after A's FIN.
    Normal,
    /// Both close at the same instant: their FINs cross.
    Simultaneous,
    /// A aborts: RST.
    Abort,
}

struct Run {
    pcap: Vec<u8>,
    events: [Vec<Event>; 2],
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oxtcp-lab-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn simulate(ending: Ending, loss: f64, seed: u64) -> Run {
    let a_ip: IpAddr = "10.0.0.1".parse().unwrap();
    let b_ip: IpAddr = "10.0.0.2".parse().unwrap();
    let server = SocketAddr::new(b_ip, 80);
    let cfg = |seed: u64| StackConfig {
        seed,
        trace: true,
        msl: Duration::from_secs(5),
        syn_retries: 10,
        synack_retries: 10,
        ..StackConfig::default()
    };
    let (ca, cb) = match ending {
        Ending::Normal => (
            ClosePolicy::AfterReceiving(3000),
            ClosePolicy::AfterPeerCloses,
        ),
        _ => (ClosePolicy::Never, ClosePolicy::Never),
    };
    let mut world = World::new(seed);
    let client = Endpoint::client(server, Instant::ZERO, vec![b'q'; 44], ca);
    let mut srv = Endpoint::server(server, vec![b'r'; 3000], cb);
    srv.send_after = 44;
    srv.close_delay = Duration::from_millis(50);
    let a = world.add_host(
        "A",
        &[a_ip],
        StackHost::new(Stack::with_addresses(cfg(seed * 2 + 1), &[a_ip]), client),
    );
    let b = world.add_host(
        "B",
        &[b_ip],
        StackHost::new(Stack::with_addresses(cfg(seed * 2 + 2), &[b_ip]), srv),
    );
    world.link(
        a,
        b,
        LinkConfig::default()
            .with_latency(Duration::from_millis(10))
            .with_loss(loss),
    );
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path = temp(&format!("sim-{seed}-{}-{n}.pcap", ending as u8));
    world
        .record_pcap(std::fs::File::create(&path).unwrap())
        .unwrap();
    if ending != Ending::Normal {
        world.run_until(Instant::from_millis(1000));
        let ca = world.node(a).app.conn.expect("A connected");
        let cb = world.node(b).app.conn.expect("B accepted");
        match ending {
            Ending::Simultaneous => {
                world.with_node(a, |n, now| n.stack.close(now, ca).unwrap());
                world.with_node(b, |n, now| n.stack.close(now, cb).unwrap());
            }
            _ => world.with_node(a, |n, now| n.stack.abort(now, ca).unwrap()),
        }
    }
    world.run_until_idle(1_000_000).unwrap();
    world.finish_pcap().unwrap();
    Run {
        pcap: std::fs::read(&path).unwrap(),
        events: [world.node(a).events.clone(), world.node(b).events.clone()],
    }
}

/// The stack's true sequence, without changes no packet shows (2×MSL and FIN-WAIT-2 expiry).
fn true_sequence(events: &[Event], initial: State) -> Vec<State> {
    let side = Side {
        name: "",
        events,
        initial,
    };
    let mut seq = ladder::state_sequence(&side);
    let last_cause = events.iter().rev().find_map(|e| match &e.kind {
        EventKind::State(s) => Some(s.cause),
        _ => None,
    });
    if matches!(
        last_cause,
        Some(Cause::TimeWaitExpired | Cause::FinWait2Timeout)
    ) {
        seq.pop();
    }
    seq
}

fn only(pcap: &[u8]) -> Analysis {
    let (mut all, _) = analyze(pcap).expect("capture reads");
    assert_eq!(all.len(), 1, "one connection");
    all.remove(0)
}

fn assert_states_equal(run: &Run) -> Analysis {
    let an = only(&run.pcap);
    let [a, b] = &an.inferred.sides;
    assert_eq!(
        a.state_sequence(),
        true_sequence(&run.events[0], State::Closed),
        "A"
    );
    assert_eq!(
        b.state_sequence(),
        true_sequence(&run.events[1], State::Listen),
        "B"
    );
    an
}

fn sim_retransmissions(events: &[Event]) -> u64 {
    events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Segment(s) if s.dir == Dir::Tx && s.retransmit))
        .count() as u64
}

#[test]
fn normal_close_states_equal_the_stacks() {
    let run = simulate(Ending::Normal, 0.0, 1);
    let an = assert_states_equal(&run);
    let s = &an.summary;
    assert_eq!(s.bytes, [44, 3000]);
    assert_eq!(s.handshake_rtt_us, Some(20_000));
    assert_eq!(s.syn_to_synack_us, Some(10_000));
    assert_eq!(s.closed_first, Some(0));
    assert_eq!(s.time_wait, vec![0]);
    assert!(!s.reset);
    assert_eq!(s.retransmissions, [0, 0]);
    let [la, lb] = an.ladder_sides();
    let text = ladder::render(&la, &lb, None);
    assert!(
        text.contains("→TIME-WAIT") && text.contains("→CLOSE-WAIT"),
        "{text}"
    );
}

#[test]
fn simultaneous_close_states_equal_the_stacks() {
    let run = simulate(Ending::Simultaneous, 0.0, 3);
    let an = assert_states_equal(&run);
    let seq = an.inferred.sides[0].state_sequence();
    assert!(seq.contains(&State::Closing), "{seq:?}");
    assert_eq!(an.summary.time_wait, vec![0, 1]);
}

#[test]
fn abort_states_equal_the_stacks() {
    let run = simulate(Ending::Abort, 0.0, 4);
    let an = assert_states_equal(&run);
    assert!(an.summary.reset);
    assert_eq!(an.summary.closed_first, Some(0));
    assert_eq!(an.inferred.sides[1].state, State::Closed);
}

/// Under loss the capture (taken as each datagram leaves its sender) still shows every
/// retransmission the stack made: data, SYN, SYN-ACK (on its timer or for a duplicate SYN)
/// and FIN alike; state sequences under loss are compared below.
#[test]
fn lossy_runs_count_the_stacks_retransmissions() {
    let mut total = 0;
    for seed in 1..=12 {
        let run = simulate(Ending::Normal, 0.2, seed);
        let an = only(&run.pcap);
        for side in 0..2 {
            assert_eq!(
                an.summary.retransmissions[side],
                sim_retransmissions(&run.events[side]),
                "seed {seed} side {side}"
            );
        }
        total += an.summary.retransmissions[0] + an.summary.retransmissions[1];
        assert_eq!(an.summary.bytes, [44, 3000], "seed {seed}");
    }
    assert!(total > 0, "loss 0.2 over 12 seeds retransmitted nothing");
}

#[test]
fn a_capture_that_starts_mid_connection_starts_established() {
    let run = simulate(Ending::Normal, 0.0, 1);
    // Drop the records of the SYN and SYN-ACK (24-byte file header, 16-byte record headers).
    let mut at = 24;
    for _ in 0..2 {
        let caplen = u32::from_ne_bytes(run.pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + caplen;
    }
    let mut cut = run.pcap[..24].to_vec();
    cut.extend_from_slice(&run.pcap[at..]);
    let an = only(&cut);
    assert!(an.inferred.mid_connection);
    let show = |s: &[State]| s.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" ");
    assert_eq!(
        show(&an.inferred.sides[0].state_sequence()),
        "ESTABLISHED FIN-WAIT-1 FIN-WAIT-2 TIME-WAIT"
    );
    assert_eq!(
        show(&an.inferred.sides[1].state_sequence()),
        "ESTABLISHED CLOSE-WAIT LAST-ACK CLOSED"
    );
}

/// The sim's RAW datagrams, re-framed for another link type.
fn reframe(pcap: &[u8], link: DataLink) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 24;
    while at < pcap.len() {
        let sec = u32::from_ne_bytes(pcap[at..at + 4].try_into().unwrap()) as u64;
        let usec = u32::from_ne_bytes(pcap[at + 4..at + 8].try_into().unwrap()) as u64;
        let caplen = u32::from_ne_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        let ip = &pcap[at + 16..at + 16 + caplen];
        let v6 = ip[0] >> 4 == 6;
        let ethertype: [u8; 2] = if v6 { [0x86, 0xdd] } else { [0x08, 0x00] };
        let mut frame = match link {
            DataLink::ETHERNET => {
                let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
                // An 802.1Q tag, to exercise VLAN skipping.
                f.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
                f.extend_from_slice(&ethertype);
                f
            }
            DataLink::LINUX_SLL => {
                let mut f = vec![0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
                f.extend_from_slice(&ethertype);
                f
            }
            DataLink::LINUX_SLL2 => {
                let mut f = ethertype.to_vec();
                f.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
                f
            }
            _ => Vec::new(),
        };
        frame.extend_from_slice(ip);
        out.push((sec * 1_000_000 + usec, frame));
        at += 16 + caplen;
    }
    // A non-IP frame (ARP) that must be skipped.
    if link == DataLink::ETHERNET {
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        out.insert(0, (0, arp));
    }
    out
}

fn write_pcap(frames: &[(u64, Vec<u8>)], link: DataLink) -> Vec<u8> {
    let header = PcapHeader {
        datalink: link,
        ..PcapHeader::default()
    };
    let mut out = Vec::new();
    {
        let mut w = PcapWriter::with_header(&mut out, header).unwrap();
        for (t, f) in frames {
            w.write_packet(&PcapPacket::new(
                Duration::from_micros(*t),
                f.len() as u32,
                f,
            ))
            .unwrap();
        }
    }
    out
}

fn write_pcapng(frames: &[(u64, Vec<u8>)], link: DataLink) -> Vec<u8> {
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    w.write_pcapng_block(InterfaceDescriptionBlock::new(link, 65535))
        .unwrap();
    for (t, f) in frames {
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: 0,
            // Raw ticks; with no if_tsresol a tick is a microsecond.
            timestamp: Duration::from_nanos(*t),
            original_len: f.len() as u32,
            data: Cow::Borrowed(f),
            options: vec![],
        })
        .unwrap();
    }
    w.into_inner()
}

#[test]
fn every_link_type_and_pcapng_give_the_same_analysis() {
    let run = simulate(Ending::Normal, 0.0, 1);
    let base = only(&run.pcap);
    let seqs = |an: &Analysis| {
        [
            an.inferred.sides[0].state_sequence(),
            an.inferred.sides[1].state_sequence(),
        ]
    };
    for link in [
        DataLink::RAW,
        DataLink::ETHERNET,
        DataLink::LINUX_SLL,
        DataLink::LINUX_SLL2,
    ] {
        let frames = reframe(&run.pcap, link);
        for (kind, bytes) in [
            ("pcap", write_pcap(&frames, link)),
            ("pcapng", write_pcapng(&frames, link)),
        ] {
            let an = only(&bytes);
            assert_eq!(seqs(&an), seqs(&base), "{link:?} {kind}");
            assert_eq!(an.summary, base.summary, "{link:?} {kind}");
        }
    }
}

#[test]
fn a_second_syn_after_a_finished_connection_is_a_new_connection() {
    let run = simulate(Ending::Normal, 0.0, 1);
    let mut twice = run.pcap.clone();
    twice.extend_from_slice(&run.pcap[24..]);
    let (all, _) = analyze(&twice).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].conn.number, 2);
    assert_eq!(all[1].inferred.sides[1].state, State::Closed);
}

/// Truncation at every offset and a bit flip at every offset, in pcap and pcapng: never a
/// panic, and a capture that cannot be read names the byte offset.
#[test]
fn damaged_captures_never_panic_and_name_the_offset() {
    let run = simulate(Ending::Normal, 0.0, 1);
    let ng = write_pcapng(&reframe(&run.pcap, DataLink::ETHERNET), DataLink::ETHERNET);
    for (kind, bytes) in [("pcap", &run.pcap), ("pcapng", &ng)] {
        let mut errors = 0;
        for cut in 0..bytes.len() {
            let r = std::panic::catch_unwind(|| analyze(&bytes[..cut]).map(|_| ()));
            match r {
                Err(_) => panic!("{kind}: truncation at {cut} panicked"),
                Ok(Err(e)) => {
                    errors += 1;
                    assert!(e.to_string().contains("offset"), "{kind} cut {cut}: {e}");
                }
                Ok(Ok(())) => {}
            }
        }
        assert!(
            errors > bytes.len() / 2,
            "{kind}: most truncations are errors"
        );
        for at in 0..bytes.len() {
            for bit in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[at] ^= bit;
                let r = std::panic::catch_unwind(|| analyze(&b).map(|_| ()));
                match r {
                    Err(_) => panic!("{kind}: flipping {bit:#x} at {at} panicked"),
                    Ok(Err(e)) => assert!(e.to_string().contains("offset"), "{e}"),
                    Ok(Ok(())) => {}
                }
            }
        }
    }
}

/// Under random loss (capture at the sender) the inferred states equal the stacks' too, with
/// one blind spot: when the ACK of a FIN is lost and the peer's FIN+ACK, acknowledging the FIN
/// as well, arrives before the FIN is retransmitted, the FIN's sender goes FIN-WAIT-1 →
/// TIME-WAIT; the capture holds exactly the packets of FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT
/// (nothing the side sends differs), so that is what is inferred.
#[test]
fn lossy_runs_states_equal_the_stacks_but_for_a_hidden_lost_ack_of_fin() {
    let mut exact = 0;
    for seed in 1..=40 {
        let run = simulate(Ending::Normal, 0.2, seed);
        let an = only(&run.pcap);
        let mut all_equal = true;
        for (side, initial) in [(0, State::Closed), (1, State::Listen)] {
            let got = an.inferred.sides[side].state_sequence();
            let want = true_sequence(&run.events[side], initial);
            if got == want {
                continue;
            }
            all_equal = false;
            let hidden = |g: &[State]| {
                let k = g
                    .windows(3)
                    .position(|w| w == [State::FinWait1, State::FinWait2, State::TimeWait])?;
                let mut v = g.to_vec();
                v.remove(k + 1);
                Some(v)
            };
            assert_eq!(
                hidden(&got).as_ref(),
                Some(&want),
                "seed {seed} side {side}: {got:?} vs true {want:?}"
            );
        }
        exact += usize::from(all_equal);
    }
    assert!(
        exact >= 20,
        "only {exact} of 40 lossy runs inferred exactly"
    );
}
