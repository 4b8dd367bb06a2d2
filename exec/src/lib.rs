//! tickwire-exec: order entry and execution reports.
//!
//! Today it holds the in-process simulated exchange used by synthetic runs and the exec thread
//! that drives it. Venue order entry (Binance REST/WS-API, OKX WS), the user-data fill streams,
//! the reconciliation poller and paper execution are added per venue in their own modules
//! (see `venue`, `reconcile`). Request signing and encoding for Binance and OKX are in `venue`,
//! API credentials in `credentials`.

pub mod credentials;
pub mod paper;
pub mod reconcile;
pub mod sim_exchange;
pub mod sim_thread;
pub mod venue;
