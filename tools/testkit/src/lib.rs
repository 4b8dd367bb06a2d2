//! tickwire-testkit: what several crates' tests need and used to copy: a counting global
//! allocator for the no-allocation tests ([`alloc`]), a throw-away CA and loopback server
//! certificate for real-TLS tests ([`tls`]), a monotonic test clock and the path of the
//! shared venue captures ([`data`]).
//!
//! A dev-dependency only; it may depend on `tickwire-net` (for the crypto provider the client
//! uses) but on nothing above it, so every crate's tests can use it.

pub mod alloc;
pub mod data;
pub mod tls;
