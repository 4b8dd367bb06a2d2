//! The exec sessions and the reconciliation poller against the venue simulator
//! (`tickwire-sim`): real TLS on loopback, each venue's own protocol.

mod binance;
mod okx;
mod okx_support;
mod reconcile_binance;
mod reconcile_okx;
