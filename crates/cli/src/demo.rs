//! `oxtcp demo`: the whole TCP lifecycle between two simulated hosts — three-way handshake,
//! data both ways, four-way close, TIME-WAIT expiry — drawn as a ladder diagram and checked.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use oxtcp_core::{EventKind, Stack, StackConfig, State};
use oxtcp_sim::{ClosePolicy, Endpoint, Instant, LinkConfig, StackHost, World};
use oxtcp_wire::TcpFlags;

use crate::jsonl;
use crate::view::{check_mark, ViewArgs};
use oxtcp_lab::ladder::{self, Side};
use oxtcp_lab::scenario::{self, count_sent, Check, Scenario};
use oxtcp_lab::svg::{self, SvgOptions};

/// Options of `oxtcp demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// The scenario to run (see --list) [default: handshake-and-close].
    name: Option<String>,
    /// List the scenarios with what each shows.
    #[arg(long)]
    list: bool,
    /// Seed for the simulator and both stacks; the same seed replays the same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Probability that a packet is lost, in each direction (0 to 1).
    #[arg(long, default_value_t = 0.0, value_parser = crate::valueparse::probability)]
    loss: f64,
    /// One-way latency in milliseconds.
    #[arg(long, default_value_t = 10)]
    latency_ms: u64,
    /// Maximum segment lifetime in seconds; TIME-WAIT lasts twice this.
    #[arg(long, default_value_t = 30)]
    msl: u64,
    /// Write every packet to this pcap file (opens in Wireshark and tshark).
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// Write the event trace to this file as JSON Lines.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Run the scenario with TIME-WAIT disabled on both hosts, to show the hazard it
    /// prevents (old-duplicate).
    #[arg(long)]
    no_time_wait: bool,
    /// Also draw the ladder as a standalone SVG figure.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    #[command(flatten)]
    view: ViewArgs,
}

/// Write the SVG figure of a run if `--svg` asked for one.
fn write_svg(
    args: &DemoArgs,
    title: &str,
    a: &Side<'_>,
    b: &Side<'_>,
    arrivals: &oxtcp_lab::ladder::Arrivals,
) -> Result<()> {
    if let Some(path) = &args.svg {
        let opts = SvgOptions {
            title: title.to_string(),
            relative: args.view.relative(),
            ..SvgOptions::default()
        };
        crate::svgout::write(path, &svg::render(a, b, Some(arrivals), &opts))?;
    }
    Ok(())
}

const REQUEST: &[u8] = b"GET /lifecycle HTTP/1.1\r\nHost: b.example\r\n\r\n";
const RESPONSE_LEN: usize = 3000;

fn response() -> Vec<u8> {
    let mut body = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
    body.extend((0..RESPONSE_LEN - body.len()).map(|i| b'a' + (i % 26) as u8));
    body
}

/// What `handshake-and-close` shows (it runs with the loss and latency options).
const DEFAULT_SHOWS: &str =
    "O1–O3, C1–C5: the three-way handshake, data both ways, the four-way close and TIME-WAIT";

/// Run the demo (or a named scenario) and print its ladder; errors if a claim did not hold.
pub fn run(args: &DemoArgs) -> Result<()> {
    if args.list {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{:<26} {DEFAULT_SHOWS}", "handshake-and-close")?;
        for s in scenario::all() {
            writeln!(out, "{:<26} {}", s.name, s.shows)?;
        }
        return Ok(());
    }
    let name = args.name.as_deref().unwrap_or("handshake-and-close");
    let s = match scenario::find(name) {
        Some(s) => Some(s),
        None if name == "handshake-and-close" => None,
        None => bail!("no scenario {name:?}; `oxtcp demo --list` lists them"),
    };
    if args.no_time_wait {
        let with = scenario::all().iter().filter(|s| s.no_time_wait.is_some());
        let names: Vec<&str> = with.map(|s| s.name).collect();
        match s.and_then(|s| s.no_time_wait) {
            Some(variant) => return run_scenario(variant, args),
            None => bail!(
                "{name} has no --no-time-wait run; {} {} one",
                names.join(", "),
                if names.len() == 1 { "has" } else { "have" }
            ),
        }
    }
    match s {
        Some(s) => run_scenario(s, args),
        None => handshake_and_close(args),
    }
}

/// Run a scenario of the catalog, print its ladder and its checks.
fn run_scenario(s: &Scenario, args: &DemoArgs) -> Result<()> {
    let pcap: Option<Box<dyn Write>> = match &args.pcap {
        Some(p) => Some(Box::new(BufWriter::new(
            File::create(p).with_context(|| format!("creating {}", p.display()))?,
        ))),
        None => None,
    };
    let r = scenario::run((s.setup)(), args.seed, pcap).context("the simulation did not settle")?;
    let (a, b) = s.sides(&r);
    let opts = args.view.ladder();
    let mut out = std::io::stdout().lock();
    let variant = if args.no_time_wait {
        " --no-time-wait"
    } else {
        ""
    };
    writeln!(
        out,
        "oxtcp demo {}{variant}: {} (seed {})",
        s.name, s.shows, args.seed
    )?;
    writeln!(
        out,
        "A = {} (opens)   B = {}\n",
        scenario::A_IP,
        scenario::B_IP
    )?;
    write!(
        out,
        "{}",
        ladder::render_with(&a, &b, Some(&r.arrivals), &opts)
    )?;
    let title = format!("oxtcp demo {}{variant}", s.name);
    write_svg(args, &title, &a, &b, &r.arrivals)?;
    writeln!(out)?;
    let checks = s.check(&r);
    for c in &checks {
        writeln!(out, "{} {}", check_mark(c.ok, opts.colour), c.claim)?;
    }
    if let Some(path) = &args.trace {
        let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = BufWriter::new(f);
        jsonl::write_merged(&mut w, &[("A", &r.a), ("B", &r.b)])?;
        w.flush()?;
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed > 0 {
        bail!("{failed} of the scenario's claims did not hold");
    }
    Ok(())
}

/// The default scenario: a request, a 3000-byte answer, the four-way close and TIME-WAIT, with
/// the loss and latency options applied.
fn handshake_and_close(args: &DemoArgs) -> Result<()> {
    let a_ip: IpAddr = "10.0.0.1".parse()?;
    let b_ip: IpAddr = "10.0.0.2".parse()?;
    let server = SocketAddr::new(b_ip, 80);
    let cfg = |seed: u64| StackConfig {
        seed,
        trace: true,
        msl: Duration::from_secs(args.msl),
        // Loss in the demo should end in a completed lifecycle, not a give-up.
        syn_retries: 10,
        synack_retries: 10,
        ..StackConfig::default()
    };
    let mut world = World::new(args.seed);
    let client = Endpoint::client(
        server,
        Instant::ZERO,
        REQUEST.to_vec(),
        ClosePolicy::AfterReceiving(RESPONSE_LEN),
    );
    let mut srv = Endpoint::server(server, response(), ClosePolicy::AfterPeerCloses);
    srv.send_after = REQUEST.len();
    // B's application closes a moment after reading A's FIN: B's ACK and B's FIN travel apart,
    // the four-way close (lifecycle C2, C3).
    srv.close_delay = Duration::from_millis(50);
    let a = world.add_host(
        "A",
        &[a_ip],
        StackHost::new(
            Stack::with_addresses(cfg(args.seed.wrapping_mul(2) + 1), &[a_ip]),
            client,
        ),
    );
    let b = world.add_host(
        "B",
        &[b_ip],
        StackHost::new(
            Stack::with_addresses(cfg(args.seed.wrapping_mul(2) + 2), &[b_ip]),
            srv,
        ),
    );
    world.link(
        a,
        b,
        LinkConfig::default()
            .with_latency(Duration::from_millis(args.latency_ms))
            .with_loss(args.loss),
    );
    world.record_net_events(true);
    if let Some(path) = &args.pcap {
        let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        world.record_pcap(BufWriter::new(f))?;
    }
    world
        .run_until_idle(1_000_000)
        .context("the simulation did not settle")?;
    if args.pcap.is_some() {
        world.finish_pcap()?;
    }

    let net = world.take_net_events();
    let (ha, hb) = (world.node(a), world.node(b));
    let side_a = Side {
        name: "A",
        events: &ha.events,
        initial: State::Closed,
    };
    let side_b = Side {
        name: "B",
        events: &hb.events,
        initial: State::Listen,
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "oxtcp demo: handshake, data both ways, four-way close, TIME-WAIT \
         (seed {}, loss {}, one-way latency {} ms, MSL {} s)",
        args.seed, args.loss, args.latency_ms, args.msl
    )?;
    writeln!(
        out,
        "A = {a_ip} (client)   B = {server} (server, listening)\n"
    )?;
    let arrivals = scenario::packet_arrivals(&net, [a, b], [&ha.events, &hb.events]);
    write!(
        out,
        "{}",
        ladder::render_with(&side_a, &side_b, Some(&arrivals), &args.view.ladder())
    )?;
    write_svg(
        args,
        "oxtcp demo handshake-and-close",
        &side_a,
        &side_b,
        &arrivals,
    )?;
    let seq_a = ladder::state_sequence(&side_a);
    let seq_b = ladder::state_sequence(&side_b);
    writeln!(out, "\nA: {}", ladder::show_states(&seq_a))?;
    writeln!(out, "B: {}", ladder::show_states(&seq_b))?;
    writeln!(
        out,
        "data: A→B {} bytes, B→A {} bytes\n",
        hb.app.received.len(),
        ha.app.received.len(),
    )?;
    let checks = default_checks(args, &side_a, &side_b, &ha.app.received, &hb.app.received);
    let colour = args.view.ladder().colour;
    for c in &checks {
        writeln!(out, "{} {}", check_mark(c.ok, colour), c.claim)?;
    }

    if let Some(path) = &args.trace {
        let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = BufWriter::new(f);
        jsonl::write_merged(&mut w, &[("A", &ha.events), ("B", &hb.events)])?;
        w.flush()?;
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed > 0 {
        bail!("{failed} of the demo's claims did not hold");
    }
    Ok(())
}

/// The claims of `handshake-and-close`. Without loss the run must take the textbook paths
/// exactly; with loss, timers may legitimately end a side another way (A's orphaned FIN-WAIT-2
/// limit when every copy of B's FIN is lost), so only the outcome is claimed.
fn default_checks(
    args: &DemoArgs,
    a: &Side<'_>,
    b: &Side<'_>,
    a_got: &[u8],
    b_got: &[u8],
) -> Vec<Check> {
    use State::*;
    let (seq_a, seq_b) = (ladder::state_sequence(a), ladder::state_sequence(b));
    let mut out = vec![
        Check::new(
            format!("B receives A's {}-byte request intact", REQUEST.len()),
            b_got == REQUEST,
        ),
        Check::new(
            format!("A receives B's {RESPONSE_LEN}-byte response intact"),
            a_got == response(),
        ),
    ];
    if args.loss > 0.0 {
        let ended = seq_a.last() == Some(&Closed) && seq_b.last() == Some(&Closed);
        out.push(Check::new("both sides end CLOSED", ended));
        return out;
    }
    let want_a = [
        Closed,
        SynSent,
        Established,
        FinWait1,
        FinWait2,
        TimeWait,
        Closed,
    ];
    let want_b = [Listen, SynReceived, Established, CloseWait, LastAck, Closed];
    out.push(Check::new(
        format!("A: {}", ladder::show_states(&want_a)),
        seq_a == want_a,
    ));
    out.push(Check::new(
        format!("B: {}", ladder::show_states(&want_b)),
        seq_b == want_b,
    ));
    let fin_ack = TcpFlags::FIN | TcpFlags::ACK;
    out.push(Check::new(
        "one SYN, one SYN+ACK, and one FIN from each side: nothing retransmitted",
        count_sent(a.events, TcpFlags::SYN) == 1
            && count_sent(b.events, TcpFlags::SYN | TcpFlags::ACK) == 1
            && count_sent(a.events, fin_ack) == 1
            && count_sent(b.events, fin_ack) == 1,
    ));
    let two_msl = Duration::from_secs(2 * args.msl);
    let held = time_in(a, TimeWait);
    out.push(Check::new(
        format!(
            "A holds TIME-WAIT for 2×MSL = {} s (held {})",
            two_msl.as_secs(),
            held.map_or("never".into(), |d| format!("{:.3} s", d.as_secs_f64()))
        ),
        held == Some(two_msl),
    ));
    out
}

/// How long a side stayed in `state` the first time it entered it.
fn time_in(side: &Side<'_>, state: State) -> Option<Duration> {
    let mut entered = None;
    for e in side.events {
        if let EventKind::State(s) = &e.kind {
            match entered {
                None if s.to == state => entered = Some(e.time),
                Some(t) => return Some(e.time.saturating_duration_since(t)),
                None => {}
            }
        }
    }
    None
}
