//! `--cc` and `--sack`: which transport behaviour a run asks for, and where that choice becomes
//! stack configuration.

use anyhow::Result;
use oxtcp_core::{CcAlgorithm, StackConfig};

/// Congestion control algorithm requested with `--cc`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CongestionControl {
    /// NewReno (RFC 5681 + RFC 6582).
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
    /// Negotiate SACK (RFC 2018) and recover by RFC 6675, the core's default.
    On,
    /// No SACK: duplicate ACKs and NewReno partial ACKs (RFC 6582) find the losses.
    Off,
}

impl Sack {
    /// Whether SACK is asked for.
    pub fn is_on(self) -> bool {
        self == Sack::On
    }
}

/// Map `--cc` and `--sack` onto the stacks' configuration: the one place the flags reach the
/// core.
pub fn apply_transport_options(
    cfg: &mut StackConfig,
    cc: CongestionControl,
    sack: Sack,
) -> Result<()> {
    cfg.congestion_control = match cc {
        CongestionControl::Newreno => CcAlgorithm::NewReno,
        CongestionControl::Cubic => CcAlgorithm::Cubic,
    };
    cfg.sack = sack.is_on();
    Ok(())
}
