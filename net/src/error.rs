//! The one error type of the network client, shared by the WebSocket and HTTP halves so that a
//! feed's reconnect logic can classify every failure the same way.

use core::fmt;
use std::io;
use std::net::SocketAddr;

/// Which deadline passed, for [`NetError::Timeout`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeoutKind {
    /// The connect state machine (TCP connect, TLS handshake, WebSocket upgrade or, for HTTP,
    /// the blocking TCP connect) did not finish within its connect timeout.
    Connect,
    /// An open WebSocket received nothing at all (no data, no ping) for its receive timeout.
    Idle,
    /// A WebSocket close handshake we started was not answered in time.
    Close,
    /// An HTTP response did not arrive (or stopped arriving) within the read timeout.
    Response,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect",
            Self::Idle => "receive (connection idle)",
            Self::Close => "close handshake",
            Self::Response => "HTTP response",
        })
    }
}

/// Everything that can go wrong on a feed or REST connection.
///
/// Any error returned by a connection method means that connection is finished: drop it and
/// reconnect (with a [`ReconnectBackoff`](super::backoff::ReconnectBackoff) delay). A clean
/// WebSocket close is *not* an error; it is reported as
/// [`WsStatus::Closed`](super::ws::WsStatus::Closed).
#[derive(Debug)]
#[non_exhaustive]
pub enum NetError {
    /// The URL is not of the accepted form (`wss://host[:port]/path?query` for WebSocket,
    /// `https://host[:port]` for HTTP), or a request line/header would be malformed.
    Url(String),
    /// Name resolution failed, or resolved to no address.
    Resolve {
        /// The host name that was looked up.
        host: String,
        /// Why it failed.
        source: io::Error,
    },
    /// The TCP connection could not be established on any resolved address (connection
    /// refused, unreachable, ...). Holds the last address tried and its error.
    Connect {
        /// The last address tried.
        addr: SocketAddr,
        /// Its error (e.g. `ConnectionRefused`).
        source: io::Error,
    },
    /// TLS failed: untrusted or mismatched certificate, handshake failure, an alert from the
    /// peer, a corrupt record. The certificate errors say which check failed.
    Tls(rustls::Error),
    /// The server answered the WebSocket upgrade request with this HTTP status instead of 101.
    Upgrade {
        /// The HTTP status code the server sent.
        status: u16,
    },
    /// The peer violated the WebSocket protocol, sent a message over the size limit, or sent
    /// an HTTP response that could not be parsed.
    Protocol(String),
    /// The connection broke: reset, end of stream without a WebSocket close frame or TLS
    /// `close_notify`, a failed write.
    Io(io::Error),
    /// A deadline passed.
    Timeout(TimeoutKind),
    /// The operation needs an open connection and this one is still connecting, or is
    /// finished.
    NotOpen,
    /// The outgoing queue is over its limit: the peer is not reading what we send.
    Backpressure,
}

impl NetError {
    /// True for [`NetError::Timeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }

    /// Classifies an I/O error from a TLS stream: rustls reports its own failures as
    /// `io::Error`s wrapping a [`rustls::Error`]; unwrap those into [`NetError::Tls`] so the
    /// caller sees "certificate not trusted" rather than "invalid data".
    pub(crate) fn from_io(err: io::Error) -> Self {
        if let Some(tls) = err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Self::Tls(tls.clone());
        }
        Self::Io(err)
    }

    /// Classifies a tungstenite error that is not `WouldBlock` and not a close.
    pub(crate) fn from_ws(err: tungstenite::Error) -> Self {
        use tungstenite::Error as E;
        match err {
            E::Io(io) => Self::from_io(io),
            E::Http(response) => Self::Upgrade {
                status: response.status().as_u16(),
            },
            E::Url(url) => Self::Url(url.to_string()),
            E::WriteBufferFull(_) => Self::Backpressure,
            E::ConnectionClosed | E::AlreadyClosed => Self::NotOpen,
            // Protocol violations, capacity limits, bad UTF-8, bad handshake headers: the text
            // is built only on this (rare, fatal) path.
            other => Self::Protocol(other.to_string()),
        }
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(msg) => write!(f, "invalid URL or request: {msg}"),
            Self::Resolve { host, source } => write!(f, "cannot resolve {host:?}: {source}"),
            Self::Connect { addr, source } => write!(f, "cannot connect to {addr}: {source}"),
            Self::Tls(err) => write!(f, "TLS error: {err}"),
            Self::Upgrade { status } => write!(
                f,
                "WebSocket upgrade refused: server answered HTTP {status} instead of 101"
            ),
            Self::Protocol(msg) => write!(f, "protocol error: {msg}"),
            Self::Io(err) => write!(f, "connection failed: {err}"),
            Self::Timeout(kind) => write!(f, "{kind} timed out"),
            Self::NotOpen => f.write_str("connection is not open"),
            Self::Backpressure => f.write_str("send queue full: the peer is not reading"),
        }
    }
}

impl std::error::Error for NetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Resolve { source, .. } | Self::Connect { source, .. } => Some(source),
            Self::Tls(err) => Some(err),
            Self::Io(err) => Some(err),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustls_errors_inside_io_errors_are_unwrapped() {
        let inner = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = io::Error::new(io::ErrorKind::InvalidData, inner.clone());
        match NetError::from_io(io) {
            NetError::Tls(err) => assert_eq!(err, inner),
            other => panic!("expected Tls, got {other:?}"),
        }
        let plain = io::Error::new(io::ErrorKind::ConnectionReset, "reset");
        assert!(matches!(NetError::from_io(plain), NetError::Io(_)));
    }

    #[test]
    fn display_is_specific() {
        let e = NetError::Timeout(TimeoutKind::Idle);
        assert!(e.is_timeout());
        assert_eq!(e.to_string(), "receive (connection idle) timed out");
        assert_eq!(
            NetError::Upgrade { status: 403 }.to_string(),
            "WebSocket upgrade refused: server answered HTTP 403 instead of 101"
        );
    }
}
