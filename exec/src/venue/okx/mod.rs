//! OKX v5 order entry: Base64 HMAC-SHA256 signing for the private-WS login and REST
//! ([`sign`]), and allocation-free encoding of the WS `login`, `order`, `cancel-order` and
//! `amend-order` requests and of the REST order body ([`encode`]).

pub mod encode;
pub mod reports;
pub mod sign;

pub use encode::{OkxEncoder, OkxInst, OkxInstrument, TdMode};
pub use reports::OkxReportDecoder;
pub use sign::{OkxSigner, write_iso8601_ms};
