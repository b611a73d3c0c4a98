//! The little HTTP/1.1 that `serve --mode http` and `connect --get` speak: message heads,
//! and the deterministic body the server sends so a client can check what it received.

use std::io::{self, Read, Write};

/// Longest message head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// The body pattern: byte `i` of every response is `BODY_PATTERN[i % 63]`.
pub const BODY_PATTERN: &[u8; 63] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n";

/// A request or status line with its headers (names lower-cased).
#[derive(Debug, PartialEq, Eq)]
pub struct Head {
    /// `GET /path HTTP/1.1` or `HTTP/1.1 200 OK`, split on spaces (at most three parts).
    pub start: Vec<String>,
    /// Header fields in order.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Content-Length, if present and valid.
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")?.trim().parse().ok()
    }
}

/// Reads heads off a stream, keeping bytes read past a head for whoever reads next.
#[derive(Default)]
pub struct HeadReader {
    /// Bytes read but not yet consumed.
    pub buf: Vec<u8>,
}

impl HeadReader {
    /// The next head; `Ok(None)` at a clean end of stream before any byte of one.
    pub fn read_head(&mut self, r: &mut impl Read) -> io::Result<Option<Head>> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                return parse_head(&head[..end]).map(Some);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(invalid("message head longer than 16 KiB"));
            }
            let n = r.read(&mut chunk)?;
            if n == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "stream ended inside a message head",
                    ))
                };
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(raw: &[u8]) -> io::Result<Head> {
    let text = std::str::from_utf8(raw).map_err(|_| invalid("message head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let start: Vec<String> = lines
        .next()
        .unwrap_or("")
        .splitn(3, ' ')
        .map(str::to_string)
        .collect();
    if start.len() < 2 {
        return Err(invalid("malformed start line"));
    }
    let mut headers = Vec::new();
    for l in lines {
        let (n, v) = l
            .split_once(':')
            .ok_or_else(|| invalid("malformed header line"))?;
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    Ok(Head { start, headers })
}

/// Write `len` bytes of the body pattern.
pub fn write_body(w: &mut impl Write, len: u64) -> io::Result<()> {
    let mut block = Vec::with_capacity(63 * 1024);
    for _ in 0..1024 {
        block.extend_from_slice(BODY_PATTERN);
    }
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        w.write_all(&block[..n])?;
        left -= n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_split_from_what_follows() {
        let mut r =
            &b"GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n"[..];
        let mut h = HeadReader::default();
        let head = h.read_head(&mut r).unwrap().unwrap();
        assert_eq!(head.start, vec!["GET", "/x", "HTTP/1.1"]);
        assert_eq!(head.header("host"), Some("a"));
        assert_eq!(head.content_length(), Some(3));
        assert_eq!(&h.buf[..3], b"abc");
        h.buf.drain(..3);
        assert_eq!(h.read_head(&mut r).unwrap().unwrap().start[1], "/");
        assert!(h.read_head(&mut r).unwrap().is_none());
    }

    #[test]
    fn truncated_or_garbled_heads_are_errors() {
        let mut h = HeadReader::default();
        assert!(h.read_head(&mut &b"GET / HTTP/1.1\r\nHo"[..]).is_err());
        let mut h = HeadReader::default();
        assert!(h.read_head(&mut &b"NONSENSE\r\n\r\n"[..]).is_err());
        let mut h = HeadReader::default();
        assert!(h
            .read_head(&mut &b"GET / HTTP/1.1\r\nno colon\r\n\r\n"[..])
            .is_err());
    }

    #[test]
    fn body_is_the_pattern_for_any_length() {
        let mut out = Vec::new();
        write_body(&mut out, 200_000).unwrap();
        assert_eq!(out.len(), 200_000);
        assert!(out
            .iter()
            .enumerate()
            .all(|(i, b)| *b == BODY_PATTERN[i % 63]));
    }
}
