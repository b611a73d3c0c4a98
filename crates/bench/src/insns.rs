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
//! - bulk, per KiB (`bulk`'s transfer at MTU 1500 with 64 KiB buffers), for oxtcp and for
//!   smoltcp (`oxtcp-bench __bulk SYSTEM MTU BUFFER BYTES`): everything from the handshake to
//!   the last byte checked, over the KiB moved; the harness's check of every byte is in both.
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

/// Collected instructions in the callgrind output file at `path` (its `summary:` or
/// `totals:` line).
fn collected(path: &str) -> Result<u64> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    text.lines()
        .filter_map(|l| l.strip_prefix("totals:").or(l.strip_prefix("summary:")))
        .filter_map(|v| v.split_whitespace().next()?.parse().ok())
        .max()
        .with_context(|| format!("no totals in {path}"))
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

/// The `__bulk SYSTEM MTU BUFFER BYTES` subcommand: one bulk transfer of `oxtcp` or
/// `smoltcp` in memory; its "calls" are the KiB moved.
pub fn bulk_main(args: &[String]) -> Result<()> {
    let [system, mtu, buffer, bytes] = args else {
        bail!("usage: __bulk oxtcp|smoltcp MTU BUFFER BYTES");
    };
    let mtu: usize = mtu.parse().context("MTU")?;
    let buffer: usize = buffer.parse().context("buffer")?;
    let bytes: usize = bytes.parse().context("bytes")?;
    match system.as_str() {
        "oxtcp" => bulk::oxtcp_transfer(mtu, buffer, bytes)?,
        "smoltcp" => bulk::smoltcp_transfer(mtu, buffer, bytes)?,
        _ => bail!("system {system:?}: oxtcp or smoltcp"),
    };
    println!("calls {}", bytes / 1024);
    Ok(())
}

/// Run this binary under callgrind with `args`, collecting inside functions whose names
/// contain `func`; the collected instructions and the `calls` figures the child printed.
fn callgrind(func: &str, args: &[String]) -> Result<(u64, Vec<u64>)> {
    let exe = std::env::current_exe()?;
    let out = std::env::temp_dir().join(format!(
        "oxtcp-bench-callgrind-{}-{func}",
        std::process::id()
    ));
    let out = out.to_string_lossy().into_owned();
    let run = Command::new("valgrind")
        .args(["--tool=callgrind", "--quiet"])
        .arg(format!("--callgrind-out-file={out}"))
        .arg(format!("--toggle-collect=*{func}*"))
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
    let total = collected(&out);
    let _ = std::fs::remove_file(&out);
    Ok((total?, calls))
}

/// Instructions per call: `total` over `n`, failing if either is zero.
fn per_call(func: &str, total: u64, n: u64) -> Result<f64> {
    if n == 0 || total == 0 {
        bail!("callgrind collected nothing in {func} ({n} calls)");
    }
    Ok(total as f64 / n as f64)
}

/// The group: each path's instructions per call, then a whole lifecycle's for oxtcp and
/// smoltcp in each closing order; one callgrind run each.
pub fn run(budget: &Budget) -> Result<Vec<Row>> {
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("insns: valgrind is not installed; skipped");
        return Ok(Vec::new());
    }
    let segments: u64 = budget.pick(4000, 1000);
    let mut rows = Vec::new();
    for (i, (figure, func)) in PATHS.iter().enumerate() {
        let (total, calls) = callgrind(func, &["__hot".into(), segments.to_string()])?;
        let n = *calls.get(i).context("call count missing")?;
        rows.push(Row::new(
            *figure,
            OXTCP,
            "instr",
            Better::Lower,
            vec![per_call(func, total, n)?],
        ));
    }
    let lifecycles: u64 = budget.pick(2000, 500);
    for (order, arg) in [
        (Order::ClientFirst, "client"),
        (Order::ServerFirst, "server"),
    ] {
        let figure = format!("instructions: one lifecycle ({})", order.name());
        for system in [OXTCP, "smoltcp"] {
            let func = format!("one_{system}_lifecycle");
            let args = ["__life", system, arg].map(String::from);
            let args = [&args[..], &[lifecycles.to_string()]].concat();
            let (total, calls) = callgrind(&func, &args)?;
            let n = *calls.first().context("call count missing")?;
            rows.push(Row::new(
                &figure,
                system,
                "instr",
                Better::Lower,
                vec![per_call(&func, total, n)?],
            ));
        }
    }
    let bytes: u64 = budget.pick(16 << 20, 4 << 20);
    let figure = "instructions: bulk MTU 1500 buf 64 KiB, per KiB";
    for system in [OXTCP, "smoltcp"] {
        let func = format!("bulk::{system}_transfer");
        let args = ["__bulk", system, "1500", "65536"].map(String::from);
        let args = [&args[..], &[bytes.to_string()]].concat();
        let (total, calls) = callgrind(&func, &args)?;
        let n = *calls.first().context("KiB count missing")?;
        rows.push(Row::new(
            figure,
            system,
            "instr",
            Better::Lower,
            vec![per_call(&func, total, n)?],
        ));
    }
    Ok(rows)
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
}
