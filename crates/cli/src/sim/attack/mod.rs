//! `oxtcp sim attack`: off-path attacks against a real stack in the simulator (issue 7).
//!
//! Each attack builds a world of a server, its legitimate clients, and an [`Attacker`] node
//! that emits raw IP datagrams with spoofed source addresses at a fixed rate. Replies the
//! server sends to spoofed addresses have no route in the world and are counted there, as a
//! real network would lose them. Every attack reports one set of named figures, printed as
//! `name: value` lines or as one JSON object.

mod attacker;
mod blind;
mod chat;
mod echo;
mod legit;
mod malformed;
mod syn_flood;

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Result};
use oxtcp_core::{Instant, RstPolicy, StackConfig, SynCookies, SynPolicy};
use oxtcp_sim::{App, Node, StackHost};
use oxtcp_wire::Timestamps;
use serde_json::{Map, Value};

pub use attacker::Attacker;

/// Options of `oxtcp sim attack`.
#[derive(clap::Args, Debug)]
pub struct AttackArgs {
    /// Which attack to run.
    #[arg(value_enum)]
    kind: AttackKind,
    /// SYN cookies on the server's stack.
    #[arg(long, value_enum, default_value = "when-full")]
    cookies: CookiesArg,
    /// RFC 5961 validation of RSTs and SYNs in synchronized states on the server's stack
    /// (`off` selects the RFC 793 rules for both).
    #[arg(long, value_enum, default_value = "on")]
    rfc5961: OnOff,
    /// Multiply every attack size (attack packets, legitimate clients, bytes) by this factor,
    /// to run a small version quickly; the sizes used are printed.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// The server's receive buffer in the blind attacks, bytes: the window a blind segment
    /// must land in [default: 256 KiB].
    #[arg(long, value_name = "BYTES")]
    recv_buffer: Option<usize>,
    /// Timestamps option on forged non-RST segments: `random` TSval (a blind attacker does not
    /// know the peer's clock), or `none` (then a stack that negotiated timestamps drops them
    /// all, RFC 7323 §3.2).
    #[arg(long, value_enum, default_value = "random")]
    tsval: TsvalArg,
    /// The Timestamps option (RFC 7323) on the server's and the clients' stacks.
    #[arg(long, value_enum, default_value = "on")]
    timestamps: OnOff,
    /// SACK (RFC 2018) on the server's and the clients' stacks; without it the senders
    /// recover by RFC 6582 (NewReno) and count every duplicate ACK.
    #[arg(long, value_enum, default_value = "on")]
    sack: OnOff,
    /// Seed of the simulator, the stacks and the attacker.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON object instead of `name: value` lines.
    #[arg(long)]
    json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum AttackKind {
    /// Spoofed SYNs at the listening port while legitimate clients connect.
    SynFlood,
    /// RSTs with random sequence numbers on the 4-tuples of established connections.
    BlindRst,
    /// Data segments with random sequence and acknowledgment numbers and random payload.
    BlindData,
    /// SYNs with random sequence numbers on the 4-tuples of established connections.
    BlindSyn,
    /// Malformed segments and an ACK flood during a bulk transfer.
    Malformed,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum CookiesArg {
    Off,
    WhenFull,
    Always,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum TsvalArg {
    Random,
    None,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum OnOff {
    On,
    Off,
}

/// What every attack needs to know besides its own sizes.
#[derive(Clone, Debug)]
pub struct Common {
    /// Size factor.
    pub scale: f64,
    /// Seed of everything.
    pub seed: u64,
    /// SYN cookies of the server.
    pub cookies: SynCookies,
    /// RFC 5961 on the server.
    pub rfc5961: bool,
    /// Server receive buffer for the blind attacks.
    pub recv_buffer: usize,
    /// Forged non-RST segments carry a Timestamps option with a random TSval.
    pub forge_ts: bool,
    /// Timestamps on both stacks.
    pub timestamps: bool,
    /// SACK on both stacks.
    pub sack: bool,
}

impl Common {
    /// `n` scaled, at least `min`.
    pub fn scaled(&self, n: u64, min: u64) -> u64 {
        ((n as f64 * self.scale).round() as u64).max(min)
    }

    /// The server's stack configuration: defaults with the policies under test.
    pub fn server_config(&self) -> StackConfig {
        let policy = self.rfc5961;
        StackConfig {
            seed: self.seed.wrapping_mul(3) + 2,
            timestamps: self.timestamps,
            sack: self.sack,
            syn_cookies: self.cookies,
            rst_policy: if policy {
                RstPolicy::Rfc5961
            } else {
                RstPolicy::Rfc793
            },
            syn_policy: if policy {
                SynPolicy::Rfc5961
            } else {
                SynPolicy::Rfc793
            },
            ..StackConfig::default()
        }
    }

    /// The legitimate clients' stack configuration (Linux defaults).
    pub fn client_config(&self) -> StackConfig {
        StackConfig {
            seed: self.seed.wrapping_mul(3) + 1,
            timestamps: self.timestamps,
            sack: self.sack,
            ..StackConfig::default()
        }
    }
}

/// The figures of one run, in the order they are printed.
#[derive(Default)]
pub struct Figures(Map<String, Value>);

impl Figures {
    /// Add or replace a figure.
    pub fn set(&mut self, name: &str, v: impl Into<Value>) {
        self.0.insert(name.to_owned(), v.into());
    }

    fn human(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.0 {
            s.push_str(&format!("{k}: {v}\n"));
        }
        s
    }
}

/// Run `oxtcp sim attack`.
pub fn run(args: &AttackArgs) -> Result<()> {
    if !(args.scale.is_finite() && args.scale > 0.0 && args.scale <= 1.0) {
        bail!("--scale must be in (0, 1]");
    }
    let common = Common {
        scale: args.scale,
        seed: args.seed,
        cookies: match args.cookies {
            CookiesArg::Off => SynCookies::Off,
            CookiesArg::WhenFull => SynCookies::WhenFull,
            CookiesArg::Always => SynCookies::Always,
        },
        rfc5961: args.rfc5961 == OnOff::On,
        recv_buffer: args.recv_buffer.unwrap_or(256 * 1024),
        forge_ts: args.tsval == TsvalArg::Random,
        timestamps: args.timestamps == OnOff::On,
        sack: args.sack == OnOff::On,
    };
    let cpu_start = super::cpu_seconds();
    let mut figures = Figures::default();
    figures.set(
        "attack",
        match args.kind {
            AttackKind::SynFlood => "syn-flood",
            AttackKind::BlindRst => "blind-rst",
            AttackKind::BlindData => "blind-data",
            AttackKind::BlindSyn => "blind-syn",
            AttackKind::Malformed => "malformed",
        },
    );
    figures.set("seed", args.seed);
    figures.set("scale", args.scale);
    figures.set("cookies", format!("{:?}", common.cookies));
    figures.set("rfc5961", common.rfc5961);
    figures.set("tsval", if common.forge_ts { "random" } else { "none" });
    figures.set("timestamps", common.timestamps);
    figures.set("sack", common.sack);
    match args.kind {
        AttackKind::SynFlood => syn_flood::run(&common, &mut figures)?,
        AttackKind::BlindRst => blind::run(&common, blind::Blind::Rst, &mut figures)?,
        AttackKind::BlindData => blind::run(&common, blind::Blind::Data, &mut figures)?,
        AttackKind::BlindSyn => blind::run(&common, blind::Blind::Syn, &mut figures)?,
        AttackKind::Malformed => malformed::run(&common, &mut figures)?,
    }
    figures.set("cpu_seconds", super::cpu_seconds() - cpu_start);
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", Value::Object(figures.0))?;
    } else {
        write!(out, "{}", figures.human())?;
    }
    Ok(())
}

/// A host of an attack world: the client side, the server side, or the attacker.
pub enum Host<C, S> {
    /// The legitimate side that connects.
    Client(StackHost<C>),
    /// The side under attack.
    Server(StackHost<S>),
    /// Spoofed datagrams.
    Attacker(Attacker),
}

impl<C, S> Host<C, S> {
    /// The client host.
    pub fn client(&mut self) -> &mut StackHost<C> {
        match self {
            Host::Client(h) => h,
            _ => unreachable!("not the client"),
        }
    }

    /// The server host.
    pub fn server(&mut self) -> &mut StackHost<S> {
        match self {
            Host::Server(h) => h,
            _ => unreachable!("not the server"),
        }
    }

    /// The attacker.
    pub fn attacker(&mut self) -> &mut Attacker {
        match self {
            Host::Attacker(a) => a,
            _ => unreachable!("not the attacker"),
        }
    }
}

impl<C: App, S: App> Node for Host<C, S> {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        match self {
            Host::Client(h) => h.handle_packet(now, packet),
            Host::Server(h) => h.handle_packet(now, packet),
            Host::Attacker(a) => a.handle_packet(now, packet),
        }
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        match self {
            Host::Client(h) => h.poll_transmit(now, buf),
            Host::Server(h) => h.poll_transmit(now, buf),
            Host::Attacker(a) => a.poll_transmit(now, buf),
        }
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        match self {
            Host::Client(h) => h.poll_timeout(),
            Host::Server(h) => h.poll_timeout(),
            Host::Attacker(a) => a.poll_timeout(),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Host::Client(h) => h.handle_timeout(now),
            Host::Server(h) => h.handle_timeout(now),
            Host::Attacker(a) => a.handle_timeout(now),
        }
    }
}

/// A small seeded generator (SplitMix64) for the attacker and the payload patterns.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A forged Timestamps option with a random TSval, or none.
    pub fn timestamps(&mut self, forge: bool) -> Option<Timestamps> {
        let (tsval, tsecr) = (self.next_u32(), self.next_u32());
        forge.then_some(Timestamps { tsval, tsecr })
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
}

/// The byte at `offset` of the stream identified by `key`: what the receiver checks, so that a
/// byte injected by an attacker (or misplaced by the stack) is found.
pub fn pattern_byte(key: u64, offset: u64) -> u8 {
    let mut r = Rng::new(key ^ (offset / 8).wrapping_mul(0x2545_f491_4f6c_dd1d));
    (r.next_u64() >> ((offset % 8) * 8)) as u8
}

/// Fill `buf` with the stream `key` from `offset`.
pub fn fill_pattern(key: u64, offset: u64, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = pattern_byte(key, offset + i as u64);
    }
}

/// Bytes of `buf` that differ from the stream `key` at `offset`.
pub fn count_mismatches(key: u64, offset: u64, buf: &[u8]) -> u64 {
    buf.iter()
        .enumerate()
        .filter(|&(i, &b)| b != pattern_byte(key, offset + i as u64))
        .count() as u64
}

/// Seconds of a duration, for the figures.
pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
