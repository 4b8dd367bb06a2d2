//! Test-side clients for the simulator: a rustls + tungstenite WebSocket client and a tiny
//! HTTP/1.1 keep-alive client, written here from the protocols (not from tickwire-feeds).
//! Every read is bounded by a deadline.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tungstenite::{Message, WebSocket};

/// A file under the shared data directory.
pub fn data(rel: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).join(rel)
}

/// TOML string literal for a path.
pub fn toml_path(rel: &str) -> String {
    format!("{:?}", data(rel).display().to_string())
}

pub fn client_config(ca: &Path) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("CA file") {
        roots.add(cert.expect("CA cert")).expect("add CA");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn host_port(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, r)| r)
}

fn tls(url: &str, ca: &Path) -> StreamOwned<ClientConnection, TcpStream> {
    let addr = host_port(url);
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    tcp.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let name = ServerName::try_from("127.0.0.1").expect("server name");
    let mut conn = ClientConnection::new(client_config(ca), name).expect("client connection");
    let mut tcp = tcp;
    // Finish the TLS handshake here, through the short read timeouts (a loaded machine can take
    // longer than one timeout to answer), so later reads and writes never stall inside it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while conn.is_handshaking() {
        match conn.complete_io(&mut tcp) {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                assert!(Instant::now() < deadline, "TLS handshake timed out");
            }
            Err(e) => panic!("TLS handshake: {e}"),
        }
    }
    StreamOwned::new(conn, tcp)
}

pub type Ws = WebSocket<StreamOwned<ClientConnection, TcpStream>>;

/// What one bounded read produced.
#[derive(Debug)]
pub enum Got {
    Text(String),
    Ping,
    Closed,
    Timeout,
}

pub struct WsClient {
    pub ws: Ws,
}

fn would_block(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut))
}

impl WsClient {
    /// Connects to `base` (`wss://127.0.0.1:PORT`) + `path`, trusting `ca`.
    pub fn connect(base: &str, path: &str, ca: &Path) -> Self {
        let stream = tls(base, ca);
        // The handshake blocks through read timeouts: retry on Interrupted.
        let url = format!("{base}{path}");
        let mut hs = tungstenite::client(url.as_str(), stream);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match hs {
                Ok((ws, _)) => return Self { ws },
                Err(tungstenite::HandshakeError::Interrupted(mid)) => {
                    assert!(Instant::now() < deadline, "handshake timed out");
                    hs = mid.handshake();
                }
                Err(tungstenite::HandshakeError::Failure(e)) => panic!("handshake to {url}: {e}"),
            }
        }
    }

    /// Tries to connect; the handshake error text if it fails.
    pub fn try_connect(base: &str, path: &str, ca: &Path) -> Result<Self, String> {
        let stream = tls(base, ca);
        let url = format!("{base}{path}");
        let mut hs = tungstenite::client(url.as_str(), stream);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match hs {
                Ok((ws, _)) => return Ok(Self { ws }),
                Err(tungstenite::HandshakeError::Interrupted(mid)) => {
                    if Instant::now() > deadline {
                        return Err("timeout".into());
                    }
                    hs = mid.handshake();
                }
                Err(tungstenite::HandshakeError::Failure(e)) => return Err(e.to_string()),
            }
        }
    }

    pub fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text)).expect("send");
    }

    /// The next text, ping or close, waiting at most `timeout`.
    pub fn next(&mut self, timeout: Duration) -> Got {
        let deadline = Instant::now() + timeout;
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => return Got::Text(t.as_str().to_owned()),
                Ok(Message::Ping(_)) => return Got::Ping,
                Ok(Message::Close(_)) => return Got::Closed,
                Ok(_) => {}
                Err(e) if would_block(&e) => {
                    // Flush the automatic pong, if one is pending.
                    let _ = self.ws.flush();
                    if Instant::now() >= deadline {
                        return Got::Timeout;
                    }
                }
                Err(_) => return Got::Closed,
            }
        }
    }

    /// The next text frame (skipping pings), or panic after `timeout`.
    pub fn text(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left) {
                Got::Text(t) => return t,
                Got::Ping => {}
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }
}

/// A minimal HTTP/1.1 keep-alive client over one TLS connection.
pub struct Http {
    s: StreamOwned<ClientConnection, TcpStream>,
    buf: Vec<u8>,
}

pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Http {
    pub fn connect(base: &str, ca: &Path) -> Self {
        Self {
            s: tls(base, ca),
            buf: Vec::new(),
        }
    }

    pub fn get(&mut self, target: &str) -> HttpResponse {
        let req =
            format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n");
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut off = 0;
        while off < req.len() {
            match self.s.write(&req.as_bytes()[off..]) {
                Ok(n) => off += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    assert!(Instant::now() < deadline, "request not written within 30 s");
                }
                Err(e) => panic!("write request: {e}"),
            }
        }
        let mut chunk = [0u8; 16384];
        loop {
            if let Some(r) = self.parse() {
                return r;
            }
            match self.s.read(&mut chunk) {
                Ok(0) => panic!("server closed the connection"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    assert!(Instant::now() < deadline, "no HTTP response within 30 s");
                }
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    fn parse(&mut self) -> Option<HttpResponse> {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        let n = match resp.parse(&self.buf).expect("valid HTTP") {
            httparse::Status::Complete(n) => n,
            httparse::Status::Partial => return None,
        };
        let hs: Vec<(String, String)> = resp
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_owned(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect();
        let len: usize = hs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().expect("content-length"))
            .expect("content-length header");
        if self.buf.len() < n + len {
            return None;
        }
        let status = resp.code.expect("status");
        let body = String::from_utf8(self.buf[n..n + len].to_vec()).expect("utf-8 body");
        self.buf.drain(..n + len);
        Some(HttpResponse {
            status,
            headers: hs,
            body,
        })
    }
}

/// The test's own book: price → (price string, size string), exact decimals.
#[derive(Default, Clone, Debug)]
pub struct TestBook {
    pub bids: BTreeMap<Decimal, (String, String)>,
    pub asks: BTreeMap<Decimal, (String, String)>,
}

impl TestBook {
    pub fn set(&mut self, bid: bool, level: &serde_json::Value) {
        let px = level[0].as_str().expect("price string");
        let sz = level[1].as_str().expect("size string");
        let key: Decimal = px.parse().expect("price");
        let side = if bid { &mut self.bids } else { &mut self.asks };
        if sz.parse::<Decimal>().expect("size").is_zero() {
            side.remove(&key);
        } else {
            side.insert(key, (px.to_owned(), sz.to_owned()));
        }
    }

    pub fn bids_best_first(&self) -> Vec<(String, String)> {
        self.bids.values().rev().cloned().collect()
    }

    pub fn asks_best_first(&self) -> Vec<(String, String)> {
        self.asks.values().cloned().collect()
    }

    /// OKX checksum (FORMATS.md §2.3) over the best 25 levels.
    pub fn okx_checksum(&self) -> i32 {
        let bids = self.bids_best_first();
        let asks = self.asks_best_first();
        let mut parts: Vec<String> = Vec::new();
        for i in 0..25 {
            if let Some((p, s)) = bids.get(i) {
                parts.push(format!("{p}:{s}"));
            }
            if let Some((p, s)) = asks.get(i) {
                parts.push(format!("{p}:{s}"));
            }
        }
        crc32fast::hash(parts.join(":").as_bytes()) as i32
    }
}
