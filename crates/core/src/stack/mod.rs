//! The stack: one owner for every connection, listener and timer of a host, and the user
//! calls of RFC 9293 §3.10 over handles.
//!
//! Connections and half-open entries live in one slab of slots addressed by generational
//! handles; a keyed hash map from 4-tuple to slot demultiplexes each segment once, and one
//! timer wheel holds each slot's earliest deadline, so the cost of a segment or a timeout does
//! not grow with the number of connections. `input` is where segments enter, `output` the one
//! exit, `timers` the timeouts.

/// The context a connection handler is given: the stack's configuration, trace and ACK
/// limits, borrowed beside (not through) the slot the connection lives in.
macro_rules! ctx {
    ($stack:ident, $now:expr, $id:expr) => {
        Ctx {
            now: $now,
            cfg: &$stack.cfg,
            trace: &mut $stack.trace,
            id: $id,
            limits: &mut $stack.ack_limits,
            bufs: &mut $stack.bufs,
            predicted: &mut $stack.stats.predicted,
        }
    };
}

mod cookies;
mod ephemeral;
mod input;
mod limits;
pub use limits::EntrySizes;
mod output;
pub use output::{GatherSink, Transmit};
pub(crate) mod ratelimit;
mod time_wait;
mod time_wait_table;
mod timers;
mod tuple_table;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use oxtcp_wire::TcpOptions;

use crate::config::{KeepAlive, SocketOptions, StackConfig};
use crate::conn::{BufPool, ConnInfo, Connection, Ctx, RstReply, TxSegment};
use crate::cookie::CookieJar;
use crate::error::{
    AcceptError, CloseError, ConnectError, InvalidHandle, ListenError, RecvError, SendError,
};
use crate::event::{DropReason, Event, EventKind, StateEvent, Trace};
use crate::handle::{ConnId, ListenerId};
use crate::isn::{IsnGenerator, KeyedState};
use crate::listener::{HalfOpen, Listener, ListenerInfo};
use crate::seq::SeqNum;
use crate::state::State;
use crate::time::Instant;
use crate::timer::TimerWheel;
use crate::tuple::{FourTuple, V4Tuple, V6Tuple};
use ratelimit::AckLimits;
use time_wait_table::TimeWaitTable;
use tuple_table::TupleTable;

/// Stack-wide counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackStats {
    /// Datagrams handed to `handle_packet`.
    pub packets_in: u64,
    /// Datagrams produced by `poll_transmit`.
    pub packets_out: u64,
    /// RSTs sent for segments that matched no connection or listener.
    pub rst_sent: u64,
    /// Dropped segments by cause (`DropReason::as_str`).
    pub drops: BTreeMap<&'static str, u64>,
    /// Stateless replies discarded because the reply queue was full.
    pub replies_discarded: u64,
    /// Trace events discarded because nobody polled them.
    pub trace_overflow: u64,
    /// Challenge ACKs (RFC 5961) not sent because `challenge_ack_limit` was reached.
    pub challenge_acks_suppressed: u64,
    /// ACKs to unacceptable segments not sent because their connection had sent one less
    /// than `invalid_ack_interval` before.
    pub invalid_acks_suppressed: u64,
    /// Connections closed on entering TIME-WAIT because `max_time_wait` entries were held.
    pub time_wait_overflow: u64,
    /// TIME-WAIT entries an active OPEN took the 4-tuple over from
    /// (`StackConfig::connect_reuses_time_wait`).
    pub time_wait_taken_by_connect: u64,
    /// Datagrams handed over with `handle_packet_buffer` whose buffer a receive buffer kept
    /// for their bytes, instead of copying them.
    pub datagrams_kept: u64,
    /// Segments that header prediction handled (`StackConfig::header_prediction`): in
    /// ESTABLISHED, the next in-order data or an ACK of new data, with nothing else to do.
    pub predicted: u64,
}

impl StackStats {
    /// Dropped segments counted under `reason`.
    pub fn drops_for(&self, reason: DropReason) -> u64 {
        self.drops.get(reason.as_str()).copied().unwrap_or(0)
    }

    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        *self.drops.entry(reason.as_str()).or_insert(0) += 1;
    }
}

/// What the stack holds; all zero after every connection has ended and been released, except
/// `page_pool_bytes` and `buf_pool_bytes`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// Full connections (any state, including CLOSED ones the application still holds).
    pub connections: usize,
    /// Half-open entries in SYN queues.
    pub half_open: usize,
    /// Compact TIME-WAIT entries (released connections in TIME-WAIT).
    pub time_wait: usize,
    /// 4-tuples owned: connections, half-open and compact TIME-WAIT entries.
    pub tuples: usize,
    /// Armed timers (a compact TIME-WAIT entry's 2×MSL counts as one).
    pub timers: usize,
    /// Slots queued for transmission.
    pub tx_queue: usize,
    /// Stateless replies waiting to be sent.
    pub replies: usize,
    /// Listeners.
    pub listeners: usize,
    /// Buffer bytes charged against `StackConfig::memory_budget`.
    pub buffer_bytes: usize,
    /// Receive-buffer pages kept for reuse by the next buffer that needs one (at most 1 MiB;
    /// not charged to any connection).
    pub page_pool_bytes: usize,
    /// Other storage kept for reuse (receive-buffer page tables, send-buffer stores,
    /// TIME-WAIT boxes, emptied datagram buffers for `handle_packet_buffer`; bounded, not
    /// charged to any connection).
    pub buf_pool_bytes: usize,
}

#[derive(Debug)]
pub(crate) enum Entry {
    Vacant,
    // Every kind is boxed, so a slot costs the same small size whatever it holds (a
    // connection's slab of slots is mostly established connections).
    HalfOpen(Box<HalfOpen>),
    Conn(Box<Connection>),
}

#[derive(Debug)]
pub(crate) struct Slot {
    gen: u32,
    /// Buffer bytes a full connection here counts against `StackConfig::memory_budget`.
    charged: u32,
    entry: Entry,
}

/// A segment sent from no connection's state: the stateless exit.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    /// An RST answering a segment that matched nothing, or an aborted connection's.
    Rst {
        tuple: FourTuple,
        rst: RstReply,
        reason: DropReason,
    },
    /// The ACK of a compact TIME-WAIT entry, which has no slot to send from.
    TimeWaitAck {
        tuple: FourTuple,
        conn: ConnId,
        seg: TxSegment,
    },
    /// A SYN-ACK whose ISS is a SYN cookie: the listener keeps nothing for it.
    SynCookie {
        tuple: FourTuple,
        iss: SeqNum,
        ack: SeqNum,
        window: u16,
        options: TcpOptions,
    },
}

/// Mixed into the seed for the SYN-cookie key's RNG.
const COOKIE_SEED: u64 = 0x636f_6f6b_6965;

/// Most stateless replies queued before further ones are discarded.
const MAX_REPLIES: usize = 1024;

/// A TCP/IP host: connections, listeners, timers and the trace, driven by `handle_*` and
/// drained by `poll_*`.
pub struct Stack {
    cfg: StackConfig,
    addrs: Vec<IpAddr>,
    rng: ChaCha8Rng,
    isn: IsnGenerator,
    /// SYN cookies' key (its own RNG stream, so adding it changed no other draw).
    cookies: CookieJar,
    port_key: KeyedState,
    next_port: u32,
    slots: Vec<Slot>,
    free: Vec<u32>,
    by_tuple: TupleTable,
    /// Released connections in TIME-WAIT, packed, by address family.
    tw4: TimeWaitTable<V4Tuple>,
    tw6: TimeWaitTable<V6Tuple>,
    listeners: Vec<(u32, Option<Listener>)>,
    listener_by_port: HashMap<u16, u32, KeyedState>,
    timers: TimerWheel,
    expired: Vec<u32>,
    tx_queue: VecDeque<u32>,
    /// Bit `i` is set while slot `i` is in `tx_queue` (a bit here rather than a flag in each
    /// slot keeps the slot at 24 bytes).
    tx_queued: Vec<u64>,
    replies: VecDeque<Reply>,
    trace: Trace,
    stats: StackStats,
    ack_limits: AckLimits,
    /// Buffer storage released by emptied buffers, for reuse.
    bufs: BufPool,
    usage: limits::Usage,
    now: Instant,
}

impl Stack {
    /// A stack with no addresses yet; its randomness comes from `cfg.seed`.
    pub fn new(cfg: StackConfig) -> Stack {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let isn = IsnGenerator::new(&mut rng, cfg.fixed_iss);
        let port_key = KeyedState::new(&mut rng);
        let next_port = rng.next_u32();
        let map_key = KeyedState::new(&mut rng);
        let cookies = CookieJar::new(&mut ChaCha8Rng::seed_from_u64(cfg.seed ^ COOKIE_SEED));
        Stack {
            trace: Trace::new(cfg.trace, cfg.trace_capacity),
            timers: TimerWheel::new(Instant::ZERO, cfg.timer_tick),
            cfg,
            addrs: Vec::new(),
            rng,
            isn,
            cookies,
            port_key,
            next_port,
            slots: Vec::new(),
            free: Vec::new(),
            by_tuple: TupleTable::new(map_key.clone()),
            tw4: TimeWaitTable::new(map_key.clone()),
            tw6: TimeWaitTable::new(map_key.clone()),
            listeners: Vec::new(),
            listener_by_port: HashMap::with_hasher(map_key),
            expired: Vec::new(),
            tx_queue: VecDeque::new(),
            tx_queued: Vec::new(),
            replies: VecDeque::new(),
            stats: StackStats::default(),
            ack_limits: AckLimits::new(),
            bufs: BufPool::default(),
            usage: limits::Usage::default(),
            now: Instant::ZERO,
        }
    }

    /// A stack owning `addrs`.
    pub fn with_addresses(cfg: StackConfig, addrs: &[IpAddr]) -> Stack {
        let mut s = Stack::new(cfg);
        for a in addrs {
            s.add_address(*a);
        }
        s
    }

    /// Make `addr` one of this host's addresses.
    pub fn add_address(&mut self, addr: IpAddr) {
        if !self.addrs.contains(&addr) {
            self.addrs.push(addr);
        }
    }

    /// This host's addresses.
    pub fn addresses(&self) -> &[IpAddr] {
        &self.addrs
    }

    /// The configuration.
    pub fn config(&self) -> &StackConfig {
        &self.cfg
    }

    /// Change the configuration of a running stack (a `sysctl -w`). Policies, buffer sizes
    /// and timeouts apply to segments and connections from now on; `seed`, `timer_tick`,
    /// `trace` and `trace_capacity` are fixed at creation and keep their old values.
    pub fn set_config(&mut self, mut cfg: StackConfig) {
        cfg.seed = self.cfg.seed;
        cfg.timer_tick = self.cfg.timer_tick;
        cfg.trace = self.cfg.trace;
        cfg.trace_capacity = self.cfg.trace_capacity;
        self.cfg = cfg;
    }

    /// Stack-wide counters.
    pub fn stats(&self) -> StackStats {
        StackStats {
            trace_overflow: self.trace.overflowed,
            challenge_acks_suppressed: self.ack_limits.challenge_suppressed,
            invalid_acks_suppressed: self.ack_limits.invalid_suppressed,
            ..self.stats.clone()
        }
    }

    /// Whether `poll_transmit` may have a segment to hand out: a stateless reply, or a
    /// connection offered the transmit queue (which may still find nothing to send). False
    /// means it surely has none, so a runtime need not be woken to drain it.
    pub fn has_output(&self) -> bool {
        !self.replies.is_empty() || !self.tx_queue.is_empty()
    }

    /// Whether `poll_event` has an event to give.
    pub fn has_events(&self) -> bool {
        !self.trace.is_empty()
    }

    /// Next trace event, oldest first.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.trace.pop()
    }

    /// Draw from the stack's RNG (for applications in simulations that want seeded choices).
    pub fn random_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// What the stack holds right now.
    pub fn resources(&self) -> Resources {
        let time_wait = self.tw4.len() + self.tw6.len();
        let mut r = Resources {
            time_wait,
            tuples: self.by_tuple.len() + time_wait,
            timers: self.timers.len() + time_wait,
            tx_queue: self.tx_queue.len(),
            replies: self.replies.len(),
            listeners: self.listeners.iter().filter(|l| l.1.is_some()).count(),
            buffer_bytes: self.usage.buffer_bytes,
            page_pool_bytes: self.bufs.page_bytes(),
            buf_pool_bytes: self.bufs.spare_bytes(),
            ..Resources::default()
        };
        for s in &self.slots {
            match s.entry {
                Entry::Vacant => {}
                Entry::HalfOpen(_) => r.half_open += 1,
                Entry::Conn(_) => r.connections += 1,
            }
        }
        r
    }

    // ----- passive OPEN -----

    /// Passive OPEN: listen on `local` (port must be non-zero; the address may be unspecified)
    /// with `backlog` bounding both the SYN queue and the accept queue.
    pub fn listen(&mut self, local: SocketAddr, backlog: usize) -> Result<ListenerId, ListenError> {
        self.listen_with(local, backlog, SocketOptions::default())
    }

    /// Passive OPEN with per-socket options, which the listener's connections inherit.
    pub fn listen_with(
        &mut self,
        local: SocketAddr,
        backlog: usize,
        opts: SocketOptions,
    ) -> Result<ListenerId, ListenError> {
        if local.port() == 0 || backlog == 0 {
            return Err(ListenError::InvalidArgument);
        }
        if !local.ip().is_unspecified() && !self.addrs.contains(&local.ip()) {
            return Err(ListenError::AddrNotAvailable);
        }
        if self.listener_by_port.contains_key(&local.port()) {
            return Err(ListenError::AddrInUse);
        }
        let index = match self.listeners.iter().position(|l| l.1.is_none()) {
            Some(i) => i,
            None => {
                self.listeners.push((0, None));
                self.listeners.len() - 1
            }
        };
        let slot = &mut self.listeners[index];
        slot.0 = slot.0.wrapping_add(1);
        slot.1 = Some(Listener::new(local, backlog, opts));
        self.listener_by_port.insert(local.port(), index as u32);
        Ok(ListenerId {
            index: index as u32,
            gen: slot.0,
        })
    }

    /// The socket options of the listener in slot `index` (defaults if it is gone).
    pub(crate) fn listener_opts(&self, index: u32) -> SocketOptions {
        match self.listeners.get(index as usize) {
            Some((_, Some(l))) => l.opts,
            _ => SocketOptions::default(),
        }
    }

    fn listener_mut(&mut self, id: ListenerId) -> Result<&mut Listener, InvalidHandle> {
        match self.listeners.get_mut(id.index as usize) {
            Some((gen, Some(l))) if *gen == id.gen => Ok(l),
            _ => Err(InvalidHandle),
        }
    }

    /// A snapshot of a listener and its queues.
    pub fn listener_info(&self, id: ListenerId) -> Option<ListenerInfo> {
        match self.listeners.get(id.index as usize) {
            Some((gen, Some(l))) if *gen == id.gen => Some(l.info()),
            _ => None,
        }
    }

    /// Snapshots of every listener, for `ss`.
    pub fn listeners(&self) -> impl Iterator<Item = ListenerInfo> + '_ {
        self.listeners
            .iter()
            .filter_map(|(_, l)| l.as_ref().map(Listener::info))
    }

    /// Take the oldest established connection from the accept queue (lifecycle Q4, S1).
    pub fn accept(&mut self, id: ListenerId) -> Result<ConnId, AcceptError> {
        let l = self.listener_mut(id)?;
        let conn = l.accept_queue.pop_front().ok_or(AcceptError::WouldBlock)?;
        if let Some(c) = self.conn_mut(conn) {
            c.accepted = true;
        }
        Ok(conn)
    }

    /// Stop listening. Half-open entries are dropped; connections never accepted are reset,
    /// as Linux does, since no application will ever read them.
    pub fn close_listener(&mut self, now: Instant, id: ListenerId) -> Result<(), InvalidHandle> {
        self.advance(now);
        let l = self.listener_mut(id)?;
        let port = l.local.port();
        let queued: Vec<ConnId> = l.accept_queue.drain(..).collect();
        self.listeners[id.index as usize].1 = None;
        self.listener_by_port.remove(&port);
        for c in queued {
            let _ = self.abort(now, c);
        }
        let half_open: Vec<u32> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(&s.entry, Entry::HalfOpen(h) if h.listener == id.index))
            .map(|(i, _)| i as u32)
            .collect();
        for i in half_open {
            self.remove_half_open(i, crate::event::Cause::ListenerClosed, false);
        }
        Ok(())
    }

    // ----- active OPEN -----

    /// Active OPEN to `remote` from this host's first address of the same family and an
    /// ephemeral port (lifecycle S2).
    pub fn connect(&mut self, now: Instant, remote: SocketAddr) -> Result<ConnId, ConnectError> {
        let local_ip = self
            .addrs
            .iter()
            .copied()
            .find(|a| a.is_ipv4() == remote.is_ipv4())
            .ok_or(ConnectError::AddrNotAvailable)?;
        self.connect_from(now, SocketAddr::new(local_ip, 0), remote)
    }

    /// Active OPEN from `local` (port 0 picks an ephemeral port) to `remote`.
    pub fn connect_from(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<ConnId, ConnectError> {
        self.connect_with(now, local, remote, SocketOptions::default())
    }

    /// Active OPEN with per-socket options (buffer sizes, MSS clamp).
    pub fn connect_with(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        opts: SocketOptions,
    ) -> Result<ConnId, ConnectError> {
        self.advance(now);
        if remote.port() == 0 || remote.ip().is_unspecified() {
            return Err(ConnectError::InvalidArgument);
        }
        if !self.addrs.contains(&local.ip()) || local.is_ipv4() != remote.is_ipv4() {
            return Err(ConnectError::AddrNotAvailable);
        }
        let end = if local.port() == 0 {
            self.ephemeral_tuple(local.ip(), remote)?
        } else {
            self.local_end(FourTuple { local, remote })
                .ok_or(ConnectError::AddrInUse)?
        };
        let tuple = end.tuple;
        let charge = self.buffer_charge(&opts);
        if self.admit_connection(charge).is_err() {
            // The caller hears of it; `drops` counts segments only.
            return Err(ConnectError::ResourceLimit);
        }
        // RFC 7323 §7.1: an offset per connection keeps the TSval clock from telling one
        // connection's peer about another's; per 4-tuple, so that RFC 6191 works.
        let (mut iss, ts_offset) = self.isn.isn_and_ts_offset(now, &tuple);
        if let Some((at, after_old)) = end.takes_over {
            let ended = crate::conn::Ended {
                cause: crate::event::Cause::TimeWaitTakenByConnect,
                error: None,
            };
            self.end_time_wait_entry(at, ended);
            self.stats.time_wait_taken_by_connect += 1;
            iss = after_old;
        }
        let index = self.alloc_slot();
        let id = self.conn_id(index);
        let mut ctx = ctx!(self, now, id);
        let conn = Connection::connect(&mut ctx, opts, tuple, iss, ts_offset);
        self.slots[index as usize].entry = Entry::Conn(Box::new(conn));
        self.count_entry(index, charge);
        self.by_tuple.insert(&tuple, index, &self.slots);
        self.after_activity(index);
        Ok(id)
    }

    // ----- calls on a connection -----

    fn conn_id(&self, index: u32) -> ConnId {
        ConnId {
            index,
            gen: self.slots[index as usize].gen,
        }
    }

    fn slot_of(&self, id: ConnId) -> Option<&Slot> {
        self.slots
            .get(id.index as usize)
            .filter(|s| s.gen == id.gen)
    }

    fn conn_mut(&mut self, id: ConnId) -> Option<&mut Connection> {
        held_conn(&mut self.slots, id)
    }

    /// The connection behind a handle the application holds.
    pub fn conn(&self, id: ConnId) -> Option<&Connection> {
        match self.slot_of(id).map(|s| &s.entry) {
            Some(Entry::Conn(c)) if !c.is_released() => Some(c),
            _ => None,
        }
    }

    /// Current state of a connection the application holds.
    pub fn state(&self, id: ConnId) -> Option<State> {
        self.conn(id).map(|c| c.state())
    }

    /// A snapshot of a connection the application holds.
    pub fn info(&self, id: ConnId) -> Option<ConnInfo> {
        self.conn(id).map(|c| c.info_at(self.now))
    }

    /// SO_KEEPALIVE on a live connection (RFC 9293 §3.8.4): `Some` turns keep-alive on (its
    /// `None` fields come from the stack's configuration) and starts the idle period at
    /// `now`; `None` turns it off.
    pub fn set_keepalive(
        &mut self,
        now: Instant,
        id: ConnId,
        keepalive: Option<KeepAlive>,
    ) -> Result<(), InvalidHandle> {
        self.advance(now);
        self.conn_mut(id)
            .ok_or(InvalidHandle)?
            .set_keepalive(now, keepalive);
        self.after_activity(id.index);
        Ok(())
    }

    /// TCP_NODELAY on a live connection: `true` turns Nagle's algorithm (RFC 9293 §3.7.4) off,
    /// so small segments go at once; held data goes on the next poll.
    pub fn set_nodelay(&mut self, now: Instant, id: ConnId, on: bool) -> Result<(), InvalidHandle> {
        self.advance(now);
        self.conn_mut(id).ok_or(InvalidHandle)?.set_nodelay(on);
        self.after_activity(id.index);
        Ok(())
    }

    /// Every connection in the stack, including released ones still closing and half-open
    /// entries (shown in SYN-RECEIVED), for `ss`. A released connection that reaches
    /// TIME-WAIT moves to the TIME-WAIT table and is listed under a new id from then on.
    pub fn connections(&self) -> impl Iterator<Item = (ConnId, State, FourTuple)> + '_ {
        let slots = self.slots.iter().enumerate().filter_map(|(i, s)| {
            let id = ConnId {
                index: i as u32,
                gen: s.gen,
            };
            match &s.entry {
                Entry::Vacant => None,
                Entry::HalfOpen(h) => Some((id, State::SynReceived, h.tuple())),
                Entry::Conn(c) => Some((id, c.state(), c.tuple())),
            }
        });
        slots.chain(self.time_wait_entries())
    }

    /// A snapshot of any connection in the stack, held or released. A released connection in
    /// TIME-WAIT is a compact entry, named by the id `connections` lists for it (not the
    /// handle the application released): only its 4-tuple and state are kept, and the rest
    /// reads zero.
    pub fn info_any(&self, id: ConnId) -> Option<ConnInfo> {
        if let Some(at) = self.time_wait_at_id(id) {
            return self.time_wait_unpack(at).map(|tw| tw.info());
        }
        match self.slot_of(id).map(|s| &s.entry) {
            Some(Entry::Conn(c)) => Some(c.info_at(self.now)),
            _ => None,
        }
    }

    /// SEND: queue bytes; returns how many the send buffer took.
    pub fn send(&mut self, id: ConnId, data: &[u8]) -> Result<usize, SendError> {
        // The slots and the buffer pool are borrowed apart.
        let conn = held_conn(&mut self.slots, id).ok_or(InvalidHandle)?;
        let n = conn.send(data, &mut self.bufs)?;
        self.after_activity(id.index);
        Ok(n)
    }

    /// RECEIVE: copy readable bytes; `Ok(0)` is end of stream.
    pub fn recv(&mut self, id: ConnId, buf: &mut [u8]) -> Result<usize, RecvError> {
        // The slots and the buffer pool are borrowed apart.
        let conn = held_conn(&mut self.slots, id).ok_or(InvalidHandle)?;
        let r = conn.recv(buf, &mut self.bufs);
        self.after_activity(id.index);
        r
    }

    /// RECEIVE in place, without a copy: shows up to `max` readable bytes to `f` where they
    /// lie (the datagram buffer they arrived in, or the receive ring), oldest first, as one or
    /// more contiguous runs, and counts every byte shown as read; returns how many. Otherwise
    /// as [`Stack::recv`]: `Ok(0)` is end of stream (or `max` of 0), and with nothing to read
    /// `f` is not called. For an application that looks at the bytes where they are (parses,
    /// checks or hashes them) instead of keeping them; smoltcp's `recv` closure is the like.
    /// Each run is counted read before `f` sees it: if `f` panics, the runs it was shown are
    /// read, the rest stay readable, and the stack stays consistent (a window update the
    /// read earned waits for the next call).
    pub fn recv_with(
        &mut self,
        id: ConnId,
        max: usize,
        f: impl FnMut(&[u8]),
    ) -> Result<usize, RecvError> {
        let conn = held_conn(&mut self.slots, id).ok_or(InvalidHandle)?;
        let r = conn.recv_with(max, &mut self.bufs, f);
        self.after_activity(id.index);
        r
    }

    /// CLOSE of the write side only (shutdown(SHUT_WR)): a FIN follows the queued data; the
    /// connection can still receive.
    pub fn shutdown(&mut self, now: Instant, id: ConnId) -> Result<(), CloseError> {
        self.advance(now);
        let r = self.with_conn(now, id, |c, ctx| c.shutdown(ctx))?;
        self.after_activity(id.index);
        r
    }

    /// CLOSE and release the handle: the closing handshake goes on without the application.
    /// If it ends in TIME-WAIT, the stack keeps a compact entry under an id of its own
    /// (`connections`); `id` names nothing from then on.
    pub fn close(&mut self, now: Instant, id: ConnId) -> Result<(), InvalidHandle> {
        self.advance(now);
        let rst = self.with_conn(now, id, |c, ctx| c.close(ctx))?;
        self.finish_user_call(id, rst);
        Ok(())
    }

    /// ABORT: reset the connection and release the handle (lifecycle C10).
    pub fn abort(&mut self, now: Instant, id: ConnId) -> Result<(), InvalidHandle> {
        self.advance(now);
        let rst = self.with_conn(now, id, |c, ctx| c.abort(ctx))?;
        self.finish_user_call(id, rst);
        Ok(())
    }

    /// End any connection in the stack, held or released, as an administrator would
    /// (`tcpdrop`, `ss -K`): ABORT semantics, so synchronized states send an RST and
    /// TIME-WAIT ends silently. A handle the application holds stays valid and reads CLOSED
    /// with the error `Aborted`.
    pub fn kill(&mut self, now: Instant, id: ConnId) -> Result<(), InvalidHandle> {
        self.advance(now);
        if let Some(at) = self.time_wait_at_id(id) {
            let ended = crate::conn::Ended {
                cause: crate::event::Cause::Abort,
                error: None,
            };
            self.end_time_wait_entry(at, ended);
            return Ok(());
        }
        let slot = match self.slots.get_mut(id.index as usize) {
            Some(s) if s.gen == id.gen => s,
            _ => return Err(InvalidHandle),
        };
        let c = match &mut slot.entry {
            Entry::Conn(c) => c,
            Entry::HalfOpen(_) => {
                self.remove_half_open(id.index, crate::event::Cause::Abort, false);
                return Ok(());
            }
            Entry::Vacant => return Err(InvalidHandle),
        };
        let mut ctx = ctx!(self, now, id);
        let rst = c.kill(&mut ctx);
        self.finish_user_call(id, rst);
        Ok(())
    }

    fn finish_user_call(&mut self, id: ConnId, rst: Option<RstReply>) {
        if let (Some(rst), Some(Entry::Conn(c))) =
            (rst, self.slots.get(id.index as usize).map(|s| &s.entry))
        {
            let tuple = c.tuple();
            self.queue_reply(Reply::Rst {
                tuple,
                rst,
                reason: DropReason::Closed,
            });
        }
        self.after_activity(id.index);
    }

    fn with_conn<R>(
        &mut self,
        now: Instant,
        id: ConnId,
        f: impl FnOnce(&mut Connection, &mut Ctx<'_>) -> R,
    ) -> Result<R, InvalidHandle> {
        let slot = match self.slots.get_mut(id.index as usize) {
            Some(s) if s.gen == id.gen => s,
            _ => return Err(InvalidHandle),
        };
        let Entry::Conn(c) = &mut slot.entry else {
            return Err(InvalidHandle);
        };
        if c.is_released() {
            return Err(InvalidHandle);
        }
        let mut ctx = ctx!(self, now, id);
        Ok(f(c, &mut ctx))
    }

    /// Check every connection's invariants and the stack's own bookkeeping (the 4-tuple
    /// table and the timer wheel agree with the slots), for fuzzers and tests. The message
    /// names the first broken rule and the connection.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        for (i, s) in self.slots.iter().enumerate() {
            let index = i as u32;
            match &s.entry {
                Entry::Vacant => {
                    if self.timers.deadline(index).is_some() {
                        return Err(format!("slot {i}: vacant with a timer armed"));
                    }
                }
                Entry::HalfOpen(h) => {
                    if self.owner(&h.tuple()) != Some(index) {
                        return Err(format!("slot {i}: half-open entry missing from the table"));
                    }
                    if self.timers.deadline(index).is_none() {
                        return Err(format!(
                            "slot {i}: half-open entry without its SYN-ACK timer"
                        ));
                    }
                }
                Entry::Conn(c) => {
                    c.check_invariants(&self.cfg)
                        .map_err(|e| format!("slot {i} {}: {e}", c.tuple().remote))?;
                    let listed = self.owner(&c.tuple()) == Some(index);
                    if c.state() != State::Closed && !listed {
                        return Err(format!("slot {i}: {} but not in the table", c.state()));
                    }
                    if c.state() == State::Closed && listed {
                        return Err(format!("slot {i}: CLOSED but still owns its 4-tuple"));
                    }
                    let want = c.next_deadline(&self.cfg);
                    let have = self.timers.deadline(index);
                    if want != have {
                        return Err(format!(
                            "slot {i}: {}: timer wheel holds {have:?}, connection wants {want:?}",
                            c.state()
                        ));
                    }
                }
            }
        }
        for i in self.by_tuple.indices() {
            let owns = self
                .slots
                .get(i as usize)
                .and_then(tuple_table::slot_tuple)
                .is_some_and(|t| self.owner(&t) == Some(i));
            if !owns {
                return Err(format!("table entry for slot {i} is stale"));
            }
        }
        // A lookup that hits the slot found last must agree with the table.
        if let Some(i) = self.by_tuple.last() {
            let cached = self.slots.get(i as usize).and_then(tuple_table::slot_tuple);
            if cached.is_some_and(|t| self.owner(&t) != Some(i)) {
                return Err(format!("slot {i}, found last, no longer owns its 4-tuple"));
            }
        }
        self.check_time_wait_tables()
    }

    // ----- slots -----

    fn alloc_slot(&mut self) -> u32 {
        if let Some(i) = self.free.pop() {
            let s = &mut self.slots[i as usize];
            s.gen = s.gen.wrapping_add(1);
            return i;
        }
        // Slab indices stay below the ids of TIME-WAIT table entries.
        assert!(
            self.slots.len() < time_wait_table::TW_ID_BIT as usize,
            "slab full"
        );
        self.slots.push(Slot {
            gen: 1,
            charged: 0,
            entry: Entry::Vacant,
        });
        (self.slots.len() - 1) as u32
    }

    fn free_slot(&mut self, index: u32) {
        self.uncount_entry(index);
        let Some(tuple) = tuple_table::slot_tuple(&self.slots[index as usize]) else {
            return;
        };
        self.slots[index as usize].entry = Entry::Vacant;
        self.by_tuple.remove(&tuple, index);
        self.timers.cancel(index);
        if !self.tx_queued(index) {
            self.free.push(index);
        }
        // A slot still in the transmit queue is put on the free list when the queue drops it.
    }

    /// Bookkeeping after anything touched a slot: its timer, the transmit queue, and cleanup
    /// of a connection that has reached CLOSED; a released connection in TIME-WAIT leaves
    /// its slot for the TIME-WAIT table first (`compact_time_wait`).
    fn after_activity(&mut self, index: u32) {
        self.settle_slot::<true>(index);
    }

    /// `after_activity`, with the move to the TIME-WAIT table looked for only if `COMPACT`:
    /// the slot is looked up once, and the rare move is followed by the rest of the
    /// bookkeeping for whatever it leaves in the slot (nothing, or a connection that could
    /// not move).
    #[inline(always)]
    fn settle_slot<const COMPACT: bool>(&mut self, index: u32) {
        let now = self.now;
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return;
        };
        let (deadline, closed, quiet) = match &mut slot.entry {
            Entry::Vacant => return,
            // The wheel alone holds a half-open entry's deadline.
            Entry::HalfOpen(_) => (self.timers.deadline(index), false, false),
            Entry::Conn(c) => {
                if COMPACT && time_wait::leaves_for_time_wait_table(c) {
                    self.compact_time_wait(index);
                    return self.settle_slot::<false>(index);
                }
                // A connection that surely has nothing to send is not polled for it; a
                // finished one still is, as that is where it is reaped.
                let quiet = c.is_quiet() && !c.is_reapable();
                if quiet {
                    c.note_quiet(now);
                }
                let closed = c.state() == State::Closed;
                (c.next_deadline(&self.cfg), closed, quiet)
            }
        };
        // Every other touched slot is offered the transmit queue; that is also where a
        // finished connection is reaped, after it has sent its last segment.
        if !quiet {
            self.offer_tx(index);
        }
        self.sync_timer(index, deadline);
        if closed {
            // A CLOSED connection no longer owns its 4-tuple: later segments get RST.
            if let Entry::Conn(c) = &self.slots[index as usize].entry {
                let tuple = c.tuple();
                self.by_tuple.remove(&tuple, index);
            }
        }
    }

    /// Make the wheel hold `deadline` for the slot.
    fn sync_timer(&mut self, index: u32, deadline: Option<Instant>) {
        match deadline {
            Some(d) if self.timers.deadline(index) != Some(d) => self.timers.schedule(index, d),
            Some(_) => {}
            None => self.timers.cancel(index),
        }
    }

    fn remove_half_open(&mut self, index: u32, cause: crate::event::Cause, reset: bool) {
        let Entry::HalfOpen(h) = &self.slots[index as usize].entry else {
            return;
        };
        let (listener, tuple) = (h.listener, h.tuple());
        if let Some((_, Some(l))) = self.listeners.get_mut(listener as usize) {
            l.syn_queue = l.syn_queue.saturating_sub(1);
            if reset {
                l.stats.half_open_reset += 1;
            } else if cause == crate::event::Cause::RetriesExhausted {
                l.stats.half_open_expired += 1;
            }
        }
        let id = self.conn_id(index);
        // Back to LISTEN for an RST (RFC 9293 §3.10.7.4); otherwise the entry is gone.
        let to = if reset { State::Listen } else { State::Closed };
        self.trace.push(
            self.now,
            EventKind::State(StateEvent {
                tuple,
                conn: Some(id),
                from: State::SynReceived,
                to,
                cause,
                error: None,
            }),
        );
        self.free_slot(index);
    }

    fn tx_queued(&self, index: u32) -> bool {
        let i = index as usize;
        self.tx_queued
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Put the slot in the transmit queue unless it is there already.
    fn offer_tx(&mut self, index: u32) {
        let i = index as usize;
        if self.tx_queued.len() <= i / 64 {
            self.tx_queued.resize(i / 64 + 1, 0);
        }
        let bit = 1u64 << (i % 64);
        if let Some(w) = self.tx_queued.get_mut(i / 64).filter(|w| **w & bit == 0) {
            *w |= bit;
            self.tx_queue.push_back(index);
        }
    }

    /// Take the slot's mark as in the transmit queue off (the queue has dropped it).
    fn clear_tx_queued(&mut self, index: u32) {
        let i = index as usize;
        if let Some(w) = self.tx_queued.get_mut(i / 64) {
            *w &= !(1u64 << (i % 64));
        }
    }

    /// The slot that owns `tuple` in the 4-tuple table.
    fn owner(&self, tuple: &FourTuple) -> Option<u32> {
        self.by_tuple
            .get(self.by_tuple.hash(tuple), tuple, &self.slots)
    }

    fn queue_reply(&mut self, reply: Reply) {
        if self.replies.len() >= MAX_REPLIES {
            self.stats.replies_discarded += 1;
            return;
        }
        self.replies.push_back(reply);
    }

    /// Move the stack's notion of now forward (never back).
    fn advance(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }
}

/// The connection behind a handle the application holds, in `slots`.
fn held_conn(slots: &mut [Slot], id: ConnId) -> Option<&mut Connection> {
    match slots.get_mut(id.index as usize) {
        Some(Slot {
            gen,
            entry: Entry::Conn(c),
            ..
        }) if *gen == id.gen && !c.is_released() => Some(c),
        _ => None,
    }
}
