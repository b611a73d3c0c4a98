//! The `oxtcp` command: `demo` runs TCP's whole lifecycle on the simulator and draws it.

mod demo;
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Demo(args) => demo::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oxtcp: {e:#}");
            ExitCode::FAILURE
        }
    }
}
