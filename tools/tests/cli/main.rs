//! The `tickwire` binary end to end, one test binary: every test runs the real binary
//! (`CARGO_BIN_EXE_tickwire`) against the embedded simulator or a journal.

mod cli;
mod ctl;
mod demo;
mod drills;
mod exec_binance_run;
mod exec_okx_run;
mod paper;
mod restart;
mod restart_venue;
mod support;
mod venue_feeds;
