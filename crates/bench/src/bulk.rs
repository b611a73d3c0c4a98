//! Figure group `bulk`: one connection moves a fixed number of bytes one way in memory, both
//! stacks in one thread: oxtcp↔oxtcp (`oxtcp_mem::Pair`) against smoltcp↔smoltcp
//! (`smol_mem::SmolPair`, whose documentation lists how its setup differs from oxtcp's).
//!
//! Each cell is a link MTU and a socket buffer size (send and receive alike, the same for both
//! stacks); each run reports throughput (wall clock) and thread CPU time per KiB moved. The
//! application loop is the same for both: fill the send buffer from a fixed pattern, move
//! packets until both stacks are idle, drain the receive buffer while checking every byte;
//! repeat until all have arrived. Every cell runs twice, with two ways of draining (`Reads`):
//! copying out through a 64 KiB buffer, and reading in place, each stack with its own call
//! for it. smoltcp's `recv` closure shows the contiguous part of its ring, and the loop calls
//! it until it shows nothing; oxtcp's `recv_with` shows every readable byte as the runs
//! they lie in.

use std::cell::RefCell;
use std::time::{Duration, Instant as StdInstant};

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
/// The oxtcp pair with software segmentation on its link and coalescing at its receiving end.
pub const OXTCP_GSO: &str = "oxtcp+gso+gro";
/// Socket buffer sizes of the cells.
const BUFFERS: [usize; 2] = [64 * 1024, 1024 * 1024];

/// Every figure of the group.
pub fn run(budget: &Budget) -> Result<Vec<Row>> {
    let total = budget.pick(1024, 256) << 20;
    let mut rows = Vec::new();
    for reads in [Reads::Copy, Reads::InPlace] {
        for mtu in MTUS {
            for buffer in BUFFERS {
                rows.extend(cell(budget, mtu, buffer, total, reads)?);
            }
        }
    }
    Ok(rows)
}

/// How the application takes the bytes it receives. Both stacks do the same with them: check
/// every byte against the stream sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reads {
    /// Copied out into the application's 64 KiB buffer (`Stack::recv`, smoltcp's
    /// `recv_slice`), then checked there.
    Copy,
    /// Checked where they lie in the stack's buffers, without a copy (`Stack::recv_with`,
    /// smoltcp's `recv` closure, as smoltcp's own `benchmark` example reads).
    InPlace,
}

/// The two figures of one cell, each with an oxtcp and a smoltcp row, and below 64 KiB of MTU
/// an `oxtcp+gso+gro` row too: the oxtcp pair with software segmentation on its link and
/// coalescing where it delivers (`Pair::with_gso`). At an MTU of 64 KiB a segment is already as large as a super-segment
/// may be, so there it would be the same as plain oxtcp.
fn cell(
    budget: &Budget,
    mtu: usize,
    buffer: usize,
    total: usize,
    reads: Reads,
) -> Result<Vec<Row>> {
    let mut name = format!("bulk MTU {mtu} buf {}", size_name(buffer));
    if reads == Reads::InPlace {
        name.push_str(", read in place");
    }
    let gso = mtu < 65535;
    let cpu: [RefCell<Vec<f64>>; 3] = Default::default();
    let oxtcp = |gso: bool, cpu: &RefCell<Vec<f64>>| {
        let t = oxtcp_transfer(mtu, buffer, total, gso, reads)?;
        cpu.borrow_mut().push(t.cpu_ns_per_kib());
        Ok(t.gbit_per_s())
    };
    let mut systems = vec![System::new("oxtcp", || oxtcp(false, &cpu[0]))];
    if gso {
        systems.push(System::new(OXTCP_GSO, || oxtcp(true, &cpu[1])));
    }
    systems.push(System::new("smoltcp", || {
        let t = smoltcp_transfer(mtu, buffer, total, reads)?;
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
    /// A mismatch `take_checked` found and `verdict` has not yet reported.
    mismatch: Option<anyhow::Error>,
}

impl<'a> Check<'a> {
    fn new(pattern: &'a Pattern) -> Check<'a> {
        Check {
            pattern,
            received: 0,
            mismatch: None,
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

    /// `take`, for a caller that cannot return the error where it reads (a closure the
    /// stack calls): the first mismatch is kept for `verdict`, and later bytes are not checked.
    fn take_checked(&mut self, chunk: &[u8]) {
        if self.mismatch.is_none() {
            self.mismatch = self.take(chunk).err();
        }
    }

    /// The first mismatch `take_checked` found, if any.
    fn verdict(&mut self) -> Result<()> {
        self.mismatch.take().map_or(Ok(()), Err)
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

/// How long a transfer may go without a byte sent or received before it is given up.
const STALL: Duration = Duration::from_secs(10);

/// Bounds a transfer loop in time: fails when no byte has moved for `STALL`. The clock is read
/// only in rounds that moved nothing.
#[derive(Default)]
struct Watch {
    progress: usize,
    idle_since: Option<StdInstant>,
}

impl Watch {
    /// A new round, with `progress` bytes sent and received so far.
    fn round(&mut self, progress: usize) -> Result<()> {
        if progress != self.progress {
            (self.progress, self.idle_since) = (progress, None);
            return Ok(());
        }
        let since = *self.idle_since.get_or_insert_with(StdInstant::now);
        ensure!(
            since.elapsed() < STALL,
            "no byte moved for {STALL:?}, {progress} bytes sent and received"
        );
        Ok(())
    }
}

/// `total` bytes from A to B through a fresh oxtcp pair, its link segmenting in software if
/// `gso` (`Pair::with_gso`), the application taking them as `reads` says; only the transfer is
/// timed, not the handshake.
#[inline(never)]
pub fn oxtcp_transfer(
    mtu: usize,
    buffer: usize,
    total: usize,
    gso: bool,
    reads: Reads,
) -> Result<Transfer> {
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
        let mut watch = Watch::default();
        while check.received < total {
            watch.round(sent + check.received)?;
            while sent < total {
                match p.a.send(c, pattern.at(sent, total - sent)) {
                    Ok(0) | Err(SendError::WouldBlock) => break,
                    Ok(n) => sent += n,
                    Err(e) => bail!("oxtcp send: {e}"),
                }
            }
            p.pump();
            loop {
                let got = match reads {
                    Reads::Copy => {
                        p.b.recv(s, &mut chunk)
                            .inspect(|&n| check.take_checked(&chunk[..n]))
                    }
                    Reads::InPlace => p.b.recv_with(s, usize::MAX, |run| check.take_checked(run)),
                };
                match got {
                    Ok(0) => bail!("oxtcp: end of stream after {} bytes", check.received),
                    Ok(_) => check.verdict()?,
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
pub fn smoltcp_transfer(mtu: usize, buffer: usize, total: usize, reads: Reads) -> Result<Transfer> {
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
        let mut watch = Watch::default();
        while check.received < total {
            watch.round(sent + check.received)?;
            while sent < total {
                match p.a.tcp(c).send_slice(pattern.at(sent, total - sent)) {
                    Ok(0) => break,
                    Ok(n) => sent += n,
                    Err(e) => bail!("smoltcp send: {e}"),
                }
            }
            p.pump();
            loop {
                let socket = p.b.tcp(s);
                let got = match reads {
                    Reads::Copy => socket
                        .recv_slice(&mut chunk)
                        .inspect(|&n| check.take_checked(&chunk[..n])),
                    Reads::InPlace => socket.recv(|run| {
                        check.take_checked(run);
                        (run.len(), run.len())
                    }),
                };
                match got {
                    Ok(0) => break,
                    Ok(_) => check.verdict()?,
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
            for reads in [Reads::Copy, Reads::InPlace] {
                let t = oxtcp_transfer(mtu, buffer, 1 << 20, false, reads).unwrap();
                assert_eq!(t.bytes, 1 << 20);
                let t = smoltcp_transfer(mtu, buffer, 1 << 20, reads).unwrap();
                assert_eq!(t.bytes, 1 << 20);
            }
        }
    }

    #[test]
    fn a_transfer_that_stops_moving_is_given_up() {
        let mut w = Watch::default();
        w.round(0).unwrap();
        w.round(10).unwrap();
        w.idle_since = Some(StdInstant::now() - STALL);
        w.round(20).expect("moved: not a stall");
        w.round(20).unwrap();
        w.idle_since = Some(StdInstant::now() - STALL);
        assert!(w.round(20).is_err(), "nothing moved for STALL");
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
