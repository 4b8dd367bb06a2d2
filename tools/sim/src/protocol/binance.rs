//! Binance spot and Binance.US: market data (`public`) and the private REST / WS-API /
//! user-data side (`private`, HMAC-SHA256 request signing included).

pub(crate) mod private;
pub(crate) mod public;
