//! The kernel's end of a tun-group transfer: std::net sockets, run on a thread inside one of
//! the group's namespaces (`Netns::enter`). Each call is bounded in bytes and by a deadline,
//! and returns how long it took and the CPU its thread used (user + system).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::runner::thread_cpu_ns;

/// One side of one transfer.
#[derive(Clone, Copy, Debug)]
pub struct Transfer {
    /// Payload bytes moved (excluding any HTTP head).
    pub bytes: u64,
    /// From the connect (or accept) to the end.
    pub secs: f64,
    /// CPU time of the thread over the same span.
    pub cpu_s: f64,
}

impl Transfer {
    pub fn gbps(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.secs / 1e9
    }
}

const CHUNK: usize = 256 * 1024;

fn connect(addr: SocketAddr, deadline: Instant) -> Result<TcpStream> {
    // A server that serves one connection at a time refuses while it finishes the last.
    for _ in 0..1000 {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == ErrorKind::ConnectionRefused && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(10))
            }
            Err(e) => return Err(e).with_context(|| format!("connect {addr}")),
        }
    }
    bail!("connect {addr}: refused 1000 times")
}

fn limits(s: &TcpStream, limit: Duration) -> Result<()> {
    s.set_read_timeout(Some(limit))?;
    s.set_write_timeout(Some(limit))?;
    Ok(())
}

/// Read until EOF; the byte count.
fn drain(s: &mut TcpStream, deadline: Instant, cap: u64) -> Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    loop {
        if Instant::now() > deadline {
            bail!("transfer over time after {got} bytes");
        }
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(got);
        }
        got += n as u64;
        if got > cap {
            bail!("more than {cap} bytes arrived");
        }
    }
}

/// Write `bytes` of a repeating pattern.
fn fill(s: &mut TcpStream, bytes: u64, deadline: Instant) -> Result<()> {
    let buf: Vec<u8> = (0..CHUNK).map(|i| (i % 251) as u8).collect();
    let mut left = bytes;
    while left > 0 {
        if Instant::now() > deadline {
            bail!("transfer over time with {left} bytes still to send");
        }
        let n = left.min(CHUNK as u64) as usize;
        s.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// The kernel receives: connect to `addr`, send `request` (an HTTP GET, or nothing), read to
/// EOF. `head` bytes of the stream are not payload; at least `want` payload bytes must come.
pub fn pull(
    addr: SocketAddr,
    request: &[u8],
    head: u64,
    want: u64,
    limit: Duration,
) -> Result<Transfer> {
    let deadline = Instant::now() + limit;
    let cpu0 = thread_cpu_ns();
    let t0 = Instant::now();
    let mut s = connect(addr, deadline)?;
    limits(&s, limit)?;
    s.write_all(request)?;
    let got = drain(&mut s, deadline, want + head + 4096)?;
    let secs = t0.elapsed().as_secs_f64();
    let cpu_s = (thread_cpu_ns() - cpu0) as f64 / 1e9;
    if got < want + head {
        bail!("short transfer from {addr}: {got} of {} bytes", want + head);
    }
    Ok(Transfer {
        bytes: want,
        secs,
        cpu_s,
    })
}

/// The kernel sends: connect to `addr`, write `bytes`, shut down the write side and wait for
/// the peer's FIN, which a discard server sends once it has read everything.
pub fn push(addr: SocketAddr, bytes: u64, limit: Duration) -> Result<Transfer> {
    let deadline = Instant::now() + limit;
    let cpu0 = thread_cpu_ns();
    let t0 = Instant::now();
    let mut s = connect(addr, deadline)?;
    limits(&s, limit)?;
    fill(&mut s, bytes, deadline)?;
    s.shutdown(Shutdown::Write)?;
    drain(&mut s, deadline, 1 << 20)?;
    Ok(Transfer {
        bytes,
        secs: t0.elapsed().as_secs_f64(),
        cpu_s: (thread_cpu_ns() - cpu0) as f64 / 1e9,
    })
}

/// The kernel as a discard server: accept one connection on `l`, read `bytes` to EOF, close.
pub fn accept_drain(l: &TcpListener, bytes: u64, limit: Duration) -> Result<Transfer> {
    let deadline = Instant::now() + limit;
    l.set_nonblocking(true)?;
    let mut s = loop {
        match l.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_micros(200))
            }
            Err(e) => return Err(e).context("accept"),
        }
    };
    let cpu0 = thread_cpu_ns();
    let t0 = Instant::now();
    s.set_nonblocking(false)?;
    limits(&s, limit)?;
    let got = drain(&mut s, deadline, bytes)?;
    let t = Transfer {
        bytes: got,
        secs: t0.elapsed().as_secs_f64(),
        cpu_s: (thread_cpu_ns() - cpu0) as f64 / 1e9,
    };
    if got != bytes {
        bail!("discard server got {got} of {bytes} bytes");
    }
    Ok(t)
}
