//! A tap that records every datagram crossing a device, both directions, to a pcap file
//! (LINKTYPE_RAW) stamped with wall-clock time, so Wireshark, tcpdump and `oxtcp trace` can
//! read a real session. Recording stops at the first write error; the traffic does not.

use std::io::{self, Write};
use std::os::fd::RawFd;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use oxtcp_sim::PcapRecorder;

use super::Device;

/// Records what crosses `inner`.
pub struct PcapTap<D> {
    inner: D,
    recorder: Option<PcapRecorder<Box<dyn Write + Send>>>,
}

impl<D: Device> PcapTap<D> {
    /// Write a pcap header to `out` and record from now on.
    pub fn new(inner: D, out: Box<dyn Write + Send>) -> io::Result<PcapTap<D>> {
        let recorder = PcapRecorder::new(out).map_err(io::Error::other)?;
        Ok(PcapTap {
            inner,
            recorder: Some(recorder),
        })
    }

    /// The first write error, if recording stopped.
    pub fn error(&self) -> Option<String> {
        self.recorder.as_ref()?.error().map(|e| e.to_string())
    }

    fn record(&mut self, packet: &[u8]) {
        if let Some(r) = self.recorder.as_mut() {
            let unix = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            r.record(
                oxtcp_core::Instant::from_micros(unix.as_micros() as u64),
                packet,
            );
        }
    }
}

impl<D> Drop for PcapTap<D> {
    fn drop(&mut self) {
        if let Some(r) = self.recorder.take() {
            let _ = r.finish();
        }
    }
}

impl<D: Device> Device for PcapTap<D> {
    fn recv(&mut self, now: Instant, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let r = self.inner.recv(now, buf)?;
        if let Some(n) = r {
            self.record(&buf[..n]);
        }
        Ok(r)
    }

    fn send(&mut self, now: Instant, packet: &[u8]) -> io::Result<()> {
        self.record(packet);
        self.inner.send(now, packet)
    }

    fn flush(&mut self, now: Instant) -> io::Result<()> {
        self.inner.flush(now)
    }

    fn poll_at(&self) -> Option<Instant> {
        self.inner.poll_at()
    }

    fn fd(&self) -> RawFd {
        self.inner.fd()
    }

    fn mtu(&self) -> usize {
        self.inner.mtu()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::MemoryDevice;
    use pcap_file::pcap::PcapReader;
    use pcap_file::DataLink;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn records_both_directions_in_order() {
        let (a, mut b) = MemoryDevice::pair(1500).unwrap();
        let out = Shared::default();
        let mut tap = PcapTap::new(a, Box::new(out.clone())).unwrap();
        let now = Instant::now();
        tap.send(now, b"out-1").unwrap();
        b.send(now, b"in-1").unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(tap.recv(now, &mut buf).unwrap(), Some(4));
        drop(tap);
        let bytes = out.0.lock().unwrap().clone();
        let mut r = PcapReader::new(&bytes[..]).unwrap();
        assert_eq!(r.header().datalink, DataLink::RAW);
        let mut seen = Vec::new();
        while let Some(p) = r.next_packet() {
            seen.push(p.unwrap().data.to_vec());
        }
        assert_eq!(seen, vec![b"out-1".to_vec(), b"in-1".to_vec()]);
    }
}
