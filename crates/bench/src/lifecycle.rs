//! Figure group `lifecycle`: connections completed per second, one at a time in one thread:
//! connect, a 1-byte request, a 1-byte response, close, each connection fully closed before
//! the next starts. Both closing orders, as TIME-WAIT lands on the side that closes first.
//!
//! - oxtcp: an in-memory pair (`oxtcp_mem::Pair`), a listener with a backlog of 4096, the
//!   default configuration except the ephemeral range, widened to 1024–65535 so that one run's
//!   client TIME-WAIT entries (2×MSL = 60 s, none expire within a run) never exhaust it. A fresh
//!   pair per run, so entries do not carry over between runs. "Fully closed": the side that
//!   closed second is gone from the stack and the other is a TIME-WAIT entry.
//! - smoltcp: an in-memory pair (`smol_mem::SmolPair`). smoltcp has no backlog: B keeps a pool
//!   of four sockets listening on the port and re-arms each (`listen` again) after use, as its
//!   users do; A reuses one socket, with a new local port for each connection. A smoltcp
//!   socket's TIME-WAIT lives in the socket itself and ends when the socket is reused (a new
//!   `connect` or `listen`), so unlike oxtcp and Linux no TIME-WAIT state accumulates. Socket
//!   buffers are oxtcp's defaults (64 KiB each way), allocated once with the sockets.
//! - linux: the kernel over loopback with `std::net`, blocking sockets in one thread: connect,
//!   accept, write, read, in that order. This cannot deadlock, as each blocking call waits only
//!   for segments already sent, which the kernel delivers without the application (on loopback
//!   normally within the sending call). No socket options are set (no SO_LINGER, no
//!   SO_REUSEADDR); with the client closing first, client ports in TIME-WAIT are reused for new
//!   connections only as the kernel allows on loopback (`net.ipv4.tcp_tw_reuse`, 2 by default).
//!   "Fully closed": the second side has read the FIN and closed; the final ACK is left to the
//!   kernel, as nothing the application does can wait for it.
//!
//! Beside each order's rates, `wire work of one lifecycle` times oxtcp's and smoltcp's
//! parsing and emitting of the segments their own lifecycle exchanges, and nothing else
//! (`wire_floor`): a floor under each one's lifecycle time.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant as StdInstant};

use anyhow::{bail, ensure, Context, Result};
use oxtcp_core::{ConnId, RecvError, Stack, StackConfig};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;

use crate::oxtcp_mem::Pair;
use crate::report::{Better, Row};
use crate::runner::{self, Budget, System};
use crate::smol_mem::SmolPair;
use crate::wire_floor;

/// The server's port in the in-memory pairs.
const PORT: u16 = 80;
/// How long one step may wait for the stacks before the run fails.
const STEP_LIMIT: Duration = Duration::from_secs(5);

/// Which side closes first (and so holds the TIME-WAIT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    ClientFirst,
    ServerFirst,
}

impl Order {
    pub fn name(self) -> &'static str {
        match self {
            Order::ClientFirst => "client closes first",
            Order::ServerFirst => "server closes first",
        }
    }
}

/// Lifecycles per run, `--quick` or not (which only changes the number of runs). Each of
/// Linux's client-first runs leaves this many client sockets in TIME-WAIT for 60 s, within
/// the 28232 ports of the default ephemeral range.
const PER_RUN: usize = 20_000;

/// Every figure of the group.
pub fn run(budget: &Budget) -> Result<Vec<Row>> {
    let n = PER_RUN;
    let mut rows = Vec::new();
    for order in [Order::ClientFirst, Order::ServerFirst] {
        let systems = vec![
            System::new("oxtcp", move || rate(n, oxtcp_lifecycles(n, order)?)),
            System::new("smoltcp", move || rate(n, smoltcp_lifecycles(n, order)?)),
            System::new("linux", move || rate(n, linux_lifecycles(n, order)?)),
        ];
        rows.extend(runner::alternate(
            budget,
            &format!("lifecycle rate ({})", order.name()),
            "lifecycles/s",
            Better::Higher,
            systems,
        )?);
        let ox = wire_floor::oxtcp_exchange(order)?;
        let smol = wire_floor::smoltcp_exchange(order)?;
        let systems = vec![
            System::new("oxtcp", || wire_floor::oxtcp_wire_ns(&ox)),
            System::new("smoltcp", || wire_floor::smoltcp_wire_ns(&smol)),
        ];
        rows.extend(runner::alternate(
            budget,
            &format!("wire work of one lifecycle ({})", order.name()),
            "ns",
            Better::Lower,
            systems,
        )?);
    }
    Ok(rows)
}

fn rate(n: usize, wall_seconds: f64) -> Result<f64> {
    Ok(n as f64 / wall_seconds)
}

/// Pump until `done`, failing after `STEP_LIMIT`.
fn settle<P>(p: &mut P, pump: fn(&mut P), mut done: impl FnMut(&mut P) -> bool) -> Result<()> {
    pump(p);
    if done(p) {
        return Ok(());
    }
    let t0 = StdInstant::now();
    loop {
        pump(p);
        if done(p) {
            return Ok(());
        }
        if t0.elapsed() > STEP_LIMIT {
            bail!("a lifecycle step did not complete within {STEP_LIMIT:?}");
        }
    }
}

// ----- oxtcp -----

/// `n` lifecycles through a fresh oxtcp pair; the wall-clock seconds they took.
pub fn oxtcp_lifecycles(n: usize, order: Order) -> Result<f64> {
    let (mut p, listener) = oxtcp_pair()?;
    let ((), wall, _cpu) = runner::timed(|| {
        for _ in 0..n {
            one_oxtcp_lifecycle(&mut p, listener, order)?;
        }
        Ok(())
    })?;
    Ok(wall)
}

/// A fresh pair set up as the module documentation says, and B's listener.
pub(crate) fn oxtcp_pair() -> Result<(Pair, oxtcp_core::ListenerId)> {
    let cfg = StackConfig {
        ephemeral_ports: 1024..=65535,
        ..Default::default()
    };
    let mut p = Pair::new(&cfg);
    let listener = p.listen(PORT, 4096)?;
    Ok((p, listener))
}

fn pump_oxtcp(p: &mut Pair) {
    p.pump();
}

/// What `id`'s next read gives once it stops blocking: how many bytes, and the byte if one.
fn oxtcp_read(p: &mut Pair, side: Side, id: ConnId) -> Result<(usize, u8)> {
    let mut b = [0u8; 1];
    let mut got = None;
    settle(p, pump_oxtcp, |p| match side(p).recv(id, &mut b) {
        Err(RecvError::WouldBlock) => false,
        r => {
            got = Some(r);
            true
        }
    })
    .ok();
    match got {
        Some(Ok(n)) => Ok((n, b[0])),
        Some(Err(e)) => bail!("oxtcp recv: {e}"),
        None => bail!("oxtcp: nothing arrived"),
    }
}

/// The one byte `id` has to read, once it has arrived.
fn oxtcp_read_byte(p: &mut Pair, side: Side, id: ConnId) -> Result<u8> {
    match oxtcp_read(p, side, id)? {
        (1, b) => Ok(b),
        (n, _) => bail!("oxtcp: expected one byte, got {n}"),
    }
}

/// Wait for the peer's FIN on `id` (`recv` gives end of stream).
fn oxtcp_read_eof(p: &mut Pair, side: Side, id: ConnId) -> Result<()> {
    match oxtcp_read(p, side, id)?.0 {
        0 => Ok(()),
        n => bail!("oxtcp: expected end of stream, got {n} bytes"),
    }
}

/// One of the pair's stacks.
type Side = fn(&mut Pair) -> &mut Stack;

fn client(p: &mut Pair) -> &mut Stack {
    &mut p.a
}

fn server(p: &mut Pair) -> &mut Stack {
    &mut p.b
}

/// One lifecycle; never inlined, so that callgrind can count inside it (`insns`).
#[inline(never)]
pub(crate) fn one_oxtcp_lifecycle(
    p: &mut Pair,
    listener: oxtcp_core::ListenerId,
    order: Order,
) -> Result<()> {
    // The first closer's connection, released, becomes a compact TIME-WAIT entry with an id
    // of its own, so its arrival is seen in the count of entries. The count is taken once the
    // handshake is done: a 4-tuple reopened after the client's ports wrapped has by then ended
    // the old incarnation's entry (RFC 6191 at the server, or the client's own connect).
    let time_wait = |p: &mut Pair, side: Side| side(p).resources().time_wait;
    let (c, s) = p.connect(PORT, listener)?;
    let before = (time_wait(p, client), time_wait(p, server));
    ensure!(p.a.send(c, b"q")? == 1, "oxtcp: request not taken");
    p.pump();
    ensure!(
        oxtcp_read_byte(p, server, s)? == b'q',
        "oxtcp: wrong request"
    );
    ensure!(p.b.send(s, b"r")? == 1, "oxtcp: response not taken");
    // The first closer ends in TIME-WAIT; the second must be gone from its stack.
    let (tw_side, tw_before, gone_side, gone): (Side, usize, Side, ConnId) = match order {
        Order::ClientFirst => {
            ensure!(
                oxtcp_read_byte(p, client, c)? == b'r',
                "oxtcp: wrong response"
            );
            let now = p.now();
            p.a.close(now, c)?;
            oxtcp_read_eof(p, server, s)?;
            let now = p.now();
            p.b.close(now, s)?;
            (client, before.0, server, s)
        }
        Order::ServerFirst => {
            let now = p.now();
            p.b.close(now, s)?;
            ensure!(
                oxtcp_read_byte(p, client, c)? == b'r',
                "oxtcp: wrong response"
            );
            oxtcp_read_eof(p, client, c)?;
            let now = p.now();
            p.a.close(now, c)?;
            (server, before.1, client, c)
        }
    };
    settle(p, pump_oxtcp, |p| {
        gone_side(p).info_any(gone).is_none() && time_wait(p, tw_side) == tw_before + 1
    })
    .context("oxtcp: the connection did not close")
}

// ----- smoltcp -----

/// Sockets B keeps listening on the port.
const SMOL_POOL: usize = 4;

/// `n` lifecycles through a fresh smoltcp pair; the wall-clock seconds they took.
pub fn smoltcp_lifecycles(n: usize, order: Order) -> Result<f64> {
    let (mut p, c, pool) = smoltcp_pair()?;
    let ((), wall, _cpu) = runner::timed(|| {
        for i in 0..n {
            one_smoltcp_lifecycle(&mut p, c, &pool, smoltcp_port(i), order)?;
        }
        Ok(())
    })?;
    Ok(wall)
}

/// A fresh pair set up as the module documentation says: A's one socket, and B's pool of
/// listening ones.
pub(crate) fn smoltcp_pair() -> Result<(SmolPair, SocketHandle, Vec<SocketHandle>)> {
    let defaults = StackConfig::default();
    let (rx, tx) = (defaults.recv_buffer, defaults.send_buffer);
    let mut p = SmolPair::new(defaults.mtu);
    let c = p.a.add_tcp(rx, tx);
    let pool: Vec<SocketHandle> = (0..SMOL_POOL)
        .map(|_| {
            let h = p.b.add_tcp(rx, tx);
            p.b.tcp(h).listen(PORT).map(|()| h)
        })
        .collect::<Result<_, _>>()?;
    Ok((p, c, pool))
}

/// A's local port for its `i`th connection: the dynamic range, round robin, so a port is
/// reused only after 16384 connections.
pub(crate) fn smoltcp_port(i: usize) -> u16 {
    49152 + (i % 16384) as u16
}

fn pump_smol(p: &mut SmolPair) {
    p.pump();
}

fn smol_state(p: &mut SmolPair, client_side: bool, h: SocketHandle) -> tcp::State {
    if client_side {
        p.a.tcp(h).state()
    } else {
        p.b.tcp(h).state()
    }
}

/// The one byte socket `h` has to read, once it has arrived.
fn smol_read_byte(p: &mut SmolPair, client_side: bool, h: SocketHandle) -> Result<u8> {
    settle(p, pump_smol, |p| {
        let host = if client_side { &mut p.a } else { &mut p.b };
        host.tcp(h).can_recv()
    })?;
    let host = if client_side { &mut p.a } else { &mut p.b };
    let mut b = [0u8; 1];
    ensure!(
        host.tcp(h).recv_slice(&mut b)? == 1,
        "smoltcp: expected one byte"
    );
    Ok(b[0])
}

/// One lifecycle; never inlined, so that callgrind can count inside it (`insns`).
#[inline(never)]
pub(crate) fn one_smoltcp_lifecycle(
    p: &mut SmolPair,
    c: SocketHandle,
    pool: &[SocketHandle],
    local_port: u16,
    order: Order,
) -> Result<()> {
    p.connect(c, local_port, PORT)?;
    settle(p, pump_smol, |p| {
        p.a.tcp(c).state() == tcp::State::Established
    })?;
    ensure!(
        p.a.tcp(c).send_slice(b"q")? == 1,
        "smoltcp: request not taken"
    );
    p.pump();
    let Some(&s) = pool.iter().find(|&&h| p.b.tcp(h).can_recv()) else {
        bail!("smoltcp: no server socket has the request");
    };
    ensure!(
        smol_read_byte(p, false, s)? == b'q',
        "smoltcp: wrong request"
    );
    ensure!(
        p.b.tcp(s).send_slice(b"r")? == 1,
        "smoltcp: response not taken"
    );
    match order {
        Order::ClientFirst => {
            ensure!(
                smol_read_byte(p, true, c)? == b'r',
                "smoltcp: wrong response"
            );
            p.a.tcp(c).close();
            settle(p, pump_smol, |p| !p.b.tcp(s).may_recv())?;
            p.b.tcp(s).close();
            settle(p, pump_smol, |p| {
                smol_state(p, false, s) == tcp::State::Closed
                    && smol_state(p, true, c) == tcp::State::TimeWait
            })?;
        }
        Order::ServerFirst => {
            p.b.tcp(s).close();
            ensure!(
                smol_read_byte(p, true, c)? == b'r',
                "smoltcp: wrong response"
            );
            settle(p, pump_smol, |p| !p.a.tcp(c).may_recv())?;
            p.a.tcp(c).close();
            settle(p, pump_smol, |p| {
                smol_state(p, true, c) == tcp::State::Closed
                    && smol_state(p, false, s) == tcp::State::TimeWait
            })?;
        }
    }
    // Re-arm the server socket; this ends its TIME-WAIT if it holds one.
    p.b.tcp(s).listen(PORT)?;
    Ok(())
}

// ----- linux -----

/// `n` lifecycles over loopback through a fresh listener; the wall-clock seconds they took.
pub fn linux_lifecycles(n: usize, order: Order) -> Result<f64> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let addr = listener.local_addr()?;
    let ((), wall, _cpu) = runner::timed(|| {
        for _ in 0..n {
            linux_lifecycle(&listener, addr, order)?;
        }
        Ok(())
    })?;
    Ok(wall)
}

fn linux_lifecycle(listener: &TcpListener, addr: SocketAddr, order: Order) -> Result<()> {
    let mut c = TcpStream::connect(addr).context("linux: connect")?;
    let (mut s, _) = listener.accept()?;
    let mut b = [0u8; 1];
    c.write_all(b"q")?;
    s.read_exact(&mut b)?;
    ensure!(&b == b"q", "linux: wrong request");
    s.write_all(b"r")?;
    c.read_exact(&mut b)?;
    ensure!(&b == b"r", "linux: wrong response");
    let (first, mut second) = match order {
        Order::ClientFirst => (c, s),
        Order::ServerFirst => (s, c),
    };
    drop(first);
    ensure!(second.read(&mut b)? == 0, "linux: expected end of stream");
    drop(second);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lifecycle_of_each_system_in_each_order() {
        for order in [Order::ClientFirst, Order::ServerFirst] {
            oxtcp_lifecycles(3, order).unwrap();
            smoltcp_lifecycles(3, order).unwrap();
            linux_lifecycles(3, order).unwrap();
        }
    }
}
