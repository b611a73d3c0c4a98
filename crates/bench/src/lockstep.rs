//! A diagnostic, not a figure of the suite: `oxtcp-bench __lockstep K N` runs N of the
//! lifecycle group's lifecycles (client closes first) through one oxtcp pair, K at a time in
//! step: K connects, one pump, K accepts, K requests, and so on. With K = 1 it is the
//! lifecycle figure's loop; with K > 1 each stretch of code runs K times before the next,
//! so it stays in the instruction cache, while the instructions per lifecycle barely change.
//! Comparing the two, alternated, tells what fetching code costs a lifecycle in time
//! (`insns` gives the simulated misses of both: run the child under callgrind). Prints the
//! wall-clock nanoseconds per lifecycle.

use std::net::SocketAddr;

use anyhow::{bail, ensure, Context, Result};
use oxtcp_core::StackConfig;

use crate::oxtcp_mem::{Pair, B_IP};
use crate::runner;

/// The subcommand.
pub const CMD: &str = "__lockstep";

const PORT: u16 = 80;

/// `n` lifecycles, `k` at a time; the pair afterwards and the wall-clock seconds. Never
/// inlined, so that callgrind can collect inside it (`--toggle-collect=*lockstep::lifecycles*`).
#[inline(never)]
fn lifecycles(k: usize, n: usize) -> Result<(Pair, f64)> {
    // Each lifecycle leaves the client's port in TIME-WAIT for the rest of the run.
    ensure!(
        (1..=4096).contains(&k) && n <= 60_000,
        "K from 1 to 4096, N at most 60000"
    );
    let cfg = StackConfig {
        ephemeral_ports: 1024..=65535,
        ..Default::default()
    };
    let mut p = Pair::new(&cfg);
    let listener = p.listen(PORT, 4096)?;
    let mut b = [0u8; 1];
    let ((), wall, _cpu) = runner::timed(|| {
        for _ in 0..n / k {
            let mut clients = Vec::with_capacity(k);
            for _ in 0..k {
                let now = p.now();
                clients.push(p.a.connect(now, SocketAddr::new(B_IP, PORT))?);
            }
            p.pump();
            let mut servers = Vec::with_capacity(k);
            for _ in 0..k {
                servers.push(p.b.accept(listener).context("accept")?);
            }
            for &c in &clients {
                ensure!(p.a.send(c, b"q")? == 1, "request not taken");
            }
            p.pump();
            for &s in &servers {
                ensure!(p.b.recv(s, &mut b)? == 1 && b == *b"q", "no request");
                ensure!(p.b.send(s, b"r")? == 1, "response not taken");
            }
            p.pump();
            for &c in &clients {
                ensure!(p.a.recv(c, &mut b)? == 1 && b == *b"r", "no response");
                let now = p.now();
                p.a.close(now, c)?;
            }
            p.pump();
            for &s in &servers {
                ensure!(p.b.recv(s, &mut b)? == 0, "no end of stream");
                let now = p.now();
                p.b.close(now, s)?;
            }
            p.pump();
        }
        Ok(())
    })?;
    Ok((p, wall))
}

/// `__lockstep K N`.
pub fn main(args: &[String]) -> Result<()> {
    let [k, n] = args else {
        bail!("usage: {CMD} K N");
    };
    let k: usize = k.parse().context("K")?;
    let n: usize = n.parse().context("N")?;
    let (_, secs) = lifecycles(k, n)?;
    let done = n / k * k;
    // "calls" for a parent that runs this under callgrind, as `insns` does its children.
    println!("calls {done}");
    println!("ns per lifecycle {:.0}", secs * 1e9 / done.max(1) as f64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lifecycle_ends_with_the_client_in_time_wait() {
        for k in [1, 4] {
            let (p, _) = lifecycles(k, 12).unwrap();
            assert_eq!(p.a.resources().time_wait, 12, "K = {k}");
            assert_eq!(p.b.connections().count(), 0, "K = {k}");
        }
        assert!(lifecycles(0, 10).is_err());
    }
}
