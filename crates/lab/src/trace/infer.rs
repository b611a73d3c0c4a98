//! Inferring both endpoints' states from the segments of one connection (RFC 9293 §3.3.2,
//! §3.10.7), and building each endpoint's trace events so the ladder can draw them.
//!
//! The rules (one capture point sees each packet once; it is both the sender's `tx` and the
//! receiver's `rx`, at the same time):
//!
//! | endpoint | on | from → to | cause |
//! |---|---|---|---|
//! | sender | sends SYN | CLOSED → SYN-SENT | connect |
//! | sender | sends SYN-ACK | LISTEN → SYN-RECEIVED | rcv SYN |
//! | receiver of a SYN (no ACK) | sends its SYN-ACK, or the peer sends anything later | SYN-SENT → SYN-RECEIVED (simultaneous open) | rcv SYN |
//! | receiver | sees SYN-ACK acking its SYN | SYN-SENT → ESTABLISHED | rcv SYN+ACK |
//! | receiver | sees SYN-ACK acking its SYN, and answers it with a bare RST | SYN-SENT → CLOSED (it had given up: a stale SYN) | retries exhausted |
//! | receiver | sees ACK of its SYN | SYN-RECEIVED → ESTABLISHED | rcv ACK of SYN |
//! | sender | sends FIN | ESTABLISHED/SYN-RECEIVED → FIN-WAIT-1, CLOSE-WAIT → LAST-ACK | close |
//! | receiver | sees ACK of its FIN | FIN-WAIT-1 → FIN-WAIT-2, CLOSING → TIME-WAIT, LAST-ACK → CLOSED | rcv ACK of FIN |
//! | receiver of a FIN | sends the segment that ACKs it (see below) | ESTABLISHED → CLOSE-WAIT, FIN-WAIT-1 → CLOSING, FIN-WAIT-2 → TIME-WAIT | rcv FIN |
//! | receiver of a FIN that also ACKs its FIN | as above | FIN-WAIT-1 → TIME-WAIT | rcv FIN |
//! | sender | sends RST | any open state → CLOSED | abort |
//! | receiver | sees RST | SYN-RECEIVED entered from LISTEN → LISTEN; any other open state but TIME-WAIT → CLOSED | rcv RST |
//!
//! Initial states: the first SYN's sender starts CLOSED and its peer LISTEN, unless the peer
//! also sends a SYN without ACK (simultaneous open: CLOSED) or its first segment is an RST
//! (nothing listening, a refused connect: CLOSED, and it stays there).
//!
//! A segment is processed as RFC 9293 §3.10.7.4 orders it: its ACK first, then its FIN; a FIN
//! that also acknowledges ours takes FIN-WAIT-1 straight to TIME-WAIT, as §3.10.7.4's
//! FIN-WAIT-1 case says, when the FIN is taken as processed.
//!
//! A FIN's arrival is not visible at the capture point, only its departure; so the receiver
//! is taken to have processed it when it is first seen to: when it sends a segment whose ACK
//! covers the FIN (the change is recorded just before that segment), or when the FIN's sender
//! sends it anything later (segments on one path arrive in order), or at the end of the
//! capture. A FIN the receiver sends before acknowledging the peer's is therefore a
//! simultaneous close (ESTABLISHED → FIN-WAIT-1 → CLOSING), as it must be: when the receiver
//! closed, the peer's FIN had not arrived. A SYN seen by a side in SYN-SENT (or one about to
//! send its own SYN) is handled the same way. Each rule fires once (a retransmitted FIN
//! changes nothing). A state change is recorded at the time of the segment that caused it: a
//! sender's just before its `tx`, a receiver's just after its `rx`. TIME-WAIT's 2×MSL expiry
//! sends nothing, so a side that reaches TIME-WAIT stays there.
//!
//! The stale-SYN rule rests on §3.10.7.3: a side in SYN-SENT answers an acceptable SYN-ACK
//! with an ACK; one that answers with an RST carrying no ACK and the SYN-ACK's ACK number
//! as its sequence number was no longer in SYN-SENT — its connect had given up — and an RST
//! sent from CLOSED changes nothing. Its peer, back from SYN-RECEIVED, is in LISTEN again.
//!
//! A capture that starts mid-connection (its first segment is not a SYN) puts both sides in
//! ESTABLISHED "(inferred from first segment)"; one that starts at the SYN-ACK puts A in
//! SYN-SENT and B in LISTEN.
//!
//! Loss. The capture point matters: a segment captured near its sender and then lost is
//! first taken as received. Evidence revises that: a side that retransmits its SYN (the same
//! kind: SYN or SYN-ACK) or its FIN after the change the peer's acknowledgment of it caused
//! (SYN-SENT or SYN-RECEIVED → ESTABLISHED; FIN-WAIT-1 → FIN-WAIT-2, CLOSING → TIME-WAIT,
//! LAST-ACK → CLOSED) never got that acknowledgment, so the change is undone (if it is still
//! the side's latest) and made again by the next acknowledgment that is not disproved. A
//! retransmission that merely crossed the acknowledgment in flight moves the change later,
//! not out of the sequence. A FIN is proven lost when its sender sends it again with the same
//! acknowledgment number (a retransmission on timeout, not a FIN+ACK answering an arrival)
//! and the receiver sent nothing acknowledging it in between (every segment carries the receiver's
//! ACK number): it has no `rx` and changes nothing, so neither the in-order rule above nor
//! an acknowledgment it carried takes effect. What no later packet disproves stays taken as
//! received: a final lost ACK is not seen as lost, nor a lost ACK of a FIN that the peer's
//! own FIN (acknowledging it too) makes up for before any retransmission.

use std::net::SocketAddr;

use oxtcp_core::{
    Cause, Dir, Event, EventKind, FourTuple, Instant, SegmentEvent, State, StateEvent,
};

use super::split::{Connection, Seg};

/// One endpoint's inferred history.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Its address.
    pub addr: SocketAddr,
    /// Initial state.
    pub initial: State,
    /// Its events: segments sent (`tx`) and seen arriving (`rx`) and state changes.
    pub events: Vec<Event>,
    /// Final state.
    pub state: State,
}

impl Endpoint {
    /// Initial state followed by every state entered.
    pub fn state_sequence(&self) -> Vec<State> {
        let mut v = vec![self.initial];
        v.extend(self.events.iter().filter_map(|e| match &e.kind {
            EventKind::State(s) => Some(s.to),
            _ => None,
        }));
        v
    }
}

/// Both endpoints of a connection.
#[derive(Debug, Clone)]
pub struct Inferred {
    /// Side A (the opener) and side B.
    pub sides: [Endpoint; 2],
    /// The capture began after the handshake: initial states were guessed from the first segment.
    pub mid_connection: bool,
    /// Per segment (capture order): it repeats sequence space its sender already sent.
    pub retransmit: Vec<bool>,
}

#[derive(Default, Clone, Copy)]
struct Track {
    isn: Option<u32>,
    /// One past the highest sequence number sent (SYN and FIN included).
    max_end: Option<u32>,
    /// Sequence number of our FIN.
    fin: Option<u32>,
    /// Whether our first SYN carried an ACK (a SYN-ACK).
    syn_had_ack: Option<bool>,
}

fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

fn at_or_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}

/// A change caused by the arrival of an ACK of our SYN or FIN, which a later retransmission
/// of that SYN or FIN by the same side can prove never happened (the ACK was lost).
#[derive(Clone, Copy)]
struct Revocable {
    /// Index of the state event in the side's events.
    event: usize,
    /// The state before it.
    prev: State,
    /// Sequence number of the SYN or FIN whose acknowledgment caused it.
    seq: u32,
}

/// Initial states: the SYN's sender starts CLOSED; its peer in LISTEN, unless the peer too
/// sends a SYN without ACK (simultaneous open) or its first segment is an RST (no listener,
/// a refused connect), in which case it was CLOSED.
fn initial_states(conn: &Connection) -> (State, State, bool) {
    let Some(first) = conn.segs.first() else {
        return (State::Closed, State::Listen, false);
    };
    if !first.flags.syn() {
        return (State::Established, State::Established, true);
    }
    if first.flags.ack() {
        return (State::SynSent, State::Listen, false);
    }
    let b_first = conn.segs.iter().find(|s| s.src == conn.b);
    let b_closed = b_first.is_some_and(|s| s.flags.rst() || (s.flags.syn() && !s.flags.ack()));
    let ib = if b_closed {
        State::Closed
    } else {
        State::Listen
    };
    (State::Closed, ib, false)
}

/// Infer both sides' states from a connection's segments.
pub fn infer(conn: &Connection) -> Inferred {
    let (ia, ib, mid_connection) = initial_states(conn);
    let mut sides = [
        Endpoint {
            addr: conn.a,
            initial: ia,
            events: Vec::new(),
            state: ia,
        },
        Endpoint {
            addr: conn.b,
            initial: ib,
            events: Vec::new(),
            state: ib,
        },
    ];
    // For each segment, the index of the next segment its receiver sends.
    let mut reply = vec![None; conn.segs.len()];
    let mut next_from: [Option<usize>; 2] = [None, None];
    for (i, seg) in conn.segs.iter().enumerate().rev() {
        let from = usize::from(seg.src != conn.a);
        reply[i] = next_from[1 - from];
        next_from[from] = Some(i);
    }
    let lost = lost_fins(conn);
    let mut track = [Track::default(); 2];
    let mut retransmit = Vec::with_capacity(conn.segs.len());
    // Per side: the peer's FIN was seen but the side has not yet been seen to process it;
    // `Some(true)`: the same segment acknowledged the side's own FIN.
    let mut pending: [Option<bool>; 2] = [None, None];
    // Per side: the peer's SYN (no ACK) was seen while the side was CLOSED or SYN-SENT.
    let mut pending_syn = [false; 2];
    // Per side: it entered SYN-RECEIVED from LISTEN (an RST takes it back there).
    let mut passive = [false; 2];
    let mut revocable: [Option<Revocable>; 2] = [None, None];
    for (i, seg) in conn.segs.iter().enumerate() {
        let from = usize::from(seg.src != conn.a);
        let to = 1 - from;
        let time = Instant::from_micros(seg.time_us);
        // Sequence space this segment occupies, and whether it was sent before.
        let span = seg.len + u32::from(seg.flags.syn()) + u32::from(seg.flags.fin());
        let end = seg.seq.wrapping_add(span);
        let t = &mut track[from];
        let rtx = span > 0 && t.max_end.is_some_and(|m| after(m, seg.seq));
        if t.max_end.is_none_or(|m| after(end, m)) {
            t.max_end = Some(end);
        }
        if seg.flags.syn() {
            t.isn.get_or_insert(seg.seq);
            t.syn_had_ack.get_or_insert(seg.flags.ack());
        }
        if seg.flags.fin() {
            t.fin.get_or_insert(seg.seq.wrapping_add(seg.len));
        }
        retransmit.push(rtx);
        let tuple_from = conn_tuple(conn, from);
        let tuple_to = conn_tuple(conn, to);

        // Evidence of loss: the sender repeats a SYN or FIN whose acknowledgment it was
        // taken to have received; that acknowledgment never arrived, so the change it
        // caused is undone (a later acknowledgment will make it again).
        if let Some(r) = revocable[from] {
            // A SYN repeats only as itself: the SYN-ACK of a simultaneous open reuses the
            // SYN's sequence number without being a retransmission of it.
            let repeats = rtx
                && ((seg.flags.syn()
                    && seg.seq == r.seq
                    && track[from].syn_had_ack == Some(seg.flags.ack()))
                    || (seg.flags.fin() && seg.seq.wrapping_add(seg.len) == r.seq));
            let latest = !sides[from].events[r.event + 1..]
                .iter()
                .any(|e| matches!(e.kind, EventKind::State(_)));
            if repeats && latest {
                sides[from].events.remove(r.event);
                sides[from].state = r.prev;
                revocable[from] = None;
            }
        }

        // A FIN the sender saw arrive counts as processed once the sender acknowledges it.
        if pending[from].is_some()
            && seg.flags.ack()
            && track[to]
                .fin
                .is_some_and(|f| at_or_after(seg.ack, f.wrapping_add(1)))
        {
            let acked = pending[from].take() == Some(true);
            apply_fin(&mut sides[from], time, tuple_from, acked);
        }
        // A SYN the sender saw arrive while in SYN-SENT is processed before it answers with
        // its SYN-ACK (simultaneous open).
        if pending_syn[from] && seg.flags.syn() && seg.flags.ack() {
            pending_syn[from] = false;
            if sides[from].state == State::SynSent {
                push_state(
                    &mut sides[from],
                    time,
                    tuple_from,
                    State::SynReceived,
                    Cause::RecvSyn,
                );
            }
        }
        // The sender's changes, then its tx.
        let cur = sides[from].state;
        let sent_change = if seg.flags.rst() {
            (!matches!(cur, State::Closed | State::Listen | State::TimeWait))
                .then_some((State::Closed, Cause::Abort))
        } else if seg.flags.syn() && !seg.flags.ack() && cur == State::Closed {
            Some((State::SynSent, Cause::Connect))
        } else if seg.flags.syn() && seg.flags.ack() && cur == State::Listen {
            passive[from] = true;
            Some((State::SynReceived, Cause::RecvSyn))
        } else if seg.flags.fin() {
            match cur {
                State::Established | State::SynReceived => Some((State::FinWait1, Cause::Close)),
                State::CloseWait => Some((State::LastAck, Cause::Close)),
                _ => None,
            }
        } else {
            None
        };
        if let Some((st, cause)) = sent_change {
            push_state(&mut sides[from], time, tuple_from, st, cause);
        }
        sides[from].events.push(Event {
            time,
            kind: EventKind::Segment(segment_event(seg, Dir::Tx, tuple_from, rtx)),
        });

        // A FIN proven lost never arrived: no rx, no change on the receiver's side.
        if lost[i] {
            continue;
        }
        // The receiver's rx, then its changes: ACK first, then SYN/FIN, as §3.10.7.4 orders.
        // Segments on one path arrive in order: an earlier FIN or SYN was processed before
        // this one.
        if let Some(acked) = pending[to].take() {
            apply_fin(&mut sides[to], time, tuple_to, acked);
        }
        if std::mem::take(&mut pending_syn[to]) && sides[to].state == State::SynSent {
            push_state(
                &mut sides[to],
                time,
                tuple_to,
                State::SynReceived,
                Cause::RecvSyn,
            );
        }
        sides[to].events.push(Event {
            time,
            kind: EventKind::Segment(segment_event(seg, Dir::Rx, tuple_to, rtx)),
        });
        let mine = track[to];
        let acks = |v: Option<u32>| {
            seg.flags.ack() && v.is_some_and(|x| at_or_after(seg.ack, x.wrapping_add(1)))
        };
        if seg.flags.rst() {
            let cur = sides[to].state;
            if cur == State::SynReceived && passive[to] {
                // §3.10.7.4: a passive open's SYN-RECEIVED goes back to LISTEN.
                push_state(
                    &mut sides[to],
                    time,
                    tuple_to,
                    State::Listen,
                    Cause::RecvRst,
                );
            } else if !matches!(cur, State::Closed | State::Listen | State::TimeWait) {
                push_state(
                    &mut sides[to],
                    time,
                    tuple_to,
                    State::Closed,
                    Cause::RecvRst,
                );
            }
            continue;
        }
        match sides[to].state {
            State::SynSent if seg.flags.syn() && seg.flags.ack() && acks(mine.isn) => {
                // A SYN-SENT side acknowledges an acceptable SYN-ACK (§3.10.7.3); one that
                // answers it with a bare RST had already given up its connect.
                let answer = reply[i].map(|j| &conn.segs[j]);
                if answer.is_some_and(|a| a.flags.rst() && !a.flags.ack() && a.seq == seg.ack) {
                    push_state(
                        &mut sides[to],
                        time,
                        tuple_to,
                        State::Closed,
                        Cause::RetriesExhausted,
                    );
                } else {
                    let prev = sides[to].state;
                    push_state(
                        &mut sides[to],
                        time,
                        tuple_to,
                        State::Established,
                        Cause::RecvSynAck,
                    );
                    revocable[to] = mine.isn.map(|seq| Revocable {
                        event: sides[to].events.len() - 1,
                        prev,
                        seq,
                    });
                }
            }
            State::SynSent | State::Closed if seg.flags.syn() && !seg.flags.ack() => {
                pending_syn[to] = true;
            }
            State::SynReceived if acks(mine.isn) => {
                push_state(
                    &mut sides[to],
                    time,
                    tuple_to,
                    State::Established,
                    Cause::RecvAckOfSyn,
                );
                revocable[to] = mine.isn.map(|seq| Revocable {
                    event: sides[to].events.len() - 1,
                    prev: State::SynReceived,
                    seq,
                });
            }
            _ => {}
        }
        let fin_here = seg.flags.fin() && fin_target(sides[to].state).is_some();
        if acks(mine.fin) {
            let cur = sides[to].state;
            let next = match cur {
                // A FIN that also acknowledges ours: FIN-WAIT-1 → TIME-WAIT in one step when
                // the FIN is processed (below).
                State::FinWait1 if fin_here => None,
                State::FinWait1 => Some(State::FinWait2),
                State::Closing => Some(State::TimeWait),
                State::LastAck => Some(State::Closed),
                _ => None,
            };
            if let Some(st) = next {
                push_state(&mut sides[to], time, tuple_to, st, Cause::RecvAckOfFin);
                revocable[to] = mine.fin.map(|seq| Revocable {
                    event: sides[to].events.len() - 1,
                    prev: cur,
                    seq,
                });
            }
        }
        if fin_here {
            pending[to] = Some(sides[to].state == State::FinWait1 && acks(mine.fin));
        }
    }
    // The end of the capture: FINs seen but never acknowledged are taken as processed.
    let end = Instant::from_micros(conn.segs.last().map_or(0, |s| s.time_us));
    for side in 0..2 {
        if let Some(acked) = pending[side] {
            apply_fin(&mut sides[side], end, conn_tuple(conn, side), acked);
        }
    }
    Inferred {
        sides,
        mid_connection,
        retransmit,
    }
}

/// Per segment: it carries a FIN that never arrived. Its sender sent the FIN again later with
/// the same acknowledgment number (a timeout's retransmission) and, in between, the receiver
/// sent nothing acknowledging it (a receiver's every segment carries
/// its ACK number, and an arrived FIN advances it).
fn lost_fins(conn: &Connection) -> Vec<bool> {
    let segs = &conn.segs;
    (0..segs.len())
        .map(|i| {
            let s = &segs[i];
            if !s.flags.fin() || s.flags.rst() {
                return false;
            }
            let fin = s.seq.wrapping_add(s.len);
            let Some(j) = (i + 1..segs.len()).find(|&j| {
                let r = &segs[j];
                r.src == s.src && r.flags.fin() && r.seq.wrapping_add(r.len) == fin
            }) else {
                return false;
            };
            // A repeat that acknowledges something new answers an arrival (e.g. the FIN+ACK
            // a stack re-sends in CLOSING), not a timeout.
            if segs[j].ack != s.ack {
                return false;
            }
            !segs[i + 1..j]
                .iter()
                .any(|r| r.src == s.dst && r.flags.ack() && at_or_after(r.ack, fin.wrapping_add(1)))
        })
        .collect()
}

fn fin_target(s: State) -> Option<State> {
    match s {
        State::Established | State::SynReceived => Some(State::CloseWait),
        State::FinWait1 => Some(State::Closing),
        State::FinWait2 => Some(State::TimeWait),
        _ => None,
    }
}

/// The side processes the peer's FIN; `acked`: the same segment acknowledged the side's own
/// FIN, so FIN-WAIT-1 goes straight to TIME-WAIT.
fn apply_fin(side: &mut Endpoint, time: Instant, tuple: FourTuple, acked: bool) {
    let target = if acked && side.state == State::FinWait1 {
        Some(State::TimeWait)
    } else {
        fin_target(side.state)
    };
    if let Some(st) = target {
        push_state(side, time, tuple, st, Cause::RecvFin);
    }
}

fn conn_tuple(conn: &Connection, side: usize) -> FourTuple {
    let (local, remote) = if side == 0 {
        (conn.a, conn.b)
    } else {
        (conn.b, conn.a)
    };
    FourTuple { local, remote }
}

fn push_state(side: &mut Endpoint, time: Instant, tuple: FourTuple, to: State, cause: Cause) {
    side.events.push(Event {
        time,
        kind: EventKind::State(StateEvent {
            tuple,
            conn: None,
            from: side.state,
            to,
            cause,
            error: None,
        }),
    });
    side.state = to;
}

fn segment_event(seg: &Seg, dir: Dir, tuple: FourTuple, retransmit: bool) -> SegmentEvent {
    SegmentEvent {
        dir,
        tuple,
        conn: None,
        seq: seg.seq,
        ack: seg.ack,
        flags: seg.flags,
        len: seg.len,
        win: seg.win,
        options: seg.options,
        retransmit: retransmit && dir == Dir::Tx,
        reason: None,
    }
}
