//! A global allocator that keeps count of the bytes live on the heap: the system allocator
//! with one relaxed atomic add per allocation, deallocation and reallocation, for the whole
//! process, and one add to a thread-local counter for the calling thread. The memory figures
//! read `thread_net_bytes()` before and after building entries on one thread, so that other
//! threads (the test harness's) cannot disturb them.
//!
//! What it counts is the sizes the program asks for (`Layout::size`), not what malloc keeps
//! for them: glibc's chunk headers and size-class rounding (8 to 16 bytes a block) are not in it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

/// The counting allocator; `main.rs` installs it as the global allocator.
pub struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    // Const-initialized and without a destructor: no allocation, usable at any time.
    static NET: Cell<isize> = const { Cell::new(0) };
}

/// Bytes allocated and not yet freed, by the whole process.
pub fn live_bytes() -> isize {
    LIVE.load(Relaxed)
}

/// Bytes this thread has allocated minus bytes it has freed (whoever allocated them).
pub fn thread_net_bytes() -> isize {
    NET.with(Cell::get)
}

fn count(delta: isize) {
    LIVE.fetch_add(delta, Relaxed);
    let _ = NET.try_with(|n| n.set(n.get() + delta));
}

// SAFETY: every call is forwarded to `System` unchanged; the counter only observes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_an_allocation_and_its_release() {
        let (before, mine) = (live_bytes(), thread_net_bytes());
        let v: Vec<u8> = Vec::with_capacity(1 << 20);
        assert_eq!(thread_net_bytes() - mine, 1 << 20);
        // Other test threads allocate too; a 1 MiB block stands well above their noise.
        assert!(live_bytes() - before >= (1 << 20) - 4096);
        drop(v);
        assert_eq!(thread_net_bytes(), mine);
    }
}
