//! The socket APIs end to end: two oxtcp runtimes joined by an in-memory link, one as server
//! and one as client, no privileges needed. Every wait is bounded.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr};
use std::thread;
use std::time::{Duration, Instant};

use oxtcp::device::{Faults, FaultyDevice, MemoryDevice};
use oxtcp::{Net, StackConfig, State, TcpListener, TcpStream};

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
const A6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));
const B6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2));

fn cfg(seed: u64) -> StackConfig {
    StackConfig {
        seed,
        ..StackConfig::default()
    }
}

/// Client runtime on A/A6, server runtime on B/B6.
fn pair(faults: Option<Faults>) -> (Net, Net) {
    let (a, b) = MemoryDevice::pair(1500).unwrap();
    let client = Net::builder().config(cfg(1)).address(A).address(A6);
    let server = Net::builder().config(cfg(2)).address(B).address(B6);
    match faults {
        None => (client.start(a).unwrap(), server.start(b).unwrap()),
        Some(f) => (
            client.start(FaultyDevice::new(a, f)).unwrap(),
            server
                .start(FaultyDevice::new(
                    b,
                    Faults {
                        seed: f.seed + 1,
                        ..f
                    },
                ))
                .unwrap(),
        ),
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn echo_server(net: &Net, port: u16) -> thread::JoinHandle<usize> {
    let l = TcpListener::bind(
        net,
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
    )
    .unwrap();
    thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut buf = vec![0u8; 16384];
        let mut total = 0;
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            s.write_all(&buf[..n]).unwrap();
            total += n;
        }
        total
    })
}

fn echo_through(client: &Net, server_addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let s = TcpStream::connect(client, server_addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let writer = s.try_clone().unwrap();
    let out = data.to_vec();
    let w = thread::spawn(move || {
        (&writer).write_all(&out).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut back = Vec::new();
    (&s).read_to_end(&mut back).unwrap();
    w.join().unwrap();
    back
}

#[test]
fn echo_a_megabyte_over_ipv4_and_ipv6() {
    let (client, server) = pair(None);
    let data = pattern(1 << 20);
    let srv = echo_server(&server, 7);
    assert_eq!(echo_through(&client, SocketAddr::new(B, 7), &data), data);
    assert_eq!(srv.join().unwrap(), data.len());
    let srv = echo_server(&server, 7);
    assert_eq!(echo_through(&client, SocketAddr::new(B6, 7), &data), data);
    assert_eq!(srv.join().unwrap(), data.len());
}

/// A client on `client` that connects to `to`, writes `data` and shuts its write side; it
/// hands the runtime back when joined, so the runtime outlives the transfer.
fn write_and_shut(client: Net, to: SocketAddr, data: Vec<u8>) -> thread::JoinHandle<Net> {
    thread::spawn(move || {
        let mut s = TcpStream::connect(&client, to).unwrap();
        s.write_all(&data).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        client
    })
}

#[test]
fn a_reader_in_place_sees_every_byte_in_order_then_end_of_stream() {
    let (client, server) = pair(None);
    let l = TcpListener::bind(&server, SocketAddr::new(B, 9)).unwrap();
    let data = pattern(1 << 20);
    let w = write_and_shut(client, SocketAddr::new(B, 9), data.clone());
    let (s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let (mut got, mut reads) = (Vec::new(), 0);
    loop {
        let n = s.read_with(1000, |run| got.extend_from_slice(run)).unwrap();
        assert!(n <= 1000, "no more than asked: {n}");
        if n == 0 {
            break;
        }
        reads += 1;
        assert!(reads < 1 << 20, "bounded");
    }
    assert!(
        got == data,
        "{} of {} bytes, in order",
        got.len(),
        data.len()
    );
    assert_eq!(s.read_with(10, |_| panic!("nothing to show")).unwrap(), 0);
    drop(w.join().unwrap());
}

#[test]
fn an_async_reader_in_place_sees_every_byte_in_order_then_end_of_stream() {
    let (client, server) = pair(None);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let data = pattern(256 * 1024);
    let got = rt.block_on(async {
        let l = oxtcp::tokio::TcpListener::bind(&server, SocketAddr::new(B, 9))
            .await
            .unwrap();
        let w = write_and_shut(client, SocketAddr::new(B, 9), data.clone());
        let limit = Duration::from_secs(60);
        let (s, _) = tokio::time::timeout(limit, l.accept())
            .await
            .unwrap()
            .unwrap();
        let mut got = Vec::new();
        for _ in 0..1 << 20 {
            let read = s.read_with(1000, |run| got.extend_from_slice(run));
            let n = tokio::time::timeout(limit, read).await.unwrap().unwrap();
            assert!(n <= 1000, "no more than asked: {n}");
            if n == 0 {
                break;
            }
        }
        drop(w.join().unwrap());
        got
    });
    assert!(
        got == data,
        "{} of {} bytes, in order",
        got.len(),
        data.len()
    );
}

#[test]
fn echo_survives_loss_duplication_and_reordering() {
    let faults = Faults {
        loss: 0.05,
        dup: 0.05,
        reorder: 0.05,
        delay: Duration::from_millis(1),
        seed: 11,
    };
    let (client, server) = pair(Some(faults));
    let data = pattern(128 * 1024);
    let srv = echo_server(&server, 7);
    assert_eq!(echo_through(&client, SocketAddr::new(B, 7), &data), data);
    assert_eq!(srv.join().unwrap(), data.len());
    let retrans: u64 = client
        .connections()
        .iter()
        .chain(server.connections().iter())
        .map(|c| c.stats.retransmits)
        .sum();
    let st = client.stats();
    assert!(st.packets_out > 0);
    // The faults were real: something had to be retransmitted, or the connection is gone.
    assert!(retrans > 0 || client.connections().is_empty());
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    let (client, _server) = pair(None);
    let e = TcpStream::connect(&client, SocketAddr::new(B, 9)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    // The failed attempt left nothing behind.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !client.connections().is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert!(client.connections().is_empty());
}

#[test]
fn connect_timeout_gives_timed_out_when_nobody_answers() {
    // A link whose far end has no runtime: the SYN goes nowhere.
    let (a, _b) = MemoryDevice::pair(1500).unwrap();
    let client = Net::builder().config(cfg(1)).address(A).start(a).unwrap();
    let t = Instant::now();
    let e =
        TcpStream::connect_timeout(&client, &SocketAddr::new(B, 80), Duration::from_millis(300))
            .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    assert!(t.elapsed() >= Duration::from_millis(290) && t.elapsed() < Duration::from_secs(5));
    let deadline = Instant::now() + Duration::from_secs(2);
    while !client.connections().is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    assert!(client.connections().is_empty(), "the SYN-SENT was released");
}

#[test]
fn bind_twice_is_addr_in_use_and_read_timeout_is_would_block() {
    let (client, server) = pair(None);
    let l = TcpListener::bind(&server, (B, 80)).unwrap();
    assert_eq!(
        TcpListener::bind(&server, (B, 80)).err().unwrap().kind(),
        ErrorKind::AddrInUse
    );
    let c = TcpStream::connect(&client, (B, 80)).unwrap();
    let (s, peer) = l.accept().unwrap();
    assert_eq!(peer, c.local_addr().unwrap());
    assert_eq!(s.peer_addr().unwrap(), c.local_addr().unwrap());
    assert_eq!(c.peer_addr().unwrap(), SocketAddr::new(B, 80));
    c.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 8];
    let t = Instant::now();
    assert_eq!(
        (&c).read(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert!(t.elapsed() >= Duration::from_millis(90));
    assert_eq!(
        c.set_read_timeout(Some(Duration::ZERO)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    c.set_nonblocking(true).unwrap();
    assert_eq!(
        (&c).read(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    l.set_nonblocking(true).unwrap();
    assert_eq!(l.accept().err().unwrap().kind(), ErrorKind::WouldBlock);
    c.set_nodelay(true).unwrap();
    assert!(c.nodelay().unwrap());
}

fn wait_state(net: &Net, want: State, secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if net.connections().iter().any(|c| c.state == want) {
            return true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn drop_closes_gracefully_and_peer_reads_end_of_stream() {
    let (client, server) = pair(None);
    let l = TcpListener::bind(&server, (B, 80)).unwrap();
    let mut c = TcpStream::connect(&client, (B, 80)).unwrap();
    let (mut s, _) = l.accept().unwrap();
    c.write_all(b"last words").unwrap();
    drop(c);
    let mut got = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"last words");
    // Our close came first: the client passes FIN-WAIT-2 and lands in TIME-WAIT once the
    // server closes too.
    drop(s);
    assert!(
        wait_state(&client, State::TimeWait, 5),
        "client never reached TIME-WAIT"
    );
}

#[test]
fn abort_resets_the_peer_and_writes_after_shutdown_are_broken_pipe() {
    let (client, server) = pair(None);
    let l = TcpListener::bind(&server, (B, 80)).unwrap();
    let c = TcpStream::connect(&client, (B, 80)).unwrap();
    let (s, _) = l.accept().unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!((&c).write(b"x").unwrap_err().kind(), ErrorKind::BrokenPipe);
    c.abort().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 4];
    // The FIN arrives first (end of stream), then the RST.
    let mut saw_reset = false;
    for _ in 0..3 {
        match (&s).read(&mut buf) {
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::ConnectionReset);
                saw_reset = true;
                break;
            }
            Ok(n) => {
                assert_eq!(n, 0, "no data was sent, only a FIN");
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
    assert!(saw_reset || (&s).write(b"y").is_err());
}

#[test]
fn shutdown_read_makes_reads_end_at_once() {
    let (client, server) = pair(None);
    let l = TcpListener::bind(&server, (B, 80)).unwrap();
    let c = TcpStream::connect(&client, (B, 80)).unwrap();
    let (_s, _) = l.accept().unwrap();
    c.shutdown(Shutdown::Read).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!((&c).read(&mut buf).unwrap(), 0);
}

#[test]
fn backlog_bounds_the_accept_queue() {
    let (client, server) = pair(None);
    let l = TcpListener::bind_with_backlog(&server, (B, 80), 2).unwrap();
    let mut ok = Vec::new();
    for _ in 0..2 {
        ok.push(TcpStream::connect(&client, (B, 80)).unwrap());
    }
    // The third SYN finds the queues full and is dropped; its connect times out.
    let e =
        TcpStream::connect_timeout(&client, &SocketAddr::new(B, 80), Duration::from_millis(400))
            .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    let info = l.info().unwrap();
    assert_eq!(info.accept_queue, 2);
    for _ in 0..2 {
        l.accept().unwrap();
    }
}

#[test]
fn idle_runtime_does_not_spin() {
    let (client, server) = pair(None);
    let l = TcpListener::bind(&server, (B, 80)).unwrap();
    let _c = TcpStream::connect(&client, (B, 80)).unwrap();
    let _s = l.accept().unwrap();
    let before = (client.stats().turns, server.stats().turns);
    thread::sleep(Duration::from_millis(500));
    let after = (client.stats().turns, server.stats().turns);
    // An established, idle pair has no timers; a handful of turns at most.
    assert!(
        after.0 - before.0 < 10,
        "client turned {} times",
        after.0 - before.0
    );
    assert!(
        after.1 - before.1 < 10,
        "server turned {} times",
        after.1 - before.1
    );
}

#[test]
fn reads_that_owe_the_peer_nothing_do_not_wake_the_runtime() {
    let (client, server) = pair(None);
    let l = TcpListener::bind(&server, (B, 80)).unwrap();
    let mut c = TcpStream::connect(&client, (B, 80)).unwrap();
    let (mut s, _) = l.accept().unwrap();
    c.write_all(&pattern(500)).unwrap();
    // Long enough for the data to arrive and its delayed ACK to go out.
    thread::sleep(Duration::from_millis(300));
    let before = server.stats().turns;
    let mut got = Vec::new();
    for _ in 0..50 {
        let mut b = [0u8; 10];
        s.read_exact(&mut b).unwrap();
        got.extend_from_slice(&b);
        // Time for a woken runtime to take a turn per read.
        thread::sleep(Duration::from_millis(1));
    }
    let turns = server.stats().turns - before;
    assert_eq!(got, pattern(500));
    // 500 bytes read back open the window by too little to announce (RFC 9293 §3.8.6.2.2),
    // so no read leaves the runtime anything to do; each used to wake it.
    assert!(turns < 5, "the server's runtime turned {turns} times");
}

#[test]
fn shutdown_stops_the_runtime_and_sockets_fail_cleanly() {
    let (client, server) = pair(None);
    let l = TcpListener::bind(&server, (B, 80)).unwrap();
    let c = TcpStream::connect(&client, (B, 80)).unwrap();
    let _s = l.accept().unwrap();
    client.shutdown(Duration::from_millis(100));
    assert!(client.failure().is_some());
    let mut buf = [0u8; 4];
    assert_eq!(
        (&c).read(&mut buf).unwrap_err().kind(),
        ErrorKind::NotConnected
    );
}

#[test]
fn mss_comes_from_the_device_mtu_per_family() {
    let (a, b) = MemoryDevice::pair(1400).unwrap();
    let client = Net::builder().address(A).address(A6).start(a).unwrap();
    let server = Net::builder().address(B).address(B6).start(b).unwrap();
    let l = TcpListener::bind(&server, ("::", 80)).unwrap();
    // IPv4: 1400 - 20 - 20; IPv6: 1400 - 40 - 20.
    let c4 = TcpStream::connect(&client, (B, 80)).unwrap();
    let (s4, _) = l.accept().unwrap();
    assert_eq!(c4.info().unwrap().mss, 1360);
    assert_eq!(s4.info().unwrap().mss, 1360);
    let c6 = TcpStream::connect(&client, (B6, 80)).unwrap();
    let (s6, peer) = l.accept().unwrap();
    assert!(peer.is_ipv6());
    assert_eq!(c6.info().unwrap().mss, 1340);
    assert_eq!(s6.info().unwrap().mss, 1340);
}

#[test]
fn keepalive_probes_a_live_peer_and_detects_a_vanished_one() {
    let (client, server) = pair(None);
    let l = TcpListener::bind(&server, (B, 80)).unwrap();
    let c = TcpStream::connect(&client, (B, 80)).unwrap();
    let _s = l.accept().unwrap();
    let ka = oxtcp::KeepAlive::new(Duration::from_millis(100), Duration::from_millis(100), 3);
    c.set_keepalive(Some(ka)).unwrap();
    // The peer answers every probe: the connection stays up.
    thread::sleep(Duration::from_millis(500));
    let info = c.info().unwrap();
    assert_eq!(info.state, State::Established);
    assert!(info.stats.keepalive_probes >= 2, "{:?}", info.stats);
    // The peer's runtime stops without a word: keep-alive notices within idle + 3 × interval.
    server.shutdown(Duration::from_millis(100));
    let t = Instant::now();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!((&c).read(&mut buf).unwrap_err().kind(), ErrorKind::TimedOut);
    assert!(t.elapsed() < Duration::from_secs(5));
}
