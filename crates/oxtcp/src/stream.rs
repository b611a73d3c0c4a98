//! `TcpStream`: a connection with the std::net::TcpStream interface.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxtcp_core::{ConnId, ConnInfo, FourTuple, KeepAlive, RecvError, Stack, State};

use crate::errors;
use crate::net::Net;

pub(crate) struct StreamInner {
    pub(crate) net: Net,
    pub(crate) id: ConnId,
    pub(crate) tuple: FourTuple,
    read_timeout: Mutex<Option<Duration>>,
    write_timeout: Mutex<Option<Duration>>,
    nonblocking: AtomicBool,
    nodelay: AtomicBool,
    read_shut: AtomicBool,
    aborted: AtomicBool,
}

impl Drop for StreamInner {
    fn drop(&mut self) {
        // Dropping the last handle is a graceful close (RFC 9293 CLOSE): queued data and a
        // FIN still go out, and the closing handshake finishes without us.
        if !self.aborted.load(Ordering::SeqCst) {
            let id = self.id;
            self.net.with_stack(|s, now| {
                let _ = s.close(now, id);
            });
        }
    }
}

/// A TCP connection on an oxtcp stack. Clones made by [`TcpStream::try_clone`] share the
/// connection; it closes gracefully when the last one is dropped.
pub struct TcpStream {
    pub(crate) inner: Arc<StreamInner>,
}

/// Poll shape of one `recv`: data, end of stream, an error, or nothing yet.
pub(crate) fn try_read(stack: &mut Stack, id: ConnId, buf: &mut [u8]) -> Option<io::Result<usize>> {
    read_polled(stack.recv(id, buf))
}

/// A receive's result in poll shape: `None` while it would block.
pub(crate) fn read_polled(r: Result<usize, RecvError>) -> Option<io::Result<usize>> {
    match r {
        Ok(n) => Some(Ok(n)),
        Err(e) => errors::recv(e).map(Err),
    }
}

/// Poll shape of one `send`.
pub(crate) fn try_write(stack: &mut Stack, id: ConnId, buf: &[u8]) -> Option<io::Result<usize>> {
    match stack.send(id, buf) {
        Ok(n) => Some(Ok(n)),
        Err(e) => errors::send(e).map(Err),
    }
}

/// Poll shape of an active OPEN finishing: synchronized, failed, or still in SYN-SENT.
pub(crate) fn try_established(stack: &mut Stack, id: ConnId) -> Option<io::Result<FourTuple>> {
    match stack.info(id) {
        None => Some(Err(errors::not_connected())),
        Some(i) if i.state.is_synchronized() => Some(Ok(i.tuple)),
        Some(ConnInfo {
            state: State::Closed,
            error,
            ..
        }) => Some(Err(error.map_or_else(errors::not_connected, errors::conn))),
        Some(_) => None,
    }
}

/// An active OPEN in progress: if it fails, times out or is cancelled, the handle is given
/// back with ABORT (a SYN-SENT ends silently).
pub(crate) struct OpenGuard<'a> {
    net: &'a Net,
    id: ConnId,
    armed: bool,
}

impl<'a> OpenGuard<'a> {
    pub(crate) fn new(net: &'a Net, id: ConnId) -> OpenGuard<'a> {
        OpenGuard {
            net,
            id,
            armed: true,
        }
    }

    pub(crate) fn into_stream(mut self, tuple: FourTuple) -> TcpStream {
        self.armed = false;
        TcpStream::from_parts(self.net.clone(), self.id, tuple)
    }
}

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let id = self.id;
            self.net.with_stack(|s, now| {
                let _ = s.abort(now, id);
            });
        }
    }
}

impl TcpStream {
    pub(crate) fn from_parts(net: Net, id: ConnId, tuple: FourTuple) -> TcpStream {
        TcpStream {
            inner: Arc::new(StreamInner {
                net,
                id,
                tuple,
                read_timeout: Mutex::new(None),
                write_timeout: Mutex::new(None),
                nonblocking: AtomicBool::new(false),
                nodelay: AtomicBool::new(false),
                read_shut: AtomicBool::new(false),
                aborted: AtomicBool::new(false),
            }),
        }
    }

    /// Active OPEN to the first of `addr`'s addresses that accepts.
    pub fn connect(net: &Net, addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            match Self::open(net, a, None) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no addresses to connect to")
        }))
    }

    /// Active OPEN that gives up after `timeout` with TimedOut.
    pub fn connect_timeout(
        net: &Net,
        addr: &SocketAddr,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        Self::open(net, *addr, Some(timeout))
    }

    fn open(net: &Net, addr: SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
        let id = net
            .with_stack(|s, now| s.connect(now, addr))
            .map_err(errors::connect)?;
        let guard = OpenGuard::new(net, id);
        let tuple = net.block(timeout, false, io::ErrorKind::TimedOut, |s, _| {
            try_established(s, id)
        })?;
        Ok(guard.into_stream(tuple))
    }

    /// The runtime this stream belongs to.
    pub fn net(&self) -> &Net {
        &self.inner.net
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.inner.tuple.remote)
    }

    /// Our address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.inner.tuple.local)
    }

    /// Shut down the read side, the write side (send a FIN after the queued data), or both.
    /// After `Read`, reads return end of stream at once.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            self.inner.read_shut.store(true, Ordering::SeqCst);
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            let id = self.inner.id;
            self.inner
                .net
                .with_stack(|s, now| s.shutdown(now, id))
                .or_else(errors::close)?;
        }
        Ok(())
    }

    /// Abortive close (RFC 9293 ABORT): an RST goes out and queued data is discarded.
    pub fn abort(self) -> io::Result<()> {
        self.inner.aborted.store(true, Ordering::SeqCst);
        let id = self.inner.id;
        self.inner
            .net
            .with_stack(|s, now| s.abort(now, id))
            .map_err(|_| errors::not_connected())
    }

    /// Another handle to the same connection.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: self.inner.clone(),
        })
    }

    /// Set the read timeout; `Some(0)` is rejected as in std. A read that times out fails
    /// with WouldBlock, as std's does on Unix.
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        set_timeout(&self.inner.read_timeout, d)
    }

    /// Set the write timeout.
    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        set_timeout(&self.inner.write_timeout, d)
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(*self
            .inner
            .read_timeout
            .lock()
            .unwrap_or_else(|e| e.into_inner()))
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(*self
            .inner
            .write_timeout
            .lock()
            .unwrap_or_else(|e| e.into_inner()))
    }

    /// Non-blocking mode: calls that would wait fail with WouldBlock instead.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.inner.nonblocking.store(on, Ordering::SeqCst);
        Ok(())
    }

    /// TCP_NODELAY: `true` sends small writes at once; `false`, the default, lets Nagle's
    /// algorithm (RFC 9293 §3.7.4) hold a small segment while earlier data is unacknowledged,
    /// so a stream of small writes goes out as fewer, fuller segments.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        let id = self.inner.id;
        self.inner
            .net
            .with_stack(|s, now| s.set_nodelay(now, id, on))
            .map_err(|_| errors::not_connected())?;
        self.inner.nodelay.store(on, Ordering::SeqCst);
        Ok(())
    }

    /// TCP_NODELAY as last set.
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(self.inner.nodelay.load(Ordering::SeqCst))
    }

    /// SO_KEEPALIVE (RFC 9293 §3.8.4): `Some` turns keep-alive on, with the stack's defaults
    /// for the settings left `None`; `None` turns it off. A peer that stops answering fails
    /// reads and writes with TimedOut.
    pub fn set_keepalive(&self, keepalive: Option<KeepAlive>) -> io::Result<()> {
        let id = self.inner.id;
        self.inner
            .net
            .with_stack(|s, now| s.set_keepalive(now, id, keepalive))
            .map_err(|_| errors::not_connected())
    }

    /// A snapshot of the connection (state, queues, RTT, counters).
    pub fn info(&self) -> Option<ConnInfo> {
        let id = self.inner.id;
        self.inner.net.with_stack(|s, _| s.info(id))
    }

    fn read_inner(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.read_blocking(|s, id| try_read(s, id, buf))
    }

    /// Wait, as a read does (timeout, non-blocking mode), until `read` gives an answer; a read
    /// side shut down reads end of stream at once.
    fn read_blocking(
        &self,
        mut read: impl FnMut(&mut Stack, ConnId) -> Option<io::Result<usize>>,
    ) -> io::Result<usize> {
        if self.inner.read_shut.load(Ordering::SeqCst) {
            return Ok(0);
        }
        let id = self.inner.id;
        let timeout = self.read_timeout()?;
        let nb = self.inner.nonblocking.load(Ordering::SeqCst);
        self.inner
            .net
            .block(timeout, nb, io::ErrorKind::WouldBlock, |s, _| read(s, id))
    }

    /// Read in place, without copying: waits as `read` does, then shows up to `max` received
    /// bytes to `f` where they lie in the stack (the datagram buffer they arrived in, or the
    /// receive ring), oldest first, as one or more contiguous runs, and counts them all read;
    /// returns how many (`Ok(0)`: end of stream, or `max` of 0). For a reader that parses,
    /// checks, hashes or forwards the bytes rather than keeping them (`Stack::recv_with`).
    /// `f` runs with the stack locked, so it must not call into this runtime; other
    /// connections wait while it runs. If `f` panics, the panic reaches the caller, the runs
    /// it was shown count as read and the connection stays usable.
    pub fn read_with(&self, max: usize, mut f: impl FnMut(&[u8])) -> io::Result<usize> {
        if max == 0 {
            return Ok(0);
        }
        self.read_blocking(|s, id| read_polled(s.recv_with(id, max, &mut f)))
    }

    fn write_inner(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let id = self.inner.id;
        let timeout = self.write_timeout()?;
        let nb = self.inner.nonblocking.load(Ordering::SeqCst);
        self.inner
            .net
            .block(timeout, nb, io::ErrorKind::WouldBlock, |s, _| {
                try_write(s, id, buf)
            })
    }
}

fn set_timeout(slot: &Mutex<Option<Duration>>, d: Option<Duration>) -> io::Result<()> {
    if d == Some(Duration::ZERO) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        ));
    }
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = d;
    Ok(())
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_inner(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_inner(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.inner.tuple.local)
            .field("peer", &self.inner.tuple.remote)
            .finish()
    }
}
