//! tickwire-exec's integration tests, one binary: signing against the venues' test vectors,
//! report decoders, the Binance session against a scripted peer, the reconciliation poller,
//! paper fills, and (`venue_sim`) the sessions against the venue simulator. The allocation
//! counters stay in binaries of their own.

mod binance_session;
mod binance_support;
mod paper;
mod reconcile_poller;
mod reports;
mod signing;
mod venue_sim;
