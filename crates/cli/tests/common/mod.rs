//! The rig the interop tests share: a private network namespace per test, child processes that
//! are bounded in time and always killed and reaped, readiness by polling their output, and
//! readers for `ss -tan`, `oxtcp ss` and oxtcp's JSON Lines trace.
//!
//! Every child runs under coreutils `timeout`, so even if this process dies without running
//! its destructors nothing it started outlives its bound. The namespace is deleted when the
//! [`Rig`] is dropped, on every path, panics included.

#![allow(dead_code)]

pub mod py;

use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use oxtcp::netns::{unavailable, Namespace};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The binary under test.
pub const OXTCP: &str = env!("CARGO_BIN_EXE_oxtcp");

/// The TUN's kernel side, and oxtcp's address next to it (serve's and connect's default).
pub const KERNEL4: &str = "198.18.0.1";
pub const OXTCP4: &str = "198.18.0.2";
pub const NET4: &str = "198.18.0.1/24";
pub const KERNEL6: &str = "fd00:198:18::1";
pub const OXTCP6: &str = "fd00:198:18::2";
pub const NET6: &str = "fd00:198:18::1/64";

/// How long a started server may take to say it is ready.
pub const READY: Duration = Duration::from_secs(20);
/// Wall-clock bound on a long-running child (serve, a server), enforced by `timeout`.
pub const LONG: u64 = 150;

/// The body `serve --mode http` sends: this pattern repeated and cut to length.
pub const BODY_PATTERN: &[u8; 63] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n";

/// One test's namespace and scratch directory.
pub struct Rig {
    pub ns: Namespace,
    pub dir: PathBuf,
}

impl Rig {
    /// A fresh namespace, or `None` (after printing why) where namespaces cannot be made and
    /// this is not CI. Under CI (`CI=true`) that is a failure instead.
    pub fn new(name: &str) -> Option<Rig> {
        if let Some(why) = unavailable() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("the interop tests must run in CI, but: {why}");
            }
            println!("skipped: {why}");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("oxtcp-interop-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the test's scratch directory");
        let ns = Namespace::create(&format!("oxi-{name}")).expect("create a network namespace");
        Some(Rig { ns, dir })
    }

    /// `prog` inside the namespace, killed after `secs` (then SIGKILLed 5 s later).
    pub fn cmd(&self, secs: u64, prog: &str) -> Command {
        let mut c = self.ns.command("timeout");
        c.args(["-k", "5", &secs.to_string(), prog]);
        c
    }

    /// `oxtcp ARGS...` inside the namespace, bounded by `secs`.
    pub fn oxtcp(&self, secs: u64) -> Command {
        self.cmd(secs, OXTCP)
    }

    /// A Python program (source text) inside the namespace, unbuffered, bounded by `secs`.
    pub fn python(&self, secs: u64, source: &str) -> Command {
        let mut c = self.cmd(secs, "python3");
        c.args(["-u", "-c", source]);
        c
    }

    /// A path in the test's scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The control socket of the oxtcp on TUN `tun` (in the scratch directory, so tests
    /// never meet each other's or a real /run/oxtcp).
    pub fn control(&self, tun: &str) -> PathBuf {
        self.path(&format!("{tun}.sock"))
    }

    /// Start `oxtcp serve --tun TUN --port PORT ARGS...` and wait for its banner.
    pub fn serve(&self, tun: &str, port: u16, args: &[&str]) -> Proc {
        let mut c = self.oxtcp(LONG);
        c.args([
            "serve",
            "--tun",
            tun,
            "--port",
            &port.to_string(),
            "--control",
        ])
        .arg(self.control(tun))
        .args(args);
        let p = Proc::spawn(&format!("oxtcp serve on {tun}"), &mut c);
        p.wait_stderr("oxtcp: serving", READY);
        p
    }

    /// `oxtcp connect TARGET --tun TUN --tun-addr NET4 ARGS...` (not yet waited for).
    pub fn connect(&self, secs: u64, target: &str, tun: &str, args: &[&str]) -> Command {
        let mut c = self.oxtcp(secs);
        c.args([
            "connect",
            target,
            "--tun",
            tun,
            "--tun-addr",
            NET4,
            "--control",
        ])
        .arg(self.control(tun))
        .args(args);
        c
    }

    /// Let the kernel bind servers to the TUN's address before the TUN exists: `oxtcp
    /// connect` creates its TUN only when it starts, after the server must be listening.
    pub fn allow_nonlocal_bind(&self) {
        let out = run(
            "sysctl",
            self.cmd(10, "sysctl")
                .arg("-qw")
                .arg("net.ipv4.ip_nonlocal_bind=1"),
            Duration::from_secs(20),
        );
        assert!(out.status.success(), "sysctl failed: {}", out.stderr);
    }

    /// The kernel's TCP sockets in the namespace, from `ss -tan`.
    pub fn kernel_sockets(&self) -> Vec<KernelSocket> {
        let out = run(
            "ss -tan",
            self.cmd(10, "ss").arg("-tan"),
            Duration::from_secs(20),
        );
        assert!(out.status.success(), "ss -tan failed: {}", out.stderr);
        out.stdout
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() >= 5).then(|| KernelSocket {
                    state: f[0].to_string(),
                    local: f[3].to_string(),
                    peer: f[4].to_string(),
                })
            })
            .collect()
    }

    /// Poll `oxtcp ss --json` on TUN `tun`'s control socket until `pick` finds a row, or
    /// panic after `within`.
    pub fn oxtcp_ss_until(
        &self,
        tun: &str,
        within: Duration,
        pick: impl Fn(&Value) -> bool,
    ) -> (Vec<Value>, Value) {
        let deadline = Instant::now() + within;
        loop {
            let rows = oxtcp_ss_json(&self.control(tun));
            if let Some(r) = rows.iter().find(|r| pick(r)) {
                return (rows.clone(), r.clone());
            }
            assert!(
                Instant::now() < deadline,
                "oxtcp ss never showed the row wanted; last answer: {rows:#?}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
        // The Namespace field is dropped after this, deleting the namespace.
    }
}

/// One line of `ss -tan`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSocket {
    pub state: String,
    pub local: String,
    pub peer: String,
}

/// `oxtcp ss --json --control PATH` (run outside the namespace: it only needs the socket).
pub fn oxtcp_ss_json(control: &Path) -> Vec<Value> {
    let out = oxtcp_ss(control, &["--json"]);
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

/// `oxtcp ss --control PATH ARGS...`, which must succeed.
pub fn oxtcp_ss(control: &Path, args: &[&str]) -> Output {
    let mut c = Command::new("timeout");
    c.args(["-k", "5", "10", OXTCP, "ss", "--control"])
        .arg(control)
        .args(args);
    let out = run("oxtcp ss", &mut c, Duration::from_secs(20));
    assert!(out.status.success(), "oxtcp ss failed: {}", out.stderr);
    out
}

/// A finished command's status and output.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Run `cmd` to completion with stdin at EOF; panic if it runs past `within`.
pub fn run(name: &str, cmd: &mut Command, within: Duration) -> Output {
    let mut p = Proc::spawn(name, cmd);
    p.close_stdin();
    p.finish(within)
}

/// What a reader thread has gathered: the bytes so far, and whether the stream has ended.
type Gathered = (Mutex<(Vec<u8>, bool)>, Condvar);

/// Output of a child, gathered by a thread as it arrives.
#[derive(Clone, Default)]
struct Capture {
    inner: Arc<Gathered>,
}

impl Capture {
    fn start(name: String, mut r: impl Read + Send + 'static) -> Capture {
        let c = Capture::default();
        let inner = c.inner.clone();
        thread::Builder::new()
            .name(name)
            .spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    let n = r.read(&mut buf).unwrap_or(0);
                    let (lock, cond) = &*inner;
                    let mut g = lock.lock().unwrap_or_else(|e| e.into_inner());
                    if n == 0 {
                        g.1 = true;
                        cond.notify_all();
                        return;
                    }
                    g.0.extend_from_slice(&buf[..n]);
                    cond.notify_all();
                }
            })
            .expect("spawn a reader thread");
        c
    }

    fn text(&self) -> String {
        let g = self.inner.0.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&g.0).into_owned()
    }

    /// Wait until `pred` holds on the text so far or the stream ends or `deadline` passes.
    fn wait(&self, deadline: Instant, pred: impl Fn(&str) -> bool) -> (bool, String) {
        let (lock, cond) = &*self.inner;
        let mut g = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let text = String::from_utf8_lossy(&g.0).into_owned();
            if pred(&text) {
                return (true, text);
            }
            let now = Instant::now();
            if g.1 || now >= deadline {
                return (false, text);
            }
            g = cond
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// A child process that is killed and reaped when dropped: SIGINT to its process group, then
/// SIGKILL if it has not gone within 3 s.
pub struct Proc {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<Capture>,
    raw_stdout: Option<ChildStdout>,
    stderr: Capture,
    status: Option<ExitStatus>,
}

impl Proc {
    /// Start `cmd` in a process group of its own, stdin piped, stdout and stderr captured.
    pub fn spawn(name: &str, cmd: &mut Command) -> Proc {
        Proc::start(name, cmd, true)
    }

    /// Like [`Proc::spawn`], but stdout is left for [`Proc::take_stdout`] (for bulk data).
    pub fn spawn_raw_stdout(name: &str, cmd: &mut Command) -> Proc {
        Proc::start(name, cmd, false)
    }

    fn start(name: &str, cmd: &mut Command, capture_stdout: bool) -> Proc {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let out = child.stdout.take().expect("piped stdout");
        let (stdout, raw_stdout) = if capture_stdout {
            (Some(Capture::start(format!("{name} stdout"), out)), None)
        } else {
            (None, Some(out))
        };
        let stderr = Capture::start(
            format!("{name} stderr"),
            child.stderr.take().expect("piped stderr"),
        );
        Proc {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            stdout,
            raw_stdout,
            stderr,
            status: None,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The child's stdout, for a spawn_raw_stdout child.
    pub fn take_stdout(&mut self) -> ChildStdout {
        self.raw_stdout
            .take()
            .expect("stdout not captured, and taken once")
    }

    pub fn stdout(&self) -> String {
        self.stdout.as_ref().map(Capture::text).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    fn describe(&self) -> String {
        format!(
            "{}: stdout:\n{}\nstderr:\n{}",
            self.name,
            self.stdout(),
            self.stderr()
        )
    }

    /// Write to the child's stdin.
    pub fn write_stdin(&mut self, data: &[u8]) {
        let w = self.stdin.as_mut().expect("stdin still open");
        w.write_all(data)
            .and_then(|_| w.flush())
            .unwrap_or_else(|e| panic!("{}: writing its stdin: {e}", self.name));
    }

    /// Write `data` to stdin from a thread (so a child that echoes cannot deadlock us), then
    /// close it.
    pub fn feed_stdin(&mut self, data: Vec<u8>) {
        let mut w = self.stdin.take().expect("stdin still open");
        thread::spawn(move || {
            let _ = w.write_all(&data);
        });
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Wait for a line of stdout containing `needle`; returns that line.
    pub fn wait_stdout(&self, needle: &str, within: Duration) -> String {
        let cap = self.stdout.as_ref().expect("stdout captured");
        self.wait_line(cap, "stdout", needle, within)
    }

    /// Wait for a line of stderr containing `needle`; returns that line.
    pub fn wait_stderr(&self, needle: &str, within: Duration) -> String {
        self.wait_line(&self.stderr, "stderr", needle, within)
    }

    fn wait_line(&self, cap: &Capture, which: &str, needle: &str, within: Duration) -> String {
        let (found, text) = cap.wait(Instant::now() + within, |t| {
            t.lines().any(|l| l.contains(needle)) && t.ends_with('\n')
        });
        assert!(
            found,
            "{} never wrote {needle:?} on {which} within {within:?}\n{}",
            self.name,
            self.describe()
        );
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_default()
            .to_string()
    }

    /// Send `sig` to the child (the `timeout` wrapper passes SIGINT and SIGTERM on).
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill with a pid we spawned and have not reaped.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    /// SIGINT (a graceful stop for serve and connect), then wait as [`Proc::finish`].
    pub fn interrupt(&mut self, within: Duration) -> Output {
        self.signal(libc::SIGINT);
        self.finish(within)
    }

    /// Wait for the child to exit; panic (the Drop then kills it) if it runs past `within`.
    /// Returns its status and everything it wrote.
    pub fn finish(&mut self, within: Duration) -> Output {
        let deadline = Instant::now() + within;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                Ok(None) => panic!(
                    "{} still running after {within:?}\n{}",
                    self.name,
                    self.describe()
                ),
                Err(e) => panic!("{}: wait: {e}", self.name),
            }
        };
        self.status = Some(status);
        // The pipes close when the process group is gone; give the readers a moment.
        let end = Instant::now() + Duration::from_secs(5);
        if let Some(c) = &self.stdout {
            c.wait(end, |_| false);
        }
        self.stderr.wait(end, |_| false);
        Output {
            status,
            stdout: self.stdout(),
            stderr: self.stderr(),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        let pgid = self.pid();
        // SAFETY: signalling the process group we created for this child.
        unsafe {
            libc::kill(-pgid, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: as above.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// Exactly one line of text (a trailing newline allowed).
pub fn is_one_line(s: &str) -> bool {
    let t = s.strip_suffix('\n').unwrap_or(s);
    !t.is_empty() && !t.contains('\n')
}

/// SHA-256 of everything `r` yields, and how many bytes that was.
pub fn sha256_of(mut r: impl Read) -> (String, u64) {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                h.update(&buf[..k]);
                n += k as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("reading a child's output: {e}"),
        }
    }
    (hex(&h.finalize()), n)
}

/// SHA-256 of the first `len` bytes of `serve --mode http`'s body.
pub fn http_body_sha256(len: u64) -> String {
    let block: Vec<u8> = BODY_PATTERN.repeat(1024);
    let mut h = Sha256::new();
    let mut left = len;
    while left > 0 {
        let k = left.min(block.len() as u64) as usize;
        h.update(&block[..k]);
        left -= k as u64;
    }
    hex(&h.finalize())
}

/// `len` pseudo-random bytes from `seed` (xorshift64*), deterministic across runs.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The state changes of one connection in oxtcp's JSON Lines trace, as a chain
/// `[first from, to, to, ...]`. `remote` is the peer's `ip:port` as oxtcp sees it.
pub fn trace_states(trace: &Path, remote: &str) -> Vec<String> {
    let text = fs::read_to_string(trace).unwrap_or_default();
    let mut chain = Vec::new();
    // The last line may be half written; only whole lines count.
    for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
        let e: Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("trace line is not JSON: {line:?}: {err}"));
        if e["kind"] != "state" || e["remote"] != remote {
            continue;
        }
        if chain.is_empty() {
            chain.push(e["from"].as_str().unwrap_or("?").to_string());
        }
        chain.push(e["to"].as_str().unwrap_or("?").to_string());
    }
    chain
}

/// Poll the trace until the connection to `remote` reaches `last`; its whole chain then.
pub fn trace_states_until(trace: &Path, remote: &str, last: &str, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let chain = trace_states(trace, remote);
        if chain.last().map(String::as_str) == Some(last) {
            return chain;
        }
        assert!(
            Instant::now() < deadline,
            "oxtcp's trace never showed {remote} reaching {last} within {within:?}; so far: {chain:?}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// The counts in a fault summary line `faults: dropped X in, Y out; ...`.
pub fn fault_drops(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.contains("faults: dropped "))
        .unwrap_or_else(|| panic!("no fault summary line in:\n{stderr}"));
    let rest = line.split("faults: dropped ").nth(1).unwrap_or_default();
    let nums: Vec<u64> = rest
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(2)
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(nums.len(), 2, "cannot read the fault summary {line:?}");
    (nums[0], nums[1])
}

/// Throughput in MB/s (10^6 bytes) for `bytes` moved in `d`.
pub fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}
