//! Keep-alive over the simulator: the server host vanishes (every packet to or from it is
//! dropped), and the client's keep-alive (RFC 9293 §3.8.4) detects it after idle plus
//! probes × interval, failing the connection with TimedOut.

mod common;

use std::time::Duration;

use common::{client_server, server_addr};
use oxtcp_core::{ConnError, KeepAlive, StackConfig, State};
use oxtcp_sim::{ClosePolicy, Endpoint, Instant, LinkConfig, Verdict, World};

#[test]
fn keepalive_detects_a_vanished_peer_and_srtt_matches_the_link() {
    let cfg = |seed| StackConfig {
        seed,
        ..StackConfig::default()
    };
    let mut world = World::new(5);
    // 25 ms each way: RTT 50 ms.
    let (a, b) = client_server(
        &mut world,
        cfg,
        Endpoint::client(
            server_addr(),
            Instant::ZERO,
            vec![7; 20_000],
            ClosePolicy::Never,
        ),
        Endpoint::server(server_addr(), Vec::new(), ClosePolicy::Never),
        LinkConfig::default().with_latency(Duration::from_millis(25)),
    );
    world.run_until(Instant::ZERO + Duration::from_secs(5));
    let conn = world.node(a).app.conn.unwrap();
    let info = world.node(a).stack.info(conn).unwrap();
    assert_eq!(info.state, State::Established);
    assert_eq!(world.node(b).app.received.len(), 20_000);
    let srtt = info.srtt.unwrap();
    assert!(
        srtt >= Duration::from_millis(50) && srtt <= Duration::from_millis(60),
        "srtt {srtt:?}"
    );
    assert_eq!(info.stats.bytes_acked, 20_000);

    let ka = KeepAlive::new(Duration::from_secs(60), Duration::from_secs(10), 4);
    world.with_node(a, |n, now| {
        n.stack.set_keepalive(now, conn, Some(ka)).unwrap()
    });
    let t0 = world.now();
    // B vanishes.
    world.set_filter(move |p| {
        if p.from == b || p.to == b {
            Verdict::Drop
        } else {
            Verdict::Pass
        }
    });
    world.run_until(t0 + (Duration::from_secs(60 + 4 * 10) - Duration::from_millis(10)));
    assert_eq!(world.node(a).stack.state(conn), Some(State::Established));
    assert_eq!(
        world
            .node(a)
            .stack
            .info(conn)
            .unwrap()
            .stats
            .keepalive_probes,
        4
    );
    world.run_until(t0 + Duration::from_secs(60 + 4 * 10) + Duration::from_millis(10));
    let n = world.node(a);
    // The application saw TimedOut and let go of the connection; nothing is left.
    assert_eq!(n.app.error, Some(ConnError::TimedOut));
    assert_eq!(n.stack.resources().connections, 0);
}
