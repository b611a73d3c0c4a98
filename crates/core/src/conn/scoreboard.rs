//! The sender's SACK scoreboard (RFC 6675 §2, §4): which bytes above SND.UNA the receiver has
//! reported holding, and the predicates RFC 6675 builds loss recovery on: IsLost, the pipe
//! estimate and the holes NextSeg picks from.
//!
//! Ranges are kept as sequence numbers, sorted and disjoint, all within `[SND.UNA, SND.MAX)`.
//! Their number is bounded: a receiver reports at most 4 blocks per ACK, and a block that
//! would push the list past its bound is not recorded (the bytes it covers are then simply
//! treated as not yet SACKed, which only makes recovery more conservative).

use oxtcp_wire::SackBlock;

use crate::seq::SeqNum;

/// RFC 6675 §2 DupThresh: three duplicate ACKs, or SACKed data this many segments above a
/// hole, mark it lost (RFC 5681 §3.2).
pub(crate) const DUP_THRESH: u32 = 3;

/// Most SACKed ranges remembered at once.
const MAX_RANGES: usize = 64;

/// What one ACK's SACK option told the scoreboard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SackUpdate {
    /// Bytes newly marked SACKed.
    pub(crate) newly_sacked: u32,
    /// The first block was a D-SACK (RFC 2883 §4): it reports data received twice.
    pub(crate) dsack: Option<(SeqNum, SeqNum)>,
}

#[derive(Debug, Default)]
pub(crate) struct Scoreboard {
    /// SACKed ranges `[left, right)`, sorted, disjoint and not touching.
    ranges: Vec<(SeqNum, SeqNum)>,
}

impl Scoreboard {
    /// Nothing SACKed (`Default`, usable in a const).
    pub(crate) const EMPTY: Scoreboard = Scoreboard { ranges: Vec::new() };

    /// Forget everything (RFC 2018 §8: after a retransmission timeout the SACKed bits are
    /// turned off, since the receiver may have reneged).
    pub(crate) fn clear(&mut self) {
        self.ranges = Vec::new();
    }

    /// Nothing SACKed.
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// SND.UNA moved to `una`: drop what lies below it.
    pub(crate) fn advance(&mut self, una: SeqNum) {
        self.ranges.retain(|&(_, r)| r.after(una));
        if let Some(first) = self.ranges.first_mut() {
            if first.0.before(una) {
                first.0 = una;
            }
        }
    }

    /// Record the blocks of an ACK whose cumulative acknowledgment is `ack`, for data sent
    /// up to `snd_max`. RFC 2883 §4: the first block is a D-SACK when it lies below the
    /// cumulative ACK or inside the second block; it reports a duplicate, not new data.
    /// Blocks that are inverted, below the ACK, or beyond what was sent are ignored: a
    /// peer's option can never make the scoreboard claim bytes we did not send.
    pub(crate) fn on_sack(
        &mut self,
        ack: SeqNum,
        snd_max: SeqNum,
        blocks: &[SackBlock],
    ) -> SackUpdate {
        let mut update = SackUpdate::default();
        let edges = |b: &SackBlock| (SeqNum::new(b.left), SeqNum::new(b.right));
        let mut rest = blocks;
        if let Some((l, r)) = blocks.first().map(edges) {
            let below_ack = r.before_eq(ack) && l.before(r);
            let inside_second = blocks
                .get(1)
                .map(edges)
                .is_some_and(|(l2, r2)| l.after_eq(l2) && r.before_eq(r2) && l.before(r));
            if below_ack || inside_second {
                update.dsack = Some((l, r));
                rest = &blocks[1..];
            }
        }
        for (l, r) in rest.iter().map(edges) {
            if !l.before(r) || !l.after_eq(ack) || r.after(snd_max) {
                continue;
            }
            update.newly_sacked += self.insert(l, r);
        }
        update
    }

    /// Mark `[l, r)` SACKed; returns how many bytes were new.
    fn insert(&mut self, l: SeqNum, r: SeqNum) -> u32 {
        let first = self.ranges.partition_point(|&(_, e)| e.before(l));
        let last = self.ranges.partition_point(|&(s, _)| s.before_eq(r));
        if first == last && self.ranges.len() >= MAX_RANGES {
            return 0;
        }
        let covered: u32 = self.ranges[first..last]
            .iter()
            .map(|&(s, e)| overlap((s, e), (l, r)))
            .sum();
        let mut merged = (l, r);
        if first < last {
            if self.ranges[first].0.before(merged.0) {
                merged.0 = self.ranges[first].0;
            }
            merged.1 = merged.1.max(self.ranges[last - 1].1);
        }
        self.ranges.splice(first..last, std::iter::once(merged));
        r.since(l) - covered
    }

    /// Whether the byte at `seq` has been SACKed.
    #[cfg(test)]
    pub(crate) fn is_sacked(&self, seq: SeqNum) -> bool {
        self.range_at(seq).is_some()
    }

    /// The SACKed range containing `seq`, if any.
    pub(crate) fn range_at(&self, seq: SeqNum) -> Option<(SeqNum, SeqNum)> {
        let i = self.ranges.partition_point(|&(_, e)| e.before_eq(seq));
        self.ranges
            .get(i)
            .copied()
            .filter(|&(s, _)| s.before_eq(seq))
    }

    /// The first SACKed byte at or after `seq`, if any.
    pub(crate) fn next_sacked(&self, seq: SeqNum) -> Option<SeqNum> {
        let i = self.ranges.partition_point(|&(_, e)| e.before_eq(seq));
        self.ranges.get(i).map(|&(s, _)| s.max(seq))
    }

    /// The end of the highest SACKed range: one past the "highest octet covered by any
    /// received SACK" (RFC 6675 NextSeg rule 1.b).
    pub(crate) fn high_sacked(&self) -> Option<SeqNum> {
        self.ranges.last().map(|&(_, r)| r)
    }

    /// RFC 6675 IsLost, as one boundary: every un-SACKed byte below the returned number is
    /// lost, none above it. A byte is lost when DupThresh discontiguous SACKed ranges lie
    /// above it, or more than (DupThresh − 1)·SMSS SACKed bytes do. Both counts only grow as
    /// the byte gets lower, so walking the ranges down from the top finds the boundary: the
    /// left edge of the first range at which either count is reached.
    pub(crate) fn lost_below(&self, smss: u32) -> Option<SeqNum> {
        let mut bytes = 0u32;
        for (n, &(l, r)) in self.ranges.iter().rev().enumerate() {
            bytes += r.since(l);
            if n as u32 + 1 >= DUP_THRESH || bytes > (DUP_THRESH - 1) * smss {
                return Some(l);
            }
        }
        None
    }

    /// Un-SACKed bytes in `[from, to)`.
    pub(crate) fn unsacked_in(&self, from: SeqNum, to: SeqNum) -> u32 {
        if !from.before(to) {
            return 0;
        }
        let sacked: u32 = self
            .ranges
            .iter()
            .map(|&range| overlap(range, (from, to)))
            .sum();
        to.since(from) - sacked
    }

    /// The first un-SACKed byte at or after `from` and before `to`, with the end of its hole
    /// (capped at `to`).
    pub(crate) fn hole_from(&self, from: SeqNum, to: SeqNum) -> Option<(SeqNum, SeqNum)> {
        let mut at = from;
        if let Some((_, r)) = self.range_at(at) {
            at = r;
        }
        if !at.before(to) {
            return None;
        }
        let end = self.next_sacked(at).filter(|s| s.before(to)).unwrap_or(to);
        Some((at, end))
    }
}

/// Bytes two ranges share.
fn overlap(a: (SeqNum, SeqNum), b: (SeqNum, SeqNum)) -> u32 {
    let l = a.0.max(b.0);
    let r = if a.1.before(b.1) { a.1 } else { b.1 };
    if l.before(r) {
        r.since(l)
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u32 = 1000;

    fn s(n: u32) -> SeqNum {
        SeqNum::new(n)
    }

    fn blocks(b: &[(u32, u32)]) -> Vec<SackBlock> {
        b.iter()
            .map(|&(left, right)| SackBlock { left, right })
            .collect()
    }

    #[test]
    fn blocks_merge_and_count_only_new_bytes() {
        let mut sb = Scoreboard::default();
        let u = sb.on_sack(s(0), s(10 * S), &blocks(&[(2 * S, 3 * S)]));
        assert_eq!(u.newly_sacked, S);
        let u = sb.on_sack(s(0), s(10 * S), &blocks(&[(3 * S, 4 * S), (2 * S, 3 * S)]));
        assert_eq!(u.newly_sacked, S);
        assert_eq!(sb.ranges, vec![(s(2 * S), s(4 * S))]);
        assert!(sb.is_sacked(s(2 * S)) && sb.is_sacked(s(4 * S - 1)));
        assert!(!sb.is_sacked(s(4 * S)) && !sb.is_sacked(s(2 * S - 1)));
        assert_eq!(sb.unsacked_in(s(0), s(10 * S)), 8 * S);
        assert_eq!(sb.hole_from(s(0), s(10 * S)), Some((s(0), s(2 * S))));
        assert_eq!(
            sb.hole_from(s(2 * S + 5), s(10 * S)),
            Some((s(4 * S), s(10 * S)))
        );
    }

    #[test]
    fn forged_blocks_beyond_what_was_sent_or_inverted_are_ignored() {
        let mut sb = Scoreboard::default();
        let u = sb.on_sack(
            s(0),
            s(4 * S),
            &blocks(&[(5 * S, 6 * S), (3 * S, 2 * S), (S, 5 * S)]),
        );
        assert_eq!(u.newly_sacked, 0);
        assert!(sb.is_empty());
    }

    #[test]
    fn dsack_below_the_ack_or_inside_the_second_block_is_recognised() {
        let mut sb = Scoreboard::default();
        let u = sb.on_sack(s(5 * S), s(10 * S), &blocks(&[(S, 2 * S)]));
        assert_eq!(u.dsack, Some((s(S), s(2 * S))));
        assert!(sb.is_empty());
        let u = sb.on_sack(s(0), s(10 * S), &blocks(&[(6 * S, 7 * S), (6 * S, 8 * S)]));
        assert_eq!(u.dsack, Some((s(6 * S), s(7 * S))));
        assert_eq!(u.newly_sacked, 2 * S);
    }

    #[test]
    fn is_lost_needs_three_ranges_or_more_than_two_segments_above() {
        let mut sb = Scoreboard::default();
        sb.on_sack(s(0), s(20 * S), &blocks(&[(S, 2 * S)]));
        assert_eq!(sb.lost_below(S), None);
        sb.on_sack(s(0), s(20 * S), &blocks(&[(3 * S, 4 * S)]));
        assert_eq!(sb.lost_below(S), None);
        // A third discontiguous range: everything un-SACKed below the lowest is lost.
        sb.on_sack(s(0), s(20 * S), &blocks(&[(5 * S, 6 * S)]));
        assert_eq!(sb.lost_below(S), Some(s(S)));
        // One range of three segments is more than two segments' worth.
        let mut sb = Scoreboard::default();
        sb.on_sack(s(0), s(20 * S), &blocks(&[(4 * S, 7 * S)]));
        assert_eq!(sb.lost_below(S), Some(s(4 * S)));
    }

    #[test]
    fn advance_drops_ranges_below_una() {
        let mut sb = Scoreboard::default();
        sb.on_sack(s(0), s(20 * S), &blocks(&[(S, 2 * S), (3 * S, 5 * S)]));
        sb.advance(s(4 * S));
        assert_eq!(sb.ranges, vec![(s(4 * S), s(5 * S))]);
        sb.advance(s(5 * S));
        assert!(sb.is_empty());
    }

    #[test]
    fn works_across_the_sequence_wrap() {
        let base = u32::MAX - 2 * S;
        let mut sb = Scoreboard::default();
        let u = sb.on_sack(
            s(base),
            s(base.wrapping_add(10 * S)),
            &blocks(&[(base.wrapping_add(S), base.wrapping_add(4 * S))]),
        );
        assert_eq!(u.newly_sacked, 3 * S);
        assert_eq!(sb.lost_below(S), Some(s(base.wrapping_add(S))));
        assert_eq!(sb.unsacked_in(s(base), s(base.wrapping_add(10 * S))), 7 * S);
    }
}
