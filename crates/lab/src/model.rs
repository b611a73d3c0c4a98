//! The ladder of one connection as data, built once from both sides' trace events and drawn by
//! both renderers ([`crate::ladder`] for the terminal, [`crate::svg`] for figures): every
//! transmitted segment paired with its arrival on the other side (or lost), its label parts,
//! the state of each side around it, the transitions with no segment behind them, the timers
//! that fired and the arrivals nothing on the other side sent (network duplicates).

use std::collections::{HashMap, HashSet};

use oxtcp_core::{
    Cause, ConnError, Dir, DropReason, Event, EventKind, FourTuple, SegmentEvent, State, TimerKind,
};

/// One side's events and what we know about it.
pub struct Side<'a> {
    /// Display name (`A`, `B`).
    pub name: &'a str,
    /// Its trace events, in order.
    pub events: &'a [Event],
    /// Its initial state (CLOSED for a client, LISTEN for a listener).
    pub initial: State,
}

/// For each side, for each of its events that is a transmitted segment, the index of the
/// event on the other side where that very packet arrived (`None`: lost in the network).
pub type Arrivals = [Vec<Option<usize>>; 2];

/// What a segment's label says, with both relative and absolute numbers.
#[derive(Debug, Clone)]
pub struct Label {
    /// Retransmission.
    pub rtx: bool,
    /// Flags as text (`SYN|ACK`).
    pub flags: String,
    /// Absolute sequence number.
    pub seq: u32,
    /// Sequence number relative to the sender's ISN (`None`: ISN unknown).
    pub seq_rel: Option<u32>,
    /// Absolute and relative acknowledgment number, when ACK is set.
    pub ack: Option<(u32, Option<u32>)>,
    /// Window.
    pub win: u16,
    /// Payload length.
    pub len: u32,
    /// MSS option.
    pub mss: Option<u16>,
    /// Sender's and receiver's ports, shown when the ladder holds more than one connection.
    pub ports: Option<(u16, u16)>,
}

impl Label {
    fn new(s: &SegmentEvent, own_isn: Option<u32>, peer_isn: Option<u32>) -> Label {
        Label {
            ports: None,
            rtx: s.retransmit,
            flags: s.flags.to_string(),
            seq: s.seq,
            seq_rel: own_isn.map(|i| s.seq.wrapping_sub(i)),
            ack: s
                .flags
                .ack()
                .then(|| (s.ack, peer_isn.map(|i| s.ack.wrapping_sub(i)))),
            win: s.win,
            len: s.len,
            mss: s.options.mss,
        }
    }

    /// Both numberings at once, for tooltips: `rtx SYN|ACK seq=0(123) ack=1(456) win=65535
    /// len=0 mss=1460`.
    pub fn text(&self) -> String {
        let rel = |r: Option<u32>| r.map_or_else(|| "?".to_string(), show_relative);
        let ack = match self.ack {
            Some((abs, r)) => format!(" ack={}({abs})", rel(r)),
            None => String::new(),
        };
        let mss = self.mss.map(|m| format!(" mss={m}")).unwrap_or_default();
        let rtx = if self.rtx { "rtx " } else { "" };
        format!(
            "{}{rtx}{} seq={}({}){ack} win={} len={}{mss}",
            self.port_prefix(),
            self.flags,
            rel(self.seq_rel),
            self.seq,
            self.win,
            self.len
        )
    }

    /// The terminal ladder's text: `rtx SYN|ACK seq=0 ack=1 win=65535 len=0 mss=1460`, with
    /// relative numbers (`?` where the ISN is unknown) or absolute ones.
    pub fn terminal(&self, relative: bool) -> String {
        let num = |abs: u32, r: Option<u32>| {
            if relative {
                r.map_or_else(|| "?".to_string(), show_relative)
            } else {
                abs.to_string()
            }
        };
        let ack = match self.ack {
            Some((abs, r)) => format!(" ack={}", num(abs, r)),
            None => String::new(),
        };
        let mss = self.mss.map(|m| format!(" mss={m}")).unwrap_or_default();
        let rtx = if self.rtx { "rtx " } else { "" };
        format!(
            "{}{rtx}{} seq={}{ack} win={} len={}{mss}",
            self.port_prefix(),
            self.flags,
            num(self.seq, self.seq_rel),
            self.win,
            self.len
        )
    }

    /// `:40001→:80 ` when the ports are shown.
    fn port_prefix(&self) -> String {
        self.ports
            .map(|(f, t)| format!(":{f}→:{t} "))
            .unwrap_or_default()
    }
}

/// A relative sequence number as text: offsets of up to 2^31 before the ISN (an old segment
/// arriving in a new connection) print as negative, as sequence arithmetic reads them.
fn show_relative(v: u32) -> String {
    (v as i32).to_string()
}

/// How a segment's packet ended on the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Received and processed.
    Processed,
    /// Received and dropped by the receiver, for this reason.
    Dropped(DropReason),
    /// Arrived damaged (malformed) and dropped.
    Damaged(DropReason),
}

/// Where a segment arrived.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// Index of the arrival event in the receiver's events.
    pub index: usize,
    /// Arrival time, µs.
    pub time: u64,
    /// What the receiver did with it.
    pub fate: Fate,
}

/// One transmitted segment.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Sender: 0 (A, left) or 1 (B, right).
    pub from: usize,
    /// Index of the Tx event in the sender's events.
    pub index: usize,
    /// Send time, µs.
    pub send: u64,
    /// Its arrival, `None` if lost in the network.
    pub arrival: Option<Arrival>,
    /// Label parts.
    pub label: Label,
    /// Payload length.
    pub len: u32,
    /// SYN or FIN set.
    pub syn_or_fin: bool,
    /// RST set.
    pub rst: bool,
    /// The sender's state after sending it, and whether that is a change.
    pub from_state: (State, bool),
    /// The receiver's state after it arrived (or at the send time, if lost), and whether
    /// that is a change.
    pub to_state: (State, bool),
}

/// What a side note says.
#[derive(Debug, Clone)]
pub enum NoteKind {
    /// A transition with no segment behind it (application call, timer expiry).
    Transition {
        /// From.
        from: State,
        /// To.
        to: State,
        /// Why.
        cause: Cause,
        /// Error reported to the application, if any.
        error: Option<ConnError>,
    },
    /// A timer fired.
    Timer {
        /// Which.
        kind: TimerKind,
        /// Attempt number.
        attempt: u32,
    },
    /// An arrival nothing on the other side is paired with (e.g. a network duplicate).
    Unmatched(Label),
}

/// An event beside one side that is not a segment between the two.
#[derive(Debug, Clone)]
pub struct Note {
    /// 0 (A) or 1 (B).
    pub side: usize,
    /// Index in that side's events.
    pub index: usize,
    /// Time, µs.
    pub time: u64,
    /// What.
    pub kind: NoteKind,
    /// For an unmatched arrival: the transmission it most likely copies (a network
    /// duplicate), as (side, index in that side's events, send time µs) — the latest segment
    /// the other side sent with the same 4-tuple, seq, ack, flags, length and window, no later
    /// than the arrival. `None` for other notes, or when nothing like it was sent.
    pub origin: Option<(usize, usize, u64)>,
    /// The side's local port for the note's connection, when the ladder holds more than one.
    pub port: Option<u16>,
}

/// A state change of one side.
#[derive(Debug, Clone, Copy)]
pub struct Change {
    /// 0 (A) or 1 (B).
    pub side: usize,
    /// Index in that side's events.
    pub index: usize,
    /// Time, µs.
    pub time: u64,
    /// From.
    pub from: State,
    /// To.
    pub to: State,
    /// Why.
    pub cause: Cause,
}

/// A timer that fired, with the moment it was (as far as the trace shows) armed.
#[derive(Debug, Clone, Copy)]
pub struct Timer {
    /// 0 (A) or 1 (B).
    pub side: usize,
    /// Which.
    pub kind: TimerKind,
    /// Attempt number.
    pub attempt: u32,
    /// When it was armed, µs: entering TIME-WAIT or FIN-WAIT-2 for those timers, the side's
    /// last transmission before it fired for the retransmission timers.
    pub start: u64,
    /// When it fired, µs.
    pub fire: u64,
}

/// The whole ladder.
#[derive(Debug, Clone)]
pub struct Ladder {
    /// Names of the sides.
    pub names: [String; 2],
    /// Initial states.
    pub initial: [State; 2],
    /// Every transmitted segment: A's in order, then B's.
    pub segments: Vec<Segment>,
    /// Side notes: A's in order, then B's.
    pub notes: Vec<Note>,
    /// Every state change, A's then B's.
    pub changes: Vec<Change>,
    /// Every timer that fired, A's then B's.
    pub timers: Vec<Timer>,
}

impl Ladder {
    /// Build the ladder for two sides. With `arrivals` (exact packet fates, e.g. from the
    /// simulator) each segment is paired with its own arrival; without, with the first
    /// unpaired arrival of an identical segment on the other side.
    pub fn new(a: &Side<'_>, b: &Side<'_>, arrivals: Option<&Arrivals>) -> Ladder {
        let sides = [a, b];
        let st = [States::of(a), States::of(b)];
        let isns = [Isns::of(a), Isns::of(b)];
        // With more than one connection between the two, every label names its ports.
        let tuples: HashSet<FourTuple> = sides
            .iter()
            .flat_map(|s| s.events.iter().filter_map(tuple_of))
            .map(|t| {
                if t.local.ip() < t.remote.ip() {
                    t
                } else {
                    t.reversed()
                }
            })
            .collect();
        let show_ports = tuples.len() > 1;
        let mut matched = [vec![false; a.events.len()], vec![false; b.events.len()]];
        let mut segments = Vec::new();
        for from in 0..2 {
            let to = 1 - from;
            for (i, e) in sides[from].events.iter().enumerate() {
                let EventKind::Segment(s) = &e.kind else {
                    continue;
                };
                if s.dir != Dir::Tx {
                    continue;
                }
                let arrival = match arrivals {
                    Some(arr) => arr[from].get(i).copied().flatten(),
                    // The first unmatched arrival of an identical segment on the other side.
                    None => sides[to].events.iter().enumerate().position(|(j, r)| {
                        !matched[to][j]
                            && r.time >= e.time
                            && matches!(&r.kind, EventKind::Segment(x) if x.dir != Dir::Tx && key(x) == key(s))
                    }),
                };
                let (arrival, to_state) = match arrival {
                    Some(j) => {
                        matched[to][j] = true;
                        let r = &sides[to].events[j];
                        let fate = match &r.kind {
                            EventKind::Segment(x) => match x.reason {
                                Some(reason) if x.dir == Dir::Drop => Fate::Dropped(reason),
                                _ => Fate::Processed,
                            },
                            EventKind::Malformed(reason) => Fate::Damaged(*reason),
                            _ => Fate::Processed,
                        };
                        let after = st[to].after[j];
                        (
                            Some(Arrival {
                                index: j,
                                time: r.time.as_micros(),
                                fate,
                            }),
                            (after, after != st[to].before[j]),
                        )
                    }
                    // Lost in the network: the receiver's state at the send time.
                    None => (
                        None,
                        (
                            st[to].at(sides[to], s.tuple.reversed(), e.time.as_micros()),
                            false,
                        ),
                    ),
                };
                let own = isns[from].own[i];
                let peer =
                    isns[from].peer[i].or_else(|| isns[to].first.get(&s.tuple.reversed()).copied());
                let mut label = Label::new(s, own, peer);
                if show_ports {
                    label.ports = Some((s.tuple.local.port(), s.tuple.remote.port()));
                }
                let from_state = st[from].after[i];
                segments.push(Segment {
                    from,
                    index: i,
                    send: e.time.as_micros(),
                    arrival,
                    label,
                    len: s.len,
                    syn_or_fin: s.flags.syn() || s.flags.fin(),
                    rst: s.flags.rst(),
                    from_state: (from_state, from_state != st[from].before[i]),
                    to_state,
                });
            }
        }

        let mut notes = Vec::new();
        let mut changes = Vec::new();
        let mut timers = Vec::new();
        for (side, sd) in sides.iter().enumerate() {
            let mut last_tx = 0u64;
            let mut entered: Option<(State, u64)> = None;
            for (i, e) in sd.events.iter().enumerate() {
                let time = e.time.as_micros();
                let kind = match &e.kind {
                    EventKind::State(s) => {
                        changes.push(Change {
                            side,
                            index: i,
                            time,
                            from: s.from,
                            to: s.to,
                            cause: s.cause,
                        });
                        entered = Some((s.to, time));
                        if !is_user_cause(s.cause) {
                            continue;
                        }
                        NoteKind::Transition {
                            from: s.from,
                            to: s.to,
                            cause: s.cause,
                            error: s.error,
                        }
                    }
                    EventKind::Timer(t) => {
                        let state_entry = |want: State| match entered {
                            Some((s, at)) if s == want => at,
                            _ => last_tx,
                        };
                        let start = match t.timer {
                            TimerKind::TimeWait => state_entry(State::TimeWait),
                            TimerKind::FinWait2 => state_entry(State::FinWait2),
                            _ => last_tx,
                        };
                        timers.push(Timer {
                            side,
                            kind: t.timer,
                            attempt: t.attempt,
                            start: start.min(time),
                            fire: time,
                        });
                        NoteKind::Timer {
                            kind: t.timer,
                            attempt: t.attempt,
                        }
                    }
                    EventKind::Segment(s) if s.dir == Dir::Tx => {
                        last_tx = time;
                        continue;
                    }
                    EventKind::Segment(s) if !matched[side][i] => {
                        let mut label = Label::new(s, isns[side].peer[i], isns[side].own[i]);
                        if show_ports {
                            label.ports = Some((s.tuple.remote.port(), s.tuple.local.port()));
                        }
                        NoteKind::Unmatched(label)
                    }
                    _ => continue,
                };
                let origin = match (&kind, &e.kind) {
                    (NoteKind::Unmatched(_), EventKind::Segment(s)) => {
                        origin_of(sides[1 - side], s, time)
                            .map(|j| (1 - side, j, sides[1 - side].events[j].time.as_micros()))
                    }
                    _ => None,
                };
                notes.push(Note {
                    side,
                    index: i,
                    time,
                    kind,
                    origin,
                    port: tuple_of(e).filter(|_| show_ports).map(|t| t.local.port()),
                });
            }
        }
        Ladder {
            names: [a.name.to_string(), b.name.to_string()],
            initial: [a.initial, b.initial],
            segments,
            notes,
            changes,
            timers,
        }
    }
}

/// The 4-tuple an event belongs to, from its side's point of view.
fn tuple_of(e: &Event) -> Option<FourTuple> {
    match &e.kind {
        EventKind::Segment(s) => Some(s.tuple),
        EventKind::State(s) => Some(s.tuple),
        EventKind::Timer(t) => Some(t.tuple),
        EventKind::Malformed(_) => None,
    }
}

/// For each event of a side, the state of the event's connection (its 4-tuple) just before
/// and after it; every connection starts in the side's initial state (CLOSED for a client,
/// LISTEN for a listener's half-open entries).
struct States {
    before: Vec<State>,
    after: Vec<State>,
}

impl States {
    fn of(side: &Side<'_>) -> States {
        let n = side.events.len();
        let mut cur: HashMap<FourTuple, State> = HashMap::new();
        let mut last = side.initial;
        let (mut before, mut after) = (vec![side.initial; n], vec![side.initial; n]);
        for (i, e) in side.events.iter().enumerate() {
            let b = tuple_of(e).map_or(last, |t| *cur.get(&t).unwrap_or(&side.initial));
            let mut a = b;
            if let EventKind::State(s) = &e.kind {
                cur.insert(s.tuple, s.to);
                a = s.to;
            }
            before[i] = b;
            after[i] = a;
            last = a;
        }
        // A segment's "state after" includes the state changes it caused on its connection,
        // which the trace records right after it, up to the next segment.
        let raw = after.clone();
        for (i, e) in side.events.iter().enumerate() {
            let EventKind::Segment(seg) = &e.kind else {
                continue;
            };
            for (j, f) in side.events.iter().enumerate().skip(i + 1) {
                match &f.kind {
                    EventKind::Segment(_) => break,
                    EventKind::State(s) if !is_user_cause(s.cause) && s.tuple == seg.tuple => {
                        after[i] = raw[j];
                    }
                    _ => {}
                }
            }
        }
        States { before, after }
    }

    /// The state of the connection on `tuple` at time `t`.
    fn at(&self, side: &Side<'_>, tuple: FourTuple, t: u64) -> State {
        let mut st = side.initial;
        for (i, e) in side.events.iter().enumerate() {
            if e.time.as_micros() > t {
                break;
            }
            if tuple_of(e) == Some(tuple) {
                st = self.after[i];
            }
        }
        st
    }
}

/// For each event of a side, the ISNs of its connection known at that moment: its own (the
/// last SYN it sent on the 4-tuple) and the peer's (the last SYN it received on it). A reused
/// 4-tuple starts counting afresh from its new SYNs.
struct Isns {
    own: Vec<Option<u32>>,
    peer: Vec<Option<u32>>,
    /// The first SYN the side sent on each 4-tuple, for a peer that never saw it.
    first: HashMap<FourTuple, u32>,
}

impl Isns {
    fn of(side: &Side<'_>) -> Isns {
        let n = side.events.len();
        let (mut own_now, mut peer_now) = (HashMap::new(), HashMap::new());
        let mut first = HashMap::new();
        let (mut own, mut peer) = (vec![None; n], vec![None; n]);
        for (i, e) in side.events.iter().enumerate() {
            let Some(t) = tuple_of(e) else { continue };
            if let EventKind::Segment(s) = &e.kind {
                if s.flags.syn() && s.dir == Dir::Tx {
                    own_now.insert(t, s.seq);
                    first.entry(t).or_insert(s.seq);
                } else if s.flags.syn() && !s.flags.rst() {
                    peer_now.insert(t, s.seq);
                }
            }
            own[i] = own_now.get(&t).copied();
            peer[i] = peer_now.get(&t).copied();
        }
        Isns { own, peer, first }
    }
}

/// A transition the application or a timer caused, not a segment.
pub fn is_user_cause(c: Cause) -> bool {
    matches!(
        c,
        Cause::Connect
            | Cause::Close
            | Cause::Abort
            | Cause::TimeWaitExpired
            | Cause::FinWait2Timeout
            | Cause::RetriesExhausted
            | Cause::ListenerClosed
    )
}

/// The latest segment `sender` transmitted that is identical to the received `s` (same
/// 4-tuple, seen from the sender, and the same seq, ack, flags, length and window), sent no
/// later than `arrival` µs.
fn origin_of(sender: &Side<'_>, s: &SegmentEvent, arrival: u64) -> Option<usize> {
    sender.events.iter().rposition(|e| {
        e.time.as_micros() <= arrival
            && matches!(&e.kind, EventKind::Segment(x)
                if x.dir == Dir::Tx && x.tuple == s.tuple.reversed() && key(x) == key(s))
    })
}

fn key(s: &SegmentEvent) -> (u32, u32, u8, u32, u16) {
    (s.seq, s.ack, s.flags.bits(), s.len, s.win)
}

/// The sequence of states a side went through, starting with its initial state.
pub fn state_sequence(side: &Side<'_>) -> Vec<State> {
    let mut seq = vec![side.initial];
    for e in side.events {
        if let EventKind::State(s) = &e.kind {
            seq.push(s.to);
        }
    }
    seq
}

/// The connections a side took part in, each with its state sequence (starting with the side's
/// initial state), in the order they began. A 4-tuple used again after its connection reached
/// CLOSED counts as a new connection.
pub fn state_sequences(side: &Side<'_>) -> Vec<(FourTuple, Vec<State>)> {
    let mut groups: Vec<(FourTuple, Vec<State>)> = Vec::new();
    let mut open: HashMap<FourTuple, usize> = HashMap::new();
    for e in side.events {
        let EventKind::State(s) = &e.kind else {
            continue;
        };
        let k = match open.get(&s.tuple) {
            Some(&k) if groups[k].1.last() != Some(&State::Closed) => k,
            _ => {
                groups.push((s.tuple, vec![side.initial]));
                open.insert(s.tuple, groups.len() - 1);
                groups.len() - 1
            }
        };
        groups[k].1.push(s.to);
    }
    groups
}

/// A state sequence as text: `CLOSED → SYN-SENT → …`.
pub fn show_states(s: &[State]) -> String {
    s.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" → ")
}

/// Seconds with six decimals.
pub fn secs(t: u64) -> String {
    format!("{}.{:06}", t / 1_000_000, t % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::show_relative;

    #[test]
    fn relative_numbers_before_the_isn_are_negative() {
        assert_eq!(show_relative(0), "0");
        assert_eq!(show_relative(1461), "1461");
        assert_eq!(show_relative(0u32.wrapping_sub(830)), "-830");
    }
}
