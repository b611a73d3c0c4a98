//! oxtcp against the Linux kernel's TCP, over a TUN inside a private network namespace per
//! test: Linux clients (curl, Python) against `oxtcp serve`, `oxtcp connect` against Linux
//! servers, both closing orders watched from both ends (`ss -tan` and oxtcp's trace), refused
//! connections, oxtcp's fault injector, `oxtcp ss`, SIGINT, and argument errors.
//!
//! The kernel side of every TUN is 198.18.0.1 (fd00:198:18::1) and oxtcp is .2 (::2); no
//! packet leaves the test's namespace. These tests need root, `ip`, /dev/net/tun, curl and
//! python3; without root they print `skipped: ...` and pass, except under CI=true, where they
//! fail. Run one with `-- --nocapture` to see sizes, times and throughputs.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::py;
use common::*;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// oxtcp's fault injector, each direction: 5% loss, 2% duplication, 2% reordering, 1 ms delay,
/// with a fixed seed. oxtcp recovers from loss by retransmission timeout only (go-back-N, no
/// fast retransmit or SACK yet), so data oxtcp sends moves at about 6 s per MiB under these
/// faults (measured on a dev build; an echo, crossing twice, about 10 s): the fault tests
/// move 1 MiB, or 2 MiB where the kernel is the sender.
const FAULTS: [&str; 10] = [
    "--loss",
    "0.05",
    "--dup",
    "0.02",
    "--reorder",
    "0.02",
    "--delay",
    "1",
    "--seed",
    "7",
];

/// Stop a serve with SIGINT: it must exit 0. Returns its stderr.
fn stop_serve(serve: &mut Proc) -> String {
    let out = serve.interrupt(secs(20));
    assert!(
        out.status.success(),
        "serve exited with {} after SIGINT:\n{}",
        out.status,
        out.stderr
    );
    out.stderr
}

/// The serve's stderr must have reported no failed connection.
fn assert_no_connection_errors(stderr: &str) {
    assert!(
        !stderr.contains("oxtcp: connection "),
        "serve reported failed connections:\n{stderr}"
    );
}

/// curl URL, streaming the body into SHA-256. Returns (hash, length, elapsed).
fn curl_sha256(rig: &Rig, url: &str, bound: u64) -> (String, u64, Duration) {
    let t0 = Instant::now();
    let mut curl = Proc::spawn_raw_stdout(
        &format!("curl {url}"),
        rig.cmd(bound, "curl").args([
            "--silent",
            "--show-error",
            "--fail",
            "--globoff",
            "-o",
            "-",
            url,
        ]),
    );
    curl.close_stdin();
    let (hash, len) = sha256_of(curl.take_stdout());
    let out = curl.finish(secs(bound + 10));
    let dt = t0.elapsed();
    assert!(
        out.status.success(),
        "curl {url}: {}\n{}",
        out.status,
        out.stderr
    );
    (hash, len, dt)
}

// ---------------------------------------------------------------------------------------
// Linux clients against an oxtcp server.
// ---------------------------------------------------------------------------------------

/// curl (the kernel's TCP) downloads 100 MiB from `serve --mode http`, once over IPv4 and
/// once over IPv6, and the body's SHA-256 is the pattern's.
#[test]
fn curl_downloads_100_mib_over_ipv4_and_ipv6() {
    let Some(rig) = Rig::new("curl") else { return };
    const SIZE: u64 = 100 << 20;
    let size = SIZE.to_string();
    let mut serve = rig.serve(
        "oxi-curl",
        8001,
        &[
            "--tun-addr",
            NET4,
            "--tun-addr",
            NET6,
            "--mode",
            "http",
            "--http-size",
            &size,
        ],
    );
    let want = http_body_sha256(SIZE);
    for url in [
        format!("http://{OXTCP4}:8001/v4"),
        format!("http://[{OXTCP6}]:8001/v6"),
    ] {
        let (hash, len, dt) = curl_sha256(&rig, &url, 60);
        assert_eq!(len, SIZE, "{url}: body length");
        assert_eq!(hash, want, "{url}: body SHA-256");
        println!(
            "curl {url}: {len} bytes intact in {dt:.2?} ({:.0} MB/s)",
            mbps(len, dt)
        );
    }
    assert_no_connection_errors(&stop_serve(&mut serve));
}

/// Against `serve --mode echo`: one Python client moves 10 MiB through and checks every byte;
/// then 500 short connections, 50 at a time, each a complete exchange; then a SYN to a port
/// where oxtcp does not listen is refused (oxtcp answers RST, Python sees ECONNREFUSED).
#[test]
fn python_clients_echo_10_mib_then_500_connections_then_get_refused() {
    let Some(rig) = Rig::new("echo") else { return };
    let mut serve = rig.serve("oxi-echo", 8002, &["--tun-addr", NET4, "--mode", "echo"]);

    let size = 10u64 << 20;
    let out = run(
        "echo client",
        rig.python(60, py::ECHO_CLIENT)
            .args([OXTCP4, "8002", &size.to_string(), "1"]),
        secs(70),
    );
    assert!(
        out.status.success(),
        "10 MiB echo: {}{}",
        out.stdout,
        out.stderr
    );
    println!("{}", out.stdout.trim());

    let out = run(
        "500 connections",
        rig.python(90, py::MANY_CONNECTIONS)
            .args([OXTCP4, "8002", "500", "50"]),
        secs(100),
    );
    assert!(
        out.status.success(),
        "500 connections: {}{}",
        out.stdout,
        out.stderr
    );
    println!("{}", out.stdout.trim());

    let out = run(
        "refused",
        rig.python(20, py::EXPECT_REFUSED).args([OXTCP4, "8999"]),
        secs(30),
    );
    assert!(
        out.status.success(),
        "unused port: {}{}",
        out.stdout,
        out.stderr
    );
    assert!(out.stdout.starts_with("refused"), "{}", out.stdout);

    assert_no_connection_errors(&stop_serve(&mut serve));
}

// ---------------------------------------------------------------------------------------
// oxtcp clients against Linux servers. `oxtcp connect` creates its TUN (and so the kernel's
// address) only when it starts, so servers bind that address beforehand with
// net.ipv4.ip_nonlocal_bind, set in the test's namespace only.
// ---------------------------------------------------------------------------------------

/// `oxtcp connect --get` fetches a 50 MiB file from `python3 -m http.server` (hash checked);
/// netcat mode sends 1 MiB through a Python echo server and gets the same bytes back; and a
/// connect to a kernel port where nothing listens fails with exit 1 and "connection refused".
#[test]
fn oxtcp_connect_gets_50_mib_echoes_1_mib_and_is_refused_by_linux() {
    let Some(rig) = Rig::new("connect") else {
        return;
    };
    rig.allow_nonlocal_bind();

    // 1. HTTP GET of a 50 MiB file.
    let www = rig.path("www");
    std::fs::create_dir_all(&www).unwrap();
    let file = pseudo_random(50 << 20, 4);
    std::fs::write(www.join("file"), &file).unwrap();
    let want = sha256_hex(&file);
    drop(file);
    let http = Proc::spawn(
        "python3 -m http.server",
        rig.cmd(LONG, "python3")
            .args(["-u", "-m", "http.server", "--bind", KERNEL4, "--directory"])
            .arg(&www)
            .arg("8005"),
    );
    http.wait_stdout("Serving HTTP", READY);
    let t0 = Instant::now();
    let mut get = Proc::spawn_raw_stdout(
        "oxtcp connect --get",
        &mut rig.connect(
            60,
            &format!("{KERNEL4}:8005"),
            "oxi-get",
            &["--get", "/file"],
        ),
    );
    get.close_stdin();
    let (hash, len) = sha256_of(get.take_stdout());
    let out = get.finish(secs(70));
    let dt = t0.elapsed();
    assert!(
        out.status.success(),
        "connect --get: {}\n{}",
        out.status,
        out.stderr
    );
    assert_eq!(len, 50 << 20, "body length");
    assert_eq!(hash, want, "body SHA-256");
    println!(
        "connect --get: {len} bytes intact in {dt:.2?} ({:.0} MB/s)",
        mbps(len, dt)
    );

    // 2. netcat: stdin through a Linux echo server and back to stdout.
    let echo = Proc::spawn(
        "python echo server",
        rig.python(LONG, py::ECHO_SERVER).args([KERNEL4, "8006"]),
    );
    echo.wait_stdout("ready", READY);
    let input = pseudo_random(1 << 20, 5);
    let mut nc = Proc::spawn_raw_stdout(
        "oxtcp connect (netcat)",
        &mut rig.connect(60, &format!("{KERNEL4}:8006"), "oxi-nc", &[]),
    );
    nc.feed_stdin(input.clone());
    let mut output = Vec::new();
    nc.take_stdout().read_to_end(&mut output).unwrap();
    let out = nc.finish(secs(70));
    assert!(
        out.status.success(),
        "connect (netcat): {}\n{}",
        out.status,
        out.stderr
    );
    assert!(
        output == input,
        "echo: sent {} bytes, got {} back, not the same",
        input.len(),
        output.len()
    );
    echo.wait_stdout("echoed 1048576 bytes", secs(10));

    // 3. Nothing listens on port 9: the kernel answers the SYN with RST.
    let out = run(
        "oxtcp connect (refused)",
        &mut rig.connect(30, &format!("{KERNEL4}:9"), "oxi-refused", &[]),
        secs(40),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "refused connect: {}",
        out.stderr
    );
    assert!(is_one_line(&out.stderr), "not one line: {:?}", out.stderr);
    assert!(out.stderr.contains("connection refused"), "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------
// Closing order, seen from both ends.
// ---------------------------------------------------------------------------------------

/// The kernel closes first: its FIN reaches oxtcp's echo server (ESTABLISHED → CLOSE-WAIT),
/// the server closes in turn (→ LAST-ACK), the kernel acknowledges (→ CLOSED) and waits out
/// TIME-WAIT, which `ss -tan` shows.
#[test]
fn kernel_closes_first_and_waits_in_time_wait_while_oxtcp_passes_last_ack() {
    let Some(rig) = Rig::new("kfirst") else {
        return;
    };
    let trace = rig.path("serve.jsonl");
    let pcap = rig.path("serve.pcap");
    let mut serve = rig.serve(
        "oxi-kfirst",
        8003,
        &[
            "--tun-addr",
            NET4,
            "--mode",
            "echo",
            "--trace",
            trace.to_str().unwrap(),
            "--pcap",
            pcap.to_str().unwrap(),
        ],
    );
    let out = run(
        "client closing first",
        rig.python(30, py::CLOSE_FIRST_CLIENT)
            .args([OXTCP4, "8003"]),
        secs(40),
    );
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    let port = out
        .stdout
        .trim()
        .strip_prefix("closed ")
        .expect("closed PORT")
        .to_string();
    let client = format!("{KERNEL4}:{port}");

    let kernel = rig.kernel_sockets();
    assert!(
        kernel.contains(&KernelSocket {
            state: "TIME-WAIT".into(),
            local: client.clone(),
            peer: format!("{OXTCP4}:8003"),
        }),
        "the kernel's side of {client} is not in TIME-WAIT: {kernel:#?}"
    );

    let chain = trace_states_until(&trace, &client, "CLOSED", secs(10));
    assert_eq!(
        chain,
        [
            "LISTEN",
            "SYN-RECEIVED",
            "ESTABLISHED",
            "CLOSE-WAIT",
            "LAST-ACK",
            "CLOSED"
        ],
        "oxtcp's states for {client}"
    );
    assert_no_connection_errors(&stop_serve(&mut serve));

    // The pcap tap saw both directions on the TUN: the kernel's SYN and FIN, oxtcp's SYN-ACK
    // and FIN, in that order of first appearance.
    let flags = pcap_flags(&pcap, &format!("{OXTCP4}:8003"));
    let first = |want: &str| {
        flags
            .iter()
            .position(|f| f == want)
            .unwrap_or_else(|| panic!("no {want} in the pcap: {flags:?}"))
    };
    let (syn, synack) = (first("kernel SYN"), first("oxtcp SYN|ACK"));
    let (kfin, ofin) = (first("kernel FIN|ACK"), first("oxtcp FIN|ACK"));
    assert!(syn < synack && synack < kfin && kfin < ofin, "{flags:?}");
}

/// "kernel FLAGS" or "oxtcp FLAGS" for each TCP segment in `pcap` to or from `oxtcp_end`.
fn pcap_flags(pcap: &std::path::Path, oxtcp_end: &str) -> Vec<String> {
    let bytes = std::fs::read(pcap).expect("serve wrote its pcap");
    let mut r = pcap_file::pcap::PcapReader::new(&bytes[..]).expect("a pcap header");
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.expect("a whole pcap record");
        let Ok(seg) = oxtcp_wire::parse_packet(&p.data) else {
            continue; // the kernel's own IPv6 chatter and the like
        };
        let src = format!("{}:{}", seg.ip.src(), seg.tcp.src_port);
        let dst = format!("{}:{}", seg.ip.dst(), seg.tcp.dst_port);
        let who = if src == oxtcp_end {
            "oxtcp"
        } else if dst == oxtcp_end {
            "kernel"
        } else {
            continue;
        };
        out.push(format!("{who} {}", seg.tcp.flags));
    }
    out
}

/// oxtcp closes first: `oxtcp connect` with stdin at EOF sends its FIN at once
/// (ESTABLISHED → FIN-WAIT-1), the kernel acknowledges it (→ FIN-WAIT-2) and sits in
/// CLOSE-WAIT, as `ss -tan` and `oxtcp ss` show at the same moment, until the Python server
/// closes; its FIN moves oxtcp to TIME-WAIT and connect exits.
#[test]
fn oxtcp_closes_first_and_waits_in_time_wait_while_the_kernel_sits_in_close_wait() {
    let Some(rig) = Rig::new("ofirst") else {
        return;
    };
    rig.allow_nonlocal_bind();
    let mut server = Proc::spawn(
        "server closing second",
        rig.python(60, py::CLOSE_SECOND_SERVER)
            .args([KERNEL4, "8004"]),
    );
    server.wait_stdout("ready", READY);
    let trace = rig.path("connect.jsonl");
    let mut connect = Proc::spawn(
        "oxtcp connect",
        &mut rig.connect(
            60,
            &format!("{KERNEL4}:8004"),
            "oxi-ofirst",
            &["--trace", trace.to_str().unwrap()],
        ),
    );
    connect.close_stdin();

    // The server has read oxtcp's FIN and not closed yet.
    let eof = server.wait_stdout("eof ", secs(20));
    let ours = format!("{OXTCP4}:{}", eof.trim().strip_prefix("eof ").unwrap());
    let server_addr = format!("{KERNEL4}:8004");
    let kernel = rig.kernel_sockets();
    assert!(
        kernel.contains(&KernelSocket {
            state: "CLOSE-WAIT".into(),
            local: server_addr.clone(),
            peer: ours.clone(),
        }),
        "the kernel's side is not in CLOSE-WAIT: {kernel:#?}"
    );
    let (_, conn) = rig.oxtcp_ss_until("oxi-ofirst", secs(5), |r| {
        r["kind"] == "conn" && r["remote"] == server_addr.as_str()
    });
    assert_eq!(conn["state"], "FIN-WAIT-2", "oxtcp's side: {conn}");
    assert_eq!(conn["local"], ours.as_str());

    // Now the server closes.
    server.write_stdin(b"close\n");
    server.wait_stdout("closed", secs(10));
    let out = connect.finish(secs(20));
    assert!(
        out.status.success(),
        "connect: {}\n{}",
        out.status,
        out.stderr
    );
    assert_eq!(out.stdout, "", "the server sent nothing");

    let chain = trace_states_until(&trace, &server_addr, "TIME-WAIT", secs(5));
    assert_eq!(
        chain,
        [
            "CLOSED",
            "SYN-SENT",
            "ESTABLISHED",
            "FIN-WAIT-1",
            "FIN-WAIT-2",
            "TIME-WAIT"
        ],
        "oxtcp's states towards {server_addr}"
    );
    server.finish(secs(10));
}

// ---------------------------------------------------------------------------------------
// Under oxtcp's fault injector (both directions; there is no kernel netem here).
// ---------------------------------------------------------------------------------------

/// Loss, duplication, reordering and delay were applied both ways: dropped in and out > 0.
fn assert_faults_applied(stderr: &str) {
    let (dropped_in, dropped_out) = fault_drops(stderr);
    assert!(
        dropped_in > 0 && dropped_out > 0,
        "the injector dropped {dropped_in} in, {dropped_out} out:\n{stderr}"
    );
    println!(
        "{}",
        stderr.lines().find(|l| l.contains("faults:")).unwrap()
    );
}

/// curl downloads 1 MiB from `serve --mode http` under faults; the body is intact.
#[test]
fn under_faults_curl_downloads_1_mib_intact() {
    let Some(rig) = Rig::new("fcurl") else { return };
    const SIZE: u64 = 1 << 20;
    let size = SIZE.to_string();
    let mut args = vec!["--tun-addr", NET4, "--mode", "http", "--http-size", &size];
    args.extend(FAULTS);
    let mut serve = rig.serve("oxi-fcurl", 8007, &args);
    let (hash, len, dt) = curl_sha256(&rig, &format!("http://{OXTCP4}:8007/f"), 90);
    assert_eq!(
        (len, hash),
        (SIZE, http_body_sha256(SIZE)),
        "body under faults"
    );
    println!("curl under faults: {len} bytes intact in {dt:.2?}");
    let stderr = stop_serve(&mut serve);
    assert_no_connection_errors(&stderr);
    assert_faults_applied(&stderr);
}

/// A Python client echoes 1 MiB through `serve --mode echo` under faults; every byte
/// comes back.
#[test]
fn under_faults_python_echoes_1_mib_intact() {
    let Some(rig) = Rig::new("fecho") else { return };
    let mut args = vec!["--tun-addr", NET4, "--mode", "echo"];
    args.extend(FAULTS);
    let mut serve = rig.serve("oxi-fecho", 8008, &args);
    let out = run(
        "echo client under faults",
        rig.python(90, py::ECHO_CLIENT)
            .args([OXTCP4, "8008", &(1 << 20).to_string(), "2"]),
        secs(100),
    );
    assert!(
        out.status.success(),
        "echo under faults: {}{}",
        out.stdout,
        out.stderr
    );
    println!("under faults: {}", out.stdout.trim());
    let stderr = stop_serve(&mut serve);
    assert_no_connection_errors(&stderr);
    assert_faults_applied(&stderr);
}

/// `oxtcp connect --get` fetches 2 MiB from `python3 -m http.server` under faults; the hash
/// matches and connect's own fault summary shows drops both ways. Here the kernel sends the
/// data and recovers loss faster than oxtcp does (about 2.5 s per MiB measured), while oxtcp
/// sends only ACKs, about one per seven data segments in a measured run; so the file is
/// twice the other tests' size, for enough outgoing ACKs that some are surely dropped.
#[test]
fn under_faults_connect_gets_2_mib_intact() {
    let Some(rig) = Rig::new("fget") else { return };
    rig.allow_nonlocal_bind();
    let www = rig.path("www");
    std::fs::create_dir_all(&www).unwrap();
    let file = pseudo_random(2 << 20, 6);
    std::fs::write(www.join("file"), &file).unwrap();
    let http = Proc::spawn(
        "python3 -m http.server",
        rig.cmd(LONG, "python3")
            .args(["-u", "-m", "http.server", "--bind", KERNEL4, "--directory"])
            .arg(&www)
            .arg("8009"),
    );
    http.wait_stdout("Serving HTTP", READY);
    let mut args = vec!["--get", "/file"];
    args.extend(FAULTS);
    let t0 = Instant::now();
    let mut get = Proc::spawn_raw_stdout(
        "oxtcp connect --get under faults",
        &mut rig.connect(90, &format!("{KERNEL4}:8009"), "oxi-fget", &args),
    );
    get.close_stdin();
    let (hash, len) = sha256_of(get.take_stdout());
    let out = get.finish(secs(100));
    assert!(
        out.status.success(),
        "connect --get under faults: {}\n{}",
        out.status,
        out.stderr
    );
    assert_eq!(
        (len, hash),
        (file.len() as u64, sha256_hex(&file)),
        "body under faults"
    );
    println!(
        "connect --get under faults: {len} bytes intact in {:.2?}",
        t0.elapsed()
    );
    assert_faults_applied(&out.stderr);
}

// ---------------------------------------------------------------------------------------
// Commands and errors.
// ---------------------------------------------------------------------------------------

/// While a Linux client holds a connection, `oxtcp ss` lists it as ESTABLISHED with its
/// 4-tuple and RTT/RTO, and `--json` gives one JSON object per line. Then SIGINT makes serve
/// close it gracefully: the client reads end of stream (a FIN, not an RST) and serve exits 0.
#[test]
fn oxtcp_ss_lists_a_live_connection_and_sigint_closes_it_with_a_fin() {
    let Some(rig) = Rig::new("ss") else { return };
    let mut serve = rig.serve("oxi-ss", 8010, &["--tun-addr", NET4, "--mode", "echo"]);
    let mut client = Proc::spawn(
        "holding client",
        rig.python(60, py::HOLDING_CLIENT).args([OXTCP4, "8010"]),
    );
    client.close_stdin();
    let line = client.wait_stdout("connected ", secs(20));
    let peer = format!(
        "{KERNEL4}:{}",
        line.trim().strip_prefix("connected ").unwrap()
    );
    let local = format!("{OXTCP4}:8010");

    // --json: every line parses (the helper insists); the host, the listener and our
    // connection are there, with an RTT sample and the echoed line acknowledged.
    let (rows, conn) = rig.oxtcp_ss_until("oxi-ss", secs(10), |r| {
        r["kind"] == "conn"
            && r["remote"] == peer.as_str()
            && r["rtt_us"].is_u64()
            && r["send_queue"] == 0
    });
    assert_eq!(conn["state"], "ESTABLISHED", "{conn}");
    assert_eq!(conn["local"], local.as_str(), "{conn}");
    assert!(
        conn["rto_us"].as_u64().is_some_and(|v| v >= 200_000),
        "{conn}"
    );
    // The tcp_info fields behind `ss --info`.
    assert_eq!(conn["mss"], 1460, "{conn}");
    for k in [
        "rttvar_us",
        "rwnd_limited_us",
        "cwnd_limited_us",
        "sndbuf_limited_us",
    ] {
        assert!(conn[k].is_u64(), "{k}: {conn}");
    }
    assert!(
        rows.iter()
            .any(|r| r["kind"] == "host" && r["tun"] == "oxi-ss"),
        "{rows:#?}"
    );
    assert!(
        rows.iter()
            .any(|r| r["kind"] == "listener" && r["local"] == "0.0.0.0:8010"),
        "{rows:#?}"
    );

    // The table: a header naming RTT and RTO, and our connection's row with numbers there.
    let table = oxtcp_ss(&rig.control("oxi-ss"), &[]).stdout;
    let header = table
        .lines()
        .find(|l| l.starts_with("State"))
        .expect("a header");
    let cols: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        cols[..7],
        ["State", "Recv-Q", "Send-Q", "Local", "Peer", "RTT(ms)", "RTO(ms)"]
    );
    let row: Vec<&str> = table
        .lines()
        .find(|l| l.contains(&peer))
        .unwrap_or_else(|| panic!("no row for {peer}:\n{table}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        row[..5],
        ["ESTABLISHED", "0", "0", local.as_str(), peer.as_str()],
        "{table}"
    );
    let rtt: f64 = row[5]
        .parse()
        .unwrap_or_else(|_| panic!("RTT {:?}", row[5]));
    let rto: f64 = row[6]
        .parse()
        .unwrap_or_else(|_| panic!("RTO {:?}", row[6]));
    assert!(rtt >= 0.0 && rto >= 200.0, "RTT {rtt} ms, RTO {rto} ms");

    // SIGINT: serve closes the connection with a FIN and exits 0.
    let stderr = stop_serve(&mut serve);
    assert!(stderr.contains("closing 1 connection(s)"), "{stderr}");
    let out = client.finish(secs(20));
    assert_eq!(
        out.stdout.lines().last(),
        Some("eof"),
        "the client should read end of stream:\n{}{}",
        out.stdout,
        out.stderr
    );
}

/// Argument errors are caught before anything needs privilege: each is one line on stderr
/// and a non-zero exit, run as an unprivileged user (nobody, via setpriv). Without privilege,
/// serve fails creating its TUN with one line that says what is missing. Everything runs in
/// a namespace, so even a regression cannot create an interface on the host.
#[test]
fn bad_arguments_and_missing_privilege_fail_with_one_line() {
    let Some(rig) = Rig::new("args") else { return };
    let setpriv = std::process::Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let oxtcp = |args: &[&str]| {
        let mut c = if setpriv {
            let mut c = rig.cmd(10, "setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", OXTCP]);
            c
        } else {
            rig.oxtcp(10)
        };
        c.args(args);
        run(&format!("oxtcp {}", args.join(" ")), &mut c, secs(20))
    };
    let serve = ["serve", "--tun", "oxi-args", "--port", "7"];
    let cases: [(Vec<&str>, &str); 5] = [
        (vec!["--tun-addr", "198.18.0.1"], "expected ADDRESS/PREFIX"),
        (
            vec!["--tun-addr", NET4, "--loss", "2"],
            "--loss must be between 0 and 1",
        ),
        (
            vec!["--tun-addr", NET4, "--addr", "10.0.0.2"],
            "not in the TUN's subnet",
        ),
        (vec!["--tun-addr", "198.18.0.1/32"], "leaves no room"),
        (
            vec!["--tun-addr", NET4, "--addr", KERNEL4],
            "is the kernel's own address",
        ),
    ];
    for (extra, want) in cases {
        let args: Vec<&str> = serve.iter().copied().chain(extra).collect();
        let out = oxtcp(&args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            is_one_line(&out.stderr)
                && out.stderr.starts_with("oxtcp: ")
                && out.stderr.contains(want),
            "{args:?}: want one line with {want:?}, got {:?}",
            out.stderr
        );
    }
    let out = oxtcp(&[
        "connect",
        "nowhere",
        "--tun",
        "oxi-args",
        "--tun-addr",
        NET4,
    ]);
    assert!(
        !out.status.success() && is_one_line(&out.stderr),
        "{:?}",
        out.stderr
    );
    assert!(out.stderr.contains("is not HOST:PORT"), "{:?}", out.stderr);

    if !setpriv {
        println!("skipped the unprivileged part: no setpriv");
        return;
    }
    let mut args = serve.to_vec();
    let control = rig.control("oxi-args");
    args.extend(["--tun-addr", NET4, "--control", control.to_str().unwrap()]);
    let out = oxtcp(&args);
    assert!(!out.status.success(), "serve as nobody succeeded");
    assert!(
        is_one_line(&out.stderr)
            && (out.stderr.contains("sudo") || out.stderr.contains("CAP_NET_ADMIN")),
        "serve as nobody: want one line naming sudo or CAP_NET_ADMIN, got {:?}",
        out.stderr
    );
}
