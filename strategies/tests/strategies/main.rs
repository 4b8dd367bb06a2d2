//! tickwire-strategies' integration tests, one binary. The allocation counter stays on its own.

mod arb;
mod in_process;
mod metrics;
mod mm;
mod signals;
mod support;
