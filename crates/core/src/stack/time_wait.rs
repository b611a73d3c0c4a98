//! TIME-WAIT entries in the slab: a released connection that reaches TIME-WAIT is replaced by
//! its compact entry (`conn::TimeWait`), which answers segments, sends its ACKs and runs out
//! its 2×MSL on its own. `StackConfig::max_time_wait` bounds how many there are.

use super::{Entry, Stack};
use crate::conn::{Ctx, Disposition, Ended, SegIn};
use crate::event::{EventKind, StateEvent};
use crate::state::State;
use crate::time::Instant;

impl Stack {
    /// If the connection in slot `index` is released and in TIME-WAIT, keep only its compact
    /// entry. Past `max_time_wait` entries TIME-WAIT ends at once instead (as Linux does when
    /// its tw_buckets are exhausted), and the overflow is counted.
    pub(super) fn compact_time_wait(&mut self, index: u32) {
        // This runs after every segment: the common case leaves at the first check.
        match &self.slots[index as usize].entry {
            Entry::Conn(c) if c.is_released() && c.state() == State::TimeWait => {}
            _ => return,
        }
        let full = self
            .cfg
            .max_time_wait
            .is_some_and(|max| self.usage.time_wait >= max);
        let id = self.conn_id(index);
        let Entry::Conn(c) = &mut self.slots[index as usize].entry else {
            return;
        };
        if full {
            self.stats.time_wait_overflow += 1;
            let mut ctx = ctx!(self, self.now, id);
            c.skip_time_wait(&mut ctx);
            return;
        }
        let Some(tw) = c.take_time_wait() else {
            return;
        };
        self.uncount_entry(index);
        self.slots[index as usize].entry = Entry::TimeWait(tw);
        self.count_entry(index, 0);
    }

    /// SEGMENT ARRIVES for a compact TIME-WAIT entry.
    pub(super) fn on_time_wait_segment(
        &mut self,
        now: Instant,
        index: u32,
        seg: SegIn<'_>,
    ) -> Disposition {
        let id = self.conn_id(index);
        let Entry::TimeWait(tw) = &mut self.slots[index as usize].entry else {
            return Disposition::Dropped(crate::event::DropReason::Closed);
        };
        let mut ctx = ctx!(self, now, id);
        let (d, ended) = tw.handle_segment(&mut ctx, &seg);
        match ended {
            Some(ended) => self.end_time_wait_entry(index, ended),
            None => self.after_activity(index),
        }
        d
    }

    /// The 2×MSL timer of a compact entry.
    pub(super) fn on_time_wait_timeout(&mut self, now: Instant, index: u32) {
        let id = self.conn_id(index);
        let Entry::TimeWait(tw) = &mut self.slots[index as usize].entry else {
            return;
        };
        let mut ctx = ctx!(self, now, id);
        match tw.on_timeout(&mut ctx) {
            Some(ended) => self.end_time_wait_entry(index, ended),
            None => self.after_activity(index),
        }
    }

    /// A compact entry's TIME-WAIT is over: trace TIME-WAIT → CLOSED and free the slot.
    pub(super) fn end_time_wait_entry(&mut self, index: u32, ended: Ended) {
        let Entry::TimeWait(tw) = &self.slots[index as usize].entry else {
            return;
        };
        let tuple = tw.tuple;
        let id = self.conn_id(index);
        self.trace.push(
            self.now,
            EventKind::State(StateEvent {
                tuple,
                conn: Some(id),
                from: State::TimeWait,
                to: State::Closed,
                cause: ended.cause,
                error: ended.error,
            }),
        );
        self.free_slot(index);
    }
}
