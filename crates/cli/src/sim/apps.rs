//! The two applications of a bulk transfer: a sender pushing N bytes on each of K connections,
//! and a sink that accepts them and counts what it reads.

use std::net::SocketAddr;

use oxtcp_core::{ConnId, Instant, ListenerId, RecvError, SendError, Stack};
use oxtcp_sim::App;

/// Filler the sender writes, a chunk at a time (the payload's content does not matter).
const CHUNK: [u8; 16 * 1024] = [0x5a; 16 * 1024];

/// One connection of the sender.
#[derive(Debug, Default)]
pub struct SendFlow {
    /// The connection, once `connect` succeeded.
    pub conn: Option<ConnId>,
    /// Bytes the send buffer has taken.
    pub sent: u64,
    /// When every byte was sent and acknowledged.
    pub done_at: Option<Instant>,
    /// The congestion window at `done_at`, bytes.
    pub final_cwnd: Option<u32>,
    /// Retransmission timeouts at `done_at`.
    pub rto_count: u64,
    /// Fast-recovery episodes at `done_at`.
    pub fast_recoveries: u64,
    /// Why the connection failed, if it did.
    pub error: Option<String>,
}

/// Opens `flows` connections to `remote` at time zero and sends `bytes` on each.
#[derive(Debug)]
pub struct BulkSender {
    remote: SocketAddr,
    bytes: u64,
    started: bool,
    /// The connections, in the order they were opened (flow 1 first).
    pub flows: Vec<SendFlow>,
}

impl BulkSender {
    /// A sender of `bytes` bytes on each of `flows` connections to `remote`.
    pub fn new(remote: SocketAddr, bytes: u64, flows: usize) -> Self {
        BulkSender {
            remote,
            bytes,
            started: false,
            flows: (0..flows).map(|_| SendFlow::default()).collect(),
        }
    }

    /// Every flow finished (or failed).
    pub fn all_finished(&self) -> bool {
        self.flows
            .iter()
            .all(|f| f.done_at.is_some() || f.error.is_some())
    }
}

impl App for BulkSender {
    fn on_event(&mut self, stack: &mut Stack, now: Instant) {
        if !self.started {
            self.started = true;
            for f in &mut self.flows {
                match stack.connect(now, self.remote) {
                    Ok(c) => f.conn = Some(c),
                    Err(e) => f.error = Some(format!("connect failed: {e:?}")),
                }
            }
        }
        for f in &mut self.flows {
            let Some(c) = f.conn else { continue };
            if f.done_at.is_some() || f.error.is_some() {
                continue;
            }
            while f.sent < self.bytes {
                let n = (self.bytes - f.sent).min(CHUNK.len() as u64) as usize;
                match stack.send(c, &CHUNK[..n]) {
                    Ok(0) => break,
                    Ok(k) => f.sent += k as u64,
                    Err(SendError::Conn(e)) => {
                        f.error = Some(format!("connection failed: {e:?}"));
                        break;
                    }
                    Err(_) => break,
                }
            }
            let Some(info) = stack.info(c) else {
                f.error = Some("connection vanished".into());
                continue;
            };
            if let Some(e) = info.error {
                f.error = Some(format!("connection failed: {e:?}"));
            } else if f.sent == self.bytes && info.state.is_synchronized() && info.send_queue == 0 {
                f.done_at = Some(now);
                f.final_cwnd = Some(info.cwnd);
                f.rto_count = info.stats.rto_count;
                f.fast_recoveries = info.stats.fast_recoveries;
            }
        }
    }
}

/// Listens on `local`, accepts every connection and reads all it can.
#[derive(Debug)]
pub struct Sink {
    local: SocketAddr,
    backlog: usize,
    listener: Option<ListenerId>,
    conns: Vec<ConnId>,
    /// Bytes read by the application, over all connections.
    pub received: u64,
}

impl Sink {
    /// A sink on `local` expecting up to `backlog` simultaneous connection attempts.
    pub fn new(local: SocketAddr, backlog: usize) -> Self {
        Sink {
            local,
            backlog,
            listener: None,
            conns: Vec::new(),
            received: 0,
        }
    }
}

impl App for Sink {
    fn on_event(&mut self, stack: &mut Stack, _now: Instant) {
        if self.listener.is_none() {
            self.listener = stack.listen(self.local, self.backlog).ok();
        }
        if let Some(l) = self.listener {
            while let Ok(c) = stack.accept(l) {
                self.conns.push(c);
            }
        }
        let mut buf = [0u8; 16 * 1024];
        for &c in &self.conns {
            loop {
                match stack.recv(c, &mut buf) {
                    Ok(0) | Err(RecvError::WouldBlock) => break,
                    Ok(n) => self.received += n as u64,
                    Err(_) => break,
                }
            }
        }
    }
}
