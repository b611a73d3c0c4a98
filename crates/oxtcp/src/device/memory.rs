//! An in-process point-to-point link: what one end sends, the other end receives, in order,
//! with nothing lost. Two runtimes joined by it talk TCP without a kernel in between, so the
//! socket APIs can be tested without privileges; wrap an end in a `FaultyDevice` for faults.

use std::collections::VecDeque;
use std::io;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::sys::EventFd;

/// Datagrams a direction holds before further ones are dropped, as a full NIC ring would.
const QUEUE_LIMIT: usize = 4096;

#[derive(Debug)]
struct Direction {
    queue: Mutex<VecDeque<Vec<u8>>>,
    ready: EventFd,
}

/// One end of an in-memory link.
#[derive(Debug)]
pub struct MemoryDevice {
    rx: Arc<Direction>,
    tx: Arc<Direction>,
    mtu: usize,
}

impl MemoryDevice {
    /// Both ends of a new link carrying datagrams of up to `mtu` bytes.
    pub fn pair(mtu: usize) -> io::Result<(MemoryDevice, MemoryDevice)> {
        let a = Arc::new(Direction {
            queue: Mutex::new(VecDeque::new()),
            ready: EventFd::new()?,
        });
        let b = Arc::new(Direction {
            queue: Mutex::new(VecDeque::new()),
            ready: EventFd::new()?,
        });
        Ok((
            MemoryDevice {
                rx: a.clone(),
                tx: b.clone(),
                mtu,
            },
            MemoryDevice { rx: b, tx: a, mtu },
        ))
    }
}

fn lock(d: &Direction) -> std::sync::MutexGuard<'_, VecDeque<Vec<u8>>> {
    // A peer thread that panicked while holding the queue leaves plain data behind.
    d.queue.lock().unwrap_or_else(|e| e.into_inner())
}

impl super::Device for MemoryDevice {
    fn recv(&mut self, _now: Instant, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let mut q = lock(&self.rx);
        let Some(p) = q.pop_front() else {
            self.rx.ready.drain();
            // A send between the pop and the drain re-signals, so nothing is missed.
            if !q.is_empty() {
                self.rx.ready.signal();
            }
            return Ok(None);
        };
        let n = p.len().min(buf.len());
        buf[..n].copy_from_slice(&p[..n]);
        Ok(Some(n))
    }

    fn send(&mut self, _now: Instant, packet: &[u8]) -> io::Result<()> {
        if packet.len() > self.mtu {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "datagram of {} bytes exceeds MTU {}",
                    packet.len(),
                    self.mtu
                ),
            ));
        }
        let mut q = lock(&self.tx);
        if q.len() >= QUEUE_LIMIT {
            return Err(io::Error::new(io::ErrorKind::WouldBlock, "link queue full"));
        }
        q.push_back(packet.to_vec());
        drop(q);
        self.tx.ready.signal();
        Ok(())
    }

    fn fd(&self) -> RawFd {
        self.rx.ready.fd()
    }

    fn mtu(&self) -> usize {
        self.mtu
    }
}

#[cfg(test)]
mod tests {
    use super::super::Device;
    use super::*;

    #[test]
    fn carries_datagrams_in_order_both_ways() {
        let (mut a, mut b) = MemoryDevice::pair(1500).unwrap();
        let now = Instant::now();
        let mut buf = [0u8; 64];
        assert_eq!(b.recv(now, &mut buf).unwrap(), None);
        a.send(now, b"one").unwrap();
        a.send(now, b"two").unwrap();
        b.send(now, b"back").unwrap();
        assert_eq!(b.recv(now, &mut buf).unwrap(), Some(3));
        assert_eq!(&buf[..3], b"one");
        assert_eq!(b.recv(now, &mut buf).unwrap(), Some(3));
        assert_eq!(&buf[..3], b"two");
        assert_eq!(b.recv(now, &mut buf).unwrap(), None);
        assert_eq!(a.recv(now, &mut buf).unwrap(), Some(4));
        assert!(a.send(now, &[0u8; 1501]).is_err());
    }
}
