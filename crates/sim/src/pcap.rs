//! Recording datagrams to a pcap file (LINKTYPE_RAW: IPv4 or IPv6 with no link header). The
//! world stamps them with virtual time; the runtime's pcap tap uses the same recorder with
//! wall-clock time.

use std::io::Write;
use std::time::Duration;

use oxtcp_core::Instant;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

use crate::error::SimError;

/// A pcap sink that stops at its first write error and keeps that error for later.
pub struct PcapRecorder<W: Write> {
    writer: Option<PcapWriter<W>>,
    error: Option<SimError>,
}

impl<W: Write> PcapRecorder<W> {
    /// Write the file header to `w`.
    pub fn new(w: W) -> Result<Self, SimError> {
        let header = PcapHeader {
            datalink: DataLink::RAW,
            ts_resolution: TsResolution::MicroSecond,
            snaplen: 65535,
            endianness: Endianness::native(),
            ..PcapHeader::default()
        };
        Ok(PcapRecorder {
            writer: Some(PcapWriter::with_header(w, header)?),
            error: None,
        })
    }

    /// Append one datagram stamped `time` (microseconds since the epoch of the capture's
    /// clock: the world's start, or the Unix epoch for a wall clock).
    pub fn record(&mut self, time: Instant, packet: &[u8]) {
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        let ts = Duration::from_micros(time.as_micros());
        let orig_len = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        if let Err(e) = writer.write_packet(&PcapPacket::new(ts, orig_len, packet)) {
            self.error = Some(e.into());
            self.writer = None;
        }
    }

    /// The first write error, if recording stopped.
    pub fn error(&self) -> Option<&SimError> {
        self.error.as_ref()
    }

    /// Flush the sink and stop recording; the first error met while recording, if any.
    pub fn finish(mut self) -> Result<(), SimError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if let Some(writer) = self.writer.take() {
            writer.into_writer().flush()?;
        }
        Ok(())
    }
}
