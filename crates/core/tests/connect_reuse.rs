//! An active OPEN may take a 4-tuple over from this host's own TIME-WAIT
//! (`StackConfig::connect_reuses_time_wait`, Linux's `tcp_tw_reuse` rule): only from a
//! released connection's entry, only if the old connection used timestamps, and only once its
//! TS.Recent is a second old. Otherwise a client that has used every port of its ephemeral
//! range on one destination waits out 2×MSL.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::Pair;
use oxtcp_core::{
    Cause, ConnId, ConnectError, EventKind, Instant, Stack, StackConfig, State, StateEvent,
};

const CLIENT_PORT: u16 = 50_000;

fn server() -> SocketAddr {
    "10.0.0.2:80".parse().unwrap()
}

/// A client with one ephemeral port (configured by `client`) and a server listening on port
/// 80, both with traces.
fn pair(client: impl FnOnce(&mut StackConfig)) -> (Pair, oxtcp_core::ListenerId) {
    let mut a_cfg = StackConfig {
        seed: 1,
        trace: true,
        ephemeral_ports: CLIENT_PORT..=CLIENT_PORT,
        ..StackConfig::default()
    };
    client(&mut a_cfg);
    let b_cfg = StackConfig {
        seed: 2,
        trace: true,
        ..StackConfig::default()
    };
    let mut p = Pair {
        a: Stack::with_addresses(a_cfg, &["10.0.0.1".parse().unwrap()]),
        b: Stack::with_addresses(b_cfg, &["10.0.0.2".parse().unwrap()]),
        now: Instant::ZERO,
    };
    let l = p.b.listen(server(), 8).unwrap();
    (p, l)
}

/// One connection from the client's only port: a request and a response, then the client
/// closes first and releases, so it is left as a compact TIME-WAIT entry. Returns the ISS the
/// connection used.
fn one_connection(p: &mut Pair, l: oxtcp_core::ListenerId) -> u32 {
    let c = p.a.connect(p.now, server()).unwrap();
    p.exchange();
    assert_eq!(p.a.state(c), Some(State::Established));
    let info = p.a.info(c).unwrap();
    assert_eq!(info.tuple.local.port(), CLIENT_PORT);
    let s = p.b.accept(l).unwrap();
    assert_eq!(p.a.send(c, b"ping").unwrap(), 4);
    p.exchange();
    let mut buf = [0u8; 8];
    assert_eq!(p.b.recv(s, &mut buf).unwrap(), 4);
    assert_eq!(p.b.send(s, b"pong").unwrap(), 4);
    p.exchange();
    assert_eq!(p.a.recv(c, &mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"pong");
    p.a.close(p.now, c).unwrap();
    p.exchange();
    assert_eq!(p.b.recv(s, &mut buf).unwrap(), 0);
    p.b.close(p.now, s).unwrap();
    p.exchange();
    assert_eq!(p.a.resources().time_wait, 1);
    assert!(p.b.info_any(s).is_none(), "the server's end is gone");
    info.iss.get()
}

/// The client's TIME-WAIT → CLOSED transitions since the last call, by cause.
fn time_wait_endings(s: &mut Stack) -> Vec<Cause> {
    let mut out = Vec::new();
    while let Some(e) = s.poll_event() {
        if let EventKind::State(StateEvent {
            from: State::TimeWait,
            to: State::Closed,
            cause,
            ..
        }) = e.kind
        {
            out.push(cause);
        }
    }
    out
}

fn connect(p: &mut Pair) -> Result<ConnId, ConnectError> {
    p.a.connect(p.now, server())
}

#[test]
fn a_client_out_of_ports_takes_its_time_wait_4_tuple_over_after_a_second() {
    let (mut p, l) = pair(|_| {});
    let mut iss = one_connection(&mut p, l);
    for round in 0..8 {
        time_wait_endings(&mut p.a);
        // TS.Recent was set by the server's FIN, just now: too young.
        assert_eq!(connect(&mut p), Err(ConnectError::NoPortAvailable));
        p.advance(Duration::from_millis(999));
        assert_eq!(connect(&mut p), Err(ConnectError::NoPortAvailable));
        p.advance(Duration::from_millis(1));
        let c = connect(&mut p).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(
            time_wait_endings(&mut p.a),
            [Cause::TimeWaitTakenByConnect],
            "round {round}"
        );
        assert_eq!(p.a.resources().time_wait, 0);
        assert_eq!(p.a.stats().time_wait_taken_by_connect, round + 1);
        // The old connection's SND.NXT was ISS + 6 (SYN, four bytes, FIN); the new one
        // starts 65537 past it.
        let new_iss = p.a.info(c).unwrap().iss.get();
        assert_eq!(
            new_iss,
            iss.wrapping_add(6).wrapping_add(65_537),
            "round {round}"
        );
        // The server had closed its end: the SYN opens a new connection there at once.
        p.exchange();
        assert_eq!(p.a.state(c), Some(State::Established), "round {round}");
        p.a.abort(p.now, c).unwrap();
        p.exchange();
        while let Ok(s) = p.b.accept(l) {
            let _ = p.b.abort(p.now, s);
        }
        // The next round's connection is a full one of its own.
        iss = one_connection(&mut p, l);
    }
}

#[test]
fn without_timestamps_the_4_tuple_waits_out_two_msl() {
    let (mut p, l) = pair(|c| c.timestamps = false);
    one_connection(&mut p, l);
    time_wait_endings(&mut p.a);
    p.advance(Duration::from_secs(2));
    assert_eq!(connect(&mut p), Err(ConnectError::NoPortAvailable));
    p.advance(Duration::from_secs(58));
    assert_eq!(time_wait_endings(&mut p.a), [Cause::TimeWaitExpired]);
    assert!(connect(&mut p).is_ok());
    assert_eq!(p.a.stats().time_wait_taken_by_connect, 0);
}

#[test]
fn with_the_option_off_the_4_tuple_waits_out_two_msl() {
    let (mut p, l) = pair(|c| c.connect_reuses_time_wait = None);
    one_connection(&mut p, l);
    p.advance(Duration::from_secs(2));
    assert_eq!(connect(&mut p), Err(ConnectError::NoPortAvailable));
    assert_eq!(p.a.resources().time_wait, 1);
}

/// TIME-WAIT of a connection the application still holds is the application's: it is never
/// taken over.
#[test]
fn a_time_wait_the_application_holds_is_not_taken_over() {
    let (mut p, l) = pair(|_| {});
    let c = connect(&mut p).unwrap();
    p.exchange();
    let s = p.b.accept(l).unwrap();
    p.a.shutdown(p.now, c).unwrap();
    p.exchange();
    p.b.close(p.now, s).unwrap();
    p.exchange();
    assert_eq!(p.a.state(c), Some(State::TimeWait));
    p.advance(Duration::from_secs(2));
    assert_eq!(connect(&mut p), Err(ConnectError::NoPortAvailable));
    assert_eq!(p.a.state(c), Some(State::TimeWait));
}

/// A `connect` from an explicit local port follows the same rule: `AddrInUse` while the
/// TIME-WAIT entry is young, the 4-tuple taken over once it is a second old.
#[test]
fn a_connect_from_an_explicit_port_takes_the_4_tuple_over_too() {
    let (mut p, l) = pair(|_| {});
    let iss = one_connection(&mut p, l);
    let local: SocketAddr = format!("10.0.0.1:{CLIENT_PORT}").parse().unwrap();
    assert_eq!(
        p.a.connect_from(p.now, local, server()),
        Err(ConnectError::AddrInUse)
    );
    p.advance(Duration::from_secs(1));
    let c = p.a.connect_from(p.now, local, server()).unwrap();
    assert_eq!(p.a.stats().time_wait_taken_by_connect, 1);
    assert_eq!(
        p.a.info(c).unwrap().iss.get(),
        iss.wrapping_add(6).wrapping_add(65_537)
    );
    p.exchange();
    assert_eq!(p.a.state(c), Some(State::Established));
}
