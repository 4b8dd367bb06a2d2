//! The `tickwire` package's library side: the scripted incident drills (`tickwire drill`).
//!
//! The command line (`src/main.rs`) is the package's binary; this library holds what the
//! integration tests link against: [`drill`], the drills run against the venue simulator
//! (`tickwire-sim`, its own crate under `tools/sim`).

pub mod drill;
