//! tickwire-feeds: the market-data sources the core reads from.
//!
//! - [`venue`]: per-venue decoders (simd-json plus differential-tested fast paths), book sync
//!   (Binance snapshot + diff rules, OKX seqId chaining and CRC32 checksums) and instrument
//!   loaders;
//! - [`feed`]: the feed thread, which drives venue connections over `tickwire-net`'s
//!   WebSocket and HTTP clients, subscribes, detects stale feeds and reconnects;
//! - [`synthetic`]: the seeded synthetic market (no network), for synthetic runs, tests and
//!   benchmarks.

pub mod feed;
pub mod synthetic;
pub mod venue;
