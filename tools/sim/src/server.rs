//! The server layer: TLS certificates (`tls`), the WebSocket connection loop (`ws`), the
//! HTTP/1.1 loop (`http`) and what a connection shares with the tape (`conn`). The loops route
//! each request by venue and path to the protocol modules ([`crate::protocol`]); the few
//! answers that need no venue state (Binance `ping`/`time`, OKX `time`) are still written here.

pub(crate) mod conn;
pub(crate) mod http;
pub(crate) mod tls;
pub(crate) mod ws;
