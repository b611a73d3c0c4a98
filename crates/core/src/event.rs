//! The trace stream: every segment in or out (with a reason when dropped), every state change
//! with its cause, every timer that fires. Ladder diagrams, `ss`, pcap annotations and logs all
//! read this stream; the core itself never prints.

use std::collections::VecDeque;

use oxtcp_wire::{TcpFlags, TcpOptions};

use crate::error::ConnError;
use crate::handle::ConnId;
use crate::state::State;
use crate::time::Instant;
use crate::tuple::FourTuple;

/// One entry of the trace stream.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// When it happened.
    pub time: Instant,
    /// What happened.
    pub kind: EventKind,
}

/// What happened.
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    /// A segment was sent, received, or received and dropped.
    Segment(SegmentEvent),
    /// A connection (or a half-open entry) changed state.
    State(StateEvent),
    /// A timer fired.
    Timer(TimerEvent),
    /// A packet that could not be parsed far enough to name a connection was dropped.
    Malformed(DropReason),
}

/// Direction of a segment event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Sent by this stack.
    Tx,
    /// Received and processed.
    Rx,
    /// Received and dropped; the reason is in `SegmentEvent::reason`.
    Drop,
}

impl Dir {
    /// `tx`, `rx` or `drop`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Dir::Tx => "tx",
            Dir::Rx => "rx",
            Dir::Drop => "drop",
        }
    }
}

/// A segment as the trace records it: the header fields a ladder diagram needs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SegmentEvent {
    /// Sent, received, or dropped.
    pub dir: Dir,
    /// The connection's 4-tuple, from this stack's point of view.
    pub tuple: FourTuple,
    /// The connection it belongs to, if one exists (not for stateless replies).
    pub conn: Option<ConnId>,
    /// Raw sequence number.
    pub seq: u32,
    /// Raw acknowledgment number (meaningful when ACK is set).
    pub ack: u32,
    /// Header flags.
    pub flags: TcpFlags,
    /// Payload length in bytes.
    pub len: u32,
    /// Raw window field.
    pub win: u16,
    /// Options carried.
    pub options: TcpOptions,
    /// A transmitted segment that repeats sequence space already sent.
    pub retransmit: bool,
    /// Why a received segment was dropped, or why a sent one was generated (e.g. a challenge ACK).
    pub reason: Option<DropReason>,
}

/// A state transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateEvent {
    /// The connection's 4-tuple.
    pub tuple: FourTuple,
    /// The connection, if it has a handle (a half-open entry in a SYN queue has one too).
    pub conn: Option<ConnId>,
    /// Previous state.
    pub from: State,
    /// New state.
    pub to: State,
    /// What caused it.
    pub cause: Cause,
    /// Why the connection ended, for a transition to CLOSED that was not an orderly close.
    pub error: Option<ConnError>,
}

/// A timer firing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerEvent {
    /// The connection's 4-tuple.
    pub tuple: FourTuple,
    /// Which timer.
    pub timer: TimerKind,
    /// Retransmission attempt this firing starts (1 for the first retransmission), or 0.
    pub attempt: u32,
}

/// The connection timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// Retransmission timeout (RFC 6298) for SYN, data or FIN.
    Retransmit,
    /// SYN-ACK retransmission of a half-open entry.
    SynAckRetransmit,
    /// Zero-window probe (RFC 9293 §3.8.6.1).
    Persist,
    /// TIME-WAIT's 2×MSL expired.
    TimeWait,
    /// An orphaned connection's FIN-WAIT-2 limit expired.
    FinWait2,
    /// Keep-alive (RFC 9293 §3.8.4): the attempt number is the probe's; one past the last
    /// probe means the peer never answered and the connection fails.
    KeepAlive,
    /// A delayed ACK (RFC 9293 §3.8.6.3) is due.
    DelayedAck,
}

impl TimerKind {
    /// Stable lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TimerKind::Retransmit => "rto",
            TimerKind::SynAckRetransmit => "synack-rto",
            TimerKind::Persist => "persist",
            TimerKind::TimeWait => "time-wait",
            TimerKind::FinWait2 => "fin-wait-2",
            TimerKind::KeepAlive => "keep-alive",
            TimerKind::DelayedAck => "delack",
        }
    }
}

/// Why a state changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cause {
    /// The application called connect (active OPEN).
    Connect,
    /// A SYN arrived at a listener.
    RecvSyn,
    /// A SYN+ACK acknowledging our SYN arrived.
    RecvSynAck,
    /// The ACK of our SYN arrived.
    RecvAckOfSyn,
    /// The peer's FIN arrived.
    RecvFin,
    /// The ACK of our FIN arrived.
    RecvAckOfFin,
    /// An acceptable RST arrived.
    RecvRst,
    /// The application closed (or shut down writing).
    Close,
    /// The application aborted.
    Abort,
    /// Retransmissions were exhausted.
    RetriesExhausted,
    /// TIME-WAIT's 2×MSL expired.
    TimeWaitExpired,
    /// An orphan's FIN-WAIT-2 limit expired.
    FinWait2Timeout,
    /// The listener was closed with this entry still in its queues.
    ListenerClosed,
    /// A SYN in a synchronized state reset the connection (RFC 793 rules).
    RecvSynInWindow,
    /// A final ACK returned a valid SYN cookie: the handshake completes from it.
    SynCookie,
    /// A new SYN for the same 4-tuple ended TIME-WAIT (RFC 6191).
    TimeWaitReused,
    /// An active OPEN of this host took the 4-tuple over from TIME-WAIT
    /// (`StackConfig::connect_reuses_time_wait`).
    TimeWaitTakenByConnect,
    /// `StackConfig::max_time_wait` entries were already in TIME-WAIT, so this one was not
    /// kept.
    TimeWaitOverflow,
}

impl Cause {
    /// Stable lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Cause::Connect => "connect",
            Cause::RecvSyn => "rcv SYN",
            Cause::RecvSynAck => "rcv SYN+ACK",
            Cause::RecvAckOfSyn => "rcv ACK of SYN",
            Cause::RecvFin => "rcv FIN",
            Cause::RecvAckOfFin => "rcv ACK of FIN",
            Cause::RecvRst => "rcv RST",
            Cause::Close => "close",
            Cause::Abort => "abort",
            Cause::RetriesExhausted => "retries exhausted",
            Cause::TimeWaitExpired => "2MSL timeout",
            Cause::FinWait2Timeout => "FIN-WAIT-2 timeout",
            Cause::ListenerClosed => "listener closed",
            Cause::RecvSynInWindow => "rcv SYN in window",
            Cause::SynCookie => "rcv ACK with SYN cookie",
            Cause::TimeWaitReused => "rcv new SYN (RFC 6191)",
            Cause::TimeWaitTakenByConnect => "connect reuses the 4-tuple",
            Cause::TimeWaitOverflow => "TIME-WAIT table full",
        }
    }
}

/// Why a segment was dropped (or a reply generated); counted per cause in the stack statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The datagram failed to parse.
    Malformed(oxtcp_wire::Error),
    /// Addressed to an address that is not ours.
    NotForUs,
    /// Source or destination port 0, or a non-unicast source.
    BadAddress,
    /// No connection and no listener: answered with RST (RFC 9293 §3.10.7.1).
    NoConnection,
    /// An RST with nothing to reset.
    RstIgnored,
    /// A listener got an ACK: answered with RST (RFC 9293 §3.10.7.2).
    AckToListener,
    /// A listener got a segment without SYN.
    NoSyn,
    /// SYN and FIN together.
    SynFin,
    /// SYN and RST together: no valid segment carries both (an RST never opens anything, a
    /// SYN never resets), so it is dropped in every state, as a scanner's probe.
    SynRst,
    /// None of SYN, ACK, RST or FIN (a "null" segment) in a synchronized state.
    NoFlags,
    /// FIN without ACK in a synchronized state (e.g. an "Xmas" FIN+PSH+URG probe).
    FinWithoutAck,
    /// The listener's SYN queue is full.
    SynQueueFull,
    /// The listener's accept queue is full.
    AcceptQueueFull,
    /// Outside the receive window (RFC 9293 §3.10.7.4, first check).
    OutOfWindow,
    /// PAWS: a TSval older than TS.Recent (RFC 7323 §5.3 R1); an ACK goes back.
    Paws,
    /// A non-RST segment without the Timestamps option on a connection that negotiated it
    /// (RFC 7323 §3.2).
    MissingTimestamp,
    /// An RST not at RCV.NXT but in the window: challenge ACK sent (RFC 5961 §3.2).
    ChallengeAckRst,
    /// A SYN in TIME-WAIT that RFC 6191 does not let reuse the 4-tuple (its TSval is not
    /// above TS.Recent), dropped silently.
    TimeWaitSyn,
    /// An RST in TIME-WAIT, ignored against TIME-WAIT assassination (RFC 1337 §3, fix F1).
    TimeWaitRst,
    /// A SYN in a synchronized state: challenge ACK sent (RFC 5961 §4.2).
    ChallengeAckSyn,
    /// An ACK for something never sent.
    AckTooNew,
    /// An ACK older than SND.UNA minus the largest window sent (RFC 5961 §5.2).
    AckTooOld,
    /// An unacceptable ACK in SYN-SENT or SYN-RECEIVED: answered with RST.
    BadAck,
    /// A segment without ACK in a state that requires one.
    NoAck,
    /// A SYN-SENT segment with neither SYN nor RST.
    NoSynInSynSent,
    /// The reassembly queue has no room for another hole.
    ReassemblyFull,
    /// The connection is closed.
    Closed,
    /// The stack holds `max_connections` full connections already.
    ConnectionLimit,
    /// The stack holds `max_half_open` half-open entries already.
    HalfOpenLimit,
    /// A new connection's buffers would exceed the stack's `memory_budget`.
    MemoryBudget,
}

impl DropReason {
    /// Stable snake_case name, for counters and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Malformed(e) => e.name(),
            DropReason::NotForUs => "not_for_us",
            DropReason::BadAddress => "bad_address",
            DropReason::NoConnection => "no_connection",
            DropReason::RstIgnored => "rst_ignored",
            DropReason::AckToListener => "ack_to_listener",
            DropReason::NoSyn => "no_syn",
            DropReason::SynFin => "syn_fin",
            DropReason::SynRst => "syn_rst",
            DropReason::NoFlags => "no_flags",
            DropReason::FinWithoutAck => "fin_without_ack",
            DropReason::SynQueueFull => "syn_queue_full",
            DropReason::AcceptQueueFull => "accept_queue_full",
            DropReason::OutOfWindow => "out_of_window",
            DropReason::Paws => "paws",
            DropReason::MissingTimestamp => "missing_timestamp",
            DropReason::TimeWaitRst => "time_wait_rst",
            DropReason::TimeWaitSyn => "time_wait_syn",
            DropReason::ChallengeAckRst => "challenge_ack_rst",
            DropReason::ChallengeAckSyn => "challenge_ack_syn",
            DropReason::AckTooNew => "ack_too_new",
            DropReason::AckTooOld => "ack_too_old",
            DropReason::BadAck => "bad_ack",
            DropReason::NoAck => "no_ack",
            DropReason::NoSynInSynSent => "no_syn_in_syn_sent",
            DropReason::ReassemblyFull => "reassembly_full",
            DropReason::Closed => "closed",
            DropReason::ConnectionLimit => "connection_limit",
            DropReason::HalfOpenLimit => "half_open_limit",
            DropReason::MemoryBudget => "memory_budget",
        }
    }
}

/// The bounded queue behind `poll_event`.
#[derive(Debug)]
pub(crate) struct Trace {
    enabled: bool,
    capacity: usize,
    events: VecDeque<Event>,
    /// Events discarded because nobody polled.
    pub(crate) overflowed: u64,
    /// Events ever removed from the front (polled or discarded): positions handed out by
    /// `push` are counted from the start of the trace, so they stay valid when the front moves.
    removed: usize,
}

impl Trace {
    pub(crate) fn new(enabled: bool, capacity: usize) -> Self {
        Trace {
            enabled,
            capacity: capacity.max(1),
            events: VecDeque::new(),
            overflowed: 0,
            removed: 0,
        }
    }

    /// Whether events are recorded at all (so a caller can skip building one).
    pub(crate) fn is_on(&self) -> bool {
        self.enabled
    }

    /// Record an event; returns its position for a later `mark_dropped`.
    pub(crate) fn push(&mut self, time: Instant, kind: EventKind) -> Option<usize> {
        if !self.enabled {
            return None;
        }
        if self.events.len() >= self.capacity {
            self.events.pop_front();
            self.overflowed += 1;
            self.removed += 1;
        }
        self.events.push_back(Event { time, kind });
        Some(self.removed + self.events.len() - 1)
    }

    /// The segment event recorded at `pos`, if it is still queued.
    fn segment_at(&mut self, pos: Option<usize>) -> Option<&mut SegmentEvent> {
        let index = pos?.checked_sub(self.removed)?;
        match self.events.get_mut(index) {
            Some(Event {
                kind: EventKind::Segment(s),
                ..
            }) => Some(s),
            _ => None,
        }
    }

    /// Turn a recorded `rx` segment into a `drop` with its reason.
    pub(crate) fn mark_dropped(&mut self, pos: Option<usize>, reason: DropReason) {
        if let Some(s) = self.segment_at(pos) {
            s.dir = Dir::Drop;
            s.reason = Some(reason);
        }
    }

    /// Name the connection a recorded `rx` segment belongs to, once demultiplexing knows it.
    pub(crate) fn set_conn(&mut self, pos: Option<usize>, conn: ConnId) {
        if let Some(s) = self.segment_at(pos) {
            s.conn = Some(conn);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub(crate) fn pop(&mut self) -> Option<Event> {
        let e = self.events.pop_front()?;
        self.removed += 1;
        Some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(seq: u32) -> EventKind {
        let tuple = FourTuple {
            local: "10.0.0.1:1".parse().unwrap(),
            remote: "10.0.0.2:2".parse().unwrap(),
        };
        EventKind::Segment(SegmentEvent {
            dir: Dir::Rx,
            tuple,
            conn: None,
            seq,
            ack: 0,
            flags: oxtcp_wire::TcpFlags::ACK,
            len: 0,
            win: 0,
            options: TcpOptions::default(),
            retransmit: false,
            reason: None,
        })
    }

    #[test]
    fn positions_survive_polls_and_overflow_of_the_front() {
        let mut t = Trace::new(true, 2);
        t.push(Instant::ZERO, segment(1));
        let _ = t.pop();
        let pos = t.push(Instant::ZERO, segment(2));
        t.push(Instant::ZERO, segment(3));
        t.mark_dropped(pos, DropReason::OutOfWindow);
        // The queue is full: this push discards segment 2 from the front.
        let pos4 = t.push(Instant::ZERO, segment(4));
        t.mark_dropped(pos, DropReason::NoAck);
        t.mark_dropped(pos4, DropReason::BadAck);
        let rest: Vec<_> = std::iter::from_fn(|| t.pop()).collect();
        let fates: Vec<_> = rest
            .iter()
            .map(|e| match &e.kind {
                EventKind::Segment(s) => (s.seq, s.reason),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(fates, [(3, None), (4, Some(DropReason::BadAck))]);
        assert_eq!(t.overflowed, 1);
    }
}
