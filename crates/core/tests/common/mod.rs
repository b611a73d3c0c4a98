//! A scripted peer for one oxtcp stack: a small segment DSL in the style of smoltcp's TCP tests,
//! so that each test reads like a packet trace.
//!
//! oxtcp owns 10.0.0.2 and uses port 80 (listening or connecting from it); the scripted peer is
//! 10.0.0.1, port 5000 unless a segment names another port with `.port(p)`.
//!
//! Sequence numbers in the script are relative: the peer's numbers (its `seq`, oxtcp's `ack`) to
//! the peer's ISN (`Harness::peer_isn`, 1_000_000 unless changed), oxtcp's numbers (its `seq`,
//! the peer's `ack`) to oxtcp's ISN, which is captured from the first SYN or SYN-ACK oxtcp sends
//! on that port. `seq_abs`/`ack_abs` give raw numbers instead.
//!
//! `send` delivers a segment from the peer and first checks that oxtcp had nothing pending;
//! `expect` takes the next segment oxtcp emits and checks flags, seq, ack and payload (and
//! window, MSS and PSH when the template names them); `expect_none` checks silence. A harness
//! dropped at the end of a test checks that nothing unexpected is left to send.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use oxtcp_core::{
    Cause, Checksum, ConnId, ConnInfo, Dir, Event, EventKind, Instant, ListenerId, Stack,
    StackConfig, State, StateEvent,
};
use oxtcp_wire::{
    checksum, emit_packet, parse_packet, SackBlock, TcpFlags, TcpOptions, TcpRepr, Timestamps,
};

/// oxtcp's address.
pub const OX_IP: &str = "10.0.0.2";
/// oxtcp's port, listening or connecting.
pub const OX_PORT: u16 = 80;
/// The scripted peer's address.
pub const PEER_IP: &str = "10.0.0.1";
/// The scripted peer's default port.
pub const PEER_PORT: u16 = 5000;
/// The peer's ISN unless a test picks another.
pub const PEER_ISN: u32 = 1_000_000;
/// The window the peer advertises unless a segment says otherwise.
pub const PEER_WIN: u16 = 65535;
/// The MSS the peer advertises in the handshake helpers.
pub const PEER_MSS: u16 = 1460;

pub fn ox_ip() -> IpAddr {
    OX_IP.parse().unwrap()
}

pub fn peer_ip() -> IpAddr {
    PEER_IP.parse().unwrap()
}

pub fn ox_addr() -> SocketAddr {
    SocketAddr::new(ox_ip(), OX_PORT)
}

pub fn peer_addr(port: u16) -> SocketAddr {
    SocketAddr::new(peer_ip(), port)
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

/// A segment template: what the peer sends, or what oxtcp is expected to send.
#[derive(Clone, Debug, Default)]
pub struct Seg {
    flags: TcpFlags,
    seq: Option<u32>,
    seq_abs: Option<u32>,
    ack: Option<u32>,
    ack_abs: Option<u32>,
    win: Option<u16>,
    mss: Option<u16>,
    /// Window Scale option: `Some(None)` expects none.
    wscale: Option<Option<u8>>,
    /// Timestamps option (TSval, TSecr): `Some(None)` expects none.
    ts: Option<Option<(u32, u32)>>,
    /// Expected TSecr (oxtcp's TSval is offset at random, so only the echo is scripted).
    tsecr: Option<u32>,
    /// SACK-Permitted, sent or expected (`Some(false)` expects none).
    sack_ok: Option<bool>,
    /// SACK blocks `[left, right)`, relative to the ISN of the side whose data they cover
    /// (oxtcp's when the peer sends them, the peer's when oxtcp does); `Some(vec![])` expects
    /// none.
    sack: Option<Vec<(u32, u32)>>,
    psh: Option<bool>,
    data: Option<Vec<u8>>,
    len: Option<usize>,
    port: Option<u16>,
}

/// A new, empty segment template.
pub fn seg() -> Seg {
    Seg::default()
}

impl Seg {
    pub fn syn(mut self) -> Self {
        self.flags |= TcpFlags::SYN;
        self
    }
    pub fn ack(mut self) -> Self {
        self.flags |= TcpFlags::ACK;
        self
    }
    pub fn fin(mut self) -> Self {
        self.flags |= TcpFlags::FIN;
        self
    }
    pub fn rst(mut self) -> Self {
        self.flags |= TcpFlags::RST;
        self
    }
    /// For a sent segment, set PSH; for an expected one, require PSH (otherwise it is not
    /// checked).
    pub fn psh(mut self) -> Self {
        self.flags |= TcpFlags::PSH;
        self.psh = Some(true);
        self
    }
    /// For an expected segment, require PSH to be clear.
    pub fn no_psh(mut self) -> Self {
        self.psh = Some(false);
        self
    }
    /// Raw flag bits.
    pub fn flags(mut self, f: TcpFlags) -> Self {
        self.flags = f;
        self
    }
    /// Sequence number relative to the sender's ISN.
    pub fn seq(mut self, rel: u32) -> Self {
        self.seq = Some(rel);
        self
    }
    /// Raw sequence number.
    pub fn seq_abs(mut self, raw: u32) -> Self {
        self.seq_abs = Some(raw);
        self
    }
    /// Acknowledgment number relative to the receiver's ISN.
    pub fn ack_no(mut self, rel: u32) -> Self {
        self.ack = Some(rel);
        self
    }
    /// Raw acknowledgment number.
    pub fn ack_abs(mut self, raw: u32) -> Self {
        self.ack_abs = Some(raw);
        self
    }
    /// Window field (checked on expected segments only when given).
    pub fn win(mut self, w: u16) -> Self {
        self.win = Some(w);
        self
    }
    /// MSS option (checked on expected segments only when given).
    pub fn mss(mut self, m: u16) -> Self {
        self.mss = Some(m);
        self
    }
    /// Window Scale option with this shift, sent or expected.
    pub fn wscale(mut self, shift: u8) -> Self {
        self.wscale = Some(Some(shift));
        self
    }
    /// Expect no Window Scale option.
    pub fn no_wscale(mut self) -> Self {
        self.wscale = Some(None);
        self
    }
    /// Timestamps option the peer sends.
    pub fn ts(mut self, tsval: u32, tsecr: u32) -> Self {
        self.ts = Some(Some((tsval, tsecr)));
        self
    }
    /// Expect no Timestamps option.
    pub fn no_ts(mut self) -> Self {
        self.ts = Some(None);
        self
    }
    /// Expect a Timestamps option echoing `tsecr`.
    pub fn tsecr(mut self, tsecr: u32) -> Self {
        self.tsecr = Some(tsecr);
        self
    }
    /// SACK-Permitted, sent or expected.
    pub fn sack_ok(mut self) -> Self {
        self.sack_ok = Some(true);
        self
    }
    /// Expect no SACK-Permitted.
    pub fn no_sack_ok(mut self) -> Self {
        self.sack_ok = Some(false);
        self
    }
    /// SACK blocks `[left, right)` in relative numbers, in the order sent (most recent first).
    pub fn sack(mut self, blocks: &[(u32, u32)]) -> Self {
        self.sack = Some(blocks.to_vec());
        self
    }
    /// Expect no SACK blocks.
    pub fn no_sack(mut self) -> Self {
        self.sack = Some(Vec::new());
        self
    }
    fn options(&self) -> TcpOptions {
        TcpOptions {
            mss: self.mss,
            sack_permitted: self.sack_ok == Some(true),
            window_scale: self.wscale.flatten(),
            timestamps: self
                .ts
                .flatten()
                .map(|(tsval, tsecr)| Timestamps { tsval, tsecr }),
            ..TcpOptions::default()
        }
    }
    /// Payload bytes (compared byte for byte on expected segments).
    pub fn data(mut self, d: &[u8]) -> Self {
        self.data = Some(d.to_vec());
        self
    }
    /// Payload length: `n` pattern bytes when sent, the expected length when expected.
    pub fn len(mut self, n: usize) -> Self {
        self.len = Some(n);
        self
    }
    /// The peer's port for this segment.
    pub fn port(mut self, p: u16) -> Self {
        self.port = Some(p);
        self
    }

    fn payload_for_send(&self) -> Vec<u8> {
        match (&self.data, self.len) {
            (Some(d), _) => d.clone(),
            (None, Some(n)) => pattern(0, n),
            (None, None) => Vec::new(),
        }
    }
}

/// `n` bytes of a recognisable pattern starting at stream offset `off`.
pub fn pattern(off: usize, n: usize) -> Vec<u8> {
    (off..off + n).map(|i| (i % 251) as u8).collect()
}

/// A segment oxtcp emitted, with numbers made relative.
#[derive(Clone, Debug)]
pub struct Out {
    /// Elapsed time since the harness started when the segment was polled.
    pub time: Duration,
    pub flags: TcpFlags,
    pub seq_raw: u32,
    pub ack_raw: u32,
    /// Relative to oxtcp's ISN (raw if unknown).
    pub seq: u32,
    /// Relative to the peer's ISN.
    pub ack: u32,
    pub win: u16,
    pub options: TcpOptions,
    pub payload: Vec<u8>,
    pub port: u16,
    /// Where the device is to cut the payload (segmentation offload), if anywhere.
    pub segment_size: Option<u16>,
}

impl Out {
    /// The SACK blocks carried, relative to `peer_isn`.
    pub fn sack_rel(&self, peer_isn: u32) -> Vec<(u32, u32)> {
        self.options
            .sack_blocks
            .as_slice()
            .iter()
            .map(|b| {
                (
                    b.left.wrapping_sub(peer_isn),
                    b.right.wrapping_sub(peer_isn),
                )
            })
            .collect()
    }
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{:?}] :{} {} seq={} ack={} len={} win={}",
            self.time,
            self.port,
            self.flags,
            self.seq,
            self.ack,
            self.payload.len(),
            self.win
        )?;
        if let Some(m) = self.options.mss {
            write!(f, " mss={m}")?;
        }
        if let Some(w) = self.options.window_scale {
            write!(f, " wscale={w}")?;
        }
        if let Some(t) = self.options.timestamps {
            write!(f, " TS val {} ecr {}", t.tsval, t.tsecr)?;
        }
        if self.options.sack_permitted {
            write!(f, " sackOK")?;
        }
        let peer_isn = self.ack_raw.wrapping_sub(self.ack);
        for (l, r) in self.sack_rel(peer_isn) {
            write!(f, " sack {l}:{r}")?;
        }
        Ok(())
    }
}

/// Per-peer-port bookkeeping of the script.
#[derive(Clone, Debug)]
struct Peer {
    /// The peer's ISN.
    isn: u32,
    /// oxtcp's ISN, once seen.
    ox_iss: Option<u32>,
    /// Next relative sequence number the peer sends by default.
    nxt: u32,
    /// Highest relative sequence number end oxtcp has sent.
    ox_nxt: u32,
}

/// One stack and a scripted peer.
pub struct Harness {
    pub stack: Stack,
    pub now: Instant,
    /// The connection the application holds (connect, or the first accept).
    pub conn: Option<ConnId>,
    pub listener: Option<ListenerId>,
    /// ISN the peer uses on ports not seen yet.
    pub peer_isn: u32,
    peers: HashMap<u16, Peer>,
    outbox: VecDeque<(Instant, Vec<u8>, Option<u16>)>,
    /// Every trace event so far.
    pub events: Vec<Event>,
    buf: Vec<u8>,
    returned_buffers: Vec<usize>,
}

impl Harness {
    /// A stack with `cfg` applied over the test defaults (trace on, seed 42, no delayed ACK).
    pub fn with_config(f: impl FnOnce(&mut StackConfig)) -> Harness {
        // Delayed ACKs off: most tests script one ACK per data segment; the delayed-ACK tests
        // turn them on.
        let mut cfg = StackConfig {
            seed: 42,
            trace: true,
            delayed_ack: None,
            ..StackConfig::default()
        };
        f(&mut cfg);
        Harness {
            stack: Stack::with_addresses(cfg, &[ox_ip()]),
            now: Instant::ZERO,
            conn: None,
            listener: None,
            peer_isn: PEER_ISN,
            peers: HashMap::new(),
            outbox: VecDeque::new(),
            events: Vec::new(),
            buf: vec![0; 70_000],
            returned_buffers: Vec::new(),
        }
    }

    /// A bare stack with default configuration: no listener, no connection.
    pub fn new() -> Harness {
        Harness::with_config(|_| {})
    }

    /// oxtcp listening on 10.0.0.2:80 with backlog 8.
    pub fn server() -> Harness {
        Harness::server_with(8, |_| {})
    }

    /// oxtcp listening with `backlog` and a configuration tweak.
    pub fn server_with(backlog: usize, f: impl FnOnce(&mut StackConfig)) -> Harness {
        let mut t = Harness::with_config(f);
        t.listen(backlog);
        t
    }

    /// oxtcp having called connect from 10.0.0.2:80 to the peer; its SYN is not yet expected.
    pub fn client() -> Harness {
        Harness::client_with(|_| {})
    }

    pub fn client_with(f: impl FnOnce(&mut StackConfig)) -> Harness {
        let mut t = Harness::with_config(f);
        t.connect();
        t
    }

    /// A passive connection in ESTABLISHED, accepted; nothing pending.
    pub fn established_server() -> Harness {
        Harness::established_server_with(|_| {})
    }

    pub fn established_server_with(f: impl FnOnce(&mut StackConfig)) -> Harness {
        let mut t = Harness::server_with(8, f);
        t.handshake_passive();
        t
    }

    /// A passive connection in ESTABLISHED with SACK negotiated (no timestamps, no window
    /// scaling), accepted; nothing pending.
    pub fn established_sack_server_with(f: impl FnOnce(&mut StackConfig)) -> Harness {
        let mut t = Harness::server_with(8, f);
        t.handshake_passive_sack();
        t
    }

    /// An active connection in ESTABLISHED; nothing pending.
    pub fn established_client() -> Harness {
        Harness::established_client_with(|_| {})
    }

    pub fn established_client_with(f: impl FnOnce(&mut StackConfig)) -> Harness {
        let mut t = Harness::client_with(f);
        t.handshake_active();
        t
    }

    /// oxtcp having called connect at a moment chosen so that its ISN is `iss`. The ISN is
    /// RFC 6528's keyed hash of the 4-tuple plus a 4 µs clock, so one probe connect on a twin
    /// stack reveals the hash, and the clock does the rest (in virtual time).
    pub fn client_with_iss(iss: u32, f: impl Fn(&mut StackConfig)) -> Harness {
        let mut probe = Harness::with_config(&f);
        probe.connect();
        let iss0 = probe.expect(seg().syn().seq(0)).seq_raw;
        probe.stack.abort(probe.now, probe.conn.unwrap()).unwrap();
        let mut t = Harness::with_config(&f);
        t.now = Instant::from_micros(u64::from(iss.wrapping_sub(iss0)) * 4);
        t.connect();
        t
    }

    pub fn listen(&mut self, backlog: usize) -> ListenerId {
        let l = self.stack.listen(ox_addr(), backlog).expect("listen");
        self.listener = Some(l);
        self.sync();
        l
    }

    pub fn connect(&mut self) -> ConnId {
        let c = self
            .stack
            .connect_from(self.now, ox_addr(), peer_addr(PEER_PORT))
            .expect("connect");
        self.conn = Some(c);
        self.sync();
        c
    }

    /// SYN, SYN-ACK, ACK from the peer's side, then accept().
    pub fn handshake_passive(&mut self) -> ConnId {
        self.send(seg().syn().seq(0).mss(PEER_MSS));
        self.expect(seg().syn().ack().seq(0).ack_no(1));
        self.send(seg().ack().seq(1).ack_no(1));
        self.expect_none();
        let c = self.accept();
        self.assert_state(State::Established);
        c
    }

    /// As `handshake_passive`, with SACK-Permitted on the peer's SYN (and so on oxtcp's
    /// SYN-ACK): SACK is in use on the connection.
    pub fn handshake_passive_sack(&mut self) -> ConnId {
        self.send(seg().syn().seq(0).mss(PEER_MSS).sack_ok());
        self.expect(seg().syn().ack().seq(0).ack_no(1).sack_ok());
        self.send(seg().ack().seq(1).ack_no(1));
        self.expect_none();
        let c = self.accept();
        self.assert_state(State::Established);
        c
    }

    /// SYN from oxtcp, SYN-ACK from the peer, ACK from oxtcp.
    pub fn handshake_active(&mut self) {
        self.expect(seg().syn().seq(0));
        self.send(seg().syn().ack().seq(0).ack_no(1).mss(PEER_MSS));
        self.expect(seg().ack().seq(1).ack_no(1));
        self.assert_state(State::Established);
    }

    /// accept() on the harness's listener; the first accepted connection becomes `conn`.
    #[track_caller]
    pub fn accept(&mut self) -> ConnId {
        let c = self
            .stack
            .accept(self.listener.expect("no listener"))
            .expect("accept");
        if self.conn.is_none() {
            self.conn = Some(c);
        }
        self.sync();
        c
    }

    fn id(&self) -> ConnId {
        self.conn.expect("no connection held")
    }

    pub fn info(&self) -> ConnInfo {
        self.stack.info(self.id()).expect("connection released")
    }

    // ----- the application -----

    #[track_caller]
    pub fn app_send(&mut self, data: &[u8]) -> usize {
        let n = self.stack.send(self.id(), data).expect("send");
        self.sync();
        n
    }

    /// TCP_NODELAY on the held connection.
    #[track_caller]
    pub fn app_set_nodelay(&mut self, on: bool) {
        let id = self.id();
        self.stack
            .set_nodelay(self.now, id, on)
            .expect("set_nodelay");
        self.sync();
    }

    /// Read up to `max` bytes.
    #[track_caller]
    pub fn app_recv(&mut self, max: usize) -> Vec<u8> {
        let mut buf = vec![0; max];
        let n = self.stack.recv(self.id(), &mut buf).expect("recv");
        buf.truncate(n);
        self.sync();
        buf
    }

    #[track_caller]
    pub fn app_close(&mut self) {
        self.stack.close(self.now, self.id()).expect("close");
        self.sync();
    }

    #[track_caller]
    pub fn app_shutdown(&mut self) {
        self.stack.shutdown(self.now, self.id()).expect("shutdown");
        self.sync();
    }

    #[track_caller]
    pub fn app_abort(&mut self) {
        self.stack.abort(self.now, self.id()).expect("abort");
        self.sync();
    }

    // ----- time -----

    /// Time elapsed since the harness started.
    pub fn elapsed(&self) -> Duration {
        self.now - Instant::ZERO
    }

    /// Move the clock forward by `d` and fire every timer due, one deadline at a time, so
    /// that segments are stamped with the time they were produced.
    pub fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        self.run_until(target);
    }

    /// Like `advance`, to an absolute elapsed time.
    pub fn advance_to(&mut self, elapsed: Duration) {
        self.run_until(Instant::ZERO + elapsed);
    }

    fn run_until(&mut self, target: Instant) {
        for _ in 0..100_000 {
            self.collect_tx();
            match self.stack.poll_timeout() {
                Some(d) if d <= target => {
                    if d > self.now {
                        self.now = d;
                    }
                    self.stack.handle_timeout(self.now);
                    self.sync();
                    if d >= target {
                        break;
                    }
                    // An early wakeup at `now` that fired nothing would repeat; step past it.
                    if self.stack.poll_timeout() == Some(d) {
                        self.now = d + Duration::from_micros(1);
                        self.stack.handle_timeout(self.now);
                        self.sync();
                    }
                }
                _ => break,
            }
        }
        self.now = self.now.max(target);
        self.stack.handle_timeout(self.now);
        self.sync();
        self.collect_tx();
    }

    /// Run timers until oxtcp emits something (at most `limit` from now); returns when, as
    /// elapsed time. The segment stays queued for `expect`.
    #[track_caller]
    pub fn wait_for_tx(&mut self, limit: Duration) -> Duration {
        let end = self.now + limit;
        for _ in 0..100_000 {
            self.collect_tx();
            if let Some((t, _, _)) = self.outbox.front() {
                return *t - Instant::ZERO;
            }
            match self.stack.poll_timeout() {
                Some(d) if d <= end => {
                    self.now = self.now.max(d);
                    self.stack.handle_timeout(self.now);
                    self.sync();
                    if self.stack.poll_timeout() == Some(d) {
                        self.now = d + Duration::from_micros(1);
                    }
                }
                other => panic!(
                    "nothing emitted within {limit:?} (next timer {other:?}, now {})\n{}",
                    self.now,
                    self.ladder()
                ),
            }
        }
        panic!("timers did not settle");
    }

    // ----- segments -----

    fn peer(&mut self, port: u16) -> &mut Peer {
        let isn = self.peer_isn;
        self.peers.entry(port).or_insert(Peer {
            isn,
            ox_iss: None,
            nxt: 0,
            ox_nxt: 0,
        })
    }

    /// The peer's next relative sequence number on the default port (oxtcp's RCV.NXT when
    /// everything sent was in order).
    pub fn peer_nxt(&self) -> u32 {
        self.peers.get(&PEER_PORT).map_or(0, |p| p.nxt)
    }

    /// The end of what oxtcp has sent on the default port, relative (its SND.MAX).
    pub fn ox_nxt(&self) -> u32 {
        self.peers.get(&PEER_PORT).map_or(0, |p| p.ox_nxt)
    }

    /// oxtcp's ISN on the default port, once seen.
    pub fn ox_iss(&self) -> Option<u32> {
        self.peers.get(&PEER_PORT).and_then(|p| p.ox_iss)
    }

    /// Deliver a segment from the peer; oxtcp must have had nothing to send before it.
    #[track_caller]
    pub fn send(&mut self, s: Seg) {
        self.collect_tx();
        if let Some((_, pkt, _)) = self.outbox.front() {
            let out = self.describe(pkt);
            panic!(
                "oxtcp emitted an unexpected segment before this send: {out}\n{}",
                self.ladder()
            );
        }
        self.inject(s);
    }

    /// Deliver a segment from the peer without checking what oxtcp had pending.
    #[track_caller]
    pub fn inject(&mut self, s: Seg) {
        let pkt = self.datagram(s);
        self.stack.handle_packet(self.now, &pkt);
        self.sync();
    }

    /// Deliver a segment from the peer in a driver's buffer `buf_len` bytes long, which the
    /// stack may keep (`Stack::handle_packet_buffer`); returns the kept buffer's address if
    /// it did. A kept buffer is replaced by one of the same length, as the driver's next read
    /// needs.
    #[track_caller]
    pub fn inject_in_buffer(&mut self, s: Seg, buf_len: usize) -> Option<usize> {
        let pkt = self.datagram(s);
        let mut buf = vec![0u8; buf_len];
        buf[..pkt.len()].copy_from_slice(&pkt);
        let before = buf.as_ptr();
        self.stack
            .handle_packet_buffer(self.now, &mut buf, pkt.len(), Checksum::Computed);
        self.sync();
        assert_eq!(buf.len(), buf_len, "the driver's buffer keeps its length");
        if buf.as_ptr() == before {
            return None;
        }
        self.returned_buffers.push(buf.as_ptr() as usize);
        Some(before as usize)
    }

    /// Addresses of the buffers the stack handed back for kept ones, oldest first.
    pub fn returned_buffers(&self) -> &[usize] {
        &self.returned_buffers
    }

    /// The datagram for segment `s`, advancing the peer's next sequence number past it.
    fn datagram(&mut self, s: Seg) -> Vec<u8> {
        let port = s.port.unwrap_or(PEER_PORT);
        let payload = s.payload_for_send();
        let p = self.peer(port).clone();
        let seq_rel = s.seq.unwrap_or(p.nxt);
        let seq = s.seq_abs.unwrap_or(p.isn.wrapping_add(seq_rel));
        let ack = if let Some(a) = s.ack_abs {
            a
        } else if s.flags.ack() || s.ack.is_some() {
            let iss = p.ox_iss.expect("oxtcp's ISN is not known yet: use ack_abs");
            iss.wrapping_add(s.ack.unwrap_or(p.ox_nxt))
        } else {
            0
        };
        let mut options = s.options();
        let ox_iss = p.ox_iss.unwrap_or(0);
        for &(l, r) in s.sack.iter().flatten() {
            options.sack_blocks.push(SackBlock {
                left: ox_iss.wrapping_add(l),
                right: ox_iss.wrapping_add(r),
            });
        }
        let repr = TcpRepr {
            src_port: port,
            dst_port: OX_PORT,
            seq,
            ack,
            flags: s.flags,
            window: s.win.unwrap_or(PEER_WIN),
            urgent: 0,
            options,
        };
        let mut buf = vec![0u8; 100 + payload.len()];
        let n = emit_packet(&mut buf, peer_ip(), ox_ip(), 64, &repr, &[&payload]).unwrap();
        let seg_len = payload.len() + usize::from(s.flags.syn()) + usize::from(s.flags.fin());
        if s.seq_abs.is_none() && seg_len > 0 && !s.flags.rst() {
            let end = seq_rel
                .wrapping_add(payload.len() as u32)
                .wrapping_add(u32::from(s.flags.syn()) + u32::from(s.flags.fin()));
            let peer = self.peer(port);
            if (end.wrapping_sub(peer.nxt) as i32) > 0 {
                peer.nxt = end;
            }
        }
        buf.truncate(n);
        buf
    }

    /// Deliver raw bytes as a datagram.
    pub fn send_raw(&mut self, pkt: &[u8]) {
        self.stack.handle_packet(self.now, pkt);
        self.sync();
    }

    /// Build the datagram a template describes (for tests that corrupt it).
    pub fn build(&mut self, s: Seg) -> Vec<u8> {
        let port = s.port.unwrap_or(PEER_PORT);
        let payload = s.payload_for_send();
        let p = self.peer(port).clone();
        let seq = s
            .seq_abs
            .unwrap_or(p.isn.wrapping_add(s.seq.unwrap_or(p.nxt)));
        let ack = s.ack_abs.unwrap_or_else(|| {
            p.ox_iss
                .map_or(0, |i| i.wrapping_add(s.ack.unwrap_or(p.ox_nxt)))
        });
        let repr = TcpRepr {
            src_port: port,
            dst_port: OX_PORT,
            seq,
            ack,
            flags: s.flags,
            window: s.win.unwrap_or(PEER_WIN),
            urgent: 0,
            options: s.options(),
        };
        let mut buf = vec![0u8; 100 + payload.len()];
        let n = emit_packet(&mut buf, peer_ip(), ox_ip(), 64, &repr, &[&payload]).unwrap();
        buf.truncate(n);
        buf
    }

    fn collect_tx(&mut self) {
        while let Some(t) = self.stack.poll_transmit_segmented(self.now, &mut self.buf) {
            let pkt = self.buf[..t.len].to_vec();
            self.outbox.push_back((self.now, pkt, t.segment_size));
        }
        self.sync();
    }

    fn describe(&self, pkt: &[u8]) -> String {
        match parse_packet(pkt) {
            Ok(s) => {
                let p = self.peers.get(&s.tcp.dst_port);
                let iss = p.and_then(|p| p.ox_iss).unwrap_or(0);
                let isn = p.map_or(self.peer_isn, |p| p.isn);
                format!(
                    ":{} {} seq={} ack={} len={} win={}",
                    s.tcp.dst_port,
                    s.tcp.flags,
                    s.tcp.seq.wrapping_sub(iss),
                    s.tcp.ack.wrapping_sub(isn),
                    s.payload.len(),
                    s.tcp.window
                )
            }
            Err(e) => format!("unparsable datagram: {e}"),
        }
    }

    /// Take the next segment oxtcp emitted, if any, with relative numbers.
    pub fn next_out(&mut self) -> Option<Out> {
        self.collect_tx();
        let (time, mut pkt, segment_size) = self.outbox.pop_front()?;
        if segment_size.is_some() {
            // The device completes an offloaded segment's checksum from the pseudo-header's
            // sum the stack left in the field (virtio-net NEEDS_CSUM): do what it does.
            let start = if pkt[0] >> 4 == 4 { 20 } else { 40 };
            let sum = checksum::fold(checksum::sum(&pkt[start..]));
            pkt[start + 16..start + 18].copy_from_slice(&sum.to_be_bytes());
        }
        let s = parse_packet(&pkt).expect("oxtcp emitted an unparsable datagram");
        assert_eq!(s.ip.src(), ox_ip(), "source address");
        assert_eq!(s.ip.dst(), peer_ip(), "destination address");
        assert_eq!(s.tcp.src_port, OX_PORT, "source port");
        let port = s.tcp.dst_port;
        let peer = self.peer(port);
        if s.tcp.flags.syn() && peer.ox_iss.is_none() {
            peer.ox_iss = Some(s.tcp.seq);
        }
        let iss = peer.ox_iss.unwrap_or(0);
        let seq = s.tcp.seq.wrapping_sub(iss);
        let ack = s.tcp.ack.wrapping_sub(peer.isn);
        if peer.ox_iss.is_some() && !s.tcp.flags.rst() {
            let end = seq
                .wrapping_add(s.payload.len() as u32)
                .wrapping_add(u32::from(s.tcp.flags.syn()) + u32::from(s.tcp.flags.fin()));
            if (end.wrapping_sub(peer.ox_nxt) as i32) > 0 {
                peer.ox_nxt = end;
            }
        }
        Some(Out {
            time: time - Instant::ZERO,
            flags: s.tcp.flags,
            seq_raw: s.tcp.seq,
            ack_raw: s.tcp.ack,
            seq,
            ack,
            win: s.tcp.window,
            options: s.tcp.options,
            payload: s.payload.to_vec(),
            port,
            segment_size,
        })
    }

    /// oxtcp must emit exactly this segment next.
    #[track_caller]
    pub fn expect(&mut self, e: Seg) -> Out {
        let port = e.port.unwrap_or(PEER_PORT);
        let before = self.peer(port).clone();
        let Some(out) = self.next_out() else {
            panic!("expected {e:?}, oxtcp sent nothing\n{}", self.ladder());
        };
        let fail = |what: &str, ladder: String| -> ! {
            panic!("{what}\n  got: {out}\n  want: {e:?}\n{ladder}");
        };
        if out.port != port {
            fail("wrong destination port", self.ladder());
        }
        let mut got_flags = out.flags;
        let mut want_flags = e.flags;
        if e.psh.is_none() {
            got_flags.remove(TcpFlags::PSH);
            want_flags.remove(TcpFlags::PSH);
        } else if e.psh == Some(false) {
            want_flags.remove(TcpFlags::PSH);
        }
        if got_flags != want_flags {
            fail("flags differ", self.ladder());
        }
        // A first SYN has just taught us oxtcp's ISN; otherwise numbers without a known ISN
        // are raw.
        let want_seq = e.seq_abs.unwrap_or_else(|| {
            let rel = e.seq.unwrap_or(before.ox_nxt);
            self.peers[&port].ox_iss.unwrap_or(0).wrapping_add(rel)
        });
        if out.seq_raw != want_seq {
            fail("seq differs", self.ladder());
        }
        if e.flags.ack() {
            let want_ack = e
                .ack_abs
                .unwrap_or_else(|| before.isn.wrapping_add(e.ack.unwrap_or(before.nxt)));
            if out.ack_raw != want_ack {
                fail("ack differs", self.ladder());
            }
        }
        let want_len = e.data.as_ref().map(Vec::len).or(e.len).unwrap_or(0);
        if out.payload.len() != want_len {
            fail("payload length differs", self.ladder());
        }
        if let Some(d) = &e.data {
            if &out.payload != d {
                fail("payload bytes differ", self.ladder());
            }
        }
        if let Some(w) = e.win {
            if out.win != w {
                fail("window differs", self.ladder());
            }
        }
        if e.mss.is_some() && out.options.mss != e.mss {
            fail("MSS option differs", self.ladder());
        }
        if e.wscale.is_some_and(|w| out.options.window_scale != w) {
            fail("Window Scale option differs", self.ladder());
        }
        if let Some(ts) = e.ts {
            let got = out.options.timestamps.map(|t| (t.tsval, t.tsecr));
            if got != ts {
                fail("Timestamps option differs", self.ladder());
            }
        }
        if e.tsecr.is_some() && out.options.timestamps.map(|t| t.tsecr) != e.tsecr {
            fail("TSecr differs", self.ladder());
        }
        if e.sack_ok.is_some_and(|p| out.options.sack_permitted != p) {
            fail("SACK-Permitted differs", self.ladder());
        }
        if let Some(want) = &e.sack {
            if &out.sack_rel(before.isn) != want {
                fail("SACK blocks differ", self.ladder());
            }
        }
        out
    }

    /// oxtcp must emit nothing now.
    #[track_caller]
    pub fn expect_none(&mut self) {
        if let Some(out) = self.next_out() {
            panic!("expected silence, oxtcp sent {out}\n{}", self.ladder());
        }
    }

    /// Take whatever oxtcp has to send as raw datagrams, whatever their addresses (for
    /// corrupted input, which may name any port).
    pub fn drain_raw(&mut self) -> Vec<Vec<u8>> {
        self.collect_tx();
        self.outbox.drain(..).map(|(_, p, _)| p).collect()
    }

    /// Throw away whatever oxtcp has to send.
    pub fn drain(&mut self) -> Vec<Out> {
        let mut v = Vec::new();
        while let Some(o) = self.next_out() {
            v.push(o);
        }
        v
    }

    // ----- states and the trace -----

    fn sync(&mut self) {
        while let Some(e) = self.stack.poll_event() {
            self.events.push(e);
        }
    }

    /// State transitions recorded for the peer on `port`, oldest first.
    pub fn transitions_on(&self, port: u16) -> Vec<StateEvent> {
        self.events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::State(s) if s.tuple.remote.port() == port => Some(*s),
                _ => None,
            })
            .collect()
    }

    /// State transitions on the default port as (from, to).
    pub fn transitions(&self) -> Vec<(State, State)> {
        self.transitions_on(PEER_PORT)
            .iter()
            .map(|s| (s.from, s.to))
            .collect()
    }

    /// The state the trace last reported for the peer on `port`.
    pub fn traced_state_on(&self, port: u16) -> Option<State> {
        self.transitions_on(port).last().map(|s| s.to)
    }

    /// The connection on the default port is in `s`: by `state(id)` while the application
    /// holds it, and always by the trace (LISTEN with no transitions means the listener is
    /// there and nothing has arrived yet).
    #[track_caller]
    pub fn assert_state(&self, s: State) {
        self.assert_state_on(PEER_PORT, s);
    }

    #[track_caller]
    pub fn assert_state_on(&self, port: u16, s: State) {
        if port == PEER_PORT {
            if let Some(id) = self.conn {
                if let Some(held) = self.stack.state(id) {
                    assert_eq!(held, s, "state(id)\n{}", self.ladder());
                }
            }
        }
        match self.traced_state_on(port) {
            Some(traced) => assert_eq!(traced, s, "state in the trace\n{}", self.ladder()),
            None => {
                assert_eq!(s, State::Listen, "no transition traced\n{}", self.ladder());
                assert!(
                    self.listener
                        .and_then(|l| self.stack.listener_info(l))
                        .is_some(),
                    "LISTEN without a listener"
                );
            }
        }
    }

    /// The last transition traced on the default port.
    #[track_caller]
    pub fn assert_last_transition(&self, from: State, to: State, cause: Cause) {
        let t = self
            .transitions_on(PEER_PORT)
            .last()
            .copied()
            .unwrap_or_else(|| panic!("no transition\n{}", self.ladder()));
        assert_eq!(
            (t.from, t.to, t.cause),
            (from, to, cause),
            "last transition\n{}",
            self.ladder()
        );
    }

    /// A ladder of every segment and state change so far, for failure messages.
    pub fn ladder(&self) -> String {
        let mut s = String::from("trace:\n");
        for e in &self.events {
            let line = match &e.kind {
                EventKind::Segment(g) => {
                    let p = self.peers.get(&g.tuple.remote.port());
                    let iss = p.and_then(|p| p.ox_iss).unwrap_or(0);
                    let isn = p.map_or(self.peer_isn, |p| p.isn);
                    let (seq, ack) = match g.dir {
                        Dir::Tx => (g.seq.wrapping_sub(iss), g.ack.wrapping_sub(isn)),
                        _ => (g.seq.wrapping_sub(isn), g.ack.wrapping_sub(iss)),
                    };
                    let ack = if g.flags.ack() {
                        format!(" ack={ack}")
                    } else {
                        String::new()
                    };
                    format!(
                        "{:>5} :{} {} seq={}{} len={} win={}{}",
                        g.dir.as_str(),
                        g.tuple.remote.port(),
                        g.flags,
                        seq,
                        ack,
                        g.len,
                        g.win,
                        g.reason
                            .map(|r| format!(" ({})", r.as_str()))
                            .unwrap_or_default()
                    )
                }
                EventKind::State(st) => format!(
                    "state :{} {} -> {} ({}){}",
                    st.tuple.remote.port(),
                    st.from,
                    st.to,
                    st.cause.as_str(),
                    st.error.map(|e| format!(" error {e}")).unwrap_or_default()
                ),
                EventKind::Timer(tm) => format!("timer {} #{}", tm.timer.as_str(), tm.attempt),
                EventKind::Malformed(r) => format!("malformed ({})", r.as_str()),
            };
            s.push_str(&format!("  {:>12} {line}\n", e.time.to_string()));
        }
        s
    }
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        if let Some(out) = self.next_out() {
            panic!(
                "test ended with an unexpected segment pending: {out}\n{}",
                self.ladder()
            );
        }
    }
}

/// A harness whose connection on the default port is in `state`, reached through the API and
/// segments only, with the application still holding the handle (shutdown, not close) and
/// nothing pending. Passive except SYN-SENT and SYN-RECEIVED (simultaneous open), which are
/// active. Afterwards the peer's default seq is RCV.NXT and its default ack is SND.NXT.
pub fn in_state(state: State) -> Harness {
    in_state_with(state, |_| {})
}

pub fn in_state_with(state: State, f: impl FnOnce(&mut StackConfig)) -> Harness {
    let mut t = match state {
        State::SynSent | State::SynReceived => {
            let mut t = Harness::client_with(f);
            t.expect(seg().syn().seq(0));
            if state == State::SynReceived {
                t.send(seg().syn().seq(0));
                t.expect(seg().syn().ack().seq(0).ack_no(1));
            }
            t
        }
        State::Listen => Harness::server_with(8, f),
        _ => Harness::established_server_with(f),
    };
    match state {
        State::FinWait1 | State::FinWait2 | State::Closing | State::TimeWait => {
            t.app_shutdown();
            t.expect(seg().ack().fin().seq(1).ack_no(1));
            match state {
                State::FinWait2 => t.send(seg().ack().seq(1).ack_no(2)),
                State::Closing => {
                    t.send(seg().ack().fin().seq(1).ack_no(1));
                    // The ACK of the peer's FIN carries our FIN again.
                    t.expect(seg().ack().fin().seq(1).ack_no(2));
                }
                State::TimeWait => {
                    t.send(seg().ack().seq(1).ack_no(2));
                    t.send(seg().ack().fin().seq(1).ack_no(2));
                    t.expect(seg().ack().seq(2).ack_no(2));
                }
                _ => {}
            }
        }
        State::CloseWait | State::LastAck => {
            t.send(seg().ack().fin().seq(1).ack_no(1));
            t.expect(seg().ack().seq(1).ack_no(2));
            if state == State::LastAck {
                t.app_shutdown();
                t.expect(seg().ack().fin().seq(1).ack_no(2));
            }
        }
        _ => {}
    }
    t.expect_none();
    t.assert_state(state);
    t
}

/// The states `in_state` can reach with a connection.
pub const CONN_STATES: [State; 9] = [
    State::SynSent,
    State::SynReceived,
    State::Established,
    State::FinWait1,
    State::FinWait2,
    State::CloseWait,
    State::Closing,
    State::LastAck,
    State::TimeWait,
];

/// Two stacks back to back, for tests that need a real peer.
pub struct Pair {
    pub a: Stack,
    pub b: Stack,
    pub now: Instant,
}

impl Pair {
    pub fn new() -> Pair {
        Pair::with_addresses(PEER_IP, OX_IP)
    }

    /// Two stacks (seeds 1 and 2) owning `a_ip` and `b_ip`.
    pub fn with_addresses(a_ip: &str, b_ip: &str) -> Pair {
        Pair::configured(a_ip, b_ip, |_| {})
    }

    /// [`Pair::with_addresses`] with both stacks' configuration changed by `f`.
    pub fn configured(a_ip: &str, b_ip: &str, f: impl Fn(&mut StackConfig)) -> Pair {
        let mk = |seed, ip: &str| {
            let mut cfg = StackConfig {
                seed,
                trace: true,
                ..StackConfig::default()
            };
            f(&mut cfg);
            Stack::with_addresses(cfg, &[ip.parse().unwrap()])
        };
        Pair {
            a: mk(1, a_ip),
            b: mk(2, b_ip),
            now: Instant::ZERO,
        }
    }

    /// Everything each side has to send right now, without delivering it.
    pub fn take(&mut self) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let mut buf = vec![0u8; 2048];
        let mut from_a = Vec::new();
        while let Some(n) = self.a.poll_transmit(self.now, &mut buf) {
            from_a.push(buf[..n].to_vec());
        }
        let mut from_b = Vec::new();
        while let Some(n) = self.b.poll_transmit(self.now, &mut buf) {
            from_b.push(buf[..n].to_vec());
        }
        (from_a, from_b)
    }

    /// Deliver datagrams taken with `take`.
    pub fn deliver(&mut self, to_b: Vec<Vec<u8>>, to_a: Vec<Vec<u8>>) {
        for p in to_b {
            self.b.handle_packet(self.now, &p);
        }
        for p in to_a {
            self.a.handle_packet(self.now, &p);
        }
    }

    /// Exchange until both sides are quiet; returns how many datagrams moved.
    pub fn exchange(&mut self) -> usize {
        let mut moved = 0;
        for _ in 0..10_000 {
            let (x, y) = self.take();
            if x.is_empty() && y.is_empty() {
                return moved;
            }
            moved += x.len() + y.len();
            self.deliver(x, y);
        }
        panic!("exchange did not settle");
    }

    /// Fire both sides' timers at `now + d` and exchange.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
        self.exchange();
    }
}

impl Default for Pair {
    fn default() -> Self {
        Pair::new()
    }
}

/// The states a stack's trace went through for `conn`-less reading: (from, to) pairs in order.
pub fn state_path(s: &mut Stack) -> Vec<State> {
    let mut out = Vec::new();
    while let Some(e) = s.poll_event() {
        if let EventKind::State(st) = e.kind {
            if out.is_empty() {
                out.push(st.from);
            }
            out.push(st.to);
        }
    }
    out
}
