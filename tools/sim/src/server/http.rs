//! The REST side: HTTP/1.1 with keep-alive over TLS, one thread per connection.
//!
//! Binance: `GET /api/v3/depth`, `/api/v3/exchangeInfo`, `/api/v3/ping`, `/api/v3/time`, with
//! the `x-mbx-used-weight(-1m)` headers, and the private endpoints of
//! `protocol::binance::private` (with `X-MBX-APIKEY` and form bodies). OKX:
//! `GET /api/v5/market/books`, `/api/v5/public/time`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::Shared;
use crate::protocol::binance::{private as binance_private, public as binance};
use crate::protocol::okx::{private_rest as okx_private_rest, public as okx};
use crate::venue::{Books, Market, Venue};

/// Read wake-up period (to notice shutdown).
const POLL: Duration = Duration::from_millis(100);
/// An idle keep-alive connection is closed after this.
const IDLE: Duration = Duration::from_secs(120);
/// Largest request head accepted.
const MAX_HEAD: usize = 64 * 1024;
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest request body accepted.
const MAX_BODY: usize = 64 * 1024;

type Res = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Serves one accepted REST connection until it ends.
pub(crate) fn serve(
    tcp: TcpStream,
    tls: Arc<ServerConfig>,
    venue: Arc<Venue>,
    shared: Arc<Shared>,
) {
    let token = shared.track(&tcp);
    let _ = run(tcp, tls, &venue, &shared);
    if let Some(t) = token {
        shared.untrack(t);
    }
}

struct Request {
    method: String,
    path: String,
    query: String,
    close: bool,
    /// Header names and values (OKX private requests are signed in headers).
    headers: Vec<(String, String)>,
    /// `X-MBX-APIKEY`.
    api_key: Option<String>,
    body: String,
}

fn run(tcp: TcpStream, tls: Arc<ServerConfig>, venue: &Venue, shared: &Shared) -> Res {
    tcp.set_nodelay(true)?;
    tcp.set_read_timeout(Some(POLL))?;
    tcp.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut s = StreamOwned::new(ServerConnection::new(tls)?, tcp);
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut last = Instant::now();
    let mut chunk = [0u8; 8192];
    loop {
        // Answer every complete request already buffered (pipelining works too).
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut headers);
            let (head_len, body_len, r) = match req.parse(&buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let mut body_len = 0usize;
                    let mut api_key = None;
                    let mut close = req.version == Some(0);
                    for h in req.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            body_len = std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse().ok())
                                .unwrap_or(0);
                        } else if h.name.eq_ignore_ascii_case("x-mbx-apikey") {
                            api_key = std::str::from_utf8(h.value).ok().map(str::to_owned);
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            let v = String::from_utf8_lossy(h.value).to_ascii_lowercase();
                            close = v.contains("close") || (close && !v.contains("keep-alive"));
                        }
                    }
                    let target = req.path.unwrap_or("/");
                    let (path, query) = target.split_once('?').unwrap_or((target, ""));
                    let r = Request {
                        method: req.method.unwrap_or("").to_owned(),
                        path: path.to_owned(),
                        query: query.to_owned(),
                        close,
                        headers: req
                            .headers
                            .iter()
                            .map(|h| {
                                (
                                    h.name.to_owned(),
                                    String::from_utf8_lossy(h.value).into_owned(),
                                )
                            })
                            .collect(),
                        api_key,
                        body: String::new(),
                    };
                    (n, body_len, r)
                }
                Ok(httparse::Status::Partial) => {
                    if buf.len() > MAX_HEAD {
                        respond(&mut s, 431, "{}", &[], true)?;
                        return Ok(());
                    }
                    break;
                }
                Err(_) => {
                    respond(&mut s, 400, "{}", &[], true)?;
                    return Ok(());
                }
            };
            if body_len > MAX_BODY {
                respond(&mut s, 413, "{}", &[], true)?;
                return Ok(());
            }
            if buf.len() < head_len + body_len {
                break;
            }
            let mut r = r;
            r.body = String::from_utf8_lossy(&buf[head_len..head_len + body_len]).into_owned();
            buf.drain(..head_len + body_len);
            let (status, body, headers, delay) = route(venue, &r);
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
            if status == DROP {
                // Fault: the connection dies after the request arrived, without an answer.
                let _ = s.sock.shutdown(std::net::Shutdown::Both);
                return Ok(());
            }
            respond(&mut s, status, &body, &headers, r.close)?;
            if r.close {
                return Ok(());
            }
        }
        match s.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                last = Instant::now();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if last.elapsed() > IDLE {
                    return Ok(());
                }
            }
            Err(e) => return Err(e.into()),
        }
        if shared.stopping() {
            return Ok(());
        }
    }
}

type Answer = (u16, String, Vec<(String, String)>, Duration);

/// Status meaning "close without answering" (a fault).
const DROP: u16 = 0;

fn route(venue: &Venue, r: &Request) -> Answer {
    if let Market::Binance(_) = &venue.market
        && binance_private::Op::is_private_path(&r.path)
    {
        let Some(op) = binance_private::Op::rest(&r.method, &r.path) else {
            return (405, "{}".to_owned(), Vec::new(), Duration::ZERO);
        };
        let call = binance_private::Call::from_rest(r.api_key.clone(), &r.query, &r.body);
        let o = venue
            .binance_request(op, &call, crate::now_ms())
            .unwrap_or_else(binance_private::Outcome::no_private);
        let status = if o.disconnect { DROP } else { o.status };
        return (status, o.rest_body(), o.rest_headers(), o.delay);
    }
    let (status, body, headers) = public_route(venue, r);
    (status, body, headers, Duration::ZERO)
}

fn public_route(venue: &Venue, r: &Request) -> (u16, String, Vec<(String, String)>) {
    let not_found = || (404, "{}".to_owned(), Vec::new());
    if matches!(venue.market, Market::Okx(_)) {
        let header = |name: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        if let Some(a) =
            okx_private_rest::route(venue, &r.method, &r.path, &r.query, &header, &r.body)
        {
            // A slow acknowledgement holds the answer, not the venue.
            if !a.delay.is_zero() {
                std::thread::sleep(a.delay);
            }
            return (a.status, a.body, Vec::new());
        }
    }
    if r.method != "GET" {
        return (405, "{}".to_owned(), Vec::new());
    }
    match &venue.market {
        Market::Binance(m) => {
            let a = match r.path.as_str() {
                "/api/v3/depth" => {
                    let st = venue.lock();
                    match &st.books {
                        Books::Binance(books) => binance::depth(m, books, &r.query),
                        Books::Okx(_) => return not_found(),
                    }
                }
                "/api/v3/exchangeInfo" => binance::exchange_info(m, &r.query, crate::now_ms()),
                "/api/v3/ping" => binance::Answer {
                    status: 200,
                    body: "{}".into(),
                    weight: 1,
                },
                "/api/v3/time" => binance::Answer {
                    status: 200,
                    body: format!("{{\"serverTime\":{}}}", crate::now_ms()),
                    weight: 1,
                },
                _ => return not_found(),
            };
            let used = venue.add_weight(a.weight);
            let headers = vec![
                ("x-mbx-used-weight".to_owned(), used.to_string()),
                ("x-mbx-used-weight-1m".to_owned(), used.to_string()),
            ];
            (a.status, a.body, headers)
        }
        Market::Okx(m) => match r.path.as_str() {
            "/api/v5/market/books" => {
                let st = venue.lock();
                match &st.books {
                    Books::Okx(books) => {
                        let (status, body) = okx::rest_books(m, books, &r.query);
                        (status, body, Vec::new())
                    }
                    Books::Binance(_) => not_found(),
                }
            }
            "/api/v5/public/time" => (200, okx::rest_time(crate::now_ms()), Vec::new()),
            _ => not_found(),
        },
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        401 => "Unauthorized",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    }
}

fn respond(
    s: &mut impl Write,
    status: u16,
    body: &str,
    headers: &[(String, String)],
    close: bool,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: {}\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(k);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str(if close {
        "Connection: close\r\n\r\n"
    } else {
        "Connection: keep-alive\r\n\r\n"
    });
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    s.write_all(&out)?;
    s.flush()
}
