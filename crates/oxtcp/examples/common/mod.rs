//! The HTTP/1.1 client side shared by `http_get` and `http_get_tokio` (and the netns tests):
//! the URL, the request, and a sans-IO response reader that both clients feed with whatever
//! their socket returns. No DNS: the host is an IP literal.
// Each user takes the half it needs: the blocking or the async `get`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
#[cfg(feature = "tokio")]
use std::time::Duration;

#[cfg(feature = "tokio")]
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// `http://HOST[:PORT][/PATH]` with HOST an IPv4 address or a bracketed IPv6 address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub addr: SocketAddr,
    /// HOST[:PORT] as written, for the Host header.
    pub authority: String,
    pub path: String,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, String> {
        let rest = s
            .strip_prefix("http://")
            .ok_or_else(|| format!("{s:?}: only http:// URLs are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (h, after) = v6
                    .split_once(']')
                    .ok_or_else(|| format!("{authority:?}: unclosed '['"))?;
                (h, after.strip_prefix(':'))
            }
            None => match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            },
        };
        let ip: IpAddr = host
            .parse()
            .map_err(|_| format!("{host:?}: the host must be an IP address (no DNS here)"))?;
        let port = match port {
            None => 80,
            Some(p) => p.parse().map_err(|_| format!("{p:?} is not a port"))?,
        };
        Ok(Url {
            addr: SocketAddr::new(ip, port),
            authority: authority.to_string(),
            path: path.to_string(),
        })
    }

    /// A GET request that asks the server to close the connection after the response.
    pub fn get_request(&self) -> Vec<u8> {
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: oxtcp-http_get\r\nAccept: */*\r\n\
             Connection: close\r\n\r\n",
            self.path, self.authority
        )
        .into_bytes()
    }
}

/// The status line and the headers that matter for reading the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub reason: String,
    pub content_length: Option<u64>,
}

/// Longest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// Reads one response: feed it the bytes from the socket, write out the body bytes it returns,
/// stop when [`Response::complete`] says so or at end of stream, then call
/// [`Response::finish`]. A status other than 2xx is an error.
#[derive(Debug, Default)]
pub struct Response {
    pending: Vec<u8>,
    head: Option<Head>,
    body: u64,
}

impl Response {
    pub fn new() -> Response {
        Response::default()
    }

    /// The body bytes within `data` (none until the head is complete).
    pub fn feed<'a>(&'a mut self, data: &'a [u8]) -> Result<&'a [u8], String> {
        if self.head.is_some() {
            let n = self.take(data.len());
            return Ok(&data[..n]);
        }
        self.pending.extend_from_slice(data);
        loop {
            let Some(end) = self.pending.windows(4).position(|w| w == b"\r\n\r\n") else {
                if self.pending.len() > MAX_HEAD {
                    return Err(format!("response head longer than {MAX_HEAD} bytes"));
                }
                return Ok(&[]);
            };
            let head = parse_head(&self.pending[..end])?;
            // 1xx responses are interim: the real one follows.
            if (100..200).contains(&head.status) {
                self.pending.drain(..end + 4);
                continue;
            }
            if !(200..300).contains(&head.status) {
                return Err(format!("HTTP {} {}", head.status, head.reason));
            }
            self.head = Some(head);
            let start = end + 4;
            let n = self.take(self.pending.len() - start);
            return Ok(&self.pending[start..start + n]);
        }
    }

    /// Count up to `avail` more body bytes, never past Content-Length.
    fn take(&mut self, avail: usize) -> usize {
        let left = match self.head.as_ref().and_then(|h| h.content_length) {
            Some(len) => len - self.body,
            None => u64::MAX,
        };
        let n = (avail as u64).min(left);
        self.body += n;
        n as usize
    }

    /// The head, once it has arrived.
    pub fn head(&self) -> Option<&Head> {
        self.head.as_ref()
    }

    /// The whole body has arrived (by Content-Length); a body without one ends at EOF.
    pub fn complete(&self) -> bool {
        self.head
            .as_ref()
            .and_then(|h| h.content_length)
            .is_some_and(|len| self.body == len)
    }

    /// Call at end of stream or once complete: the body's length, or why it is short.
    pub fn finish(&self) -> Result<u64, String> {
        match &self.head {
            None => Err("connection closed before a complete response head".into()),
            Some(Head {
                content_length: Some(len),
                ..
            }) if self.body < *len => Err(format!(
                "connection closed after {} of {len} body bytes",
                self.body
            )),
            Some(_) => Ok(self.body),
        }
    }
}

fn parse_head(raw: &[u8]) -> Result<Head, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "response head is not UTF-8".to_string())?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP/1.x response: {status_line:?}"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let reason = parts.next().unwrap_or_default().to_string();
    let mut content_length = None;
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let len: u64 = value
                .parse()
                .map_err(|_| format!("bad Content-Length {value:?}"))?;
            if content_length.is_some_and(|l| l != len) {
                return Err("conflicting Content-Length headers".into());
            }
            content_length = Some(len);
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && !value.eq_ignore_ascii_case("identity")
        {
            return Err(format!("Transfer-Encoding {value:?} is not supported"));
        }
    }
    // These never have a body, whatever the headers say.
    if status == 204 || status == 304 {
        content_length = Some(0);
    }
    Ok(Head {
        status,
        reason,
        content_length,
    })
}

/// GET `url` over the connected stream `s` and write the body to `out`; its length, or why
/// it failed. Reads wait as long as `s`'s read timeout allows.
pub fn get(mut s: impl Read + Write, url: &Url, out: &mut impl Write) -> Result<u64, String> {
    s.write_all(&url.get_request())
        .map_err(|e| format!("send request: {e}"))?;
    let mut resp = Response::new();
    let mut buf = vec![0u8; 65536];
    while !resp.complete() {
        let n = s.read(&mut buf).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        out.write_all(resp.feed(&buf[..n])?)
            .map_err(|e| format!("write body: {e}"))?;
    }
    out.flush().map_err(|e| format!("write body: {e}"))?;
    resp.finish()
}

/// [`get`] for async streams; a read that waits longer than `read_timeout` fails.
#[cfg(feature = "tokio")]
pub async fn get_async(
    mut s: impl AsyncRead + AsyncWrite + Unpin,
    url: &Url,
    out: &mut (impl AsyncWrite + Unpin),
    read_timeout: Duration,
) -> Result<u64, String> {
    s.write_all(&url.get_request())
        .await
        .map_err(|e| format!("send request: {e}"))?;
    let mut resp = Response::new();
    let mut buf = vec![0u8; 65536];
    while !resp.complete() {
        let n = tokio::time::timeout(read_timeout, s.read(&mut buf))
            .await
            .map_err(|_| format!("read: nothing for {read_timeout:?}"))?
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        out.write_all(resp.feed(&buf[..n])?)
            .await
            .map_err(|e| format!("write body: {e}"))?;
    }
    out.flush().await.map_err(|e| format!("write body: {e}"))?;
    resp.finish()
}

/// Run an example's main: usage errors exit 2, other errors print `NAME: error` and exit 1.
pub fn exit_on_error(name: &str, r: Result<(), String>) -> std::process::ExitCode {
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `TUN KERNEL_ADDR/LEN URL` from the command line, or a usage message and exit 2.
pub fn args(name: &str) -> (String, String, Url) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [tun, cidr, url] = &args[..] else {
        eprintln!("usage: {name} TUN KERNEL_ADDR/LEN http://HOST:PORT/PATH");
        std::process::exit(2);
    };
    match Url::parse(url) {
        Ok(u) => (tun.clone(), cidr.clone(), u),
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("http://198.18.0.1:8000/a/b").unwrap();
        assert_eq!(u.addr, "198.18.0.1:8000".parse().unwrap());
        assert_eq!(u.path, "/a/b");
        let u = Url::parse("http://[fd00:198:18::2]/").unwrap();
        assert_eq!(u.addr, "[fd00:198:18::2]:80".parse().unwrap());
        assert_eq!(u.authority, "[fd00:198:18::2]");
        assert_eq!(Url::parse("http://198.18.0.1").unwrap().path, "/");
        assert!(Url::parse("https://198.18.0.1/").is_err());
        assert!(Url::parse("http://example.com/").is_err());
    }

    #[test]
    fn body_by_content_length_across_feeds() {
        let mut r = Response::new();
        assert_eq!(
            r.feed(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nConte")
                .unwrap(),
            b""
        );
        assert_eq!(r.feed(b"nt-Length: 5\r\n\r\nab").unwrap(), b"ab");
        assert!(!r.complete());
        assert!(r.finish().is_err());
        assert_eq!(r.feed(b"cdeEXTRA").unwrap(), b"cde");
        assert!(r.complete());
        assert_eq!(r.finish(), Ok(5));
    }

    #[test]
    fn body_to_eof_and_errors() {
        let mut r = Response::new();
        assert_eq!(r.feed(b"HTTP/1.0 200 OK\r\n\r\nxyz").unwrap(), b"xyz");
        assert!(!r.complete());
        assert_eq!(r.finish(), Ok(3));
        let mut r = Response::new();
        assert_eq!(
            r.feed(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
            Err("HTTP 404 Not Found".to_string())
        );
        assert!(Response::new()
            .feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .is_err());
        assert!(Response::new().feed(b"SSH-2.0-x\r\n\r\n").is_err());
        assert!(Response::new().finish().is_err());
    }
}
