//! The 4-tuple table: which slab slot owns a 4-tuple. It stores only the slot's index (four
//! bytes and a control byte per bucket): the key is the tuple the slot's entry already holds,
//! so no tuple is kept twice. A segment's tuple is hashed once (`TupleTable::hash`) and that
//! hash serves every table the demultiplexer looks in.
//!
//! In front of the hash sits the slot found (or filed) last (4.4BSD's one-behind cache of
//! the last PCB): consecutive segments mostly belong to one connection, and comparing one
//! tuple costs a tenth of hashing it under SipHash. That comparison is all a hit costs: the
//! hashed lookup behind it is out of line. The cached slot counts only while it still holds
//! an entry for that very tuple and the table still maps the tuple to it, so a hit always
//! agrees with the hash table.

use hashbrown::HashTable;
use std::cell::Cell;
use std::hash::BuildHasher;

use super::{Entry, Slot};
use crate::isn::KeyedState;
use crate::tuple::FourTuple;

/// Slot indices keyed by their entries' 4-tuples, under a keyed SipHash (so a peer cannot
/// choose tuples that collide).
#[derive(Debug)]
pub(crate) struct TupleTable {
    table: HashTable<u32>,
    key: KeyedState,
    /// The slot the last lookup found or the last insertion filed, unless it has left the
    /// table since: a connection's next segment mostly follows its SYN or its connect.
    last: Option<u32>,
    /// The tuple hashed last and its hash. A tuple is mostly hashed twice in a row: looked
    /// up and then inserted (a SYN, a connect), or removed and then filed in TIME-WAIT.
    hashed: Cell<Option<(FourTuple, u64)>>,
}

/// Where a tuple's lookup ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// The slot that owns the tuple.
    Slot(u32),
    /// No slot owns it; the tuple's hash, for the next table to look in.
    Absent(u64),
}

/// The 4-tuple of the entry in a slot, if it is one that owns a tuple.
pub(crate) fn slot_tuple(slot: &Slot) -> Option<FourTuple> {
    match &slot.entry {
        Entry::Vacant => None,
        Entry::HalfOpen(h) => Some(h.tuple()),
        Entry::Conn(c) => Some(c.tuple()),
    }
}

/// Is the entry in a slot the one for `tuple`?
fn slot_is(slot: &Slot, tuple: &FourTuple) -> bool {
    match &slot.entry {
        Entry::Vacant => false,
        Entry::HalfOpen(h) => h.is_for(tuple),
        Entry::Conn(c) => c.is_for(tuple),
    }
}

impl TupleTable {
    pub(crate) fn new(key: KeyedState) -> TupleTable {
        TupleTable {
            table: HashTable::new(),
            key,
            last: None,
            hashed: Cell::new(None),
        }
    }

    /// The slot owning `tuple`: the one found last if it is still the owner, else by hash.
    #[inline]
    pub(crate) fn find(&mut self, tuple: &FourTuple, slots: &[Slot]) -> Found {
        if let Some(last) = self
            .last
            .filter(|&i| slots.get(i as usize).is_some_and(|s| slot_is(s, tuple)))
        {
            return Found::Slot(last);
        }
        self.find_hashed(tuple, slots)
    }

    /// `find` past the slot found last: by the tuple's hash.
    #[inline(never)]
    fn find_hashed(&mut self, tuple: &FourTuple, slots: &[Slot]) -> Found {
        let hash = self.hash(tuple);
        match self.get(hash, tuple, slots) {
            Some(index) => {
                self.last = Some(index);
                Found::Slot(index)
            }
            None => Found::Absent(hash),
        }
    }

    /// The hash of `tuple` under this table's key.
    pub(crate) fn hash(&self, tuple: &FourTuple) -> u64 {
        if let Some((t, h)) = self.hashed.get() {
            if t == *tuple {
                return h;
            }
        }
        let h = self.key.hash_one(tuple);
        self.hashed.set(Some((*tuple, h)));
        h
    }

    /// The slot owning `tuple` (whose hash is `hash`).
    pub(crate) fn get(&self, hash: u64, tuple: &FourTuple, slots: &[Slot]) -> Option<u32> {
        self.table
            .find(hash, |&i| {
                slots.get(i as usize).is_some_and(|s| slot_is(s, tuple))
            })
            .copied()
    }

    /// Record that slot `index`, whose entry holds `tuple`, owns it.
    pub(crate) fn insert(&mut self, tuple: &FourTuple, index: u32, slots: &[Slot]) {
        let hash = self.hash(tuple);
        let key = &self.key;
        self.table.insert_unique(hash, index, |&i| {
            slots
                .get(i as usize)
                .and_then(slot_tuple)
                .map_or(0, |t| key.hash_one(t))
        });
        self.last = Some(index);
    }

    /// Forget slot `index` as the owner of `tuple`; false if it was not.
    pub(crate) fn remove(&mut self, tuple: &FourTuple, index: u32) -> bool {
        // Its entry may stay in the slot a while (a CLOSED connection not yet reaped), so a
        // later lookup must not find it there.
        if self.last == Some(index) {
            self.last = None;
        }
        match self.table.find_entry(self.hash(tuple), |&i| i == index) {
            Ok(entry) => {
                entry.remove();
                true
            }
            Err(_) => false,
        }
    }

    /// The slot the next lookup tries first, if any.
    pub(crate) fn last(&self) -> Option<u32> {
        self.last
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Every slot index in the table.
    pub(crate) fn indices(&self) -> impl Iterator<Item = u32> + '_ {
        self.table.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn a_remembered_hash_is_only_ever_the_same_tuples() {
        let key = KeyedState::new(&mut ChaCha8Rng::seed_from_u64(7));
        let table = TupleTable::new(key.clone());
        let (a, b) = (FourTuple::test_v4(40000), FourTuple::test_v4(40001));
        for t in [a, a, b, a, b, b] {
            assert_eq!(table.hash(&t), key.hash_one(t));
        }
        assert_ne!(table.hash(&a), table.hash(&b));
    }
}
