//! Two stacks wired back to back with no loss: the whole lifecycle, checked by the states the
//! trace reports on each side.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use oxtcp_core::{EventKind, Instant, Stack, StackConfig, State};

fn stack(seed: u64, addr: &str) -> Stack {
    let cfg = StackConfig {
        seed,
        trace: true,
        ..StackConfig::default()
    };
    Stack::with_addresses(cfg, &[addr.parse::<IpAddr>().unwrap()])
}

/// Move every pending datagram between the two stacks until both are quiet.
fn exchange(a: &mut Stack, b: &mut Stack, now: Instant) {
    let mut buf = vec![0u8; 2048];
    for _ in 0..10_000 {
        let mut moved = false;
        while let Some(n) = a.poll_transmit(now, &mut buf) {
            b.handle_packet(now, &buf[..n]);
            moved = true;
        }
        while let Some(n) = b.poll_transmit(now, &mut buf) {
            a.handle_packet(now, &buf[..n]);
            moved = true;
        }
        if !moved {
            return;
        }
    }
    panic!("exchange did not settle");
}

fn states(s: &mut Stack) -> Vec<State> {
    let mut out = Vec::new();
    while let Some(e) = s.poll_event() {
        if let EventKind::State(st) = e.kind {
            if out.is_empty() {
                out.push(st.from);
            }
            out.push(st.to);
        }
    }
    out
}

#[test]
fn handshake_data_and_four_way_close_reach_closed_on_both_sides() {
    let mut a = stack(1, "10.0.0.1");
    let mut b = stack(2, "10.0.0.2");
    let server: SocketAddr = "10.0.0.2:80".parse().unwrap();
    let l = b.listen(server, 8).unwrap();
    let mut now = Instant::ZERO;
    let c = a.connect(now, server).unwrap();
    exchange(&mut a, &mut b, now);
    assert_eq!(a.state(c), Some(State::Established));
    let s = b.accept(l).unwrap();
    assert_eq!(b.state(s), Some(State::Established));

    assert_eq!(a.send(c, b"hello").unwrap(), 5);
    exchange(&mut a, &mut b, now);
    let mut buf = [0u8; 16];
    assert_eq!(b.recv(s, &mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"hello");
    b.send(s, b"world").unwrap();
    exchange(&mut a, &mut b, now);
    assert_eq!(a.recv(c, &mut buf).unwrap(), 5);

    a.close(now, c).unwrap();
    exchange(&mut a, &mut b, now);
    assert_eq!(b.state(s), Some(State::CloseWait));
    assert_eq!(b.recv(s, &mut buf).unwrap(), 0, "end of stream");
    b.close(now, s).unwrap();
    exchange(&mut a, &mut b, now);
    // A is in TIME-WAIT for 2×MSL, then CLOSED.
    now += Duration::from_secs(61);
    a.handle_timeout(now);
    exchange(&mut a, &mut b, now);

    assert_eq!(
        states(&mut a),
        [
            State::Closed,
            State::SynSent,
            State::Established,
            State::FinWait1,
            State::FinWait2,
            State::TimeWait,
            State::Closed
        ]
    );
    assert_eq!(
        states(&mut b),
        [
            State::Listen,
            State::SynReceived,
            State::Established,
            State::CloseWait,
            State::LastAck,
            State::Closed
        ]
    );
    let ra = a.resources();
    assert_eq!((ra.connections, ra.tuples, ra.timers), (0, 0, 0));
    let rb = b.resources();
    assert_eq!(
        (rb.connections, rb.tuples, rb.timers, rb.half_open),
        (0, 0, 0, 0)
    );
}

#[test]
fn syn_to_a_closed_port_is_refused() {
    let mut a = stack(1, "10.0.0.1");
    let mut b = stack(2, "10.0.0.2");
    let c = a
        .connect(Instant::ZERO, "10.0.0.2:81".parse().unwrap())
        .unwrap();
    exchange(&mut a, &mut b, Instant::ZERO);
    assert_eq!(a.state(c), Some(State::Closed));
    assert_eq!(
        a.info(c).unwrap().error,
        Some(oxtcp_core::ConnError::Refused)
    );
}

#[test]
fn the_same_lifecycle_runs_over_ipv6() {
    let mut a = stack(1, "fd00::1");
    let mut b = stack(2, "fd00::2");
    let server: SocketAddr = "[fd00::2]:443".parse().unwrap();
    let l = b.listen(server, 4).unwrap();
    let now = Instant::ZERO;
    let c = a.connect(now, server).unwrap();
    exchange(&mut a, &mut b, now);
    let s = b.accept(l).unwrap();
    // IPv6 headers are 40 bytes, so the MSS is the MTU less 60.
    assert_eq!(a.info(c).unwrap().mss, 1440);
    let data = vec![7u8; 10_000];
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..100 {
        if sent < data.len() {
            sent += a.send(c, &data[sent..]).unwrap_or(0);
        }
        exchange(&mut a, &mut b, now);
        while let Ok(n) = b.recv(s, &mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        if got.len() == data.len() {
            break;
        }
    }
    assert_eq!(got, data);
    a.close(now, c).unwrap();
    exchange(&mut a, &mut b, now);
    b.close(now, s).unwrap();
    exchange(&mut a, &mut b, now);
    assert_eq!(b.resources().connections, 0);
    assert_eq!(a.resources().connections, 1, "A is in TIME-WAIT");
}
