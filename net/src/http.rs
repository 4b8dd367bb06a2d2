//! A small blocking HTTP/1.1 client over TLS, for REST snapshots and queries (and, later,
//! order entry).
//!
//! **Blocking on purpose.** Depth snapshots, instrument lists and reconciliation queries are
//! off the hot path: they run at (re)connect time or on the reconciliation poller's schedule,
//! never between a socket read and a book update. A std `TcpStream` with OS timeouts and
//! `rustls::StreamOwned` keeps this code short and obviously correct; a feed thread that
//! needs a snapshot while its WebSocket is live buffers the WebSocket's messages (it must
//! anyway, see the book-sync rules) and calls this in between polls, or hands the request
//! to a helper thread.
//!
//! One [`HttpClient`] holds one keep-alive connection to one origin (`https://host[:port]`)
//! and reuses it. Before a request goes out on a connection that sat idle, a non-blocking
//! probe checks whether the server closed it (FIN, TLS `close_notify`, reset); if so the
//! request goes on a fresh connection. If the server closes the connection in the instant
//! between that probe and the request, an idempotent request (GET, HEAD) that got no byte of
//! response is retried once on a new connection; a POST is not, because the server may have
//! acted on it — its error means the outcome is unknown and must be resolved by a query.
//!
//! Responses of any status are returned as [`Response`]s (a 4xx/5xx is the caller's to
//! interpret: for order entry a 5xx means "unknown", not "failed"); only a broken, garbled or
//! timed-out exchange is an error. Bodies are framed by `Content-Length`,
//! `Transfer-Encoding: chunked`, or the end of the connection. No compression is requested,
//! so none is handled.
//!
//! Time here is the OS's (socket timeouts and `Instant` deadlines), not an injected clock:
//! a thread blocked in `recv` can only be woken by the kernel's timer anyway.

use core::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use super::{NetError, TimeoutKind, parse_url, resolve};

/// Most response headers accepted.
const MAX_HEADERS: usize = 96;
/// Longest chunk-size line (size, extensions, CRLF) accepted in a chunked body.
const MAX_CHUNK_LINE: usize = 4096;

/// Tuning of an [`HttpClient`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpOptions {
    /// TCP connect plus TLS handshake, per attempt.
    pub connect_timeout: Duration,
    /// Deadline for the whole response (head and body), counted from the moment the request
    /// was sent.
    pub read_timeout: Duration,
    /// Deadline for each blocking write of the request.
    pub write_timeout: Duration,
    /// Largest response head (status line and headers).
    pub max_head_bytes: usize,
    /// Largest response body (a 5000-level Binance snapshot is ~250 KB).
    pub max_body_bytes: usize,
    /// The `User-Agent` sent unless the request sets its own.
    pub user_agent: String,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_head_bytes: 64 << 10,
            max_body_bytes: 64 << 20,
            user_agent: concat!("tickwire/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// An HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET (idempotent: retried once if a reused connection turns out dead).
    Get,
    /// HEAD (idempotent; the response has no body).
    Head,
    /// POST (never retried automatically).
    Post,
    /// PUT (never retried automatically).
    Put,
    /// DELETE (never retried automatically: a venue cancel is not something to repeat
    /// blindly).
    Delete,
}

impl Method {
    /// The method token.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
        }
    }

    /// Requests the client may repeat on its own when a connection died under them.
    const fn retry_safe(self) -> bool {
        matches!(self, Self::Get | Self::Head)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A complete HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The reason phrase (informational only).
    pub reason: String,
    /// The headers in received order; names as sent (compare case-insensitively, or use
    /// [`header`](Self::header)).
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

type Conn = StreamOwned<ClientConnection, TcpStream>;

/// A failed exchange, and whether any byte of the response had arrived (a request that got
/// none on a reused connection can be retried if it is idempotent).
struct Failed {
    error: NetError,
    response_started: bool,
}

impl Failed {
    fn before_response(error: NetError) -> Self {
        Self {
            error,
            response_started: false,
        }
    }

    fn during_response(error: NetError) -> Self {
        Self {
            error,
            response_started: true,
        }
    }
}

/// How the response body is delimited.
enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

/// The parsed status line and headers.
struct Head {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
    keep_alive: bool,
}

/// A keep-alive HTTP/1.1 client for one `https://` origin. See the [module docs](self).
pub struct HttpClient {
    host: String,
    port: u16,
    host_header: String,
    server_name: ServerName<'static>,
    tls_config: Arc<ClientConfig>,
    options: HttpOptions,
    conn: Option<Conn>,
    /// Read buffer: unread bytes are `rbuf[rpos..rend]`.
    rbuf: Vec<u8>,
    rpos: usize,
    rend: usize,
    connections_opened: u64,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("origin", &self.host_header)
            .field("connected", &self.conn.is_some())
            .field("connections_opened", &self.connections_opened)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client for `base_url` (`https://host[:port]`, port 443 by default; a path, if given,
    /// is ignored: requests carry their own). Connects lazily, on the first request.
    pub fn new(
        base_url: &str,
        tls_config: Arc<ClientConfig>,
        options: HttpOptions,
    ) -> Result<Self, NetError> {
        let (host, port) = parse_url(base_url, "https", 443)?;
        let server_name = ServerName::try_from(host.clone())
            .map_err(|e| NetError::Url(format!("{host:?} is not a valid TLS server name: {e}")))?;
        let bracketed = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let host_header = if port == 443 {
            bracketed
        } else {
            format!("{bracketed}:{port}")
        };
        Ok(Self {
            host,
            port,
            host_header,
            server_name,
            tls_config,
            options,
            conn: None,
            rbuf: vec![0; 16 << 10],
            rpos: 0,
            rend: 0,
            connections_opened: 0,
        })
    }

    /// `GET path_and_query` with extra `headers`.
    pub fn get(
        &mut self,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> Result<Response, NetError> {
        self.request(Method::Get, path_and_query, headers, None)
    }

    /// `POST path_and_query` with `body` (set `Content-Type` in `headers`).
    pub fn post(
        &mut self,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, NetError> {
        self.request(Method::Post, path_and_query, headers, Some(body))
    }

    /// Sends one request and reads its complete response. `Host`, `User-Agent` (unless given)
    /// and `Content-Length` (when there is a body, or for POST/PUT) are added. See the
    /// [module docs](self) for the reconnect and retry rules.
    pub fn request(
        &mut self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Response, NetError> {
        let head = self.encode_request(method, path_and_query, headers, body)?;
        let body = body.unwrap_or_default();

        let reused = match self.conn.as_mut().map(idle_connection_alive) {
            Some(true) => true,
            Some(false) => {
                // The server closed it while it sat idle: quietly start afresh.
                self.drop_connection();
                false
            }
            None => false,
        };
        if self.conn.is_none() {
            self.open()?;
        }
        match self.exchange(method, &head, body) {
            Ok(response) => Ok(response),
            Err(failed) => {
                self.drop_connection();
                let retry = reused
                    && !failed.response_started
                    && method.retry_safe()
                    && connection_lost(&failed.error);
                if !retry {
                    return Err(failed.error);
                }
                self.open()?;
                self.exchange(method, &head, body).map_err(|failed| {
                    self.drop_connection();
                    failed.error
                })
            }
        }
    }

    /// TCP+TLS connections opened so far (1 after any number of requests that reused one).
    pub fn connections_opened(&self) -> u64 {
        self.connections_opened
    }

    /// True while a keep-alive connection is held.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Closes the connection (TLS `close_notify`, then the socket). The next request opens a
    /// new one.
    pub fn close(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            conn.conn.send_close_notify();
            // Best effort, bounded by the write timeout: the server may be gone already.
            let _ = conn.flush();
        }
        self.rpos = 0;
        self.rend = 0;
    }

    // ---- internals ----------------------------------------------------------------------

    fn encode_request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Vec<u8>, NetError> {
        if !path.starts_with('/') || !path.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(NetError::Url(format!(
                "request target {path:?} must start with '/' and be printable ASCII without spaces"
            )));
        }
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        out.extend_from_slice(self.host_header.as_bytes());
        out.extend_from_slice(b"\r\n");
        let mut has_user_agent = false;
        for &(name, value) in headers {
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(NetError::Url(format!("invalid header name {name:?}")));
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(NetError::Url(format!(
                    "header {name} has a value with CR, LF or NUL"
                )));
            }
            if name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case("content-length") {
                return Err(NetError::Url(format!(
                    "header {name} is set by the client itself"
                )));
            }
            has_user_agent |= name.eq_ignore_ascii_case("user-agent");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if !has_user_agent {
            out.extend_from_slice(b"User-Agent: ");
            out.extend_from_slice(self.options.user_agent.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if body.is_some() || matches!(method, Method::Post | Method::Put) {
            let len = body.map_or(0, <[u8]>::len);
            out.extend_from_slice(format!("Content-Length: {len}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        Ok(out)
    }

    /// Connects (trying each resolved address in turn) and completes the TLS handshake, so a
    /// certificate problem is reported as such, at connect time.
    fn open(&mut self) -> Result<(), NetError> {
        let timeout = self.options.connect_timeout;
        let addrs = resolve(&self.host, self.port)?;
        let mut last: Option<(SocketAddr, io::Error)> = None;
        let mut tcp = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(e) if is_timeout(&e) => return Err(NetError::Timeout(TimeoutKind::Connect)),
                Err(e) => last = Some((addr, e)),
            }
        }
        let Some(tcp) = tcp else {
            return Err(match last {
                Some((addr, source)) => NetError::Connect { addr, source },
                None => NetError::NotOpen,
            });
        };
        let setup = tcp
            .set_nodelay(true)
            .and_then(|()| tcp.set_read_timeout(Some(timeout)))
            .and_then(|()| tcp.set_write_timeout(Some(self.options.write_timeout)));
        setup.map_err(NetError::Io)?;
        let tls = ClientConnection::new(Arc::clone(&self.tls_config), self.server_name.clone())
            .map_err(NetError::Tls)?;
        let mut conn = StreamOwned::new(tls, tcp);
        while conn.conn.is_handshaking() {
            conn.conn
                .complete_io(&mut conn.sock)
                .map_err(|e| io_error(e, TimeoutKind::Connect))?;
        }
        self.connections_opened += 1;
        self.conn = Some(conn);
        self.rpos = 0;
        self.rend = 0;
        Ok(())
    }

    fn drop_connection(&mut self) {
        // No close_notify: the connection is dead or its state is unknown.
        self.conn = None;
        self.rpos = 0;
        self.rend = 0;
    }

    fn exchange(&mut self, method: Method, head: &[u8], body: &[u8]) -> Result<Response, Failed> {
        let conn = self
            .conn
            .as_mut()
            .ok_or(Failed::before_response(NetError::NotOpen))?;
        let sent = conn
            .write_all(head)
            .and_then(|()| conn.write_all(body))
            .and_then(|()| conn.flush());
        if let Err(e) = sent {
            return Err(Failed::before_response(io_error(e, TimeoutKind::Response)));
        }

        let deadline = Instant::now() + self.options.read_timeout;
        let head = loop {
            let head = self.read_head(deadline)?;
            // Interim 1xx responses (100 Continue, 103 Early Hints) precede the real one.
            if !(100..200).contains(&head.status) {
                break head;
            }
        };
        let framing = self
            .framing(method, &head)
            .map_err(Failed::during_response)?;
        let mut keep_alive = head.keep_alive;
        let body = match framing {
            Framing::None => Vec::new(),
            Framing::Length(len) => self.read_exact_body(len, deadline)?,
            Framing::Chunked => self.read_chunked_body(deadline)?,
            Framing::UntilClose => {
                keep_alive = false;
                self.read_body_until_close(deadline)?
            }
        };
        // Bytes beyond the response mean the server and we disagree on framing: never reuse.
        if !keep_alive || self.rpos != self.rend {
            self.close();
        }
        Ok(Response {
            status: head.status,
            reason: head.reason,
            headers: head.headers,
            body,
        })
    }

    fn read_head(&mut self, deadline: Instant) -> Result<Head, Failed> {
        let mut started = self.rend > self.rpos;
        loop {
            if self.rend > self.rpos {
                let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut parsed = httparse::Response::new(&mut slots);
                match parsed.parse(&self.rbuf[self.rpos..self.rend]) {
                    Ok(httparse::Status::Complete(len)) => {
                        let head = owned_head(&parsed);
                        self.rpos += len;
                        return head.map_err(Failed::during_response);
                    }
                    Ok(httparse::Status::Partial) => {
                        if self.rend - self.rpos > self.options.max_head_bytes {
                            return Err(Failed::during_response(NetError::Protocol(format!(
                                "response head longer than {} bytes",
                                self.options.max_head_bytes
                            ))));
                        }
                    }
                    Err(e) => {
                        return Err(Failed::during_response(NetError::Protocol(format!(
                            "malformed response head: {e}"
                        ))));
                    }
                }
            }
            let n = self.fill(deadline).map_err(|error| Failed {
                error,
                response_started: started,
            })?;
            if n == 0 {
                let error = if started {
                    NetError::Protocol("connection closed inside the response head".into())
                } else {
                    NetError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "server closed the connection without responding",
                    ))
                };
                return Err(Failed {
                    error,
                    response_started: started,
                });
            }
            started = true;
        }
    }

    fn framing(&self, method: Method, head: &Head) -> Result<Framing, NetError> {
        if method == Method::Head || matches!(head.status, 100..=199 | 204 | 304) {
            return Ok(Framing::None);
        }
        let mut transfer_encoding: Option<&str> = None;
        let mut length: Option<usize> = None;
        for (name, value) in &head.headers {
            if name.eq_ignore_ascii_case("transfer-encoding") {
                transfer_encoding = Some(value);
            } else if name.eq_ignore_ascii_case("content-length") {
                let parsed = parse_content_length(value)?;
                if length.is_some_and(|l| l != parsed) {
                    return Err(NetError::Protocol(
                        "conflicting Content-Length headers".into(),
                    ));
                }
                length = Some(parsed);
            }
        }
        // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length; chunked must be last.
        if let Some(te) = transfer_encoding {
            let last = te.rsplit(',').next().unwrap_or("").trim();
            return Ok(if last.eq_ignore_ascii_case("chunked") {
                Framing::Chunked
            } else {
                Framing::UntilClose
            });
        }
        match length {
            Some(len) if len > self.options.max_body_bytes => Err(self.body_too_large()),
            Some(len) => Ok(Framing::Length(len)),
            None => Ok(Framing::UntilClose),
        }
    }

    fn body_too_large(&self) -> NetError {
        NetError::Protocol(format!(
            "response body larger than {} bytes",
            self.options.max_body_bytes
        ))
    }

    fn read_exact_body(&mut self, len: usize, deadline: Instant) -> Result<Vec<u8>, Failed> {
        let mut body = Vec::with_capacity(len);
        self.take_into(&mut body, len, deadline)?;
        Ok(body)
    }

    /// Appends exactly `len` bytes of the stream to `out`.
    fn take_into(
        &mut self,
        out: &mut Vec<u8>,
        len: usize,
        deadline: Instant,
    ) -> Result<(), Failed> {
        let mut left = len;
        while left > 0 {
            if self.rpos == self.rend && self.fill(deadline).map_err(Failed::during_response)? == 0
            {
                return Err(Failed::during_response(truncated()));
            }
            let take = left.min(self.rend - self.rpos);
            out.extend_from_slice(&self.rbuf[self.rpos..self.rpos + take]);
            self.rpos += take;
            left -= take;
        }
        Ok(())
    }

    fn read_chunked_body(&mut self, deadline: Instant) -> Result<Vec<u8>, Failed> {
        let mut body = Vec::new();
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.rbuf[self.rpos..self.rend]) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.rpos += used;
                        break size;
                    }
                    Ok(httparse::Status::Partial) => {
                        if self.rend - self.rpos > MAX_CHUNK_LINE {
                            return Err(Failed::during_response(NetError::Protocol(
                                "chunk-size line too long".into(),
                            )));
                        }
                        self.fill_some(deadline)?;
                    }
                    Err(_) => {
                        return Err(Failed::during_response(NetError::Protocol(
                            "malformed chunk size in chunked body".into(),
                        )));
                    }
                }
            };
            if size == 0 {
                break;
            }
            let size = usize::try_from(size)
                .ok()
                .filter(|&s| s <= self.options.max_body_bytes.saturating_sub(body.len()))
                .ok_or_else(|| Failed::during_response(self.body_too_large()))?;
            self.take_into(&mut body, size, deadline)?;
            while self.rend - self.rpos < 2 {
                self.fill_some(deadline)?;
            }
            if self.rbuf[self.rpos..self.rpos + 2] != *b"\r\n" {
                return Err(Failed::during_response(NetError::Protocol(
                    "chunk data not followed by CRLF".into(),
                )));
            }
            self.rpos += 2;
        }
        // Trailer section: header lines, then an empty line. Read and ignored.
        loop {
            let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
            match httparse::parse_headers(&self.rbuf[self.rpos..self.rend], &mut slots) {
                Ok(httparse::Status::Complete((used, _))) => {
                    self.rpos += used;
                    return Ok(body);
                }
                Ok(httparse::Status::Partial) => {
                    if self.rend - self.rpos > self.options.max_head_bytes {
                        return Err(Failed::during_response(NetError::Protocol(
                            "chunked trailers too long".into(),
                        )));
                    }
                    self.fill_some(deadline)?;
                }
                Err(e) => {
                    return Err(Failed::during_response(NetError::Protocol(format!(
                        "malformed chunked trailers: {e}"
                    ))));
                }
            }
        }
    }

    fn read_body_until_close(&mut self, deadline: Instant) -> Result<Vec<u8>, Failed> {
        let mut body = Vec::new();
        loop {
            body.extend_from_slice(&self.rbuf[self.rpos..self.rend]);
            self.rpos = self.rend;
            if body.len() > self.options.max_body_bytes {
                return Err(Failed::during_response(self.body_too_large()));
            }
            if self.fill(deadline).map_err(Failed::during_response)? == 0 {
                return Ok(body);
            }
        }
    }

    /// Reads more bytes, failing on end of stream (inside a body, that is a truncation).
    fn fill_some(&mut self, deadline: Instant) -> Result<(), Failed> {
        match self.fill(deadline).map_err(Failed::during_response)? {
            0 => Err(Failed::during_response(truncated())),
            _ => Ok(()),
        }
    }

    /// Reads from the connection into the buffer; `Ok(0)` at end of stream (with or without
    /// `close_notify`: callers decide whether an end is expected there).
    fn fill(&mut self, deadline: Instant) -> Result<usize, NetError> {
        let conn = self.conn.as_mut().ok_or(NetError::NotOpen)?;
        if self.rpos == self.rend {
            self.rpos = 0;
            self.rend = 0;
        } else if self.rend == self.rbuf.len() {
            // Make room: move the unread tail to the front, grow if it fills the buffer.
            self.rbuf.copy_within(self.rpos..self.rend, 0);
            self.rend -= self.rpos;
            self.rpos = 0;
            if self.rend == self.rbuf.len() {
                self.rbuf.resize(self.rbuf.len() * 2, 0);
            }
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(NetError::Timeout(TimeoutKind::Response));
        }
        conn.sock
            .set_read_timeout(Some(remaining))
            .map_err(NetError::Io)?;
        loop {
            match conn.read(&mut self.rbuf[self.rend..]) {
                Ok(n) => {
                    self.rend += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(io_error(e, TimeoutKind::Response)),
            }
        }
    }
}

impl Drop for HttpClient {
    fn drop(&mut self) {
        self.close();
    }
}

/// Is an idle keep-alive connection still usable? A non-blocking look at the socket: nothing
/// to read means alive; end of stream, `close_notify`, an error, or unsolicited data (which
/// would be mistaken for the next response) mean dead.
fn idle_connection_alive(conn: &mut Conn) -> bool {
    if conn.sock.set_nonblocking(true).is_err() {
        return false;
    }
    let alive = loop {
        match conn.conn.read_tls(&mut conn.sock) {
            Ok(0) => break false,
            Ok(_) => {
                if conn.conn.process_new_packets().is_err() {
                    break false;
                }
                // A TLS 1.3 session ticket decrypts to nothing: keep looking. Plaintext or
                // close_notify (Ok(0)) both end the connection's usefulness.
                let mut probe = [0u8; 1];
                match conn.conn.reader().read(&mut probe) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    _ => break false,
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break false,
        }
    };
    alive && conn.sock.set_nonblocking(false).is_ok()
}

/// Copies the parsed head out of the read buffer.
fn owned_head(parsed: &httparse::Response<'_, '_>) -> Result<Head, NetError> {
    let (Some(status), Some(version)) = (parsed.code, parsed.version) else {
        return Err(NetError::Protocol("response without status line".into()));
    };
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).trim().to_owned(),
            )
        })
        .collect();
    // HTTP/1.1 keeps the connection unless told otherwise; HTTP/1.0 closes unless told.
    let mut keep_alive = version >= 1;
    for (name, value) in &headers {
        if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") && version == 0 {
                    keep_alive = true;
                }
            }
        }
    }
    Ok(Head {
        status,
        reason: parsed.reason.unwrap_or("").to_owned(),
        headers,
        keep_alive,
    })
}

fn parse_content_length(value: &str) -> Result<usize, NetError> {
    // Digits only: `+5` or ` 5 ` parse with str::parse but are not valid here.
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NetError::Protocol(format!(
            "invalid Content-Length {value:?}"
        )));
    }
    value
        .parse()
        .map_err(|_| NetError::Protocol(format!("Content-Length {value} too large")))
}

/// RFC 9110 token characters (header names).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_timeout(e: &io::Error) -> bool {
    // SO_RCVTIMEO/SO_SNDTIMEO expiry is EAGAIN (WouldBlock) on Linux, TimedOut elsewhere.
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn io_error(e: io::Error, timeout: TimeoutKind) -> NetError {
    if is_timeout(&e) {
        NetError::Timeout(timeout)
    } else {
        NetError::from_io(e)
    }
}

fn truncated() -> NetError {
    NetError::Io(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "connection closed inside the response body",
    ))
}

/// Did the connection die under the request (as opposed to a TLS or protocol failure)?
fn connection_lost(err: &NetError) -> bool {
    matches!(err, NetError::Io(e) if matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_is_strict() {
        assert_eq!(parse_content_length("0").ok(), Some(0));
        assert_eq!(parse_content_length("1234").ok(), Some(1234));
        for bad in ["", "+5", "-1", "5 ", "0x10", "99999999999999999999999"] {
            assert!(parse_content_length(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn request_encoding_and_validation() {
        let tls = crate::tls::client_config_webpki().unwrap();
        let client =
            HttpClient::new("https://api.example.com", tls, HttpOptions::default()).unwrap();
        let head = client
            .encode_request(
                Method::Get,
                "/api/v3/depth?symbol=BTCUSDT&limit=5000",
                &[("X-MBX-APIKEY", "k")],
                None,
            )
            .unwrap();
        let text = String::from_utf8(head).unwrap();
        assert!(text.starts_with(
            "GET /api/v3/depth?symbol=BTCUSDT&limit=5000 HTTP/1.1\r\nHost: api.example.com\r\n"
        ));
        assert!(text.contains("X-MBX-APIKEY: k\r\n"));
        assert!(text.contains("User-Agent: tickwire/"));
        assert!(!text.contains("Content-Length"));
        assert!(text.ends_with("\r\n\r\n"));

        let post = client
            .encode_request(Method::Post, "/o", &[("User-Agent", "me")], Some(b"a=1"))
            .unwrap();
        let text = String::from_utf8(post).unwrap();
        assert!(text.contains("Content-Length: 3\r\n"));
        assert!(text.contains("User-Agent: me\r\n"));
        assert!(!text.contains("tickwire/"));

        for (path, headers) in [
            ("no-slash", &[][..]),
            ("/a b", &[][..]),
            ("/a\r\nX: y", &[][..]),
            ("/", &[("Bad Name", "v")][..]),
            ("/", &[("X", "v\r\nInjected: 1")][..]),
            ("/", &[("Host", "other")][..]),
        ] {
            assert!(
                client
                    .encode_request(Method::Get, path, headers, None)
                    .is_err(),
                "{path:?} {headers:?}"
            );
        }
    }

    #[test]
    fn host_header_carries_non_default_port_and_brackets() {
        let tls = crate::tls::client_config_webpki().unwrap();
        let c = HttpClient::new(
            "https://127.0.0.1:8443",
            tls.clone(),
            HttpOptions::default(),
        )
        .unwrap();
        assert_eq!(c.host_header, "127.0.0.1:8443");
        let c = HttpClient::new(
            "https://[::1]:9000/ignored",
            tls.clone(),
            HttpOptions::default(),
        )
        .unwrap();
        assert_eq!(c.host_header, "[::1]:9000");
        assert!(HttpClient::new("http://plain.example", tls, HttpOptions::default()).is_err());
    }
}
