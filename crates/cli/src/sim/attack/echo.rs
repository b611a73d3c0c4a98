//! The server under attack in the SYN flood: listens, accepts, echoes what it reads, and
//! closes when the client does. It also samples its listener's queues after every input.

use std::net::SocketAddr;

use oxtcp_core::{ConnId, Instant, ListenerId, RecvError, Stack};
use oxtcp_sim::App;

struct EchoConn {
    conn: ConnId,
    /// Read but not yet taken by the send buffer.
    pending: Vec<u8>,
    eof: bool,
}

/// An echo server on one listening port.
pub struct EchoServer {
    local: SocketAddr,
    backlog: usize,
    listener: Option<ListenerId>,
    conns: Vec<EchoConn>,
    /// Connections accepted.
    pub accepted: u64,
    /// Bytes echoed.
    pub echoed: u64,
    /// Most half-open entries the listener held at once.
    pub peak_syn_queue: usize,
    /// Most established connections waiting for accept at once.
    pub peak_accept_queue: usize,
}

impl EchoServer {
    /// An echo server on `local` with `backlog`.
    pub fn new(local: SocketAddr, backlog: usize) -> EchoServer {
        EchoServer {
            local,
            backlog,
            listener: None,
            conns: Vec::new(),
            accepted: 0,
            echoed: 0,
            peak_syn_queue: 0,
            peak_accept_queue: 0,
        }
    }

    /// The listener, once listening.
    pub fn listener(&self) -> Option<ListenerId> {
        self.listener
    }
}

impl App for EchoServer {
    fn on_event(&mut self, stack: &mut Stack, now: Instant) {
        if self.listener.is_none() {
            self.listener = stack.listen(self.local, self.backlog).ok();
        }
        let Some(l) = self.listener else { return };
        if let Some(info) = stack.listener_info(l) {
            self.peak_syn_queue = self.peak_syn_queue.max(info.syn_queue);
            self.peak_accept_queue = self.peak_accept_queue.max(info.accept_queue);
        }
        while let Ok(conn) = stack.accept(l) {
            self.accepted += 1;
            self.conns.push(EchoConn {
                conn,
                pending: Vec::new(),
                eof: false,
            });
        }
        let mut buf = [0u8; 16 * 1024];
        let mut echoed = 0;
        self.conns.retain_mut(|c| {
            loop {
                if !c.pending.is_empty() {
                    match stack.send(c.conn, &c.pending) {
                        Ok(n) => {
                            echoed += n as u64;
                            c.pending.drain(..n);
                        }
                        Err(_) => return false,
                    }
                    if !c.pending.is_empty() {
                        break;
                    }
                }
                match stack.recv(c.conn, &mut buf) {
                    Ok(0) => {
                        c.eof = true;
                        break;
                    }
                    Ok(n) => c.pending.extend_from_slice(&buf[..n]),
                    Err(RecvError::WouldBlock) => break,
                    Err(_) => return false,
                }
            }
            if c.eof && c.pending.is_empty() {
                let _ = stack.close(now, c.conn);
                return false;
            }
            true
        });
        self.echoed += echoed;
    }
}
