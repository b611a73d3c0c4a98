//! An echo server on the tokio API, on a fresh TUN interface: one task per connection.
//!
//!     sudo cargo run -p oxtcp --example echo_server_tokio -- oxtcp0 198.18.0.1/24 7
//!     nc 198.18.0.2 7        # from the kernel side
use std::net::{Ipv4Addr, SocketAddr};

use oxtcp::tokio::TcpListener;
use oxtcp::{net_on_tun, Net};
use tokio::io::AsyncWriteExt;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (tun, cidr, port) = match &args[1..] {
        [t, c, p] => (t.as_str(), c.as_str(), p.parse::<u16>().expect("port")),
        _ => {
            eprintln!("usage: echo_server_tokio TUN KERNEL_ADDR/LEN PORT");
            std::process::exit(2);
        }
    };
    let net = net_on_tun(tun, &[cidr], Net::builder())?;
    let listener = TcpListener::bind(&net, SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))).await?;
    eprintln!("echo on {:?} port {port}", net.addresses());
    loop {
        let (s, peer) = listener.accept().await?;
        tokio::spawn(async move {
            let (mut r, mut w) = tokio::io::split(s);
            if let Err(e) = tokio::io::copy(&mut r, &mut w).await {
                eprintln!("{peer}: {e}");
            }
            let _ = w.shutdown().await;
        });
    }
}
