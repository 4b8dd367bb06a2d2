//! Venue market-data adapters: frame decoders, book-sync state machines and instrument specs.
//!
//! - [`binance`]: Binance spot / Binance.US combined streams, REST snapshot + diff sync.
//! - [`okx`]: OKX v5 public channels, `books` with seqId chaining and CRC32 checksums.
//!
//! Shared pieces: [`DecodeError`] (one clear reason per malformed frame), [`SymbolTable`]
//! (symbol → instrument), the simd-json tape helpers of the validating decoders and the strict
//! byte cursor of the hand-rolled fast decoders. Nothing on the per-message path allocates,
//! locks, logs or makes a syscall once its buffers have grown to the largest frame.

pub mod binance;
mod error;
mod events;
mod json;
pub mod okx;
mod scan;
mod symbols;

pub use error::{DecodeError, SpecLoadError};
pub use symbols::{MAX_SYMBOL_LEN, SymbolError, SymbolTable};
