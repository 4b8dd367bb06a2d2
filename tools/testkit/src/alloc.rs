//! A global allocator that counts this thread's allocations, for tests that prove a hot path
//! allocates nothing.
//!
//! Install it in the test binary (one per binary, which is why the no-alloc tests stay in
//! binaries of their own):
//!
//! ```ignore
//! use tickwire_testkit::alloc::{CountingAlloc, allocations};
//! #[global_allocator]
//! static GLOBAL: CountingAlloc = CountingAlloc;
//!
//! let before = allocations();
//! hot_path();
//! assert_eq!(allocations() - before, 0);
//! ```
//!
//! The count is per thread. A process-wide count also catches the test harness's main thread,
//! which allocates its bookkeeping right after spawning the test thread; under load that lands
//! inside a measured window and fails the test for nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts every allocation, zeroed allocation and reallocation made by the current thread,
/// then defers to the system allocator.
pub struct CountingAlloc;

thread_local! {
    /// Const-initialised and without a destructor, so touching it from inside the allocator
    /// never allocates (and `try_with` survives thread teardown).
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

/// Allocations made by the calling thread since it started (under [`CountingAlloc`]).
pub fn allocations() -> u64 {
    ALLOCS.with(Cell::get)
}

fn count() {
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is `System`'s own; the only addition is a thread-local counter
// increment, which neither allocates nor unwinds. The tests in `tests/alloc.rs` install it and
// check that the counter moves on an allocation and stays still without one.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr`/`layout` came from `System` through this allocator; forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
