//! The network client against real TLS servers on loopback written here (rustls + tungstenite
//! on the server side): HTTP/1.1 keep-alive, timeouts, chunked bodies, WebSocket framing,
//! fragmentation, ping/pong, close handshakes and broken peers. One test binary.

mod http;
mod support;
mod ws;
