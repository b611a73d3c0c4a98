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
//! | receiver | sees SYN (no ACK) | SYN-SENT → SYN-RECEIVED (simultaneous open) | rcv SYN |
//! | receiver | sees SYN-ACK acking its SYN | SYN-SENT → ESTABLISHED | rcv SYN+ACK |
//! | receiver | sees ACK of its SYN | SYN-RECEIVED → ESTABLISHED | rcv ACK of SYN |
//! | sender | sends FIN | ESTABLISHED/SYN-RECEIVED → FIN-WAIT-1, CLOSE-WAIT → LAST-ACK | close |
//! | receiver | sees ACK of its FIN | FIN-WAIT-1 → FIN-WAIT-2, CLOSING → TIME-WAIT, LAST-ACK → CLOSED | rcv ACK of FIN |
//! | receiver of a FIN | sends the segment that ACKs it (see below) | ESTABLISHED → CLOSE-WAIT, FIN-WAIT-1 → CLOSING, FIN-WAIT-2 → TIME-WAIT | rcv FIN |
//! | sender | sends RST | any open state → CLOSED | abort |
//! | receiver | sees RST | any open state but TIME-WAIT → CLOSED | rcv RST |
//!
//! A segment is processed as RFC 9293 §3.10.7.4 orders it: its ACK first, then its FIN, so a
//! FIN that also acknowledges ours takes FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT.
//!
//! A FIN's arrival is not visible at the capture point, only its departure; so the receiver
//! is taken to have processed it when it is first seen to: when it sends a segment whose ACK
//! covers the FIN (the change is recorded just before that segment), or when the FIN's sender
//! sends it anything later (segments on one path arrive in order), or at the end of the
//! capture. A FIN the receiver sends before acknowledging the peer's is therefore a
//! simultaneous close (ESTABLISHED → FIN-WAIT-1 → CLOSING), as it must be: when the receiver
//! closed, the peer's FIN had not arrived. Each rule fires
//! once (a retransmitted FIN changes nothing). A state change is recorded at the time of the
//! segment that caused it: a sender's just before its `tx`, a receiver's just after its `rx`.
//! TIME-WAIT's 2×MSL expiry sends nothing, so a side that reaches TIME-WAIT stays there.
//!
//! A capture that starts mid-connection (its first segment is not a SYN) puts both sides in
//! ESTABLISHED "(inferred from first segment)"; one that starts at the SYN-ACK puts A in
//! SYN-SENT and B in LISTEN. The capture point matters under loss: a segment captured near
//! its sender and then lost is still taken as received, so the receiver's inferred change
//! may come earlier than the real one (its order with other changes is kept in all the
//! common cases, but a lost FIN that turns a normal close into a simultaneous one is not
//! seen as such).

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
}

fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

fn at_or_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}

/// Infer both sides' states from a connection's segments.
pub fn infer(conn: &Connection) -> Inferred {
    let first = conn.segs.first();
    let mid_connection = first.is_some_and(|s| !s.flags.syn());
    let (ia, ib) = match first {
        Some(s) if s.flags.syn() && s.flags.ack() => (State::SynSent, State::Listen),
        Some(s) if s.flags.syn() => (State::Closed, State::Listen),
        Some(_) => (State::Established, State::Established),
        None => (State::Closed, State::Listen),
    };
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
    let mut track = [Track::default(); 2];
    let mut retransmit = Vec::with_capacity(conn.segs.len());
    // Per side: the peer's FIN was seen but the side has not yet been seen to process it.
    let mut pending = [false; 2];
    for seg in &conn.segs {
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
        }
        if seg.flags.fin() {
            t.fin.get_or_insert(seg.seq.wrapping_add(seg.len));
        }
        retransmit.push(rtx);

        // A FIN the sender saw arrive counts as processed once the sender acknowledges it.
        if pending[from]
            && seg.flags.ack()
            && track[to]
                .fin
                .is_some_and(|f| at_or_after(seg.ack, f.wrapping_add(1)))
        {
            pending[from] = false;
            apply_fin(&mut sides[from], time, conn_tuple(conn, from));
        }
        // The sender's changes, then its tx.
        let cur = sides[from].state;
        let sent_change = if seg.flags.rst() {
            (!matches!(cur, State::Closed | State::Listen | State::TimeWait))
                .then_some((State::Closed, Cause::Abort))
        } else if seg.flags.syn() && !seg.flags.ack() && cur == State::Closed {
            Some((State::SynSent, Cause::Connect))
        } else if seg.flags.syn() && seg.flags.ack() && cur == State::Listen {
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
        let tuple_from = FourTuple {
            local: sides[from].addr,
            remote: sides[to].addr,
        };
        if let Some((st, cause)) = sent_change {
            push_state(&mut sides[from], time, tuple_from, st, cause);
        }
        sides[from].events.push(Event {
            time,
            kind: EventKind::Segment(segment_event(seg, Dir::Tx, tuple_from, rtx)),
        });

        // The receiver's rx, then its changes: ACK first, then SYN/FIN, as §3.10.7.4 orders.
        let tuple_to = FourTuple {
            local: sides[to].addr,
            remote: sides[from].addr,
        };
        // Segments on one path arrive in order: an earlier FIN was processed before this one.
        if pending[to] {
            pending[to] = false;
            apply_fin(&mut sides[to], time, tuple_to);
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
            if !matches!(cur, State::Closed | State::Listen | State::TimeWait) {
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
                push_state(
                    &mut sides[to],
                    time,
                    tuple_to,
                    State::Established,
                    Cause::RecvSynAck,
                );
            }
            State::SynSent if seg.flags.syn() && !seg.flags.ack() => {
                push_state(
                    &mut sides[to],
                    time,
                    tuple_to,
                    State::SynReceived,
                    Cause::RecvSyn,
                );
            }
            State::SynReceived if acks(mine.isn) => {
                push_state(
                    &mut sides[to],
                    time,
                    tuple_to,
                    State::Established,
                    Cause::RecvAckOfSyn,
                );
            }
            _ => {}
        }
        if acks(mine.fin) {
            let next = match sides[to].state {
                State::FinWait1 => Some(State::FinWait2),
                State::Closing => Some(State::TimeWait),
                State::LastAck => Some(State::Closed),
                _ => None,
            };
            if let Some(st) = next {
                push_state(&mut sides[to], time, tuple_to, st, Cause::RecvAckOfFin);
            }
        }
        if seg.flags.fin() && fin_target(sides[to].state).is_some() {
            pending[to] = true;
        }
    }
    // The end of the capture: FINs seen but never acknowledged are taken as processed.
    let end = Instant::from_micros(conn.segs.last().map_or(0, |s| s.time_us));
    for side in 0..2 {
        if pending[side] {
            apply_fin(&mut sides[side], end, conn_tuple(conn, side));
        }
    }
    Inferred {
        sides,
        mid_connection,
        retransmit,
    }
}

fn fin_target(s: State) -> Option<State> {
    match s {
        State::Established | State::SynReceived => Some(State::CloseWait),
        State::FinWait1 => Some(State::Closing),
        State::FinWait2 => Some(State::TimeWait),
        _ => None,
    }
}

fn apply_fin(side: &mut Endpoint, time: Instant, tuple: FourTuple) {
    if let Some(st) = fin_target(side.state) {
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
