//! `oxtcp drill`: run packetdrill scripts against oxtcp's stack in virtual time.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use oxtcp_drill::suite::{find_scripts, report, run_file, Summary};
use oxtcp_drill::{Profile, ProfileKind, RunOptions};

/// Arguments of `oxtcp drill`.
#[derive(Args)]
pub struct DrillArgs {
    /// Which OS the scripts were written for: its sysctl names, socket-layer details and
    /// which fields are compared.
    #[arg(long, default_value = "freebsd", value_parser = parse_profile)]
    profile: ProfileKind,
    /// Also compare window values and the exact option layout of every outbound packet.
    #[arg(long)]
    strict: bool,
    /// Define a name for `#ifdef` (repeatable). Without any, `STANDARD` is defined: the
    /// branch of the FreeBSD suite that states RFC behaviour.
    #[arg(short = 'D', long = "define", value_name = "NAME")]
    defines: Vec<String>,
    /// Seed for the stack under test (ISNs, ephemeral ports) and the script's own ISN.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print only failing and unsupported scripts, and the count.
    #[arg(short, long)]
    quiet: bool,
    /// Script files, or directories searched recursively for *.pkt.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

fn parse_profile(s: &str) -> Result<ProfileKind, String> {
    s.parse()
}

/// Run the scripts; an error when any failed.
pub fn run(args: &DrillArgs) -> Result<()> {
    let scripts = find_scripts(&args.paths)?;
    if scripts.is_empty() {
        bail!("no *.pkt scripts under the given paths");
    }
    let defines = if args.defines.is_empty() {
        vec!["STANDARD".to_string()]
    } else {
        args.defines.clone()
    };
    let opts = RunOptions {
        profile: Profile::new(args.profile, args.strict),
        defines,
        seed: args.seed,
    };
    let mut summary = Summary::default();
    for path in &scripts {
        let verdict = run_file(path, &opts);
        summary.add(&verdict);
        if !(args.quiet && verdict.is_pass()) {
            println!("{}", report(path, &verdict));
        }
    }
    println!("{}", summary.line());
    if summary.failed > 0 {
        bail!("{} of {} scripts failed", summary.failed, scripts.len());
    }
    Ok(())
}
