//! RFC 7323 window scaling end to end: over a 100 Mbit/s link with a 50 ms round trip, the
//! bandwidth-delay product is 625 KB, far beyond the 64 KiB an unscaled window allows. With a
//! 1 MiB receive buffer the receiver advertises (scaled) more than 64 KiB and the sender keeps
//! more than 64 KiB in flight; with window scaling off it cannot.

mod common;

use std::time::Duration;

use common::{client_server, server_addr};
use oxtcp_core::StackConfig;
use oxtcp_sim::{ClosePolicy, Endpoint, Instant, LinkConfig, World};

const MIB: usize = 1 << 20;

/// Most data packets seen on the wire at once, and the largest window the sender was offered.
fn transfer(window_scaling: bool) -> (usize, u32) {
    let cfg = |seed: u64| StackConfig {
        seed,
        recv_buffer: MIB,
        send_buffer: MIB,
        window_scaling,
        ..StackConfig::default()
    };
    let payload: Vec<u8> = (0..4 * MIB).map(|i| (i % 251) as u8).collect();
    let mut world = World::new(7);
    let (a, b) = client_server(
        &mut world,
        cfg,
        Endpoint::client(
            server_addr(),
            Instant::ZERO,
            payload.clone(),
            ClosePolicy::AfterSend,
        ),
        Endpoint::server(server_addr(), Vec::new(), ClosePolicy::AfterSend),
        LinkConfig::default()
            .with_bandwidth(100_000_000)
            .with_latency(Duration::from_millis(25)),
    );
    let (mut max_packets, mut max_wnd) = (0, 0);
    world
        .run_while(
            |w| {
                max_packets = max_packets.max(w.packets_in_flight());
                for (id, _, _) in w.node(a).stack.connections() {
                    if let Some(info) = w.node(a).stack.info_any(id) {
                        max_wnd = max_wnd.max(info.snd_wnd);
                    }
                }
                true
            },
            10_000_000,
        )
        .unwrap();
    assert_eq!(
        world.node(b).app.received,
        payload,
        "the transfer completed"
    );
    (max_packets, max_wnd)
}

#[test]
fn a_1mib_receive_buffer_keeps_more_than_64kib_in_flight() {
    let (packets, wnd) = transfer(true);
    // The whole buffer is offered, scaled: 1 MiB >> 5 << 5.
    assert!(wnd > 65535, "largest window offered {wnd}");
    assert!(
        wnd >= (MIB - 2 * 1460) as u32,
        "largest window offered {wnd}"
    );
    // In-flight packets are data one way and ACKs the other; at most one ACK per data
    // segment, so half of them are full segments of 1448 bytes at least.
    let data_bytes = packets / 2 * 1448;
    assert!(data_bytes > 65536, "at most {packets} packets in flight");
}

#[test]
fn without_window_scaling_the_window_stays_below_64kib() {
    let (packets, wnd) = transfer(false);
    assert!(wnd <= 65535, "largest window offered {wnd}");
    // 65535 bytes is at most 46 segments, plus their ACKs.
    assert!(packets <= 2 * 46, "{packets} packets in flight");
}
