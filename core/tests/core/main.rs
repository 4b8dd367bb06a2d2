//! tickwire-core's integration tests, one binary (one link of the crate instead of eleven):
//! the journal, the ledger, the order state machine, the rings, risk and the layering.
//! The allocation counters, the loom models and the two-process journal test stay in binaries
//! of their own (a global allocator, `--cfg loom`, re-executing the test binary).

mod journal;
mod journal_proptest;
mod layering;
mod ledger_proptest;
mod order_states;
mod ring_delivery;
mod ring_differential;
mod ring_records;
mod ring_shutdown;
mod ring_stress;
mod risk;
mod risk_support;
