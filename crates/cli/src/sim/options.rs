//! `--cc` and `--sack`: which transport behaviour a run asks for, and where that choice becomes
//! stack configuration.

use anyhow::{bail, Result};
use oxtcp_core::{CcAlgorithm, StackConfig};

/// Congestion control algorithm requested with `--cc`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CongestionControl {
    /// NewReno (RFC 5681 + RFC 6582); loss is still found by the retransmission timer only
    /// (fast retransmit/recovery is not implemented yet).
    Newreno,
    /// CUBIC (RFC 9438), the core's default.
    Cubic,
}

impl CongestionControl {
    /// Its name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            CongestionControl::Newreno => "newreno",
            CongestionControl::Cubic => "cubic",
        }
    }
}

/// Selective acknowledgments requested with `--sack`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sack {
    /// Negotiate SACK (RFC 2018): not available in the core yet.
    On,
    /// No SACK, the core's only behaviour today.
    Off,
}

/// Map `--cc` and `--sack` onto the stacks' configuration: the one place the flags reach the
/// core. SACK is not implemented yet, so only `--sack off` is accepted.
pub fn apply_transport_options(
    cfg: &mut StackConfig,
    cc: CongestionControl,
    sack: Sack,
) -> Result<()> {
    cfg.congestion_control = match cc {
        CongestionControl::Newreno => CcAlgorithm::NewReno,
        CongestionControl::Cubic => CcAlgorithm::Cubic,
    };
    if sack == Sack::On {
        bail!("--sack on is not available yet: the core does not implement SACK (use --sack off)");
    }
    Ok(())
}
