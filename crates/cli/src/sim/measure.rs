//! What the stacks' traces say about a transfer: retransmitted bytes and bytes in flight from
//! the sender's trace, spurious retransmissions from the receiver's.
//!
//! A *spurious retransmission* is counted when a data segment arrives at the receiver whose
//! every byte the receiver had already received. The receiver remembers, per connection, the
//! sequence ranges it accepted (relative to the peer's SYN); an arriving segment (accepted or
//! dropped) lying wholly inside them is a duplicate arrival. The simulated link does not
//! duplicate packets in `oxtcp sim transfer`, so every duplicate arrival is a copy the sender
//! retransmitted needlessly.

use std::collections::HashMap;

use oxtcp_core::{Dir, Event, EventKind, FourTuple, SegmentEvent};

/// Unwrap a 32-bit sequence offset to the 64-bit value nearest `near`.
fn unwrap(rel: u32, near: u64) -> u64 {
    let base = near & !0xffff_ffff;
    let candidates = [
        base.wrapping_sub(1 << 32) | u64::from(rel),
        base | u64::from(rel),
        (base + (1 << 32)) | u64::from(rel),
    ];
    candidates
        .into_iter()
        .filter(|&c| c <= near.saturating_add(1 << 31) && c.saturating_add(1 << 31) >= near)
        .min_by_key(|&c| c.abs_diff(near))
        .unwrap_or(u64::from(rel))
}

/// The sender's side of one connection.
#[derive(Clone, Debug, Default)]
pub struct SenderFlow {
    /// Payload bytes sent again (segments the stack marked as retransmissions).
    pub retransmitted_bytes: u64,
    /// Segments sent again.
    pub retransmitted_segments: u64,
    snd_max: Option<u32>,
    snd_una: Option<u32>,
}

impl SenderFlow {
    /// Sequence space sent but not yet acknowledged (SND.MAX − SND.UNA), bytes.
    pub fn in_flight(&self) -> u32 {
        match (self.snd_max, self.snd_una) {
            (Some(max), Some(una)) if (max.wrapping_sub(una) as i32) > 0 => max.wrapping_sub(una),
            _ => 0,
        }
    }

    fn on_segment(&mut self, s: &SegmentEvent) {
        match s.dir {
            Dir::Tx => {
                let end = s
                    .seq
                    .wrapping_add(s.len)
                    .wrapping_add(u32::from(s.flags.syn()) + u32::from(s.flags.fin()));
                if self
                    .snd_max
                    .is_none_or(|m| (end.wrapping_sub(m) as i32) > 0)
                {
                    self.snd_max = Some(end);
                }
                if s.retransmit && s.len > 0 {
                    self.retransmitted_bytes += u64::from(s.len);
                    self.retransmitted_segments += 1;
                }
            }
            Dir::Rx
                if s.flags.ack()
                    && self
                        .snd_una
                        .is_none_or(|u| (s.ack.wrapping_sub(u) as i32) > 0) =>
            {
                self.snd_una = Some(s.ack);
            }
            _ => {}
        }
    }
}

/// The receiver's side of one connection.
#[derive(Clone, Debug, Default)]
pub struct ReceiverFlow {
    /// Data segments that arrived with every byte already received.
    pub duplicate_arrivals: u64,
    /// Their payload bytes.
    pub duplicate_bytes: u64,
    /// First data byte's sequence number (the peer's ISN + 1).
    base: Option<u32>,
    /// Accepted ranges of relative offsets, sorted and disjoint, `[start, end)`.
    ranges: Vec<(u64, u64)>,
    highest: u64,
}

impl ReceiverFlow {
    fn covered(&self, start: u64, end: u64) -> bool {
        let i = self.ranges.partition_point(|r| r.1 < end);
        self.ranges
            .get(i)
            .is_some_and(|r| r.0 <= start && end <= r.1)
    }

    fn insert(&mut self, start: u64, end: u64) {
        let (mut s, mut e) = (start, end);
        let first = self.ranges.partition_point(|r| r.1 < s);
        let mut last = first;
        while last < self.ranges.len() && self.ranges[last].0 <= e {
            s = s.min(self.ranges[last].0);
            e = e.max(self.ranges[last].1);
            last += 1;
        }
        self.ranges.splice(first..last, [(s, e)]);
    }

    fn on_segment(&mut self, s: &SegmentEvent) {
        if s.dir == Dir::Tx {
            return;
        }
        if s.flags.syn() && s.dir == Dir::Rx {
            self.base = Some(s.seq.wrapping_add(1));
            return;
        }
        let Some(base) = self.base else { return };
        if s.len == 0 {
            return;
        }
        let start = unwrap(s.seq.wrapping_sub(base), self.highest);
        let end = start + u64::from(s.len);
        if self.covered(start, end) {
            self.duplicate_arrivals += 1;
            self.duplicate_bytes += u64::from(s.len);
        } else if s.dir == Dir::Rx {
            self.insert(start, end);
            self.highest = self.highest.max(end);
        }
    }
}

/// Per-connection counters built from both stacks' traces, fed incrementally.
#[derive(Debug, Default)]
pub struct TraceMeter {
    /// Sender side, keyed by the sender's tuple.
    pub senders: HashMap<FourTuple, SenderFlow>,
    /// Receiver side, keyed by the receiver's tuple.
    pub receivers: HashMap<FourTuple, ReceiverFlow>,
}

impl TraceMeter {
    /// Feed the sender's trace events (and forget them).
    pub fn sender_events(&mut self, events: &mut Vec<Event>) {
        for e in events.drain(..) {
            if let EventKind::Segment(s) = &e.kind {
                self.senders.entry(s.tuple).or_default().on_segment(s);
            }
        }
    }

    /// Feed the receiver's trace events (and forget them).
    pub fn receiver_events(&mut self, events: &mut Vec<Event>) {
        for e in events.drain(..) {
            if let EventKind::Segment(s) = &e.kind {
                self.receivers.entry(s.tuple).or_default().on_segment(s);
            }
        }
    }

    /// The sender's counters for the connection the sender knows as `tuple`.
    pub fn sender(&self, tuple: FourTuple) -> SenderFlow {
        self.senders.get(&tuple).cloned().unwrap_or_default()
    }

    /// The receiver's counters for the connection the sender knows as `tuple`.
    pub fn receiver(&self, tuple: FourTuple) -> ReceiverFlow {
        self.receivers
            .get(&tuple.reversed())
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwrap_picks_the_nearest_lap() {
        assert_eq!(unwrap(10, 0), 10);
        assert_eq!(unwrap(5, (1 << 32) + 100), (1 << 32) + 5);
        assert_eq!(unwrap(u32::MAX - 5, (1 << 32) + 100), (1 << 32) - 6);
    }

    #[test]
    fn ranges_merge_and_cover() {
        let mut r = ReceiverFlow::default();
        r.insert(0, 10);
        r.insert(20, 30);
        assert!(r.covered(2, 8));
        assert!(!r.covered(8, 22));
        r.insert(10, 20);
        assert_eq!(r.ranges, vec![(0, 30)]);
        assert!(r.covered(8, 22));
    }
}
