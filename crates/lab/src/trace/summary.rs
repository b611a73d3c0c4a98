//! The per-connection summary: handshake RTT at the capture point, bytes each way,
//! retransmissions, zero-window events, who closed first, who ended in TIME-WAIT, and
//! whether an RST ended it.

use oxtcp_core::State;

use super::infer::Inferred;
use super::split::Connection;

/// Facts about one connection, `[A, B]` where a pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// SYN → SYN-ACK, as seen at the capture point (µs).
    pub syn_to_synack_us: Option<u64>,
    /// SYN-ACK → the ACK of it (µs).
    pub synack_to_ack_us: Option<u64>,
    /// SYN → ACK of the SYN-ACK: the handshake RTT as seen at the capture point (µs).
    pub handshake_rtt_us: Option<u64>,
    /// Payload bytes each side sent, each byte counted once.
    pub bytes: [u64; 2],
    /// Segments each side sent whose sequence space it had already sent: data, SYN and FIN
    /// repeats alike, the segments the ladder marks `rtx`.
    pub retransmissions: [u64; 2],
    /// Times each side began advertising a zero window.
    pub zero_window_events: [u64; 2],
    /// Side (0 = A, 1 = B) that sent the first FIN or RST.
    pub closed_first: Option<usize>,
    /// Sides that ended in TIME-WAIT.
    pub time_wait: Vec<usize>,
    /// An RST was seen.
    pub reset: bool,
    /// Segments in the connection.
    pub segments: usize,
}

fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Summarize a connection and its inferred states.
pub fn summarize(conn: &Connection, inf: &Inferred) -> Summary {
    let mut syn = None;
    let mut synack: Option<(u64, u32)> = None;
    let mut ack = None;
    let mut bytes = [0u64; 2];
    let mut rtx = [0u64; 2];
    let mut zw = [0u64; 2];
    let mut last_win: [Option<u16>; 2] = [None; 2];
    let mut high: [Option<u32>; 2] = [None; 2];
    let mut closed_first = None;
    let mut reset = false;
    for (i, s) in conn.segs.iter().enumerate() {
        let side = usize::from(s.src != conn.a);
        if s.flags.syn() && !s.flags.ack() && syn.is_none() {
            syn = Some(s.time_us);
        }
        if s.flags.syn() && s.flags.ack() && synack.is_none() {
            synack = Some((s.time_us, s.seq));
        }
        if let Some((_, isn)) = synack {
            if ack.is_none()
                && side == 0
                && !s.flags.syn()
                && s.flags.ack()
                && s.ack == isn.wrapping_add(1)
            {
                ack = Some(s.time_us);
            }
        }
        if s.len > 0 {
            let start = s.seq.wrapping_add(u32::from(s.flags.syn()));
            let end = start.wrapping_add(s.len);
            let from = match high[side] {
                Some(h) if after(h, start) => h,
                _ => start,
            };
            if after(end, from) {
                bytes[side] += u64::from(end.wrapping_sub(from));
            }
            if high[side].is_none_or(|h| after(end, h)) {
                high[side] = Some(end);
            }
        }
        if inf.retransmit[i] {
            rtx[side] += 1;
        }
        if !s.flags.rst() {
            if s.win == 0 && last_win[side] != Some(0) {
                zw[side] += 1;
            }
            last_win[side] = Some(s.win);
        }
        if (s.flags.fin() || s.flags.rst()) && closed_first.is_none() {
            closed_first = Some(side);
        }
        reset |= s.flags.rst();
    }
    let d = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?));
    Summary {
        syn_to_synack_us: d(syn, synack.map(|x| x.0)),
        synack_to_ack_us: d(synack.map(|x| x.0), ack),
        handshake_rtt_us: d(syn, ack),
        bytes,
        retransmissions: rtx,
        zero_window_events: zw,
        closed_first,
        time_wait: (0..2)
            .filter(|&i| inf.sides[i].state == State::TimeWait)
            .collect(),
        reset,
        segments: conn.segs.len(),
    }
}
