//! A scripted application: socket calls at given times, plus what any application does in
//! between (accept what is waiting unless told to wait, read what has arrived unless told to
//! stop reading). It may hold several connections; calls that act on a connection act on the
//! newest one.

use std::net::SocketAddr;
use std::time::Duration;

use oxtcp_core::{
    ConnError, ConnId, ConnectError, Instant, ListenerId, RecvError, SocketOptions, Stack,
};
use oxtcp_sim::App;

/// One socket call.
#[derive(Clone, Debug)]
pub enum Call {
    /// listen(local, backlog) with socket options (accepted connections inherit them).
    Listen(SocketAddr, usize, SocketOptions),
    /// connect from `local` (port 0: ephemeral) to `remote`, with socket options.
    Connect(SocketAddr, SocketAddr, SocketOptions),
    /// write(bytes) on the newest connection (or on each accepted one, before any exists).
    Send(Vec<u8>),
    /// shutdown(SHUT_WR) on the newest connection.
    Shutdown,
    /// close() on the newest connection.
    Close,
    /// close() on every connection.
    CloseAll,
    /// Abortive close (RST) of the newest connection.
    Abort,
    /// Stop reading (the receive buffer fills and the window closes).
    StopReading,
    /// Start reading again.
    ResumeReading,
    /// Leave completed connections in the accept queue.
    StopAccepting,
    /// Accept again.
    ResumeAccepting,
}

/// One connection the application holds.
#[derive(Debug)]
pub struct AppConn {
    /// Its handle.
    pub id: ConnId,
    /// Bytes read.
    pub received: Vec<u8>,
    /// End of stream was read.
    pub eof: bool,
    /// The error a call reported.
    pub error: Option<ConnError>,
    pending: Vec<u8>,
    released: bool,
}

impl AppConn {
    fn new(id: ConnId) -> AppConn {
        AppConn {
            id,
            received: Vec::new(),
            eof: false,
            error: None,
            pending: Vec::new(),
            released: false,
        }
    }
}

/// A scripted application on one host.
#[derive(Debug, Default)]
pub struct Script {
    calls: Vec<(Instant, Call)>,
    next: usize,
    listener: Option<ListenerId>,
    /// The connections, in the order they were opened or accepted.
    pub conns: Vec<AppConn>,
    /// Failed connect() calls, with when they failed.
    pub connect_errors: Vec<(Instant, ConnectError)>,
    reading: bool,
    accepting: bool,
    /// Close each connection as soon as the peer's FIN has been read (no data of our own left
    /// to send).
    pub close_on_eof: bool,
    /// Bytes to write on every accepted connection (a server's greeting or response).
    pub on_accept: Vec<u8>,
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
            accepting: true,
            ..Script::default()
        }
    }

    /// The first connection (most scenarios have one).
    pub fn first(&self) -> Option<&AppConn> {
        self.conns.first()
    }

    /// Bytes read on the first connection.
    pub fn received(&self) -> &[u8] {
        self.first().map_or(&[], |c| &c.received)
    }

    fn call(&mut self, stack: &mut Stack, now: Instant, call: Call) {
        let newest = self.conns.last_mut();
        match call {
            Call::Listen(local, backlog, opts) => {
                self.listener = stack.listen_with(local, backlog, opts).ok();
            }
            Call::Connect(local, remote, opts) => {
                match stack.connect_with(now, local, remote, opts) {
                    Ok(id) => self.conns.push(AppConn::new(id)),
                    Err(e) => self.connect_errors.push((now, e)),
                }
            }
            Call::Send(b) => match newest {
                Some(c) => c.pending.extend_from_slice(&b),
                None => self.on_accept.extend_from_slice(&b),
            },
            Call::Shutdown => {
                if let Some(c) = newest {
                    let _ = stack.shutdown(now, c.id);
                }
            }
            Call::Close => {
                if let Some(c) = newest {
                    c.released = stack.close(now, c.id).is_ok();
                }
            }
            Call::CloseAll => {
                for c in self.conns.iter_mut().filter(|c| !c.released) {
                    c.released = stack.close(now, c.id).is_ok();
                }
            }
            Call::Abort => {
                if let Some(c) = newest {
                    c.released = stack.abort(now, c.id).is_ok();
                }
            }
            Call::StopReading => self.reading = false,
            Call::ResumeReading => self.reading = true,
            Call::StopAccepting => self.accepting = false,
            Call::ResumeAccepting => self.accepting = true,
        }
    }

    /// Move data and read, on one connection.
    fn serve(&mut self, stack: &mut Stack, now: Instant, k: usize) {
        let (reading, close_on_eof) = (self.reading, self.close_on_eof);
        let c = &mut self.conns[k];
        if c.released {
            return;
        }
        if !c.pending.is_empty() {
            if let Ok(n) = stack.send(c.id, &c.pending) {
                c.pending.drain(..n);
            }
        }
        let mut buf = [0u8; 16 * 1024];
        while reading && !c.eof {
            match stack.recv(c.id, &mut buf) {
                Ok(0) => {
                    c.eof = true;
                    if close_on_eof {
                        c.released = stack.close(now, c.id).is_ok();
                    }
                }
                Ok(n) => c.received.extend_from_slice(&buf[..n]),
                Err(RecvError::Conn(e)) => {
                    c.error = Some(e);
                    break;
                }
                Err(_) => break,
            }
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
        if let (true, Some(l)) = (self.accepting, self.listener) {
            while let Ok(id) = stack.accept(l) {
                let mut c = AppConn::new(id);
                c.pending = self.on_accept.clone();
                self.conns.push(c);
            }
        }
        for k in 0..self.conns.len() {
            self.serve(stack, now, k);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.calls.get(self.next).map(|(t, _)| *t)
    }
}
