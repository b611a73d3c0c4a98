//! Nagle's algorithm (RFC 896, RFC 9293 §3.7.4) over the simulator: a stream of 1-byte writes,
//! 1 ms apart over a 20 ms RTT link, goes out as far fewer small segments with Nagle on than
//! with TCP_NODELAY, and arrives intact either way.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use common::{client_server, server_addr};
use oxtcp_core::{StackConfig, State};
use oxtcp_sim::{ClosePolicy, Endpoint, Instant, LinkConfig, Verdict, World};

const WRITES: usize = 1000;

/// Small data segments (payload below the MSS) A sent, and the bytes B received.
fn one_byte_writes(nodelay: bool) -> (u64, Vec<u8>) {
    let cfg = |seed| StackConfig {
        seed,
        ..StackConfig::default()
    };
    let mut world = World::new(7);
    // 10 ms each way: RTT 20 ms.
    let (a, b) = client_server(
        &mut world,
        cfg,
        Endpoint::client(server_addr(), Instant::ZERO, Vec::new(), ClosePolicy::Never),
        Endpoint::server(server_addr(), Vec::new(), ClosePolicy::Never),
        LinkConfig::default().with_latency(Duration::from_millis(10)),
    );
    world.run_until(Instant::ZERO + Duration::from_millis(100));
    let conn = world.node(a).app.conn.unwrap();
    let info = world.node(a).stack.info(conn).unwrap();
    assert_eq!(info.state, State::Established);
    let mss = usize::from(info.mss);

    let small = Rc::new(Cell::new(0u64));
    let count = small.clone();
    world.set_filter(move |p| {
        let ihl = usize::from(p.bytes[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([p.bytes[2], p.bytes[3]]));
        let doff = usize::from(p.bytes[ihl + 12] >> 4) * 4;
        let payload = total - ihl - doff;
        if p.from == a && payload > 0 && payload < mss {
            count.set(count.get() + 1);
        }
        Verdict::Pass
    });
    world.with_node(a, |n, now| n.stack.set_nodelay(now, conn, nodelay).unwrap());
    let t0 = world.now();
    for i in 0..WRITES {
        let byte = [(i % 251) as u8];
        world.with_node(a, |n, _| assert_eq!(n.stack.send(conn, &byte), Ok(1)));
        world.run_until(t0 + Duration::from_millis(i as u64 + 1));
    }
    world.run_until(t0 + Duration::from_secs(5));
    let received = world.node(b).app.received.clone();
    (small.get(), received)
}

#[test]
fn nagle_sends_fewer_small_segments_for_one_byte_writes() {
    let want: Vec<u8> = (0..WRITES).map(|i| (i % 251) as u8).collect();
    let (nagle, got_nagle) = one_byte_writes(false);
    let (nodelay, got_nodelay) = one_byte_writes(true);
    println!("small data segments for {WRITES} 1-byte writes: Nagle {nagle}, nodelay {nodelay}");
    assert_eq!(got_nagle, want);
    assert_eq!(got_nodelay, want);
    assert!(
        nagle * 5 <= nodelay,
        "Nagle {nagle} small segments, nodelay {nodelay}"
    );
}
