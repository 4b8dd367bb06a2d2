//! OKX v5 order entry: Base64 HMAC-SHA256 signing for the private-WS login and REST
//! ([`sign`]), and allocation-free encoding of the WS `login`, `order`, `cancel-order` and
//! `amend-order` requests and of the REST order body ([`encode`]); signed REST ([`rest`]) and
//! the order-state queries over it ([`queries`]).

pub mod encode;
pub mod queries;
pub mod reports;
pub mod rest;
pub mod sign;

pub use encode::{OkxEncoder, OkxInst, OkxInstrument, TdMode};
pub use queries::OkxQueries;
pub use reports::OkxReportDecoder;
pub use rest::{OkxMarket, OkxRest, symbol_table};
pub use sign::{OkxSigner, write_iso8601_ms};
