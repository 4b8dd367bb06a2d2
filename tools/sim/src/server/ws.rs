//! The WebSocket side: one thread per connection, blocking rustls + tungstenite.
//!
//! The thread waits on its tape queue (bounded wait) and, every few milliseconds or when the
//! queue is idle, drains what the client sent with the socket briefly non-blocking. Writes are
//! blocking with a timeout, so a client that stops reading is dropped rather than holding a
//! thread forever.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use rustls::{ServerConfig, ServerConnection, StreamOwned};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http::StatusCode;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Bytes, Message, WebSocket};

use crate::Shared;
use crate::protocol::binance::private as binance_private;
use crate::protocol::binance::public as binance;
use crate::protocol::okx::public::{self as okx, Action};
use crate::server::conn::{ConnCtl, Out};
use crate::venue::{Books, State, Venue};

/// Longest wait on the queue before looking at the socket and the keep-alive timers.
const POLL: Duration = Duration::from_millis(20);
/// How often the socket is checked for client messages while frames are flowing.
const CHECK: Duration = Duration::from_millis(5);
/// Private connections (WS-API, listen-key user data) wait on the socket itself, so a request
/// is answered as soon as it arrives; this bounds how long a queued report (an execution
/// pushed by the matching engine) waits meanwhile. A timed blocking read sleeps in the kernel:
/// no spinning.
const PRIVATE_WAIT: Duration = Duration::from_millis(1);
/// TLS + WebSocket handshake must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A blocked write (client not reading) ends the connection after this.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Queue items written per flush.
const BATCH: usize = 256;

type Ws = WebSocket<StreamOwned<ServerConnection, TcpStream>>;
type Res = Result<(), Box<dyn std::error::Error + Send + Sync>>;

enum Proto {
    Binance(binance::Session),
    /// Binance WS-API (`/ws-api/v3`).
    BinanceApi,
    /// Binance user data by listen key (`/ws/<listenKey>`).
    BinanceUser,
    Okx(okx::Session),
}

/// Serves one accepted WebSocket connection until it ends.
pub(crate) fn serve(
    tcp: TcpStream,
    tls: Arc<ServerConfig>,
    venue: Arc<Venue>,
    shared: Arc<Shared>,
) {
    let token = shared.track(&tcp);
    // Errors only end this connection; the client sees the socket close.
    let _ = run(tcp, tls, &venue, &shared);
    if let Some(t) = token {
        shared.untrack(t);
    }
}

fn run(tcp: TcpStream, tls: Arc<ServerConfig>, venue: &Venue, shared: &Shared) -> Res {
    tcp.set_nodelay(true)?;
    tcp.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    tcp.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let stream = StreamOwned::new(ServerConnection::new(tls)?, tcp);
    let kind = venue.cfg.venue;
    let conn_id = format!("{:08x}", shared.next_id() as u32 ^ 0x5a17_c0de);
    let mut accepted: Option<(Proto, Vec<String>)> = None;
    let mut okx_private = false;
    // Registered before the handshake answer goes out, so a listen-key stream receives every
    // event that happens after its client sees the connection open.
    let mut registered: Option<(u64, std::sync::mpsc::Receiver<Out>, Arc<ConnCtl>)> = None;
    // The error type is tungstenite's (an HTTP response); its size is not ours to choose.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let listen_key = pq.strip_prefix("/ws/").and_then(|k| {
            let st = venue.lock();
            st.private.as_ref()?.binance()?.stream_keys.get(k).copied()
        });
        let proto = if kind.is_binance() && pq == "/ws-api/v3" && venue.cfg.private.is_some() {
            registered = Some(venue.register(true));
            Some((Proto::BinanceApi, Vec::new()))
        } else if let (true, Some(account)) = (kind.is_binance(), listen_key) {
            let r = venue.register(true);
            venue.add_listener(r.0, account, binance_private::PushForm::ListenKey);
            registered = Some(r);
            Some((Proto::BinanceUser, Vec::new()))
        } else if kind.is_binance() {
            binance::Session::from_path(pq).map(|(s, streams)| (Proto::Binance(s), streams))
        } else if pq == "/ws/v5/private" {
            okx_private = true;
            Some((Proto::Okx(okx::Session::new(conn_id.clone())), Vec::new()))
        } else {
            (pq == "/ws/v5/public")
                .then(|| (Proto::Okx(okx::Session::new(conn_id.clone())), Vec::new()))
        };
        match proto {
            Some(p) => {
                if registered.is_none() {
                    registered = Some(venue.register(false));
                }
                accepted = Some(p);
                Ok(resp)
            }
            None => {
                let mut r = ErrorResponse::new(Some("Not Found".into()));
                *r.status_mut() = StatusCode::NOT_FOUND;
                Err(r)
            }
        }
    };
    let ws =
        tungstenite::accept_hdr_with_config(stream, callback, Some(WebSocketConfig::default()))
            .map_err(|e| e.to_string());
    let Some((cid, rx, ctl)) = registered else {
        return ws.map(|_| ()).map_err(Into::into);
    };
    let ws = ws.inspect_err(|_| venue.unregister(cid))?;
    let Some((mut proto, initial)) = accepted else {
        venue.unregister(cid);
        return Ok(());
    };
    if okx_private {
        // The private endpoint has its own loop; it takes no tape frames.
        venue.unregister(cid);
        return crate::protocol::okx::private_ws::run(ws, venue, shared, conn_id);
    }
    if let Err(e) = ws.get_ref().sock.set_read_timeout(None) {
        venue.unregister(cid);
        return Err(e.into());
    }
    if !initial.is_empty() {
        let keys: Vec<&str> = initial.iter().map(String::as_str).collect();
        venue.subscribe(cid, &keys, |_| ());
    }
    if let Proto::Binance(b) = &mut proto {
        b.subscriptions = initial;
    }

    let mut conn = Conn {
        ws,
        proto,
        cid,
        last_ping: Instant::now(),
        awaiting_pong: None,
        last_traffic: Instant::now(),
        delayed: Vec::new(),
    };
    let r = conn.run(venue, shared, &rx, &ctl);
    venue.unregister(cid);
    r
}

struct Conn {
    ws: Ws,
    proto: Proto,
    cid: u64,
    last_ping: Instant,
    awaiting_pong: Option<Instant>,
    last_traffic: Instant,
    /// WS-API answers held back by latency or a slow-ack fault: (due, frame).
    delayed: Vec<(Instant, String)>,
}

impl Conn {
    fn sock(&self) -> &TcpStream {
        &self.ws.get_ref().sock
    }

    fn run(
        &mut self,
        venue: &Venue,
        shared: &Shared,
        rx: &std::sync::mpsc::Receiver<Out>,
        ctl: &ConnCtl,
    ) -> Res {
        let mut last_check = Instant::now();
        let private = matches!(self.proto, Proto::BinanceApi | Proto::BinanceUser);
        loop {
            if shared.stopping() {
                return Ok(());
            }
            if ctl.kill.load(Ordering::Acquire) {
                let _ = self.sock().shutdown(Shutdown::Both);
                return Ok(());
            }
            let mut idle = false;
            let mut done = 0usize;
            let next = if private {
                // The wait happens on the socket below, not on the queue.
                rx.try_recv().map_err(|e| match e {
                    std::sync::mpsc::TryRecvError::Empty => RecvTimeoutError::Timeout,
                    std::sync::mpsc::TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
                })
            } else {
                rx.recv_timeout(POLL)
            };
            match next {
                Ok(first) => {
                    let mut next = Some(first);
                    while let Some(o) = next {
                        done += 1;
                        if !self.write_out(venue, o)? {
                            ctl.queued.fetch_sub(done, Ordering::AcqRel);
                            let _ = self.sock().shutdown(Shutdown::Both);
                            return Ok(());
                        }
                        next = if done < BATCH {
                            rx.try_recv().ok()
                        } else {
                            None
                        };
                    }
                    self.ws.flush()?;
                    ctl.queued.fetch_sub(done, Ordering::AcqRel);
                    self.last_traffic = Instant::now();
                }
                Err(RecvTimeoutError::Timeout) => idle = true,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
            if private {
                // Blocks up to PRIVATE_WAIT when the queue was empty, waking on a request.
                if !self.read_client(venue, idle.then_some(PRIVATE_WAIT))? {
                    return Ok(());
                }
            } else if idle || last_check.elapsed() >= CHECK {
                if !self.read_client(venue, None)? {
                    return Ok(());
                }
                last_check = Instant::now();
            }
            self.send_due()?;
            if !self.keepalive(venue)? {
                return Ok(());
            }
        }
    }

    /// Writes one queue item; false means "close abruptly now".
    fn write_out(&mut self, venue: &Venue, o: Out) -> Result<bool, tungstenite::Error> {
        let (i, malformed) = match o {
            Out::Frame(i) => (i, false),
            Out::Malformed(i) => (i, true),
            Out::Disconnect => return Ok(false),
            Out::Text(t) => {
                self.ws.write(Message::text(&*t))?;
                return Ok(true);
            }
        };
        let Some(f) = venue.tape.frames.get(i as usize) else {
            return Ok(true);
        };
        let text = match &self.proto {
            Proto::Binance(b) => b.render(f),
            Proto::Okx(_) => &f.text,
            // Private connections subscribe to no market stream.
            Proto::BinanceApi | Proto::BinanceUser => return Ok(true),
        };
        let text = if malformed {
            let mut cut = text.len() / 2;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            &text[..cut]
        } else {
            text
        };
        self.ws.write(Message::text(text))?;
        Ok(true)
    }

    /// Handles everything the client has sent so far; false when it closed. With `wait`, the
    /// first read blocks up to that long for the client to send something.
    fn read_client(
        &mut self,
        venue: &Venue,
        wait: Option<Duration>,
    ) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
        match wait {
            Some(d) => self.sock().set_read_timeout(Some(d))?,
            None => self.sock().set_nonblocking(true)?,
        }
        let mut texts = Vec::new();
        let mut open = true;
        let mut blocking = wait.is_some();
        let res = loop {
            let r = self.ws.read();
            if blocking && r.is_ok() {
                // Something arrived: take the rest of what is buffered without waiting.
                self.sock().set_nonblocking(true)?;
                blocking = false;
            }
            match r {
                Ok(Message::Text(t)) => texts.push(t.as_str().to_owned()),
                Ok(Message::Pong(_)) => self.awaiting_pong = None,
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break Ok(());
                }
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    open = false;
                    break Ok(());
                }
                Err(e) => break Err(e),
            }
            self.last_traffic = Instant::now();
        };
        self.sock().set_nonblocking(false)?;
        if wait.is_some() {
            self.sock().set_read_timeout(None)?;
        }
        res?;
        if !open {
            return Ok(false);
        }
        for t in texts {
            if !self.on_text(venue, &t)? {
                let _ = self.ws.flush();
                let _ = self.sock().shutdown(Shutdown::Both);
                return Ok(false);
            }
        }
        self.ws.flush()?;
        Ok(true)
    }

    /// Handles one client text; false when the connection must close abruptly.
    fn on_text(&mut self, venue: &Venue, text: &str) -> Result<bool, tungstenite::Error> {
        let actions: Vec<Action> = match &mut self.proto {
            Proto::BinanceApi => return self.on_api(venue, text),
            // The user-data stream ignores what clients send.
            Proto::BinanceUser => return Ok(true),
            Proto::Binance(b) => {
                let r = b.on_text(text);
                let mut a: Vec<Action> = Vec::new();
                if !r.subscribe.is_empty() {
                    a.push(Action::Subscribe(
                        r.subscribe.into_iter().map(|k| (k, None)).collect(),
                    ));
                }
                a.extend(r.unsubscribe.into_iter().map(Action::Unsubscribe));
                a.extend(r.text.map(Action::Send));
                a
            }
            Proto::Okx(o) => {
                let crate::venue::Market::Okx(m) = &venue.market else {
                    return Ok(true);
                };
                o.on_text(text, m)
            }
        };
        for a in actions {
            match a {
                Action::Send(t) => self.ws.write(Message::text(t))?,
                Action::Subscribe(list) => {
                    let keys: Vec<&str> = list.iter().map(|(k, _)| k.as_str()).collect();
                    let snapshots: Vec<String> = venue.subscribe(self.cid, &keys, |st: &State| {
                        list.iter()
                            .filter_map(|(_, books)| okx_snapshot(venue, st, books.as_deref()?))
                            .collect()
                    });
                    for s in snapshots {
                        self.ws.write(Message::text(s))?;
                    }
                }
                Action::Unsubscribe(key) => venue.unsubscribe(self.cid, &key),
            }
        }
        Ok(true)
    }

    /// One Binance WS-API request (§1.10): `{"id":..,"method":..,"params":{..}}`.
    fn on_api(&mut self, venue: &Venue, text: &str) -> Result<bool, tungstenite::Error> {
        let Some(pc) = venue.cfg.private.as_ref() else {
            return Ok(true);
        };
        let req: Option<serde_json::Value> = serde_json::from_str(text).ok();
        let id = req
            .as_ref()
            .and_then(|r| r.get("id"))
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        let method = req
            .as_ref()
            .and_then(|r| r.get("method"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        let empty = serde_json::Map::new();
        let params = req
            .as_ref()
            .and_then(|r| r.get("params"))
            .and_then(serde_json::Value::as_object)
            .unwrap_or(&empty);
        let o = match (req.is_some(), method) {
            (false, _) => binance_private::Outcome::error(400, -1000, "Malformed request."),
            (true, "ping") => {
                let mut o = binance_private::Outcome::success("{}".into());
                o.used_weight = venue.add_weight(1);
                o
            }
            (true, "time") => {
                let mut o = binance_private::Outcome::success(format!(
                    "{{\"serverTime\":{}}}",
                    crate::now_ms()
                ));
                o.used_weight = venue.add_weight(1);
                o
            }
            (true, "userDataStream.unsubscribe") => {
                let sub = params
                    .get("subscriptionId")
                    .and_then(serde_json::Value::as_u64);
                let removed = venue.remove_listener(self.cid, sub);
                let mut o = if removed {
                    binance_private::Outcome::success("{}".into())
                } else {
                    binance_private::Outcome::error(
                        400,
                        -2035,
                        "User Data Stream subscription not active.",
                    )
                };
                o.used_weight = venue.add_weight(2);
                o
            }
            (true, m) => match binance_private::Op::ws(m) {
                Some(op) => {
                    let call = binance_private::Call::from_ws(params);
                    venue
                        .binance_request(op, &call, crate::now_ms())
                        .unwrap_or_else(binance_private::Outcome::no_private)
                }
                None => binance_private::Outcome::error(400, -1000, "Unknown method."),
            },
        };
        if let Some((account, sub)) = o.subscribe {
            venue.add_listener(
                self.cid,
                account,
                binance_private::PushForm::Subscription(sub),
            );
        }
        if o.disconnect {
            return Ok(false);
        }
        let frame = o.ws_frame(&id, pc);
        if o.delay.is_zero() {
            self.ws.write(Message::text(frame))?;
        } else {
            // Answered later by the run loop; user-data pushes keep flowing meanwhile.
            self.delayed.push((Instant::now() + o.delay, frame));
        }
        Ok(true)
    }

    /// Writes the delayed WS-API answers that are due, earliest first.
    fn send_due(&mut self) -> Result<(), tungstenite::Error> {
        if self.delayed.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        self.delayed.sort_by_key(|(t, _)| *t);
        let due = self.delayed.iter().take_while(|(t, _)| *t <= now).count();
        if due == 0 {
            return Ok(());
        }
        for (_, frame) in self.delayed.drain(..due).collect::<Vec<_>>() {
            self.ws.write(Message::text(frame))?;
        }
        self.ws.flush()
    }

    /// Pings (Binance) and idle limits; false when the connection must end.
    fn keepalive(&mut self, venue: &Venue) -> Result<bool, tungstenite::Error> {
        let now = Instant::now();
        match self.proto {
            Proto::Binance(_) | Proto::BinanceApi | Proto::BinanceUser => {
                if self
                    .awaiting_pong
                    .is_some_and(|t| now.duration_since(t) > venue.cfg.pong_timeout)
                {
                    let _ = self.sock().shutdown(Shutdown::Both);
                    return Ok(false);
                }
                if now.duration_since(self.last_ping) >= venue.cfg.ping_interval {
                    let stamp = Bytes::from(format!("{}", crate::now_ms()));
                    self.ws.write(Message::Ping(stamp))?;
                    self.ws.flush()?;
                    self.last_ping = now;
                    self.awaiting_pong.get_or_insert(now);
                }
            }
            Proto::Okx(_) => {
                if now.duration_since(self.last_traffic) > venue.cfg.idle_timeout {
                    let _ = self.sock().shutdown(Shutdown::Both);
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

/// The snapshot an OKX `books` subscriber gets first, if the tape is past the capture's
/// snapshot (before it, the captured snapshot itself will come from the tape).
fn okx_snapshot(venue: &Venue, st: &State, inst: &str) -> Option<String> {
    let (crate::venue::Market::Okx(m), Books::Okx(books)) = (&venue.market, &st.books) else {
        return None;
    };
    let b = books.get(*m.by_id.get(inst)?)?.as_ref()?;
    Some(okx::snapshot_push(inst, b))
}
