//! `oxtcp sim`: experiments on the simulator with the real stacks. `transfer` runs K bulk
//! transfers over one bottleneck link and reports goodput, utilisation, retransmissions and
//! fairness; `attack` runs off-path attacks against a server and reports what got through.

mod apps;
mod attack;
mod measure;
mod options;
mod plot;
mod report;
mod transfer;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};

use options::{CongestionControl, Sack};
use transfer::TransferSpec;

/// Options of `oxtcp sim`.
#[derive(clap::Args, Debug)]
pub struct SimArgs {
    #[command(subcommand)]
    cmd: SimCmd,
}

#[derive(clap::Subcommand, Debug)]
enum SimCmd {
    /// Bulk transfers from host A to host B over a simulated bottleneck link.
    Transfer(TransferArgs),
    /// Off-path attacks against a server: SYN flood, blind RST/data/SYN injection, malformed
    /// segments; prints what got through.
    Attack(attack::AttackArgs),
}

/// Options of `oxtcp sim transfer`.
#[derive(clap::Args, Debug)]
pub struct TransferArgs {
    /// Bytes each flow sends.
    #[arg(long, required_unless_present = "duration")]
    bytes: Option<u64>,
    /// Instead of a byte count, run every flow for this many simulated seconds (sending all it
    /// can) and report what each had acknowledged by then; with --bytes too, a flow that
    /// finishes earlier stops there.
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Round-trip propagation delay in milliseconds (each direction gets half).
    #[arg(long)]
    rtt: f64,
    /// Bottleneck bandwidth in Mbit/s, each way.
    #[arg(long)]
    bandwidth: f64,
    /// Random loss probability on the data direction (0 to 1).
    #[arg(long, default_value_t = 0.0, value_parser = crate::valueparse::probability)]
    loss: f64,
    /// Random reordering probability on the data direction (0 to 1); a reordered packet is
    /// held back a quarter RTT (at least 1 ms).
    #[arg(long, default_value_t = 0.0, value_parser = crate::valueparse::probability)]
    reorder: f64,
    /// Drop-tail queue limit at the bottleneck, in packets of 1500 bytes (each direction)
    /// [default: one bandwidth-delay product].
    #[arg(long, value_name = "PACKETS")]
    queue: Option<usize>,
    /// Congestion control.
    #[arg(long, value_enum, default_value = "cubic")]
    cc: CongestionControl,
    /// Selective acknowledgments.
    #[arg(long, value_enum, default_value = "on")]
    sack: Sack,
    /// Parallel flows, each sending --bytes.
    #[arg(long, default_value_t = 1)]
    flows: usize,
    /// Seed of the simulator and the stacks; the same seed replays the same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fail if the transfer has not finished after this many simulated seconds
    /// [default: 60 s plus 50 times the time the link needs for all the bytes].
    #[arg(long, value_name = "SECONDS")]
    time_limit: Option<f64>,
    /// Print one JSON object instead of the summary.
    ///
    /// `utilization` is the bytes the data direction delivered (headers and retransmissions
    /// included) over the link's capacity for the whole run, slow start included.
    /// `utilization_after_slow_start` is the same ratio from `slow_start_end_seconds`, the first
    /// sample (every RTT/4) at which flow 1's ssthresh is set, to the end of the transfer; both
    /// are null if flow 1 never left slow start.
    #[arg(long)]
    json: bool,
    /// Write flow 1's congestion window and bytes in flight over time to this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
}

/// Run `oxtcp sim`.
pub fn run(args: &SimArgs) -> Result<()> {
    match &args.cmd {
        SimCmd::Transfer(t) => run_transfer(t),
        SimCmd::Attack(a) => attack::run(a),
    }
}

fn spec_of(args: &TransferArgs) -> Result<TransferSpec> {
    if args.bytes == Some(0) {
        bail!("--bytes must be at least 1");
    }
    let duration = match args.duration {
        Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        Some(_) => bail!("--duration must be a positive number of seconds"),
        None => None,
    };
    let bytes = args.bytes.unwrap_or(u64::MAX);
    if args.flows == 0 {
        bail!("--flows must be at least 1");
    }
    if !(args.rtt.is_finite() && args.rtt > 0.0) {
        bail!("--rtt must be a positive number of milliseconds");
    }
    if !(args.bandwidth.is_finite() && args.bandwidth > 0.0) {
        bail!("--bandwidth must be a positive number of Mbit/s");
    }
    let rtt = Duration::from_secs_f64(args.rtt / 1000.0);
    let bandwidth_bps = (args.bandwidth * 1e6).round().max(1.0) as u64;
    let queue_packets = match args.queue {
        Some(0) => bail!("--queue must be at least 1 packet"),
        Some(q) => q,
        None => TransferSpec::bdp_packets(rtt, bandwidth_bps),
    };
    let ideal = (bytes as f64 * args.flows as f64 * 8.0) / bandwidth_bps as f64;
    let time_limit = match args.time_limit {
        Some(s) if s.is_finite() && s > 0.0 => Duration::from_secs_f64(s),
        Some(_) => bail!("--time-limit must be a positive number of seconds"),
        None => match duration {
            Some(d) => d + Duration::from_secs(1),
            None => Duration::from_secs_f64(60.0 + 50.0 * ideal),
        },
    };
    Ok(TransferSpec {
        bytes,
        duration,
        rtt,
        bandwidth_bps,
        loss: args.loss,
        reorder: args.reorder,
        queue_packets,
        flows: args.flows,
        seed: args.seed,
        cc: args.cc,
        sack: args.sack,
        time_limit,
    })
}

/// Process CPU time (user + system) so far, seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass; RUSAGE_SELF is always valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn run_transfer(args: &TransferArgs) -> Result<()> {
    let spec = spec_of(args)?;
    let cpu_start = cpu_seconds();
    let result = transfer::run(&spec)?;
    let report = report::Report {
        spec: &spec,
        result: &result,
        cpu_seconds: cpu_seconds() - cpu_start,
    };
    if let Some(path) = &args.plot {
        let title = format!(
            "oxtcp sim transfer: flow 1, {} Mbit/s, RTT {} ms, loss {}",
            args.bandwidth, args.rtt, args.loss
        );
        crate::svgout::write(path, &plot::render(&result.samples, &title))?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", report.json())?;
    } else {
        write!(out, "{}", report.human())?;
    }
    Ok(())
}
