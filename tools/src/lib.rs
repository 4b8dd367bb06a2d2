//! The `tickwire` package's library side: the protocol-faithful venue simulator.
//!
//! The command line (`src/main.rs`) is the package's binary; this library holds what other
//! programs and the integration tests link against: [`sim`], the venue simulator that serves
//! real recorded market data over TLS on loopback, written from the venues' documentation
//! (`../shared/data/FORMATS.md`) and sharing no protocol code with the client crates, so that a
//! bug mirrored on both sides cannot hide; and [`drill`], the scripted incident drills run
//! against it (`tickwire drill`).

pub mod drill;
pub mod sim;
