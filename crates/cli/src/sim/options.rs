//! `--cc` and `--sack`: which transport behaviour a run asks for, and where that choice becomes
//! stack configuration.

use anyhow::{bail, Result};
use oxtcp_core::StackConfig;

/// Congestion control algorithm requested with `--cc`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CongestionControl {
    /// The core's built-in controller: RFC 5681 slow start and congestion avoidance, with loss
    /// detected by the retransmission timer (fast retransmit/recovery is not implemented yet).
    Newreno,
    /// CUBIC (RFC 9438): not available in the core yet.
    Cubic,
}

/// Selective acknowledgments requested with `--sack`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sack {
    /// Negotiate SACK (RFC 2018): not available in the core yet.
    On,
    /// No SACK, the core's only behaviour today.
    Off,
}

/// Map `--cc` and `--sack` onto the stacks' configuration.
///
/// This is the one place the flags reach the core. Today the core has a single congestion
/// controller and no SACK, so only `--cc newreno --sack off` is accepted and nothing changes;
/// once `StackConfig` (or `SocketOptions`) grows the fields, set them here.
pub fn apply_transport_options(
    _cfg: &mut StackConfig,
    cc: CongestionControl,
    sack: Sack,
) -> Result<()> {
    if cc == CongestionControl::Cubic {
        bail!(
            "--cc cubic is not available yet: the core has only its built-in controller \
             (--cc newreno)"
        );
    }
    if sack == Sack::On {
        bail!("--sack on is not available yet: the core does not implement SACK (use --sack off)");
    }
    Ok(())
}
