//! The core stack against a peer that sends whatever the fuzzer says. A connection is first
//! brought into a chosen state by a scripted exchange (as the core's tests do), then a
//! sequence of operations runs: segments built from fuzzed header fields, flags, options and
//! payload, raw datagrams, the application's calls, time passing and transmits drained.
//! After every operation `Stack::check_invariants` must hold, and every datagram the stack
//! emits must parse.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use oxtcp_core::{
    CcAlgorithm, ConnId, Instant, KeepAlive, ListenerId, RstPolicy, Stack, StackConfig, State,
    SynPolicy,
};
use oxtcp_wire::{
    emit_packet, parse_packet_with, Checksum, SackBlock, TcpFlags, TcpOptions, TcpRepr, Timestamps,
};

const OX_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
const PEER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const OX_PORT: u16 = 80;
const PEER_PORT: u16 = 5000;
const PEER_ISN: u32 = 1_000_000;

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl Start {
    fn state(self) -> State {
        match self {
            Start::Listen => State::Listen,
            Start::SynSent => State::SynSent,
            Start::SynReceived => State::SynReceived,
            Start::Established => State::Established,
            Start::FinWait1 => State::FinWait1,
            Start::FinWait2 => State::FinWait2,
            Start::CloseWait => State::CloseWait,
            Start::Closing => State::Closing,
            Start::LastAck => State::LastAck,
            Start::TimeWait => State::TimeWait,
        }
    }
}

/// Configuration knobs worth varying.
#[derive(Arbitrary, Debug)]
struct Knobs {
    delayed_ack: bool,
    sack: bool,
    timestamps: bool,
    window_scaling: bool,
    rfc5961: bool,
    time_wait_ignores_rst: bool,
    drop_syn_fin: bool,
    cubic: bool,
    /// Small buffers make full windows, zero windows and probes reachable.
    small_buffers: bool,
    buf_shift: u8,
    /// Segmentation offload: datagrams of several segments, their checksums left undone.
    segmentation_offload: bool,
    /// Drain with `poll_transmit_gathered` (payload left in the send buffer) instead.
    gathered: bool,
}

/// What the peer's SYN (or SYN-ACK) offers in the scripted handshake.
#[derive(Arbitrary, Debug)]
struct PeerSyn {
    mss: Option<u16>,
    wscale: Option<u8>,
    sack_ok: bool,
    ts: bool,
    window: u16,
}

/// A sequence or acknowledgment number: near where the peer is (most useful), far from it,
/// or raw.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Num {
    Rel(i16),
    Far(i32),
    Abs(u32),
}

#[derive(Arbitrary, Debug)]
struct SegSpec {
    flags: u8,
    /// Relative to the peer's next sequence number.
    seq: Num,
    /// Relative to the highest sequence number oxtcp has sent.
    ack: Num,
    window: u16,
    mss: Option<u16>,
    wscale: Option<u8>,
    sack_permitted: bool,
    /// Timestamps: `Some((tsval delta, echo oxtcp's last TSval))`.
    ts: Option<(i16, bool)>,
    /// SACK blocks relative to oxtcp's SND.UNA as the peer knows it.
    sack: Vec<(i16, u16)>,
    payload_len: u16,
    payload_byte: u8,
    /// Another port than the scripted connection's (new connections to a listener).
    other_port: bool,
    urgent: u16,
    /// Delivered in a driver's buffer that the stack may keep (`handle_packet_buffer`), this
    /// many bytes longer than the datagram.
    in_buffer: Option<u16>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Deliver(SegSpec),
    Raw(Vec<u8>),
    /// Raw bytes whose checksum the device vouches for (receive checksum offload): the parse
    /// goes on past a wrong checksum.
    RawVouched(Vec<u8>),
    Send(u16),
    Recv(u16),
    Shutdown,
    Close,
    Abort,
    Accept,
    Nodelay(bool),
    Keepalive(bool),
    /// Move the clock by this many milliseconds (times 8 to reach long timers), firing timers.
    Advance(u16),
    /// Jump to the next timer the stack asked for.
    NextTimer,
    PollTransmit,
    CloseListener,
    Connect,
}

#[derive(Arbitrary, Debug)]
struct Input {
    start: Start,
    knobs: Knobs,
    syn: PeerSyn,
    ops: Vec<Op>,
}

struct Driver {
    stack: Stack,
    now: Instant,
    conn: Option<ConnId>,
    listener: Option<ListenerId>,
    /// The peer's next sequence number on the scripted port.
    peer_nxt: u32,
    peer_tsval: u32,
    /// What the peer has seen of oxtcp on the scripted port.
    ox_iss: Option<u32>,
    ox_max: u32,
    ox_una: u32,
    ox_tsval: u32,
    peer_ts: bool,
    buf: Vec<u8>,
    gathered: bool,
}

impl Driver {
    fn check(&self, what: &str) {
        if let Err(e) = self.stack.check_invariants() {
            panic!("invariant broken after {what}: {e}");
        }
    }

    /// Drain every datagram; each must parse and come from oxtcp.
    fn poll(&mut self) -> Vec<(TcpRepr, usize)> {
        let mut out = Vec::new();
        for _ in 0..10_000 {
            let tx = if self.gathered {
                // Join the parts: what is checked is the datagram the device would write.
                let mut joined = None;
                let mut sink = |parts: &[&[u8]], size: Option<u16>| {
                    joined = Some((parts.concat(), size));
                };
                if !self
                    .stack
                    .poll_transmit_gathered(self.now, &mut self.buf, &mut sink)
                {
                    return out;
                }
                let (bytes, segment_size) = joined.expect("the sink got the datagram");
                self.buf[..bytes.len()].copy_from_slice(&bytes);
                oxtcp_core::Transmit {
                    len: bytes.len(),
                    segment_size,
                }
            } else {
                let Some(tx) = self.stack.poll_transmit_segmented(self.now, &mut self.buf) else {
                    return out;
                };
                tx
            };
            // A datagram to be cut leaves its checksum to the device, and is whole segments.
            let checksum = match tx.segment_size {
                Some(_) => Checksum::Offloaded,
                None => Checksum::Computed,
            };
            let seg = parse_packet_with(&self.buf[..tx.len], checksum)
                .expect("oxtcp emitted an unparsable datagram");
            if let Some(size) = tx.segment_size {
                let size = usize::from(size);
                assert!(size > 0 && seg.payload.len() >= 2 * size);
                assert_eq!(seg.payload.len() % size, 0, "only whole segments are cut");
            }
            assert_eq!(seg.ip.src(), OX_IP);
            assert_eq!(seg.ip.dst(), PEER_IP);
            let t = seg.tcp;
            if t.dst_port == PEER_PORT && t.src_port == OX_PORT {
                if t.flags.syn() && self.ox_iss.is_none() {
                    self.ox_iss = Some(t.seq);
                    self.ox_max = t.seq;
                    self.ox_una = t.seq;
                }
                let len =
                    seg.payload.len() as u32 + u32::from(t.flags.syn()) + u32::from(t.flags.fin());
                let end = t.seq.wrapping_add(len);
                if self.ox_iss.is_some() && (end.wrapping_sub(self.ox_max) as i32) > 0 {
                    self.ox_max = end;
                }
                if let Some(ts) = t.options.timestamps {
                    self.ox_tsval = ts.tsval;
                }
            }
            out.push((t, seg.payload.len()));
        }
        panic!("poll_transmit never ran dry");
    }

    fn deliver(&mut self, repr: &TcpRepr, payload: &[u8]) {
        self.deliver_in(repr, payload, None);
    }

    /// Deliver a segment; with `slack`, in a buffer that many bytes longer than the datagram,
    /// which the stack may keep and replace.
    fn deliver_in(&mut self, repr: &TcpRepr, payload: &[u8], slack: Option<u16>) {
        let mut buf = vec![0u8; 100 + payload.len()];
        let n = emit_packet(&mut buf, PEER_IP, OX_IP, 64, repr, &[payload]).expect("emit");
        match slack {
            None => self.stack.handle_packet(self.now, &buf[..n]),
            Some(extra) => {
                let len = n + usize::from(extra);
                buf.resize(len, 0);
                self.stack
                    .handle_packet_buffer(self.now, &mut buf, n, Checksum::Computed);
                assert_eq!(buf.len(), len, "a replaced buffer keeps the length");
            }
        }
    }

    /// A well-formed segment of the scripted peer.
    fn script(&mut self, flags: TcpFlags, seq_off: u32, ack_off: Option<u32>, opts: TcpOptions) {
        self.script_win(flags, seq_off, ack_off, opts, 65535);
    }

    fn script_win(
        &mut self,
        flags: TcpFlags,
        seq_off: u32,
        ack_off: Option<u32>,
        opts: TcpOptions,
        window: u16,
    ) {
        let mut options = opts;
        if self.peer_ts {
            self.peer_tsval = self.peer_tsval.wrapping_add(1);
            options.timestamps = Some(Timestamps {
                tsval: self.peer_tsval,
                tsecr: self.ox_tsval,
            });
        }
        let ack = match ack_off {
            Some(a) => self.ox_iss.expect("oxtcp's ISN").wrapping_add(a),
            None => 0,
        };
        let repr = TcpRepr {
            src_port: PEER_PORT,
            dst_port: OX_PORT,
            seq: PEER_ISN.wrapping_add(seq_off),
            ack,
            flags,
            window,
            urgent: 0,
            options,
        };
        self.deliver(&repr, &[]);
        let end = seq_off + u32::from(flags.syn()) + u32::from(flags.fin());
        self.peer_nxt = self.peer_nxt.max(PEER_ISN.wrapping_add(end));
        if let Some(a) = ack_off {
            self.ox_una = self.ox_iss.unwrap_or(0).wrapping_add(a);
        }
    }

    fn advance_to(&mut self, target: Instant) {
        for _ in 0..1_000 {
            match self.stack.poll_timeout() {
                Some(d) if d <= target => {
                    // A deadline already past fires at `now`; step a microsecond so a timer
                    // that fires nothing cannot spin here.
                    self.now = self.now.max(d) + Duration::from_micros(1);
                    self.stack.handle_timeout(self.now);
                    self.check("a timer");
                    self.poll();
                }
                _ => break,
            }
        }
        if target > self.now {
            self.now = target;
        }
        self.stack.handle_timeout(self.now);
    }
}

fn config(k: &Knobs) -> StackConfig {
    let mut cfg = StackConfig {
        seed: 42,
        trace: false,
        sack: k.sack,
        timestamps: k.timestamps,
        window_scaling: k.window_scaling,
        time_wait_ignores_rst: k.time_wait_ignores_rst,
        drop_syn_fin: k.drop_syn_fin,
        ..StackConfig::default()
    };
    if !k.delayed_ack {
        cfg.delayed_ack = None;
    }
    if k.rfc5961 {
        cfg.rst_policy = RstPolicy::Rfc5961;
        cfg.syn_policy = SynPolicy::Rfc5961;
    } else {
        cfg.rst_policy = RstPolicy::Rfc793;
        cfg.syn_policy = SynPolicy::Rfc793;
    }
    cfg.congestion_control = if k.cubic {
        CcAlgorithm::Cubic
    } else {
        CcAlgorithm::NewReno
    };
    if k.segmentation_offload {
        cfg.segmentation_offload = Some(64_000);
    }
    if k.small_buffers {
        let size = 256usize << (k.buf_shift % 6);
        cfg.send_buffer = size;
        cfg.recv_buffer = size;
    }
    cfg
}

/// Bring the connection on the scripted port into `start`, as crates/core/tests/common's
/// `in_state` does. Returns None if the scripted exchange did not get there (a knob made the
/// script inapplicable); such inputs are skipped.
fn setup(input: &Input) -> Option<Driver> {
    let cfg = config(&input.knobs);
    let mut d = Driver {
        stack: Stack::with_addresses(cfg, &[OX_IP]),
        now: Instant::ZERO,
        conn: None,
        listener: None,
        peer_nxt: PEER_ISN,
        peer_tsval: 7,
        ox_iss: None,
        ox_max: 0,
        ox_una: 0,
        ox_tsval: 0,
        peer_ts: input.syn.ts,
        buf: vec![0u8; 70_000],
        gathered: input.knobs.gathered,
    };
    let syn_opts = TcpOptions {
        mss: input.syn.mss,
        window_scale: input.syn.wscale,
        sack_permitted: input.syn.sack_ok,
        ..TcpOptions::default()
    };
    let ox = SocketAddr::new(OX_IP, OX_PORT);
    let peer = SocketAddr::new(PEER_IP, PEER_PORT);
    let start = input.start;
    match start {
        Start::SynSent | Start::SynReceived => {
            d.conn = Some(d.stack.connect_from(d.now, ox, peer).ok()?);
            d.poll();
            if start == Start::SynReceived {
                d.script_win(TcpFlags::SYN, 0, None, syn_opts, input.syn.window);
                d.poll();
            }
        }
        _ => {
            d.listener = Some(d.stack.listen(ox, 8).ok()?);
            if start != Start::Listen {
                d.script_win(TcpFlags::SYN, 0, None, syn_opts, input.syn.window);
                d.poll();
                d.script(TcpFlags::ACK, 1, Some(1), TcpOptions::default());
                d.poll();
                d.conn = Some(d.stack.accept(d.listener?).ok()?);
            }
        }
    }
    let none = TcpOptions::default();
    let fin_ack = TcpFlags::FIN | TcpFlags::ACK;
    match start {
        Start::FinWait1 | Start::FinWait2 | Start::Closing | Start::TimeWait => {
            d.stack.shutdown(d.now, d.conn?).ok()?;
            d.poll();
            match start {
                Start::FinWait2 => d.script(TcpFlags::ACK, 1, Some(2), none),
                Start::Closing => d.script(fin_ack, 1, Some(1), none),
                Start::TimeWait => {
                    d.script(TcpFlags::ACK, 1, Some(2), none);
                    d.script(fin_ack, 1, Some(2), none);
                }
                _ => {}
            }
            d.poll();
        }
        Start::CloseWait | Start::LastAck => {
            d.script(fin_ack, 1, Some(1), none);
            d.poll();
            if start == Start::LastAck {
                d.stack.shutdown(d.now, d.conn?).ok()?;
                d.poll();
            }
        }
        _ => {}
    }
    d.check("setup");
    match d.conn {
        Some(c) => {
            if d.stack.state(c) != Some(start.state()) {
                return None;
            }
        }
        None => assert_eq!(start, Start::Listen),
    }
    Some(d)
}

fn rel(base: u32, n: Num) -> u32 {
    match n {
        Num::Rel(x) => base.wrapping_add(x as i32 as u32),
        Num::Far(x) => base.wrapping_add(x as u32),
        Num::Abs(x) => x,
    }
}

fn build(d: &mut Driver, s: &SegSpec) -> (TcpRepr, Vec<u8>) {
    let flags = TcpFlags::from_bits(s.flags);
    let mut options = TcpOptions {
        mss: s.mss,
        window_scale: s.wscale,
        sack_permitted: s.sack_permitted,
        ..TcpOptions::default()
    };
    if let Some((dv, echo)) = s.ts {
        d.peer_tsval = d.peer_tsval.wrapping_add(dv as i32 as u32);
        options.timestamps = Some(Timestamps {
            tsval: d.peer_tsval,
            tsecr: if echo { d.ox_tsval } else { 0 },
        });
    }
    for &(l, len) in s.sack.iter().take(4) {
        let left = d.ox_una.wrapping_add(l as i32 as u32);
        options.sack_blocks.push(SackBlock {
            left,
            right: left.wrapping_add(u32::from(len)),
        });
    }
    let repr = TcpRepr {
        src_port: if s.other_port {
            PEER_PORT + 1
        } else {
            PEER_PORT
        },
        dst_port: OX_PORT,
        seq: rel(d.peer_nxt, s.seq),
        ack: rel(d.ox_max, s.ack),
        flags,
        window: s.window,
        urgent: s.urgent,
        options,
    };
    // A segment in a buffer the stack may keep can be large enough to be kept (8 KiB).
    let max = if s.in_buffer.is_some() { 20_000 } else { 3000 };
    let payload = vec![s.payload_byte; usize::from(s.payload_len) % max];
    (repr, payload)
}

fn run(input: Input) {
    // FUZZ_PRINT=1 shows the decoded input when replaying a crash file.
    if std::env::var_os("FUZZ_PRINT").is_some() {
        eprintln!("{input:#?}");
    }
    let Some(mut d) = setup(&input) else {
        return;
    };
    let mut rbuf = vec![0u8; 70_000];
    for op in input.ops.iter().take(256) {
        match op {
            Op::Deliver(s) => {
                let (repr, payload) = build(&mut d, s);
                d.deliver_in(&repr, &payload, s.in_buffer);
                // The peer moves on past what it sent in order, as a real one would.
                if !repr.flags.rst() && repr.src_port == PEER_PORT {
                    let len = payload.len() as u32
                        + u32::from(repr.flags.syn())
                        + u32::from(repr.flags.fin());
                    let end = repr.seq.wrapping_add(len);
                    if repr.seq == d.peer_nxt {
                        d.peer_nxt = end;
                    }
                    if repr.flags.ack() && (repr.ack.wrapping_sub(d.ox_una) as i32) > 0 {
                        d.ox_una = repr.ack;
                    }
                }
            }
            Op::Raw(bytes) => d.stack.handle_packet(d.now, bytes),
            Op::RawVouched(bytes) => d
                .stack
                .handle_packet_with(d.now, bytes, Checksum::Offloaded),
            Op::Send(n) => {
                if let Some(c) = d.conn {
                    let data = vec![0x5a; usize::from(*n % 20_000)];
                    let _ = d.stack.send(c, &data);
                }
            }
            Op::Recv(n) => {
                if let Some(c) = d.conn {
                    let max = usize::from(*n).min(rbuf.len());
                    if n & 1 == 0 {
                        let _ = d.stack.recv(c, &mut rbuf[..max]);
                    } else {
                        // In place: what it shows is what it counts, and no more than asked.
                        let mut shown = 0;
                        let r = d.stack.recv_with(c, max, |run| shown += run.len());
                        if let Ok(got) = r {
                            assert!(got == shown && got <= max, "{got} of {shown}, max {max}");
                        }
                    }
                }
            }
            Op::Shutdown => {
                if let Some(c) = d.conn {
                    let _ = d.stack.shutdown(d.now, c);
                }
            }
            Op::Close => {
                if let Some(c) = d.conn.take() {
                    let _ = d.stack.close(d.now, c);
                }
            }
            Op::Abort => {
                if let Some(c) = d.conn.take() {
                    let _ = d.stack.abort(d.now, c);
                }
            }
            Op::Accept => {
                if let Some(l) = d.listener {
                    if let Ok(c) = d.stack.accept(l) {
                        d.conn.get_or_insert(c);
                    }
                }
            }
            Op::Nodelay(on) => {
                if let Some(c) = d.conn {
                    let _ = d.stack.set_nodelay(d.now, c, *on);
                }
            }
            Op::Keepalive(on) => {
                if let Some(c) = d.conn {
                    let ka = on.then(|| KeepAlive {
                        idle: Some(Duration::from_secs(10)),
                        interval: Some(Duration::from_secs(1)),
                        probes: Some(3),
                    });
                    let _ = d.stack.set_keepalive(d.now, c, ka);
                }
            }
            Op::Advance(ms) => {
                let target = d.now + Duration::from_millis(u64::from(*ms) * 8);
                d.advance_to(target);
            }
            Op::NextTimer => {
                if let Some(t) = d.stack.poll_timeout() {
                    d.now = d.now.max(t);
                    d.stack.handle_timeout(d.now);
                }
            }
            Op::PollTransmit => {
                d.poll();
            }
            Op::CloseListener => {
                if let Some(l) = d.listener.take() {
                    let _ = d.stack.close_listener(d.now, l);
                }
            }
            Op::Connect => {
                let peer = SocketAddr::new(PEER_IP, PEER_PORT + 2);
                let _ = d.stack.connect(d.now, peer);
            }
        }
        d.check(&format!("{op:?}"));
    }
    // Whatever was left goes out, and the stack stays consistent to the end.
    d.poll();
    d.check("the final poll");
    let later = d.now + Duration::from_secs(600);
    d.advance_to(later);
    d.poll();
    d.check("ten minutes later");
}

fuzz_target!(|input: Input| run(input));
