//! The 4-tuple table: which slab slot owns a 4-tuple. It stores only the slot's index (four
//! bytes and a control byte per bucket): the key is the tuple the slot's entry already holds,
//! so no tuple is kept twice. A segment's tuple is hashed once (`TupleTable::hash`) and that
//! hash serves every table the demultiplexer looks in.

use hashbrown::HashTable;
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
        }
    }

    /// The hash of `tuple` under this table's key.
    pub(crate) fn hash(&self, tuple: &FourTuple) -> u64 {
        self.key.hash_one(tuple)
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
    }

    /// Forget slot `index` as the owner of `tuple`; false if it was not.
    pub(crate) fn remove(&mut self, tuple: &FourTuple, index: u32) -> bool {
        match self.table.find_entry(self.hash(tuple), |&i| i == index) {
            Ok(entry) => {
                entry.remove();
                true
            }
            Err(_) => false,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Every slot index in the table.
    pub(crate) fn indices(&self) -> impl Iterator<Item = u32> + '_ {
        self.table.iter().copied()
    }
}
