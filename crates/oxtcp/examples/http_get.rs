//! HTTP/1.1 GET on the blocking API, from a fresh TUN interface: the body goes to stdout.
//! The body ends at Content-Length, or at end of stream without one; a status other than
//! 2xx, a short body or a network error exits 1.
//!
//!     sudo cargo run -p oxtcp --example http_get -- oxtcp0 198.18.0.1/24 http://198.18.0.1:8000/file
//!     python3 -m http.server 8000      # on the kernel side, once the interface is up
use std::process::ExitCode;
use std::time::Duration;

use oxtcp::{net_on_tun, Net, TcpStream};

mod common;
use common::Url;

fn run(tun: &str, cidr: &str, url: &Url) -> Result<(), String> {
    let net = net_on_tun(tun, &[cidr], Net::builder()).map_err(|e| e.to_string())?;
    let s = TcpStream::connect(&net, url.addr).map_err(|e| format!("{}: {e}", url.addr))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    common::get(&s, url, &mut std::io::stdout().lock())?;
    drop(s);
    // Let our FIN and the peer's last ACK go out before the process (and the TUN) goes.
    net.shutdown(Duration::from_secs(2));
    Ok(())
}

fn main() -> ExitCode {
    let (tun, cidr, url) = common::args("http_get");
    common::exit_on_error("http_get", run(&tun, &cidr, &url))
}
