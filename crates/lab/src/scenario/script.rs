//! A scripted application: socket calls at given times, plus what any application does in
//! between (accept what is waiting, read what has arrived unless told to stop reading).

use std::net::SocketAddr;
use std::time::Duration;

use oxtcp_core::{ConnError, ConnId, Instant, ListenerId, RecvError, SocketOptions, Stack};
use oxtcp_sim::App;

/// One socket call.
#[derive(Clone, Debug)]
pub enum Call {
    /// listen(local, backlog) with socket options (accepted connections inherit them).
    Listen(SocketAddr, usize, SocketOptions),
    /// connect from `local` (port 0: ephemeral) to `remote`, with socket options.
    Connect(SocketAddr, SocketAddr, SocketOptions),
    /// write(bytes) on the connection.
    Send(Vec<u8>),
    /// shutdown(SHUT_WR).
    Shutdown,
    /// close().
    Close,
    /// Abortive close (RST).
    Abort,
    /// Stop reading (the receive buffer fills and the window closes).
    StopReading,
    /// Start reading again.
    ResumeReading,
}

/// A scripted application on one host, for one connection.
#[derive(Debug, Default)]
pub struct Script {
    calls: Vec<(Instant, Call)>,
    next: usize,
    listener: Option<ListenerId>,
    /// The connection, once opened or accepted.
    pub conn: Option<ConnId>,
    pending: Vec<u8>,
    reading: bool,
    /// Bytes read.
    pub received: Vec<u8>,
    /// End of stream was read.
    pub eof: bool,
    /// The error a call reported.
    pub error: Option<ConnError>,
    released: bool,
    /// Close as soon as the peer's FIN has been read (no data of our own left to send).
    pub close_on_eof: bool,
}

impl Script {
    /// An application that makes `calls`, each at its time after the start.
    pub fn new(calls: Vec<(Duration, Call)>) -> Script {
        let mut calls: Vec<(Instant, Call)> = calls
            .into_iter()
            .map(|(d, c)| (Instant::ZERO + d, c))
            .collect();
        calls.sort_by_key(|(t, _)| *t);
        Script {
            calls,
            reading: true,
            ..Script::default()
        }
    }

    fn call(&mut self, stack: &mut Stack, now: Instant, call: Call) {
        match call {
            Call::Listen(local, backlog, opts) => {
                self.listener = stack.listen_with(local, backlog, opts).ok();
            }
            Call::Connect(local, remote, opts) => {
                self.conn = stack.connect_with(now, local, remote, opts).ok();
            }
            Call::Send(b) => self.pending.extend_from_slice(&b),
            Call::Shutdown => {
                if let Some(c) = self.conn {
                    let _ = stack.shutdown(now, c);
                }
            }
            Call::Close => {
                if let Some(c) = self.conn {
                    self.released = stack.close(now, c).is_ok();
                }
            }
            Call::Abort => {
                if let Some(c) = self.conn {
                    self.released = stack.abort(now, c).is_ok();
                }
            }
            Call::StopReading => self.reading = false,
            Call::ResumeReading => self.reading = true,
        }
    }
}

impl App for Script {
    fn on_event(&mut self, stack: &mut Stack, now: Instant) {
        while self.next < self.calls.len() && self.calls[self.next].0 <= now {
            let call = self.calls[self.next].1.clone();
            self.next += 1;
            self.call(stack, now, call);
        }
        if let (None, Some(l)) = (self.conn, self.listener) {
            self.conn = stack.accept(l).ok();
        }
        let Some(c) = self.conn else { return };
        if self.released {
            return;
        }
        if !self.pending.is_empty() {
            if let Ok(n) = stack.send(c, &self.pending) {
                self.pending.drain(..n);
            }
        }
        let mut buf = [0u8; 16 * 1024];
        while self.reading && !self.eof {
            match stack.recv(c, &mut buf) {
                Ok(0) => {
                    self.eof = true;
                    if self.close_on_eof {
                        self.released = stack.close(now, c).is_ok();
                    }
                }
                Ok(n) => self.received.extend_from_slice(&buf[..n]),
                Err(RecvError::Conn(e)) => {
                    self.error = Some(e);
                    break;
                }
                Err(_) => break,
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.calls.get(self.next).map(|(t, _)| *t)
    }
}
