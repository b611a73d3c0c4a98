//! Figure group `bulk`: one connection moves a fixed number of bytes one way in memory, both
//! stacks in one thread: oxtcp↔oxtcp (`oxtcp_mem::Pair`) against smoltcp↔smoltcp
//! (`smol_mem::SmolPair`, whose documentation lists how its setup differs from oxtcp's).
//!
//! Each cell is a link MTU and a socket buffer size (send and receive alike, the same for both
//! stacks); each run reports throughput (wall clock) and thread CPU time per KiB moved. The
//! application loop is the same for both: fill the send buffer from a fixed pattern, move
//! packets until both stacks are idle, drain the receive buffer through a 64 KiB buffer while
//! checking the bytes; repeat until all have arrived.

use std::cell::RefCell;

use anyhow::{bail, ensure, Result};
use oxtcp_core::{RecvError, SendError, StackConfig};
use smoltcp::socket::tcp;

use crate::oxtcp_mem::Pair;
use crate::report::{Better, Row};
use crate::runner::{self, Budget, System};
use crate::smol_mem::SmolPair;

/// The server's port in both pairs.
const PORT: u16 = 5001;
/// The application's read buffer.
const READ_CHUNK: usize = 64 * 1024;
/// Link MTUs of the cells.
const MTUS: [usize; 2] = [1500, 65535];
/// The oxtcp pair with software segmentation on its link.
pub const OXTCP_GSO: &str = "oxtcp+gso";
/// Socket buffer sizes of the cells.
const BUFFERS: [usize; 2] = [64 * 1024, 1024 * 1024];

/// Every figure of the group.
pub fn run(budget: &Budget) -> Result<Vec<Row>> {
    let total = budget.pick(1024, 256) << 20;
    let mut rows = Vec::new();
    for mtu in MTUS {
        for buffer in BUFFERS {
            rows.extend(cell(budget, mtu, buffer, total)?);
        }
    }
    Ok(rows)
}

/// The two figures of one cell, each with an oxtcp and a smoltcp row, and below 64 KiB of MTU
/// an `oxtcp+gso` row too: the oxtcp pair with software segmentation on its link
/// (`Pair::with_gso`). At an MTU of 64 KiB a segment is already as large as a super-segment
/// may be, so there it would be the same as plain oxtcp.
fn cell(budget: &Budget, mtu: usize, buffer: usize, total: usize) -> Result<Vec<Row>> {
    let name = format!("bulk MTU {mtu} buf {}", size_name(buffer));
    let gso = mtu < 65535;
    let cpu: [RefCell<Vec<f64>>; 3] = Default::default();
    let oxtcp = |gso: bool, cpu: &RefCell<Vec<f64>>| {
        let t = oxtcp_transfer(mtu, buffer, total, gso)?;
        cpu.borrow_mut().push(t.cpu_ns_per_kib());
        Ok(t.gbit_per_s())
    };
    let mut systems = vec![System::new("oxtcp", || oxtcp(false, &cpu[0]))];
    if gso {
        systems.push(System::new(OXTCP_GSO, || oxtcp(true, &cpu[1])));
    }
    systems.push(System::new("smoltcp", || {
        let t = smoltcp_transfer(mtu, buffer, total)?;
        cpu[2].borrow_mut().push(t.cpu_ns_per_kib());
        Ok(t.gbit_per_s())
    }));
    let mut rows = runner::alternate(
        budget,
        &format!("{name}: throughput"),
        "Gbit/s",
        Better::Higher,
        systems,
    )?;
    let cpu_figure = format!("{name}: CPU per KiB");
    let [plain, with_gso, smol] = cpu;
    for (system, runs) in [("oxtcp", plain), (OXTCP_GSO, with_gso), ("smoltcp", smol)] {
        let runs = runs.into_inner();
        if !runs.is_empty() {
            rows.push(Row::new(&cpu_figure, system, "ns/KiB", Better::Lower, runs));
        }
    }
    Ok(rows)
}

/// `64 KiB`, `1 MiB`.
fn size_name(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}

/// One measured transfer.
#[derive(Clone, Copy, Debug)]
pub struct Transfer {
    pub bytes: usize,
    /// Wall-clock seconds.
    pub wall: f64,
    /// Thread CPU seconds.
    pub cpu: f64,
}

impl Transfer {
    pub fn gbit_per_s(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.wall / 1e9
    }

    pub fn cpu_ns_per_kib(&self) -> f64 {
        self.cpu * 1e9 / (self.bytes as f64 / 1024.0)
    }
}

/// The byte stream sent: byte `i` is `PATTERN[i % len]`; the length is prime so the pattern
/// does not line up with buffer or segment sizes.
struct Pattern {
    bytes: Vec<u8>,
}

impl Pattern {
    const LEN: usize = 65521;

    fn new() -> Pattern {
        let bytes = (0..Self::LEN).map(|i| (i * 7 + i / 256) as u8).collect();
        Pattern { bytes }
    }

    /// The stream from byte `pos` on, at most `max` bytes (less at the pattern's end).
    fn at(&self, pos: usize, max: usize) -> &[u8] {
        let rest = &self.bytes[pos % Self::LEN..];
        &rest[..rest.len().min(max)]
    }
}

/// What the receiver checks: every byte, compared with the byte sent at its place in the
/// stream. The comparison is a `memcmp` against the pattern, which weighs little in the
/// figures: 4% of the samples in a profile of `bulk --quick`, where a running sum of the bytes
/// (the first version) took 22%.
struct Check<'a> {
    pattern: &'a Pattern,
    received: usize,
}

impl<'a> Check<'a> {
    fn new(pattern: &'a Pattern) -> Check<'a> {
        Check {
            pattern,
            received: 0,
        }
    }

    fn take(&mut self, mut chunk: &[u8]) -> Result<()> {
        while !chunk.is_empty() {
            let expected = self.pattern.at(self.received, chunk.len());
            let (head, rest) = chunk.split_at(expected.len());
            ensure!(
                head == expected,
                "bytes {}..{} are not the ones sent",
                self.received,
                self.received + head.len()
            );
            self.received += head.len();
            chunk = rest;
        }
        Ok(())
    }

    fn finish(&self, total: usize) -> Result<()> {
        ensure!(
            self.received == total,
            "received {} bytes of {total}",
            self.received
        );
        Ok(())
    }
}

/// `total` bytes from A to B through a fresh oxtcp pair, its link segmenting in software if
/// `gso` (`Pair::with_gso`); only the transfer is timed, not the handshake.
#[inline(never)]
pub fn oxtcp_transfer(mtu: usize, buffer: usize, total: usize, gso: bool) -> Result<Transfer> {
    let cfg = StackConfig {
        mtu,
        recv_buffer: buffer,
        send_buffer: buffer,
        ..Default::default()
    };
    let mut p = if gso {
        Pair::with_gso(&cfg)
    } else {
        Pair::new(&cfg)
    };
    let listener = p.listen(PORT, 16)?;
    let (c, s) = p.connect(PORT, listener)?;
    let pattern = Pattern::new();
    let mut check = Check::new(&pattern);
    let mut chunk = vec![0u8; READ_CHUNK];
    let ((), wall, cpu) = runner::timed(|| {
        let mut sent = 0;
        while check.received < total {
            while sent < total {
                match p.a.send(c, pattern.at(sent, total - sent)) {
                    Ok(0) | Err(SendError::WouldBlock) => break,
                    Ok(n) => sent += n,
                    Err(e) => bail!("oxtcp send: {e}"),
                }
            }
            p.pump();
            loop {
                match p.b.recv(s, &mut chunk) {
                    Ok(0) => bail!("oxtcp: end of stream after {} bytes", check.received),
                    Ok(n) => check.take(&chunk[..n])?,
                    Err(RecvError::WouldBlock) => break,
                    Err(e) => bail!("oxtcp recv: {e}"),
                }
            }
        }
        Ok(())
    })?;
    check.finish(total)?;
    p.check_link()?;
    Ok(Transfer {
        bytes: total,
        wall,
        cpu,
    })
}

/// `total` bytes from A to B through a fresh smoltcp pair; only the transfer is timed.
#[inline(never)]
pub fn smoltcp_transfer(mtu: usize, buffer: usize, total: usize) -> Result<Transfer> {
    let mut p = SmolPair::new(mtu);
    let c = p.a.add_tcp(buffer, buffer);
    let s = p.b.add_tcp(buffer, buffer);
    p.b.tcp(s).listen(PORT)?;
    p.connect(c, 49152, PORT)?;
    p.pump();
    ensure!(
        p.a.tcp(c).state() == tcp::State::Established
            && p.b.tcp(s).state() == tcp::State::Established,
        "smoltcp handshake did not complete"
    );
    let pattern = Pattern::new();
    let mut check = Check::new(&pattern);
    let mut chunk = vec![0u8; READ_CHUNK];
    let ((), wall, cpu) = runner::timed(|| {
        let mut sent = 0;
        while check.received < total {
            while sent < total {
                match p.a.tcp(c).send_slice(pattern.at(sent, total - sent)) {
                    Ok(0) => break,
                    Ok(n) => sent += n,
                    Err(e) => bail!("smoltcp send: {e}"),
                }
            }
            p.pump();
            loop {
                match p.b.tcp(s).recv_slice(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => check.take(&chunk[..n])?,
                    Err(e) => bail!("smoltcp recv after {} bytes: {e}", check.received),
                }
            }
        }
        Ok(())
    })?;
    check.finish(total)?;
    Ok(Transfer {
        bytes: total,
        wall,
        cpu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_pairs_move_a_mebibyte_intact() {
        for (mtu, buffer) in [(1500, 64 * 1024), (65535, 1 << 20)] {
            let t = oxtcp_transfer(mtu, buffer, 1 << 20, false).unwrap();
            assert_eq!(t.bytes, 1 << 20);
            let t = smoltcp_transfer(mtu, buffer, 1 << 20).unwrap();
            assert_eq!(t.bytes, 1 << 20);
        }
    }

    #[test]
    fn check_takes_the_stream_in_any_chunks_and_nothing_else() {
        let p = Pattern::new();
        let n = 3 * Pattern::LEN + 1234;
        let stream: Vec<u8> = (0..n).map(|i| p.bytes[i % Pattern::LEN]).collect();
        let mut check = Check::new(&p);
        for chunk in stream.chunks(70_000) {
            check.take(chunk).unwrap();
        }
        check.finish(n).unwrap();
        assert!(Check::new(&p).take(&stream[1..10]).is_err());
        let mut bad = stream[..100_000].to_vec();
        bad[70_000] ^= 1;
        assert!(Check::new(&p).take(&bad).is_err());
    }
}
