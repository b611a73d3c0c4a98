//! Bounds on what peers and applications can make the stack hold: full connections,
//! half-open entries across all listeners, and buffer memory (`StackConfig::max_connections`,
//! `max_half_open`, `memory_budget`). Counts are kept as entries come and go, so a check costs
//! the same however many connections there are.

use super::{Entry, Stack};
use crate::config::SocketOptions;
use crate::event::DropReason;

/// What the stack holds against its limits.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Usage {
    pub(crate) connections: usize,
    pub(crate) half_open: usize,
    /// Send plus receive buffer sizes of every full connection, as configured at creation.
    pub(crate) buffer_bytes: usize,
}

impl Stack {
    /// The buffer space a connection with `opts` is charged for.
    pub(super) fn buffer_charge(&self, opts: &SocketOptions) -> usize {
        opts.send_buffer(&self.cfg)
            .saturating_add(opts.recv_buffer(&self.cfg))
    }

    /// May one more full connection, charged `bytes`, be created?
    pub(super) fn admit_connection(&self, bytes: usize) -> Result<(), DropReason> {
        if self
            .cfg
            .max_connections
            .is_some_and(|max| self.usage.connections >= max)
        {
            return Err(DropReason::ConnectionLimit);
        }
        if self
            .cfg
            .memory_budget
            .is_some_and(|b| self.usage.buffer_bytes.saturating_add(bytes) > b)
        {
            return Err(DropReason::MemoryBudget);
        }
        Ok(())
    }

    /// May a SYN to the listener in slot `listener` open a half-open entry? It must fit the
    /// stack-wide half-open limit, and the connection it would become must fit the others
    /// now, so a flood is refused before it holds anything.
    pub(super) fn admit_syn(&self, listener: u32) -> Result<(), DropReason> {
        if self
            .cfg
            .max_half_open
            .is_some_and(|max| self.usage.half_open >= max)
        {
            return Err(DropReason::HalfOpenLimit);
        }
        self.admit_connection(self.buffer_charge(&self.listener_opts(listener)))
    }

    /// Count the entry just placed in slot `index`; a full connection is charged `bytes`.
    pub(super) fn count_entry(&mut self, index: u32, bytes: usize) {
        let slot = &mut self.slots[index as usize];
        match slot.entry {
            Entry::Vacant => {}
            Entry::HalfOpen(_) => self.usage.half_open += 1,
            Entry::Conn(_) => {
                // Charged as the slot can record it (buffers beyond 4 GiB count as 4 GiB).
                let charge = u32::try_from(bytes).unwrap_or(u32::MAX);
                self.usage.connections += 1;
                self.usage.buffer_bytes += charge as usize;
                slot.charged = charge;
            }
        }
    }

    /// Stop counting the entry in slot `index`, which is about to be replaced or freed.
    pub(super) fn uncount_entry(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        match slot.entry {
            Entry::Vacant => {}
            Entry::HalfOpen(_) => self.usage.half_open = self.usage.half_open.saturating_sub(1),
            Entry::Conn(_) => {
                self.usage.connections = self.usage.connections.saturating_sub(1);
                self.usage.buffer_bytes = self
                    .usage
                    .buffer_bytes
                    .saturating_sub(slot.charged as usize);
                slot.charged = 0;
            }
        }
    }
}

/// The inline sizes of what the stack keeps per entry, as `size_of` gives them on this build,
/// for memory figures (SECURITY.md, the benchmarks). A connection's buffers are on the heap
/// and come on top, while they hold data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntrySizes {
    /// One slab slot: every connection and half-open entry has one, which points to the
    /// entry itself.
    pub slot: usize,
    /// A half-open entry, boxed beside its slot.
    pub half_open: usize,
    /// A compact TIME-WAIT entry of an IPv4 connection, in the TIME-WAIT table (no slot).
    pub time_wait: usize,
    /// A full connection's TCB, boxed beside its slot (buffers not included).
    pub connection: usize,
    /// One bucket of the 4-tuple table, or of a TIME-WAIT table's index: a 4-byte position
    /// and the table's control byte (the key is the tuple its entry holds).
    pub tuple_bucket: usize,
    /// What the timer wheel keeps per slot that has a timer (connections and half-open
    /// entries; compact TIME-WAIT entries need none).
    pub timer: usize,
}

impl Stack {
    /// The sizes of the stack's per-entry structures on this build.
    pub fn entry_sizes() -> EntrySizes {
        use std::mem::size_of;
        EntrySizes {
            slot: size_of::<super::Slot>(),
            half_open: size_of::<crate::listener::HalfOpen>(),
            time_wait: size_of::<crate::conn::PackedTimeWait<crate::tuple::V4Tuple>>(),
            connection: size_of::<crate::conn::Connection>(),
            tuple_bucket: size_of::<u32>() + 1,
            timer: crate::timer::TimerWheel::BYTES_PER_KEY,
        }
    }
}
