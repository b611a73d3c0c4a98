//! The `oxtcp` command: `demo` runs TCP's whole lifecycle on the simulator and draws it;
//! `drill` runs packetdrill scripts against the stack; `serve` and `connect` run oxtcp on a
//! TUN interface against the kernel's TCP; `ss` lists a running oxtcp's connections;
//! `sim` measures bulk transfers over a simulated bottleneck.

mod connect;
mod control;
mod demo;
mod drill;
mod http;
mod jsonl;
mod netargs;
mod serve;
mod signals;
mod sim;
mod ss;
mod svgout;
mod trace;
mod valueparse;
mod view;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// oxtcp: a userspace TCP/IP stack that shows its work.
#[derive(Parser)]
#[command(name = "oxtcp", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the TCP lifecycle between two simulated hosts and print a ladder diagram.
    Demo(demo::DemoArgs),
    /// Run packetdrill scripts against oxtcp's stack in virtual time (no kernel involved).
    Drill(drill::DrillArgs),
    /// Serve echo, discard, chargen or HTTP on a TUN interface, for the kernel's clients.
    Serve(serve::ServeArgs),
    /// Connect through a TUN interface: netcat-style, or an HTTP GET.
    Connect(connect::ConnectArgs),
    /// List a running oxtcp's connections: state, queues, RTT, RTO, cwnd, retransmissions.
    Ss(ss::SsArgs),
    /// Read a pcap/pcapng capture: each TCP connection as a ladder with inferred states.
    Trace(trace::TraceArgs),
    /// Experiments on the simulator with the real stacks: `sim transfer` measures bulk transfers.
    Sim(sim::SimArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Demo(args) => demo::run(&args),
        Cmd::Drill(args) => drill::run(&args),
        Cmd::Serve(args) => serve::run(&args),
        Cmd::Connect(args) => connect::run(&args),
        Cmd::Ss(args) => ss::run(&args),
        Cmd::Trace(args) => trace::run(&args),
        Cmd::Sim(args) => sim::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oxtcp: {e:#}");
            ExitCode::FAILURE
        }
    }
}
