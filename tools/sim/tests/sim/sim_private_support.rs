//! Test-side Binance private client for the simulator: signs REST and WS-API requests with
//! HMAC-SHA256 as the venue documents (FORMATS.md §1.12), over real TLS. Written here from the
//! docs, not from tickwire-exec. Every read is bounded by a deadline.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};
use serde_json::Value;
use sha2::Sha256;
use tickwire_sim::{EndpointKind, SimConfig, SimHandle, start};

use crate::sim_support::{WsClient, client_config};

pub const KEY: &str = "simKeyAlice0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP";
pub const SECRET: &str = "simSecretAlice9876543210zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPON";
pub const KEY_B: &str = "simKeyBob";
pub const SECRET_B: &str = "simSecretBob";

/// A small capture: a snapshot of TESTUSDT, one diff (bid 99.00 → 2), then trades.
pub fn write_capture(dir: &Path) -> PathBuf {
    let p = dir.join("testusdt.txt");
    let lines = [
        r#"1000000000 {"lastUpdateId":100,"bids":[["99.00000000","3.00000000"],["98.00000000","5.00000000"]],"asks":[["100.00000000","1.00000000"],["100.50000000","2.00000000"],["101.00000000","5.00000000"]]}"#,
        r#"2000000000 {"stream":"testusdt@depth@100ms","data":{"e":"depthUpdate","E":1700000000100,"s":"TESTUSDT","U":101,"u":101,"b":[["99.00000000","2.00000000"]],"a":[]}}"#,
        r#"3000000000 {"stream":"testusdt@trade","data":{"e":"trade","E":1700000000200,"s":"TESTUSDT","t":1,"p":"99.00000000","q":"3.00000000","T":1700000000200,"m":true,"M":true}}"#,
        r#"4000000000 {"stream":"testusdt@trade","data":{"e":"trade","E":1700000000300,"s":"TESTUSDT","t":2,"p":"98.50000000","q":"5.00000000","T":1700000000300,"m":true,"M":true}}"#,
    ];
    std::fs::write(&p, lines.join("\n") + "\n").expect("write capture");
    p
}

/// A venue config for the test capture with a private side (accounts alice and bob) plus
/// `extra` lines under `[venue.private]` and `tail` after it (e.g. faults).
pub fn config(capture: &Path, extra: &str, tail: &str) -> String {
    format!(
        r#"
[[venue]]
venue = "binance"
captures = [{cap:?}]
pace = "fast"

[[venue.symbol]]
symbol = "TESTUSDT"
tick = "0.01"
lot = "0.001"
min_notional = "5"

[venue.private]
maker_fee = "-0.0001"
taker_fee = "0.001"
{extra}

[[venue.private.account]]
name = "alice"
api_key = "{KEY}"
secret = "{SECRET}"
balances = ["USDT:10000", "TEST:10"]

[[venue.private.account]]
name = "bob"
api_key = "{KEY_B}"
secret = "{SECRET_B}"
balances = ["USDT:50"]
{tail}
"#,
        cap = capture.display().to_string()
    )
}

pub struct Sim {
    pub sim: SimHandle,
    /// Holds the capture the simulator reads; dropped (deleted) with the simulator.
    _dir: tempfile::TempDir,
}

impl Sim {
    pub fn start(extra: &str, tail: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let cap = write_capture(dir.path());
        let cfg = SimConfig::parse(&config(&cap, extra, tail)).unwrap_or_else(|e| panic!("{e}"));
        let sim = start(&cfg).unwrap_or_else(|e| panic!("start: {e}"));
        Self { sim, _dir: dir }
    }

    pub fn rest_url(&self) -> String {
        self.sim
            .endpoint("binance", EndpointKind::Rest)
            .expect("rest")
            .to_owned()
    }

    pub fn ws_url(&self) -> String {
        self.sim
            .endpoint("binance", EndpointKind::Ws)
            .expect("ws")
            .to_owned()
    }

    pub fn rest(&self, key: &str, secret: &str) -> Rest {
        Rest::connect(&self.rest_url(), self.sim.ca_path(), key, secret)
    }

    pub fn ws_api(&self, key: &str, secret: &str) -> WsApi {
        WsApi {
            ws: WsClient::connect(&self.ws_url(), "/ws-api/v3", self.sim.ca_path()),
            key: key.to_owned(),
            secret: secret.to_owned(),
            next_id: 1,
            pushes: Vec::new(),
        }
    }

    /// Starts the tape: subscribes a market-data connection and reads every frame.
    pub fn run_tape(&self) -> WsClient {
        let mut md = WsClient::connect(
            &self.ws_url(),
            "/stream?streams=testusdt@trade/testusdt@depth@100ms",
            self.sim.ca_path(),
        );
        for _ in 0..3 {
            md.text(Duration::from_secs(20));
        }
        assert!(
            self.sim.wait_finished(Duration::from_secs(20)),
            "tape did not finish"
        );
        md
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn sign(secret: &str, payload: &str) -> String {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("hmac key");
    m.update(payload.as_bytes());
    m.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// Asserts a Binance error answer.
    pub fn expect_error(&self, status: u16, code: i64) -> String {
        let v = self.json();
        assert_eq!(
            (self.status, v["code"].as_i64()),
            (status, Some(code)),
            "{}",
            self.body
        );
        v["msg"].as_str().expect("msg").to_owned()
    }
}

/// A keep-alive HTTPS client that signs like a Binance client.
pub struct Rest {
    s: StreamOwned<ClientConnection, TcpStream>,
    buf: Vec<u8>,
    pub key: String,
    pub secret: String,
}

impl Rest {
    pub fn connect(base: &str, ca: &Path, key: &str, secret: &str) -> Self {
        let addr = base.split_once("://").map_or(base, |(_, r)| r);
        let tcp = TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let name = ServerName::try_from("127.0.0.1").expect("name");
        let conn = ClientConnection::new(client_config(ca), name).expect("tls");
        Self {
            s: StreamOwned::new(conn, tcp),
            buf: Vec::new(),
            key: key.to_owned(),
            secret: secret.to_owned(),
        }
    }

    /// A signed request: `params` plus `timestamp`, signed; GET/DELETE in the query, POST/PUT
    /// in the body.
    pub fn signed(&mut self, method: &str, path: &str, params: &[(&str, &str)]) -> Resp {
        self.try_signed(method, path, params)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// As [`Self::signed`]; `Err` if the server closed the connection without answering.
    pub fn try_signed(
        &mut self,
        method: &str,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<Resp, String> {
        let mut q: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !params.iter().any(|(k, _)| *k == "timestamp") {
            q.push(format!("timestamp={}", now_ms()));
        }
        let payload = q.join("&");
        let sig = sign(&self.secret, &payload);
        let full = format!("{payload}&signature={sig}");
        self.try_raw(method, path, &full, Some(&self.key.clone()))
    }

    /// Sends `params` (already encoded) as query (GET/DELETE) or body (POST/PUT).
    pub fn raw(&mut self, method: &str, path: &str, params: &str, key: Option<&str>) -> Resp {
        self.try_raw(method, path, params, key)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    fn try_raw(
        &mut self,
        method: &str,
        path: &str,
        params: &str,
        key: Option<&str>,
    ) -> Result<Resp, String> {
        let (target, body) = if matches!(method, "POST" | "PUT") {
            (path.to_owned(), params.to_owned())
        } else if params.is_empty() {
            (path.to_owned(), String::new())
        } else {
            (format!("{path}?{params}"), String::new())
        };
        let mut req = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        if let Some(k) = key {
            req.push_str(&format!("X-MBX-APIKEY: {k}\r\n"));
        }
        if !body.is_empty() {
            req.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        self.exchange(req.as_bytes())
    }

    /// A request with both a query string and a body (the payload is signed as query + body).
    pub fn raw_split(
        &mut self,
        method: &str,
        path: &str,
        query: &str,
        body: &str,
        key: &str,
    ) -> Resp {
        let req = format!(
            "{method} {path}?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-MBX-APIKEY: {key}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.exchange(req.as_bytes())
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    fn exchange(&mut self, req: &[u8]) -> Result<Resp, String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut off = 0;
        while off < req.len() {
            match self.s.write(&req[off..]) {
                Ok(n) => off += n,
                Err(e) if blocked(&e) => assert!(Instant::now() < deadline, "write timed out"),
                Err(e) => return Err(format!("write: {e}")),
            }
        }
        let mut chunk = [0u8; 16384];
        loop {
            if let Some(r) = self.parse() {
                return Ok(r);
            }
            match self.s.read(&mut chunk) {
                Ok(0) => return Err("server closed the connection".into()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if blocked(&e) => {
                    assert!(Instant::now() < deadline, "no HTTP response within 30 s")
                }
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    fn parse(&mut self) -> Option<Resp> {
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
        let body = String::from_utf8(self.buf[n..n + len].to_vec()).expect("utf-8");
        self.buf.drain(..n + len);
        Some(Resp {
            status,
            headers: hs,
            body,
        })
    }
}

fn blocked(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// A WS-API session that signs its calls (params sorted, apiKey included).
pub struct WsApi {
    pub ws: WsClient,
    pub key: String,
    pub secret: String,
    next_id: u64,
    /// User-data pushes read while waiting for answers.
    pub pushes: Vec<Value>,
}

impl WsApi {
    /// Sends a signed call and returns its answer frame (pushes seen meanwhile are kept).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let mut p = params.as_object().cloned().unwrap_or_default();
        p.insert("apiKey".into(), Value::String(self.key.clone()));
        p.entry("timestamp").or_insert(Value::from(now_ms()));
        let mut pairs: Vec<(String, String)> = p
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    o => o.to_string(),
                };
                (k.clone(), v)
            })
            .collect();
        pairs.sort();
        let payload = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        p.insert(
            "signature".into(),
            Value::String(sign(&self.secret, &payload)),
        );
        self.send(method, Value::Object(p))
    }

    /// Sends a call as given (no signing) and returns its answer.
    pub fn send(&mut self, method: &str, params: Value) -> Value {
        let id = format!("req-{}", self.next_id);
        self.next_id += 1;
        let req = serde_json::json!({"id": id, "method": method, "params": params});
        self.ws.send(&req.to_string());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no answer to {method}");
            let t = self.ws.text(left);
            let v: Value = serde_json::from_str(&t).expect("json");
            if v["id"] == Value::String(id.clone()) {
                return v;
            }
            self.pushes.push(v);
        }
    }

    /// The next user-data push (from those already read, else the socket).
    pub fn push(&mut self, timeout: Duration) -> Value {
        if !self.pushes.is_empty() {
            return self.pushes.remove(0);
        }
        let t = self.ws.text(timeout);
        serde_json::from_str(&t).expect("json")
    }
}
