//! Criterion microbenchmarks of the per-segment hot paths that `oxtcp-bench insns` counts in
//! instructions: receive an in-order data segment, emit its ACK, process that ACK. Each path
//! is timed alone (`iter_custom`): the steps around it, which keep the connection going, run
//! outside the clock. Run with `cargo bench -p oxtcp-bench --bench hot_paths`.

#[path = "../src/oxtcp_mem.rs"]
#[allow(dead_code)]
mod oxtcp_mem;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use oxtcp_core::{ConnId, StackConfig};
use oxtcp_mem::Pair;

/// Which path the clock runs around.
#[derive(Clone, Copy)]
enum Path {
    RxData,
    EmitAck,
    RxAck,
}

/// A connection ready for bulk data: delayed ACKs off, so every segment draws one ACK.
fn setup() -> (Pair, ConnId, ConnId) {
    let cfg = StackConfig {
        delayed_ack: None,
        ..StackConfig::default()
    };
    let mut p = Pair::new(&cfg);
    let l = p.listen(80, 16).expect("listen");
    let (c, s) = p.connect(80, l).expect("handshake");
    (p, c, s)
}

/// `iters` rounds of one 1448-byte segment and its ACK; the time spent in `path`.
fn run(path: Path, iters: u64) -> Duration {
    let (mut p, c, s) = setup();
    let chunk = [0x5au8; 1448];
    let (mut tx, mut ack, mut sink) = (vec![0u8; 2048], vec![0u8; 2048], vec![0u8; 65536]);
    let mut spent = Duration::ZERO;
    for _ in 0..iters {
        let now = p.now();
        assert_eq!(p.a.send(c, &chunk).expect("send"), chunk.len());
        let n = p.a.poll_transmit(now, &mut tx).expect("a data segment");
        let t = Instant::now();
        p.b.handle_packet(now, &tx[..n]);
        if let Path::RxData = path {
            spent += t.elapsed();
        }
        let t = Instant::now();
        let m = p.b.poll_transmit(now, &mut ack).expect("its ACK");
        if let Path::EmitAck = path {
            spent += t.elapsed();
        }
        let t = Instant::now();
        p.a.handle_packet(now, &ack[..m]);
        if let Path::RxAck = path {
            spent += t.elapsed();
        }
        while p.b.recv(s, &mut sink).is_ok_and(|n| n > 0) {}
        p.pump();
    }
    spent
}

fn hot_paths(c: &mut Criterion) {
    let mut g = c.benchmark_group("hot paths");
    for (name, path) in [
        ("receive an in-order data segment", Path::RxData),
        ("emit an ACK", Path::EmitAck),
        ("process an ACK", Path::RxAck),
    ] {
        g.bench_function(name, |b| b.iter_custom(|iters| run(path, iters)));
    }
    g.finish();
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
