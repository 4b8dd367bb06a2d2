//! The counting allocator counts this thread's allocations and nothing else.

use std::hint::black_box;

use tickwire_testkit::alloc::{CountingAlloc, allocations};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

#[test]
fn counts_allocations_and_reallocations_of_this_thread_only() {
    let before = allocations();
    let mut v: Vec<u64> = black_box(Vec::with_capacity(4));
    assert_eq!(allocations() - before, 1, "one allocation");
    v.extend(0..1000);
    let grown = allocations();
    assert!(grown > before + 1, "growth reallocates");
    let zeroed = black_box(vec![0u8; 4096]);
    assert_eq!(allocations() - grown, 1, "a zeroed allocation counts");
    drop((v, zeroed));

    let still = allocations();
    let sum: u64 = black_box([1u64, 2, 3]).iter().sum();
    assert_eq!(sum, 6);
    assert_eq!(allocations(), still, "no allocation, no count");

    let before_thread = allocations();
    std::thread::spawn(|| black_box(vec![1u8; 64]).len())
        .join()
        .expect("thread");
    // Spawning allocates on this thread (the handle); the child's vector is counted there.
    let here = allocations() - before_thread;
    let child_only = std::thread::spawn(|| {
        let start = allocations();
        let _v = black_box(vec![1u8; 64]);
        allocations() - start
    })
    .join()
    .expect("thread");
    assert_eq!(child_only, 1, "the child counts its own allocation");
    assert!(here >= 1, "the spawn itself allocated here");
}
