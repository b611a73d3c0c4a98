//! The established connections of the blind attacks: a client opens N connections and sends a
//! checkable byte stream on each at a steady pace; the server answers each byte read with one
//! of its own stream. Both sides check every byte they read against what the other sent.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use oxtcp_core::{ConnId, Instant, ListenerId, RecvError, SendError, Stack};
use oxtcp_sim::App;

use super::{count_mismatches, fill_pattern};

/// Bytes each connection sends per tick.
const CHUNK: usize = 1024;
/// How often the client sends a chunk on every connection.
pub const TICK: Duration = Duration::from_millis(10);

/// The stream the client sends on the connection from local port `port`.
fn up_key(port: u16) -> u64 {
    0x7570_0000_0000 + u64::from(port)
}

/// The stream the server sends back on that connection.
fn down_key(port: u16) -> u64 {
    0x646f_776e_0000 + u64::from(port)
}

/// One side of one connection.
#[derive(Debug, Default, Clone)]
pub struct Flow {
    /// The connection.
    pub conn: Option<ConnId>,
    /// The client's port: it names the streams.
    pub port: u16,
    /// Bytes the send buffer took.
    pub sent: u64,
    /// Bytes read.
    pub received: u64,
    /// Bytes read that differ from what the peer sent at that offset.
    pub corrupted: u64,
    /// How the connection failed, if it did.
    pub error: Option<String>,
}

impl Flow {
    fn send(&mut self, stack: &mut Stack, key: u64, upto: u64) {
        let Some(conn) = self.conn else { return };
        let mut buf = [0u8; CHUNK];
        while self.error.is_none() && self.sent < upto {
            let n = (upto - self.sent).min(CHUNK as u64) as usize;
            fill_pattern(key, self.sent, &mut buf[..n]);
            match stack.send(conn, &buf[..n]) {
                Ok(0) => break,
                Ok(k) => self.sent += k as u64,
                // A full send buffer is back-pressure, not a failure.
                Err(SendError::WouldBlock) => break,
                Err(e) => self.error = Some(format!("send: {e:?}")),
            }
        }
    }

    fn recv(&mut self, stack: &mut Stack, key: u64) {
        let Some(conn) = self.conn else { return };
        let mut buf = [0u8; 16 * 1024];
        while self.error.is_none() {
            match stack.recv(conn, &mut buf) {
                Ok(0) | Err(RecvError::WouldBlock) => break,
                Ok(n) => {
                    self.corrupted += count_mismatches(key, self.received, &buf[..n]);
                    self.received += n as u64;
                }
                Err(e) => self.error = Some(format!("{e:?}")),
            }
        }
        if self.error.is_none() {
            if let Some(e) = stack.info(conn).and_then(|i| i.error) {
                self.error = Some(format!("{e:?}"));
            }
        }
    }
}

/// The client: N connections to `server`, a chunk on each every [`TICK`] until `stop_at`.
pub struct ChatClient {
    server: SocketAddr,
    n: usize,
    stop_at: Instant,
    next_tick: Option<Instant>,
    /// The connections, in the order opened.
    pub flows: Vec<Flow>,
}

impl ChatClient {
    /// A client of `n` connections to `server`, sending until `stop_at`.
    pub fn new(server: SocketAddr, n: usize, stop_at: Instant) -> ChatClient {
        ChatClient {
            server,
            n,
            stop_at,
            next_tick: Some(Instant::ZERO),
            flows: Vec::new(),
        }
    }
}

impl App for ChatClient {
    fn on_event(&mut self, stack: &mut Stack, now: Instant) {
        if self.flows.is_empty() {
            for _ in 0..self.n {
                let mut f = Flow::default();
                match stack.connect(now, self.server) {
                    Ok(c) => {
                        f.conn = Some(c);
                        f.port = stack.info(c).map_or(0, |i| i.tuple.local.port());
                    }
                    Err(e) => f.error = Some(format!("connect: {e:?}")),
                }
                self.flows.push(f);
            }
        }
        let tick = self.next_tick.filter(|&t| t <= now);
        if let Some(t) = tick {
            let next = t + TICK;
            self.next_tick = (next < self.stop_at).then_some(next);
        }
        for f in &mut self.flows {
            if tick.is_some() {
                f.send(stack, up_key(f.port), f.sent + CHUNK as u64);
            }
            f.recv(stack, down_key(f.port));
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.next_tick
    }
}

/// The server: accepts, checks the client's stream, and answers byte for byte.
pub struct ChatServer {
    local: SocketAddr,
    backlog: usize,
    listener: Option<ListenerId>,
    /// Accepted connections by the client's port.
    pub flows: HashMap<u16, Flow>,
    order: Vec<u16>,
}

impl ChatServer {
    /// A server on `local`.
    pub fn new(local: SocketAddr, backlog: usize) -> ChatServer {
        ChatServer {
            local,
            backlog,
            listener: None,
            flows: HashMap::new(),
            order: Vec::new(),
        }
    }
}

impl App for ChatServer {
    fn on_event(&mut self, stack: &mut Stack, _now: Instant) {
        if self.listener.is_none() {
            self.listener = stack.listen(self.local, self.backlog).ok();
        }
        let Some(l) = self.listener else { return };
        while let Ok(conn) = stack.accept(l) {
            let port = stack.info(conn).map_or(0, |i| i.tuple.remote.port());
            self.order.push(port);
            self.flows.insert(
                port,
                Flow {
                    conn: Some(conn),
                    port,
                    ..Flow::default()
                },
            );
        }
        for port in &self.order {
            let f = self.flows.get_mut(port).expect("in order");
            if f.error.is_some() {
                continue;
            }
            f.recv(stack, up_key(*port));
            let upto = f.received;
            f.send(stack, down_key(*port), upto);
        }
    }
}
