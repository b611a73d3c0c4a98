//! Legitimate clients during a SYN flood: each connects at its own time, sends a message,
//! reads the echo, checks it byte for byte, and closes.

use std::net::SocketAddr;
use std::time::Duration;

use oxtcp_core::{ConnId, Instant, RecvError, SendError, Stack, State};
use oxtcp_sim::App;

use super::{count_mismatches, fill_pattern};

/// One legitimate client.
#[derive(Debug, Default)]
pub struct Client {
    /// When it calls connect.
    pub start: Option<Instant>,
    conn: Option<ConnId>,
    /// When the handshake completed (the client reached ESTABLISHED).
    pub established_at: Option<Instant>,
    sent: u64,
    received: u64,
    /// Echoed bytes that differ from what was sent.
    pub corrupted: u64,
    /// When the whole echo was read back.
    pub done_at: Option<Instant>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Clients connecting to `server` at given times, `bytes` each.
pub struct LegitClients {
    server: SocketAddr,
    bytes: u64,
    starts: Vec<Instant>,
    next: usize,
    active: Vec<usize>,
    /// Every client, in start order.
    pub clients: Vec<Client>,
}

impl LegitClients {
    /// Clients starting at `starts`, each exchanging `bytes` with `server`.
    pub fn new(server: SocketAddr, bytes: u64, starts: Vec<Instant>) -> LegitClients {
        let clients = starts
            .iter()
            .map(|&s| Client {
                start: Some(s),
                ..Client::default()
            })
            .collect();
        LegitClients {
            server,
            bytes,
            starts,
            next: 0,
            active: Vec::new(),
            clients,
        }
    }

    /// Every client has finished or failed.
    pub fn all_finished(&self) -> bool {
        self.next == self.starts.len() && self.active.is_empty()
    }

    fn key(i: usize) -> u64 {
        0x6c65_6769_7400_0000 + i as u64
    }

    fn step(&mut self, stack: &mut Stack, now: Instant, i: usize) -> bool {
        let bytes = self.bytes;
        let c = &mut self.clients[i];
        let Some(conn) = c.conn else { return false };
        let Some(info) = stack.info(conn) else {
            c.error = Some("vanished".into());
            return false;
        };
        if let Some(e) = info.error {
            c.error = Some(format!("{e:?}"));
            let _ = stack.close(now, conn);
            return false;
        }
        if c.established_at.is_none() && info.state != State::SynSent {
            c.established_at = Some(now);
        }
        let mut buf = [0u8; 4096];
        while c.sent < bytes {
            let n = (bytes - c.sent).min(buf.len() as u64) as usize;
            fill_pattern(Self::key(i), c.sent, &mut buf[..n]);
            match stack.send(conn, &buf[..n]) {
                Ok(0) => break,
                Ok(k) => c.sent += k as u64,
                Err(SendError::Conn(e)) => {
                    c.error = Some(format!("{e:?}"));
                    return false;
                }
                Err(_) => break,
            }
        }
        loop {
            match stack.recv(conn, &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    c.corrupted += count_mismatches(Self::key(i), c.received, &buf[..n]);
                    c.received += n as u64;
                }
                Err(RecvError::WouldBlock) => break,
                Err(e) => {
                    c.error = Some(format!("{e:?}"));
                    return false;
                }
            }
        }
        if c.received >= bytes {
            c.done_at = Some(now);
            let _ = stack.close(now, conn);
            return false;
        }
        true
    }
}

impl App for LegitClients {
    fn on_event(&mut self, stack: &mut Stack, now: Instant) {
        while self.next < self.starts.len() && self.starts[self.next] <= now {
            let i = self.next;
            self.next += 1;
            match stack.connect(now, self.server) {
                Ok(conn) => {
                    self.clients[i].conn = Some(conn);
                    self.active.push(i);
                }
                Err(e) => self.clients[i].error = Some(format!("connect: {e:?}")),
            }
        }
        let active = std::mem::take(&mut self.active);
        self.active = active
            .into_iter()
            .filter(|&i| self.step(stack, now, i))
            .collect();
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.starts.get(self.next).copied()
    }
}

/// Handshake times of the clients that completed one, sorted.
pub fn handshake_times(clients: &[Client]) -> Vec<Duration> {
    let mut v: Vec<Duration> = clients
        .iter()
        .filter_map(|c| {
            let (s, e) = (c.start?, c.established_at?);
            Some(e.saturating_duration_since(s))
        })
        .collect();
    v.sort();
    v
}
