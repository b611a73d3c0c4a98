//! The table of released connections in TIME-WAIT, one per address family: packed entries
//! (`conn::PackedTimeWait`) in arrival order, and a hash index from 4-tuple to position.
//!
//! Every entry's 2×MSL is the same length and starts when it is stored, so arrival order is
//! deadline order: the front entry is always the next to expire, and no timer wheel entry is
//! needed. An entry whose 2×MSL restarts (a retransmitted FIN) is moved to the back.
//! Entries live in fixed chunks, so the table grows without copying and wastes at most the
//! unused part of the two end chunks; the index holds a 4-byte position per entry.
//!
//! Positions count up from 0 and wrap at 2^32; an entry is named to the application by the
//! low 31 bits of its position with `TW_ID_BIT` set, in the `ConnId` space no slab slot uses.

use std::collections::VecDeque;
use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::conn::PackedTimeWait;
use crate::isn::KeyedState;
use crate::time::Instant;
use crate::tuple::{FourTuple, PackedTuple};

/// Set in the `ConnId` index of a TIME-WAIT table entry (slab indices stay below it).
pub(crate) const TW_ID_BIT: u32 = 1 << 31;

/// Entries per chunk.
const CHUNK: usize = 256;

#[derive(Debug)]
pub(crate) struct TimeWaitTable<K> {
    /// Entries in arrival order; every chunk but the last is full.
    chunks: VecDeque<Vec<PackedTimeWait<K>>>,
    /// Position of `chunks[0][0]`.
    base: u32,
    /// Entries at the front of `chunks[0]` already reclaimed.
    consumed: usize,
    /// Position the next entry gets.
    end: u32,
    index: HashTable<u32>,
    key: KeyedState,
    /// The front entry's deadline, kept as the entries change: a driver asks for it before
    /// every wait (`Stack::poll_timeout`), far more often than an entry comes or goes.
    front_deadline: Option<Instant>,
}

impl<K: PackedTuple> TimeWaitTable<K> {
    /// An empty table hashing with `key` (the 4-tuple table's, so one hash serves both).
    pub(crate) fn new(key: KeyedState) -> Self {
        TimeWaitTable {
            chunks: VecDeque::new(),
            base: 0,
            consumed: 0,
            end: 0,
            index: HashTable::new(),
            key,
            front_deadline: None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    fn front_pos(&self) -> u32 {
        self.base.wrapping_add(self.consumed as u32)
    }

    fn holds(&self, pos: u32) -> bool {
        pos.wrapping_sub(self.front_pos()) < self.end.wrapping_sub(self.front_pos())
    }

    fn at(&self, pos: u32) -> &PackedTimeWait<K> {
        let off = pos.wrapping_sub(self.base) as usize;
        &self.chunks[off / CHUNK][off % CHUNK]
    }

    fn at_mut(&mut self, pos: u32) -> &mut PackedTimeWait<K> {
        let off = pos.wrapping_sub(self.base) as usize;
        &mut self.chunks[off / CHUNK][off % CHUNK]
    }

    /// The live entry at `pos`.
    pub(crate) fn get(&self, pos: u32) -> Option<&PackedTimeWait<K>> {
        self.holds(pos)
            .then(|| self.at(pos))
            .filter(|e| !e.is_gone())
    }

    /// The position of the entry for `tuple`, whose hash is `hash`.
    pub(crate) fn find(&self, hash: u64, tuple: &FourTuple) -> Option<u32> {
        let packed = K::pack(tuple)?;
        self.index
            .find(hash, |&p| *self.at(p).tuple() == packed)
            .copied()
    }

    /// Store `entry` at the back; its tuple hashes to `hash`. Returns its position.
    pub(crate) fn push(&mut self, hash: u64, entry: PackedTimeWait<K>) -> u32 {
        if self.chunks.back().is_none_or(|c| c.len() == CHUNK) {
            if self.chunks.is_empty() {
                self.base = self.end;
                self.consumed = 0;
            }
            self.chunks.push_back(Vec::with_capacity(CHUNK));
        }
        if let Some(c) = self.chunks.back_mut() {
            c.push(entry);
        }
        let pos = self.end;
        self.end = self.end.wrapping_add(1);
        let (chunks, base, key) = (&self.chunks, self.base, &self.key);
        self.index.insert_unique(hash, pos, |&p| {
            let off = p.wrapping_sub(base) as usize;
            key.hash_one(chunks[off / CHUNK][off % CHUNK].tuple().unpack())
        });
        self.note_front();
        pos
    }

    /// Take the entry at `pos` out of the table.
    pub(crate) fn remove(&mut self, pos: u32) -> Option<PackedTimeWait<K>> {
        let entry = *self.get(pos)?;
        let hash = self.key.hash_one(entry.tuple().unpack());
        if let Ok(e) = self.index.find_entry(hash, |&p| p == pos) {
            e.remove();
        }
        self.at_mut(pos).set_gone();
        self.reclaim_front();
        Some(entry)
    }

    /// Put `entry` (taken out at `pos`, its 2×MSL restarted) back, at the back.
    pub(crate) fn replace(&mut self, pos: u32, entry: PackedTimeWait<K>) -> Option<u32> {
        let old = self.get(pos)?;
        if old.deadline() == entry.deadline() {
            *self.at_mut(pos) = entry;
            return Some(pos);
        }
        self.remove(pos)?;
        let hash = self.key.hash_one(entry.tuple().unpack());
        Some(self.push(hash, entry))
    }

    /// Drop reclaimed entries from the front, and chunks that hold nothing more.
    fn reclaim_front(&mut self) {
        self.drop_gone_front();
        self.note_front();
    }

    /// The dropping half of `reclaim_front`, apart so that its early returns still reach
    /// `note_front`.
    fn drop_gone_front(&mut self) {
        while let Some(front) = self.chunks.front() {
            while self.consumed < front.len() && front[self.consumed].is_gone() {
                self.consumed += 1;
            }
            if self.consumed < CHUNK {
                if self.consumed == front.len() && self.chunks.len() == 1 {
                    // Everything is gone: start over with no chunk held.
                    self.chunks.clear();
                    self.base = self.end;
                    self.consumed = 0;
                }
                return;
            }
            self.chunks.pop_front();
            self.base = self.base.wrapping_add(CHUNK as u32);
            self.consumed = 0;
        }
    }

    /// The deadline of the entry that expires next.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.front_deadline
    }

    /// Note the front entry's deadline, after the entries changed. Past the reclaimed ones
    /// the front entry is live, so it is the one that expires next.
    fn note_front(&mut self) {
        self.front_deadline = self
            .chunks
            .front()
            .and_then(|c| c.get(self.consumed))
            .map(|e| e.deadline());
    }

    /// The position of the front entry if its 2×MSL has run out by `now`.
    pub(crate) fn due(&self, now: Instant) -> Option<u32> {
        self.next_deadline()
            .filter(|&d| d <= now)
            .map(|_| self.front_pos())
    }

    /// Every live entry with its position, in arrival order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &PackedTimeWait<K>)> + '_ {
        let first = self.front_pos();
        let n = self.end.wrapping_sub(first);
        (0..n).filter_map(move |i| {
            let pos = first.wrapping_add(i);
            self.get(pos).map(|e| (pos, e))
        })
    }

    /// The position an id's low 31 bits stand for among the live positions.
    pub(crate) fn pos_of_id(&self, id_index: u32) -> u32 {
        let low = id_index & !TW_ID_BIT;
        let first = self.front_pos();
        first.wrapping_add(low.wrapping_sub(first) & !TW_ID_BIT)
    }

    /// Every indexed position names a live entry that hashes where it is found, and every
    /// live entry is indexed.
    pub(crate) fn check(&self) -> Result<(), String> {
        let mut live = 0;
        for (pos, e) in self.iter() {
            live += 1;
            let hash = self.key.hash_one(e.tuple().unpack());
            if self.index.find(hash, |&p| p == pos).is_none() {
                return Err(format!("TIME-WAIT entry {pos} missing from its index"));
            }
        }
        if live != self.index.len() {
            return Err(format!(
                "TIME-WAIT index holds {} positions for {live} entries",
                self.index.len()
            ));
        }
        let front = self.iter().next().map(|(_, e)| e.deadline());
        if self.front_deadline != front {
            return Err(format!(
                "TIME-WAIT table notes {:?} as its next deadline, its front entry has {front:?}",
                self.front_deadline
            ));
        }
        let mut last = None;
        for (_, e) in self.iter() {
            if last.is_some_and(|d| e.deadline() < d) {
                return Err("TIME-WAIT entries out of deadline order".into());
            }
            last = Some(e.deadline());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::TimeWait;
    use crate::tuple::V4Tuple;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::collections::BTreeMap;

    fn tuple(port: u16) -> FourTuple {
        FourTuple::test_v4(port)
    }

    fn entry(port: u16, deadline: Instant) -> PackedTimeWait<V4Tuple> {
        PackedTimeWait::pack(&TimeWait::for_test(tuple(port), deadline)).unwrap()
    }

    /// Random pushes, removals from anywhere, restarts and expiries against a model, across
    /// many chunk boundaries: every entry stays findable until it goes, and the table's own
    /// check holds after every step.
    #[test]
    fn the_table_agrees_with_a_model_through_pushes_removals_restarts_and_expiry() {
        let key = KeyedState::new(&mut ChaCha8Rng::seed_from_u64(1));
        let mut t = TimeWaitTable::<V4Tuple>::new(key.clone());
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut model: BTreeMap<u16, (u32, Instant)> = BTreeMap::new();
        let mut now = Instant::from_secs(1);
        let life = std::time::Duration::from_secs(60);
        let mut next_port = 1u16;
        for step in 0..20_000 {
            now += std::time::Duration::from_millis(rng.gen_range(0..20));
            match rng.gen_range(0..10) {
                0..=4 => {
                    let port = next_port;
                    next_port = next_port.wrapping_add(1).max(1);
                    if model.contains_key(&port) {
                        continue;
                    }
                    let pos = t.push(key.hash_one(tuple(port)), entry(port, now + life));
                    model.insert(port, (pos, now + life));
                }
                5 | 6 => {
                    if let Some((&port, &(pos, _))) =
                        model.iter().nth(rng.gen_range(0..model.len().max(1)))
                    {
                        assert!(t.remove(pos).is_some());
                        model.remove(&port);
                    }
                }
                7 => {
                    if let Some((&port, &(pos, _))) =
                        model.iter().nth(rng.gen_range(0..model.len().max(1)))
                    {
                        let new = t.replace(pos, entry(port, now + life)).unwrap();
                        model.insert(port, (new, now + life));
                    }
                }
                _ => {
                    while let Some(pos) = t.due(now) {
                        let e = t.remove(pos).unwrap();
                        let port = e.tuple().unpack().remote.port();
                        let (p, d) = model.remove(&port).expect("expired entry in the model");
                        assert_eq!((p, d <= now), (pos, true));
                    }
                    assert!(
                        model.values().all(|&(_, d)| d > now),
                        "step {step}: one left overdue"
                    );
                }
            }
            assert_eq!(t.len(), model.len());
            if step % 97 == 0 {
                t.check().unwrap();
                for (&port, &(pos, _)) in &model {
                    assert_eq!(t.find(key.hash_one(tuple(port)), &tuple(port)), Some(pos));
                }
            }
        }
        t.check().unwrap();
    }

    #[test]
    fn an_emptied_table_gives_back_its_chunks() {
        let key = KeyedState::new(&mut ChaCha8Rng::seed_from_u64(1));
        let mut t = TimeWaitTable::<V4Tuple>::new(key.clone());
        let at = Instant::from_secs(5);
        let pos: Vec<u32> = (1..=1000)
            .map(|p| t.push(key.hash_one(tuple(p)), entry(p, at)))
            .collect();
        assert!(t.chunks.len() >= 1000 / CHUNK);
        for p in pos.into_iter().rev() {
            t.remove(p).unwrap();
        }
        assert_eq!((t.len(), t.chunks.len()), (0, 0));
        assert_eq!(t.next_deadline(), None);
    }
}
