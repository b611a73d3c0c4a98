//! `oxtcp connect`: a client on oxtcp, on a fresh TUN — netcat, or an HTTP GET.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::thread;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use oxtcp::TcpStream;

use crate::http::HeadReader;
use crate::netargs::NetArgs;
use crate::signals::{self, Stop};

/// Arguments of `oxtcp connect`.
#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// Where to connect: HOST:PORT, or [IPv6]:PORT.
    #[arg(value_name = "HOST:PORT")]
    pub target: String,
    #[command(flatten)]
    pub net: NetArgs,
    /// Do an HTTP/1.1 GET of PATH and write the body to stdout.
    #[arg(long, value_name = "/PATH")]
    pub get: Option<String>,
    /// Give up on the handshake after this many seconds.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub timeout: u64,
}

fn resolve(target: &str) -> Result<SocketAddr> {
    target
        .to_socket_addrs()
        .map_err(|e| anyhow!("{target:?} is not HOST:PORT ({e})"))?
        .next()
        .ok_or_else(|| anyhow!("{target:?} resolves to no address"))
}

/// GET `path`; the body goes to `out`. Returns the body length.
fn http_get(s: &TcpStream, host: &str, path: &str, out: &mut impl Write) -> Result<u64> {
    if !path.starts_with('/') {
        bail!("--get {path:?}: the path must start with '/'");
    }
    let mut w = s;
    write!(
        w,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: oxtcp\r\nConnection: close\r\n\r\n"
    )?;
    let mut r = s;
    let mut heads = HeadReader::default();
    let head = heads
        .read_head(&mut r)?
        .ok_or_else(|| anyhow!("the server closed without answering"))?;
    let status = head.start.get(1).cloned().unwrap_or_default();
    if !status.starts_with('2') {
        bail!("HTTP {}", head.start[1..].join(" "));
    }
    let want = head.content_length();
    out.write_all(&heads.buf)?;
    let mut got = heads.buf.len() as u64;
    let mut buf = vec![0u8; 65536];
    loop {
        if want.is_some_and(|w| got >= w) {
            break;
        }
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])?;
        got += n as u64;
    }
    out.flush()?;
    if let Some(w) = want {
        if got != w {
            bail!("body ended after {got} of {w} bytes");
        }
    }
    Ok(got)
}

/// Run `oxtcp connect`.
pub fn run(args: &ConnectArgs) -> Result<()> {
    let remote = resolve(&args.target)?;
    let session = args.net.start()?;
    let net = session.net.clone();
    let stream =
        TcpStream::connect_timeout(&net, &remote, Duration::from_secs(args.timeout.max(1)))
            .with_context(|| format!("connect to {remote}"))?;
    let (tx, rx) = signals::install()?;
    let worker = stream.try_clone()?;
    let host = args
        .target
        .rsplit_once(':')
        .map_or("", |(h, _)| h)
        .to_string();
    let get = args.get.clone();
    thread::spawn(move || {
        let result = match get {
            Some(path) => http_get(&worker, &host, &path, &mut io::stdout().lock())
                .map(|_| ())
                .map_err(|e| format!("{e:#}")),
            None => netcat(worker),
        };
        let _ = tx.send(Stop::Done(result));
    });
    let stop = rx.recv().unwrap_or(Stop::Signal);
    // Our side closes gracefully either way: FIN after what is queued.
    let _ = stream.shutdown(Shutdown::Write);
    drop(stream);
    session.finish(stop)
}

/// stdin to the connection (half-closing at EOF), the connection to stdout until the peer
/// closes.
fn netcat(s: TcpStream) -> Result<(), String> {
    let up = s.try_clone().map_err(|e| e.to_string())?;
    thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut buf = vec![0u8; 65536];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if (&up).write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = up.shutdown(Shutdown::Write);
    });
    let mut out = io::stdout().lock();
    let mut buf = vec![0u8; 65536];
    loop {
        match (&s).read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                out.write_all(&buf[..n]).map_err(|e| e.to_string())?;
                out.flush().map_err(|e| e.to_string())?;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}
