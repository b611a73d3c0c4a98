//! What `serve` and `connect` share: the TUN interface and addresses, the fault injector,
//! the trace and pcap files, and the control socket `ss` talks to.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use oxtcp::device::{Device, FaultCounters, Faults, FaultyDevice, PcapTap, TunConfig, TunDevice};
use oxtcp::{next_addr, parse_cidr, Net, StackConfig};
use oxtcp_core::EventKind;

use crate::control::Control;
use crate::signals::Stop;

/// The interface and what wraps it.
#[derive(Args, Debug)]
pub struct NetArgs {
    /// Name of the TUN interface to create.
    #[arg(long, value_name = "NAME")]
    pub tun: String,
    /// Kernel-side address of the TUN with its prefix length; give it once per family
    /// (IPv4 and IPv6).
    #[arg(long = "tun-addr", value_name = "A/LEN", required = true)]
    pub tun_addr: Vec<String>,
    /// oxtcp's own address, one per family, in the TUN's subnet [default: A+1].
    #[arg(long, value_name = "B")]
    pub addr: Vec<IpAddr>,
    /// MTU of the interface.
    #[arg(long, default_value_t = 1500)]
    pub mtu: u16,
    /// Use the virtio-net offloads: the kernel's TSO super-segments taken whole, the stack's
    /// own super-segments (TSO) towards it, checksums left to it.
    #[arg(long)]
    pub offload: bool,
    /// Socket buffers, each way, per connection (bytes, or with K or M) [default: 64K].
    #[arg(long, value_name = "BYTES", value_parser = crate::valueparse::buffer_size)]
    pub buffer: Option<usize>,
    /// Probability of dropping a datagram, each direction.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub loss: f64,
    /// Probability of duplicating a datagram, each direction.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub dup: f64,
    /// Probability of holding a datagram back behind later ones, each direction.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub reorder: f64,
    /// Delay added to every datagram, each direction, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub delay: u64,
    /// Seed of the fault pattern and of the stack.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub seed: u64,
    /// Write the stack's trace (every segment, state change and timer) as JSON Lines.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Record every datagram crossing the TUN to a pcap file.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Control socket for `oxtcp ss` [default: $OXTCP_RUN_DIR or /run/oxtcp, then NAME.sock].
    #[arg(long, value_name = "PATH")]
    pub control: Option<PathBuf>,
}

/// A running stack on its TUN.
pub struct Session {
    pub net: Net,
    pub faults: Option<Arc<FaultCounters>>,
    /// oxtcp's addresses, as (kernel side, ours).
    pub addrs: Vec<(IpAddr, IpAddr)>,
    _control: Control,
}

fn in_subnet(a: IpAddr, b: IpAddr, len: u8) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

impl NetArgs {
    /// (kernel address, prefix, our address) per family, checked.
    pub fn plan(&self) -> Result<Vec<(IpAddr, u8, IpAddr)>> {
        let mut out: Vec<(IpAddr, u8, IpAddr)> = Vec::new();
        for t in &self.tun_addr {
            let (a, len) = parse_cidr(t).map_err(|e| anyhow!("--tun-addr {e}"))?;
            if out.iter().any(|(k, _, _)| k.is_ipv4() == a.is_ipv4()) {
                bail!("--tun-addr: give at most one IPv4 and one IPv6 address");
            }
            let ours = match self.addr.iter().find(|b| b.is_ipv4() == a.is_ipv4()) {
                Some(b) => *b,
                None => next_addr(a),
            };
            if ours == a {
                bail!("--addr {ours} is the kernel's own address; pick another in {t}");
            }
            if !in_subnet(a, ours, len) {
                bail!("--addr {ours} is not in the TUN's subnet {t}");
            }
            out.push((a, len, ours));
        }
        if let Some(b) = self
            .addr
            .iter()
            .find(|b| !out.iter().any(|(k, _, _)| k.is_ipv4() == b.is_ipv4()))
        {
            bail!("--addr {b} has no --tun-addr of the same family");
        }
        Ok(out)
    }

    fn faults(&self) -> Result<Faults> {
        let f = Faults {
            loss: self.loss,
            dup: self.dup,
            reorder: self.reorder,
            delay: Duration::from_millis(self.delay),
            seed: self.seed,
        };
        f.validate().map_err(|e| anyhow!(e))?;
        Ok(f)
    }

    /// Create the TUN, wrap it, start the stack and the control socket.
    pub fn start(&self) -> Result<Session> {
        let plan = self.plan()?;
        let faults = self.faults()?;
        if self.tun.is_empty() || self.tun.len() > 15 {
            bail!(
                "--tun {:?}: interface names are 1 to 15 characters",
                self.tun
            );
        }
        let mut cfg = TunConfig::new(&self.tun);
        cfg.mtu = self.mtu;
        cfg.offload = self.offload;
        cfg.addrs = plan.iter().map(|(a, l, _)| (*a, *l)).collect();
        let tun = TunDevice::create(&cfg)?;
        let mut dev: Box<dyn Device> = Box::new(tun);
        if let Some(p) = &self.pcap {
            let f = File::create(p).with_context(|| format!("cannot create {}", p.display()))?;
            dev = Box::new(PcapTap::new(dev, Box::new(BufWriter::new(f)))?);
        }
        let mut counters = None;
        if faults.any() {
            let fd = FaultyDevice::new(dev, faults);
            counters = Some(fd.counters());
            dev = Box::new(fd);
        }
        let mut cfg = StackConfig {
            seed: self.seed,
            ..StackConfig::default()
        };
        if let Some(n) = self.buffer {
            cfg.send_buffer = n;
            cfg.recv_buffer = n;
        }
        let mut b = Net::builder().config(cfg);
        for (_, _, ours) in &plan {
            b = b.address(*ours);
        }
        if let Some(p) = &self.trace {
            let f = File::create(p).with_context(|| format!("cannot create {}", p.display()))?;
            let mut w = BufWriter::new(f);
            b = b.on_event(move |e| {
                let line = crate::jsonl::event_json("oxtcp", e);
                let _ = writeln!(w, "{line}");
                // State changes are what people watch for; make them visible at once.
                if matches!(e.kind, EventKind::State(_)) {
                    let _ = w.flush();
                }
            });
        }
        let net = b.start(dev)?;
        let control_path = self
            .control
            .clone()
            .unwrap_or_else(|| crate::control::default_path(&self.tun));
        let control = Control::start(net.clone(), &self.tun, control_path)?;
        Ok(Session {
            net,
            faults: counters,
            addrs: plan.iter().map(|(a, _, o)| (*a, *o)).collect(),
            _control: control,
        })
    }
}

impl Session {
    /// End the run: give closing handshakes up to 5 s, stop the runtime, report the fault
    /// injector's work, and turn why the command stopped into its result.
    pub fn finish(&self, stop: Stop) -> Result<()> {
        self.net.shutdown(Duration::from_secs(5));
        if let Some(f) = self.fault_summary() {
            eprintln!("oxtcp: {f}");
        }
        match stop {
            Stop::Done(Err(e)) => Err(anyhow!(e)),
            _ => Ok(()),
        }
    }

    /// A one-line summary of the fault injector, if it ran.
    fn fault_summary(&self) -> Option<String> {
        let (din, dout, dup, reord, _) = self.faults.as_ref()?.snapshot();
        Some(format!(
            "faults: dropped {din} in, {dout} out; duplicated {dup}; reordered {reord}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        n: NetArgs,
    }

    fn plan(args: &[&str]) -> Result<Vec<(IpAddr, u8, IpAddr)>> {
        let mut v = vec!["t", "--tun", "t0"];
        v.extend_from_slice(args);
        T::try_parse_from(v).unwrap().n.plan()
    }

    #[test]
    fn addresses_default_to_the_next_one_and_must_share_the_subnet() {
        let p = plan(&["--tun-addr", "198.18.0.1/24"]).unwrap();
        assert_eq!(p[0].2, "198.18.0.2".parse::<IpAddr>().unwrap());
        let p = plan(&["--tun-addr", "198.18.0.1/24", "--tun-addr", "fd00::1/64"]).unwrap();
        assert_eq!(p[1].2, "fd00::2".parse::<IpAddr>().unwrap());
        assert!(plan(&["--tun-addr", "198.18.0.1/24", "--addr", "10.0.0.2"]).is_err());
        assert!(plan(&["--tun-addr", "198.18.0.1/24", "--addr", "198.18.0.1"]).is_err());
        assert!(plan(&["--tun-addr", "198.18.0.1/24", "--addr", "fd00::2"]).is_err());
        assert!(plan(&["--tun-addr", "198.18.0.1/24", "--tun-addr", "198.18.1.1/24"]).is_err());
        assert!(plan(&["--tun-addr", "198.18.0.1"]).is_err());
        let p = plan(&["--tun-addr", "198.18.0.1/24", "--addr", "198.18.0.77"]).unwrap();
        assert_eq!(p[0].2, "198.18.0.77".parse::<IpAddr>().unwrap());
    }
}
