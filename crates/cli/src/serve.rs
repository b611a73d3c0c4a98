//! `oxtcp serve`: a server on oxtcp, on a fresh TUN, for the kernel's clients to talk to.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Args, ValueEnum};
use oxtcp::{TcpListener, TcpStream};

use crate::http::{write_body, HeadReader};
use crate::netargs::NetArgs;
use crate::signals::{self, Stop};

/// What the server does with each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Send back what arrives (RFC 862).
    Echo,
    /// Read and drop (RFC 863).
    Discard,
    /// Send the RFC 864 character pattern until the peer goes away.
    Chargen,
    /// Answer any GET with --http-size bytes of deterministic content.
    Http,
}

/// Arguments of `oxtcp serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub net: NetArgs,
    /// Port to listen on.
    #[arg(long)]
    pub port: u16,
    /// What to do with each connection.
    #[arg(long, value_enum, default_value_t = Mode::Echo)]
    pub mode: Mode,
    /// Size of each HTTP response body, in bytes.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub http_size: u64,
    /// Bound of the SYN queue and of the accept queue.
    #[arg(long, default_value_t = 128)]
    pub backlog: usize,
    /// Exit after this many connections have been served (default: run until a signal).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
}

/// Live connections, so a signal can close them all.
type Registry = Arc<Mutex<Vec<(u64, TcpStream)>>>;

fn serve_one(mode: Mode, http_size: u64, s: &TcpStream) -> std::io::Result<()> {
    let mut r = s;
    let mut w = s;
    match mode {
        Mode::Echo => {
            let mut buf = vec![0u8; 65536];
            loop {
                let n = r.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                w.write_all(&buf[..n])?;
            }
        }
        Mode::Discard => {
            let mut buf = vec![0u8; 65536];
            while r.read(&mut buf)? > 0 {}
            Ok(())
        }
        Mode::Chargen => {
            // RFC 864: 72-character lines of the 95 printable ASCII characters, each line
            // starting one character later than the one before.
            let printable: Vec<u8> = (b' '..=b'~').collect();
            let mut start = 0;
            loop {
                let mut line: Vec<u8> = (0..72)
                    .map(|i| printable[(start + i) % printable.len()])
                    .collect();
                line.extend_from_slice(b"\r\n");
                w.write_all(&line)?;
                start = (start + 1) % printable.len();
            }
        }
        Mode::Http => {
            let mut heads = HeadReader::default();
            while let Some(head) = heads.read_head(&mut r)? {
                let version = head.start.get(2).map(String::as_str).unwrap_or("HTTP/1.0");
                let close = head
                    .header("connection")
                    .is_some_and(|v| v.eq_ignore_ascii_case("close"))
                    || version == "HTTP/1.0";
                if head.start[0] != "GET" {
                    w.write_all(
                        b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    )?;
                    return Ok(());
                }
                write!(
                    w,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {http_size}\r\n{}\r\n",
                    if close { "Connection: close\r\n" } else { "" }
                )?;
                write_body(&mut w, http_size)?;
                if close {
                    break;
                }
            }
            Ok(())
        }
    }
}

/// Run `oxtcp serve`.
pub fn run(args: &ServeArgs) -> Result<()> {
    let session = args.net.start()?;
    let net = session.net.clone();
    let listener = TcpListener::bind_with_backlog(
        &net,
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), args.port),
        args.backlog,
    )?;
    let ours: Vec<String> = session.addrs.iter().map(|(_, o)| o.to_string()).collect();
    eprintln!(
        "oxtcp: serving {} on port {} at {} (TUN {}; Ctrl-C to stop)",
        format!("{:?}", args.mode).to_lowercase(),
        args.port,
        ours.join(", "),
        args.net.tun
    );
    let (tx, rx) = signals::install()?;
    let registry: Registry = Arc::default();
    let (mode, size, count) = (args.mode, args.http_size, args.count);
    let reg = registry.clone();
    let workers: Arc<Mutex<Vec<thread::JoinHandle<()>>>> = Arc::default();
    let ws = workers.clone();
    thread::spawn(move || {
        let mut served = 0u64;
        let result = loop {
            if count.is_some_and(|c| served >= c) {
                break Ok(());
            }
            let stream = match listener.accept() {
                Ok((s, _)) => s,
                Err(e) => break Err(format!("accept failed: {e}")),
            };
            served += 1;
            let id = served;
            if let Ok(c) = stream.try_clone() {
                reg.lock().unwrap_or_else(|e| e.into_inner()).push((id, c));
            }
            let reg = reg.clone();
            let h = thread::spawn(move || {
                if let Err(e) = serve_one(mode, size, &stream) {
                    // Peers that go away mid-stream are normal for chargen and downloads.
                    if !matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                    ) {
                        eprintln!("oxtcp: connection {id}: {e}");
                    }
                }
                reg.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .retain(|(i, _)| *i != id);
            });
            let mut w = ws.lock().unwrap_or_else(|e| e.into_inner());
            w.retain(|h| !h.is_finished());
            w.push(h);
        };
        // With --count, wait for the last connections to finish before reporting done.
        let handles: Vec<_> = ws
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        for h in handles {
            let _ = h.join();
        }
        let _ = tx.send(Stop::Done(result));
    });
    let stop = rx.recv().unwrap_or(Stop::Signal);
    let open: Vec<TcpStream> = registry
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain(..)
        .map(|(_, s)| s)
        .collect();
    if matches!(stop, Stop::Signal) {
        eprintln!("oxtcp: closing {} connection(s)", open.len());
    }
    for s in &open {
        let _ = s.shutdown(Shutdown::Write);
    }
    drop(open);
    // Give each open connection a bounded grace to see the peer's FIN before the runtime
    // stops: a worker blocked in read() would otherwise be cut off by our own shutdown and
    // report it as a failed connection.
    await_workers(&workers, Duration::from_secs(5));
    session.finish(stop)
}

/// Wait until every worker thread has finished, or `grace` has passed.
fn await_workers(workers: &Mutex<Vec<thread::JoinHandle<()>>>, grace: Duration) {
    let deadline = Instant::now() + grace;
    loop {
        let mut w = workers.lock().unwrap_or_else(|e| e.into_inner());
        w.retain(|h| !h.is_finished());
        if w.is_empty() || Instant::now() >= deadline {
            return;
        }
        drop(w);
        thread::sleep(Duration::from_millis(20));
    }
}
