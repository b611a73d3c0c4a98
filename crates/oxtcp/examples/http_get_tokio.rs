//! HTTP/1.1 GET on the tokio API, from a fresh TUN interface: the body goes to stdout.
//! The body ends at Content-Length, or at end of stream without one; a status other than
//! 2xx, a short body or a network error exits 1.
//!
//!     sudo cargo run -p oxtcp --example http_get_tokio -- oxtcp0 198.18.0.1/24 http://198.18.0.1:8000/file
//!     python3 -m http.server 8000      # on the kernel side, once the interface is up
use std::process::ExitCode;
use std::time::Duration;

use oxtcp::tokio::TcpStream;
use oxtcp::{net_on_tun, Net};

mod common;
use common::Url;

async fn run(tun: &str, cidr: &str, url: &Url) -> Result<(), String> {
    let net = net_on_tun(tun, &[cidr], Net::builder()).map_err(|e| e.to_string())?;
    let mut s = TcpStream::connect(&net, url.addr)
        .await
        .map_err(|e| format!("{}: {e}", url.addr))?;
    let mut out = tokio::io::stdout();
    common::get_async(&mut s, url, &mut out, Duration::from_secs(30)).await?;
    drop(s);
    // Let our FIN and the peer's last ACK go out before the process (and the TUN) goes.
    tokio::task::spawn_blocking(move || net.shutdown(Duration::from_secs(2)))
        .await
        .map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let (tun, cidr, url) = common::args("http_get_tokio");
    common::exit_on_error("http_get_tokio", run(&tun, &cidr, &url).await)
}
