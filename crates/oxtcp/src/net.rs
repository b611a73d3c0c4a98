//! The runtime: one thread drives one stack over one device.
//!
//! Each turn of the thread reads every waiting datagram into the stack, fires due timers,
//! drains the stack's transmissions into the device, flushes the device, and then wakes the
//! sockets waiting on the stack (a condition variable for blocking callers, wakers for tokio
//! tasks). It then sleeps in poll(2) on the device's descriptor and an eventfd, until the
//! earlier of the stack's and the device's deadlines. A socket call that changes the stack
//! signals the eventfd so what it queued leaves without waiting for a timer; an idle stack
//! sleeps until its next timer with no polling in between.

use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::Waker;
#[cfg(feature = "tokio")]
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant as StdInstant};

use oxtcp_core::{
    Checksum, ConnInfo, Event, Instant, ListenerInfo, Stack, StackConfig, StackStats, State,
};

use crate::device::Device;
use crate::sys::{wait_readable, EventFd};

/// A callback that receives every trace event of the stack, on the runtime thread.
pub type EventSink = Box<dyn FnMut(&Event) + Send>;

/// Datagrams read per turn before the turn transmits; bounds the latency of our own output.
const RX_BATCH: usize = 256;

const RUN: u8 = 0;
const LINGER: u8 = 1;
const STOP: u8 = 2;

/// Counters of the runtime and its stack.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Turns of the runtime loop.
    pub turns: u64,
    /// Datagrams read from the device.
    pub packets_in: u64,
    /// Datagrams handed to the device.
    pub packets_out: u64,
    /// Datagrams the device refused.
    pub send_errors: u64,
    /// The stack's own counters.
    pub stack: StackStats,
}

pub(crate) struct Inner {
    pub(crate) stack: Stack,
    wakers: Vec<Waker>,
    /// Why the runtime stopped, once it has.
    failed: Option<String>,
    stats: NetStats,
    /// The stack deadline the runtime sleeps until after its last turn (None: no timer).
    sleeps_until: Option<Instant>,
    /// Whether the runtime hands the stack's events to a sink each turn.
    drains_events: bool,
    /// Threads asleep on `Shared::cond` (`Shared::wait`). A turn wakes them only if there
    /// are some: `Condvar::notify_all` is a futex syscall even when no one waits.
    sleepers: u32,
}

impl Inner {
    /// Whether the runtime must take a turn now for what a call just did to the stack:
    /// there is something to send, a timer earlier than the one the runtime sleeps until,
    /// or events for its sink. Otherwise its next turn finds nothing new, and waking it
    /// costs a syscall here and a turn there: with a bulk reader, as many wakes as reads
    /// (measured: 16% of receive throughput on a TUN with offloads).
    fn needs_turn(&self) -> bool {
        self.stack.has_output()
            || (self.drains_events && self.stack.has_events())
            || match (self.stack.poll_timeout(), self.sleeps_until) {
                (Some(t), Some(until)) => t < until,
                (Some(_), None) => true,
                (None, _) => false,
            }
    }
}

pub(crate) struct Shared {
    inner: Mutex<Inner>,
    cond: Condvar,
    wake: EventFd,
    epoch: StdInstant,
    stop: AtomicU8,
    linger: Duration,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Shared {
    /// Sleep until the runtime's next turn, or for at most `timeout`, counted in
    /// `Inner::sleepers` so that the turn knows to wake this thread.
    fn wait<'a>(
        &self,
        mut g: MutexGuard<'a, Inner>,
        timeout: Option<Duration>,
    ) -> MutexGuard<'a, Inner> {
        g.sleepers += 1;
        let mut g = match timeout {
            None => self.cond.wait(g).unwrap_or_else(|e| e.into_inner()),
            Some(t) => {
                self.cond
                    .wait_timeout(g, t)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
        };
        g.sleepers -= 1;
        g
    }
}

/// Stops the runtime (after lingering) when the last user handle goes away.
struct Guard(Arc<Shared>);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self
            .0
            .stop
            .compare_exchange(RUN, LINGER, Ordering::SeqCst, Ordering::SeqCst);
        self.0.wake.signal();
    }
}

/// A handle to a running stack. Cheap to clone; sockets hold one. When the last handle and
/// socket are gone, the runtime finishes the closing handshakes it can (for at most the
/// linger time) and stops.
#[derive(Clone)]
pub struct Net {
    shared: Arc<Shared>,
    _guard: Arc<Guard>,
}

/// Configures and starts a [`Net`].
pub struct NetBuilder {
    cfg: StackConfig,
    addrs: Vec<IpAddr>,
    sink: Option<EventSink>,
    linger: Duration,
}

impl Default for NetBuilder {
    fn default() -> Self {
        NetBuilder::new()
    }
}

impl NetBuilder {
    /// Default stack configuration, no addresses, 5 s linger.
    pub fn new() -> NetBuilder {
        NetBuilder {
            cfg: StackConfig::default(),
            addrs: Vec::new(),
            sink: None,
            linger: Duration::from_secs(5),
        }
    }

    /// The stack's configuration. Its `mtu` and `segmentation_offload` are replaced by the
    /// device's.
    pub fn config(mut self, cfg: StackConfig) -> NetBuilder {
        self.cfg = cfg;
        self
    }

    /// Give the stack an address (its own side of the device).
    pub fn address(mut self, addr: IpAddr) -> NetBuilder {
        self.addrs.push(addr);
        self
    }

    /// Receive every trace event (switches the stack's trace on).
    pub fn on_event(mut self, sink: impl FnMut(&Event) + Send + 'static) -> NetBuilder {
        self.sink = Some(Box::new(sink));
        self
    }

    /// How long the runtime goes on finishing closes after the last handle is gone.
    pub fn linger(mut self, d: Duration) -> NetBuilder {
        self.linger = d;
        self
    }

    /// Start the runtime thread over `device`.
    pub fn start<D: Device + 'static>(self, device: D) -> io::Result<Net> {
        let mut cfg = self.cfg;
        cfg.mtu = device.mtu();
        cfg.segmentation_offload = device.segmentation_offload();
        cfg.trace = cfg.trace || self.sink.is_some();
        let stack = Stack::with_addresses(cfg, &self.addrs);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                stack,
                wakers: Vec::new(),
                failed: None,
                stats: NetStats::default(),
                sleeps_until: None,
                drains_events: self.sink.is_some(),
                sleepers: 0,
            }),
            cond: Condvar::new(),
            wake: EventFd::new()?,
            epoch: StdInstant::now(),
            stop: AtomicU8::new(RUN),
            linger: self.linger,
            thread: Mutex::new(None),
        });
        let s = shared.clone();
        let sink = self.sink;
        let handle = std::thread::Builder::new()
            .name("oxtcp-net".into())
            .spawn(move || run(s, device, sink))?;
        *shared.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        Ok(Net {
            _guard: Arc::new(Guard(shared.clone())),
            shared,
        })
    }
}

impl Net {
    /// A builder with defaults.
    pub fn builder() -> NetBuilder {
        NetBuilder::new()
    }

    /// Stack time now.
    pub(crate) fn now(&self) -> Instant {
        to_core(self.shared.epoch, StdInstant::now())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `f` on the stack, then give the runtime a turn so whatever `f` queued is sent.
    pub fn with_stack<R>(&self, f: impl FnOnce(&mut Stack, Instant) -> R) -> R {
        let now = self.now();
        let r = f(&mut self.lock().stack, now);
        self.shared.wake.signal();
        r
    }

    /// Retry `f` until it returns `Some`, sleeping between turns of the runtime, then wake
    /// the runtime if `f` left it work (`Inner::needs_turn`). `timeout` ends the wait with
    /// `on_timeout`; `nonblocking` ends it at once with WouldBlock.
    pub(crate) fn block<R>(
        &self,
        timeout: Option<Duration>,
        nonblocking: bool,
        on_timeout: io::ErrorKind,
        mut f: impl FnMut(&mut Stack, Instant) -> Option<io::Result<R>>,
    ) -> io::Result<R> {
        let deadline = timeout.map(|t| StdInstant::now() + t);
        let mut g = self.lock();
        loop {
            if let Some(r) = f(&mut g.stack, self.now()) {
                let wake = g.needs_turn();
                drop(g);
                if wake {
                    self.shared.wake.signal();
                }
                return r;
            }
            if let Some(why) = &g.failed {
                return Err(io::Error::new(io::ErrorKind::NotConnected, why.clone()));
            }
            if nonblocking {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let left = deadline.map(|d| d.saturating_duration_since(StdInstant::now()));
            if left.is_some_and(|l| l.is_zero()) {
                return Err(io::Error::new(on_timeout, "timed out"));
            }
            g = self.shared.wait(g, left);
        }
    }

    /// One attempt of `f` for a task: `Pending` registers the task's waker for the next turn.
    #[cfg(feature = "tokio")]
    pub(crate) fn poll<R>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Stack, Instant) -> Option<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        let mut g = self.lock();
        if let Some(r) = f(&mut g.stack, self.now()) {
            let wake = g.needs_turn();
            drop(g);
            if wake {
                self.shared.wake.signal();
            }
            return Poll::Ready(r);
        }
        if let Some(why) = &g.failed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotConnected,
                why.clone(),
            )));
        }
        if !g.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            g.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Every connection the stack holds, including released ones still closing.
    pub fn connections(&self) -> Vec<ConnInfo> {
        let g = self.lock();
        let ids: Vec<_> = g.stack.connections().map(|(id, _, _)| id).collect();
        ids.into_iter()
            .filter_map(|id| g.stack.info_any(id))
            .collect()
    }

    /// Every listener.
    pub fn listeners(&self) -> Vec<ListenerInfo> {
        self.lock().stack.listeners().collect()
    }

    /// Counters of the runtime and the stack.
    pub fn stats(&self) -> NetStats {
        let g = self.lock();
        NetStats {
            stack: g.stack.stats(),
            ..g.stats.clone()
        }
    }

    /// The stack's addresses.
    pub fn addresses(&self) -> Vec<IpAddr> {
        self.lock().stack.addresses().to_vec()
    }

    /// Why the runtime stopped, if it has.
    pub fn failure(&self) -> Option<String> {
        self.lock().failed.clone()
    }

    /// Wait (at most `grace`) until no connection has anything left to send, then stop the
    /// runtime and wait for its thread. Sockets still open fail with NotConnected.
    pub fn shutdown(&self, grace: Duration) {
        let deadline = StdInstant::now() + grace;
        {
            let mut g = self.lock();
            while !settled(&g.stack) {
                let left = deadline.saturating_duration_since(StdInstant::now());
                if left.is_zero() {
                    break;
                }
                g = self
                    .shared
                    .wait(g, Some(left.min(Duration::from_millis(50))));
            }
        }
        self.shared.stop.store(STOP, Ordering::SeqCst);
        self.shared.wake.signal();
        let handle = self
            .shared
            .thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

fn to_core(epoch: StdInstant, t: StdInstant) -> Instant {
    Instant::from_micros(
        u64::try_from(t.saturating_duration_since(epoch).as_micros()).unwrap_or(u64::MAX),
    )
}

fn to_std(epoch: StdInstant, t: Instant) -> StdInstant {
    epoch + Duration::from_micros(t.as_micros())
}

/// Nothing left to transmit or acknowledge: every connection is closed, in TIME-WAIT, or in
/// FIN-WAIT-2 with its FIN acknowledged.
fn settled(stack: &Stack) -> bool {
    stack
        .connections()
        .all(|(_, s, _)| matches!(s, State::Closed | State::TimeWait | State::FinWait2))
}

/// Hand everything the stack wants to send to the device.
fn transmit<D: Device>(
    g: &mut Inner,
    dev: &mut D,
    now: Instant,
    now_std: StdInstant,
    tx: &mut [u8],
) {
    let Inner { stack, stats, .. } = g;
    // A datagram to be cut leaves its payload in the send buffer: the device writes it from
    // there together with the headers (`writev`), so the runtime copies no payload.
    let mut send = |parts: &[&[u8]], segment_size: Option<u16>| {
        stats.packets_out += 1;
        let sent = match (segment_size, parts) {
            (Some(size), _) => dev.send_segmented_parts(now_std, parts, size),
            (None, [packet]) => dev.send(now_std, packet),
            (None, _) => dev.send(now_std, &parts.concat()),
        };
        if sent.is_err() {
            stats.send_errors += 1;
        }
    };
    while stack.poll_transmit_gathered(now, tx, &mut send) {}
}

/// The runtime thread.
fn run<D: Device>(shared: Arc<Shared>, mut dev: D, mut sink: Option<EventSink>) {
    let mut rx = vec![0u8; 65536];
    let mut tx = vec![0u8; 65536];
    let mut events = Vec::new();
    let mut wakers = Vec::new();
    let mut linger_until: Option<StdInstant> = None;
    let why = loop {
        let now_std = StdInstant::now();
        let now = to_core(shared.epoch, now_std);
        let mut g = shared.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.stats.turns += 1;
        match shared.stop.load(Ordering::SeqCst) {
            STOP => break "the network runtime was shut down".to_string(),
            LINGER => {
                let until = *linger_until.get_or_insert(now_std + shared.linger);
                if settled(&g.stack) || now_std >= until {
                    break "the network runtime stopped".to_string();
                }
            }
            _ => {}
        }
        let mut read = 0;
        let mut fatal = None;
        while read < RX_BATCH {
            match dev.recv_offloaded(now_std, &mut rx) {
                Ok(Some((n, vouched))) => {
                    let checksum = if vouched {
                        Checksum::Offloaded
                    } else {
                        Checksum::Computed
                    };
                    // The stack may keep `rx` for the bytes it carries and hand back another.
                    g.stack.handle_packet_buffer(now, &mut rx, n, checksum);
                    read += 1;
                    // Answer each datagram before reading the next: the core owes an ACK per
                    // data segment (a duplicate ACK per out-of-order one, RFC 5681 §4.2), and
                    // draining only at the end of a batch would merge them into one. A TSO
                    // super-segment arrives whole (`TunDevice` with offloads), so it is
                    // answered once, as Linux answers a GRO-merged packet.
                    transmit(&mut g, &mut dev, now, now_std, &mut tx);
                }
                Ok(None) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    fatal = Some(format!("device read failed: {e}"));
                    break;
                }
            }
        }
        g.stats.packets_in += read as u64;
        if g.stack.poll_timeout().is_some_and(|t| t <= now) {
            g.stack.handle_timeout(now);
        }
        transmit(&mut g, &mut dev, now, now_std, &mut tx);
        if dev.flush(now_std).is_err() {
            g.stats.send_errors += 1;
        }
        if sink.is_some() {
            while let Some(e) = g.stack.poll_event() {
                events.push(e);
            }
        }
        wakers.append(&mut g.wakers);
        g.sleeps_until = g.stack.poll_timeout();
        let next = [
            g.sleeps_until.map(|t| to_std(shared.epoch, t)),
            dev.poll_at(),
        ]
        .into_iter()
        .flatten()
        .min();
        let sleepers = g.sleepers > 0;
        drop(g);
        if sleepers {
            shared.cond.notify_all();
        }
        for w in wakers.drain(..) {
            w.wake();
        }
        if let Some(s) = sink.as_mut() {
            for e in events.drain(..) {
                s(&e);
            }
        }
        if let Some(f) = fatal {
            break f;
        }
        if read == RX_BATCH {
            continue;
        }
        let mut timeout = next.map(|t| t.saturating_duration_since(StdInstant::now()));
        if let Some(until) = linger_until {
            let left = until.saturating_duration_since(StdInstant::now());
            timeout = Some(timeout.map_or(left, |t| t.min(left)));
        }
        if let Err(e) = wait_readable(&[dev.fd(), shared.wake.fd()], timeout) {
            break format!("poll failed: {e}");
        }
        shared.wake.drain();
    };
    let mut g = shared.inner.lock().unwrap_or_else(|e| e.into_inner());
    g.failed = Some(why);
    let wakers = std::mem::take(&mut g.wakers);
    drop(g);
    shared.cond.notify_all();
    for w in wakers {
        w.wake();
    }
}
