//! tickwire-exec: order entry and execution reports.
//!
//! - The in-process exchange ([`sim_exchange`]: synthetic runs and paper mode, on the one
//!   matching engine of `tickwire-matching`) and the exec thread that drives it
//!   ([`sim_thread`]).
//! - The contract real venues implement: [`session::VenueSession`] (order entry),
//!   [`queries::VenueQueries`] (REST order-state queries) and [`latency::ExecLatency`]; the
//!   exec thread for real venues ([`venue_thread`]); per venue ([`venue`]) signing, encoding,
//!   report decoding and the order-entry sessions (`venue::binance::session`,
//!   `venue::okx::session`), which keep their requests in flight in one table type
//!   ([`inflight`]).
//! - The independent reconciliation poller ([`reconcile`]) and API credentials
//!   ([`credentials`]).
//!
//! Network I/O goes through `tickwire-net`; exec does not depend on the market-data crate.

pub mod credentials;
pub mod inflight;
pub mod latency;
pub mod queries;
pub mod reconcile;
pub mod session;
pub mod sim_exchange;
pub mod sim_thread;
pub mod venue;
pub mod venue_thread;
