//! The runner: executes a parsed script against a fresh stack in virtual time.
//!
//! Time is the script's own: the stack's clock starts at zero with the script and moves only
//! when an event or a timer needs it to. Before an inbound packet, a syscall or a shell line
//! at time T, timers due before T fire; anything the stack sent meanwhile that no outbound line
//! has claimed is an unexpected packet. An outbound line at T (tolerance ±tol) takes the next
//! packet the stack sends, running timers up to T+tol if none is waiting.
//!
//! Relative times (`+0.1`) count from the previous event's scripted time; after a `*` or a
//! range (outbound packets only) they count from when the packet was observed, and after a
//! blocking call from its start. In `+T...E` both ends count from the same base.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use oxtcp_core::{FourTuple, Instant, Stack, StackConfig};

use crate::ast::{Anchor, Event, EventKind, Script, TimePoint, Timing};
use crate::profile::Profile;
use crate::syscalls::{Blocked, Socket};
use crate::verdict::{Failure, Stop, Unsupported, Verdict};

/// packetdrill's default tolerance when the script sets none.
const DEFAULT_TOLERANCE_US: u64 = 4_000;
/// Longest an outbound `*` line waits for a packet.
const ANY_TIME_LIMIT_US: u64 = 600_000_000;
/// Most timer expiries handled while moving time forward once; a stack that keeps asking
/// for the same instant is a bug, reported rather than spun on.
const MAX_TIMER_STEPS: usize = 100_000;

/// How to run scripts.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The OS the scripts were written for, and what to compare.
    pub profile: Profile,
    /// Names for `#ifdef`.
    pub defines: Vec<String>,
    /// Seed of the stack under test (ISNs, ports).
    pub seed: u64,
}

/// Parse and run one script's text.
pub fn run_source(src: &str, opts: &RunOptions) -> Verdict {
    let defines: Vec<&str> = opts.defines.iter().map(String::as_str).collect();
    match crate::parse::parse(src, &defines) {
        Ok(script) => run_script(&script, opts),
        Err(e) => Verdict::Unsupported(Unsupported {
            line: e.line,
            construct: e.message,
        }),
    }
}

/// Run a parsed script.
pub fn run_script(script: &Script, opts: &RunOptions) -> Verdict {
    let mut r = match Runner::new(script, opts) {
        Ok(r) => r,
        Err((line, stop)) => return verdict(line, String::new(), stop),
    };
    for event in &script.events {
        if let Err(stop) = r.event(event) {
            return verdict(event.line, event.text.clone(), stop);
        }
    }
    match r.finish() {
        Ok(()) => Verdict::Pass,
        Err((line, text, stop)) => verdict(line, text, stop),
    }
}

fn verdict(line: usize, text: String, stop: Stop) -> Verdict {
    match stop {
        Stop::Fail {
            expected,
            actual,
            at,
        } => Verdict::Fail(Failure {
            line: at.as_ref().map_or(line, |a| a.0),
            text: at.map_or(text, |a| a.1),
            expected,
            actual,
        }),
        Stop::Unsupported(construct) => Verdict::Unsupported(Unsupported { line, construct }),
    }
}

/// A packet the stack sent that no outbound line has claimed yet.
pub(crate) struct Sent {
    pub(crate) time: u64,
    pub(crate) bytes: Vec<u8>,
}

/// The state of one script run.
pub(crate) struct Runner<'a> {
    pub(crate) opts: &'a RunOptions,
    pub(crate) stack: Stack,
    /// Stack time, µs since the script started.
    pub(crate) now: u64,
    /// Base for the next relative time, µs.
    last_time: u64,
    pub(crate) tolerance: u64,
    pub(crate) local_ip: IpAddr,
    pub(crate) remote_ip: IpAddr,
    pub(crate) bind_port: u16,
    pub(crate) connect_port: u16,
    /// Port the script's side uses towards a listener.
    pub(crate) remote_port: u16,
    /// The connection inbound packets are addressed to and outbound ones must belong to.
    pub(crate) tuple: FourTuple,
    /// The script side's ISN: inbound `seq` and outbound `ack` count from it.
    pub(crate) remote_isn: u32,
    /// The stack's ISN as learned from its SYN; inbound `ack` and outbound `seq` count from it.
    pub(crate) local_isn: Option<u32>,
    /// Whether `local_isn` came from a SYN the stack sent (rather than being assumed because
    /// an inbound line needed it first).
    pub(crate) local_isn_learned: bool,
    pub(crate) sent: VecDeque<Sent>,
    pub(crate) sockets: BTreeMap<i64, Socket>,
    /// The socket `%{ }%` assertions look at: the one most recently created or accepted.
    pub(crate) current_fd: Option<i64>,
    pub(crate) blocked: Option<Blocked>,
    pub(crate) buf: Vec<u8>,
}

impl<'a> Runner<'a> {
    fn new(script: &Script, opts: &'a RunOptions) -> Result<Runner<'a>, (usize, Stop)> {
        let mut v6 = false;
        let mut tolerance = DEFAULT_TOLERANCE_US;
        let mut local_ip = None;
        let mut remote_ip = None;
        let mut bind_port = 8080;
        let mut connect_port = 8080;
        let mut mss = None;
        for flag in &script.flags {
            let value = flag.value.as_deref().unwrap_or("");
            let bad = |what: &str| {
                (
                    flag.line,
                    Stop::unsupported(format!("--{}={value}: {what}", flag.name)),
                )
            };
            match flag.name.as_str() {
                "ip_version" => match value {
                    "ipv4" => v6 = false,
                    "ipv6" => v6 = true,
                    _ => return Err(bad("expected ipv4 or ipv6")),
                },
                "tolerance_usecs" => {
                    tolerance = value.parse().map_err(|_| bad("not a number"))?;
                }
                "local_ip" => local_ip = Some(value.parse().map_err(|_| bad("not an address"))?),
                "remote_ip" => remote_ip = Some(value.parse().map_err(|_| bad("not an address"))?),
                "bind_port" => bind_port = value.parse().map_err(|_| bad("not a port"))?,
                "connect_port" => connect_port = value.parse().map_err(|_| bad("not a port"))?,
                "mss" => mss = Some(value.parse::<u16>().map_err(|_| bad("not an MSS"))?),
                _ => {
                    return Err((
                        flag.line,
                        Stop::unsupported(format!("header flag --{}", flag.name)),
                    ))
                }
            }
        }
        let local_ip = local_ip.unwrap_or(if v6 {
            IpAddr::V6(Ipv6Addr::new(0xfd3d, 0xfa7b, 0xd17d, 0, 0, 0, 0, 1))
        } else {
            IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1))
        });
        let remote_ip = remote_ip.unwrap_or(if v6 {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))
        } else {
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))
        });
        if local_ip.is_ipv4() != remote_ip.is_ipv4() {
            return Err((
                0,
                Stop::unsupported("local and remote addresses of different families"),
            ));
        }
        let p = &opts.profile;
        let mut cfg = StackConfig {
            seed: opts.seed,
            ..StackConfig::default()
        };
        p.configure(&mut cfg);
        if let Some(mss) = mss {
            let headers = if v6 { 60 } else { 40 };
            cfg.mtu = usize::from(mss) + headers;
        }
        let mut stack = Stack::with_addresses(cfg, &[local_ip]);
        // The script side's ISN is arbitrary; drawing it from the seed keeps runs replayable.
        let remote_isn = stack.random_u64() as u32;
        let remote_port = 40000 + (stack.random_u64() % 20000) as u16;
        Ok(Runner {
            opts,
            stack,
            now: 0,
            last_time: 0,
            tolerance,
            local_ip,
            remote_ip,
            bind_port,
            connect_port,
            remote_port,
            tuple: FourTuple {
                local: SocketAddr::new(local_ip, bind_port),
                remote: SocketAddr::new(remote_ip, remote_port),
            },
            remote_isn,
            local_isn: None,
            local_isn_learned: false,
            sent: VecDeque::new(),
            sockets: BTreeMap::new(),
            current_fd: None,
            blocked: None,
            buf: vec![0u8; 65536 + 120],
        })
    }

    pub(crate) fn instant(&self) -> Instant {
        Instant::from_micros(self.now)
    }

    fn resolve(&self, p: TimePoint) -> Result<u64, Stop> {
        let t = match p.anchor {
            Anchor::Absolute => p.usecs,
            Anchor::Relative => self.last_time as i64 + p.usecs,
        };
        u64::try_from(t).map_err(|_| Stop::unsupported(format!("negative time {t} µs")))
    }

    fn event(&mut self, event: &Event) -> Result<(), Stop> {
        // (earliest, scripted, latest) times of this event, µs.
        let (lo, at, hi) = match event.timing {
            Timing::Any => (self.last_time, None, None),
            Timing::At(p) => {
                let t = self.resolve(p)?;
                (
                    t.saturating_sub(self.tolerance),
                    Some(t),
                    Some(t + self.tolerance),
                )
            }
            Timing::Range(a, b) => {
                let a = self.resolve(a)?;
                let b = self.resolve(b)?;
                (
                    a.saturating_sub(self.tolerance),
                    None,
                    Some(b + self.tolerance),
                )
            }
            Timing::Blocking(a, b) => {
                let rel = a.anchor == Anchor::Relative;
                let a = self.resolve(a)?;
                let b = if rel {
                    self.resolve(TimePoint {
                        anchor: Anchor::Relative,
                        usecs: b.usecs,
                    })?
                } else {
                    self.resolve(b)?
                };
                (a, Some(a), Some(b))
            }
        };
        let is_outbound = matches!(
            &event.kind,
            EventKind::Packet(p) if p.dir == crate::ast::Direction::Outbound
        );
        if is_outbound {
            let limit = hi.unwrap_or(self.now + ANY_TIME_LIMIT_US);
            let observed = self.expect_packet(event, lo, limit)?;
            self.last_time = match event.timing {
                Timing::At(_) => at.unwrap_or(observed),
                _ => observed,
            };
            return Ok(());
        }
        // As packetdrill: only an outbound packet may happen at "any time" or in a range;
        // everything else is something the script itself does at a definite time.
        let start = match event.timing {
            Timing::Any => {
                return Err(Stop::unsupported(
                    "event time * on a line that is not an outbound packet",
                ))
            }
            Timing::Range(..) => {
                return Err(Stop::unsupported(
                    "a time range on a line that is not an outbound packet",
                ))
            }
            _ => at.unwrap_or(self.now.max(self.last_time)),
        };
        // Timers due before the event fire first; the event itself happens at its time.
        self.advance_to(start.saturating_sub(1))?;
        self.now = self.now.max(start);
        self.check_blocked_deadline()?;
        self.no_unclaimed_packets()?;
        match &event.kind {
            EventKind::Packet(p) => self.inject(p)?,
            EventKind::Syscall(call) => {
                let blocking = match event.timing {
                    Timing::Blocking(_, _) => Some(hi.unwrap_or(start)),
                    _ => None,
                };
                self.syscall(event, call, blocking)?;
            }
            EventKind::Shell(cmd) => self.shell(cmd)?,
            EventKind::Code(code) => self.code(code)?,
        }
        self.drain();
        self.retry_blocked()?;
        self.drain();
        self.last_time = start;
        Ok(())
    }

    /// After the last line: a blocking call still waiting gets until its end time.
    fn finish(&mut self) -> Result<(), (usize, String, Stop)> {
        if let Some(b) = &self.blocked {
            let (line, text, end) = (b.line, b.text.clone(), b.end);
            let r = self
                .advance_to(end + self.tolerance)
                .and_then(|_| self.check_blocked_deadline());
            if let Err(stop) = r {
                return Err((line, text, stop));
            }
            if self.blocked.is_some() {
                return Err((
                    line,
                    text,
                    Stop::fail(
                        format!("the call to return by {}", fmt_time(end)),
                        "still blocked at the end of the script",
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Move the stack's clock to `t`, firing every timer due by then.
    pub(crate) fn advance_to(&mut self, t: u64) -> Result<(), Stop> {
        for _ in 0..MAX_TIMER_STEPS {
            match self.stack.poll_timeout() {
                Some(d) if d.as_micros() <= t => {
                    self.now = self.now.max(d.as_micros());
                    self.stack.handle_timeout(self.instant());
                    self.drain();
                    self.retry_blocked()?;
                    self.drain();
                }
                _ => {
                    self.now = self.now.max(t);
                    return Ok(());
                }
            }
        }
        Err(Stop::fail(
            format!("time to reach {}", fmt_time(t)),
            format!(
                "the stack's timers fired {MAX_TIMER_STEPS} times before {}",
                fmt_time(t)
            ),
        ))
    }

    /// Collect everything the stack wants to send now.
    pub(crate) fn drain(&mut self) {
        let now = self.instant();
        while let Some(n) = self.stack.poll_transmit(now, &mut self.buf) {
            self.sent.push_back(Sent {
                time: self.now,
                bytes: self.buf[..n].to_vec(),
            });
        }
    }

    fn no_unclaimed_packets(&mut self) -> Result<(), Stop> {
        match self.sent.front() {
            None => Ok(()),
            Some(s) => Err(Stop::fail(
                "no packet from oxtcp before this line",
                format!(
                    "oxtcp sent {} at {}",
                    self.describe(&s.bytes),
                    fmt_time(s.time)
                ),
            )),
        }
    }

    /// Wait for the next packet the stack sends, no later than `hi`, and match it.
    fn expect_packet(&mut self, event: &Event, lo: u64, hi: u64) -> Result<u64, Stop> {
        let EventKind::Packet(spec) = &event.kind else {
            unreachable!("expect_packet is only called for packet lines");
        };
        loop {
            if let Some(s) = self.sent.pop_front() {
                if s.time < lo {
                    return Err(Stop::fail(
                        format!("{} at {} or later", event.text, fmt_time(lo)),
                        format!("{} at {}", self.describe(&s.bytes), fmt_time(s.time)),
                    ));
                }
                self.match_packet(spec, &s.bytes)?;
                return Ok(s.time);
            }
            match self.stack.poll_timeout() {
                Some(d) if d.as_micros() <= hi => self.advance_to(d.as_micros())?,
                _ => {
                    self.advance_to(hi)?;
                    if self.sent.is_empty() {
                        return Err(Stop::fail(
                            format!("{} by {}", event.text, fmt_time(hi)),
                            "oxtcp sent nothing",
                        ));
                    }
                }
            }
        }
    }
}

/// Seconds with microsecond precision, as scripts write them.
pub(crate) fn fmt_time(us: u64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}
