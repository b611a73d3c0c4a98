//! `oxtcp-bench __smoltun send|recv BYTES BUFFER`: smoltcp on a TUN, the tun group's peer of
//! `oxtcp serve`. Started by the group under `ip netns exec` in a namespace of its own, it
//! opens TUN [`TUN`] (`TunTapInterface`, `Medium::Ip`), gives the kernel's side
//! 198.18.0.1/24, takes 198.18.0.2 itself, listens on [`PORT`] and prints `ready`. Then, one
//! connection at a time: `send` writes BYTES to each client and closes; `recv` reads and drops
//! everything until the client's FIN, then closes (discard). It serves until killed, its
//! parent dies, or 30 minutes pass.
//!
//! The TCP socket matches `oxtcp serve` in the group: BUFFER bytes each way, Nagle and delayed
//! ACK at smoltcp's defaults, timestamps on (as in `smol_mem`).

use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::sync::OnceLock;
use std::time::{Duration, Instant as StdInstant};

use anyhow::{bail, Context, Result};
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{wait, Medium, TunTapInterface};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, Ipv4Address};

use crate::netns;

/// The hidden subcommand.
pub const CMD: &str = "__smoltun";
/// The TUN's name inside the namespace.
pub const TUN: &str = "oxs0";
/// The port smoltcp listens on.
pub const PORT: u16 = 5001;

fn epoch() -> StdInstant {
    static E: OnceLock<StdInstant> = OnceLock::new();
    *E.get_or_init(StdInstant::now)
}

fn now() -> Instant {
    Instant::from_micros(epoch().elapsed().as_micros() as i64)
}

fn tsval() -> u32 {
    epoch().elapsed().as_millis() as u32
}

/// The child's main.
pub fn child_main(args: &[String]) -> Result<()> {
    // Die with the benchmark, whatever happens to it.
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a flag of this process.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let send = match args.first().map(String::as_str) {
        Some("send") => true,
        Some("recv") => false,
        _ => bail!("usage: {CMD} send|recv BYTES BUFFER"),
    };
    let bytes: u64 = args
        .get(1)
        .and_then(|v| v.parse().ok())
        .context("BYTES missing")?;
    let buffer: usize = args
        .get(2)
        .and_then(|v| v.parse().ok())
        .context("BUFFER missing")?;
    let mut dev = TunTapInterface::new(TUN, Medium::Ip).context("cannot open the TUN")?;
    netns::ip(&["addr", "add", "198.18.0.1/24", "dev", TUN])?;
    netns::ip(&["link", "set", TUN, "up"])?;

    let mut config = Config::new(HardwareAddress::Ip);
    config.random_seed = u64::from(std::process::id());
    let mut iface = Interface::new(config, &mut dev, now());
    iface.update_ip_addrs(|a| {
        a.push(IpCidr::new(
            IpAddress::Ipv4(Ipv4Address::new(198, 18, 0, 2)),
            24,
        ))
        .expect("one address fits");
    });
    let mut sockets = SocketSet::new(Vec::new());
    let mut sock = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; buffer]),
        tcp::SocketBuffer::new(vec![0; buffer]),
    );
    sock.set_tsval_generator(Some(tsval));
    sock.listen(PORT)?;
    let h = sockets.add(sock);
    println!("ready");
    std::io::stdout().flush()?;

    let pattern: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
    let mut junk = vec![0u8; 65536];
    let (mut sent, mut closing) = (0u64, false);
    let end = StdInstant::now() + Duration::from_secs(30 * 60);
    while StdInstant::now() < end {
        let t = now();
        iface.poll(t, &mut dev, &mut sockets);
        let s = sockets.get_mut::<tcp::Socket>(h);
        if !s.is_open() {
            s.listen(PORT)?;
            (sent, closing) = (0, false);
        }
        while s.can_recv() {
            s.recv_slice(&mut junk)?;
        }
        if send {
            while sent < bytes && s.can_send() {
                let at = (sent % pattern.len() as u64) as usize;
                let n = (bytes - sent).min((pattern.len() - at) as u64) as usize;
                let put = s.send_slice(&pattern[at..at + n])?;
                if put == 0 {
                    break;
                }
                sent += put as u64;
            }
            if sent >= bytes && !closing && s.may_send() {
                s.close();
                closing = true;
            }
        } else if s.state() == tcp::State::CloseWait && !closing {
            s.close();
            closing = true;
        }
        wait(dev.as_raw_fd(), iface.poll_delay(t, &sockets))?;
    }
    Ok(())
}
