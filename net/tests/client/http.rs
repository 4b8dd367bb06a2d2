//! The HTTP/1.1 client against a rustls server on 127.0.0.1 that serves canned responses by
//! path and counts its connections.

use crate::support;

use std::io::{self, Write};
use std::net::{Shutdown, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use support::{LIMIT, Pki, ServerTls, listener, read_http_request, tls_accept};
use tickwire_net::http::{HttpClient, HttpOptions, Method};
use tickwire_net::{NetError, TimeoutKind};

/// Armed by one test: the next request to `/flaky` finds the connection dropped under it.
static FLAKY: AtomicBool = AtomicBool::new(false);

const SNAPSHOT: &str = r#"{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}"#;

/// What the test server does after answering a request.
enum After {
    KeepOpen,
    /// Close with close_notify, as a server's idle timer would.
    CloseClean,
    /// Drop TCP without close_notify.
    CloseAbrupt,
}

struct Server {
    port: u16,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    /// Signals each connection the server closed by itself.
    closed: mpsc::Receiver<()>,
    accept_thread: Option<thread::JoinHandle<()>>,
}

impl Server {
    fn start(pki: &Pki) -> Self {
        let (listener, port) = listener();
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (closed_tx, closed) = mpsc::channel();
        let config = pki.server_config();
        let accept_thread = {
            let connections = Arc::clone(&connections);
            let stop = Arc::clone(&stop);
            thread::spawn(move || accept_loop(&listener, &config, &connections, &stop, &closed_tx))
        };
        Self {
            port,
            connections,
            stop,
            closed,
            accept_thread: Some(accept_thread),
        }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn wait_closed(&self) {
        self.closed
            .recv_timeout(LIMIT)
            .expect("the server closed the connection");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.accept_thread.take() {
            let _ = handle.join();
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    config: &Arc<rustls::ServerConfig>,
    connections: &AtomicUsize,
    stop: &AtomicBool,
    closed: &mpsc::Sender<()>,
) {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + LIMIT;
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        let tcp = match try_accept(listener) {
            Ok(Some(tcp)) => tcp,
            Ok(None) => {
                // Poll the non-blocking listener so the stop flag is seen quickly.
                thread::sleep(Duration::from_millis(2));
                continue;
            }
            Err(e) => panic!("accept: {e}"),
        };
        connections.fetch_add(1, Ordering::SeqCst);
        let config = Arc::clone(config);
        let closed = closed.clone();
        thread::spawn(move || {
            if let Ok(mut tls) = tls_accept(tcp, &config) {
                serve_connection(&mut tls, &closed);
            }
        });
    }
}

fn try_accept(listener: &TcpListener) -> io::Result<Option<std::net::TcpStream>> {
    match listener.accept() {
        Ok((tcp, _)) => {
            tcp.set_nonblocking(false)?;
            tcp.set_read_timeout(Some(support::SERVER_IO_TIMEOUT))?;
            tcp.set_write_timeout(Some(support::SERVER_IO_TIMEOUT))?;
            Ok(Some(tcp))
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

fn serve_connection(tls: &mut ServerTls, closed: &mpsc::Sender<()>) {
    let mut buf = Vec::new();
    while let Ok(Some((method, path, body))) = read_http_request(tls, &mut buf) {
        let (response, after) = respond(&method, &path, &body);
        if path == "/flaky" && FLAKY.swap(false, Ordering::SeqCst) {
            // The server's idle timer fired just as the request arrived: no response at all.
            let _ = tls.sock.shutdown(Shutdown::Both);
            return;
        }
        if path == "/slow" {
            // Never answer; hold the connection until the client gives up (bounded).
            let _ = read_http_request(tls, &mut buf);
            return;
        }
        if tls.write_all(&response).and_then(|()| tls.flush()).is_err() {
            return;
        }
        match after {
            After::KeepOpen => {}
            After::CloseClean => {
                tls.conn.send_close_notify();
                let _ = tls.flush();
                let _ = tls.sock.shutdown(Shutdown::Both);
                let _ = closed.send(());
                return;
            }
            After::CloseAbrupt => {
                let _ = tls.sock.shutdown(Shutdown::Both);
                let _ = closed.send(());
                return;
            }
        }
    }
}

fn ok_with(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn respond(method: &str, path: &str, body: &[u8]) -> (Vec<u8>, After) {
    match path {
        p if p.starts_with("/api/v3/depth") => (ok_with(SNAPSHOT), After::KeepOpen),
        "/chunked" => {
            let mut out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            // Upper- and lower-case hex sizes, a chunk extension, then a trailer.
            for (i, piece) in [r#"{"lastUpdateId":160,"bids"#, r#"":[],"#, r#""asks":[]}"#]
                .iter()
                .enumerate()
            {
                let size = match i {
                    0 => format!("{:X}", piece.len()),
                    1 => format!("{:x};ext=1", piece.len()),
                    _ => format!("{:x}", piece.len()),
                };
                out.extend(format!("{size}\r\n{piece}\r\n").into_bytes());
            }
            out.extend_from_slice(b"0\r\nX-Trailer: yes\r\n\r\n");
            (out, After::KeepOpen)
        }
        "/big-chunked" => {
            let mut out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".to_vec();
            for i in 0..3000u32 {
                let chunk = format!("[\"{i}.0\",\"{}\"],", i % 97);
                out.extend(format!("{:x}\r\n{chunk}\r\n", chunk.len()).into_bytes());
            }
            out.extend_from_slice(b"0\r\n\r\n");
            (out, After::KeepOpen)
        }
        "/500" => (
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 34\r\n\r\n\
              {\"code\":-1000,\"msg\":\"An unknown\"}\n"
                .to_vec(),
            After::KeepOpen,
        ),
        "/then-close" => (ok_with("bye"), After::CloseClean),
        "/flaky" => (ok_with("ok"), After::KeepOpen),
        "/then-drop" => (ok_with("bye"), After::CloseAbrupt),
        "/connection-close" => (
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok".to_vec(),
            After::CloseClean,
        ),
        "/until-close" => (
            b"HTTP/1.0 200 OK\r\n\r\nbody until the end".to_vec(),
            After::CloseClean,
        ),
        "/garbled" => (b"HTTP/1.1 2x0 What\r\n\r\n".to_vec(), After::CloseAbrupt),
        "/truncated" => (
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b".to_vec(),
            After::CloseAbrupt,
        ),
        "/interim" => (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n".to_vec(),
            After::KeepOpen,
        ),
        "/echo" if method == "POST" => {
            let mut out = format!(
                "HTTP/1.1 201 Created\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            out.extend_from_slice(body);
            (out, After::KeepOpen)
        }
        _ => (
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
            After::KeepOpen,
        ),
    }
}

fn client(server: &Server, pki: &Pki) -> HttpClient {
    HttpClient::new(&server.url(), pki.client_config(), HttpOptions::default()).unwrap()
}

#[test]
fn content_length_body() {
    let pki = Pki::new();
    let server = Server::start(&pki);
    let mut http = client(&server, &pki);
    let resp = http
        .get(
            "/api/v3/depth?symbol=BNBBTC&limit=5000",
            &[("X-MBX-APIKEY", "key")],
        )
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.reason, "OK");
    assert!(resp.is_success());
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.body, SNAPSHOT.as_bytes());
}

#[test]
fn chunked_bodies_with_extensions_trailers_and_many_chunks() {
    let pki = Pki::new();
    let server = Server::start(&pki);
    let mut http = client(&server, &pki);
    let resp = http.get("/chunked", &[]).unwrap();
    assert_eq!(resp.body, br#"{"lastUpdateId":160,"bids":[],"asks":[]}"#);

    let big = http.get("/big-chunked", &[]).unwrap();
    let expected: String = (0..3000u32)
        .map(|i| format!("[\"{i}.0\",\"{}\"],", i % 97))
        .collect();
    assert!(big.body == expected.as_bytes(), "{} bytes", big.body.len());
    // Still one connection: chunked framing left the stream exactly at the next response.
    let again = http.get("/chunked", &[]).unwrap();
    assert_eq!(again.status, 200);
    assert_eq!(server.connections(), 1);
}

#[test]
fn keep_alive_reuses_one_connection() {
    let pki = Pki::new();
    let server = Server::start(&pki);
    let mut http = client(&server, &pki);
    for _ in 0..3 {
        assert_eq!(http.get("/api/v3/depth?symbol=X", &[]).unwrap().status, 200);
    }
    let echoed = http
        .post("/echo", &[("Content-Type", "text/plain")], b"a=1&b=2")
        .unwrap();
    assert_eq!(echoed.status, 201);
    assert_eq!(echoed.body, b"a=1&b=2");
    let empty = http.request(Method::Get, "/interim", &[], None).unwrap();
    assert_eq!(empty.status, 204, "interim 1xx responses are skipped");
    assert_eq!(empty.header("x-a"), Some("b"));
    assert!(empty.body.is_empty());
    assert_eq!(server.connections(), 1);
    assert_eq!(http.connections_opened(), 1);
    assert!(http.is_connected());
}

#[test]
fn idle_connection_closed_by_the_server_is_replaced_transparently() {
    let pki = Pki::new();
    let server = Server::start(&pki);
    let mut http = client(&server, &pki);
    // Clean close (close_notify), then an abrupt one (TCP FIN only).
    for path in ["/then-close", "/then-drop"] {
        assert_eq!(http.get(path, &[]).unwrap().body, b"bye");
        let before = server.connections();
        server.wait_closed();
        let resp = http.post("/echo", &[], b"after idle close").unwrap();
        assert_eq!(resp.body, b"after idle close");
        assert_eq!(server.connections(), before + 1);
    }
    // Connection: close is honoured without waiting for the server.
    assert_eq!(http.get("/connection-close", &[]).unwrap().body, b"ok");
    assert!(!http.is_connected());
    assert_eq!(http.get("/api/v3/depth", &[]).unwrap().status, 200);
    assert_eq!(http.connections_opened(), server.connections() as u64);
}

#[test]
fn request_lost_on_a_reused_connection_is_retried_only_if_idempotent() {
    let pki = Pki::new();
    let server = Server::start(&pki);
    let mut http = client(&server, &pki);
    assert_eq!(http.get("/api/v3/depth", &[]).unwrap().status, 200);

    // The connection passes the idle probe, then dies under the GET: retried once, on a new
    // connection, invisibly to the caller.
    FLAKY.store(true, Ordering::SeqCst);
    assert_eq!(http.get("/flaky", &[]).unwrap().body, b"ok");
    assert_eq!(server.connections(), 2);

    // The same under a POST: the server may have acted on it, so no retry; the caller gets
    // an error and must find out by a query.
    FLAKY.store(true, Ordering::SeqCst);
    let err = http.post("/flaky", &[], b"side=BUY").unwrap_err();
    assert!(
        matches!(&err, NetError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof),
        "{err:?}"
    );
    assert_eq!(server.connections(), 2, "POST was not sent again");
}

#[test]
fn server_error_status_is_a_response_not_an_error() {
    let pki = Pki::new();
    let server = Server::start(&pki);
    let mut http = client(&server, &pki);
    let resp = http.get("/500", &[]).unwrap();
    assert_eq!(resp.status, 500);
    assert!(!resp.is_success());
    assert_eq!(resp.body, b"{\"code\":-1000,\"msg\":\"An unknown\"}\n");
    assert_eq!(http.get("/missing", &[]).unwrap().status, 404);
    assert_eq!(
        server.connections(),
        1,
        "error statuses keep the connection"
    );
}

#[test]
fn body_delimited_by_connection_close() {
    let pki = Pki::new();
    let server = Server::start(&pki);
    let mut http = client(&server, &pki);
    let resp = http.get("/until-close", &[]).unwrap();
    assert_eq!(resp.body, b"body until the end");
    assert!(!http.is_connected());
}

#[test]
fn garbled_and_truncated_responses_are_errors() {
    let pki = Pki::new();
    let server = Server::start(&pki);
    let mut http = client(&server, &pki);
    let err = http.get("/garbled", &[]).unwrap_err();
    assert!(matches!(err, NetError::Protocol(_)), "{err:?}");
    let err = http.get("/truncated", &[]).unwrap_err();
    assert!(
        matches!(&err, NetError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof),
        "{err:?}"
    );
    // The client recovers on a new connection.
    assert_eq!(http.get("/api/v3/depth", &[]).unwrap().status, 200);
    assert_eq!(server.connections(), 3);
}

#[test]
fn read_timeout() {
    let pki = Pki::new();
    let server = Server::start(&pki);
    let options = HttpOptions {
        read_timeout: Duration::from_millis(300),
        ..HttpOptions::default()
    };
    let mut http = HttpClient::new(&server.url(), pki.client_config(), options).unwrap();
    let err = http.get("/slow", &[]).unwrap_err();
    assert!(
        matches!(err, NetError::Timeout(TimeoutKind::Response)),
        "{err:?}"
    );
    assert!(
        !http.is_connected(),
        "a timed-out connection is never reused"
    );
    assert_eq!(http.get("/api/v3/depth", &[]).unwrap().status, 200);
}

#[test]
fn untrusted_certificate_and_refused_connection_are_clear_errors() {
    let pki = Pki::new();
    let server = Server::start(&pki);
    let stranger = Pki::new();
    let mut http = HttpClient::new(
        &server.url(),
        stranger.client_config(),
        HttpOptions::default(),
    )
    .unwrap();
    let err = http.get("/api/v3/depth", &[]).unwrap_err();
    assert!(
        matches!(
            err,
            NetError::Tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            ))
        ),
        "{err:?}"
    );

    let (listener, port) = listener();
    drop(listener);
    let mut http = HttpClient::new(
        &format!("https://127.0.0.1:{port}"),
        pki.client_config(),
        HttpOptions::default(),
    )
    .unwrap();
    let err = http.get("/", &[]).unwrap_err();
    assert!(
        matches!(&err, NetError::Connect { source, .. }
            if source.kind() == io::ErrorKind::ConnectionRefused),
        "{err:?}"
    );
}
