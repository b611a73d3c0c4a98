//! Two stacks wired back to back with no loss: the whole lifecycle, checked by the states the
//! trace reports on each side.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{state_path, Pair};
use oxtcp_core::State;

#[test]
fn handshake_data_and_four_way_close_reach_closed_on_both_sides() {
    let mut p = Pair::with_addresses("10.0.0.1", "10.0.0.2");
    let server: SocketAddr = "10.0.0.2:80".parse().unwrap();
    let l = p.b.listen(server, 8).unwrap();
    let c = p.a.connect(p.now, server).unwrap();
    p.exchange();
    assert_eq!(p.a.state(c), Some(State::Established));
    let s = p.b.accept(l).unwrap();
    assert_eq!(p.b.state(s), Some(State::Established));

    assert_eq!(p.a.send(c, b"hello").unwrap(), 5);
    p.exchange();
    let mut buf = [0u8; 16];
    assert_eq!(p.b.recv(s, &mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"hello");
    p.b.send(s, b"world").unwrap();
    p.exchange();
    assert_eq!(p.a.recv(c, &mut buf).unwrap(), 5);

    p.a.close(p.now, c).unwrap();
    p.exchange();
    assert_eq!(p.b.state(s), Some(State::CloseWait));
    assert_eq!(p.b.recv(s, &mut buf).unwrap(), 0, "end of stream");
    p.b.close(p.now, s).unwrap();
    p.exchange();
    // A is in TIME-WAIT for 2×MSL, then CLOSED.
    p.advance(Duration::from_secs(61));

    assert_eq!(
        state_path(&mut p.a),
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
        state_path(&mut p.b),
        [
            State::Listen,
            State::SynReceived,
            State::Established,
            State::CloseWait,
            State::LastAck,
            State::Closed
        ]
    );
    let ra = p.a.resources();
    assert_eq!((ra.connections, ra.tuples, ra.timers), (0, 0, 0));
    let rb = p.b.resources();
    assert_eq!(
        (rb.connections, rb.tuples, rb.timers, rb.half_open),
        (0, 0, 0, 0)
    );
}

#[test]
fn syn_to_a_closed_port_is_refused() {
    let mut p = Pair::with_addresses("10.0.0.1", "10.0.0.2");
    let c = p.a.connect(p.now, "10.0.0.2:81".parse().unwrap()).unwrap();
    p.exchange();
    assert_eq!(p.a.state(c), Some(State::Closed));
    assert_eq!(
        p.a.info(c).unwrap().error,
        Some(oxtcp_core::ConnError::Refused)
    );
}

#[test]
fn the_same_lifecycle_runs_over_ipv6() {
    let mut p = Pair::with_addresses("fd00::1", "fd00::2");
    let server: SocketAddr = "[fd00::2]:443".parse().unwrap();
    let l = p.b.listen(server, 4).unwrap();
    let c = p.a.connect(p.now, server).unwrap();
    p.exchange();
    let s = p.b.accept(l).unwrap();
    // IPv6 headers are 40 bytes, so the MSS is the MTU less 60.
    assert_eq!(p.a.info(c).unwrap().mss, 1440);
    let data = vec![7u8; 10_000];
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..100 {
        if sent < data.len() {
            sent += p.a.send(c, &data[sent..]).unwrap_or(0);
        }
        p.exchange();
        while let Ok(n) = p.b.recv(s, &mut buf) {
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
    p.a.close(p.now, c).unwrap();
    p.exchange();
    p.b.close(p.now, s).unwrap();
    p.exchange();
    assert_eq!(p.b.resources().connections, 0);
    let a = p.a.resources();
    assert_eq!(
        (a.connections, a.time_wait, a.buffer_bytes),
        (0, 1, 0),
        "A is in TIME-WAIT, as a compact entry without buffers"
    );
    // The IPv6 entry is listed, described and expires like an IPv4 one.
    let (id, state, tuple) = p.a.connections().next().expect("listed");
    assert_eq!((state, tuple.remote), (State::TimeWait, server));
    assert_eq!(p.a.info_any(id).map(|i| i.state), Some(State::TimeWait));
    p.a.check_invariants().unwrap();
    let end = p.a.poll_timeout().expect("2MSL armed");
    p.a.handle_timeout(end);
    assert_eq!(p.a.resources().time_wait, 0);
    assert_eq!(p.a.info_any(id), None, "gone with its entry");
}
