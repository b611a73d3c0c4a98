//! Ready-made applications for simulations: a client and a server that exchange byte streams
//! and close in a chosen order. Scenarios and property tests are built from these.

use std::net::SocketAddr;

use oxtcp_core::{ConnError, ConnId, Instant, ListenerId, RecvError, SendError, Stack};

use crate::host::App;

/// Which side of the connection this endpoint is.
#[derive(Clone, Copy, Debug)]
pub enum Role {
    /// Active open to `remote` at time `at`.
    Client {
        /// The server.
        remote: SocketAddr,
        /// When to call connect.
        at: Instant,
    },
    /// Passive open on `local`, accepting one connection.
    Server {
        /// The listening endpoint.
        local: SocketAddr,
        /// The listen backlog.
        backlog: usize,
    },
}

/// When the endpoint closes its side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClosePolicy {
    /// Shut down writing as soon as everything is sent; close once the peer's FIN arrived.
    AfterSend,
    /// Close (both directions) once this many bytes have arrived and everything is sent.
    AfterReceiving(usize),
    /// Close only after the peer's FIN arrived and everything is sent.
    AfterPeerCloses,
    /// Never close; the test closes by hand.
    Never,
}

/// An endpoint that sends `payload`, reads everything, and closes by its policy.
#[derive(Debug)]
pub struct Endpoint {
    role: Role,
    /// Bytes to send.
    pub payload: Vec<u8>,
    /// Start sending once this many bytes have been received.
    pub send_after: usize,
    /// How the endpoint closes.
    pub close: ClosePolicy,
    /// Whether the application reads (a receiver that stops reading shows the zero window).
    pub reading: bool,
    /// How long the application waits after the peer's FIN before closing (lifecycle C3: the
    /// passive closer's FIN waits for its application).
    pub close_delay: std::time::Duration,
    /// When a delayed close is due.
    close_at: Option<Instant>,
    /// Bytes sent so far.
    pub sent: usize,
    /// Bytes received so far.
    pub received: Vec<u8>,
    /// The listener (servers).
    pub listener: Option<ListenerId>,
    /// The connection, once open.
    pub conn: Option<ConnId>,
    /// The peer's FIN has been read (end of stream).
    pub eof: bool,
    /// `shutdown` was called.
    pub shut_down: bool,
    /// `close` was called.
    pub closed: bool,
    /// An error the connection reported.
    pub error: Option<ConnError>,
}

impl Endpoint {
    /// A client that connects to `remote` at time `at`.
    pub fn client(remote: SocketAddr, at: Instant, payload: Vec<u8>, close: ClosePolicy) -> Self {
        Endpoint::new(Role::Client { remote, at }, payload, close)
    }

    /// A server listening on `local` that accepts one connection.
    pub fn server(local: SocketAddr, payload: Vec<u8>, close: ClosePolicy) -> Self {
        Endpoint::new(Role::Server { local, backlog: 16 }, payload, close)
    }

    fn new(role: Role, payload: Vec<u8>, close: ClosePolicy) -> Self {
        Endpoint {
            role,
            payload,
            send_after: 0,
            close,
            reading: true,
            close_delay: std::time::Duration::ZERO,
            close_at: None,
            sent: 0,
            received: Vec::new(),
            listener: None,
            conn: None,
            eof: false,
            shut_down: false,
            closed: false,
            error: None,
        }
    }

    /// Everything sent, everything received, and the connection released.
    pub fn is_done(&self) -> bool {
        self.closed && self.sent == self.payload.len() && (self.eof || self.error.is_some())
    }

    fn open(&mut self, stack: &mut Stack, now: Instant) {
        match self.role {
            Role::Client { remote, at } => {
                if self.conn.is_none() && !self.closed && now >= at {
                    match stack.connect(now, remote) {
                        Ok(c) => self.conn = Some(c),
                        Err(_) => self.closed = true,
                    }
                }
            }
            Role::Server { local, backlog } => {
                if self.listener.is_none() {
                    self.listener = stack.listen(local, backlog).ok();
                }
                if let (None, Some(l)) = (self.conn, self.listener) {
                    if let Ok(c) = stack.accept(l) {
                        self.conn = Some(c);
                    }
                }
            }
        }
    }
}

impl App for Endpoint {
    fn on_event(&mut self, stack: &mut Stack, now: Instant) {
        self.open(stack, now);
        let Some(c) = self.conn else { return };
        if self.closed {
            return;
        }
        let mut buf = [0u8; 16 * 1024];
        while self.reading && !self.eof {
            match stack.recv(c, &mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => self.received.extend_from_slice(&buf[..n]),
                Err(RecvError::WouldBlock) => break,
                Err(RecvError::Conn(e)) => {
                    self.error = Some(e);
                    break;
                }
                Err(RecvError::InvalidHandle(_)) => break,
            }
        }
        if self.received.len() >= self.send_after {
            while self.sent < self.payload.len() {
                match stack.send(c, &self.payload[self.sent..]) {
                    Ok(n) => self.sent += n,
                    Err(SendError::Conn(e)) => {
                        self.error = Some(e);
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
        // Closing before the handshake completes would abandon the connection (RFC 9293
        // §3.10.4: CLOSE in SYN-SENT deletes the TCB), so the policies wait for it.
        let synchronized = stack.state(c).is_some_and(|s| s.is_synchronized());
        let all_sent = self.sent == self.payload.len() && synchronized;
        if self.error.is_some() {
            let _ = stack.close(now, c);
            self.closed = true;
            return;
        }
        match self.close {
            ClosePolicy::AfterSend if all_sent && !self.shut_down => {
                self.shut_down = stack.shutdown(now, c).is_ok();
            }
            ClosePolicy::AfterReceiving(n) if all_sent && self.received.len() >= n => {
                self.closed = stack.close(now, c).is_ok();
            }
            _ => {}
        }
        if !self.closed
            && all_sent
            && self.eof
            && matches!(
                self.close,
                ClosePolicy::AfterSend | ClosePolicy::AfterPeerCloses
            )
        {
            let due = *self.close_at.get_or_insert(now + self.close_delay);
            if now >= due {
                self.closed = stack.close(now, c).is_ok();
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self.role {
            Role::Client { at, .. } if self.conn.is_none() && !self.closed => Some(at),
            _ if !self.closed => self.close_at,
            _ => None,
        }
    }
}
