//! Profiles: what a script written for one operating system expects of the socket layer and
//! of the comparison, kept here so no FreeBSD or Linux default is hard-wired into the core.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use oxtcp_core::StackConfig;

/// Which operating system the scripts were written against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileKind {
    /// FreeBSD: `net.inet.tcp.*` sysctls, `sockstat`, `tcpdrop`, O_NONBLOCK = 0x4.
    FreeBsd,
    /// Linux: `net.ipv4.tcp_*` sysctls, O_NONBLOCK = 0x800.
    Linux,
}

impl FromStr for ProfileKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "freebsd" => Ok(ProfileKind::FreeBsd),
            "linux" => Ok(ProfileKind::Linux),
            other => Err(format!(
                "unknown profile '{other}' (expected freebsd or linux)"
            )),
        }
    }
}

impl fmt::Display for ProfileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProfileKind::FreeBsd => "freebsd",
            ProfileKind::Linux => "linux",
        })
    }
}

/// Everything OS-specific the runner needs.
#[derive(Clone, Debug)]
pub struct Profile {
    /// Which OS.
    pub kind: ProfileKind,
    /// Compare the window field of outbound packets.
    pub compare_window: bool,
    /// Compare the exact option layout of outbound packets.
    pub compare_options: bool,
    /// `O_RDWR` as `fcntl(F_GETFL)` reports it.
    pub o_rdwr: i64,
    /// `O_NONBLOCK`.
    pub o_nonblock: i64,
    /// Receive buffer before any sysctl (FreeBSD `recvspace`, Linux `tcp_rmem[1]`).
    pub recv_buffer: usize,
    /// Send buffer before any sysctl (FreeBSD `sendspace`, Linux `tcp_wmem[1]`).
    pub send_buffer: usize,
    /// Initial retransmission timeout before any sysctl, milliseconds.
    pub initial_rto_ms: u64,
}

impl Profile {
    /// The profile for `kind`; `strict` turns on every comparison.
    pub fn new(kind: ProfileKind, strict: bool) -> Profile {
        match kind {
            // FreeBSD advertises exactly its receive buffer (capped at 65535 without window
            // scaling), so window values in its scripts are meaningful to compare. Its option
            // order (mss,nop,wscale,sackOK,TS) is its own; only --strict compares it.
            ProfileKind::FreeBsd => Profile {
                kind,
                compare_window: true,
                compare_options: strict,
                o_rdwr: 0x2,
                o_nonblock: 0x4,
                recv_buffer: 65536,
                send_buffer: 32768,
                initial_rto_ms: 1000,
            },
            // Linux's advertised window follows its receive-buffer autotuning, which oxtcp does
            // not imitate; only --strict compares it.
            ProfileKind::Linux => Profile {
                kind,
                compare_window: strict,
                compare_options: strict,
                o_rdwr: 0x2,
                o_nonblock: 0x800,
                recv_buffer: 131072,
                send_buffer: 16384,
                initial_rto_ms: 1000,
            },
        }
    }

    /// The stack configuration this OS starts with, over oxtcp's defaults.
    pub fn configure(&self, cfg: &mut StackConfig) {
        cfg.recv_buffer = self.recv_buffer;
        cfg.send_buffer = self.send_buffer;
        cfg.initial_rto = Duration::from_millis(self.initial_rto_ms);
        // FreeBSD rounds the receive buffer up to whole segments when the MSS is settled
        // (tcp_mss), so 65536 becomes 65700 with an MSS of 1460, and its window checks use
        // that size.
        cfg.recv_buffer_whole_segments = self.kind == ProfileKind::FreeBsd;
        // FreeBSD delays ACKs by delacktime (40 ms) with no quick-ACK phase at connection
        // start; Linux starts in quick-ACK mode (oxtcp's default).
        if self.kind == ProfileKind::FreeBsd {
            cfg.delayed_ack = Some(Duration::from_millis(40));
            cfg.quick_acks = 0;
        }
    }

    /// What `getsockopt(SO_RCVBUF)` reports for a receive buffer of `size` bytes: Linux
    /// reports twice what it was given, the other half being its bookkeeping overhead.
    pub fn reported_rcvbuf(&self, size: usize) -> usize {
        match self.kind {
            ProfileKind::FreeBsd => size,
            ProfileKind::Linux => size * 2,
        }
    }

    /// What `getsockopt(SO_SNDBUF)` reports for a buffer of `size` bytes.
    pub fn reported_sndbuf(&self, size: usize) -> usize {
        match self.kind {
            ProfileKind::FreeBsd => size,
            ProfileKind::Linux => size * 2,
        }
    }
}
