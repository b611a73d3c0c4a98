//! Packet lines: building inbound segments from a script line, and matching what the stack
//! sends against an outbound line. Sequence numbers in a script count from each side's ISN.

use std::fmt::Write as _;

use oxtcp_wire::{
    emit_packet, parse_packet, SackBlock, SackBlocks, TcpFlags, TcpOption, TcpOptionIter,
    TcpOptions, TcpRepr, Timestamps,
};

use crate::ast::{PacketSpec, SeqSpec, TcpOpt};
use crate::run::Runner;
use crate::verdict::Stop;

/// The flag letters of a packet line as TCP flags.
fn parse_flags(s: &str) -> Result<TcpFlags, Stop> {
    let mut f = TcpFlags::EMPTY;
    for c in s.chars() {
        f.insert(match c {
            'S' => TcpFlags::SYN,
            'F' => TcpFlags::FIN,
            'R' => TcpFlags::RST,
            'P' => TcpFlags::PSH,
            '.' => TcpFlags::ACK,
            'U' => TcpFlags::URG,
            'E' => TcpFlags::ECE,
            'W' => TcpFlags::CWR,
            other => return Err(Stop::unsupported(format!("TCP flag '{other}'"))),
        });
    }
    Ok(f)
}

/// TCP flags in packetdrill's letters (`S.`, `F.`, `R`, `.`).
fn flag_letters(f: TcpFlags) -> String {
    let mut s = String::new();
    for (flag, c) in [
        (TcpFlags::SYN, 'S'),
        (TcpFlags::FIN, 'F'),
        (TcpFlags::RST, 'R'),
        (TcpFlags::PSH, 'P'),
        (TcpFlags::URG, 'U'),
        (TcpFlags::ECE, 'E'),
        (TcpFlags::CWR, 'W'),
        (TcpFlags::ACK, '.'),
    ] {
        if f.contains(flag) {
            s.push(c);
        }
    }
    s
}

impl Runner<'_> {
    /// The stack's ISN in script terms. Until the stack's first SYN shows the real one it is
    /// taken as 0, as packetdrill does: an RST to a closed port then reads `R. 0:0(0)`.
    fn local_isn(&mut self) -> u32 {
        *self.local_isn.get_or_insert(0)
    }

    /// An inbound line: build the segment and hand it to the stack.
    pub(crate) fn inject(&mut self, spec: &PacketSpec) -> Result<(), Stop> {
        let flags = parse_flags(&spec.flags)?;
        let SeqSpec::Range { start, len, .. } = spec.seq else {
            return Err(Stop::unsupported(
                "'...' sequence number on an inbound packet",
            ));
        };
        let local_isn = self.local_isn();
        let mut options = TcpOptions::default();
        for opt in spec.options.iter().flatten() {
            match opt {
                TcpOpt::Nop | TcpOpt::Eol => {}
                TcpOpt::Mss(m) => options.mss = Some(*m),
                TcpOpt::WScale(w) => options.window_scale = Some(*w),
                TcpOpt::SackOk => options.sack_permitted = true,
                TcpOpt::Sack(blocks) => {
                    let mut sb = SackBlocks::new();
                    for &(l, r) in blocks {
                        let block = SackBlock {
                            left: local_isn.wrapping_add(l),
                            right: local_isn.wrapping_add(r),
                        };
                        if !sb.push(block) {
                            return Err(Stop::unsupported("more than 4 SACK blocks"));
                        }
                    }
                    options.sack_blocks = sb;
                }
                TcpOpt::Timestamp { val, ecr } => {
                    options.timestamps = Some(Timestamps {
                        tsval: *val,
                        tsecr: *ecr,
                    })
                }
            }
        }
        let window = match spec.win {
            Some(w) => u16::try_from(w)
                .map_err(|_| Stop::unsupported(format!("window {w} beyond 65535")))?,
            None => 65535,
        };
        let repr = TcpRepr {
            src_port: self.tuple.remote.port(),
            dst_port: self.tuple.local.port(),
            seq: self.remote_isn.wrapping_add(start),
            ack: match spec.ack {
                Some(a) => local_isn.wrapping_add(a),
                None => 0,
            },
            flags,
            window,
            urgent: 0,
            options,
        };
        let payload = vec![0u8; len as usize];
        let mut buf = vec![0u8; 120 + payload.len()];
        let n = emit_packet(
            &mut buf,
            self.tuple.remote.ip(),
            self.tuple.local.ip(),
            64,
            &repr,
            &[&payload],
        )
        .map_err(|e| Stop::unsupported(format!("cannot build the packet: {e}")))?;
        self.stack.handle_packet(self.instant(), &buf[..n]);
        Ok(())
    }

    /// Compare a packet the stack sent with an outbound line.
    pub(crate) fn match_packet(&mut self, spec: &PacketSpec, bytes: &[u8]) -> Result<(), Stop> {
        let expected = parse_flags(&spec.flags)?;
        let seg = parse_packet(bytes)
            .map_err(|e| Stop::fail("a well-formed packet", format!("unparseable: {e}")))?;
        let mismatch = |what: &str, runner: &Runner<'_>| {
            Stop::fail(
                format!("{what} as in the script line"),
                format!("{} ({what} differs)", runner.describe(bytes)),
            )
        };
        if seg.ip.src() != self.tuple.local.ip()
            || seg.ip.dst() != self.tuple.remote.ip()
            || seg.tcp.src_port != self.tuple.local.port()
            || seg.tcp.dst_port != self.tuple.remote.port()
        {
            return Err(Stop::fail(
                format!(
                    "a packet from {} to {}",
                    self.tuple.local, self.tuple.remote
                ),
                format!(
                    "{} from {}:{} to {}:{}",
                    self.describe(bytes),
                    seg.ip.src(),
                    seg.tcp.src_port,
                    seg.ip.dst(),
                    seg.tcp.dst_port
                ),
            ));
        }
        if seg.tcp.flags != expected {
            return Err(mismatch("flags", self));
        }
        if seg.payload.len() != spec.seq.len() as usize {
            return Err(mismatch("payload length", self));
        }
        if seg.tcp.flags.syn() && !self.local_isn_learned {
            // The stack's first SYN tells us its ISN, whatever sequence number the line wrote
            // (`...` counts as 0).
            let start = match spec.seq {
                SeqSpec::Range { start, .. } => start,
                SeqSpec::Any { .. } => 0,
            };
            self.local_isn = Some(seg.tcp.seq.wrapping_sub(start));
            self.local_isn_learned = true;
        }
        if let SeqSpec::Range { start, .. } = spec.seq {
            let isn = self.local_isn();
            if seg.tcp.seq.wrapping_sub(isn) != start {
                return Err(mismatch("seq", self));
            }
        }
        if let Some(a) = spec.ack {
            if seg.tcp.ack.wrapping_sub(self.remote_isn) != a {
                return Err(mismatch("ack", self));
            }
        }
        if self.opts.profile.compare_window {
            if let Some(w) = spec.win {
                if u32::from(seg.tcp.window) != w {
                    return Err(mismatch("window", self));
                }
            }
        }
        if self.opts.profile.compare_options {
            let want = spec.options.clone().unwrap_or_default();
            let got = self.options_of(bytes);
            if !same_options(&want, &got) {
                return Err(mismatch("options", self));
            }
        }
        Ok(())
    }

    /// The options of a packet as written on the wire, in script terms.
    fn options_of(&self, bytes: &[u8]) -> Vec<TcpOpt> {
        let Ok(seg) = parse_packet(bytes) else {
            return Vec::new();
        };
        let tcp_start = seg.ip.header_len();
        let Some(&offset_byte) = bytes.get(tcp_start + 12) else {
            return Vec::new();
        };
        let end = tcp_start + usize::from(offset_byte >> 4) * 4;
        let area = bytes.get(tcp_start + 20..end).unwrap_or(&[]);
        let remote = self.remote_isn;
        let mut out = Vec::new();
        for opt in TcpOptionIter::new(area) {
            match opt {
                Ok(TcpOption::Eol) => out.push(TcpOpt::Eol),
                Ok(TcpOption::Nop) => out.push(TcpOpt::Nop),
                Ok(TcpOption::Mss(m)) => out.push(TcpOpt::Mss(m)),
                Ok(TcpOption::WindowScale(w)) => out.push(TcpOpt::WScale(w)),
                Ok(TcpOption::SackPermitted) => out.push(TcpOpt::SackOk),
                Ok(TcpOption::Sack(blocks)) => out.push(TcpOpt::Sack(
                    blocks
                        .as_slice()
                        .iter()
                        .map(|b| (b.left.wrapping_sub(remote), b.right.wrapping_sub(remote)))
                        .collect(),
                )),
                Ok(TcpOption::Timestamps(ts)) => out.push(TcpOpt::Timestamp {
                    val: ts.tsval,
                    ecr: ts.tsecr,
                }),
                Ok(TcpOption::Unknown { .. }) | Err(_) => break,
            }
        }
        out
    }

    /// A packet the stack sent, in packetdrill syntax relative to the script's ISNs.
    pub(crate) fn describe(&self, bytes: &[u8]) -> String {
        let Ok(seg) = parse_packet(bytes) else {
            return format!("an unparseable packet of {} bytes", bytes.len());
        };
        let t = &seg.tcp;
        let isn = match self.local_isn {
            Some(isn) if self.local_isn_learned || !t.flags.syn() => isn,
            _ => t.seq,
        };
        let seq = t.seq.wrapping_sub(isn);
        let len = seg.payload.len() as u32;
        let mut s = format!(
            "> {} {}:{}({})",
            flag_letters(t.flags),
            seq,
            seq.wrapping_add(len),
            len
        );
        if t.flags.ack() {
            let _ = write!(s, " ack {}", t.ack.wrapping_sub(self.remote_isn));
        }
        let _ = write!(s, " win {}", t.window);
        let opts = self.options_of(bytes);
        if !opts.is_empty() {
            s.push_str(" <");
            for (i, o) in opts.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push_str(&opt_text(o));
            }
            s.push('>');
        }
        s
    }
}

/// Option lists are equal when every option matches in order; an outbound TSval is the
/// stack's own clock and is not compared.
fn same_options(want: &[TcpOpt], got: &[TcpOpt]) -> bool {
    want.len() == got.len()
        && want.iter().zip(got).all(|(w, g)| match (w, g) {
            (TcpOpt::Timestamp { ecr: a, .. }, TcpOpt::Timestamp { ecr: b, .. }) => a == b,
            _ => w == g,
        })
}

fn opt_text(o: &TcpOpt) -> String {
    match o {
        TcpOpt::Nop => "nop".into(),
        TcpOpt::Eol => "eol".into(),
        TcpOpt::Mss(m) => format!("mss {m}"),
        TcpOpt::WScale(w) => format!("wscale {w}"),
        TcpOpt::SackOk => "sackOK".into(),
        TcpOpt::Sack(blocks) => {
            let b: Vec<String> = blocks.iter().map(|(l, r)| format!("{l}:{r}")).collect();
            format!("sack {}", b.join(" "))
        }
        TcpOpt::Timestamp { val, ecr } => format!("TS val {val} ecr {ecr}"),
    }
}
