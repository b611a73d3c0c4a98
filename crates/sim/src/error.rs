//! Errors from running the world and recording pcap.

use thiserror::Error;

/// Why a run or a recording stopped short.
#[derive(Debug, Error)]
pub enum SimError {
    /// A bounded run took `steps` steps and events were still scheduled.
    #[error("step limit reached after {steps} steps with events still scheduled")]
    StepLimit {
        /// Steps taken before giving up.
        steps: usize,
    },
    /// Writing the pcap file failed; recording stopped at the first failure.
    #[error("pcap: {0}")]
    Pcap(#[from] pcap_file::PcapError),
    /// Flushing the pcap sink failed.
    #[error("pcap flush: {0}")]
    Io(#[from] std::io::Error),
}
