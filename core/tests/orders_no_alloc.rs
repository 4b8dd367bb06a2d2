//! The engine's fill de-duplicator and open-order table allocate nothing after construction,
//! however long they run: far past `fill_memory` fills (every later fill evicts one) and far
//! past the table's capacity in place/remove churn (removals leave hash-table tombstones).
//! Counted by a global allocator, in its own test binary with a single test.

use tickwire_core::event::{OrderState, Side};
use tickwire_core::ids::{ClientOrderId, InstrumentId, StrategyId, VenueId};
use tickwire_core::num::{Px, Qty};
use tickwire_core::order::{FillDedup, OrderEntry, OrderTable};
use tickwire_testkit::alloc::{CountingAlloc, allocations};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn entry(seq: u64) -> OrderEntry {
    let id = ClientOrderId::new(StrategyId(1), seq).expect("small seq");
    let mut e = OrderEntry::new(
        id,
        VenueId::SYNTHETIC,
        InstrumentId(0),
        Side::Buy,
        Px::ONE,
        Qty::ONE,
    );
    // Acknowledged and working, as the orders in a long-running table are.
    e.state = OrderState::Working;
    e.before_cancel = OrderState::Working;
    e.venue_order_id = seq;
    e
}

#[test]
fn dedup_and_order_table_never_allocate_after_construction() {
    // Both sizes straddle hash-table bucket boundaries differently (7/8 load of a power of
    // two); the old insert-then-evict dedup grew at exactly `memory + 1` live entries.
    for memory in [7usize, 14, 100, 896, 1000, 4096] {
        let mut dedup = FillDedup::with_capacity(memory);
        let mut table = OrderTable::with_capacity(memory);
        let before = allocations();

        let rounds = (memory as u64) * 20;
        let mut fresh = 0u64;
        for i in 0..rounds {
            // Trade ids from two venues, spread (not sequential) so buckets vary; every tenth
            // fill repeats the previous one (stream + poller delivering it twice).
            let venue = if i.is_multiple_of(2) {
                VenueId::BINANCE
            } else {
                VenueId::OKX
            };
            let id = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            if dedup.first_time(venue, id) {
                fresh += 1;
            }
            if i % 10 == 9 {
                assert!(!dedup.first_time(venue, id), "a repeat counted twice");
            }

            // Keep the table nearly full and churn it: remove the oldest, insert a new one.
            let seq = i + 1;
            if table.len() == memory {
                let oldest = seq - memory as u64;
                assert!(
                    table.remove(entry(oldest).id).is_some(),
                    "oldest order missing"
                );
            }
            assert!(table.insert(entry(seq)), "table refused below capacity");
        }
        let after = allocations();
        assert_eq!(fresh, rounds, "every distinct fill is new exactly once");
        assert_eq!(
            after - before,
            0,
            "memory {memory}: {} allocations over {rounds} fills / order churn",
            after - before
        );
        // The dedup still forgets only beyond its memory.
        let last = (rounds - 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let last_venue = if (rounds - 1).is_multiple_of(2) {
            VenueId::BINANCE
        } else {
            VenueId::OKX
        };
        assert!(!dedup.first_time(last_venue, last));
    }

    // The counter is live: a fresh structure allocates.
    let before = allocations();
    let d = FillDedup::with_capacity(16);
    assert!(allocations() > before, "counting allocator not counting");
    drop(d);
}
