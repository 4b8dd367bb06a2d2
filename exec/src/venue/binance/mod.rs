//! Binance spot / Binance.US order entry: HMAC-SHA256 signing ([`sign`]), allocation-free
//! encoding of signed REST query strings and WebSocket-API requests ([`encode`]), decoding of
//! replies and user-data pushes ([`reports`]), local rate budgets ([`rate`]), the venue clock
//! ([`clock`]), REST order-state queries ([`queries`]), the helper threads ([`worker`],
//! [`rest_orders`]) and the order-entry session itself ([`session`]).

pub mod clock;
pub mod encode;
pub mod queries;
pub mod rate;
pub mod reports;
pub mod rest_orders;
pub mod session;
pub mod sign;
pub mod worker;

pub use clock::VenueClock;
pub use encode::{API_KEY_HEADER, BinanceEncoder, BinanceSymbol, ORDER_PATH, Stamp};
pub use queries::{BinanceInstrument, BinanceQueries};
pub use reports::{BinanceReportDecoder, RequestCtx, RequestKind};
pub use sign::BinanceSigner;
