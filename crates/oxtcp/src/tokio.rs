//! Async sockets for tokio. They run on the same runtime thread as the blocking ones; a task
//! that must wait registers its waker, and the runtime wakes it after the next turn. Any
//! tokio runtime flavour works, since no tokio I/O driver is involved.

use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::errors;
use crate::listener::try_accept;
use crate::net::Net;
use crate::stream::{read_polled, try_established, try_read, try_write, OpenGuard};
use crate::{ConnInfo, KeepAlive};

/// An async listening socket.
pub struct TcpListener {
    inner: crate::TcpListener,
}

impl TcpListener {
    /// Listen on `addr` with the default backlog.
    pub async fn bind(net: &Net, addr: SocketAddr) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: crate::TcpListener::bind(net, addr)?,
        })
    }

    /// Listen with `backlog` bounding the SYN and accept queues.
    pub async fn bind_with_backlog(
        net: &Net,
        addr: SocketAddr,
        backlog: usize,
    ) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: crate::TcpListener::bind_with_backlog(net, addr, backlog)?,
        })
    }

    /// Wait for an established connection.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Poll for an established connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let id = self.inner.id;
        let net = &self.inner.net;
        net.poll(cx, |s, _| try_accept(s, id)).map_ok(|(c, tuple)| {
            (
                TcpStream {
                    inner: crate::TcpStream::from_parts(net.clone(), c, tuple),
                },
                tuple.remote,
            )
        })
    }

    /// The address given to `bind`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// An async connection: `AsyncRead` and `AsyncWrite`; `poll_shutdown` sends the FIN.
pub struct TcpStream {
    inner: crate::TcpStream,
}

impl TcpStream {
    /// Active OPEN; resolves once the connection is synchronized.
    pub async fn connect(net: &Net, addr: SocketAddr) -> io::Result<TcpStream> {
        let id = net
            .with_stack(|s, now| s.connect(now, addr))
            .map_err(errors::connect)?;
        // Dropping this future before the handshake ends releases the handle.
        let guard = OpenGuard::new(net, id);
        let tuple = poll_fn(|cx| net.poll(cx, |s, _| try_established(s, id))).await?;
        Ok(TcpStream {
            inner: guard.into_stream(tuple),
        })
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// Our address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Abortive close: RST.
    pub fn abort(self) -> io::Result<()> {
        self.inner.abort()
    }

    /// See [`crate::TcpStream::set_nodelay`].
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.inner.set_nodelay(on)
    }

    /// See [`crate::TcpStream::set_keepalive`].
    pub fn set_keepalive(&self, keepalive: Option<KeepAlive>) -> io::Result<()> {
        self.inner.set_keepalive(keepalive)
    }

    /// A snapshot of the connection.
    pub fn info(&self) -> Option<ConnInfo> {
        self.inner.info()
    }

    /// Read in place, without copying; resolves as a read does. See
    /// [`crate::TcpStream::read_with`]: `f` runs with the stack locked.
    pub async fn read_with(&self, max: usize, mut f: impl FnMut(&[u8])) -> io::Result<usize> {
        let inner = &self.inner.inner;
        if max == 0 {
            return Ok(0);
        }
        let id = inner.id;
        poll_fn(|cx| {
            inner
                .net
                .poll(cx, |s, _| read_polled(s.recv_with(id, max, &mut f)))
        })
        .await
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let inner = &self.inner.inner;
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let id = inner.id;
        let dst = buf.initialize_unfilled();
        match inner.net.poll(cx, |s, _| try_read(s, id, dst)) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let inner = &self.inner.inner;
        let id = inner.id;
        inner.net.poll(cx, |s, _| try_write(s, id, data))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.inner.shutdown(Shutdown::Write))
    }
}
