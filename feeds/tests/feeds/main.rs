//! tickwire-feeds' integration tests, one binary: decoders against the real captures, book
//! sync, the handlers and the instrument loaders. The allocation counter stays on its own.

mod binance_book;
mod binance_decode;
#[path = "../common/mod.rs"]
mod common;
mod handlers;
mod instruments;
mod okx;
