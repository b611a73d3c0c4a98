//! Syscall lines: a small socket layer over oxtcp's user calls. File descriptors map to
//! listeners and connections; oxtcp's errors map to the errno names scripts expect.
//!
//! A socket without O_NONBLOCK blocks: a call that cannot finish yet is parked and retried
//! after every packet and timer until it completes, which must be when the script's `T...E`
//! timing says it returns.

use std::net::SocketAddr;

use oxtcp_core::{
    AcceptError, CloseError, ConnError, ConnId, ConnectError, ListenError, ListenerId, RecvError,
    SendError, SocketOptions, State,
};

use crate::ast::{Event, Expr, Syscall};
use crate::run::{fmt_time, Runner};
use crate::verdict::Stop;

/// What a descriptor refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SockKind {
    /// `socket()` done; not listening or connected.
    Fresh,
    /// `listen()` done.
    Listener(ListenerId),
    /// `connect()` or `accept()` done.
    Conn(ConnId),
}

/// One descriptor of the socket layer.
#[derive(Clone, Debug)]
pub(crate) struct Socket {
    pub(crate) kind: SockKind,
    nonblocking: bool,
    bound: Option<SocketAddr>,
    reuseaddr: bool,
    /// SO_RCVBUF, SO_SNDBUF, TCP_MAXSEG and TCP_NODELAY, applied at connect or listen
    /// (TCP_NODELAY also later).
    opts: SocketOptions,
    /// The pending error (SO_ERROR) has been read, or reported by a call.
    error_taken: bool,
    /// shutdown(SHUT_RD) was called: reads return end of stream.
    read_shut: bool,
    /// A blocking connect() is in progress.
    connecting: bool,
    /// Bytes a blocking write() has queued so far.
    written: usize,
}

impl Socket {
    fn new() -> Socket {
        Socket {
            kind: SockKind::Fresh,
            nonblocking: false,
            bound: None,
            reuseaddr: false,
            opts: SocketOptions::default(),
            error_taken: false,
            read_shut: false,
            connecting: false,
            written: 0,
        }
    }
}

/// A blocking call waiting for the stack.
#[derive(Clone, Debug)]
pub(crate) struct Blocked {
    pub(crate) line: usize,
    pub(crate) text: String,
    call: Syscall,
    /// When the script says it returns, µs.
    pub(crate) end: u64,
}

/// What a call returned: a value, or -1 with an errno name.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Ret {
    value: i64,
    errno: Option<&'static str>,
}

impl Ret {
    fn ok(value: i64) -> Ret {
        Ret { value, errno: None }
    }

    fn err(errno: &'static str) -> Ret {
        Ret {
            value: -1,
            errno: Some(errno),
        }
    }

    fn text(&self) -> String {
        match self.errno {
            Some(e) => format!("= {} {e}", self.value),
            None => format!("= {}", self.value),
        }
    }
}

/// A call either finishes now or would block.
enum Outcome {
    Done(Ret),
    WouldBlock,
}

fn conn_errno(e: ConnError) -> &'static str {
    match e {
        ConnError::Refused => "ECONNREFUSED",
        ConnError::Reset => "ECONNRESET",
        ConnError::TimedOut => "ETIMEDOUT",
        ConnError::Aborted => "ECONNABORTED",
    }
}

/// EAGAIN and EWOULDBLOCK are the same number on every system scripts come from.
fn same_errno(a: &str, b: &str) -> bool {
    fn canon(e: &str) -> &str {
        if e == "EWOULDBLOCK" {
            "EAGAIN"
        } else {
            e
        }
    }
    canon(a) == canon(b)
}

/// Argument `i` of a call, or an "unsupported" naming what was there instead.
fn arg(call: &Syscall, i: usize) -> Result<&Expr, Stop> {
    call.args.get(i).ok_or_else(|| {
        Stop::unsupported(format!("{} with {} arguments", call.name, call.args.len()))
    })
}

fn bad_arg(call: &Syscall, i: usize, e: &Expr) -> Stop {
    Stop::unsupported(format!("argument {} of {}: {e}", i + 1, call.name))
}

/// An integer argument, bare or in a one-element `[...]`.
fn int_arg(call: &Syscall, i: usize) -> Result<i64, Stop> {
    match arg(call, i)? {
        Expr::Int(v) => Ok(*v),
        Expr::List(items) if items.len() == 1 => match &items[0] {
            Expr::Int(v) => Ok(*v),
            other => Err(bad_arg(call, i, other)),
        },
        other => Err(bad_arg(call, i, other)),
    }
}

/// A symbolic argument such as `SOCK_STREAM`.
fn name_arg(call: &Syscall, i: usize) -> Result<&str, Stop> {
    match arg(call, i)? {
        Expr::Name(n) => Ok(n),
        other => Err(bad_arg(call, i, other)),
    }
}

impl Runner<'_> {
    /// A syscall line. `blocking` is the scripted return time of a `T...E` call.
    pub(crate) fn syscall(
        &mut self,
        event: &Event,
        call: &Syscall,
        blocking: Option<u64>,
    ) -> Result<(), Stop> {
        if self.blocked.is_some() {
            return Err(Stop::unsupported(
                "a second call while a blocking call is still waiting",
            ));
        }
        match self.attempt(call)? {
            Outcome::Done(ret) => {
                if let Some(end) = blocking {
                    if end > self.now + self.tolerance {
                        return Err(Stop::fail(
                            format!("the call to block until {}", fmt_time(end)),
                            format!("it returned at once {}", ret.text()),
                        ));
                    }
                }
                check_ret(call, &ret)
            }
            Outcome::WouldBlock => match blocking {
                Some(end) => {
                    self.blocked = Some(Blocked {
                        line: event.line,
                        text: event.text.clone(),
                        call: call.clone(),
                        end,
                    });
                    Ok(())
                }
                None => Err(Stop::fail(
                    "the call to return at once (a blocking call is written T...E)",
                    "it blocked",
                )),
            },
        }
    }

    /// Try the parked blocking call again; check it when it finishes.
    pub(crate) fn retry_blocked(&mut self) -> Result<(), Stop> {
        let Some(b) = self.blocked.take() else {
            return Ok(());
        };
        match self.attempt(&b.call)? {
            Outcome::WouldBlock => {
                self.blocked = Some(b);
                Ok(())
            }
            Outcome::Done(ret) => {
                let tol = self.tolerance;
                let lo = b.end.saturating_sub(tol);
                if self.now < lo || self.now > b.end + tol {
                    return Err(Stop::fail_at(
                        b.line,
                        b.text.clone(),
                        format!("line {}: the call to return at {}", b.line, fmt_time(b.end)),
                        format!("it returned at {} {}", fmt_time(self.now), ret.text()),
                    ));
                }
                check_ret(&b.call, &ret).map_err(|stop| match stop {
                    Stop::Fail {
                        expected, actual, ..
                    } => Stop::Fail {
                        expected,
                        actual,
                        at: Some((b.line, b.text.clone())),
                    },
                    other => other,
                })
            }
        }
    }

    /// A blocking call still waiting past its scripted return time fails.
    pub(crate) fn check_blocked_deadline(&mut self) -> Result<(), Stop> {
        if let Some(b) = &self.blocked {
            let tol = self.tolerance;
            if self.now > b.end + tol {
                return Err(Stop::fail_at(
                    b.line,
                    b.text.clone(),
                    format!(
                        "line {} ({}) to return by {}",
                        b.line,
                        b.text,
                        fmt_time(b.end)
                    ),
                    format!("still blocked at {}", fmt_time(self.now)),
                ));
            }
        }
        Ok(())
    }

    fn socket_mut(&mut self, fd: i64) -> Option<&mut Socket> {
        self.sockets.get_mut(&fd)
    }

    fn next_fd(&self) -> i64 {
        (3..).find(|fd| !self.sockets.contains_key(fd)).unwrap_or(3)
    }

    /// Run a call once.
    fn attempt(&mut self, call: &Syscall) -> Result<Outcome, Stop> {
        let now = self.instant();
        let r = match call.name.as_str() {
            "socket" => {
                let ty = name_arg(call, 1)?;
                if ty != "SOCK_STREAM" {
                    return Err(Stop::unsupported(format!("socket type {ty}")));
                }
                match call.args.first() {
                    Some(Expr::Ellipsis) => {}
                    Some(Expr::Name(n)) if n == "AF_INET" || n == "PF_INET" => {}
                    Some(Expr::Name(n)) if n == "AF_INET6" || n == "PF_INET6" => {}
                    Some(other) => return Err(Stop::unsupported(format!("socket domain {other}"))),
                    None => return Err(Stop::unsupported("socket() without arguments")),
                }
                let fd = self.next_fd();
                self.sockets.insert(fd, Socket::new());
                self.current_fd = Some(fd);
                Ret::ok(fd)
            }
            "fcntl" => self.fcntl(call)?,
            "bind" => {
                let fd = int_arg(call, 0)?;
                let addr = SocketAddr::new(self.local_ip, self.bind_port);
                let in_use = self.sockets.iter().any(|(&other, s)| {
                    other != fd && s.bound.map(|a| a.port()) == Some(addr.port())
                });
                let reuse = self.sockets.get(&fd).map(|s| s.reuseaddr);
                match (self.socket_mut(fd), in_use, reuse) {
                    (None, _, _) => Ret::err("EBADF"),
                    (Some(s), _, _) if s.bound.is_some() => Ret::err("EINVAL"),
                    (Some(_), true, Some(false)) => Ret::err("EADDRINUSE"),
                    (Some(s), _, _) => {
                        s.bound = Some(addr);
                        Ret::ok(0)
                    }
                }
            }
            "listen" => {
                let fd = int_arg(call, 0)?;
                let backlog = int_arg(call, 1)?;
                let local = SocketAddr::new(self.local_ip, self.bind_port);
                match self.sockets.get(&fd).map(|s| (s.kind, s.bound, s.opts)) {
                    None => Ret::err("EBADF"),
                    Some((SockKind::Listener(_), _, _)) => Ret::ok(0),
                    Some((SockKind::Conn(_), _, _)) => Ret::err("EINVAL"),
                    Some((SockKind::Fresh, bound, opts)) => {
                        let local = bound.unwrap_or(local);
                        // A backlog of zero or less still admits one connection, as on BSD
                        // and Linux.
                        let backlog = usize::try_from(backlog.max(1)).unwrap_or(1);
                        match self.stack.listen_with(local, backlog, opts) {
                            Ok(id) => {
                                let s = self.socket_mut(fd).expect("checked above");
                                s.kind = SockKind::Listener(id);
                                s.bound = Some(local);
                                self.tuple.local = local;
                                self.tuple.remote =
                                    SocketAddr::new(self.remote_ip, self.remote_port);
                                Ret::ok(0)
                            }
                            Err(ListenError::AddrInUse) => Ret::err("EADDRINUSE"),
                            Err(ListenError::AddrNotAvailable) => Ret::err("EADDRNOTAVAIL"),
                            Err(ListenError::InvalidArgument) => Ret::err("EINVAL"),
                        }
                    }
                }
            }
            "accept" => {
                let fd = int_arg(call, 0)?;
                let Some(s) = self.sockets.get(&fd) else {
                    return Ok(Outcome::Done(Ret::err("EBADF")));
                };
                let SockKind::Listener(l) = s.kind else {
                    return Ok(Outcome::Done(Ret::err("EINVAL")));
                };
                let nonblocking = s.nonblocking;
                let nodelay = s.opts.nodelay;
                match self.stack.accept(l) {
                    Ok(conn) => {
                        let nfd = self.next_fd();
                        let mut sock = Socket::new();
                        sock.kind = SockKind::Conn(conn);
                        // The stack gave the connection the listener's options; TCP_NODELAY
                        // is inherited on Linux and FreeBSD alike.
                        sock.opts.nodelay = nodelay;
                        if self.opts.profile.kind == crate::profile::ProfileKind::FreeBsd {
                            sock.nonblocking = nonblocking;
                        }
                        if let Some(info) = self.stack.info(conn) {
                            self.tuple = info.tuple;
                        }
                        self.sockets.insert(nfd, sock);
                        self.current_fd = Some(nfd);
                        Ret::ok(nfd)
                    }
                    Err(AcceptError::WouldBlock) if nonblocking => Ret::err("EAGAIN"),
                    Err(AcceptError::WouldBlock) => return Ok(Outcome::WouldBlock),
                    Err(AcceptError::InvalidHandle(_)) => Ret::err("EINVAL"),
                }
            }
            "connect" => return self.connect(call),
            "read" | "recv" => return self.read(call),
            "write" | "send" => return self.write(call),
            "shutdown" => {
                let fd = int_arg(call, 0)?;
                let how = name_arg(call, 1)?;
                let (rd, wr) = match how {
                    "SHUT_RD" => (true, false),
                    "SHUT_WR" => (false, true),
                    "SHUT_RDWR" => (true, true),
                    other => return Err(Stop::unsupported(format!("shutdown mode {other}"))),
                };
                match self.sockets.get(&fd).map(|s| s.kind) {
                    None => Ret::err("EBADF"),
                    Some(SockKind::Conn(id)) => {
                        let mut ret = Ret::ok(0);
                        if wr {
                            ret = match self.stack.shutdown(now, id) {
                                Ok(()) | Err(CloseError::Closing) => Ret::ok(0),
                                Err(CloseError::Conn(_)) | Err(CloseError::InvalidHandle(_)) => {
                                    Ret::err("ENOTCONN")
                                }
                            };
                        }
                        if rd && ret.errno.is_none() {
                            self.socket_mut(fd).expect("checked above").read_shut = true;
                        }
                        ret
                    }
                    Some(_) => Ret::err("ENOTCONN"),
                }
            }
            "close" => {
                let fd = int_arg(call, 0)?;
                match self.sockets.remove(&fd).map(|s| s.kind) {
                    None => Ret::err("EBADF"),
                    Some(SockKind::Fresh) => Ret::ok(0),
                    Some(SockKind::Listener(l)) => {
                        let _ = self.stack.close_listener(now, l);
                        Ret::ok(0)
                    }
                    Some(SockKind::Conn(c)) => {
                        let _ = self.stack.close(now, c);
                        Ret::ok(0)
                    }
                }
            }
            "getsockopt" => return self.getsockopt(call).map(Outcome::Done),
            "setsockopt" => self.setsockopt(call)?,
            other => return Err(Stop::unsupported(format!("syscall {other}()"))),
        };
        Ok(Outcome::Done(r))
    }

    fn fcntl(&mut self, call: &Syscall) -> Result<Ret, Stop> {
        let fd = int_arg(call, 0)?;
        let cmd = name_arg(call, 1)?;
        let (o_rdwr, o_nonblock) = (self.opts.profile.o_rdwr, self.opts.profile.o_nonblock);
        let Some(s) = self.socket_mut(fd) else {
            return Ok(Ret::err("EBADF"));
        };
        match cmd {
            "F_GETFL" => Ok(Ret::ok(o_rdwr | if s.nonblocking { o_nonblock } else { 0 })),
            "F_SETFL" => {
                let flags = flag_bits(call.args.get(2), o_rdwr, o_nonblock)?;
                s.nonblocking = flags & o_nonblock != 0;
                Ok(Ret::ok(0))
            }
            other => Err(Stop::unsupported(format!("fcntl command {other}"))),
        }
    }

    fn connect(&mut self, call: &Syscall) -> Result<Outcome, Stop> {
        let fd = int_arg(call, 0)?;
        let now = self.instant();
        let Some(s) = self.sockets.get(&fd) else {
            return Ok(Outcome::Done(Ret::err("EBADF")));
        };
        let nonblocking = s.nonblocking;
        match s.kind {
            SockKind::Listener(_) => Ok(Outcome::Done(Ret::err("EINVAL"))),
            SockKind::Conn(id) => {
                // A blocking connect in progress, or a second connect on a socket.
                let state = self.stack.state(id).unwrap_or(State::Closed);
                let pending = self.stack.info(id).and_then(|i| i.error);
                Ok(match (state, pending) {
                    (State::SynSent, _) if nonblocking => Outcome::Done(Ret::err("EALREADY")),
                    (State::SynSent, _) => Outcome::WouldBlock,
                    (State::Closed, Some(e)) => {
                        let s = self.socket_mut(fd).expect("checked");
                        s.error_taken = true;
                        s.connecting = false;
                        Outcome::Done(Ret::err(conn_errno(e)))
                    }
                    _ if self.sockets[&fd].connecting => {
                        self.socket_mut(fd).expect("checked").connecting = false;
                        Outcome::Done(Ret::ok(0))
                    }
                    _ => Outcome::Done(Ret::err("EISCONN")),
                })
            }
            SockKind::Fresh => {
                let local = s.bound.unwrap_or_else(|| SocketAddr::new(self.local_ip, 0));
                let remote = SocketAddr::new(self.remote_ip, self.connect_port);
                match self.stack.connect_with(now, local, remote, s.opts) {
                    Ok(id) => {
                        let s = self.socket_mut(fd).expect("checked");
                        s.kind = SockKind::Conn(id);
                        s.connecting = !nonblocking;
                        if let Some(info) = self.stack.info(id) {
                            self.tuple = info.tuple;
                        }
                        // A new connection's ISN is learned from its SYN.
                        self.local_isn = None;
                        self.local_isn_learned = false;
                        Ok(if nonblocking {
                            Outcome::Done(Ret::err("EINPROGRESS"))
                        } else {
                            Outcome::WouldBlock
                        })
                    }
                    Err(ConnectError::AddrInUse) => Ok(Outcome::Done(Ret::err("EADDRINUSE"))),
                    Err(ConnectError::NoPortAvailable) | Err(ConnectError::AddrNotAvailable) => {
                        Ok(Outcome::Done(Ret::err("EADDRNOTAVAIL")))
                    }
                    Err(ConnectError::InvalidArgument) => Ok(Outcome::Done(Ret::err("EINVAL"))),
                    Err(ConnectError::ResourceLimit) => Ok(Outcome::Done(Ret::err("ENOBUFS"))),
                }
            }
        }
    }

    /// The socket's pending error, reported once.
    fn take_error(&mut self, fd: i64, id: ConnId) -> Option<ConnError> {
        let e = self.stack.info(id).and_then(|i| i.error)?;
        let s = self.socket_mut(fd)?;
        if s.error_taken {
            return None;
        }
        s.error_taken = true;
        Some(e)
    }

    fn read(&mut self, call: &Syscall) -> Result<Outcome, Stop> {
        let fd = int_arg(call, 0)?;
        let len = int_arg(call, 2)?;
        let len = usize::try_from(len).map_err(|_| Stop::unsupported("negative read length"))?;
        let Some(s) = self.sockets.get(&fd) else {
            return Ok(Outcome::Done(Ret::err("EBADF")));
        };
        let (nonblocking, read_shut) = (s.nonblocking, s.read_shut);
        let SockKind::Conn(id) = s.kind else {
            return Ok(Outcome::Done(Ret::err("ENOTCONN")));
        };
        if read_shut {
            return Ok(Outcome::Done(Ret::ok(0)));
        }
        let mut buf = vec![0u8; len];
        Ok(match self.stack.recv(id, &mut buf) {
            Ok(n) => Outcome::Done(Ret::ok(n as i64)),
            Err(RecvError::WouldBlock) if nonblocking => Outcome::Done(Ret::err("EAGAIN")),
            Err(RecvError::WouldBlock) => Outcome::WouldBlock,
            Err(RecvError::Conn(_)) => match self.take_error(fd, id) {
                Some(e) => Outcome::Done(Ret::err(conn_errno(e))),
                None => Outcome::Done(Ret::ok(0)),
            },
            Err(RecvError::InvalidHandle(_)) => Outcome::Done(Ret::err("EBADF")),
        })
    }

    fn write(&mut self, call: &Syscall) -> Result<Outcome, Stop> {
        let fd = int_arg(call, 0)?;
        let len = int_arg(call, 2)?;
        let len = usize::try_from(len).map_err(|_| Stop::unsupported("negative write length"))?;
        let Some(s) = self.sockets.get(&fd) else {
            return Ok(Outcome::Done(Ret::err("EBADF")));
        };
        let nonblocking = s.nonblocking;
        let SockKind::Conn(id) = s.kind else {
            return Ok(Outcome::Done(Ret::err("ENOTCONN")));
        };
        let state = self.stack.state(id).unwrap_or(State::Closed);
        if state == State::SynSent {
            // Data before the handshake completes: a blocking socket waits for it; a
            // non-blocking one is refused, as BSD and Linux do.
            return Ok(if nonblocking {
                Outcome::Done(Ret::err("EAGAIN"))
            } else {
                Outcome::WouldBlock
            });
        }
        let done = self.sockets[&fd].written;
        let data = vec![b'x'; len - done];
        Ok(match self.stack.send(id, &data) {
            Ok(n) if done + n == len || nonblocking => {
                self.socket_mut(fd).expect("checked").written = 0;
                Outcome::Done(Ret::ok((done + n) as i64))
            }
            Ok(n) => {
                self.socket_mut(fd).expect("checked").written = done + n;
                Outcome::WouldBlock
            }
            Err(SendError::WouldBlock) if nonblocking => Outcome::Done(Ret::err("EAGAIN")),
            Err(SendError::WouldBlock) => Outcome::WouldBlock,
            Err(SendError::Closing) => Outcome::Done(Ret::err("EPIPE")),
            Err(SendError::Conn(_)) => match self.take_error(fd, id) {
                Some(e) => Outcome::Done(Ret::err(conn_errno(e))),
                None => Outcome::Done(Ret::err("EPIPE")),
            },
            Err(SendError::InvalidHandle(_)) => Outcome::Done(Ret::err("EBADF")),
        })
    }

    fn getsockopt(&mut self, call: &Syscall) -> Result<Ret, Stop> {
        let fd = int_arg(call, 0)?;
        let level = name_arg(call, 1)?;
        let opt = name_arg(call, 2)?;
        let Some(s) = self.sockets.get(&fd).cloned() else {
            return Ok(Ret::err("EBADF"));
        };
        let value = match (level, opt) {
            ("SOL_SOCKET", "SO_ERROR") => {
                let e = match s.kind {
                    SockKind::Conn(id) => self.take_error(fd, id),
                    _ => None,
                };
                match e {
                    Some(e) => Value::Errno(conn_errno(e)),
                    None => Value::Int(0),
                }
            }
            ("SOL_SOCKET", "SO_RCVBUF") => {
                let size = match s.kind {
                    SockKind::Conn(id) => self.stack.info(id).map(|i| i.recv_buffer),
                    _ => None,
                };
                let size = size.unwrap_or(s.opts.recv_buffer(self.stack.config()));
                Value::Int(self.opts.profile.reported_rcvbuf(size) as i64)
            }
            ("SOL_SOCKET", "SO_SNDBUF") => {
                let size = match s.kind {
                    SockKind::Conn(id) => self.stack.info(id).map(|i| i.send_buffer),
                    _ => None,
                };
                let size = size.unwrap_or(s.opts.send_buffer(self.stack.config()));
                Value::Int(self.opts.profile.reported_sndbuf(size) as i64)
            }
            ("SOL_SOCKET", "SO_REUSEADDR") => Value::Int(i64::from(s.reuseaddr)),
            ("IPPROTO_TCP", "TCP_NODELAY") => Value::Int(i64::from(s.opts.nodelay)),
            ("IPPROTO_TCP", "TCP_MAXSEG") => {
                let mss = match s.kind {
                    SockKind::Conn(id) => self.stack.info(id).map(|i| i.mss),
                    _ => None,
                };
                let ours = if self.local_ip.is_ipv4() {
                    self.stack.config().mss_v4()
                } else {
                    self.stack.config().mss_v6()
                };
                let ours = s.opts.max_segment.map_or(ours, |m| ours.min(m));
                Value::Int(i64::from(mss.unwrap_or(ours)))
            }
            _ => return Err(Stop::unsupported(format!("getsockopt {level} {opt}"))),
        };
        match call.args.get(3) {
            Some(Expr::List(items)) if items.len() == 1 => {
                if !value.matches(&items[0]) {
                    return Err(Stop::fail(
                        format!("{opt} = [{}]", items[0]),
                        format!("{opt} = [{}]", value.text()),
                    ));
                }
            }
            Some(Expr::Ellipsis) | None => {}
            Some(other) => return Err(Stop::unsupported(format!("getsockopt value {other}"))),
        }
        Ok(Ret::ok(0))
    }

    fn setsockopt(&mut self, call: &Syscall) -> Result<Ret, Stop> {
        let fd = int_arg(call, 0)?;
        let level = name_arg(call, 1)?;
        let opt = name_arg(call, 2)?;
        let value = int_arg(call, 3)?;
        let Some(s) = self.socket_mut(fd) else {
            return Ok(Ret::err("EBADF"));
        };
        let fresh = s.kind == SockKind::Fresh;
        let size = |v: i64| usize::try_from(v).ok().filter(|&v| v > 0);
        match (level, opt) {
            ("SOL_SOCKET", "SO_REUSEADDR") => s.reuseaddr = value != 0,
            ("IPPROTO_TCP", "TCP_NODELAY") => {
                s.opts.nodelay = value != 0;
                if let SockKind::Conn(id) = s.kind {
                    let on = s.opts.nodelay;
                    let now = self.instant();
                    if self.stack.set_nodelay(now, id, on).is_err() {
                        return Ok(Ret::err("EINVAL"));
                    }
                }
            }
            ("SOL_SOCKET", "SO_RCVBUF" | "SO_SNDBUF") | ("IPPROTO_TCP", "TCP_MAXSEG") if !fresh => {
                return Err(Stop::unsupported(format!(
                    "setsockopt {opt} after connect or listen"
                )))
            }
            ("SOL_SOCKET", "SO_RCVBUF") => match size(value) {
                Some(v) => s.opts.recv_buffer = Some(v),
                None => return Ok(Ret::err("EINVAL")),
            },
            ("SOL_SOCKET", "SO_SNDBUF") => match size(value) {
                Some(v) => s.opts.send_buffer = Some(v),
                None => return Ok(Ret::err("EINVAL")),
            },
            ("IPPROTO_TCP", "TCP_MAXSEG") => match u16::try_from(value) {
                Ok(v) if v >= 64 => s.opts.max_segment = Some(v),
                _ => return Ok(Ret::err("EINVAL")),
            },
            _ => return Err(Stop::unsupported(format!("setsockopt {level} {opt}"))),
        }
        Ok(Ret::ok(0))
    }
}

/// A value returned through a pointer argument.
enum Value {
    Int(i64),
    Errno(&'static str),
}

impl Value {
    fn matches(&self, want: &Expr) -> bool {
        match (self, want) {
            (_, Expr::Ellipsis) => true,
            (Value::Int(v), Expr::Int(w)) => v == w,
            (Value::Errno(e), Expr::Name(w)) => same_errno(e, w),
            _ => false,
        }
    }

    fn text(&self) -> String {
        match self {
            Value::Int(v) => v.to_string(),
            Value::Errno(e) => (*e).to_string(),
        }
    }
}

/// `O_RDWR | O_NONBLOCK` as bits.
fn flag_bits(e: Option<&Expr>, o_rdwr: i64, o_nonblock: i64) -> Result<i64, Stop> {
    match e {
        Some(Expr::Int(v)) => Ok(*v),
        Some(Expr::Name(n)) => match n.as_str() {
            "O_RDWR" => Ok(o_rdwr),
            "O_NONBLOCK" => Ok(o_nonblock),
            "O_RDONLY" => Ok(0),
            other => Err(Stop::unsupported(format!("fcntl flag {other}"))),
        },
        Some(Expr::Or(items)) => items.iter().try_fold(0, |acc, item| {
            flag_bits(Some(item), o_rdwr, o_nonblock).map(|b| acc | b)
        }),
        Some(other) => Err(Stop::unsupported(format!("fcntl flags {other}"))),
        None => Err(Stop::unsupported("fcntl F_SETFL without flags")),
    }
}

fn check_ret(call: &Syscall, got: &Ret) -> Result<(), Stop> {
    let want_value = match &call.ret {
        Expr::Ellipsis => None,
        Expr::Int(v) => Some(*v),
        other => return Err(Stop::unsupported(format!("return value {other}"))),
    };
    let value_ok = match want_value {
        Some(v) => v == got.value,
        None => true,
    };
    let errno_ok = match (&call.errno, got.errno) {
        (Some(w), Some(g)) => same_errno(w, g),
        (None, None) => true,
        (None, Some(_)) => true,
        (Some(_), None) => false,
    };
    if value_ok && errno_ok {
        return Ok(());
    }
    let want = match (&call.ret, &call.errno) {
        (r, Some(e)) => format!("= {r} {e}"),
        (r, None) => format!("= {r}"),
    };
    Err(Stop::fail(want, got.text()))
}
