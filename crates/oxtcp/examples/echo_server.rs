//! An echo server on the blocking API, on a fresh TUN interface.
//!
//!     sudo cargo run -p oxtcp --example echo_server -- oxtcp0 198.18.0.1/24 7
//!     nc 198.18.0.2 7        # from the kernel side
use std::io::{Read, Write};
use std::thread;

use oxtcp::{net_on_tun, Net, TcpListener};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (tun, cidr, port) = match &args[1..] {
        [t, c, p] => (t.as_str(), c.as_str(), p.parse::<u16>().expect("port")),
        _ => {
            eprintln!("usage: echo_server TUN KERNEL_ADDR/LEN PORT");
            std::process::exit(2);
        }
    };
    let net = net_on_tun(tun, &[cidr], Net::builder())?;
    let listener = TcpListener::bind(&net, ("0.0.0.0", port))?;
    eprintln!("echo on {:?} port {port}", net.addresses());
    for stream in listener.incoming() {
        let mut s = stream?;
        thread::spawn(move || {
            let mut buf = [0u8; 16384];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 || s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
    Ok(())
}
