//! Shared fixtures of the network tests: rustls servers on 127.0.0.1 (with the testkit's
//! throw-away PKI), raw frames, HTTP request reading and a bounded polling driver for
//! `WsClient`.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rustls::{ServerConfig, ServerConnection, StreamOwned};
use tickwire_core::wait::{Backoff, WaitPolicy};
use tickwire_net::NetError;
use tickwire_net::ws::{CloseInfo, MessageKind, WsClient, WsStatus};

/// Every wait in these tests ends by this deadline (they fail instead of hanging).
pub const LIMIT: Duration = Duration::from_secs(20);

/// Socket timeouts of the test servers, so a server thread never outlives a failed test by
/// much.
pub const SERVER_IO_TIMEOUT: Duration = Duration::from_secs(10);

pub use tickwire_testkit::data::clock;
pub use tickwire_testkit::tls::Pki;

pub type ServerTls = StreamOwned<ServerConnection, TcpStream>;

/// A listener on an ephemeral loopback port.
pub fn listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// Accepts one connection, giving up after `LIMIT`.
pub fn accept_within(listener: &TcpListener) -> io::Result<TcpStream> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + LIMIT;
    loop {
        match listener.accept() {
            Ok((tcp, _)) => {
                tcp.set_nonblocking(false)?;
                tcp.set_read_timeout(Some(SERVER_IO_TIMEOUT))?;
                tcp.set_write_timeout(Some(SERVER_IO_TIMEOUT))?;
                tcp.set_nodelay(true)?;
                return Ok(tcp);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "no client came"));
                }
                thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Completes a server-side TLS handshake on `tcp`.
pub fn tls_accept(tcp: TcpStream, config: &Arc<ServerConfig>) -> io::Result<ServerTls> {
    let conn = ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
    let mut stream = StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// A raw server-to-client WebSocket frame (unmasked, as a server sends it), built by hand so
/// the tests do not trust tungstenite's encoder to test tungstenite's decoder.
pub fn raw_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.push(if fin { 0x80 } else { 0 } | opcode);
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= 0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

/// One message as the client delivered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub kind: MessageKind,
    pub data: Vec<u8>,
    pub recv_ns: u64,
}

/// Polls a `WsClient` with a parking wait between empty polls (2 cores: never spin hard) and
/// records what it delivered. Every loop is bounded by `LIMIT`.
pub struct Driver {
    pub client: WsClient,
    pub received: Vec<Received>,
    pub opened_calls: usize,
    wait: Backoff,
}

impl Driver {
    pub fn new(client: WsClient) -> Self {
        Self {
            client,
            received: Vec::new(),
            opened_calls: 0,
            wait: Backoff::new(WaitPolicy::spin_then_park()),
        }
    }

    pub fn poll_once(&mut self) -> Result<WsStatus, NetError> {
        let received = &mut self.received;
        let status = self.client.poll(|msg| {
            received.push(Received {
                kind: msg.kind,
                data: msg.data.to_vec(),
                recv_ns: msg.recv_ns,
            });
        });
        if let Ok(WsStatus::Open { opened: true, .. }) = status {
            self.opened_calls += 1;
        }
        match &status {
            Ok(s) if s.messages() > 0 => self.wait.reset(),
            _ => self.wait.idle(),
        }
        status
    }

    /// Polls until `done` holds; panics if the connection ends first or `LIMIT` passes.
    pub fn until(&mut self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + LIMIT;
        while !done(self) {
            match self.poll_once() {
                Ok(WsStatus::Closed(info)) => panic!("closed ({info:?}) while waiting for {what}"),
                Err(err) => panic!("failed ({err}) while waiting for {what}"),
                Ok(_) => {}
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
        }
    }

    /// Polls until the connection is open.
    pub fn open(&mut self) {
        self.until("open", |d| d.client.is_open());
    }

    /// Polls until the connection ends; returns how.
    pub fn until_end(&mut self) -> Result<CloseInfo, NetError> {
        let deadline = Instant::now() + LIMIT;
        loop {
            match self.poll_once() {
                Ok(WsStatus::Closed(info)) => return Ok(info),
                Err(err) => return Err(err),
                Ok(_) => {}
            }
            assert!(Instant::now() < deadline, "timed out waiting for the end");
        }
    }
}

/// Reads one HTTP/1.1 request (head and Content-Length body) from a server-side stream;
/// `None` at a clean end of stream between requests.
pub fn read_http_request(
    stream: &mut impl Read,
    buf: &mut Vec<u8>,
) -> io::Result<Option<(String, String, Vec<u8>)>> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        if let httparse::Status::Complete(len) = req
            .parse(buf)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
        {
            let method = req.method.unwrap_or("").to_owned();
            let path = req.path.unwrap_or("").to_owned();
            let body_len = req
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.parse::<usize>().ok())
                .unwrap_or(0);
            while buf.len() < len + body_len {
                read_more(stream, buf)?;
            }
            let body = buf[len..len + body_len].to_vec();
            buf.drain(..len + body_len);
            return Ok(Some((method, path, body)));
        }
        if read_more(stream, buf)? == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
    }
}

fn read_more(stream: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut chunk = [0u8; 4096];
    let n = match stream.read(&mut chunk) {
        Ok(n) => n,
        // The client closed without close_notify: an end like any other for a test server.
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
        Err(e) => return Err(e),
    };
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// Writes all of `bytes` in pieces of `piece` bytes, flushing each, so that every piece
/// travels in its own TLS record.
pub fn write_in_pieces(stream: &mut ServerTls, bytes: &[u8], piece: usize) -> io::Result<()> {
    for part in bytes.chunks(piece) {
        stream.write_all(part)?;
        stream.flush()?;
    }
    Ok(())
}
