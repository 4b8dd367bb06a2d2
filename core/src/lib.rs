//! tickwire-core: exact numbers, event records, lock-free rings and topology, the deterministic
//! single-threaded engine, and the memory-mapped journal.
//!
//! Nothing here performs network I/O. The engine reads no clock and no randomness: its only
//! notion of time is the event time carried by the record it is processing.

pub mod accounting;
pub mod book;
pub mod config;
pub mod engine;
pub mod event;
pub mod ids;
pub mod journal;
pub mod latency;
pub mod market;
pub mod metrics;
pub mod num;
pub mod order;
pub mod ring;
pub mod risk;
pub mod topology;
pub mod wait;
