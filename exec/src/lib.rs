//! tickwire-exec: order entry and execution reports.
//!
//! It holds the in-process simulated exchange used by synthetic runs and the exec thread that
//! drives it ([`sim_thread`]); the contract real venues implement: [`session::VenueSession`]
//! (order entry), [`queries::VenueQueries`] (REST order-state queries) and
//! [`latency::ExecLatency`]; the exec thread for real venues ([`venue_thread`]); and per venue
//! (see `venue`) signing, encoding, report decoding and, for Binance, the order-entry session
//! (`venue::binance::session`). The reconciliation poller is in `reconcile`, API credentials in
//! `credentials`.

pub mod credentials;
pub mod latency;
pub mod paper;
pub mod queries;
pub mod reconcile;
pub mod session;
pub mod sim_exchange;
pub mod sim_thread;
pub mod venue;
pub mod venue_thread;
