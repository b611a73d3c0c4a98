//! Figure group `memory`: what an entry of each kind costs the stack that holds it, and the
//! peak RSS of a process holding many idle connections.
//!
//! Method, oxtcp: one stack, driven by forged clients (`forge`), so no second stack holds the
//! other ends. The counting allocator's per-thread net bytes are read before and after
//! building N entries of one kind; (after − before) / N is the heap cost per entry, inline
//! (the slab slot) and boxed (the TCB) alike, plus the growth of the stack's tables to hold N
//! (the slab and the 4-tuple map grow by doubling, so the amortized share depends on where N
//! falls between powers of two). Requested sizes only: malloc's own headers are not counted.
//!
//! smoltcp: a `SocketSet` given N TCP sockets with buffers of oxtcp's default sizes (receive
//! 65,535 B, send 65,536 B), measured the same way. smoltcp allocates a socket's buffers up
//! front and has no entry smaller than a socket: a connection in TIME-WAIT or SYN-RECEIVED
//! is a whole socket (a listening socket becomes the connection), so the one figure stands
//! for all three kinds. The sockets' state does not change their size.
//!
//! Linux: the `objsize` column of /proc/slabinfo for the slab caches `TCP` (struct tcp_sock),
//! `tw_sock_TCP` and `request_sock_TCP`. Only that object: an established socket also has a
//! `struct socket`, an inode, a file and a dentry, which are not counted here.
//!
//! RSS: a child process (`oxtcp-bench __hold N`) builds N idle established connections in one
//! stack from forged clients, so that only the server's state is in it, and prints VmHWM from
//! /proc/self/status: the whole process's peak, its ~2 MiB baseline included. smoltcp's row
//! is computed, N × its measured socket, not run; its buffers come zeroed from the allocator
//! and might not all be resident until written.

use std::net::SocketAddr;
use std::process::Command;

use anyhow::{bail, Context, Result};
use oxtcp_core::{Instant, Stack, StackConfig};

use crate::alloc_count::thread_net_bytes;
use crate::forge::Forger;
use crate::oxtcp_mem::B_IP;
use crate::report::{Better, Row, OXTCP};
use crate::runner::{alternate, Budget, System};

/// The hidden subcommand the RSS figure re-executes the binary with.
pub const HOLD: &str = "__hold";

const PORT: u16 = 80;
const MIB: f64 = 1024.0 * 1024.0;

/// The kinds of entry a stack holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Established,
    TimeWait,
    HalfOpen,
}

impl Kind {
    fn figure(self) -> &'static str {
        match self {
            Kind::Established => "idle established connection",
            Kind::TimeWait => "TIME-WAIT entry",
            Kind::HalfOpen => "half-open entry",
        }
    }

    fn slab(self) -> &'static str {
        match self {
            Kind::Established => "TCP",
            Kind::TimeWait => "tw_sock_TCP",
            Kind::HalfOpen => "request_sock_TCP",
        }
    }
}

/// A server stack listening on B_IP:80 with room for `n` entries in its queues, and a forger
/// of its clients.
fn server(n: u32) -> Result<(Stack, Forger)> {
    let cfg = StackConfig {
        seed: 7,
        max_half_open: Some((n as usize + 16).max(65_536)),
        ..StackConfig::default()
    };
    let mut stack = Stack::with_addresses(cfg, &[B_IP]);
    let addr = SocketAddr::new(B_IP, PORT);
    let listener = stack.listen(addr, n as usize + 16)?;
    Ok((stack, Forger::new(addr, listener)))
}

/// Build `n` entries of `kind` in `stack`. Handles of established connections are not kept:
/// the stack holds the connections until someone closes them.
fn build(stack: &mut Stack, forger: &mut Forger, kind: Kind, n: u32) -> Result<()> {
    let now = Instant::from_micros(1_000_000);
    for i in 0..n {
        match kind {
            Kind::Established => {
                forger.establish(stack, now, i)?;
            }
            Kind::TimeWait => forger.time_wait(stack, now, i)?,
            Kind::HalfOpen => {
                forger.half_open(stack, now, i)?;
            }
        }
    }
    let r = stack.resources();
    let held = match kind {
        Kind::Established => r.connections,
        Kind::TimeWait => r.time_wait,
        Kind::HalfOpen => r.half_open,
    };
    // (`r.buffer_bytes` is what the buffers are charged against a memory budget, their full
    // sizes, not what is allocated.)
    if held != n as usize {
        bail!("{kind:?}: the stack holds {held} of {n} entries");
    }
    Ok(())
}

/// Bytes per entry of `kind` in one oxtcp stack holding `n` of them.
pub fn oxtcp_per_entry(kind: Kind, n: u32) -> Result<f64> {
    let (mut stack, mut forger) = server(n)?;
    let before = thread_net_bytes();
    build(&mut stack, &mut forger, kind, n)?;
    let after = thread_net_bytes();
    Ok((after - before) as f64 / n as f64)
}

/// Bytes per smoltcp TCP socket in a `SocketSet` of `n`, with buffers of oxtcp's defaults.
pub fn smoltcp_per_socket(n: u32) -> f64 {
    use smoltcp::iface::SocketSet;
    use smoltcp::socket::tcp;
    let cfg = StackConfig::default();
    let mut set = SocketSet::new(Vec::new());
    let before = thread_net_bytes();
    for _ in 0..n {
        let rx = tcp::SocketBuffer::new(vec![0u8; cfg.recv_buffer]);
        let tx = tcp::SocketBuffer::new(vec![0u8; cfg.send_buffer]);
        set.add(tcp::Socket::new(rx, tx));
    }
    let after = thread_net_bytes();
    drop(set);
    (after - before) as f64 / n as f64
}

/// The `objsize` of each named slab cache in /proc/slabinfo, or why there are none.
fn slab_objsizes(names: &[&str]) -> Result<Vec<f64>> {
    let text = std::fs::read_to_string("/proc/slabinfo").context("reading /proc/slabinfo")?;
    names
        .iter()
        .map(|name| {
            let line = text
                .lines()
                .find(|l| l.split_whitespace().next() == Some(name))
                .with_context(|| format!("no slab cache {name} in /proc/slabinfo"))?;
            // name active_objs num_objs objsize ...
            let size = line
                .split_whitespace()
                .nth(3)
                .context("short slabinfo line")?;
            Ok(size.parse()?)
        })
        .collect()
}

/// The child of the RSS figure: build `args[0]` idle established connections in one stack,
/// then print the peak RSS and the heap bytes live.
pub fn hold_child(args: &[String]) -> Result<()> {
    let n: u32 = args
        .first()
        .context("usage: oxtcp-bench __hold N")?
        .parse()?;
    let (mut stack, mut forger) = server(n)?;
    let base = status_kib("VmHWM")?;
    build(&mut stack, &mut forger, Kind::Established, n)?;
    println!("base_kib {base}");
    println!("hwm_kib {}", status_kib("VmHWM")?);
    println!("heap_bytes {}", crate::alloc_count::live_bytes());
    Ok(())
}

/// A `kB` field of /proc/self/status.
fn status_kib(field: &str) -> Result<u64> {
    let text = std::fs::read_to_string("/proc/self/status")?;
    let line = text
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .with_context(|| format!("no {field} in /proc/self/status"))?;
    let v = line[field.len() + 1..].trim().trim_end_matches("kB").trim();
    Ok(v.parse()?)
}

/// Run the hold child for `n` connections: (peak RSS, RSS before building, heap), in bytes.
fn hold(n: u32) -> Result<(f64, f64, f64)> {
    let exe = std::env::current_exe()?;
    let out = Command::new(exe).arg(HOLD).arg(n.to_string()).output()?;
    if !out.status.success() {
        bail!(
            "{HOLD} {n} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8(out.stdout)?;
    let field = |name: &str| -> Result<f64> {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("{HOLD} printed no {name}: {text}"))?;
        Ok(line[name.len()..].trim().parse()?)
    };
    Ok((
        field("hwm_kib")? * 1024.0,
        field("base_kib")? * 1024.0,
        field("heap_bytes")?,
    ))
}

/// The group: per-entry bytes for each kind and system, and the RSS figure.
pub fn run(budget: &Budget) -> Result<Vec<Row>> {
    let n: u32 = budget.pick(10_000, 2_000);
    let kinds = [Kind::Established, Kind::TimeWait, Kind::HalfOpen];
    let slabs = slab_objsizes(&kinds.map(Kind::slab));
    if let Err(e) = &slabs {
        eprintln!("memory: no linux rows: {e:#}");
    }
    let sizes = Stack::entry_sizes();
    eprintln!(
        "memory: oxtcp inline sizes: slot {} B, half-open {} B (boxed), TIME-WAIT {} B (packed \
         in its own table, no slot or timer), TCB {} B (boxed), 4-tuple bucket {} B, timer {} B \
         per slot; measured below with {n} entries of each kind in one stack",
        sizes.slot,
        sizes.half_open,
        sizes.time_wait,
        sizes.connection,
        sizes.tuple_bucket,
        sizes.timer
    );
    eprintln!(
        "memory: smoltcp: one tcp::Socket in a SocketSet, buffers allocated up front at \
         oxtcp's defaults; the same whole socket in every state"
    );
    // smoltcp's socket is the same whatever its state: measured once (its buffers are zeroed
    // up front, so each measurement writes ~128 KiB per socket), reported for every kind.
    let smol_socket = smoltcp_per_socket(1_000);
    let cfg = StackConfig::default();
    eprintln!(
        "memory: smoltcp socket {smol_socket:.0} B = buffers {} B + socket and set slot {:.0} B",
        cfg.recv_buffer + cfg.send_buffer,
        smol_socket - (cfg.recv_buffer + cfg.send_buffer) as f64
    );
    let mut rows = Vec::new();
    for (k, kind) in kinds.into_iter().enumerate() {
        let mut systems = vec![
            System::new(OXTCP, move || oxtcp_per_entry(kind, n)),
            System::new("smoltcp", move || Ok(smol_socket)),
        ];
        if let Ok(s) = &slabs {
            let size = s[k];
            systems.push(System::new("linux", move || Ok(size)));
        }
        rows.extend(alternate(
            budget,
            kind.figure(),
            "B",
            Better::Lower,
            systems,
        )?);
    }
    let held: u32 = budget.pick(1_000_000, 100_000);
    let (hwm, base, heap) = hold(held)?;
    eprintln!(
        "memory: {HOLD} {held}: peak RSS {:.1} MiB ({:.1} MiB before building), heap {:.1} MiB; \
         server state only (clients forged); smoltcp: {held} x the measured socket, computed",
        hwm / MIB,
        base / MIB,
        heap / MIB
    );
    let figure = format!("RSS, {held} idle established connections");
    rows.push(Row::new(
        &figure,
        OXTCP,
        "MiB",
        Better::Lower,
        vec![hwm / MIB],
    ));
    rows.push(Row::new(
        &figure,
        "smoltcp",
        "MiB",
        Better::Lower,
        vec![smol_socket * held as f64 / MIB],
    ));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hundred_time_wait_entries_cost_under_a_kib_each() {
        let b = oxtcp_per_entry(Kind::TimeWait, 100).unwrap();
        assert!(b > 0.0 && b < 1024.0, "{b} B per TIME-WAIT entry");
    }
}
