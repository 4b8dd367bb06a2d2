//! OKX v5 order entry: Base64 HMAC-SHA256 signing for the private-WS login and REST
//! ([`sign`]), and allocation-free encoding of the WS `login`, `order`, `cancel-order` and
//! `amend-order` requests and of the REST order body ([`encode`]); signed REST ([`rest`]) and
//! the order-state queries over it ([`queries`]); the order-entry session over the private
//! WebSocket with its REST fallback ([`session`]) and local rate budgets ([`rate`]).

pub mod config;
pub mod encode;
mod fallback;
pub mod queries;
pub mod rate;
pub mod reports;
pub mod rest;
pub mod session;
pub mod sign;

pub use config::{OkxStartError, OkxTradingConfig};
pub use encode::{OkxEncoder, OkxInst, OkxInstrument, TdMode};
pub use queries::OkxQueries;
pub use reports::OkxReportDecoder;
pub use rest::{OkxMarket, OkxRest, symbol_table};
pub use session::{OkxSession, OkxSessionConfig};
pub use sign::{OkxSigner, write_iso8601_ms};
