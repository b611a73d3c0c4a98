//! Stack configuration: every tunable of the protocol core, with defaults and their sources.

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::cc::CcAlgorithm;
use crate::cookie::SynCookies;

/// How RST segments in synchronized states are validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RstPolicy {
    /// RFC 793 / RFC 9293 §3.10.7.4 base rules: any RST in the window resets.
    Rfc793,
    /// RFC 5961 §3: only an RST at exactly RCV.NXT resets; one elsewhere in the window draws a
    /// challenge ACK.
    Rfc5961,
}

/// How SYN segments in synchronized states are handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynPolicy {
    /// RFC 793: a SYN in the window resets the connection; one outside draws an ACK.
    Rfc793,
    /// RFC 5961 §4: any SYN draws a challenge ACK; a peer that really restarted answers it
    /// with an RST at RCV.NXT.
    Rfc5961,
}

/// Configuration of one stack; `StackConfig::default()` follows Linux where the RFCs leave room.
#[derive(Clone, Debug)]
pub struct StackConfig {
    /// Seed of the stack's RNG: ISN and hash keys, ephemeral port offsets.
    pub seed: u64,
    /// Largest IP datagram we send; the MSS we advertise is derived from it.
    pub mtu: usize,
    /// Segmentation offload (TSO): the most payload bytes one datagram may carry when the
    /// device cuts it into segments itself. `None` (the default): every datagram is one
    /// segment within the MTU. With `Some(n)`, a connection sending new data with a full
    /// segment's worth of window may hand over up to `n` bytes at once, always a whole
    /// number of its MSS-sized segments, and the caller must use
    /// [`Stack::poll_transmit_segmented`](crate::Stack::poll_transmit_segmented) to learn the
    /// segment size to cut at (a Linux TUN's virtio-net `gso_size`).
    pub segmentation_offload: Option<usize>,
    /// TTL / hop limit of outgoing datagrams.
    pub ttl: u8,
    /// Maximum segment lifetime. TIME-WAIT lasts 2×MSL (RFC 9293 §3.4.2).
    pub msl: Duration,
    /// Whether closing connections pass through TIME-WAIT at all. Off only to demonstrate the
    /// hazard TIME-WAIT prevents (lifecycle C9).
    pub time_wait: bool,
    /// Every connection's initial send sequence number, instead of RFC 6528's clock plus
    /// keyed hash. Only for demonstrations and tests (lifecycle H2: a transfer across the 2^32
    /// wrap): predictable ISNs let an off-path attacker guess sequence numbers (RFC 6528 §1).
    pub fixed_iss: Option<u32>,
    /// Initial retransmission timeout (RFC 6298 §2.1: 1 s).
    pub initial_rto: Duration,
    /// Lower bound of the RTO. Deviation: RFC 6298 §2.4 says 1 s; Linux uses 200 ms.
    pub min_rto: Duration,
    /// Upper bound of the RTO (RFC 6298 §2.5 allows at least 60 s).
    pub max_rto: Duration,
    /// SYN retransmissions before connect() fails with TimedOut (Linux tcp_syn_retries: 6).
    pub syn_retries: u32,
    /// SYN-ACK retransmissions before a half-open entry is dropped (Linux tcp_synack_retries: 5).
    pub synack_retries: u32,
    /// Data/FIN retransmissions before the connection fails with TimedOut (Linux tcp_retries2: 15).
    pub data_retries: u32,
    /// Send buffer size per connection, bytes.
    pub send_buffer: usize,
    /// Receive buffer size per connection, bytes. Its free space is RCV.WND, against which
    /// arriving segments are checked; the window field can show at most 65535 of it until
    /// window scaling is negotiated.
    pub recv_buffer: usize,
    /// Round the receive buffer up to a whole number of segments once the MSS is known
    /// (FreeBSD does; Linux does not).
    pub recv_buffer_whole_segments: bool,
    /// Offer the Window Scale option (RFC 7323 §2) on SYNs; scaling applies when both sides
    /// send it. Without it the window field caps RCV.WND's advertisement at 65535.
    pub window_scaling: bool,
    /// Offer the Timestamps option (RFC 7323 §3): RTT measurement from echoed timestamps and
    /// PAWS (§5) once both sides send it.
    pub timestamps: bool,
    /// Leave the initial slow start when the RTT grows (HyStart++, RFC 9406), before cwnd
    /// overshoots the path's buffer.
    pub hystart: bool,
    /// When a listener answers SYNs with SYN cookies instead of half-open entries.
    pub syn_cookies: SynCookies,
    /// Offer SACK-Permitted (RFC 2018) on SYNs: once both sides send it, the receiver reports
    /// out-of-order blocks and the sender recovers losses by RFC 6675.
    pub sack: bool,
    /// Delay the ACK of in-order data by up to this long, hoping to piggyback it on data or a
    /// window update, with at least every second segment still acknowledged at once
    /// (RFC 9293 §3.8.6.3: "MUST NOT exceed 0.5 seconds"; RFC 5681 §4.2). 40 ms is Linux's
    /// minimum (TCP_DELACK_MIN) and FreeBSD's delacktime. `None` acknowledges every segment
    /// at once (FreeBSD's delayed_ack = 0).
    pub delayed_ack: Option<Duration>,
    /// Data segments acknowledged at once, without delay, at the start of a connection so
    /// the peer's slow start is not slowed (Linux's quick-ACK mode, which allows up to 16).
    /// FreeBSD has no such phase: 0.
    pub quick_acks: u32,
    /// Header prediction (Van Jacobson's; 4.4BSD and Linux have it): in ESTABLISHED, a
    /// segment that is the next in-order data or an ACK of new data, and nothing else, skips
    /// the checks RFC 9293 §3.10.7.4 would find passing, with the same outcome
    /// (`StackStats::predicted` counts them). Off: every segment takes the whole processing,
    /// to compare the two.
    pub header_prediction: bool,
    /// RST validation in synchronized states (FreeBSD's `insecure_rst` selects Rfc793).
    pub rst_policy: RstPolicy,
    /// SYN handling in synchronized states (FreeBSD's `insecure_syn` selects Rfc793).
    pub syn_policy: SynPolicy,
    /// Ignore RSTs in TIME-WAIT (RFC 1337 §3, fix F1), so a stray or forged RST cannot end
    /// TIME-WAIT early and let old duplicates into a new incarnation. FreeBSD does this;
    /// Linux does not by default (tcp_rfc1337 = 0).
    pub time_wait_ignores_rst: bool,
    /// Drop any segment carrying both SYN and FIN (FreeBSD's `drop_synfin`). When off, the FIN
    /// of a SYN+FIN is ignored and the SYN handled as usual.
    pub drop_syn_fin: bool,
    /// How long a connection the application has released may sit in FIN-WAIT-2.
    /// Deviation: RFC 9293 has no such timer; Linux's tcp_fin_timeout (60 s) keeps orphans
    /// from living forever when the peer never closes.
    pub fin_wait_2_timeout: Duration,
    /// Keep-alive idle time before the first probe, for sockets that enable keep-alive without
    /// their own (Linux tcp_keepalive_time: 7200 s; RFC 9293 §3.8.4: no less than two hours).
    pub keepalive_idle: Duration,
    /// Keep-alive interval between unanswered probes (Linux tcp_keepalive_intvl: 75 s).
    pub keepalive_interval: Duration,
    /// Unanswered keep-alive probes before the connection fails (Linux tcp_keepalive_probes: 9).
    pub keepalive_probes: u32,
    /// Congestion control of connections that do not choose their own (Linux: cubic).
    pub congestion_control: CcAlgorithm,
    /// Ports for active opens without an explicit local port (RFC 6335 dynamic range).
    pub ephemeral_ports: RangeInclusive<u16>,
    /// An active OPEN (from an ephemeral port or an explicit one) whose 4-tuple is held only
    /// by a released connection's TIME-WAIT entry may take that 4-tuple over once the entry's
    /// TS.Recent is this old, if the old connection used timestamps (Linux's
    /// `tcp_tw_reuse` rule, 1 s; on by default there for loopback only). The new connection
    /// starts at SND.NXT + 65537 of the old one, its TSvals are above the old ones (the
    /// TSval offset is per 4-tuple), and PAWS keeps each side from taking the other
    /// incarnation's old duplicates. `None`: such a 4-tuple waits out its 2×MSL. Without it,
    /// a client can open at most one connection per port of `ephemeral_ports` per 2×MSL to
    /// one destination (16,384 per minute with the defaults).
    pub connect_reuses_time_wait: Option<Duration>,
    /// Granularity of the timer wheel.
    pub timer_tick: Duration,
    /// Challenge ACKs (RFC 5961 §3.2, §4.2, §5.2) per second for the whole stack, as Linux's
    /// tcp_challenge_ack_limit (1000); `None`: unlimited. RFC 5961 §7 asks for a limit so the
    /// challenge ACKs cannot be used to flood a path or amplify an attack. Each connection also
    /// spaces its challenge ACKs by `invalid_ack_interval`, as Linux does. A challenge ACK
    /// held back by either is not sent and `StackStats::challenge_acks_suppressed` counts it.
    pub challenge_ack_limit: Option<u32>,
    /// Least time between two ACKs one connection sends in answer to unacceptable segments
    /// (out of window, old duplicates, PAWS) without data, or with SYN, and between its
    /// challenge ACKs, as Linux's tcp_invalid_ratelimit (500 ms). Two endpoints that each find
    /// the other's ACKs unacceptable would otherwise trade ACKs forever. A segment with data
    /// still draws its ACK each time while it lies within a receive buffer's span of RCV.NXT,
    /// as in Linux (it is no part of an ACK loop); farther off it can only be forged and is
    /// spaced too (a deviation: Linux answers every data segment). `Duration::ZERO`: no limit.
    pub invalid_ack_interval: Duration,
    /// Most full connections (any state, released ones still closing included, but not the
    /// compact TIME-WAIT entries of released connections, which `max_time_wait` bounds);
    /// at the limit a SYN to a listener is dropped (`DropReason::ConnectionLimit`) and
    /// `connect` fails with `ConnectError::ResourceLimit`. `None`: no limit, the default, as the
    /// memory budget is the better bound.
    pub max_connections: Option<usize>,
    /// Most half-open entries across all listeners (each listener's backlog bounds its own);
    /// at the limit a new SYN is dropped (`DropReason::HalfOpenLimit`). Default 65536.
    pub max_half_open: Option<usize>,
    /// Most compact TIME-WAIT entries (released connections in TIME-WAIT, a few dozen bytes
    /// each). A released connection reaching TIME-WAIT beyond it goes straight to CLOSED
    /// (`Cause::TimeWaitOverflow`, counted in `StackStats::time_wait_overflow`), as Linux
    /// does past `tcp_max_tw_buckets`. Default 262144, Linux's usual value. `None`: no limit.
    pub max_time_wait: Option<usize>,
    /// Bytes of buffer space all connections may have configured together: each full
    /// connection counts its send plus receive buffer size from creation to release, as the
    /// most memory it may come to hold; half-open entries count nothing. A SYN that would go
    /// over it is dropped (`DropReason::MemoryBudget`), a `connect` fails with
    /// `ConnectError::ResourceLimit`, and a handshake whose final ACK arrives then is dropped
    /// like one meeting a full accept queue. `None`: no budget, the default.
    pub memory_budget: Option<usize>,
    /// Record trace events for `poll_event`.
    pub trace: bool,
    /// Most trace events kept when nobody polls; older ones are dropped and counted.
    pub trace_capacity: usize,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            seed: 0,
            mtu: 1500,
            segmentation_offload: None,
            ttl: 64,
            msl: Duration::from_secs(30),
            time_wait: true,
            fixed_iss: None,
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(120),
            syn_retries: 6,
            synack_retries: 5,
            data_retries: 15,
            send_buffer: 64 * 1024,
            recv_buffer: 65535,
            recv_buffer_whole_segments: false,
            window_scaling: true,
            timestamps: true,
            sack: true,
            syn_cookies: SynCookies::WhenFull,
            hystart: true,
            delayed_ack: Some(Duration::from_millis(40)),
            quick_acks: 16,
            header_prediction: true,
            rst_policy: RstPolicy::Rfc5961,
            syn_policy: SynPolicy::Rfc5961,
            drop_syn_fin: true,
            time_wait_ignores_rst: true,
            fin_wait_2_timeout: Duration::from_secs(60),
            keepalive_idle: Duration::from_secs(7200),
            keepalive_interval: Duration::from_secs(75),
            keepalive_probes: 9,
            congestion_control: CcAlgorithm::Cubic,
            ephemeral_ports: 49152..=65535,
            connect_reuses_time_wait: Some(Duration::from_secs(1)),
            timer_tick: Duration::from_millis(1),
            challenge_ack_limit: Some(1000),
            invalid_ack_interval: Duration::from_millis(500),
            max_connections: None,
            max_half_open: Some(65536),
            max_time_wait: Some(262_144),
            memory_budget: None,
            trace: false,
            trace_capacity: 1 << 20,
        }
    }
}

/// Keep-alive settings of one socket (SO_KEEPALIVE with TCP_KEEPIDLE, TCP_KEEPINTVL,
/// TCP_KEEPCNT); what is `None` comes from the stack's configuration, as in Linux.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeepAlive {
    /// Idle time before the first probe (TCP_KEEPIDLE).
    pub idle: Option<Duration>,
    /// Time between unanswered probes (TCP_KEEPINTVL).
    pub interval: Option<Duration>,
    /// Unanswered probes before the connection fails (TCP_KEEPCNT).
    pub probes: Option<u32>,
}

impl KeepAlive {
    /// Keep-alive with every setting from the stack's configuration.
    pub fn defaults() -> KeepAlive {
        KeepAlive::default()
    }

    /// Keep-alive with all three settings given.
    pub fn new(idle: Duration, interval: Duration, probes: u32) -> KeepAlive {
        KeepAlive {
            idle: Some(idle),
            interval: Some(interval),
            probes: Some(probes),
        }
    }

    /// The idle time in effect.
    pub fn idle(&self, cfg: &StackConfig) -> Duration {
        self.idle.unwrap_or(cfg.keepalive_idle)
    }

    /// The probe interval in effect.
    pub fn interval(&self, cfg: &StackConfig) -> Duration {
        self.interval.unwrap_or(cfg.keepalive_interval)
    }

    /// The probe count in effect.
    pub fn probes(&self, cfg: &StackConfig) -> u32 {
        self.probes.unwrap_or(cfg.keepalive_probes)
    }
}

/// Per-socket settings (SO_RCVBUF, SO_SNDBUF, TCP_MAXSEG, SO_KEEPALIVE, TCP_NODELAY), given at
/// connect or listen time; what is `None` comes from the stack's configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketOptions {
    /// Receive buffer size, bytes.
    pub recv_buffer: Option<usize>,
    /// Send buffer size, bytes.
    pub send_buffer: Option<usize>,
    /// Largest segment we announce and send (TCP_MAXSEG); can only lower the MSS.
    pub max_segment: Option<u16>,
    /// Keep-alive (RFC 9293 §3.8.4): off when `None`, the default, as the RFC requires.
    pub keepalive: Option<KeepAlive>,
    /// Congestion control (TCP_CONGESTION); `None`: the stack's.
    pub congestion_control: Option<CcAlgorithm>,
    /// TCP_NODELAY: send small segments at once instead of holding them by Nagle's algorithm
    /// (RFC 9293 §3.7.4) while data is in flight. Off by default, as RFC 9293 asks.
    pub nodelay: bool,
}

impl SocketOptions {
    /// The receive buffer size in effect.
    pub fn recv_buffer(&self, cfg: &StackConfig) -> usize {
        self.recv_buffer.unwrap_or(cfg.recv_buffer)
    }

    /// The send buffer size in effect.
    pub fn send_buffer(&self, cfg: &StackConfig) -> usize {
        self.send_buffer.unwrap_or(cfg.send_buffer)
    }

    /// The window a half-open entry offers: the receive buffer, as far as 16 bits can show.
    pub(crate) fn recv_window_cap(&self, cfg: &StackConfig) -> usize {
        self.recv_buffer(cfg).min(65535)
    }
}

impl StackConfig {
    /// The MSS we advertise for an IPv4 path: MTU minus 40 bytes of headers (RFC 9293 §3.7.1).
    pub fn mss_v4(&self) -> u16 {
        u16::try_from(self.mtu.saturating_sub(40).max(536)).unwrap_or(u16::MAX)
    }

    /// The MSS we advertise for an IPv6 path: MTU minus 60 bytes of headers.
    pub fn mss_v6(&self) -> u16 {
        u16::try_from(self.mtu.saturating_sub(60).max(1220)).unwrap_or(u16::MAX)
    }
}
