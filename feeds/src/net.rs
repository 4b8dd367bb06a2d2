//! Network client for feeds: non-blocking TCP (mio), TLS (rustls), WebSocket framing and an
//! HTTP/1.1 client for REST snapshots, driven by one busy-poll loop per feed thread. Not
//! implemented yet (market-data issue).
