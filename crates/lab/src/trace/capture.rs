//! Reading a capture file: classic pcap (either byte order, µs or ns timestamps) or pcapng
//! (any number of sections and interfaces, each interface's `if_tsresol`), with the link
//! types RAW/IPV4/IPV6, ETHERNET (with 802.1Q tags), LINUX_SLL, LINUX_SLL2 and NULL/LOOP.
//! Each frame is reduced to its IP datagram; frames that carry no IP are skipped. The whole
//! file is parsed from memory so a damaged one is reported with the byte offset where the
//! damage was met.

use std::fmt;
use std::time::Duration;

use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::DataLink;

/// A truncated or corrupt capture: where, and what was wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureError {
    /// Byte offset in the file of the record (or header) that could not be read.
    pub offset: usize,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "truncated or corrupt capture at byte offset {}: {}",
            self.offset, self.message
        )
    }
}

impl std::error::Error for CaptureError {}

/// One captured IP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Capture timestamp in microseconds (since the Unix epoch, or the simulator's start).
    pub time_us: u64,
    /// Byte offset of the frame's record in the file.
    pub offset: usize,
    /// The IP datagram (link header removed).
    pub ip: Vec<u8>,
}

const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// Read every IP datagram of a pcap or pcapng capture held in memory.
pub fn read_capture(bytes: &[u8]) -> Result<Vec<Frame>, CaptureError> {
    if bytes.len() < 4 {
        return Err(CaptureError {
            offset: 0,
            message: format!("{} bytes is too short for a capture header", bytes.len()),
        });
    }
    if bytes[..4] == PCAPNG_MAGIC {
        read_pcapng(bytes)
    } else {
        read_pcap(bytes)
    }
}

fn err(bytes: &[u8], rest: &[u8], e: impl fmt::Display) -> CaptureError {
    CaptureError {
        offset: bytes.len() - rest.len(),
        message: e.to_string(),
    }
}

fn read_pcap(bytes: &[u8]) -> Result<Vec<Frame>, CaptureError> {
    let (mut rest, parser) = PcapParser::new(bytes).map_err(|e| err(bytes, bytes, e))?;
    let link = parser.header().datalink;
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let (next, pkt) = parser.next_packet(rest).map_err(|e| err(bytes, rest, e))?;
        if let Some(ip) = strip_link(link, &pkt.data) {
            frames.push(Frame {
                time_us: duration_us(pkt.timestamp),
                offset,
                ip: ip.to_vec(),
            });
        }
        rest = next;
    }
    Ok(frames)
}

fn duration_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Ticks per second for an `if_tsresol` value (RFC-draft pcapng §4.2): 10^-n or 2^-n.
fn ticks_per_sec(tsresol: u8) -> Option<u128> {
    let n = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u128.checked_pow(n)
    } else {
        2u128.checked_pow(n)
    }
}

fn read_pcapng(bytes: &[u8]) -> Result<Vec<Frame>, CaptureError> {
    let (mut rest, mut parser) = PcapNgParser::new(bytes).map_err(|e| err(bytes, bytes, e))?;
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let (next, block) = parser.next_block(rest).map_err(|e| err(bytes, rest, e))?;
        let (iface, ticks, data) = match &block {
            // pcap-file returns the raw 64-bit timestamp as nanoseconds; it is in ticks.
            Block::EnhancedPacket(p) => (p.interface_id, p.timestamp.as_nanos(), &p.data),
            Block::SimplePacket(p) => (0, 0, &p.data),
            _ => {
                rest = next;
                continue;
            }
        };
        let Some(idb) = parser.interfaces().get(iface as usize) else {
            return Err(CaptureError {
                offset,
                message: format!("packet names interface {iface}, which was never described"),
            });
        };
        let mut per_sec = 1_000_000u128;
        for opt in &idb.options {
            if let InterfaceDescriptionOption::IfTsResol(r) = opt {
                per_sec = ticks_per_sec(*r).filter(|&t| t > 0).ok_or(CaptureError {
                    offset,
                    message: format!("interface {iface} has an impossible if_tsresol {r}"),
                })?;
            }
        }
        let time_us = u64::try_from(ticks.saturating_mul(1_000_000) / per_sec).unwrap_or(u64::MAX);
        if let Some(ip) = strip_link(idb.linktype, data) {
            frames.push(Frame {
                time_us,
                offset,
                ip: ip.to_vec(),
            });
        }
        rest = next;
    }
    Ok(frames)
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: [u16; 2] = [0x8100, 0x88a8];

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn ip_by_ethertype(ethertype: u16, payload: &[u8]) -> Option<&[u8]> {
    matches!(ethertype, ETHERTYPE_IPV4 | ETHERTYPE_IPV6).then_some(payload)
}

/// The IP datagram inside a link-layer frame, or `None` for a frame that carries no IP.
pub fn strip_link(link: DataLink, frame: &[u8]) -> Option<&[u8]> {
    match link {
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => Some(frame),
        DataLink::ETHERNET => {
            let mut at = 12;
            let mut ethertype = be16(frame, at)?;
            while ETHERTYPE_VLAN.contains(&ethertype) {
                at += 4;
                ethertype = be16(frame, at)?;
            }
            ip_by_ethertype(ethertype, frame.get(at + 2..)?)
        }
        // Linux "cooked" v1: 16-byte header, protocol (an ethertype) in the last two bytes.
        DataLink::LINUX_SLL => ip_by_ethertype(be16(frame, 14)?, frame.get(16..)?),
        // Linux "cooked" v2: 20-byte header, protocol first.
        DataLink::LINUX_SLL2 => ip_by_ethertype(be16(frame, 0)?, frame.get(20..)?),
        // BSD loopback: a 4-byte address family in the capturing host's byte order.
        DataLink::NULL | DataLink::LOOP => {
            let family = frame.get(..4)?;
            let ip = frame.get(4..)?;
            let v = ip.first()? >> 4;
            let fam_ok = family.iter().any(|&b| b != 0);
            (fam_ok && (v == 4 || v == 6)).then_some(ip)
        }
        _ => None,
    }
}
