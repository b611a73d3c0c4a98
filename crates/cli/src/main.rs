//! The `oxtcp` command: `demo` runs TCP's whole lifecycle on the simulator and draws it;
//! `drill` runs packetdrill scripts against the stack.

mod demo;
mod drill;
mod jsonl;
mod ladder;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Demo(args) => demo::run(&args),
        Cmd::Drill(args) => drill::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oxtcp: {e:#}");
            ExitCode::FAILURE
        }
    }
}
