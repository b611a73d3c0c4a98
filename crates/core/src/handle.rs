//! Generational handles naming connections and listeners in the stack's slabs.

use std::fmt;

/// A connection (or half-open entry) in a stack: slot index plus generation, so a stale handle
/// never names a newer connection that reused the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    pub(crate) index: u32,
    pub(crate) gen: u32,
}

impl ConnId {
    /// The slot index (stable while the connection lives; useful as a display id).
    pub fn index(self) -> u32 {
        self.index
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}.{}", self.index, self.gen)
    }
}

/// A listener in a stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerId {
    pub(crate) index: u32,
    pub(crate) gen: u32,
}

impl fmt::Display for ListenerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "l{}.{}", self.index, self.gen)
    }
}
