//! A non-blocking WebSocket client over TLS: `mio` TCP socket + `rustls` + `tungstenite`
//! (tungstenite does the RFC 6455 framing: client masking, fragmentation, ping/pong, close).
//!
//! # Who owns what
//!
//! The **caller owns the `mio::Poll`** (one per feed thread, shared by all its connections).
//! A client is created by [`WsClient::connect`] and optionally registered with
//! [`WsClient::register`]; it keeps a clone of the registry to register the replacement socket
//! when it falls back to the next resolved address. Registration is only a *wake-up*
//! mechanism: [`WsClient::poll`] always attempts the I/O it needs and treats `WouldBlock` as
//! "nothing yet", so it is correct to call it without any readiness event. Two ways to drive
//! it, both correct:
//!
//! * **busy-poll** (pinned `spin` threads): call `poll` on every connection each loop
//!   iteration; call `Backoff::idle` when no connection delivered anything. Each call costs one
//!   `recv` syscall when the socket is empty. Registration is unnecessary.
//! * **event-driven** (shared hosts): `Poll::poll(&mut events, Some(timeout))` blocks until a
//!   socket is ready; then call `poll` on the clients whose token fired, and on every client
//!   whenever a timer (keepalive, receive timeout, reconnect) is due. Events are
//!   edge-triggered; `poll` always drains until the socket would block, so no readiness is
//!   lost.
//!
//! # Lifecycle
//!
//! [`connect`](WsClient::connect) resolves the host (blocking `getaddrinfo`: do it off the hot
//! path, it is a connect-time cost) and starts a non-blocking TCP connect. Each `poll` then
//! advances the state machine — TCP connect finished (checked with `take_error` +
//! `peer_addr`; a refused address falls through to the next resolved one), TLS handshake,
//! WebSocket upgrade (retried on `HandshakeError::Interrupted`) — and returns
//! [`WsStatus::Connecting`] until it is open. The call that completes the upgrade returns
//! `Open { opened: true, .. }` (send subscriptions now) after delivering any message that came
//! with the handshake. From then on `poll` hands every complete text or binary message to the
//! callback, answers pings with pongs, flushes queued sends, and enforces the receive and close
//! timeouts.
//!
//! The end of a connection is exactly one of:
//! * `Ok(WsStatus::Closed(info))` — the close handshake completed (either side started it);
//! * `Err(NetError::Timeout(kind))` — connect, idle-receive or close deadline passed;
//! * `Err(other)` — TLS, protocol or I/O failure (e.g. the peer vanished without a close
//!   frame).
//!
//! After any of these the client is finished (its socket is closed) and every method returns
//! [`NetError::NotOpen`]: build a new client to reconnect.
//!
//! # Allocation on the read path
//!
//! This module allocates nothing per message: each payload is copied into one reused scratch
//! buffer (the venue decoders parse in place with simd-json, which needs `&mut [u8]`, while
//! tungstenite hands out `Bytes` that share its read buffer; a fragmented message, which
//! tungstenite reassembles into a buffer of its own, is lent without that copy). The
//! dependencies do allocate: rustls copies each received TLS record's plaintext into a fresh
//! `Vec` (its buffered API does), and tungstenite reassembles fragmented messages into a new
//! buffer. Measured by `benches/benches/ws_echo.rs` on small single-record messages: 1.00 heap
//! allocation per message on the receive path (`poll`), 2.00 per `send_text` (the message
//! copy and rustls's record); sends are not on a market-data feed's hot path. Removing the
//! remaining one would take rustls's unbuffered API.

use core::fmt;
use std::io;
use std::mem;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::MidHandshake;
use tungstenite::handshake::client::{ClientHandshake, Request, Response};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tungstenite::{Bytes, HandshakeError, Message, WebSocket};

use super::stream::TlsStream;
use super::{Clock, NetError, TimeoutKind, duration_ns, parse_url, resolve};

/// Tuning of a [`WsClient`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WsOptions {
    /// Deadline for the whole connect state machine (TCP, TLS, upgrade), counted from
    /// [`WsClient::connect`].
    pub connect_timeout: Duration,
    /// Fail with [`TimeoutKind::Idle`] when an open connection receives no bytes at all (no
    /// data, no ping) for this long; `None` disables it. Venues that ping (Binance every 20 s)
    /// or push continuously stay well inside the 60 s default; OKX needs the client's own
    /// `ping` (see [`WsClient::rx_idle_ns`]).
    pub rx_timeout: Option<Duration>,
    /// How long to wait for the peer's answer after we sent a close frame, and how long to
    /// wait for the peer to drop TCP after it closed.
    pub close_timeout: Duration,
    /// Largest accepted message (and frame); a bigger one is a protocol error.
    pub max_message_size: usize,
    /// Most bytes that may wait unsent (a peer that stops reading); past it, sending fails
    /// with [`NetError::Backpressure`]. Includes the message being sent.
    pub max_send_queue: usize,
    /// tungstenite's read buffer, allocated once per connection.
    pub read_buffer_size: usize,
}

impl Default for WsOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            rx_timeout: Some(Duration::from_secs(60)),
            close_timeout: Duration::from_secs(2),
            max_message_size: 16 << 20,
            max_send_queue: 4 << 20,
            read_buffer_size: 128 << 10,
        }
    }
}

/// Whether a message was a text or a binary frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A text message; its bytes are valid UTF-8 (tungstenite checked).
    Text,
    /// A binary message.
    Binary,
}

/// One complete message, lent to the [`WsClient::poll`] callback.
#[derive(Debug)]
pub struct WsMessage<'a> {
    /// Text or binary.
    pub kind: MessageKind,
    /// The payload, mutable so a decoder can parse in place. Valid only during the callback.
    pub data: &'a mut [u8],
    /// The injected clock, read right after the socket read that delivered the message's
    /// last bytes (messages that arrived in the same read share a stamp).
    pub recv_ns: u64,
}

/// How a WebSocket ended cleanly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseInfo {
    /// The close code of the peer's close frame (1000 normal, 1001 going away, ...); 1005 if
    /// its frame carried none.
    pub code: u16,
    /// The peer's close reason (often empty).
    pub reason: String,
    /// True if the peer started the close handshake, false if we did.
    pub by_peer: bool,
}

/// What one [`WsClient::poll`] call found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsStatus {
    /// The connect state machine is still running.
    Connecting,
    /// The connection is open.
    Open {
        /// True on the one call in which the upgrade completed: send subscriptions now.
        opened: bool,
        /// Messages handed to the callback by this call.
        messages: usize,
    },
    /// A close handshake is in progress (we sent or received a close frame); messages the
    /// peer sent before its close frame are still delivered.
    Closing {
        /// Messages handed to the callback by this call.
        messages: usize,
    },
    /// The close handshake completed; the client is finished.
    Closed(CloseInfo),
}

impl WsStatus {
    /// Messages delivered by the call that returned this status.
    pub fn messages(&self) -> usize {
        match self {
            Self::Open { messages, .. } | Self::Closing { messages } => *messages,
            Self::Connecting | Self::Closed(_) => 0,
        }
    }
}

/// Where a [`WsClient`] is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WsPhase {
    /// Waiting for the TCP connect.
    Tcp,
    /// TLS handshake.
    Tls,
    /// WebSocket upgrade (HTTP 101).
    Upgrade,
    /// Open.
    Open,
    /// Close handshake in progress.
    Closing,
    /// Finished (closed, failed or timed out).
    Finished,
}

impl fmt::Display for WsPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tcp => "tcp-connect",
            Self::Tls => "tls-handshake",
            Self::Upgrade => "ws-upgrade",
            Self::Open => "open",
            Self::Closing => "closing",
            Self::Finished => "finished",
        })
    }
}

/// Counters of one connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WsStats {
    /// Text and binary messages delivered.
    pub messages: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// Pings received (each answered by a pong with the same payload).
    pub pings: u64,
    /// Pongs received.
    pub pongs: u64,
}

enum State {
    Tcp(TcpStream),
    Tls(TlsStream),
    Upgrade(MidHandshake<ClientHandshake<TlsStream>>),
    Open(WebSocket<TlsStream>),
    Finished,
}

impl State {
    fn tcp_mut(&mut self) -> Option<&mut TcpStream> {
        match self {
            Self::Tcp(tcp) => Some(tcp),
            Self::Tls(stream) => Some(&mut stream.tcp),
            Self::Upgrade(mid) => Some(&mut mid.get_mut().get_mut().tcp),
            Self::Open(ws) => Some(&mut ws.get_mut().tcp),
            Self::Finished => None,
        }
    }

    fn stream(&self) -> Option<&TlsStream> {
        match self {
            Self::Tls(stream) => Some(stream),
            Self::Upgrade(mid) => Some(mid.get_ref().get_ref()),
            Self::Open(ws) => Some(ws.get_ref()),
            Self::Tcp(_) | Self::Finished => None,
        }
    }
}

/// The close handshake's bookkeeping.
#[derive(Default)]
struct Closing {
    /// When we sent our close frame or received the peer's first.
    started_ns: Option<u64>,
    /// We sent the first close frame.
    by_us: bool,
    /// The peer's close frame (its close, or its answer to ours).
    received: Option<CloseInfo>,
}

/// How a drain of the socket ended.
enum Drained {
    /// The socket would block: nothing more to read now.
    Idle,
    /// The close handshake is complete (or the peer dropped TCP after its close frame).
    Clean,
    /// A failure.
    Failed(NetError),
}

/// A non-blocking WebSocket-over-TLS client. See the [module docs](self) for how to drive it.
pub struct WsClient {
    state: State,
    /// The upgrade request, consumed when the upgrade starts.
    request: Option<Request>,
    server_name: ServerName<'static>,
    tls_config: Arc<ClientConfig>,
    ws_config: WebSocketConfig,
    addrs: Vec<SocketAddr>,
    /// Index in `addrs` of the address being tried or in use.
    addr_index: usize,
    registration: Option<(Registry, Token)>,
    clock: Clock,
    connect_timeout_ns: u64,
    rx_timeout_ns: Option<u64>,
    close_timeout_ns: u64,
    started_ns: u64,
    opened_ns: Option<u64>,
    /// Stamps kept when the stream is dropped, so the accessors stay meaningful.
    final_rx_ns: u64,
    final_tx_ns: u64,
    closing: Closing,
    /// The upgrade completed in a poll that also drained the peer's close: that poll reported
    /// the open, the next reports the end.
    end_after_open: bool,
    /// A send or close hit `WouldBlock`: bytes are queued and `poll` flushes them.
    needs_flush: bool,
    scratch: Vec<u8>,
    stats: WsStats,
}

impl fmt::Debug for WsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsClient")
            .field("phase", &self.phase())
            .field("peer", &self.peer_addr())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl WsClient {
    /// Parses `url` (`wss://host[:port]/path?query`, port 443 by default), resolves the host
    /// (blocking), and starts a non-blocking TCP connect to the first address that accepts
    /// one. Returns at once; [`poll`](Self::poll) finishes the connection.
    ///
    /// `clock` is the monotonic nanosecond clock used for receive stamps and every timeout;
    /// the module has no clock of its own.
    ///
    /// A bad URL or a failed resolution is returned here; a refused or failed connection is
    /// returned here only if every address fails at once, otherwise by `poll`. Dropping a
    /// client closes its socket without a close handshake (use [`close`](Self::close) for a
    /// polite one).
    pub fn connect(
        url: &str,
        tls_config: Arc<ClientConfig>,
        options: WsOptions,
        clock: Clock,
    ) -> Result<Self, NetError> {
        let (host, port) = parse_url(url, "wss", 443)?;
        let request = url.into_client_request().map_err(NetError::from_ws)?;
        let server_name = ServerName::try_from(host.clone())
            .map_err(|e| NetError::Url(format!("{host:?} is not a valid TLS server name: {e}")))?;
        let addrs = resolve(&host, port)?;
        let started_ns = clock();
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(options.read_buffer_size)
            // Write each frame straight through: latency over batching.
            .write_buffer_size(0)
            .max_write_buffer_size(options.max_send_queue.max(1))
            .max_message_size(Some(options.max_message_size))
            .max_frame_size(Some(options.max_message_size));
        let mut client = Self {
            state: State::Finished,
            request: Some(request),
            server_name,
            tls_config,
            ws_config,
            addrs,
            addr_index: 0,
            registration: None,
            clock,
            connect_timeout_ns: duration_ns(options.connect_timeout),
            rx_timeout_ns: options.rx_timeout.map(duration_ns),
            close_timeout_ns: duration_ns(options.close_timeout),
            started_ns,
            opened_ns: None,
            final_rx_ns: started_ns,
            final_tx_ns: started_ns,
            closing: Closing::default(),
            end_after_open: false,
            needs_flush: false,
            scratch: Vec::new(),
            stats: WsStats::default(),
        };
        client.start_tcp(0, None)?;
        Ok(client)
    }

    /// Registers the connection's socket with `registry` under `token` (readable and
    /// writable, edge-triggered), and any replacement socket later. Optional: see the
    /// [module docs](self).
    pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        let registry = registry.try_clone()?;
        if let Some(tcp) = self.state.tcp_mut() {
            registry.register(tcp, token, Interest::READABLE | Interest::WRITABLE)?;
        }
        self.registration = Some((registry, token));
        Ok(())
    }

    /// Advances the connection: the connect state machine while connecting; then reads every
    /// complete message the socket has (calling `on_message` for each text or binary one, in
    /// order), answers pings, flushes queued sends and checks the timeouts. Never blocks.
    ///
    /// See [`WsStatus`] and the [module docs](self) for what the outcomes mean; after
    /// `Closed` or an error the client is finished.
    pub fn poll<F>(&mut self, mut on_message: F) -> Result<WsStatus, NetError>
    where
        F: FnMut(WsMessage<'_>),
    {
        let result = self.poll_inner(&mut on_message);
        if result.is_err() {
            self.finish();
        }
        result
    }

    /// Queues a text message and flushes as much as the socket takes; what it does not take is
    /// flushed by later [`poll`](Self::poll)s ([`send_pending`](Self::send_pending) says so).
    pub fn send_text(&mut self, text: &str) -> Result<(), NetError> {
        self.send(Message::text(text))
    }

    /// Like [`send_text`](Self::send_text), for a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), NetError> {
        self.send(Message::binary(Bytes::copy_from_slice(data)))
    }

    /// Sends a WebSocket ping (at most 125 bytes of payload); the peer's pong is counted in
    /// [`stats`](Self::stats) and refreshes [`last_rx_ns`](Self::last_rx_ns).
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), NetError> {
        self.send(Message::Ping(Bytes::copy_from_slice(payload)))
    }

    /// Starts the close handshake (close code 1000). Keep calling [`poll`](Self::poll): it
    /// returns `Closing` until the peer answers, then `Closed`, or fails with
    /// [`TimeoutKind::Close`]. On TLS, `close_notify` is sent when the handshake completes.
    /// A connection still connecting is simply dropped. Idempotent.
    pub fn close(&mut self) -> Result<(), NetError> {
        let now = (self.clock)();
        let State::Open(ws) = &mut self.state else {
            self.finish();
            return Ok(());
        };
        if self.closing.started_ns.is_some() {
            return Ok(());
        }
        self.closing.started_ns = Some(now);
        self.closing.by_us = true;
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        match ws.close(Some(frame)) {
            Ok(()) => Ok(()),
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                self.needs_flush = true;
                Ok(())
            }
            Err(e) => {
                self.finish();
                Err(NetError::from_ws(e))
            }
        }
    }

    /// Where the connection is in its life.
    pub fn phase(&self) -> WsPhase {
        match &self.state {
            State::Tcp(_) => WsPhase::Tcp,
            State::Tls(_) => WsPhase::Tls,
            State::Upgrade(_) => WsPhase::Upgrade,
            State::Open(_) if self.closing.started_ns.is_some() => WsPhase::Closing,
            State::Open(_) => WsPhase::Open,
            State::Finished => WsPhase::Finished,
        }
    }

    /// True when open and not closing: messages can be sent.
    pub fn is_open(&self) -> bool {
        self.phase() == WsPhase::Open
    }

    /// The address connected to (or being tried).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.addrs.get(self.addr_index).copied()
    }

    /// Clock at the last socket read that returned bytes (data, ping, anything); the
    /// connect start before the first.
    pub fn last_rx_ns(&self) -> u64 {
        self.state
            .stream()
            .map_or(self.final_rx_ns, |s| s.last_rx_ns)
    }

    /// Clock at the last socket write that sent bytes (including automatic pongs); the
    /// connect start before the first.
    pub fn last_tx_ns(&self) -> u64 {
        self.state
            .stream()
            .map_or(self.final_tx_ns, |s| s.last_tx_ns)
    }

    /// How long nothing has been received, at `now_ns`. OKX closes a connection that is
    /// silent for 30 s: its adapter sends the text `ping` when this passes 25 s.
    pub fn rx_idle_ns(&self, now_ns: u64) -> u64 {
        now_ns.saturating_sub(self.last_rx_ns())
    }

    /// How long nothing has been sent, at `now_ns` (Hyperliquid drops a client silent for
    /// 60 s).
    pub fn tx_idle_ns(&self, now_ns: u64) -> u64 {
        now_ns.saturating_sub(self.last_tx_ns())
    }

    /// Clock when the upgrade completed; `None` before.
    pub fn opened_at_ns(&self) -> Option<u64> {
        self.opened_ns
    }

    /// How long the connection has been open at `now_ns` (0 if it never opened).
    pub fn age_ns(&self, now_ns: u64) -> u64 {
        self.opened_ns
            .map_or(0, |opened| now_ns.saturating_sub(opened))
    }

    /// True when the connection is within `margin` of `max_age` (Binance drops connections
    /// at 24 h): open a replacement now, switch to it once it is in sync, then
    /// [`close`](Self::close) this one — so the feed never has a gap.
    pub fn rotation_due(&self, now_ns: u64, max_age: Duration, margin: Duration) -> bool {
        self.opened_ns.is_some()
            && self.age_ns(now_ns) >= duration_ns(max_age).saturating_sub(duration_ns(margin))
    }

    /// True while a send (or close frame) is queued and not yet fully handed to the kernel.
    pub fn send_pending(&self) -> bool {
        self.needs_flush
    }

    /// The connection's counters.
    pub fn stats(&self) -> WsStats {
        self.stats
    }

    // ---- internals ----------------------------------------------------------------------

    fn poll_inner<F>(&mut self, on_message: &mut F) -> Result<WsStatus, NetError>
    where
        F: FnMut(WsMessage<'_>),
    {
        if self.end_after_open {
            self.end_after_open = false;
            return Ok(self.finish_clean());
        }
        let now = (self.clock)();
        let opened = match self.state {
            State::Finished => return Err(NetError::NotOpen),
            State::Open(_) => false,
            State::Tcp(_) | State::Tls(_) | State::Upgrade(_) => {
                if now.saturating_sub(self.started_ns) >= self.connect_timeout_ns {
                    return Err(NetError::Timeout(TimeoutKind::Connect));
                }
                if !self.advance_connect(now)? {
                    return Ok(WsStatus::Connecting);
                }
                self.opened_ns = Some(now);
                true
            }
        };

        let (drained, messages) = self.drain(now, on_message);
        match drained {
            Drained::Idle => {}
            // The call that completes the upgrade always reports it (the caller subscribes on
            // it), even when the peer's whole stream and its close came with the handshake:
            // the end is reported by the next call.
            Drained::Clean if opened => {
                self.end_after_open = true;
                return Ok(WsStatus::Open { opened, messages });
            }
            Drained::Clean => return Ok(self.finish_clean()),
            Drained::Failed(err) => return Err(err),
        }

        if let Some(started) = self.closing.started_ns
            && !opened
        {
            if now.saturating_sub(started) >= self.close_timeout_ns {
                if self.closing.received.is_some() {
                    // Both close frames exchanged; the peer just has not dropped TCP yet.
                    return Ok(self.finish_clean());
                }
                return Err(NetError::Timeout(TimeoutKind::Close));
            }
            return Ok(WsStatus::Closing { messages });
        }
        if let Some(limit) = self.rx_timeout_ns
            && now.saturating_sub(self.last_rx_ns()) >= limit
        {
            return Err(NetError::Timeout(TimeoutKind::Idle));
        }
        Ok(WsStatus::Open { opened, messages })
    }

    /// Runs the connect state machine as far as the socket allows; `Ok(true)` once open.
    fn advance_connect(&mut self, now: u64) -> Result<bool, NetError> {
        loop {
            match mem::replace(&mut self.state, State::Finished) {
                State::Tcp(tcp) => match tcp_connect_result(&tcp) {
                    Ok(true) => {
                        // Market data is many small messages and our sends are latency
                        // critical: never let Nagle hold a segment back.
                        tcp.set_nodelay(true).map_err(NetError::Io)?;
                        let tls = ClientConnection::new(
                            Arc::clone(&self.tls_config),
                            self.server_name.clone(),
                        )
                        .map_err(NetError::Tls)?;
                        self.state = State::Tls(TlsStream::new(tcp, tls, self.clock, now));
                    }
                    Ok(false) => {
                        self.state = State::Tcp(tcp);
                        return Ok(false);
                    }
                    Err(source) => {
                        drop(tcp);
                        let failed = self.addr_index;
                        self.start_tcp(failed + 1, Some((self.addrs[failed], source)))?;
                    }
                },
                State::Tls(mut stream) => match stream.drive_handshake() {
                    Ok(true) => {
                        let request = self.request.take().ok_or(NetError::NotOpen)?;
                        let result = tungstenite::client::client_with_config(
                            request,
                            stream,
                            Some(self.ws_config),
                        );
                        return self.upgrade_progress(result);
                    }
                    Ok(false) => {
                        self.state = State::Tls(stream);
                        return Ok(false);
                    }
                    Err(e) => return Err(NetError::from_io(e)),
                },
                State::Upgrade(mid) => return self.upgrade_progress(mid.handshake()),
                State::Open(ws) => {
                    self.state = State::Open(ws);
                    return Ok(true);
                }
                State::Finished => return Err(NetError::NotOpen),
            }
        }
    }

    fn upgrade_progress(
        &mut self,
        result: Result<
            (WebSocket<TlsStream>, Response),
            HandshakeError<ClientHandshake<TlsStream>>,
        >,
    ) -> Result<bool, NetError> {
        match result {
            Ok((ws, _response)) => {
                self.state = State::Open(ws);
                Ok(true)
            }
            Err(HandshakeError::Interrupted(mid)) => {
                self.state = State::Upgrade(mid);
                Ok(false)
            }
            Err(HandshakeError::Failure(e)) => Err(NetError::from_ws(e)),
        }
    }

    /// Starts a non-blocking connect to the first address from `index` on that accepts one.
    /// `last` is the previous address's failure, reported if none is left.
    fn start_tcp(
        &mut self,
        mut index: usize,
        mut last: Option<(SocketAddr, io::Error)>,
    ) -> Result<(), NetError> {
        while let Some(&addr) = self.addrs.get(index) {
            match TcpStream::connect(addr) {
                Ok(mut tcp) => {
                    if let Some((registry, token)) = &self.registration {
                        registry
                            .register(&mut tcp, *token, Interest::READABLE | Interest::WRITABLE)
                            .map_err(NetError::Io)?;
                    }
                    self.addr_index = index;
                    self.state = State::Tcp(tcp);
                    return Ok(());
                }
                Err(source) => last = Some((addr, source)),
            }
            index += 1;
        }
        self.addr_index = index.saturating_sub(1);
        Err(match last {
            Some((addr, source)) => NetError::Connect { addr, source },
            // Unreachable in practice: resolve() never returns an empty list.
            None => NetError::NotOpen,
        })
    }

    /// Reads until the socket would block, delivering messages; flushes queued output first.
    fn drain<F>(&mut self, now: u64, on_message: &mut F) -> (Drained, usize)
    where
        F: FnMut(WsMessage<'_>),
    {
        let Self {
            state,
            closing,
            needs_flush,
            scratch,
            stats,
            ..
        } = self;
        let State::Open(ws) = state else {
            return (Drained::Failed(NetError::NotOpen), 0);
        };

        if *needs_flush {
            match ws.flush() {
                Ok(()) => *needs_flush = false,
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) if closing.received.is_some() => return (Drained::Clean, 0),
                Err(e) => return (Drained::Failed(NetError::from_ws(e)), 0),
            }
        }

        let mut messages = 0;
        loop {
            // `read` first writes any queued pong or close reply, then reads one message.
            let payload = match ws.read() {
                Ok(Message::Text(text)) => (MessageKind::Text, Bytes::from(text)),
                Ok(Message::Binary(data)) => (MessageKind::Binary, data),
                Ok(Message::Ping(_)) => {
                    stats.pings += 1;
                    continue;
                }
                Ok(Message::Pong(_)) => {
                    stats.pongs += 1;
                    continue;
                }
                Ok(Message::Close(frame)) => {
                    let by_peer = !closing.by_us;
                    closing.started_ns.get_or_insert(now);
                    closing
                        .received
                        .get_or_insert_with(|| close_info(frame, by_peer));
                    continue;
                }
                Ok(Message::Frame(_)) => continue,
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    return (Drained::Idle, messages);
                }
                Err(tungstenite::Error::ConnectionClosed) => return (Drained::Clean, messages),
                // After the peer's close frame, the end of the stream is the expected end,
                // whether or not it sent close_notify first.
                Err(_) if closing.received.is_some() => return (Drained::Clean, messages),
                Err(e) => return (Drained::Failed(NetError::from_ws(e)), messages),
            };
            let recv_ns = ws.get_ref().last_rx_ns;
            let (kind, data) = payload;
            stats.messages += 1;
            stats.bytes += data.len() as u64;
            messages += 1;
            match data.try_into_mut() {
                // A reassembled fragmented message is ours alone: lend it as is.
                Ok(mut owned) => on_message(WsMessage {
                    kind,
                    data: &mut owned,
                    recv_ns,
                }),
                // A single-frame message shares tungstenite's read buffer: copy it out.
                Err(shared) => {
                    scratch.clear();
                    scratch.extend_from_slice(&shared);
                    drop(shared);
                    on_message(WsMessage {
                        kind,
                        data: scratch.as_mut_slice(),
                        recv_ns,
                    });
                }
            }
        }
    }

    fn send(&mut self, message: Message) -> Result<(), NetError> {
        let State::Open(ws) = &mut self.state else {
            return Err(NetError::NotOpen);
        };
        if self.closing.started_ns.is_some() {
            return Err(NetError::NotOpen);
        }
        match ws.send(message) {
            Ok(()) => {
                // `send` flushes everything queued before it too.
                self.needs_flush = false;
                Ok(())
            }
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                self.needs_flush = true;
                Ok(())
            }
            Err(e) => {
                self.finish();
                Err(NetError::from_ws(e))
            }
        }
    }

    /// The close handshake is done: say goodbye on TLS too, then drop the connection.
    fn finish_clean(&mut self) -> WsStatus {
        if let State::Open(ws) = &mut self.state {
            let stream = ws.get_mut();
            stream.tls.send_close_notify();
            // Best effort: the peer may already be gone, and it changes nothing for us.
            let _ = stream.write_pending();
        }
        let info = self.closing.received.take().unwrap_or(CloseInfo {
            code: u16::from(CloseCode::Status),
            reason: String::new(),
            by_peer: !self.closing.by_us,
        });
        self.finish();
        WsStatus::Closed(info)
    }

    /// Drops the connection (closing the socket removes it from the poll registry), keeping
    /// the stamps for the accessors.
    fn finish(&mut self) {
        if let Some(stream) = self.state.stream() {
            self.final_rx_ns = stream.last_rx_ns;
            self.final_tx_ns = stream.last_tx_ns;
        }
        self.state = State::Finished;
        self.needs_flush = false;
    }
}

/// Has a non-blocking connect finished? `Ok(false)` while in progress; the connect error
/// (refused, unreachable) once it failed.
fn tcp_connect_result(tcp: &TcpStream) -> io::Result<bool> {
    if let Some(err) = tcp.take_error()? {
        return Err(err);
    }
    match tcp.peer_addr() {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(e),
    }
}

fn close_info(frame: Option<CloseFrame>, by_peer: bool) -> CloseInfo {
    match frame {
        Some(frame) => CloseInfo {
            code: u16::from(frame.code),
            reason: frame.reason.as_str().to_owned(),
            by_peer,
        },
        None => CloseInfo {
            code: u16::from(CloseCode::Status),
            reason: String::new(),
            by_peer,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Instant;

    fn clock() -> u64 {
        use std::sync::OnceLock;
        static EPOCH: OnceLock<Instant> = OnceLock::new();
        let epoch = *EPOCH.get_or_init(Instant::now);
        duration_ns(epoch.elapsed())
    }

    fn poll_until_past_tcp(client: &mut WsClient) -> Result<WsStatus, NetError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = client.poll(|_| {});
            if status.is_err() || client.phase() != WsPhase::Tcp {
                return status;
            }
            assert!(Instant::now() < deadline, "TCP connect never finished");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_refused_address_falls_through_to_the_next_one() {
        // "localhost" resolving to [::1, 127.0.0.1] with the server on IPv4 only is the real
        // case; resolution cannot be faked here, so the address list is set directly.
        let good = TcpListener::bind("127.0.0.1:0").unwrap();
        let good_addr = good.local_addr().unwrap();
        let refused_addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let tls = crate::tls::client_config_webpki().unwrap();
        let url = format!("wss://127.0.0.1:{}/", good_addr.port());
        let mut client = WsClient::connect(&url, tls, WsOptions::default(), clock).unwrap();

        client.addrs = vec![refused_addr, good_addr];
        client.start_tcp(0, None).unwrap();
        assert_eq!(client.peer_addr(), Some(refused_addr));
        let status = poll_until_past_tcp(&mut client);
        assert!(matches!(status, Ok(WsStatus::Connecting)), "{status:?}");
        assert_eq!(
            client.phase(),
            WsPhase::Tls,
            "connected, now in the TLS handshake"
        );
        assert_eq!(client.peer_addr(), Some(good_addr));

        // Every address refused: the error names the last one.
        drop(good);
        client.addrs = vec![refused_addr, good_addr];
        client.start_tcp(0, None).unwrap();
        match poll_until_past_tcp(&mut client) {
            Err(NetError::Connect { addr, source }) => {
                assert_eq!(addr, good_addr);
                assert_eq!(source.kind(), io::ErrorKind::ConnectionRefused);
            }
            other => panic!("expected Connect, got {other:?}"),
        }
    }
}
