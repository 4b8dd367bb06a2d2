//! OKX v5: market data (`public`), a venue derived from a Binance capture (`derive`), and the
//! private side: accounts and order handling (`private`) served over REST (`private_rest`) and
//! the private WebSocket (`private_ws`), with request signing checked by `auth`.

pub(crate) mod auth;
pub(crate) mod derive;
pub(crate) mod private;
pub(crate) mod private_rest;
pub(crate) mod private_ws;
pub(crate) mod public;
