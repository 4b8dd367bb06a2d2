//! tickwire-exec: order entry and execution reports.
//!
//! It holds the in-process simulated exchange used by synthetic runs and the exec thread that
//! drives it, and the contract real venues implement: [`session::VenueSession`] (order entry),
//! [`queries::VenueQueries`] (REST order-state queries) and [`latency::ExecLatency`]. Venue order entry (Binance REST/WS-API, OKX WS), the user-data fill streams,
//! the reconciliation poller and paper execution are added per venue in their own modules
//! (see `venue`, `reconcile`). Request signing and encoding for Binance and OKX are in `venue`,
//! API credentials in `credentials`.

pub mod credentials;
pub mod latency;
pub mod queries;
pub mod reconcile;
pub mod session;
pub mod sim_exchange;
pub mod sim_thread;
pub mod venue;
pub mod venue_thread;
