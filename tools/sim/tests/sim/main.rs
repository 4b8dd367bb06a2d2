//! The venue simulator's integration tests, one binary (each module was its own binary once;
//! one link of the simulator instead of nine). Every test talks to the simulator over real TLS
//! on loopback with a client written in `sim_support`, not with tickwire's own clients.

mod binance;
mod config;
mod derived;
mod faults;
mod okx;
mod private_binance;
mod private_binance_faults;
mod private_binance_python;
mod private_okx;
mod sim_private_support;
mod sim_support;
