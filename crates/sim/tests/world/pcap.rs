//! pcap output: every datagram as it left its sender, at its virtual send time, read back.

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;
use std::time::Duration;

use oxtcp_sim::{LinkConfig, SimError};
use pcap_file::pcap::PcapReader;
use pcap_file::DataLink;

use crate::mock::*;

/// A pcap sink the test can still read after handing it to the world.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn pcap_has_every_sent_packet_at_its_send_time_lost_ones_too() {
    let cfg = LinkConfig::lossy(0.5).with_latency(Duration::from_micros(700));
    let a = Mock::at(A).sending(B, 20, us(250), Duration::from_micros(1500), 120);
    let (mut world, a, b) = pair_with(3, cfg, a, Mock::echo(B));
    let sink = Shared::default();
    world.record_pcap(sink.clone()).unwrap();
    world.run_until_idle(1000).unwrap();
    world.finish_pcap().unwrap();

    let bytes = sink.0.borrow().clone();
    if let Ok(path) = std::env::var("OXTCP_PCAP_OUT") {
        std::fs::write(path, &bytes).unwrap();
    }
    let mut reader = PcapReader::new(&bytes[..]).unwrap();
    assert_eq!(reader.header().datalink, DataLink::RAW);
    let mut captured = Vec::new();
    while let Some(p) = reader.next_packet() {
        let p = p.unwrap();
        assert_eq!(p.orig_len as usize, p.data.len());
        captured.push((us(p.timestamp.as_micros() as u64), p.data.into_owned()));
    }
    // a's 20 sends, then b's echo of each one that arrived, interleaved in send order.
    let mut expected: Vec<_> = world.node(a).sent.clone();
    let echoes = world.node(b).received.iter().map(|(t, p)| {
        let mut e = p.clone();
        e[12..20].rotate_left(4);
        (*t, e)
    });
    expected.extend(echoes);
    expected.sort_by_key(|(t, _)| *t);
    assert_eq!(captured.len(), expected.len());
    assert_eq!(captured, expected);
    assert!(
        world.link_stats(a, b).lost > 0,
        "lost packets were captured as sent"
    );
}

/// A sink that accepts the file header and then fails.
struct Failing(usize);

impl Write for Failing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.0 < buf.len() {
            return Err(io::Error::other("disk full"));
        }
        self.0 -= buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_pcap_write_error_stops_recording_and_is_reported() {
    let (mut world, _, b) = pair(0, LinkConfig::default(), 3);
    world.record_pcap(Failing(24)).unwrap();
    world.run_until_idle(100).unwrap();
    assert_eq!(world.node(b).received.len(), 3, "the network carries on");
    assert!(matches!(world.finish_pcap(), Err(SimError::Pcap(_))));
    assert!(world.finish_pcap().is_ok(), "nothing left to report");
}
