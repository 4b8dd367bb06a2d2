//! tickwire-net: the network client every venue connection uses, market data (`tickwire-feeds`)
//! and order entry (`tickwire-exec`) alike: a non-blocking WebSocket-over-TLS client
//! ([`ws`]), a blocking keep-alive HTTP/1.1 client for REST snapshots, orders and queries
//! ([`http`]), the TLS trust configuration both use ([`tls`]), and reconnect delays
//! ([`backoff`]). It is its own crate so that exec does not depend on feeds: the design's
//! crates depend one way (core ← net ← feeds, exec ← tools).
//!
//! Stack: `mio` TCP sockets, `rustls` (ring provider, passed explicitly), `tungstenite` for
//! WebSocket framing, `httparse` for HTTP/1.1 parsing. Venue specifics (subscriptions,
//! keepalive messages, book sync) live in the venue adapters, which use this crate.
//!
//! # Driving a feed connection
//!
//! One feed thread owns a `mio::Poll` and its connections. Each connection is a
//! [`WsClient`] that is replaced by a new one after it ends, after a [`ReconnectBackoff`]
//! delay that the thread waits out *without sleeping* (it keeps serving its other
//! connections). The clock is injected: tickwire's monotonic nanosecond clock in production, a
//! fake one in tests.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use tickwire_core::ring::StopFlag;
//! use tickwire_core::wait::{Backoff, WaitPolicy};
//! use tickwire_net::backoff::{ReconnectBackoff, ReconnectPolicy};
//! use tickwire_net::tls::{TrustRoots, client_config};
//! use tickwire_net::ws::{WsClient, WsOptions, WsStatus};
//!
//! fn now_ns() -> u64 {
//!     # 0
//!     // e.g. quanta's raw counter scaled to ns, or Instant since a process-wide epoch
//! }
//!
//! fn feed_thread(stop: &StopFlag) -> Result<(), Box<dyn std::error::Error>> {
//!     let tls = client_config(&TrustRoots::Webpki)?;
//!     let url = "wss://stream.binance.com:9443/stream?streams=btcusdt@depth@100ms";
//!     let mut wait = Backoff::new(WaitPolicy::default());
//!     let mut reconnect = ReconnectBackoff::new(ReconnectPolicy::default(), 1);
//!     let mut client: Option<WsClient> = None;
//!     let mut retry_at = 0u64;
//!
//!     while !stop.is_set() {
//!         let now = now_ns();
//!         let Some(ws) = client.as_mut() else {
//!             if now >= retry_at {
//!                 match WsClient::connect(url, Arc::clone(&tls), WsOptions::default(), now_ns) {
//!                     Ok(ws) => client = Some(ws),
//!                     Err(_) => retry_at = now + reconnect.on_failure(now),
//!                 }
//!             }
//!             wait.idle();
//!             continue;
//!         };
//!         let polled = ws.poll(|msg| {
//!             // decode msg.data in place (simd-json), stamp with msg.recv_ns, push to the ring
//!             let _ = (msg.kind, msg.data, msg.recv_ns);
//!         });
//!         match polled {
//!             Ok(WsStatus::Open { opened, messages }) => {
//!                 if opened {
//!                     reconnect.on_connected(now);
//!                     // send subscriptions; start the snapshot + buffered-diff book sync
//!                 }
//!                 if ws.rotation_due(now, Duration::from_secs(24 * 3600), Duration::from_secs(600)) {
//!                     // open the replacement first, switch when it is in sync, then ws.close()
//!                 }
//!                 if messages > 0 { wait.reset() } else { wait.idle() }
//!             }
//!             Ok(WsStatus::Connecting | WsStatus::Closing { .. }) => wait.idle(),
//!             Ok(WsStatus::Closed(_)) | Err(_) => {
//!                 // mark the venue's books stale (a data anomaly), then come back later
//!                 client = None;
//!                 retry_at = now + reconnect.on_failure(now);
//!             }
//!         }
//!     }
//!     if let Some(ws) = client.as_mut() {
//!         let _ = ws.close();
//!     }
//!     Ok(())
//! }
//! ```
//!
//! With several connections the thread registers each client with the poll
//! ([`WsClient::register`]) and, under a parking wait policy, replaces `wait.idle()` by
//! `poll.poll(&mut events, Some(park))` so that a message wakes it at once.

pub mod backoff;
mod error;
pub mod http;
mod stream;
pub mod tls;
pub mod ws;

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

pub use backoff::{ReconnectBackoff, ReconnectPolicy};
pub use error::{NetError, TimeoutKind};
pub use http::{HttpClient, HttpOptions, Method, Response};
pub use tls::{TlsConfigError, TrustRoots};
pub use ws::{CloseInfo, MessageKind, WsClient, WsMessage, WsOptions, WsPhase, WsStats, WsStatus};

/// A monotonic clock in nanoseconds, injected into the WebSocket client so that this module
/// has no clock policy of its own (TSC, `Instant`, or a test's fake clock).
pub type Clock = fn() -> u64;

/// A `Duration` in nanoseconds, saturating (a `Duration` can exceed `u64` nanoseconds).
pub(crate) fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Splits `scheme://host[:port]/...` into host (IPv6 brackets removed) and port.
pub(crate) fn parse_url(
    url: &str,
    scheme: &str,
    default_port: u16,
) -> Result<(String, u16), NetError> {
    let uri: tungstenite::http::Uri = url
        .parse()
        .map_err(|e| NetError::Url(format!("{url:?}: {e}")))?;
    if uri.scheme_str() != Some(scheme) {
        return Err(NetError::Url(format!(
            "{url:?}: the scheme must be {scheme}://"
        )));
    }
    let host = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .filter(|h| !h.is_empty())
        .ok_or_else(|| NetError::Url(format!("{url:?}: no host")))?;
    Ok((host.to_owned(), uri.port_u16().unwrap_or(default_port)))
}

/// Resolves `host:port` (blocking: `getaddrinfo` for names, nothing for IP literals).
pub(crate) fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, NetError> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|source| NetError::Resolve {
            host: host.to_owned(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(NetError::Resolve {
            host: host.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
        });
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_host_and_port() {
        assert_eq!(
            parse_url("wss://stream.binance.com:9443/ws/btcusdt@trade", "wss", 443).unwrap(),
            ("stream.binance.com".to_owned(), 9443)
        );
        assert_eq!(
            parse_url("wss://ws.okx.com/ws/v5/public?x=1", "wss", 443).unwrap(),
            ("ws.okx.com".to_owned(), 443)
        );
        assert_eq!(
            parse_url("wss://[::1]:8000/", "wss", 443).unwrap(),
            ("::1".to_owned(), 8000)
        );
        for bad in [
            "ws://plain.example/",
            "https://x/",
            "wss:///nohost",
            "not a url",
        ] {
            assert!(parse_url(bad, "wss", 443).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_saturate() {
        assert_eq!(duration_ns(Duration::from_millis(3)), 3_000_000);
        assert_eq!(duration_ns(Duration::MAX), u64::MAX);
    }
}
