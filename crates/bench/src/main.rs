//! `oxtcp-bench`: every figure of the benchmark suite, measured for oxtcp and its peers
//! (smoltcp, the Linux kernel) alternately in one process run, printed as a table of medians
//! with oxtcp's advantage over each peer, and optionally written as JSON.

mod alloc_count;
mod bulk;
mod cpus;
mod forge;
mod insns;
mod lifecycle;
mod lockstep;
mod machine;
mod memory;
mod netns;
mod oxtcp_mem;
mod peer;
mod report;
mod runner;
mod scaling;
mod smol_mem;
mod smol_tun;
mod steal;
mod targets;
mod tun;
mod wire_floor;

#[global_allocator]
static ALLOC: alloc_count::Counting = alloc_count::Counting;

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;

/// Benchmarks of oxtcp side by side with smoltcp and the Linux kernel.
#[derive(Parser, Debug)]
#[command(name = "oxtcp-bench", version)]
struct Args {
    /// Which figures: `all`, or one of the group names `--list` prints.
    #[arg(default_value = "all")]
    what: String,
    /// Fewer and shorter repetitions: the whole suite within 3 minutes.
    #[arg(long)]
    quick: bool,
    /// Also write the figures as a JSON list of {figure, system, median, unit, advantage}.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// List the figure groups and exit.
    #[arg(long)]
    list: bool,
    /// Measure nothing: read these files (written by `--json`) and print, for each of issue
    /// 8's targets, the value in each run and in how many it held.
    #[arg(long, value_name = "JSON", num_args = 1.., conflicts_with_all = ["quick", "json", "list"])]
    targets: Vec<PathBuf>,
}

/// A group of figures: its name on the command line, what it measures, and how.
struct Group {
    name: &'static str,
    about: &'static str,
    run: fn(&runner::Budget) -> Result<Vec<report::Row>>,
}

fn groups() -> Vec<Group> {
    vec![
        Group {
            name: "bulk",
            about: "in-memory bulk transfer, one thread: Gbit/s and CPU per KiB (oxtcp, smoltcp)",
            run: bulk::run,
        },
        Group {
            name: "lifecycle",
            about: "connect, 1-byte request, 1-byte response, close: per second, one thread, \
                both closing orders (oxtcp, smoltcp in memory; linux over loopback)",
            run: lifecycle::run,
        },
        Group {
            name: "memory",
            about:
                "bytes per established, TIME-WAIT and half-open entry; RSS holding many connections",
            run: memory::run,
        },
        Group {
            name: "scaling",
            about: "per-segment cost and lifecycle rate with 1 to 1M connections open",
            run: scaling::run,
        },
        Group {
            name: "insns",
            about: "instruction counts (callgrind): the per-segment hot paths, one lifecycle and bulk per KiB (oxtcp, smoltcp), with simulated I-cache misses for the last two",
            run: insns::run,
        },
        Group {
            name: "tun",
            about: "bulk TCP over a TUN against the Linux kernel, both ways, in namespaces it \
                creates: Gbit/s and CPU (oxtcp, smoltcp; linux over veth, offloads on and off)",
            run: tun::run,
        },
    ]
}

fn main() -> Result<()> {
    // The child processes, kept off the command line's help: the memory group's
    // `__hold N`, the instruction counts' `__hot N`, `__life` and `__bulk`, the `__lockstep K N` diagnostic, and the tun group's smoltcp server.
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some(memory::HOLD) {
        return memory::hold_child(&argv[2..]);
    }
    if argv.get(1).map(String::as_str) == Some("__hot") {
        let n = argv.get(2).and_then(|v| v.parse().ok()).unwrap_or(1000);
        return insns::hot_main(n);
    }
    if argv.get(1).map(String::as_str) == Some("__life") {
        return insns::life_main(&argv[2..]);
    }
    if argv.get(1).map(String::as_str) == Some(lockstep::CMD) {
        return lockstep::main(&argv[2..]);
    }
    if argv.get(1).map(String::as_str) == Some("__bulk") {
        return insns::bulk_main(&argv[2..]);
    }
    if argv.get(1).map(String::as_str) == Some(smol_tun::CMD) {
        return smol_tun::child_main(&argv[2..]);
    }
    let args = Args::parse();
    let groups = groups();
    if !args.targets.is_empty() {
        let runs = args
            .targets
            .iter()
            .map(|p| targets::Figures::load(p))
            .collect::<Result<Vec<_>>>()?;
        let labels: Vec<String> = args.targets.iter().map(|p| targets::label(p)).collect();
        print!("{}", targets::table(&targets::evaluate(&runs), &labels));
        return Ok(());
    }
    if args.list {
        for g in &groups {
            println!("{:<12} {}", g.name, g.about);
        }
        return Ok(());
    }
    let chosen: Vec<&Group> = groups
        .iter()
        .filter(|g| args.what == "all" || g.name == args.what)
        .collect();
    if chosen.is_empty() {
        anyhow::bail!(
            "no figure group {:?}; `oxtcp-bench --list` names them",
            args.what
        );
    }
    eprintln!("{}", machine::describe());
    let budget = runner::Budget::new(args.quick);
    let mut rows = Vec::new();
    for g in chosen {
        eprintln!("== {}: {}", g.name, g.about);
        let before = steal::cpu_ticks();
        let got = (g.run)(&budget)?;
        print!("{}", report::table(&got));
        if let Some(p) = before
            .zip(steal::cpu_ticks())
            .and_then(|(b, a)| steal::percent(b, a))
        {
            eprintln!(
                "{}: the host took {p:.1}% of this machine's CPU time while it ran (steal)",
                g.name
            );
        }
        rows.extend(got);
    }
    if let Some(path) = &args.json {
        report::write_json(path, &rows)?;
    }
    if args.what == "all" {
        let outcomes = targets::evaluate(&[targets::Figures::from_rows(&rows)]);
        println!("\nissue 8's targets, this run:");
        print!("{}", targets::table(&outcomes, &["this run".into()]));
    }
    Ok(())
}
