//! The tun group (issue 8, figure 5): bulk TCP between a stack on a TUN and the Linux kernel,
//! inside network namespaces this group creates and deletes, against kernel-to-kernel TCP
//! over a veth pair.
//!
//! Systems, each in namespaces of its own, all started before a figure and run alternately:
//! - `oxtcp`, `oxtcp+offload`: `oxtcp serve --tun oxb0 --tun-addr 198.18.0.1/24` (the release
//!   build of oxtcp-cli: `$OXTCP_BIN`, else `oxtcp` next to this binary), `--mode http` for
//!   send (the kernel GETs BYTES) and `--mode discard` for receive; `+offload` adds `--offload`.
//!   Both take `--buffer` [`BUFFER`] (1 MiB each way).
//! - `smoltcp`: `oxtcp-bench __smoltun` (src/smol_tun.rs) on the same addresses, with the same
//!   buffers.
//! - `linux veth`, `linux veth no-offload`: two namespaces joined by a veth pair, a std::net
//!   sender in one and a discard receiver in the other; `no-offload` turns TSO, GSO and GRO off
//!   on both ends with ethtool (the system is left out, with a note, without ethtool).
//!
//! The kernel end of every TUN transfer is a std::net socket on a thread of this process inside
//! the namespace (src/peer.rs), which times it: connect to the last byte (send) or to the
//! server's FIN after all data (receive). Gbit/s = payload bits / that time.
//!
//! Placement (src/cpus.rs): with two CPUs or more, every thread of the stack under test runs
//! on one CPU and the kernel end's thread on another (for linux veth, the end in the stack's
//! role and the other end), so that no two sides compete for a core and the scheduler's
//! placement does not swing a figure.
//!
//! Figures per direction: Gbit/s, the stack's CPU in % of one core over the transfer, and that
//! CPU per KiB moved (ns/KiB; most runs keep the stack near one full core, so this one tells
//! the costs apart better than the percentage).
//!
//! CPU: for oxtcp and smoltcp, the stack process's user + system time over the transfer
//! (/proc/PID/stat, 10 ms ticks) divided by the transfer's time, in % of one core; the kernel's
//! own work for the TUN's far end is not in it. For linux veth, half the CPU of the sending and
//! the receiving thread together (each thread's user + system time, CLOCK_THREAD_CPUTIME_ID),
//! over the sender's transfer time: one kernel plays both ends, and a veth runs the receiving
//! end's softirq in whichever thread is current (mostly the sender), so one thread's time alone
//! swung between 14 % and 97 % from run to run; the pair's total is steadier, and half of it is
//! one end's share. Softirq work done in ksoftirqd is in neither thread and is not counted.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::cpus;
use crate::netns::{self, Kid, Netns};
use crate::peer::{self, Transfer};
use crate::report::{Better, Row};
use crate::runner::Budget;
use crate::smol_tun;

const PORT: u16 = 5001;
/// Socket buffers, each way, of both stacks on a TUN. The kernel's own sockets grow theirs
/// to several MiB (tcp_rmem, tcp_wmem autotuning); with oxtcp's default 64 KiB the window, not
/// the stack, bounds a transfer across the TUN (receive with offloads, measured once with a
/// Python sender: 5.3 Gbit/s with 64 KiB, 11.4 with 1 MiB).
const BUFFER: usize = 1 << 20;
/// The stack's address on every TUN (the kernel's side is 198.18.0.1).
const STACK: &str = "198.18.0.2";
const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: 198.18.0.2\r\nConnection: close\r\n\r\n";
/// Longest any one transfer may take.
const LIMIT: Duration = Duration::from_secs(60);

/// Which way the bytes go, seen from the stack under test.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    /// Stack → kernel.
    Send,
    /// Kernel → stack.
    Recv,
}

impl Way {
    fn figure(self) -> &'static str {
        match self {
            Way::Send => "TUN send (stack → kernel)",
            Way::Recv => "TUN receive (kernel → stack)",
        }
    }

    fn cpu_figure(self) -> &'static str {
        match self {
            Way::Send => "TUN send: stack CPU",
            Way::Recv => "TUN receive: stack CPU",
        }
    }

    fn cost_figure(self) -> &'static str {
        match self {
            Way::Send => "TUN send: stack CPU per KiB",
            Way::Recv => "TUN receive: stack CPU per KiB",
        }
    }
}

/// One measured run: Gbit/s, the stack's CPU in % of a core, and its CPU ns per KiB moved.
type Sample = (f64, f64, f64);

fn sample(t: &Transfer, cpu_s: f64) -> Sample {
    (
        t.gbps(),
        100.0 * cpu_s / t.secs,
        cpu_s * 1e9 / (t.bytes as f64 / 1024.0),
    )
}

/// A system of a figure, with the namespaces and processes it holds until dropped.
struct Setup {
    name: &'static str,
    // Dropped in order: the process before its namespace.
    kid: Option<Kid>,
    ns: Vec<Netns>,
    listener: Option<Arc<TcpListener>>,
}

/// Run the group.
pub fn run(b: &Budget) -> Result<Vec<Row>> {
    if let Err(e) = netns::usable() {
        eprintln!("tun: skipped ({e}); it needs root, iproute2 and /dev/net/tun");
        return Ok(Vec::new());
    }
    let Some(oxtcp) = oxtcp_bin() else {
        eprintln!(
            "tun: skipped: no oxtcp binary next to oxtcp-bench; build it \
             (cargo build --release -p oxtcp-cli) or set OXTCP_BIN"
        );
        return Ok(Vec::new());
    };
    netns::sweep_stale();
    let signals = netns::SignalGuard::install();
    let ethtool = netns::run("ethtool", &["--version"]).is_ok();
    if !ethtool {
        eprintln!("tun: no ethtool, so no `linux veth no-offload` row");
    }
    let bytes: u64 = b.pick(1 << 30, 256 << 20);
    let mut rows = Vec::new();
    for way in [Way::Send, Way::Recv] {
        rows.extend(figure(b, way, bytes, &oxtcp, ethtool, &signals)?);
    }
    Ok(rows)
}

fn oxtcp_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OXTCP_BIN") {
        return Some(PathBuf::from(p));
    }
    // Next to this binary, or one folder up for a test binary in target/*/deps.
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir.join("oxtcp"), dir.parent()?.join("oxtcp")]
        .into_iter()
        .find(|p| p.exists())
}

fn figure(
    b: &Budget,
    way: Way,
    bytes: u64,
    oxtcp: &Path,
    ethtool: bool,
    signals: &netns::SignalGuard,
) -> Result<Vec<Row>> {
    let mut setups = vec![
        oxtcp_setup("oxtcp", oxtcp, way, bytes, false)?,
        oxtcp_setup("oxtcp+offload", oxtcp, way, bytes, true)?,
        smol_setup(way, bytes)?,
        veth_setup("linux veth", true)?,
    ];
    if ethtool {
        setups.push(veth_setup("linux veth no-offload", false)?);
    }
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); setups.len()];
    for _ in 0..b.runs {
        for (i, s) in setups.iter_mut().enumerate() {
            signals.check()?;
            let got =
                one(s, way, bytes).with_context(|| format!("{}: {}", way.figure(), s.name))?;
            samples[i].push(got);
        }
    }
    let mut rows = Vec::new();
    for (s, v) in setups.iter().zip(&samples) {
        let g = v.iter().map(|x| x.0).collect();
        rows.push(Row::new(way.figure(), s.name, "Gbit/s", Better::Higher, g));
    }
    for (s, v) in setups.iter().zip(&samples) {
        let c = v.iter().map(|x| x.1).collect();
        rows.push(Row::new(
            way.cpu_figure(),
            s.name,
            "% CPU",
            Better::Lower,
            c,
        ));
    }
    for (s, v) in setups.iter().zip(&samples) {
        let c = v.iter().map(|x| x.2).collect();
        rows.push(Row::new(
            way.cost_figure(),
            s.name,
            "ns/KiB",
            Better::Lower,
            c,
        ));
    }
    Ok(rows)
}

/// One transfer on `s`.
fn one(s: &mut Setup, way: Way, bytes: u64) -> Result<Sample> {
    let addr: SocketAddr = format!("{STACK}:{PORT}").parse()?;
    if let Some(l) = &s.listener {
        return veth_once(s, l.clone(), way, bytes);
    }
    let kid = s.kid.as_mut().context("no stack process")?;
    kid.alive()?;
    let pid = kid.pid();
    let head = if s.name.starts_with("oxtcp") {
        http_head(bytes).len() as u64
    } else {
        0
    };
    let request: &'static [u8] = if s.name.starts_with("oxtcp") {
        GET
    } else {
        b""
    };
    let cpu0 = netns::process_cpu_s(pid)?;
    let t: Transfer = s.ns[0].enter(move || {
        if let Some(p) = cpus::placement() {
            cpus::pin_thread(p.peer)?;
        }
        match way {
            Way::Send => peer::pull(addr, request, head, bytes, LIMIT),
            Way::Recv => peer::push(addr, bytes, LIMIT),
        }
    })?;
    let cpu = netns::process_cpu_s(pid)? - cpu0;
    Ok(sample(&t, cpu))
}

/// The head `oxtcp serve --mode http` puts before a `bytes` body for [`GET`].
fn http_head(bytes: u64) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {bytes}\r\n\
         Connection: close\r\n\r\n"
    )
}

fn oxtcp_setup(
    name: &'static str,
    bin: &Path,
    way: Way,
    bytes: u64,
    offload: bool,
) -> Result<Setup> {
    let ns = Netns::new()?;
    let control = format!("/tmp/{}.sock", ns.name);
    let mut c = ns.command(&bin.to_string_lossy());
    let size = bytes.to_string();
    c.args(["serve", "--tun", "oxb0", "--tun-addr", "198.18.0.1/24"])
        .args(["--port", &PORT.to_string(), "--http-size", &size])
        .args(["--mode", if way == Way::Send { "http" } else { "discard" }])
        .args(["--control", &control])
        .args(["--buffer", &BUFFER.to_string()]);
    if offload {
        c.arg("--offload");
    }
    if let Some(p) = cpus::placement() {
        cpus::pin_child(&mut c, p.stack);
    }
    let kid = Kid {
        child: c
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start oxtcp serve")?,
    };
    let mut s = Setup {
        name,
        kid: Some(kid),
        ns: vec![ns],
        listener: None,
    };
    // Ready once it accepts a connection (the probe is served as an empty request).
    let addr: SocketAddr = format!("{STACK}:{PORT}").parse()?;
    for _ in 0..200 {
        s.kid.as_mut().expect("just set").alive()?;
        let ok = s.ns[0].enter(move || {
            Ok(std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok())
        })?;
        if ok {
            return Ok(s);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    bail!("{name}: oxtcp serve did not start")
}

fn smol_setup(way: Way, bytes: u64) -> Result<Setup> {
    let ns = Netns::new()?;
    let exe = std::env::current_exe()?;
    let mut c = ns.command(&exe.to_string_lossy());
    c.args([
        smol_tun::CMD,
        if way == Way::Send { "send" } else { "recv" },
    ])
    .arg(bytes.to_string())
    .arg(BUFFER.to_string());
    if let Some(p) = cpus::placement() {
        cpus::pin_child(&mut c, p.stack);
    }
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start the smoltcp child")?;
    let out = child.stdout.take();
    let kid = Kid { child };
    let s = Setup {
        name: "smoltcp",
        kid: Some(kid),
        ns: vec![ns],
        listener: None,
    };
    // The child writes one line, `ready`, and nothing more; a wrong line or EOF fails.
    let mut line = String::new();
    if let Some(o) = out {
        std::io::BufRead::read_line(&mut std::io::BufReader::new(o), &mut line)?;
    }
    if line.trim() != "ready" {
        bail!("the smoltcp child did not start");
    }
    Ok(s)
}

fn veth_setup(name: &'static str, offload: bool) -> Result<Setup> {
    let a = Netns::new()?;
    let b = Netns::new()?;
    a.ip(&[
        "link", "add", "oxva", "type", "veth", "peer", "name", "oxvb", "netns", &b.name,
    ])?;
    a.ip(&["addr", "add", "198.18.1.1/24", "dev", "oxva"])?;
    b.ip(&["addr", "add", "198.18.1.2/24", "dev", "oxvb"])?;
    a.ip(&["link", "set", "oxva", "up"])?;
    b.ip(&["link", "set", "oxvb", "up"])?;
    if !offload {
        for (ns, dev) in [(&a, "oxva"), (&b, "oxvb")] {
            let mut c = ns.command("ethtool");
            c.args(["-K", dev, "tso", "off", "gso", "off", "gro", "off"]);
            let out = c.output()?;
            if !out.status.success() {
                bail!("ethtool: {}", String::from_utf8_lossy(&out.stderr).trim());
            }
        }
    }
    let l = b.enter(|| Ok(TcpListener::bind(("198.18.1.2", PORT))?))?;
    Ok(Setup {
        name,
        kid: None,
        ns: vec![a, b],
        listener: Some(Arc::new(l)),
    })
}

/// One kernel-to-kernel transfer: the receiver drains in namespace b, the sender pushes from a.
/// The end in the stack's role (the sender for `Way::Send`) gets the stack's CPU.
fn veth_once(s: &Setup, l: Arc<TcpListener>, way: Way, bytes: u64) -> Result<Sample> {
    let (tx_cpu, rx_cpu) = match (cpus::placement(), way) {
        (Some(p), Way::Send) => (Some(p.stack), Some(p.peer)),
        (Some(p), Way::Recv) => (Some(p.peer), Some(p.stack)),
        (None, _) => (None, None),
    };
    let rx = std::thread::spawn(move || {
        if let Some(cpu) = rx_cpu {
            cpus::pin_thread(cpu)?;
        }
        peer::accept_drain(&l, bytes, LIMIT)
    });
    let addr: SocketAddr = format!("198.18.1.2:{PORT}").parse()?;
    let tx = s.ns[0].enter(move || {
        if let Some(cpu) = tx_cpu {
            cpus::pin_thread(cpu)?;
        }
        peer::push(addr, bytes, LIMIT)
    });
    let rx = rx
        .join()
        .map_err(|_| anyhow::anyhow!("receiver panicked"))?;
    let (tx, rx) = (tx?, rx?);
    // Each end's share: half the CPU of both threads (see the module's note on CPU).
    Ok(sample(&tx, (tx.cpu_s + rx.cpu_s) / 2.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One 1 MiB transfer each way through `oxtcp serve` on a TUN in a fresh namespace. Only
    /// as root with `ip`, /dev/net/tun and a built `oxtcp` (or `OXTCP_BIN`); skipped otherwise.
    #[test]
    fn oxtcp_on_tun_both_ways() {
        let (Ok(()), Some(bin)) = (netns::usable(), oxtcp_bin()) else {
            eprintln!("skipped: needs root, iproute2, /dev/net/tun and an oxtcp binary");
            return;
        };
        for way in [Way::Send, Way::Recv] {
            let mut s = oxtcp_setup("oxtcp", &bin, way, 1 << 20, false).unwrap();
            let (gbps, cpu, cost) = one(&mut s, way, 1 << 20).unwrap();
            assert!(
                gbps > 0.0 && cpu >= 0.0 && cost >= 0.0,
                "{gbps} {cpu} {cost}"
            );
        }
    }
}
