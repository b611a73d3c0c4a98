//! Figure group `scaling`: does a segment, or a whole connection's life, cost more when many
//! connections are open? N − 1 idle established connections are forged into host B's stack
//! (`forge`: B holds them, A holds nothing for them), one more is made between A and B, and:
//!
//! - per-segment cost: A sends a 64-byte segment, B reads it and ACKs at once (delayed ACKs
//!   off), A takes the ACK; thread CPU time per segment, both stacks' work together;
//! - lifecycle rate: A connects, sends 1 byte, B accepts, reads it and answers 1 byte, A reads
//!   it, A closes, B closes; lifecycles per second of thread CPU time.
//!
//! Thread CPU time, not wall time, since the machine is shared; both figures run in memory,
//! with the wall clock as the stacks' clock.
//!
//! smoltcp's per-segment cost is measured the same way up to 10,000 open (`SMOLTCP_MAX`):
//! host B's `SocketSet` holds N − 1 idle established sockets (made by real handshakes with A,
//! whose ends are then removed from A's set, with 1 KiB buffers each to keep memory small)
//! and the active one (64 KiB buffers), last in the set. smoltcp visits every socket on each
//! poll and finds a segment's socket by a scan, so its cost grows with N; past 10,000 a run
//! takes too long to be worth it.

use std::net::SocketAddr;

use anyhow::{bail, Result};
use oxtcp_core::{ConnId, ListenerId, StackConfig};
use smoltcp::iface::SocketHandle;

use crate::forge::Forger;
use crate::oxtcp_mem::{Pair, B_IP};
use crate::report::{Better, Row, OXTCP};
use crate::runner::{thread_cpu_ns, Budget};
use crate::smol_mem::SmolPair;

const PORT: u16 = 80;
const SEGMENT: usize = 64;
/// The most open connections smoltcp is measured with.
const SMOLTCP_MAX: u32 = 10_000;

/// A pair whose B holds `open` established connections: `open − 1` forged idle ones and the
/// active one between A and B, returned as (A's end, B's end).
fn with_open(open: u32) -> Result<(Pair, ListenerId, ConnId, ConnId)> {
    let cfg = StackConfig {
        delayed_ack: None,
        max_half_open: Some(65_536),
        ..StackConfig::default()
    };
    let mut pair = Pair::new(&cfg);
    let listener = pair.listen(PORT, 4096)?;
    let mut forger = Forger::new(SocketAddr::new(B_IP, PORT), listener);
    for i in 0..open.saturating_sub(1) {
        let now = pair.now();
        forger.establish(&mut pair.b, now, i)?;
    }
    let (c, s) = pair.connect(PORT, listener)?;
    if pair.b.resources().connections != open as usize {
        bail!(
            "B holds {} connections, not {open}",
            pair.b.resources().connections
        );
    }
    Ok((pair, listener, c, s))
}

/// `m` segments from A to B on (c, s), each ACKed: thread CPU ns per segment.
fn per_segment(pair: &mut Pair, c: ConnId, s: ConnId, m: u32) -> Result<f64> {
    let data = [7u8; SEGMENT];
    let mut buf = [0u8; 2 * SEGMENT];
    let cpu0 = thread_cpu_ns();
    for _ in 0..m {
        if pair.a.send(c, &data)? != SEGMENT {
            bail!("A's send buffer is full");
        }
        pair.pump();
        if pair.b.recv(s, &mut buf)? != SEGMENT {
            bail!("B did not get the segment whole");
        }
    }
    Ok((thread_cpu_ns() - cpu0) as f64 / m as f64)
}

/// smoltcp's pair with `open` established connections at B, only the last of them active.
fn smol_with_open(open: u32) -> Result<(SmolPair, SocketHandle, SocketHandle)> {
    let mut pair = SmolPair::new(1500);
    let idle = pair.connect_many(PORT, 1024, open as usize - 1, (1024, 1024))?;
    for (ha, _) in idle {
        pair.a.sockets.remove(ha);
    }
    let active = pair.connect_many(PORT, 1024 + open as u16, 1, (65_535, 65_536))?;
    Ok((pair, active[0].0, active[0].1))
}

/// `m` segments from A to B in smoltcp's pair, each ACKed: thread CPU ns per segment.
fn smol_per_segment(pair: &mut SmolPair, a: SocketHandle, b: SocketHandle, m: u32) -> Result<f64> {
    let data = [7u8; SEGMENT];
    let mut buf = [0u8; 2 * SEGMENT];
    let cpu0 = thread_cpu_ns();
    for _ in 0..m {
        if pair.a.tcp(a).send_slice(&data)? != SEGMENT {
            bail!("smoltcp: A's send buffer is full");
        }
        pair.pump();
        if pair.b.tcp(b).recv_slice(&mut buf)? != SEGMENT {
            bail!("smoltcp: B did not get the segment whole");
        }
    }
    Ok((thread_cpu_ns() - cpu0) as f64 / m as f64)
}

/// One connection's life, from A's connect to both closes.
fn lifecycle(pair: &mut Pair, listener: ListenerId) -> Result<()> {
    let mut buf = [0u8; 8];
    let (c, s) = pair.connect(PORT, listener)?;
    pair.a.send(c, b"q")?;
    pair.pump();
    if pair.b.recv(s, &mut buf)? != 1 {
        bail!("B did not get the request");
    }
    pair.b.send(s, b"a")?;
    pair.pump();
    if pair.a.recv(c, &mut buf)? != 1 {
        bail!("A did not get the answer");
    }
    let now = pair.now();
    pair.a.close(now, c)?;
    pair.pump();
    let now = pair.now();
    pair.b.close(now, s)?;
    pair.pump();
    Ok(())
}

/// `k` lifecycles: per second of thread CPU time.
fn lifecycle_rate(pair: &mut Pair, listener: ListenerId, k: u32) -> Result<f64> {
    let cpu0 = thread_cpu_ns();
    for _ in 0..k {
        lifecycle(pair, listener)?;
    }
    Ok(k as f64 / ((thread_cpu_ns() - cpu0) as f64 / 1e9))
}

/// Everything measured at one count of open connections, and the runs so far.
struct Setup {
    open: u32,
    pair: Pair,
    listener: ListenerId,
    conn: (ConnId, ConnId),
    smol: Option<(SmolPair, SocketHandle, SocketHandle, u32)>,
    seg: Vec<f64>,
    smol_seg: Vec<f64>,
    life: Vec<f64>,
}

/// The group: both figures for each count of open connections. Every count's pairs are built
/// first and the runs then go round the counts (1, 1k, ..., 1, 1k, ...), as `alternate` goes
/// round systems, so that the machine's drift (it is shared) falls on every count alike.
pub fn run(budget: &Budget) -> Result<Vec<Row>> {
    let counts: Vec<u32> = budget.pick(vec![1, 1_000, 100_000, 1_000_000], vec![1, 1_000, 10_000]);
    let m: u32 = budget.pick(100_000, 20_000);
    // A's ephemeral ports (16,384) bound the lifecycles one pair can run: A keeps TIME-WAIT.
    let k: u32 = budget.pick(2_000, 1_000);
    let mut setups = Vec::new();
    for &open in &counts {
        let (mut pair, listener, c, s) = with_open(open)?;
        per_segment(&mut pair, c, s, m / 10)?;
        let smol = if open <= SMOLTCP_MAX {
            let (mut smol, sa, sb) = smol_with_open(open)?;
            // Fewer segments as smoltcp's cost grows with the sockets it polls.
            let ms = (m as u64 * 100 / (open as u64 + 100)).max(300) as u32;
            smol_per_segment(&mut smol, sa, sb, ms / 10)?;
            Some((smol, sa, sb, ms))
        } else {
            None
        };
        setups.push(Setup {
            open,
            pair,
            listener,
            conn: (c, s),
            smol,
            seg: Vec::new(),
            smol_seg: Vec::new(),
            life: Vec::new(),
        });
    }
    for _ in 0..budget.runs {
        for st in &mut setups {
            let (c, s) = st.conn;
            st.seg.push(per_segment(&mut st.pair, c, s, m)?);
            if let Some((smol, sa, sb, ms)) = &mut st.smol {
                st.smol_seg.push(smol_per_segment(smol, *sa, *sb, *ms)?);
            }
            st.life.push(lifecycle_rate(&mut st.pair, st.listener, k)?);
        }
    }
    let mut rows = Vec::new();
    for st in setups {
        let figure = format!("per-segment cost, {} open", st.open);
        rows.push(Row::new(&figure, OXTCP, "ns", Better::Lower, st.seg));
        if st.smol.is_some() {
            rows.push(Row::new(
                &figure,
                "smoltcp",
                "ns",
                Better::Lower,
                st.smol_seg,
            ));
        }
        let figure = format!("lifecycle rate, {} open", st.open);
        rows.push(Row::new(&figure, OXTCP, "/s", Better::Higher, st.life));
    }
    let cost = |open: u32| {
        rows.iter()
            .find(|r| r.system == OXTCP && r.figure == format!("per-segment cost, {open} open"))
            .map_or(f64::NAN, |r| r.median)
    };
    let last = *counts.last().unwrap_or(&1);
    eprintln!(
        "scaling: oxtcp per-segment cost at {last} open / at 1 open: {:.2} (target: at most 2)",
        cost(last) / cost(1)
    );
    Ok(rows)
}
