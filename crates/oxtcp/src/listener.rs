//! `TcpListener`: a passive OPEN with the std::net::TcpListener interface and a backlog.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};

use oxtcp_core::{ConnId, FourTuple, ListenerId, ListenerInfo, Stack};

use crate::errors;
use crate::net::Net;
use crate::stream::TcpStream;

/// Backlog of [`TcpListener::bind`], as Linux's default somaxconn.
pub const DEFAULT_BACKLOG: usize = 4096;

/// A listening socket on an oxtcp stack. Dropping it stops listening; connections not yet
/// accepted are reset.
pub struct TcpListener {
    pub(crate) net: Net,
    pub(crate) id: ListenerId,
    local: SocketAddr,
    nonblocking: AtomicBool,
}

/// Poll shape of one `accept`.
pub(crate) fn try_accept(
    stack: &mut Stack,
    id: ListenerId,
) -> Option<io::Result<(ConnId, FourTuple)>> {
    match stack.accept(id) {
        Ok(c) => match stack.info(c) {
            Some(i) => Some(Ok((c, i.tuple))),
            None => Some(Err(errors::not_connected())),
        },
        Err(oxtcp_core::AcceptError::WouldBlock) => None,
        Err(e) => Some(Err(errors::accept(e))),
    }
}

impl TcpListener {
    /// Listen on `addr` (an unspecified address listens on all of the stack's addresses)
    /// with the default backlog.
    pub fn bind(net: &Net, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        Self::bind_with_backlog(net, addr, DEFAULT_BACKLOG)
    }

    /// Listen with `backlog` bounding both the SYN queue and the accept queue.
    pub fn bind_with_backlog(
        net: &Net,
        addr: impl ToSocketAddrs,
        backlog: usize,
    ) -> io::Result<TcpListener> {
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            match net.with_stack(|s, _| s.listen(a, backlog)) {
                Ok(id) => {
                    return Ok(TcpListener {
                        net: net.clone(),
                        id,
                        local: a,
                        nonblocking: AtomicBool::new(false),
                    })
                }
                Err(e) => last = Some(errors::listen(e)),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address")))
    }

    /// Wait for an established connection from the accept queue.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let id = self.id;
        let nb = self.nonblocking.load(Ordering::SeqCst);
        let (c, tuple) = self
            .net
            .block(None, nb, io::ErrorKind::WouldBlock, |s, _| {
                try_accept(s, id)
            })?;
        Ok((
            TcpStream::from_parts(self.net.clone(), c, tuple),
            tuple.remote,
        ))
    }

    /// An endless iterator of accepted connections.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address given to `bind`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    /// Non-blocking mode: `accept` fails with WouldBlock instead of waiting.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.nonblocking.store(on, Ordering::SeqCst);
        Ok(())
    }

    /// Queue lengths and counters of the listener.
    pub fn info(&self) -> Option<ListenerInfo> {
        let id = self.id;
        self.net.with_stack(|s, _| s.listener_info(id))
    }

    /// The network this listener belongs to.
    pub fn net(&self) -> &Net {
        &self.net
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let id = self.id;
        self.net.with_stack(|s, now| {
            let _ = s.close_listener(now, id);
        });
    }
}

/// Iterator of [`TcpListener::incoming`].
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}
