//! The OKX private WebSocket `/ws/v5/private`: one thread per connection, answering `login`,
//! `subscribe` (channel `orders`) and the trading ops, and writing the account's order pushes.
//!
//! The thread alternates a short blocking read (so client messages are answered at once) with
//! draining the connection's push queue, which the matching engine fills under the venue lock
//! (an op's own pushes are queued before its reply is written, and written right after it, as
//! on OKX where the reply precedes the order's first push).

use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use rustls::{ServerConnection, StreamOwned};
use serde_json::Value;
use tungstenite::{Message, WebSocket};

use crate::Shared;
use crate::protocol::okx::private::{OpResult, RequestFaults, envelope_code, jstr};
use crate::venue::{Books, Market, PrivateSide, Venue};

type Ws = WebSocket<StreamOwned<ServerConnection, TcpStream>>;
type Res = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Longest blocking read before the push queue is drained.
const POLL: Duration = Duration::from_millis(5);
/// Most orders in one batch op (OKX: 20).
const MAX_BATCH: usize = 20;

/// Microseconds since the epoch (`inTime`/`outTime`).
fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// One connection's protocol state.
struct Session {
    conn_id: String,
    /// Unique among the venue's private connections (subscription owner).
    conn: u64,
    account: Option<usize>,
    tx: Sender<String>,
}

/// What answering one client message produced.
#[derive(Default)]
struct Reply {
    texts: Vec<String>,
    delay: Duration,
    /// Close the connection abruptly after the texts (none, for a disconnect fault).
    disconnect: bool,
}

impl Reply {
    fn one(t: String) -> Self {
        Self {
            texts: vec![t],
            ..Self::default()
        }
    }
}

/// Serves an accepted `/ws/v5/private` connection until it ends.
pub(crate) fn run(mut ws: Ws, venue: &Venue, shared: &Shared, conn_id: String) -> Res {
    let sock = ws.get_ref().sock.try_clone()?;
    sock.set_read_timeout(Some(POLL))?;
    let (tx, rx) = mpsc::channel::<String>();
    let mut s = Session {
        conn_id,
        conn: shared.next_id(),
        account: None,
        tx,
    };
    let r = serve(&mut ws, &sock, venue, shared, &mut s, &rx);
    if let Some(p) = venue.lock().private.as_mut().and_then(PrivateSide::okx_mut) {
        p.unsubscribe(s.conn, None);
    }
    r
}

fn serve(
    ws: &mut Ws,
    sock: &TcpStream,
    venue: &Venue,
    shared: &Shared,
    s: &mut Session,
    rx: &Receiver<String>,
) -> Res {
    let mut last_traffic = Instant::now();
    loop {
        if shared.stopping() {
            return Ok(());
        }
        match ws.read() {
            Ok(Message::Text(t)) => {
                last_traffic = Instant::now();
                let reply = on_text(s, venue, t.as_str());
                if !reply.delay.is_zero() {
                    std::thread::sleep(reply.delay);
                }
                for t in reply.texts {
                    ws.write(Message::text(t))?;
                }
                if reply.disconnect {
                    let _ = sock.shutdown(Shutdown::Both);
                    return Ok(());
                }
            }
            Ok(Message::Close(_)) => return Ok(()),
            Ok(_) => last_traffic = Instant::now(),
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
        while let Ok(p) = rx.try_recv() {
            ws.write(Message::text(p))?;
            last_traffic = Instant::now();
        }
        match ws.flush() {
            Ok(()) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e.into()),
        }
        if last_traffic.elapsed() > venue.cfg.idle_timeout {
            let _ = sock.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
}

fn event_error(s: &Session, id: Option<&str>, code: &str, msg: &str) -> String {
    let id = id.map_or(String::new(), |i| format!("\"id\":{},", jstr(i)));
    format!(
        "{{{id}\"event\":\"error\",\"code\":\"{code}\",\"msg\":{},\"connId\":\"{}\"}}",
        jstr(msg),
        s.conn_id
    )
}

fn op_reply(
    id: Option<&str>,
    op: &str,
    code: &str,
    msg: &str,
    data: &[String],
    in_us: u64,
) -> String {
    let id = id.map_or(String::new(), |i| format!("\"id\":{},", jstr(i)));
    format!(
        "{{{id}\"op\":{},\"code\":\"{code}\",\"msg\":{},\"data\":[{}],\"inTime\":\"{in_us}\",\"outTime\":\"{}\"}}",
        jstr(op),
        jstr(msg),
        data.join(","),
        now_us()
    )
}

fn on_text(s: &mut Session, venue: &Venue, text: &str) -> Reply {
    if text == "ping" {
        return Reply::one("pong".into());
    }
    let in_us = now_us();
    let invalid = |s: &Session| {
        Reply::one(event_error(
            s,
            None,
            "60012",
            &format!("Invalid request: {text}"),
        ))
    };
    let Ok(Value::Object(req)) = serde_json::from_str::<Value>(text) else {
        return invalid(s);
    };
    let id = match req.get("id") {
        None => None,
        Some(Value::String(v)) if v.len() <= 32 && v.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            Some(v.as_str())
        }
        Some(_) => return invalid(s),
    };
    let Some(op) = req.get("op").and_then(Value::as_str) else {
        return invalid(s);
    };
    let args: &[Value] = match req.get("args") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => {
            return Reply::one(event_error(s, id, "60013", "Invalid args"));
        }
    };
    let now_ms = crate::now_ms();
    match op {
        "login" => {
            if s.account.is_some() {
                return Reply::one(event_error(
                    s,
                    id,
                    "60030",
                    "The WebSocket endpoint does not allow multiple or repeated logins.",
                ));
            }
            let st = venue.lock();
            let result = match st.private.as_ref().and_then(PrivateSide::okx) {
                Some(p) => p.login(&args[0], now_ms),
                None => Err(("60005", "Invalid apiKey")),
            };
            drop(st);
            match result {
                Ok(a) => {
                    s.account = Some(a);
                    let idf = id.map_or(String::new(), |i| format!("\"id\":{},", jstr(i)));
                    Reply::one(format!(
                        "{{{idf}\"event\":\"login\",\"code\":\"0\",\"msg\":\"\",\"connId\":\"{}\"}}",
                        s.conn_id
                    ))
                }
                Err((code, msg)) => Reply::one(event_error(s, id, code, msg)),
            }
        }
        "subscribe" | "unsubscribe" => {
            let mut out = Reply::default();
            for a in args {
                let channel = a.get("channel").and_then(Value::as_str).unwrap_or("");
                let inst_type = a.get("instType").and_then(Value::as_str).unwrap_or("");
                let inst_id = a.get("instId").and_then(Value::as_str);
                let Some(account) = s.account else {
                    out.texts.push(event_error(s, id, "60011", "Please log in"));
                    continue;
                };
                if channel != "orders" || !matches!(inst_type, "SPOT" | "ANY") {
                    out.texts.push(event_error(
                        s,
                        id,
                        "60018",
                        &format!(
                            "Wrong URL or channel:{channel},instType:{inst_type} doesn't exist. \
                             Please use the correct URL, channel and parameters referring to API \
                             document."
                        ),
                    ));
                    continue;
                }
                {
                    let mut st = venue.lock();
                    if let Some(p) = st.private.as_mut().and_then(PrivateSide::okx_mut) {
                        p.unsubscribe(s.conn, Some((inst_type, inst_id)));
                        if op == "subscribe" {
                            p.subscribe(s.conn, account, inst_type, inst_id, s.tx.clone());
                        }
                    }
                }
                let idf = id.map_or(String::new(), |i| format!("\"id\":{},", jstr(i)));
                let inst = inst_id.map_or(String::new(), |i| format!(",\"instId\":{}", jstr(i)));
                out.texts.push(format!(
                    "{{{idf}\"event\":\"{op}\",\"arg\":{{\"channel\":\"orders\",\"instType\":{}{inst}}},\"connId\":\"{}\"}}",
                    jstr(inst_type),
                    s.conn_id
                ));
            }
            out
        }
        "order"
        | "batch-orders"
        | "cancel-order"
        | "batch-cancel-orders"
        | "amend-order"
        | "batch-amend-orders" => {
            let Some(account) = s.account else {
                return Reply::one(op_reply(id, op, "60011", "Please log in", &[], in_us));
            };
            let batch = op.starts_with("batch-");
            if (!batch && args.len() != 1) || args.len() > MAX_BATCH {
                return Reply::one(op_reply(id, op, "60013", "Invalid args", &[], in_us));
            }
            let new_order = matches!(op, "order" | "batch-orders");
            let mut st = venue.lock();
            let st = &mut *st;
            let (Some(p), Books::Okx(books), Market::Okx(m)) = (
                st.private.as_mut().and_then(PrivateSide::okx_mut),
                &st.books,
                &venue.market,
            ) else {
                return Reply::one(op_reply(id, op, "60011", "Please log in", &[], in_us));
            };
            let faults: RequestFaults = p.request_faults(new_order);
            let limited = faults.rate_limit || (new_order && p.over_limit(account, now_ms));
            if faults.disconnect == Some(false) {
                return Reply {
                    disconnect: true,
                    ..Reply::default()
                };
            }
            let results: Vec<OpResult> = args
                .iter()
                .map(|a| {
                    if limited {
                        let mut r = OpResult {
                            ord_id: String::new(),
                            cl_ord_id: String::new(),
                            tag: String::new(),
                            req_id: None,
                            s_code: "50011",
                            s_msg: "Rate limit reached. Please refer to API documentation and \
                                    throttle requests accordingly."
                                .into(),
                        };
                        if let Some(c) = a.get("clOrdId").and_then(Value::as_str) {
                            c.clone_into(&mut r.cl_ord_id);
                        }
                        return r;
                    }
                    match op {
                        "order" | "batch-orders" => p.place(account, a, &faults, m, books, now_ms),
                        "cancel-order" | "batch-cancel-orders" => {
                            p.cancel(account, a, m, books, now_ms)
                        }
                        _ => p.amend(account, a, m, books, now_ms),
                    }
                })
                .collect();
            let mut reply = Reply {
                delay: faults.delay,
                ..Reply::default()
            };
            if faults.disconnect == Some(true) {
                reply.disconnect = true;
                return reply;
            }
            if faults.http_error.is_some() {
                reply.texts.push(op_reply(
                    id,
                    op,
                    "50001",
                    "Service temporarily unavailable. Please try again later.",
                    &[],
                    in_us,
                ));
                return reply;
            }
            let data: Vec<String> = results.iter().map(|r| r.json(now_ms)).collect();
            let code = envelope_code(&results);
            let msg = match code {
                "1" => "All operations failed",
                "2" => "Bulk operation partially succeeded.",
                _ => "",
            };
            reply.texts.push(op_reply(id, op, code, msg, &data, in_us));
            reply
        }
        other => Reply::one(event_error(s, id, "60019", &format!("Invalid op: {other}"))),
    }
}
