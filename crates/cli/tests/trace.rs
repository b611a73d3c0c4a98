//! `oxtcp trace` end to end: on the simulator's capture (text, `--json`, `--conn`, damaged
//! files), and on captures of real Linux-to-Linux connections that this test records with
//! tcpdump between two network namespaces joined by a veth pair (198.18.0.0/15 only).

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use oxtcp::netns::Namespace;
use oxtcp_core::State;
use oxtcp_lab::trace::{analyze, Analysis};
use serde_json::Value;

mod bin;
use bin::{oxtcp, oxtcp_env, oxtcp_on_terminal};

fn temp(name: &str) -> PathBuf {
    bin::temp_in("trace", name)
}

fn demo_pcap(name: &str) -> PathBuf {
    let path = temp(name);
    let (ok, _, err) = oxtcp(&["demo", "--pcap", path.to_str().unwrap()]);
    assert!(ok, "{err}");
    path
}

#[test]
fn trace_draws_the_demo_with_both_sides_states_and_a_summary() {
    let pcap = demo_pcap("text.pcap");
    let (ok, out, err) = oxtcp(&["trace", pcap.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("connection 1: A = 10.0.0.1:"), "{out}");
    assert!(
        out.contains("A: CLOSED → SYN-SENT → ESTABLISHED → FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT\n")
    );
    assert!(
        out.contains("B: LISTEN → SYN-RECEIVED → ESTABLISHED → CLOSE-WAIT → LAST-ACK → CLOSED\n")
    );
    assert!(out.contains("RTT at capture point 20.000 ms"), "{out}");
    assert!(out.contains("bytes: A→B 44, B→A 3000"), "{out}");
    assert!(out.contains("closed first: A   ended in TIME-WAIT: A   ended by RST: no"));
}

#[test]
fn trace_numbers_relative_or_absolute_and_colour_only_when_asked() {
    let pcap = demo_pcap("view.pcap");
    let file = pcap.to_str().unwrap();
    let (ok, rel) = oxtcp_env(&["trace", file], None);
    assert!(ok);
    assert!(
        rel.contains("(seq/ack relative to each side's ISN)"),
        "{rel}"
    );
    assert!(rel.contains(" SYN|ACK seq=0 ack=1 win="), "{rel}");
    assert!(!rel.contains("\x1b"), "piped output is plain: {rel}");
    let (ok, rel2) = oxtcp_env(&["trace", file, "--relative", "--color", "never"], None);
    assert!(ok && rel2 == rel);

    let (ok, abs) = oxtcp_env(&["trace", file, "--absolute"], None);
    assert!(ok);
    assert!(
        abs.contains("(absolute seq/ack)") && !abs.contains(" seq=0 "),
        "{abs}"
    );

    let (ok, _, err) = oxtcp(&["trace", file, "--absolute", "--relative"]);
    assert!(!ok && err.contains("cannot be used with"), "{err}");

    let (ok, always) = oxtcp_env(&["trace", file, "--color", "always"], Some("1"));
    assert!(ok);
    assert!(always.contains("\x1b[1;32m→TIME-WAIT\x1b[0m"), "{always}");

    if let Some(tty) = oxtcp_on_terminal(&["trace", file], None) {
        assert!(tty.contains("\x1b["), "no colour on a terminal");
        let off = oxtcp_on_terminal(&["trace", file], Some("yes")).unwrap();
        assert!(!off.contains("\x1b["), "NO_COLOR ignored: {off}");
    }

    // The SVG follows the same flag.
    let (rs, as_) = (temp("view-rel.svg"), temp("view-abs.svg"));
    assert!(oxtcp(&["trace", file, "--svg", rs.to_str().unwrap()]).0);
    assert!(oxtcp(&["trace", file, "--absolute", "--svg", as_.to_str().unwrap()]).0);
    let (rs, as_) = (
        std::fs::read_to_string(rs).unwrap(),
        std::fs::read_to_string(as_).unwrap(),
    );
    assert!(rs.contains("SYN seq=0 win=65535") && !as_.contains("SYN seq=0 win=65535"));
}

#[test]
fn trace_json_is_one_object_per_connection() {
    let pcap = demo_pcap("json.pcap");
    let (ok, out, err) = oxtcp(&["trace", "--json", pcap.to_str().unwrap()]);
    assert!(ok, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(lines.len(), 1);
    let c = &lines[0];
    assert_eq!(c["conn"], 1);
    assert_eq!(c["summary"]["handshake_rtt_us"], 20000);
    assert_eq!(c["summary"]["bytes"]["b_to_a"], 3000);
    assert_eq!(c["summary"]["time_wait"][0], "A");
    assert_eq!(
        c["states"]["b"].as_array().unwrap().last().unwrap(),
        "CLOSED"
    );
    assert_eq!(c["segments"].as_array().unwrap().len(), 12);
    assert_eq!(c["transitions"]["a"][0]["cause"], "connect");
}

#[test]
fn trace_conn_picks_one_and_rejects_out_of_range() {
    let pcap = demo_pcap("conn.pcap");
    let p = pcap.to_str().unwrap();
    let (ok, out, _) = oxtcp(&["trace", "--conn", "1", p]);
    assert!(ok && out.contains("connection 1:"));
    for bad in ["0", "2"] {
        let (ok, _, err) = oxtcp(&["trace", "--conn", bad, p]);
        assert!(!ok);
        assert!(
            err.contains("out of range") && err.contains("1 TCP connection"),
            "{err}"
        );
    }
}

#[test]
fn trace_names_the_offset_of_a_truncated_capture() {
    let pcap = demo_pcap("cut.pcap");
    let bytes = std::fs::read(&pcap).unwrap();
    let cut = temp("cut-short.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 7]).unwrap();
    let (ok, _, err) = oxtcp(&["trace", cut.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("byte offset"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

// ---- real Linux connections ----

/// Why the real-network tests cannot run here, if they cannot.
fn missing() -> Option<String> {
    // SAFETY: geteuid has no arguments and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root (network namespaces)".into());
    }
    for tool in ["ip", "tcpdump"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Some(format!("no `{tool}` command"));
        }
    }
    None
}

/// Skip (locally) or fail (CI) when the tools are missing; true when the test may run.
fn may_run() -> bool {
    match missing() {
        None => true,
        Some(reason) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI must run this test: {reason}")
        }
        Some(reason) => {
            println!("skipped: {reason}");
            false
        }
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A child killed and reaped on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Two namespaces joined by a veth pair: A = 198.18.0.1, B = 198.18.0.2; tcpdump on A's end.
struct Net {
    a: Namespace,
    b: Namespace,
}

impl Net {
    fn new() -> Net {
        let a = Namespace::create("oxtrace-a").expect("netns");
        let b = Namespace::create("oxtrace-b").expect("netns");
        ip(&[
            "-n",
            a.name(),
            "link",
            "add",
            "vtr0",
            "type",
            "veth",
            "peer",
            "name",
            "vtr1",
            "netns",
            b.name(),
        ]);
        for (ns, dev, addr) in [(&a, "vtr0", "198.18.0.1/24"), (&b, "vtr1", "198.18.0.2/24")] {
            ip(&["-n", ns.name(), "addr", "add", addr, "dev", dev]);
            ip(&["-n", ns.name(), "link", "set", dev, "up"]);
        }
        Net { a, b }
    }

    /// Start tcpdump on A's veth, writing `file`; returns once it says it is listening.
    fn capture(&self, file: &Path) -> Reaped {
        let log = file.with_extension("log");
        let child = self
            .a
            .command("tcpdump")
            .args(["-i", "vtr0", "-U", "--immediate-mode", "-n", "-w"])
            .arg(file)
            .arg("tcp")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start tcpdump");
        let dump = Reaped(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("listening on")
        {
            assert!(Instant::now() < deadline, "tcpdump did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        dump
    }

    /// A connected pair: (client in A, server's accepted socket in B).
    fn pair(&self, port: u16) -> (TcpStream, TcpStream) {
        let server: SocketAddr = format!("198.18.0.2:{port}").parse().unwrap();
        let listener = self
            .b
            .run_inside(|| TcpListener::bind(server))
            .unwrap()
            .expect("bind");
        let client = self
            .a
            .run_inside(|| TcpStream::connect_timeout(&server, Duration::from_secs(5)))
            .unwrap()
            .expect("connect");
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let accepted = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "accept timed out");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        accepted.set_nonblocking(false).unwrap();
        for s in [&client, &accepted] {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        (client, accepted)
    }
}

/// Stop tcpdump with SIGINT (it flushes and exits), bounded; then read its capture.
fn stop(mut dump: Reaped, file: &Path) -> Vec<Analysis> {
    // Immediate mode hands every packet over at once; a moment for the last ones.
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(dump.0.id() as i32, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while dump.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "tcpdump did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let bytes = std::fs::read(file).unwrap();
    analyze(&bytes).expect("tcpdump's capture reads").0
}

fn names(s: &[State]) -> Vec<&'static str> {
    s.iter().map(|x| x.as_str()).collect()
}

/// Every consecutive pair of states is a transition RFC 9293's diagram allows.
fn valid(seq: &[State]) -> bool {
    use State::*;
    seq.windows(2).all(|w| {
        matches!(
            (w[0], w[1]),
            (Closed, SynSent)
                | (Listen, SynReceived)
                | (SynSent, SynReceived | Established)
                | (SynReceived, Established | FinWait1 | CloseWait)
                | (Established, FinWait1 | CloseWait)
                // FIN-WAIT-1 → TIME-WAIT: a FIN that also acknowledges ours (RFC 9293 §3.10.7.4).
                | (FinWait1, FinWait2 | Closing | TimeWait)
                | (SynReceived, Listen)
                | (FinWait2 | Closing, TimeWait)
                | (CloseWait, LastAck)
                | (LastAck, Closed)
                | (_, Closed)
        )
    })
}

fn read_to_eof(s: &mut TcpStream) {
    use std::io::Read;
    let mut buf = [0u8; 4096];
    while s.read(&mut buf).expect("read") > 0 {}
}

#[test]
fn real_linux_connections_normal_simultaneous_and_reset() {
    if !may_run() {
        return;
    }
    use std::io::Write;
    let net = Net::new();
    let file = temp("linux.pcap");
    let dump = net.capture(&file);

    // 1. Normal close: A sends, closes; B reads to the end, answers, closes.
    let (mut a, mut b) = net.pair(8001);
    a.write_all(b"hello over a real veth").unwrap();
    a.shutdown(Shutdown::Write).unwrap();
    read_to_eof(&mut b);
    std::thread::sleep(Duration::from_millis(50));
    b.write_all(b"bye").unwrap();
    drop(b);
    read_to_eof(&mut a);
    drop(a);

    // 2. Simultaneous close: both shut down writing at the same moment.
    let (mut a, mut b) = net.pair(8002);
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        for sock in [&mut a, &mut b] {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                sock.shutdown(Shutdown::Write).unwrap();
                read_to_eof(sock);
            });
        }
    });
    drop((a, b));

    // 3. Reset: A closes with SO_LINGER 0.
    let (a, mut b) = net.pair(8003);
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized option value.
    let rc = unsafe {
        libc::setsockopt(
            a.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    drop(a);
    std::thread::sleep(Duration::from_millis(100));
    let _ = std::io::Read::read(&mut b, &mut [0u8; 16]);
    drop(b);

    let conns = stop(dump, &file);
    assert_eq!(conns.len(), 3, "three connections captured");
    for c in &conns {
        for side in &c.inferred.sides {
            assert!(valid(&side.state_sequence()), "{:?}", side.state_sequence());
        }
        assert!(c.summary.handshake_rtt_us.is_some());
    }
    let seqs = |c: &Analysis| {
        [
            names(&c.inferred.sides[0].state_sequence()),
            names(&c.inferred.sides[1].state_sequence()),
        ]
    };
    let [na, nb] = seqs(&conns[0]);
    assert_eq!(
        na,
        [
            "CLOSED",
            "SYN-SENT",
            "ESTABLISHED",
            "FIN-WAIT-1",
            "FIN-WAIT-2",
            "TIME-WAIT"
        ]
    );
    assert_eq!(
        nb,
        [
            "LISTEN",
            "SYN-RECEIVED",
            "ESTABLISHED",
            "CLOSE-WAIT",
            "LAST-ACK",
            "CLOSED"
        ]
    );
    assert_eq!(conns[0].summary.bytes, [22, 3]);
    assert_eq!(conns[0].summary.time_wait, vec![0]);

    // Linux's timing decides whether the FINs cross: CLOSING on both sides, or a normal close.
    let [sa, sb] = seqs(&conns[1]);
    let crossed = sa.contains(&"CLOSING") && sb.contains(&"CLOSING");
    // Normal: one side waits in FIN-WAIT-2, or goes FIN-WAIT-1 → TIME-WAIT on a FIN that also
    // acknowledges its own.
    let straight = |s: &[&str]| s.windows(2).any(|w| w == ["FIN-WAIT-1", "TIME-WAIT"]);
    let normal =
        sa.contains(&"FIN-WAIT-2") || sb.contains(&"FIN-WAIT-2") || straight(&sa) || straight(&sb);
    assert!(crossed || normal, "{sa:?} {sb:?}");
    assert!(!conns[1].summary.time_wait.is_empty());
    println!(
        "simultaneous close took the {} path",
        if crossed { "CLOSING" } else { "normal" }
    );

    let [ra, rb] = seqs(&conns[2]);
    assert!(conns[2].summary.reset);
    assert_eq!(ra.last(), Some(&"CLOSED"));
    assert_eq!(rb.last(), Some(&"CLOSED"));
    assert_eq!(conns[2].summary.closed_first, Some(0));

    // The command reads tcpdump's capture too.
    let (ok, out, err) = oxtcp(&["trace", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("connection 3:"), "{out}");
}
