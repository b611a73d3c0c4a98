//! Released connections in TIME-WAIT: a released connection that reaches TIME-WAIT gives up
//! its slot and is kept packed in the TIME-WAIT table of its address family
//! (`time_wait_table`), which answers segments, sends its ACKs by the stateless exit and runs
//! out its 2×MSL on its own. `StackConfig::max_time_wait` bounds how many there are.
//!
//! A segment or timeout unpacks the entry into `conn::TimeWait`, the same code that handles
//! TIME-WAIT for a connection the application still holds, and packs it back.

use super::time_wait_table::TW_ID_BIT;
use super::{Entry, Reply, Stack};
use crate::conn::{
    Connection, Ctx, Disposition, Ended, PackedTimeWait, SegIn, TimeWait, TimeWaitSyn,
};
use crate::event::{Cause, DropReason, EventKind, StateEvent};
use crate::handle::ConnId;
use crate::state::State;
use crate::time::Instant;
use crate::tuple::{FourTuple, V4Tuple, V6Tuple};

/// Where a compact entry is: its table (by family) and its position there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TwAt {
    V4(u32),
    V6(u32),
}

impl TwAt {
    /// The name `ss` and `kill` know the entry by.
    pub(super) fn id(self) -> ConnId {
        let (pos, gen) = match self {
            TwAt::V4(p) => (p, 4),
            TwAt::V6(p) => (p, 6),
        };
        ConnId {
            index: TW_ID_BIT | (pos & !TW_ID_BIT),
            gen,
        }
    }
}

/// Whether a connection keeps only its compact TIME-WAIT entry: the application has let
/// go of it and it is in TIME-WAIT.
pub(super) fn leaves_for_time_wait_table(c: &Connection) -> bool {
    c.is_released() && c.state() == State::TimeWait
}

impl Stack {
    /// If the connection in slot `index` is released and in TIME-WAIT, keep only its compact
    /// entry. Past `max_time_wait` entries TIME-WAIT ends at once instead (as Linux does when
    /// its tw_buckets are exhausted), and the overflow is counted.
    /// `after_activity` calls it only for such a connection.
    #[inline(never)]
    pub(super) fn compact_time_wait(&mut self, index: u32) {
        match &self.slots[index as usize].entry {
            Entry::Conn(c) if leaves_for_time_wait_table(c) => {}
            _ => return,
        }
        let full = self
            .cfg
            .max_time_wait
            .is_some_and(|max| self.tw4.len() + self.tw6.len() >= max);
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
        let Some(mut tw) = c.take_time_wait() else {
            return;
        };
        let hash = self.by_tuple.hash(&tw.tuple);
        self.free_slot(index);
        let at = match PackedTimeWait::<V4Tuple>::pack(&tw) {
            Some(p) => TwAt::V4(self.tw4.push(hash, p)),
            None => match PackedTimeWait::<V6Tuple>::pack(&tw) {
                Some(p) => TwAt::V6(self.tw6.push(hash, p)),
                None => return,
            },
        };
        self.send_time_wait_ack(at, &mut tw);
        self.bufs.give_time_wait(tw);
    }

    /// The compact entry for `tuple` (hashed to `hash`), if there is one.
    pub(super) fn time_wait_find(&self, hash: u64, tuple: &FourTuple) -> Option<TwAt> {
        if tuple.local.is_ipv4() {
            self.tw4.find(hash, tuple).map(TwAt::V4)
        } else {
            self.tw6.find(hash, tuple).map(TwAt::V6)
        }
    }

    /// The compact entry an id names, if it is still there.
    pub(super) fn time_wait_at_id(&self, id: ConnId) -> Option<TwAt> {
        if id.index & TW_ID_BIT == 0 {
            return None;
        }
        match id.gen {
            4 => {
                let p = self.tw4.pos_of_id(id.index);
                self.tw4.get(p).map(|_| TwAt::V4(p))
            }
            6 => {
                let p = self.tw6.pos_of_id(id.index);
                self.tw6.get(p).map(|_| TwAt::V6(p))
            }
            _ => None,
        }
    }

    /// The entry at `at`, unpacked at the stack's now.
    pub(super) fn time_wait_unpack(&self, at: TwAt) -> Option<TimeWait> {
        match at {
            TwAt::V4(p) => self.tw4.get(p).map(|e| e.unpack(self.now)),
            TwAt::V6(p) => self.tw6.get(p).map(|e| e.unpack(self.now)),
        }
    }

    /// Pack `tw` back in place of the entry at `at`; it moves to the back of its table if its
    /// 2×MSL restarted.
    fn time_wait_store(&mut self, at: TwAt, tw: &TimeWait) -> Option<TwAt> {
        match at {
            TwAt::V4(p) => {
                let e = PackedTimeWait::<V4Tuple>::pack(tw)?;
                self.tw4.replace(p, e).map(TwAt::V4)
            }
            TwAt::V6(p) => {
                let e = PackedTimeWait::<V6Tuple>::pack(tw)?;
                self.tw6.replace(p, e).map(TwAt::V6)
            }
        }
    }

    /// Every compact entry, for `connections`.
    pub(super) fn time_wait_entries(
        &self,
    ) -> impl Iterator<Item = (ConnId, State, FourTuple)> + '_ {
        use crate::tuple::PackedTuple;
        let v4 = self
            .tw4
            .iter()
            .map(|(p, e)| (TwAt::V4(p).id(), State::TimeWait, e.tuple().unpack()));
        let v6 = self
            .tw6
            .iter()
            .map(|(p, e)| (TwAt::V6(p).id(), State::TimeWait, e.tuple().unpack()));
        v4.chain(v6)
    }

    /// The ACK a compact entry owes goes out by the stateless exit.
    fn send_time_wait_ack(&mut self, at: TwAt, tw: &mut TimeWait) {
        if let Some(seg) = tw.poll_transmit(self.now) {
            self.queue_reply(Reply::TimeWaitAck {
                tuple: tw.tuple,
                conn: at.id(),
                seg,
            });
        }
    }

    /// SEGMENT ARRIVES for a compact TIME-WAIT entry. A SYN that RFC 6191 lets reuse the
    /// 4-tuple ends the entry and goes to the listener, if there is one.
    pub(super) fn on_time_wait_segment(
        &mut self,
        now: Instant,
        at: TwAt,
        tuple: FourTuple,
        seg: SegIn<'_>,
        pos: Option<usize>,
    ) -> Disposition {
        let Some(mut tw) = self.time_wait_unpack(at) else {
            return Disposition::Dropped(DropReason::Closed);
        };
        match tw.syn_verdict(&self.cfg, &seg) {
            TimeWaitSyn::Process => {}
            TimeWaitSyn::Drop => return Disposition::Dropped(DropReason::TimeWaitSyn),
            TimeWaitSyn::Reuse => {
                if let Some(listener) = self.listener_for(&tuple) {
                    let ended = Ended {
                        cause: Cause::TimeWaitReused,
                        error: None,
                    };
                    self.end_time_wait_entry(at, ended);
                    return self.on_listen_segment(now, listener, tuple, seg, pos);
                }
            }
        }
        let id = at.id();
        let mut ctx = ctx!(self, now, id);
        let (d, ended) = tw.handle_segment(&mut ctx, &seg);
        match ended {
            Some(ended) => self.end_time_wait_entry(at, ended),
            None => {
                if let Some(at) = self.time_wait_store(at, &tw) {
                    self.send_time_wait_ack(at, &mut tw);
                }
            }
        }
        d
    }

    /// Every compact entry whose 2×MSL has run out by `now` ends. The tables are in deadline
    /// order, so this looks at no entry that stays.
    pub(super) fn expire_time_wait(&mut self, now: Instant) {
        loop {
            let at = match (self.tw4.due(now), self.tw6.due(now)) {
                (Some(p), _) => TwAt::V4(p),
                (None, Some(p)) => TwAt::V6(p),
                (None, None) => return,
            };
            let Some(mut tw) = self.time_wait_unpack(at) else {
                return;
            };
            let id = at.id();
            let mut ctx = ctx!(self, now, id);
            match tw.on_timeout(&mut ctx) {
                Some(ended) => self.end_time_wait_entry(at, ended),
                None => return,
            }
        }
    }

    /// A compact entry's TIME-WAIT is over: trace TIME-WAIT → CLOSED and remove it.
    pub(super) fn end_time_wait_entry(&mut self, at: TwAt, ended: Ended) {
        let tuple = match at {
            TwAt::V4(p) => self.tw4.remove(p).map(|e| e.unpack(self.now).tuple),
            TwAt::V6(p) => self.tw6.remove(p).map(|e| e.unpack(self.now).tuple),
        };
        let Some(tuple) = tuple else {
            return;
        };
        self.trace.push(
            self.now,
            EventKind::State(StateEvent {
                tuple,
                conn: Some(at.id()),
                from: State::TimeWait,
                to: State::Closed,
                cause: ended.cause,
                error: ended.error,
            }),
        );
    }

    /// The TIME-WAIT tables agree with themselves, and no tuple is both in them and owned by
    /// a slot.
    pub(super) fn check_time_wait_tables(&self) -> Result<(), String> {
        self.tw4.check()?;
        self.tw6.check()?;
        for (_, _, tuple) in self.time_wait_entries() {
            if self.owner(&tuple).is_some() {
                return Err(format!("{tuple}: in TIME-WAIT and owned by a slot"));
            }
        }
        Ok(())
    }
}
