//! tickwire-feeds: market-data connections.
//!
//! The synthetic source lives in `tickwire_core::synthetic` and is driven by the CLI's feed
//! thread. The venue feeds (mio + rustls + WebSocket client, per-venue subscribe/parse/book-sync,
//! reconnect) are added by the market-data issue in the modules below.

pub mod feed;
pub mod venue;
