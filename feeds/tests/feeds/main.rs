//! tickwire-feeds' integration tests, one binary: decoders against the real captures, book
//! sync, the handlers and the instrument loaders, and the feed thread against the venue
//! simulator. The allocation counter stays on its own.

mod against_sim;
mod binance_book;
mod binance_decode;
#[path = "../common/mod.rs"]
mod common;
mod handlers;
mod instruments;
mod okx;
