//! The SACK blocks a receiver reports (RFC 2018 §4) and D-SACK (RFC 2883 §4).
//!
//! The receive buffer knows which ranges are held out of order; this remembers in which order
//! they were last touched, so the first block is always the one holding the most recently
//! received segment and the blocks after it are the ones most recently reported, and it holds
//! the duplicate range a D-SACK reports once.

use oxtcp_wire::{SackBlock, SackBlocks};

use crate::seq::SeqNum;

/// Most blocks one SACK option can carry (RFC 2018 §3).
const MAX_BLOCKS: usize = SackBlocks::MAX;

/// Recency of the out-of-order blocks, and a pending D-SACK.
#[derive(Debug, Default)]
pub(crate) struct SackReport {
    /// Sequence numbers inside reported blocks, most recent first: each stands for the current
    /// out-of-order range that contains it (ranges merge as data arrives, so a point inside is
    /// what stays meaningful).
    recent: Vec<SeqNum>,
    /// A duplicate range to report first on the next ACK (RFC 2883 §4), and a point of the
    /// out-of-order range that contains it, if it lay in one.
    dsack: Option<(SeqNum, SeqNum, Option<SeqNum>)>,
}

impl SackReport {
    /// Nothing to report (`Default`, usable in a const).
    pub(crate) const EMPTY: SackReport = SackReport {
        recent: Vec::new(),
        dsack: None,
    };

    /// An out-of-order segment starting at `seq` was received (RFC 2018 §4: "the first SACK
    /// block MUST specify the contiguous block of data containing the segment which triggered
    /// this ACK").
    pub(crate) fn on_ooo_segment(&mut self, seq: SeqNum) {
        self.recent.retain(|&p| p != seq);
        self.recent.insert(0, seq);
        // Enough to fill an option even after duplicates of merged ranges collapse.
        self.recent.truncate(4 * MAX_BLOCKS);
    }

    /// A duplicate segment `[left, right)` arrived; `within` is a point of the out-of-order
    /// range that holds it, when it lay above RCV.NXT.
    pub(crate) fn on_duplicate(&mut self, left: SeqNum, right: SeqNum, within: Option<SeqNum>) {
        self.dsack = Some((left, right, within));
    }

    /// Nothing to report and nothing remembered.
    pub(crate) fn is_empty(&self) -> bool {
        self.recent.is_empty() && self.dsack.is_none()
    }

    /// The D-SACK was sent: RFC 2883 §4, it is reported once.
    pub(crate) fn on_sent(&mut self) {
        self.dsack = None;
    }

    /// Forget everything (the connection closed or no longer holds data out of order).
    pub(crate) fn clear(&mut self) {
        self.recent.clear();
        self.dsack = None;
    }

    /// Forget remembered points no longer inside any out-of-order range (RCV.NXT passed).
    pub(crate) fn forget_passed(&mut self, ooo: &[(SeqNum, SeqNum)]) {
        self.recent
            .retain(|&p| ooo.iter().any(|&(l, r)| p.after_eq(l) && p.before(r)));
    }

    /// Whether a D-SACK waits to be sent.
    pub(crate) fn has_dsack(&self) -> bool {
        self.dsack.is_some()
    }

    /// The blocks for the next ACK, at most `max`: the D-SACK first if one is pending, then
    /// the range it lay in, then the out-of-order ranges (`ooo`, absolute, ascending, disjoint)
    /// most recently touched first, then the others in ascending order.
    pub(crate) fn blocks(&self, ooo: &[(SeqNum, SeqNum)], max: usize) -> SackBlocks {
        let containing = |p: SeqNum| ooo.iter().position(|&(l, r)| p.after_eq(l) && p.before(r));
        let mut order: Vec<usize> = Vec::with_capacity(ooo.len() + 1);
        let mut out = SackBlocks::new();
        let max = max.min(MAX_BLOCKS);
        if let Some((left, right, within)) = self.dsack {
            if max > 0 {
                out.push(block(left, right));
            }
            // RFC 2883 §4: "If the D-SACK block reports a duplicate contiguous sequence from a
            // (possibly larger) block of data in the receiver's data queue above the cumulative
            // acknowledgement, then the second SACK block ... SHOULD specify this (possibly
            // larger) block of data."
            if let Some(i) = within.and_then(containing) {
                order.push(i);
            }
        }
        for &p in &self.recent {
            if let Some(i) = containing(p) {
                if !order.contains(&i) {
                    order.push(i);
                }
            }
        }
        for i in 0..ooo.len() {
            if !order.contains(&i) {
                order.push(i);
            }
        }
        for i in order {
            if out.len() >= max {
                break;
            }
            let (l, r) = ooo[i];
            out.push(block(l, r));
        }
        out
    }
}

fn block(left: SeqNum, right: SeqNum) -> SackBlock {
    SackBlock {
        left: left.get(),
        right: right.get(),
    }
}

/// Option bytes a SACK option with `n` blocks takes, with the two NOPs that align it
/// (RFC 2018 §3: 2 + 8n; Linux's layout pads to 4 + 8n).
pub(crate) fn sack_option_len(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        4 + 8 * n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> SeqNum {
        SeqNum::new(n)
    }

    fn pairs(b: &SackBlocks) -> Vec<(u32, u32)> {
        b.as_slice().iter().map(|b| (b.left, b.right)).collect()
    }

    #[test]
    fn most_recent_block_first_then_most_recently_reported() {
        let mut r = SackReport::default();
        let ooo = [(s(200), s(300)), (s(400), s(500)), (s(600), s(700))];
        r.on_ooo_segment(s(200));
        r.on_ooo_segment(s(600));
        r.on_ooo_segment(s(400));
        assert_eq!(
            pairs(&r.blocks(&ooo, 4)),
            [(400, 500), (600, 700), (200, 300)]
        );
        assert_eq!(pairs(&r.blocks(&ooo, 2)), [(400, 500), (600, 700)]);
    }

    #[test]
    fn blocks_passed_by_rcv_nxt_are_forgotten() {
        let mut r = SackReport::default();
        r.on_ooo_segment(s(200));
        r.on_ooo_segment(s(400));
        let ooo = [(s(400), s(500))];
        r.forget_passed(&ooo);
        assert_eq!(pairs(&r.blocks(&ooo, 4)), [(400, 500)]);
        assert_eq!(r.recent, [s(400)]);
    }

    #[test]
    fn dsack_first_then_its_containing_block_once() {
        let mut r = SackReport::default();
        let ooo = [(s(200), s(300)), (s(400), s(500))];
        r.on_ooo_segment(s(400));
        r.on_ooo_segment(s(200));
        r.on_duplicate(s(420), s(440), Some(s(420)));
        assert_eq!(
            pairs(&r.blocks(&ooo, 4)),
            [(420, 440), (400, 500), (200, 300)]
        );
        r.on_sent();
        assert_eq!(pairs(&r.blocks(&ooo, 4)), [(200, 300), (400, 500)]);
    }
}
