//! oxtcp against the Linux kernel's TCP. Each test makes a network namespace, creates a TUN
//! inside it, runs an oxtcp runtime on the TUN in this process, and runs kernel peers
//! (python3, curl) inside the namespace; no traffic leaves it. Needs root: without it the
//! tests say "skipped: <reason>" and pass, except under CI=true, where they fail.
//!
//! Every wait is bounded, every child process is killed and reaped on every path, and every
//! namespace is deleted when its test ends, failed or not (and ones left by a killed run of
//! this binary are deleted by the next).

// The HTTP client of the http_get examples, and its unit tests.
#[path = "../examples/common/mod.rs"]
mod http;

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Once};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use oxtcp::device::{FaultCounters, Faults, FaultyDevice, TunConfig, TunDevice};
use oxtcp::netns::Namespace;
use oxtcp::{Net, TcpListener, TcpStream};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

const KERNEL4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
const OXTCP4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
const KERNEL6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0x198, 0x18, 0, 0, 0, 0, 1));
const OXTCP6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0x198, 0x18, 0, 0, 0, 0, 2));
const TUN: &str = "oxt0";
const NS_PREFIX: &str = "oxtcpt";
const PORT: u16 = 8000;
const MIB: usize = 1 << 20;

/// The longest any one peer process may run, and any one socket read may wait.
const LIMIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// The rig: namespace, TUN, runtime.

#[derive(Clone, Copy, Default)]
struct Opts {
    offload: bool,
    ipv6: bool,
    faults: Option<Faults>,
}

/// The faults of the faulted tests: the same rates both ways, a fixed seed.
fn faults() -> Faults {
    Faults {
        loss: 0.05,
        dup: 0.02,
        reorder: 0.02,
        delay: Duration::from_millis(1),
        seed: 42,
    }
}

/// A namespace with a TUN (kernel side 198.18.0.1/24 and, if asked, fd00:198:18::1/64) and an
/// oxtcp runtime on it at .2 / ::2. Dropping it stops the runtime, then deletes the
/// namespace.
struct Rig {
    net: Net,
    counters: Option<Arc<FaultCounters>>,
    ns: Namespace,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.net.shutdown(Duration::from_secs(1));
    }
}

/// The rig, or None (after printing why) where namespaces cannot be made; under CI=true
/// that is a failure, since CI runs as root and must run these tests.
fn rig(opts: Opts) -> Option<Rig> {
    if let Some(why) = oxtcp::netns::unavailable() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI must run the netns tests, but: {why}");
        }
        eprintln!("skipped: {why}");
        return None;
    }
    static CLEAN: Once = Once::new();
    CLEAN.call_once(delete_stale_namespaces);

    let ns = Namespace::create(NS_PREFIX).expect("create namespace");
    let mut cfg = TunConfig::new(TUN);
    cfg.offload = opts.offload;
    cfg.addrs.push((KERNEL4, 24));
    if opts.ipv6 {
        cfg.addrs.push((KERNEL6, 64));
    }
    let tun = ns
        .run_inside(|| TunDevice::create(&cfg))
        .expect("enter namespace")
        .expect("create TUN in the namespace");
    assert_eq!(
        tun.offload(),
        opts.offload,
        "asked for offload={} but tun-rs gave offload={}: this kernel's TUN did not accept \
         the virtio-net header with TSO (IFF_VNET_HDR + TUNSETOFFLOAD)",
        opts.offload,
        tun.offload()
    );
    let mut b = Net::builder().address(OXTCP4);
    if opts.ipv6 {
        b = b.address(OXTCP6);
    }
    let (net, counters) = match opts.faults {
        None => (b.start(tun).expect("start runtime"), None),
        Some(f) => {
            let dev = FaultyDevice::new(tun, f);
            let c = dev.counters();
            (b.start(dev).expect("start runtime"), Some(c))
        }
    };
    let rig = Rig { net, counters, ns };
    if opts.ipv6 {
        rig.wait_ipv6_ready();
    }
    Some(rig)
}

impl Rig {
    /// `program` inside the namespace, with no proxy settings and no stdin. It is killed if
    /// the thread that started it ends, so even a test binary killed outright leaves no peer
    /// running (`ip netns exec` execs the program, which keeps the setting).
    fn command(&self, program: &str) -> Command {
        let mut c = self.ns.command(program);
        // SAFETY: prctl is async-signal-safe and touches only the child's own settings.
        unsafe {
            c.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        for v in [
            "http_proxy",
            "https_proxy",
            "all_proxy",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
        ] {
            c.env_remove(v);
        }
        c.stdin(Stdio::null());
        c
    }

    /// Wait (bounded) until the kernel's IPv6 address has left duplicate address detection.
    fn wait_ipv6_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = self
                .command("ip")
                .args(["-6", "addr", "show", "dev", TUN, "tentative"])
                .output()
                .expect("run ip");
            if out.status.success() && out.stdout.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "IPv6 address still tentative after 10 s"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The kernel's packet counters of the TUN: (received from oxtcp, sent to oxtcp).
    fn kernel_packets(&self) -> (u64, u64) {
        let read = |which: &str| -> u64 {
            // `ip netns exec` mounts the namespace's own /sys.
            let out = self
                .command("cat")
                .arg(format!("/sys/class/net/{TUN}/statistics/{which}_packets"))
                .output()
                .expect("run cat");
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("no {which}_packets for {TUN}"))
        };
        (read("rx"), read("tx"))
    }

    /// With offload the kernel moves the data in super-segments (TSO towards oxtcp, and
    /// oxtcp's own super-segments, which the kernel cuts, from it), so far fewer packets than
    /// MTU-sized segments; without, one each, which the TUN device coalesces before the stack.
    fn assert_segmentation(&self, what: &str, offload: bool, bytes: usize) {
        let (rx, tx) = self.kernel_packets();
        let segments = (bytes / 1460) as u64;
        let sent = self.net.stats().packets_out;
        let got = self.net.stats().packets_in;
        let kept = self.net.stats().stack.datagrams_kept;
        eprintln!(
            "{what}: kernel rx {rx} tx {tx} packets, the stack sent {sent} datagrams and took \
             {got} (after coalescing; {kept} kept whole for the application to read from), for \
             {segments} segments each way"
        );
        if offload {
            // The kernel's super-segments are large enough to be read from where they landed.
            assert!(
                kept > 0,
                "{what}: no datagram buffer was kept: every byte was copied"
            );
            assert!(
                rx < segments / 2 && tx < segments / 2,
                "{what}: offload is on but the kernel counted rx {rx} tx {tx} packets for \
                 {segments} segments each way: no TSO/GRO happened"
            );
            // The echo's data and the ACKs of what it receives: without segmentation offload
            // in the stack, the data alone would be one datagram per segment.
            assert!(
                sent < segments / 2,
                "{what}: the stack sent {sent} datagrams for {segments} segments: it built no \
                 super-segments"
            );
        } else {
            assert!(
                rx >= segments && tx >= segments,
                "{what}: plain TUN but only rx {rx} tx {tx} packets for {segments} segments"
            );
            // Software GRO: runs of the kernel's segments reach the stack as one datagram
            // (measured: 383 and 733 datagrams for 7,459 and 7,767 segments).
            assert!(
                got < tx * 3 / 4,
                "{what}: the stack took {got} datagrams for the kernel's {tx}: nothing coalesced"
            );
            // Software GSO: the stack hands runs of segments to the device at once, which
            // writes them one by one (the kernel's rx count above).
            assert!(
                sent < segments / 2,
                "{what}: the stack handed over {sent} datagrams for {segments} segments: it \
                 built no super-segments"
            );
        }
    }

    /// Both directions lost datagrams (the faulted tests' proof that faults were on).
    fn assert_faults_both_ways(&self, what: &str) {
        let c = self.counters.as_ref().expect("a faulted rig");
        let (dropped_in, dropped_out, dup, reordered, delivered) = c.snapshot();
        eprintln!(
            "{what}: faults dropped_in={dropped_in} dropped_out={dropped_out} duplicated={dup} \
             reordered={reordered} delivered={delivered}; stack drops {:?}",
            self.net.stats().stack.drops
        );
        assert!(
            dropped_in > 0 && dropped_out > 0,
            "{what}: expected drops both ways, got in={dropped_in} out={dropped_out}"
        );
        assert!(
            dup > 0 && reordered > 0,
            "{what}: no duplication or reordering"
        );
    }
}

/// Delete namespaces left by earlier runs of this binary that were killed before their
/// `Namespace` could be dropped (named `oxtcpt-<pid>-<n>` with that pid gone).
fn delete_stale_namespaces() {
    let Ok(dir) = std::fs::read_dir("/var/run/netns") else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&format!("{NS_PREFIX}-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip")
                .args(["netns", "del", &name])
                .stdin(Stdio::null())
                .status();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Child processes, temp dirs, content.

/// A child process that is killed and reaped when this goes away, on every path.
struct Proc {
    child: Child,
    what: String,
}

impl Proc {
    fn spawn(mut cmd: Command, what: &str) -> Proc {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Proc {
            child,
            what: what.to_string(),
        }
    }

    /// Wait at most `limit` for the exit; then its (small) stdout and stderr.
    fn wait(&mut self, limit: Duration) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait for child") {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "{} still running after {limit:?}",
                self.what
            );
            thread::sleep(Duration::from_millis(10));
        };
        let mut out = String::new();
        let mut err = String::new();
        if let Some(mut o) = self.child.stdout.take() {
            let _ = o.read_to_string(&mut out);
        }
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (status, out, err)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed when this goes away.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "oxtcp-netns-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Byte `offset + i` of the deterministic test content, for each `i` in `out`.
fn content(offset: u64, out: &mut [u8]) {
    for (i, b) in out.iter_mut().enumerate() {
        let p = offset + i as u64;
        // splitmix64 of the 8-byte block, then the byte within it.
        let mut z = (p / 8).wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        *b = z.to_le_bytes()[(p % 8) as usize];
    }
}

/// Feed `len` bytes of the content, in chunks, to `f`.
fn for_each_chunk(len: usize, mut f: impl FnMut(&[u8])) {
    let mut buf = vec![0u8; 256 * 1024];
    let mut off = 0;
    while off < len {
        let n = buf.len().min(len - off);
        content(off as u64, &mut buf[..n]);
        f(&buf[..n]);
        off += n;
    }
}

fn content_sha256(len: usize) -> Vec<u8> {
    let mut h = Sha256::new();
    for_each_chunk(len, |c| h.update(c));
    h.finalize().to_vec()
}

/// A body sink that hashes, for both the blocking and the async client.
#[derive(Default)]
struct Hasher {
    sha: Sha256,
    len: u64,
}

impl Hasher {
    fn done(self) -> (u64, Vec<u8>) {
        (self.len, self.sha.finalize().to_vec())
    }
}

impl Write for Hasher {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.sha.update(b);
        self.len += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncWrite for Hasher {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Write::write(self.get_mut(), b))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("tokio runtime")
}

/// Print a transfer's throughput (for `--nocapture`).
fn report(what: &str, bytes: usize, took: Duration) {
    let s = took.as_secs_f64();
    eprintln!(
        "{what}: {} bytes in {s:.2} s = {:.1} MB/s",
        bytes,
        bytes as f64 / s / 1e6
    );
}

#[derive(Clone, Copy, Debug)]
enum Api {
    Blocking,
    Tokio,
}

// ---------------------------------------------------------------------------------------
// Echo: oxtcp serves, a Python client in the namespace sends and checks every byte.

/// Sends N deterministic bytes while reading them back, compares each byte, prints "ok".
const ECHO_CLIENT: &str = r#"
import random, socket, sys, threading, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = random.Random(7).randbytes(n)
t0 = time.monotonic()
s = socket.create_connection((host, port), timeout=60)
errors = []
def send():
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    except Exception as e:
        errors.append(e)
sender = threading.Thread(target=send)
sender.start()
view, got = memoryview(data), 0
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    if view[got:got + len(b)] != b:
        sys.exit(f"echo differs within bytes {got}..{got + len(b)}")
    got += len(b)
sender.join(60)
if errors:
    sys.exit(f"send failed: {errors[0]!r}")
if got != n:
    sys.exit(f"echo ended after {got} of {n} bytes")
print(f"ok {n} {time.monotonic() - t0:.3f}")
"#;

/// Echo one connection on the blocking API; the count echoed goes to `done`.
fn echo_blocking(net: &Net, done: mpsc::Sender<io::Result<u64>>) {
    let l = TcpListener::bind(net, (Ipv4Addr::UNSPECIFIED, PORT)).expect("listen");
    thread::spawn(move || {
        let echo = || -> io::Result<u64> {
            let (mut s, _) = l.accept()?;
            s.set_read_timeout(Some(LIMIT))?;
            s.set_write_timeout(Some(LIMIT))?;
            let mut buf = vec![0u8; 65536];
            let mut total = 0;
            loop {
                let n = s.read(&mut buf)?;
                if n == 0 {
                    return Ok(total);
                }
                s.write_all(&buf[..n])?;
                total += n as u64;
            }
        };
        let _ = done.send(echo());
    });
}

/// Echo one connection on the tokio API; the count echoed goes to `done`.
fn echo_tokio(rt: &tokio::runtime::Runtime, net: &Net, done: mpsc::Sender<io::Result<u64>>) {
    let l = rt
        .block_on(oxtcp::tokio::TcpListener::bind(
            net,
            SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), PORT),
        ))
        .expect("listen");
    rt.spawn(async move {
        let echo = async {
            let (s, _) = tokio::time::timeout(LIMIT, l.accept()).await??;
            let (mut r, mut w) = tokio::io::split(s);
            let n = tokio::time::timeout(LIMIT, tokio::io::copy(&mut r, &mut w)).await??;
            w.shutdown().await?;
            Ok(n)
        };
        let _ = done.send(echo.await);
    });
}

fn echo_test(what: &str, api: Api, opts: Opts, size: usize) {
    let Some(rig) = rig(opts) else { return };
    let rt = runtime();
    let (tx, rx) = mpsc::channel();
    match api {
        Api::Blocking => echo_blocking(&rig.net, tx),
        Api::Tokio => echo_tokio(&rt, &rig.net, tx),
    }
    let mut cmd = rig.command("python3");
    cmd.args(["-c", ECHO_CLIENT, &OXTCP4.to_string(), &PORT.to_string()])
        .arg(size.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut client = Proc::spawn(cmd, "python echo client");
    let (status, out, err) = client.wait(LIMIT);
    let secs = out
        .strip_prefix("ok ")
        .and_then(|r| r.split_whitespace().nth(1))
        .and_then(|s| s.parse::<f64>().ok());
    let Some(secs) = secs.filter(|_| status.success()) else {
        panic!("{what}: python client failed ({status}): {out}{err}");
    };
    report(what, size, Duration::from_secs_f64(secs));
    let echoed = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server finished")
        .expect("server side of the echo");
    assert_eq!(echoed, size as u64, "{what}: bytes echoed");
    if opts.faults.is_some() {
        rig.assert_faults_both_ways(what);
    } else {
        rig.assert_segmentation(what, opts.offload, size);
    }
}

#[test]
fn echo_10mib_blocking_plain_tun() {
    echo_test(
        "echo blocking plain",
        Api::Blocking,
        Opts::default(),
        10 * MIB,
    );
}

#[test]
fn echo_10mib_blocking_offload_tun() {
    let opts = Opts {
        offload: true,
        ..Opts::default()
    };
    echo_test("echo blocking offload", Api::Blocking, opts, 10 * MIB);
}

#[test]
fn echo_10mib_tokio_plain_tun() {
    echo_test("echo tokio plain", Api::Tokio, Opts::default(), 10 * MIB);
}

#[test]
fn echo_10mib_tokio_offload_tun() {
    let opts = Opts {
        offload: true,
        ..Opts::default()
    };
    echo_test("echo tokio offload", Api::Tokio, opts, 10 * MIB);
}

// ---------------------------------------------------------------------------------------
// Download: oxtcp GETs a file from `python3 -m http.server` in the namespace.

/// Connect, retrying while the server is not listening yet (the kernel answers RST).
fn connect_blocking(net: &Net, to: SocketAddr) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpStream::connect(net, to) {
            Ok(s) => return s,
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                assert!(Instant::now() < deadline, "{to} refused for 10 s");
                thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("connect {to}: {e}"),
        }
    }
}

async fn connect_tokio(net: &Net, to: SocketAddr) -> oxtcp::tokio::TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout(LIMIT, oxtcp::tokio::TcpStream::connect(net, to)).await {
            Ok(Ok(s)) => return s,
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                assert!(Instant::now() < deadline, "{to} refused for 10 s");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(Err(e)) => panic!("connect {to}: {e}"),
            Err(_) => panic!("connect {to}: no answer in {LIMIT:?}"),
        }
    }
}

/// GET `url` on the chosen API; the body's length and SHA-256, and how long the GET took
/// once connected.
fn http_download(api: Api, net: &Net, url: &http::Url) -> (u64, Vec<u8>, Duration) {
    let mut sink = Hasher::default();
    let took = match api {
        Api::Blocking => {
            let s = connect_blocking(net, url.addr);
            s.set_read_timeout(Some(LIMIT)).unwrap();
            let t = Instant::now();
            http::get(&s, url, &mut sink).expect("GET");
            t.elapsed()
        }
        Api::Tokio => runtime().block_on(async {
            let mut s = connect_tokio(net, url.addr).await;
            let t = Instant::now();
            http::get_async(&mut s, url, &mut sink, LIMIT)
                .await
                .expect("GET");
            t.elapsed()
        }),
    };
    let (len, sha) = sink.done();
    (len, sha, took)
}

fn download_test(what: &str, api: Api, opts: Opts, size: usize) {
    let Some(rig) = rig(opts) else { return };
    let dir = TempDir::new();
    let mut file = io::BufWriter::new(std::fs::File::create(dir.0.join("blob")).unwrap());
    for_each_chunk(size, |c| file.write_all(c).unwrap());
    file.into_inner().unwrap().sync_all().unwrap();
    let want = content_sha256(size);

    let mut cmd = rig.command("python3");
    cmd.args(["-m", "http.server", &PORT.to_string()])
        .args(["--bind", &KERNEL4.to_string(), "--directory"])
        .arg(&dir.0)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _server = Proc::spawn(cmd, "python http.server");

    let url = http::Url::parse(&format!("http://{KERNEL4}:{PORT}/blob")).unwrap();
    let (len, sha, took) = http_download(api, &rig.net, &url);
    report(what, size, took);
    assert_eq!(len, size as u64, "{what}: body length");
    assert!(sha == want, "{what}: body differs (SHA-256)");
    if opts.faults.is_some() {
        rig.assert_faults_both_ways(what);
    }
}

#[test]
fn download_50mib_from_python_http_server_blocking() {
    download_test(
        "download blocking",
        Api::Blocking,
        Opts::default(),
        50 * MIB,
    );
}

#[test]
fn download_50mib_from_python_http_server_tokio() {
    download_test("download tokio", Api::Tokio, Opts::default(), 50 * MIB);
}

// ---------------------------------------------------------------------------------------
// Serve: an oxtcp tokio HTTP server, downloaded by curl in the namespace.

/// Answer one GET with `size` bytes of the content and Content-Length, then close.
async fn serve_one(l: oxtcp::tokio::TcpListener, size: usize) -> io::Result<()> {
    let (mut s, _) = tokio::time::timeout(LIMIT, l.accept()).await??;
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(LIMIT, s.read(&mut buf)).await??;
        if n == 0 || req.len() > 65536 {
            return Err(io::Error::other("no complete request"));
        }
        req.extend_from_slice(&buf[..n]);
    }
    if !req.starts_with(b"GET / HTTP/1.1\r\n") {
        return Err(io::Error::other(format!(
            "unexpected request {:?}",
            String::from_utf8_lossy(&req)
        )));
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {size}\r\n\
         Connection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await?;
    let mut chunk = vec![0u8; 256 * 1024];
    let mut off = 0;
    while off < size {
        let n = chunk.len().min(size - off);
        content(off as u64, &mut chunk[..n]);
        tokio::time::timeout(LIMIT, s.write_all(&chunk[..n])).await??;
        off += n;
    }
    s.shutdown().await?;
    // Wait for curl's FIN so that nothing unread is left to turn our close into an RST.
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await;
    Ok(())
}

fn curl_test(what: &str, server: IpAddr, size: usize) {
    let opts = Opts {
        ipv6: server.is_ipv6(),
        ..Opts::default()
    };
    let Some(rig) = rig(opts) else { return };
    let rt = runtime();
    let l = rt
        .block_on(oxtcp::tokio::TcpListener::bind(
            &rig.net,
            SocketAddr::new(server, PORT),
        ))
        .expect("listen");
    let served = rt.spawn(serve_one(l, size));
    let want = content_sha256(size);

    let url = format!("http://{}/", SocketAddr::new(server, PORT));
    let mut cmd = rig.command("curl");
    cmd.args(["--silent", "--show-error", "--fail", "--noproxy", "*"])
        .args(["--max-time", &LIMIT.as_secs().to_string(), "--output", "-"])
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let t = Instant::now();
    let mut curl = Proc::spawn(cmd, "curl");
    let mut body = curl.child.stdout.take().unwrap();
    // Hash curl's stdout as it comes; the pipe closes when curl exits or is killed.
    let hasher = thread::spawn(move || {
        let mut h = Hasher::default();
        io::copy(&mut body, &mut h).map(|_| h.done())
    });
    let (status, _, err) = curl.wait(LIMIT + Duration::from_secs(5));
    assert!(status.success(), "{what}: curl failed ({status}): {err}");
    let (len, sha) = hasher.join().unwrap().expect("read curl's output");
    report(what, size, t.elapsed());
    assert_eq!(len, size as u64, "{what}: body length");
    assert!(sha == want, "{what}: body differs (SHA-256)");
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(15), served).await })
        .expect("server finished")
        .expect("server task")
        .expect("server");
}

#[test]
fn curl_downloads_100mib_from_tokio_server_ipv4() {
    curl_test("curl IPv4", OXTCP4, 100 * MIB);
}

#[test]
fn curl_downloads_100mib_from_tokio_server_ipv6() {
    curl_test("curl IPv6", OXTCP6, 100 * MIB);
}

// ---------------------------------------------------------------------------------------
// The same under loss, duplication, reordering and delay in both directions.

fn faulted(offload: bool) -> Opts {
    Opts {
        offload,
        faults: Some(faults()),
        ..Opts::default()
    }
}

#[test]
fn echo_1mib_blocking_through_faults_plain_tun() {
    echo_test(
        "echo blocking faulted plain",
        Api::Blocking,
        faulted(false),
        MIB,
    );
}

#[test]
fn echo_1mib_tokio_through_faults_offload_tun() {
    echo_test("echo tokio faulted offload", Api::Tokio, faulted(true), MIB);
}

#[test]
fn download_4mib_blocking_through_faults_plain_tun() {
    download_test(
        "download blocking faulted plain",
        Api::Blocking,
        faulted(false),
        4 * MIB,
    );
}

#[test]
fn download_4mib_tokio_through_faults_offload_tun() {
    download_test(
        "download tokio faulted offload",
        Api::Tokio,
        faulted(true),
        4 * MIB,
    );
}
