//! Instruction counts of the per-segment hot paths, by Valgrind's callgrind: instructions, not
//! seconds, so the figures hold still on a noisy machine and compare commit to commit.
//!
//! The suite re-runs its own binary under callgrind (`oxtcp-bench __hot N`), which drives an
//! in-memory pair of stacks through a bulk transfer in 1448-byte segments. Each path is a
//! function of its own here, never inlined; callgrind collects inside one of them per run
//! (`--toggle-collect`), and the count is the collected total over the calls made. The paths:
//!
//! - receive an in-order data segment: `Stack::handle_packet` on the receiver, parse and
//!   checksum included, through queuing the payload and scheduling the ACK;
//! - emit an ACK: `Stack::poll_transmit` on the receiver when it produces a pure ACK, header
//!   and checksum written;
//! - process an ACK: `Stack::handle_packet` on the sender for an ACK that advances SND.UNA;
//! - one lifecycle (`lifecycle`'s connect, request, response, close), for oxtcp and for
//!   smoltcp, in each closing order (`oxtcp-bench __life SYSTEM ORDER N`): the whole cost of
//!   one connection, harness included, comparable between the two stacks;
//! - bulk, per KiB (`bulk`'s transfer at MTU 1500 with 64 KiB buffers), for oxtcp, for oxtcp
//!   with software segmentation on its link (`oxtcp+gso+gro`), and for smoltcp (`oxtcp-bench
//!   __bulk SYSTEM MTU BUFFER BYTES`): everything from the handshake to the last byte
//!   checked, over the KiB moved; the harness's check of every byte is in all three.
//!
//! The lifecycle and bulk runs also simulate a first-level instruction cache of 32 KiB, 8-way
//! (`--cache-sim=yes`, the geometry fixed, not the host's), and give its misses per lifecycle
//! and per KiB. Instruction counts leave out what the processor spends fetching code that
//! is not in its cache: a path that runs through more distinct code than the cache holds
//! misses on much of it every time. The simulation is callgrind's (LRU, no prefetch), so the
//! misses say how far a path's code outgrows the cache, not how many cycles that costs.
//!
//! The hot-path stacks run with the default configuration except delayed ACKs, which are off so that
//! every data segment is answered by exactly one ACK and each path runs once per segment.

use std::process::Command;

use anyhow::{bail, Context, Result};
use oxtcp_core::{Stack, StackConfig};

use crate::bulk;
use crate::lifecycle::{self, Order};
use crate::oxtcp_mem::Pair;
use crate::report::{Better, Row, OXTCP};
use crate::runner::Budget;

/// The three paths: figure name and the function callgrind collects in.
const PATHS: [(&str, &str); 3] = [
    (
        "instructions: receive an in-order data segment",
        "hot_rx_data",
    ),
    ("instructions: emit an ACK", "hot_emit_ack"),
    ("instructions: process an ACK", "hot_rx_ack"),
];

// Each path function does something of its own besides its call (`black_box` of a distinct
// tag), so the compiler cannot fold two identical bodies into one symbol.
#[inline(never)]
fn hot_rx_data(stack: &mut Stack, now: oxtcp_core::Instant, pkt: &[u8]) {
    std::hint::black_box(1u8);
    stack.handle_packet(now, pkt);
}

#[inline(never)]
fn hot_emit_ack(stack: &mut Stack, now: oxtcp_core::Instant, buf: &mut [u8]) -> Option<usize> {
    std::hint::black_box(2u8);
    stack.poll_transmit(now, buf)
}

#[inline(never)]
fn hot_rx_ack(stack: &mut Stack, now: oxtcp_core::Instant, pkt: &[u8]) {
    std::hint::black_box(3u8);
    stack.handle_packet(now, pkt);
}

/// How often each path ran in `hot_loop`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Calls {
    pub rx_data: u64,
    pub emit_ack: u64,
    pub rx_ack: u64,
}

/// Send `segments` full segments from A to B, one at a time, through the three paths.
pub fn hot_loop(segments: u64) -> Result<Calls> {
    let cfg = StackConfig {
        delayed_ack: None,
        ..StackConfig::default()
    };
    let mut p = Pair::new(&cfg);
    let l = p.listen(80, 16)?;
    let (c, s) = p.connect(80, l)?;
    let chunk = vec![0x5au8; 1448];
    let mut tx = vec![0u8; 2048];
    let mut ack = vec![0u8; 2048];
    let mut sink = vec![0u8; 64 * 1024];
    let mut calls = Calls::default();
    for _ in 0..segments {
        let now = p.now();
        if p.a.send(c, &chunk)? != chunk.len() {
            bail!("the send buffer did not take a segment");
        }
        let Some(n) = p.a.poll_transmit(now, &mut tx) else {
            bail!("the sender had nothing to send");
        };
        hot_rx_data(&mut p.b, now, &tx[..n]);
        calls.rx_data += 1;
        let Some(m) = hot_emit_ack(&mut p.b, now, &mut ack) else {
            bail!("no ACK for a data segment");
        };
        calls.emit_ack += 1;
        hot_rx_ack(&mut p.a, now, &ack[..m]);
        calls.rx_ack += 1;
        while p.b.recv(s, &mut sink).is_ok_and(|n| n > 0) {}
        // Anything else due (a delayed ACK's timer) goes through the ordinary pump.
        p.pump();
    }
    Ok(calls)
}

/// The `__hot N` subcommand: run the loop and print its call counts for the parent.
pub fn hot_main(segments: u64) -> Result<()> {
    let c = hot_loop(segments)?;
    println!("calls {} {} {}", c.rx_data, c.emit_ack, c.rx_ack);
    Ok(())
}

/// What callgrind collected: instructions, and with the cache simulated, the misses of the
/// first-level instruction cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Collected {
    instructions: u64,
    i1_misses: Option<u64>,
}

/// The collected totals in the text of a callgrind output file: its `events:` line names the
/// columns of its `summary:` or `totals:` line.
fn collected(text: &str) -> Result<Collected> {
    let events: Vec<&str> = text
        .lines()
        .find_map(|l| l.strip_prefix("events:"))
        .context("no events line")?
        .split_whitespace()
        .collect();
    let totals: Vec<u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("totals:").or(l.strip_prefix("summary:")))
        .map(|v| {
            v.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .max_by_key(|v: &Vec<u64>| v.first().copied())
        .context("no totals")?;
    let event = |name: &str| {
        let i = events.iter().position(|e| *e == name)?;
        // Callgrind leaves trailing zero columns out.
        Some(totals.get(i).copied().unwrap_or(0))
    };
    Ok(Collected {
        instructions: event("Ir").context("no Ir column")?,
        i1_misses: event("I1mr"),
    })
}

/// The `__life SYSTEM ORDER N` subcommand: N lifecycles of `oxtcp` or `smoltcp` in memory.
pub fn life_main(args: &[String]) -> Result<()> {
    let [system, order, n] = args else {
        bail!("usage: __life oxtcp|smoltcp client|server N");
    };
    let order = match order.as_str() {
        "client" => Order::ClientFirst,
        "server" => Order::ServerFirst,
        _ => bail!("order {order:?}: client or server"),
    };
    let n: usize = n.parse().context("lifecycle count")?;
    match system.as_str() {
        "oxtcp" => lifecycle::oxtcp_lifecycles(n, order)?,
        "smoltcp" => lifecycle::smoltcp_lifecycles(n, order)?,
        _ => bail!("system {system:?}: oxtcp or smoltcp"),
    };
    println!("calls {n}");
    Ok(())
}

/// The `__bulk SYSTEM MTU BUFFER BYTES [copy|in-place]` subcommand: one bulk transfer of
/// `oxtcp`, `oxtcp+gso+gro` or `smoltcp` in memory, the application copying what it receives
/// unless told to read in place. It prints the transfer's thread CPU seconds (`cpu S`, the
/// handshake left out, as in the bulk group) for `bench/ab.sh`, then its "calls", the KiB
/// moved.
pub fn bulk_main(args: &[String]) -> Result<()> {
    let (reads, args) = match args {
        [head @ .., last] if last == "in-place" => (bulk::Reads::InPlace, head),
        [head @ .., last] if last == "copy" => (bulk::Reads::Copy, head),
        _ => (bulk::Reads::Copy, args),
    };
    let [system, mtu, buffer, bytes] = args else {
        bail!("usage: __bulk oxtcp|oxtcp+gso+gro|smoltcp MTU BUFFER BYTES [copy|in-place]");
    };
    let mtu: usize = mtu.parse().context("MTU")?;
    let buffer: usize = buffer.parse().context("buffer")?;
    let bytes: usize = bytes.parse().context("bytes")?;
    let t = match system.as_str() {
        "oxtcp" => bulk::oxtcp_transfer(mtu, buffer, bytes, false, reads)?,
        bulk::OXTCP_GSO => bulk::oxtcp_transfer(mtu, buffer, bytes, true, reads)?,
        "smoltcp" => bulk::smoltcp_transfer(mtu, buffer, bytes, reads)?,
        _ => bail!("system {system:?}: oxtcp, oxtcp+gso+gro or smoltcp"),
    };
    println!("cpu {:.6}", t.cpu);
    println!("calls {}", bytes / 1024);
    Ok(())
}

/// The first-level instruction cache callgrind simulates, whatever the host's: 32 KiB, 8-way,
/// 64-byte lines, as on current x86-64 cores (AMD Zen 2 to 5, Intel since Ice Lake's P-cores
/// have 32 KiB). The data caches are fixed too, so that the run does not depend on the host.
const CACHES: [&str; 3] = ["--I1=32768,8,64", "--D1=32768,8,64", "--LL=1048576,16,64"];

/// Run this binary under callgrind with `args`, collecting inside functions whose names
/// contain `func`, with the caches simulated if `cache`; what it collected and the `calls`
/// figures the child printed.
fn callgrind(func: &str, args: &[String], cache: bool) -> Result<(Collected, Vec<u64>)> {
    let exe = std::env::current_exe()?;
    let out = std::env::temp_dir().join(format!(
        "oxtcp-bench-callgrind-{}-{func}",
        std::process::id()
    ));
    let out = out.to_string_lossy().into_owned();
    let mut cmd = Command::new("valgrind");
    cmd.args(["--tool=callgrind", "--quiet"])
        .arg(format!("--callgrind-out-file={out}"))
        .arg(format!("--toggle-collect=*{func}*"));
    if cache {
        cmd.arg("--cache-sim=yes").args(CACHES);
    }
    let run = cmd
        .arg(&exe)
        .args(args)
        .output()
        .context("running valgrind")?;
    if !run.status.success() {
        bail!(
            "callgrind run for {func} failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&run.stdout);
    let calls: Vec<u64> = stdout
        .lines()
        .find_map(|l| l.strip_prefix("calls "))
        .context("no call counts from the child")?
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let text = std::fs::read_to_string(&out).with_context(|| format!("reading {out}"));
    let _ = std::fs::remove_file(&out);
    let got = collected(&text?).with_context(|| format!("callgrind output for {func}"))?;
    if cache && got.i1_misses.is_none() {
        bail!("callgrind simulated no instruction cache for {func}");
    }
    Ok((got, calls))
}

/// Instructions per call: `total` over `n`, failing if either is zero.
fn per_call(func: &str, total: u64, n: u64) -> Result<f64> {
    if n == 0 || total == 0 {
        bail!("callgrind collected nothing in {func} ({n} calls)");
    }
    Ok(total as f64 / n as f64)
}

/// The group: each path's instructions per call, then a whole lifecycle's for oxtcp and
/// smoltcp in each closing order, then bulk per KiB; one callgrind run each. The lifecycle
/// and bulk runs simulate the instruction cache too, and give its misses per call beside the
/// instructions.
pub fn run(budget: &Budget) -> Result<Vec<Row>> {
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("insns: valgrind is not installed; skipped");
        return Ok(Vec::new());
    }
    let segments: u64 = budget.pick(4000, 1000);
    let mut rows = Vec::new();
    for (i, (figure, func)) in PATHS.iter().enumerate() {
        let (got, calls) = callgrind(func, &["__hot".into(), segments.to_string()], false)?;
        let n = *calls.get(i).context("call count missing")?;
        rows.push(Row::new(
            *figure,
            OXTCP,
            "instr",
            Better::Lower,
            vec![per_call(func, got.instructions, n)?],
        ));
    }
    let lifecycles: u64 = budget.pick(2000, 500);
    for (order, arg) in [
        (Order::ClientFirst, "client"),
        (Order::ServerFirst, "server"),
    ] {
        let what = format!("one lifecycle ({})", order.name());
        let runs = [OXTCP, "smoltcp"].map(|system| {
            let args = ["__life", system, arg].map(String::from);
            let args = [&args[..], &[lifecycles.to_string()]].concat();
            (system, format!("one_{system}_lifecycle"), args)
        });
        rows.extend(compared(&what, &runs)?);
    }
    let bytes: u64 = budget.pick(16 << 20, 4 << 20);
    let runs = [OXTCP, bulk::OXTCP_GSO, "smoltcp"].map(|system| {
        let args = ["__bulk", system, "1500", "65536"].map(String::from);
        let args = [&args[..], &[bytes.to_string()]].concat();
        // Both oxtcp systems run `oxtcp_transfer`.
        let func = system.split('+').next().unwrap_or(system);
        (system, format!("bulk::{func}_transfer"), args)
    });
    rows.extend(compared("bulk MTU 1500 buf 64 KiB, per KiB", &runs)?);
    Ok(rows)
}

/// Two figures, each with a row for every system of `runs` (system, function collected in,
/// arguments): the instructions per call, then the simulated instruction-cache misses per
/// call.
fn compared(what: &str, runs: &[(&str, String, Vec<String>)]) -> Result<Vec<Row>> {
    let mut instr = Vec::new();
    let mut misses = Vec::new();
    for (system, func, args) in runs {
        let (got, calls) = callgrind(func, args, true)?;
        let n = *calls.first().context("call count missing")?;
        instr.push(Row::new(
            format!("instructions: {what}"),
            *system,
            "instr",
            Better::Lower,
            vec![per_call(func, got.instructions, n)?],
        ));
        // A figure of zero misses is a real one (a loop that fits the cache), unlike zero
        // instructions.
        let m = got.i1_misses.unwrap_or(0);
        misses.push(Row::new(
            format!("I-cache misses (32 KiB simulated): {what}"),
            *system,
            "misses",
            Better::Lower,
            vec![m as f64 / n.max(1) as f64],
        ));
    }
    Ok([instr, misses].concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hot_loop_runs_every_path() {
        let c = hot_loop(64).unwrap();
        assert_eq!(c.rx_data, 64);
        assert_eq!((c.emit_ack, c.rx_ack), (64, 64));
    }

    #[test]
    fn totals_are_read_by_event_name() {
        // Instructions only: no cache column.
        let plain = "events: Ir\nsummary: 4200\nfn=(1) f\n0x10 7\ntotals: 4200\n";
        let got = collected(plain).unwrap();
        assert_eq!((got.instructions, got.i1_misses), (4200, None));
        // With the cache simulated: the misses are the I1mr column, wherever it stands.
        let sim = "events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw\n\
                   summary: 9000 300 200 45 7 3 2 1 1\n";
        let got = collected(sim).unwrap();
        assert_eq!((got.instructions, got.i1_misses), (9000, Some(45)));
        // Callgrind leaves out trailing zero columns.
        let short = "events: Ir Dr Dw I1mr D1mr\ntotals: 800 20 10\n";
        assert_eq!(collected(short).unwrap().i1_misses, Some(0));
        // Of several totals lines (one per thread or dump part), the largest.
        let two = "events: Ir I1mr\ntotals: 10 1\ntotals: 500 9\n";
        assert_eq!(collected(two).unwrap().i1_misses, Some(9));
        assert!(collected("events: Dr\nsummary: 5\n").is_err());
        assert!(collected("summary: 5\n").is_err());
    }
}
