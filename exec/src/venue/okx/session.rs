//! [`OkxSession`]: OKX v5 order entry over the private WebSocket (`/ws/v5/private`), as a
//! [`VenueSession`] driven by the exec thread.
//!
//! # Life of the connection
//!
//! `Down` → (backoff delay elapsed) connect → `Connecting` → upgrade done: send `login`
//! (FORMATS §2.5, timestamp in Unix seconds, built right before sending) → `LoggingIn` →
//! login ok: subscribe `orders` (§2.6, `instType`) → `Subscribing` → subscribe ack → `Ready`.
//! A failed login or subscribe, a close, an I/O error or a phase that takes longer than the
//! reply timeout drops the connection and schedules the next attempt with
//! [`ReconnectBackoff`] (capped, jittered, never immediate: the session never spins on a dead
//! venue). While open, the text `ping` is sent when nothing was received for `ping_after` (OKX
//! drops a connection silent for 30 s).
//!
//! # Orders
//!
//! `submit` checks the local rate budget first (OKX: 60 `order`s, `cancel-order`s and
//! `amend-order`s per 2 s per instrument; a configurable share of it is used, and after an
//! `50011` refusal nothing is sent for `rate_backoff`): over budget → `Reject(RateLimited)`.
//! When `Ready` the request is encoded into a fixed buffer and written on the WebSocket, and
//! remembered in a fixed-capacity in-flight table ([`InFlightTable`]) under its request id.
//! The op reply (`sCode` → [`map_okx_code`]) and the `orders` pushes become reports through
//! [`OkxReportDecoder`]. When the WebSocket is not ready the command goes to the REST
//! fallback on the helper thread (if enabled), else it is rejected (`VenueUnavailable`).
//!
//! **Never guessed:** an op still in flight when the connection drops, or unanswered after the
//! reply timeout, becomes `Unknown` (`Disconnect` / `Timeout`) and is resolved on the helper
//! thread by querying the order (status, then its fills) over REST — whatever the WebSocket
//! does.
//!
//! The hot path (`submit` when ready) encodes into a stack buffer with no allocation of its
//! own; `WsClient::send_text` copies the text into a tungstenite message (documented in
//! `tickwire_net::ws`).

use std::mem;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use rustls::ClientConfig;
use tickwire_core::event::{
    ExecReport, Meta, OrderCommand, Reject, RejectReason, Unknown, UnknownCause,
};
use tickwire_core::ids::{ClientOrderId, InstrumentId, VenueId};
use tickwire_net::NetError;
use tickwire_net::backoff::{ReconnectBackoff, ReconnectPolicy};
use tickwire_net::http::HttpOptions;
use tickwire_net::ws::{WsClient, WsOptions, WsStatus};

use super::encode::OkxEncoder;
use super::fallback::{self, HelperConfig, Job};
use super::queries::OkxQueries;
use super::rate::{RateBudgets, RateOp};
use super::reports::{OkxReportDecoder, map_okx_code};
use super::rest::{OkxMarket, OkxRest, symbol_table, wall_ms};
use crate::inflight::InFlightTable;
use crate::latency::ExecLatency;
use crate::session::{ReportSink, VenueSession};
use crate::venue::scan::str_after;
use crate::venue::{SymbolTable, write_u64};

/// Most requests awaiting a reply at once; more are rejected (`RateLimited`) rather than
/// letting the table grow on the hot path.
const MAX_IN_FLIGHT: usize = 512;
/// Orders remembered for the written→first-fill latency.
const FILL_WATCH: usize = 256;

/// Configuration of an [`OkxSession`] (config section `[okx.trading]`, see NOTES).
#[derive(Clone, Debug)]
pub struct OkxSessionConfig {
    /// Venue id stamped on reports (normally [`VenueId::OKX`]).
    pub venue: VenueId,
    /// Private WebSocket URL (`wss://ws.okx.com:8443/ws/v5/private`).
    pub ws_url: String,
    /// REST base URL (`https://www.okx.com`) for the fallback and for resolving unknowns.
    pub rest_url: String,
    /// OKX `instType` of the traded instruments (`SPOT`).
    pub inst_type: &'static str,
    /// Traded instruments.
    pub markets: Vec<OkxMarket>,
    /// WebSocket tuning.
    pub ws: WsOptions,
    /// REST tuning.
    pub http: HttpOptions,
    /// Reconnect delays.
    pub reconnect: ReconnectPolicy,
    /// A request unanswered this long becomes `Unknown(Timeout)`; also the limit for the login
    /// and subscribe phases. Config key `op_timeout_ms`.
    pub reply_timeout: Duration,
    /// Send the text `ping` after this long without receiving anything.
    pub ping_after: Duration,
    /// Requests per operation per instrument per `rate_window` (OKX allows 60 per 2 s; keep
    /// headroom).
    pub rate_limit: usize,
    /// The rate window.
    pub rate_window: Duration,
    /// After the venue refuses for rate (50011), send nothing for this long.
    pub rate_backoff: Duration,
    /// Send orders over REST (helper thread) while the WebSocket is not ready.
    pub rest_fallback: bool,
    /// Wait before the first status query of an unknown order.
    pub resolve_delay: Duration,
    /// Status queries per unknown order before leaving it to the reconciliation poller.
    pub resolve_attempts: u32,
    /// When an `orders` push shows an order filled further without the fill record (fill
    /// debt), fetch that order's fills over REST on the helper thread (the reconciliation
    /// poller catches it anyway, one interval later).
    pub chase_fill_debt: bool,
}

impl OkxSessionConfig {
    /// Defaults for `markets` at the given endpoints.
    pub fn new(ws_url: &str, rest_url: &str, markets: Vec<OkxMarket>) -> Self {
        Self {
            venue: VenueId::OKX,
            ws_url: ws_url.to_owned(),
            rest_url: rest_url.to_owned(),
            inst_type: "SPOT",
            markets,
            ws: WsOptions::default(),
            http: HttpOptions::default(),
            reconnect: ReconnectPolicy::default(),
            reply_timeout: Duration::from_secs(5),
            ping_after: Duration::from_secs(20),
            rate_limit: 50,
            rate_window: Duration::from_secs(2),
            rate_backoff: Duration::from_secs(2),
            rest_fallback: true,
            resolve_delay: Duration::from_millis(500),
            resolve_attempts: 5,
            chase_fill_debt: true,
        }
    }
}

/// Where the private connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No connection; the next attempt is at `retry_at_ns`.
    Down {
        /// Monotonic time of the next connect attempt.
        retry_at_ns: u64,
    },
    /// TCP/TLS/upgrade in progress.
    Connecting,
    /// Login sent.
    LoggingIn,
    /// `orders` subscription sent.
    Subscribing,
    /// Logged in and subscribed: orders go over the WebSocket.
    Ready,
}

/// Counters of one session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Connections opened (upgrade completed).
    pub connects: u64,
    /// Connections lost or dropped.
    pub disconnects: u64,
    /// Successful logins.
    pub logins: u64,
    /// Requests written on the WebSocket.
    pub ws_requests: u64,
    /// Commands sent to the REST fallback.
    pub rest_requests: u64,
    /// Commands rejected locally for the rate budget.
    pub rate_rejects: u64,
    /// Requests that became `Unknown`.
    pub unknowns: u64,
    /// Frames that could not be decoded (kept out of the reports; counted).
    pub bad_frames: u64,
    /// Pushes that showed fill progress without the fill record (each chased over REST when
    /// `chase_fill_debt` is on).
    pub fill_debts: u64,
    /// Amend requests the venue refused (there is no amend-reject report; the order's state
    /// comes from the `orders` channel).
    pub amend_rejects: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpKind {
    Order,
    Cancel,
    Amend,
}

/// What an op in flight needs when its reply (or its absence) is handled.
#[derive(Clone, Copy, Debug)]
struct Op {
    kind: OpKind,
    id: ClientOrderId,
    inst: InstrumentId,
}

type InFlight = crate::inflight::InFlight<Op>;

/// OKX order entry. See the [module docs](self).
pub struct OkxSession {
    cfg: OkxSessionConfig,
    encoder: OkxEncoder,
    tls: Arc<ClientConfig>,
    clock: fn() -> u64,
    symbols: SymbolTable,
    decoder: OkxReportDecoder,
    ws: Option<WsClient>,
    phase: Phase,
    phase_since_ns: u64,
    backoff: ReconnectBackoff,
    last_ping_ns: u64,
    next_req_id: u64,
    in_flight: InFlightTable<Op>,
    fill_watch: [(ClientOrderId, u64); FILL_WATCH],
    fill_watch_next: usize,
    rates: RateBudgets,
    jobs: Option<Sender<Job>>,
    results: Receiver<ExecReport>,
    helper: Option<JoinHandle<()>>,
    latency: ExecLatency,
    stats: SessionStats,
    buf: Box<[u8; 1024]>,
}

impl core::fmt::Debug for OkxSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OkxSession")
            .field("venue", &self.cfg.venue)
            .field("phase", &self.phase)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Why a session could not be built.
#[derive(Debug)]
pub enum SessionError {
    /// A URL is malformed.
    Net(NetError),
    /// The helper thread could not be started.
    Thread(std::io::Error),
}

impl core::fmt::Display for SessionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Net(e) => write!(f, "okx session: {e}"),
            Self::Thread(e) => write!(f, "okx session: cannot start the REST helper: {e}"),
        }
    }
}

impl std::error::Error for SessionError {}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |a, &b| a * 10 + u64::from(b - b'0')))
}

impl OkxSession {
    /// A session (not yet connected: the first `poll` connects). Starts the REST helper
    /// thread with its own clients (one for queries, one for fallback order entry).
    pub fn new(
        cfg: OkxSessionConfig,
        encoder: OkxEncoder,
        tls: Arc<ClientConfig>,
        clock: fn() -> u64,
    ) -> Result<Self, SessionError> {
        let queries = OkxQueries::new(
            cfg.venue,
            OkxRest::new(
                &cfg.rest_url,
                Arc::clone(&tls),
                cfg.http.clone(),
                encoder.clone(),
            )
            .map_err(SessionError::Net)?,
            cfg.markets.clone(),
            cfg.inst_type,
            clock,
        );
        let rest = OkxRest::new(
            &cfg.rest_url,
            Arc::clone(&tls),
            cfg.http.clone(),
            encoder.clone(),
        )
        .map_err(SessionError::Net)?;
        let (job_tx, job_rx) = mpsc::channel();
        let (res_tx, res_rx) = mpsc::channel();
        let helper = fallback::spawn(
            HelperConfig {
                venue: cfg.venue,
                resolve_delay: cfg.resolve_delay,
                resolve_attempts: cfg.resolve_attempts.max(1),
                clock,
            },
            queries,
            rest,
            cfg.markets.clone(),
            job_rx,
            res_tx,
        )
        .map_err(SessionError::Thread)?;
        let seed = u64::from(cfg.venue.0) ^ 0x6f6b_785f_7365_7373;
        let rates = RateBudgets::new(
            cfg.markets.len(),
            cfg.rate_limit,
            ns(cfg.rate_window),
            ns(cfg.rate_backoff),
        );
        Ok(Self {
            symbols: symbol_table(&cfg.markets),
            decoder: OkxReportDecoder::new(cfg.venue),
            backoff: ReconnectBackoff::new(cfg.reconnect, seed),
            ws: None,
            phase: Phase::Down { retry_at_ns: 0 },
            phase_since_ns: 0,
            last_ping_ns: 0,
            next_req_id: 1,
            in_flight: InFlightTable::with_capacity(MAX_IN_FLIGHT),
            fill_watch: [(ClientOrderId::default(), 0); FILL_WATCH],
            fill_watch_next: 0,
            rates,
            jobs: Some(job_tx),
            results: res_rx,
            helper: Some(helper),
            latency: ExecLatency::new(),
            stats: SessionStats::default(),
            buf: Box::new([0u8; 1024]),
            cfg,
            encoder,
            tls,
            clock,
        })
    }

    /// Where the connection is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Counters so far.
    pub fn stats(&self) -> SessionStats {
        self.stats
    }

    fn market_index(&self, inst: InstrumentId) -> Option<usize> {
        self.cfg.markets.iter().position(|m| m.id == inst)
    }

    fn job(&mut self, job: Job) {
        if let Some(tx) = &self.jobs {
            // A helper that died leaves the order to the reconciliation poller.
            let _ = tx.send(job);
        }
    }

    fn set_phase(&mut self, phase: Phase, now_ns: u64) {
        self.phase = phase;
        self.phase_since_ns = now_ns;
    }

    /// Drops the connection: every in-flight op becomes `Unknown(cause)` and is resolved by
    /// query; the next attempt is scheduled with backoff.
    fn drop_connection(&mut self, now_ns: u64, cause: UnknownCause, out: &mut dyn ReportSink) {
        if let Some(mut ws) = self.ws.take() {
            let _ = ws.close();
        }
        if !matches!(self.phase, Phase::Down { .. } | Phase::Connecting) {
            self.stats.disconnects += 1;
        }
        let delay = self.backoff.on_failure(now_ns);
        self.set_phase(
            Phase::Down {
                retry_at_ns: now_ns.saturating_add(delay),
            },
            now_ns,
        );
        // Lent out so `self` can handle each entry (reporting never touches the table).
        let mut lost = mem::take(&mut self.in_flight);
        lost.drain(|f| self.unknown(f.op, cause, now_ns, out));
        self.in_flight = lost;
    }

    fn unknown(&mut self, op: Op, cause: UnknownCause, now_ns: u64, out: &mut dyn ReportSink) {
        self.stats.unknowns += 1;
        out.report(ExecReport::Unknown(Unknown::new(
            Meta::new(self.cfg.venue, op.inst, now_ns),
            op.id,
            cause,
        )));
        self.job(Job::Resolve {
            inst: op.inst,
            id: op.id,
        });
    }

    fn reject(
        &self,
        cmd: &OrderCommand,
        reason: RejectReason,
        now_ns: u64,
        out: &mut dyn ReportSink,
    ) {
        let (meta, id, cancel) = match cmd {
            OrderCommand::New(n) => (n.meta, n.cl_ord_id, false),
            OrderCommand::Cancel(c) => (c.meta, c.cl_ord_id, true),
            OrderCommand::Amend(a) => (a.meta, a.cl_ord_id, true),
            OrderCommand::CancelAll(c) => (c.meta, ClientOrderId::default(), true),
            OrderCommand::Query(q) => (q.meta, q.cl_ord_id, true),
        };
        let r = Reject::new(
            Meta::new(self.cfg.venue, meta.instrument, now_ns),
            id,
            reason,
            0,
        );
        out.report(if cancel {
            ExecReport::CancelReject(r)
        } else {
            ExecReport::Reject(r)
        });
    }

    /// Encodes `cmd` as a WS op with request id `req_id` into the session buffer.
    fn encode_ws(&mut self, cmd: &OrderCommand, m: usize, req_id: u64) -> Option<usize> {
        let mut idb = [0u8; 20];
        let n = write_u64(req_id, &mut idb);
        let id = core::str::from_utf8(&idb[..n]).ok()?;
        let inst = self.cfg.markets[m].instrument();
        let r = match cmd {
            OrderCommand::New(o) => self.encoder.ws_order(id, o, &inst, &mut self.buf[..]),
            OrderCommand::Cancel(c) => {
                self.encoder
                    .ws_cancel_order(id, c, &inst, &mut self.buf[..])
            }
            OrderCommand::Amend(a) => self.encoder.ws_amend_order(id, a, &inst, &mut self.buf[..]),
            OrderCommand::CancelAll(_) | OrderCommand::Query(_) => return None,
        };
        r.ok()
    }

    fn send_login(&mut self, now_ns: u64, out: &mut dyn ReportSink) {
        let Ok(n) = self.encoder.login(wall_ms() / 1000, &mut self.buf[..]) else {
            self.drop_connection(now_ns, UnknownCause::Disconnect, out);
            return;
        };
        let sent = match (self.ws.as_mut(), core::str::from_utf8(&self.buf[..n])) {
            (Some(ws), Ok(text)) => ws.send_text(text).is_ok(),
            _ => false,
        };
        if sent {
            self.set_phase(Phase::LoggingIn, now_ns);
        } else {
            self.drop_connection(now_ns, UnknownCause::Disconnect, out);
        }
    }

    fn send_subscribe(&mut self, now_ns: u64, out: &mut dyn ReportSink) {
        let text = format!(
            "{{\"id\":\"sub\",\"op\":\"subscribe\",\"args\":[{{\"channel\":\"orders\",\"instType\":\"{}\"}}]}}",
            self.cfg.inst_type
        );
        let sent = self
            .ws
            .as_mut()
            .is_some_and(|ws| ws.send_text(&text).is_ok());
        if sent {
            self.set_phase(Phase::Subscribing, now_ns);
        } else {
            self.drop_connection(now_ns, UnknownCause::Disconnect, out);
        }
    }

    /// One frame from the private WebSocket.
    fn on_frame(&mut self, data: &mut [u8], recv_ns: u64, out: &mut dyn ReportSink) -> FrameAction {
        if data == b"pong" {
            return FrameAction::None;
        }
        let event = str_after(data, b"\"event\":\"");
        match event {
            Some(b"login") => {
                return if str_after(data, b"\"code\":\"") == Some(b"0") {
                    FrameAction::LoggedIn
                } else {
                    FrameAction::Drop
                };
            }
            Some(b"subscribe") => return FrameAction::Subscribed,
            Some(b"error") => {
                // Login or subscribe refused: reconnect later (with backoff).
                return if self.phase == Phase::Ready {
                    FrameAction::None
                } else {
                    FrameAction::Drop
                };
            }
            Some(_) => return FrameAction::None,
            None => {}
        }
        // An op reply carries our request id; a push does not.
        let req = str_after(data, b"{\"id\":\"").and_then(parse_u64);
        let op_is_amend = str_after(data, b"\"op\":\"") == Some(b"amend-order");
        let amend_failed =
            op_is_amend && str_after(data, b"\"sCode\":\"").is_some_and(|c| c != b"0");
        let entry = req.and_then(|r| self.in_flight.take(r));
        let mut rate_refused = false;
        let mut fills_seen = [ClientOrderId::default(); 4];
        let mut n_fills = 0;
        let mut debts = [(ClientOrderId::default(), InstrumentId(0)); 4];
        let mut n_debts = 0;
        let venue = self.cfg.venue;
        let decoded = self
            .decoder
            .decode_private(data, &self.symbols, recv_ns, &mut |r| {
                match &r {
                    ExecReport::Reject(x) | ExecReport::CancelReject(x)
                        if x.reason() == Some(RejectReason::RateLimited) =>
                    {
                        rate_refused = true;
                    }
                    ExecReport::Fill(f) if n_fills < fills_seen.len() => {
                        fills_seen[n_fills] = f.cl_ord_id;
                        n_fills += 1;
                    }
                    // The decoder emits a status from a push only for fill progress without
                    // a fill record.
                    ExecReport::Status(st) if n_debts < debts.len() && !st.cl_ord_id.is_none() => {
                        debts[n_debts] = (st.cl_ord_id, st.meta.instrument);
                        n_debts += 1;
                    }
                    _ => {}
                }
                out.report(r);
            });
        match decoded {
            Ok(summary) => {
                if let (Some(code), Some(f)) = (summary.envelope_error, entry) {
                    // A format error: no per-order entry, so fail the request by its id.
                    rate_refused |= map_okx_code(code) == RejectReason::RateLimited;
                    let r = Reject::new(
                        Meta::new(venue, f.op.inst, recv_ns),
                        f.op.id,
                        map_okx_code(code),
                        code,
                    );
                    out.report(match f.op.kind {
                        OpKind::Order => ExecReport::Reject(r),
                        OpKind::Cancel | OpKind::Amend => ExecReport::CancelReject(r),
                    });
                }
            }
            Err(_) => self.stats.bad_frames += 1,
        }
        if let Some(f) = entry {
            self.latency.record_ack(f.written_ns, recv_ns);
        }
        if amend_failed {
            self.stats.amend_rejects += 1;
        }
        for id in &fills_seen[..n_fills] {
            if let Some(w) = self.fill_watch.iter_mut().find(|w| w.0 == *id && w.1 != 0) {
                self.latency.record_fill(w.1, recv_ns);
                w.1 = 0;
            }
        }
        if rate_refused {
            self.rates.venue_refused(recv_ns);
        }
        for &(id, inst) in &debts[..n_debts] {
            self.stats.fill_debts += 1;
            if self.cfg.chase_fill_debt {
                self.job(Job::Resolve { inst, id });
            }
        }
        FrameAction::None
    }

    fn submit_ws(&mut self, cmd: &OrderCommand, m: usize, now_ns: u64, out: &mut dyn ReportSink) {
        let req_id = self.next_req_id;
        self.next_req_id += 1;
        let Some(n) = self.encode_ws(cmd, m, req_id) else {
            self.reject(cmd, RejectReason::InvalidOrder, now_ns, out);
            return;
        };
        let (kind, id, inst, cmd_ns) = match cmd {
            OrderCommand::New(o) => (
                OpKind::Order,
                o.cl_ord_id,
                o.meta.instrument,
                o.meta.stamps.exec_in_ns,
            ),
            OrderCommand::Cancel(c) => (
                OpKind::Cancel,
                c.cl_ord_id,
                c.meta.instrument,
                c.meta.stamps.exec_in_ns,
            ),
            OrderCommand::Amend(a) => (
                OpKind::Amend,
                a.cl_ord_id,
                a.meta.instrument,
                a.meta.stamps.exec_in_ns,
            ),
            OrderCommand::CancelAll(_) | OrderCommand::Query(_) => return,
        };
        let sent = match (self.ws.as_mut(), core::str::from_utf8(&self.buf[..n])) {
            (Some(ws), Ok(text)) => ws.send_text(text),
            _ => Err(NetError::NotOpen),
        };
        let written = (self.clock)();
        // Tracked even when the write failed: it may have left before the failure, so the
        // drop below makes it unknown, resolved by query.
        let tracked = self.in_flight.insert(InFlight {
            req_id,
            written_ns: written,
            op: Op { kind, id, inst },
        });
        if sent.is_ok() {
            self.stats.ws_requests += 1;
            self.latency
                .record_written(if cmd_ns == 0 { now_ns } else { cmd_ns }, written);
            if kind == OpKind::Order {
                self.fill_watch[self.fill_watch_next] = (id, written);
                self.fill_watch_next = (self.fill_watch_next + 1) % FILL_WATCH;
            }
        }
        if let Err(f) = tracked {
            // Cannot happen (`submit` refuses when full), but an op written and not tracked
            // would never be answered: unknown, resolved by query.
            self.unknown(f.op, UnknownCause::Timeout, written, out);
        }
        if sent.is_err() {
            self.drop_connection(written, UnknownCause::Disconnect, out);
        }
    }
}

/// What a frame asks the connection state machine to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FrameAction {
    None,
    LoggedIn,
    Subscribed,
    Drop,
}

impl VenueSession for OkxSession {
    fn venue(&self) -> VenueId {
        self.cfg.venue
    }

    fn submit(&mut self, cmd: &OrderCommand, now_ns: u64, out: &mut dyn ReportSink) {
        let (inst, op) = match cmd {
            // The risk layer's fill-health monitor asks: answered by the same REST query that
            // resolves unknowns (a Status and the order's fills, idempotent by trade id).
            OrderCommand::Query(q) => {
                self.job(Job::Resolve {
                    inst: q.meta.instrument,
                    id: q.cl_ord_id,
                });
                return;
            }
            OrderCommand::New(o) => (o.meta.instrument, RateOp::Order),
            OrderCommand::Cancel(c) => (c.meta.instrument, RateOp::Cancel),
            OrderCommand::Amend(a) => (a.meta.instrument, RateOp::Amend),
            OrderCommand::CancelAll(_) => {
                // The engine cancels order by order; OKX spot has no cancel-all op.
                self.reject(cmd, RejectReason::InvalidOrder, now_ns, out);
                return;
            }
        };
        let Some(m) = self.market_index(inst) else {
            self.reject(cmd, RejectReason::InvalidOrder, now_ns, out);
            return;
        };
        if self.in_flight.is_full() || !self.rates.try_take(m, op, now_ns) {
            self.stats.rate_rejects += 1;
            self.reject(cmd, RejectReason::RateLimited, now_ns, out);
            return;
        }
        if self.phase == Phase::Ready {
            self.submit_ws(cmd, m, now_ns, out);
        } else if self.cfg.rest_fallback && self.jobs.is_some() {
            self.stats.rest_requests += 1;
            let job = match *cmd {
                OrderCommand::New(o) => Job::Place(o),
                OrderCommand::Cancel(c) => Job::Cancel(c),
                OrderCommand::Amend(a) => Job::Amend(a),
                OrderCommand::CancelAll(_) | OrderCommand::Query(_) => return,
            };
            self.job(job);
        } else {
            self.reject(cmd, RejectReason::VenueUnavailable, now_ns, out);
        }
    }

    fn poll(&mut self, now_ns: u64, out: &mut dyn ReportSink) -> bool {
        let mut worked = false;
        while let Ok(r) = self.results.try_recv() {
            if let ExecReport::Reject(x) | ExecReport::CancelReject(x) = &r
                && x.reason() == Some(RejectReason::RateLimited)
            {
                self.rates.venue_refused(now_ns);
            }
            out.report(r);
            worked = true;
        }
        if let Phase::Down { retry_at_ns } = self.phase {
            if now_ns < retry_at_ns || self.jobs.is_none() {
                return worked;
            }
            match WsClient::connect(
                &self.cfg.ws_url,
                Arc::clone(&self.tls),
                self.cfg.ws,
                self.clock,
            ) {
                Ok(ws) => {
                    self.ws = Some(ws);
                    self.set_phase(Phase::Connecting, now_ns);
                }
                Err(_) => self.drop_connection(now_ns, UnknownCause::Disconnect, out),
            }
            return true;
        }
        let Some(mut ws) = self.ws.take() else {
            self.drop_connection(now_ns, UnknownCause::Disconnect, out);
            return true;
        };
        let mut actions = [FrameAction::None; 2];
        let mut drop_it = false;
        let polled = ws.poll(|msg| match self.on_frame(msg.data, msg.recv_ns, out) {
            FrameAction::None => {}
            FrameAction::Drop => drop_it = true,
            a @ FrameAction::LoggedIn => actions[0] = a,
            a @ FrameAction::Subscribed => actions[1] = a,
        });
        self.ws = Some(ws);
        let cause = match polled {
            Ok(WsStatus::Open { opened, messages }) => {
                worked |= messages > 0;
                if opened {
                    self.stats.connects += 1;
                    self.backoff.on_connected(now_ns);
                    self.send_login(now_ns, out);
                    worked = true;
                }
                None
            }
            Ok(WsStatus::Connecting) => None,
            Ok(WsStatus::Closing { .. } | WsStatus::Closed(_)) => Some(UnknownCause::Disconnect),
            Err(e) if e.is_timeout() => Some(UnknownCause::Timeout),
            Err(_) => Some(UnknownCause::Disconnect),
        };
        if let Some(cause) = cause {
            self.drop_connection(now_ns, cause, out);
            return true;
        }
        if drop_it {
            self.drop_connection(now_ns, UnknownCause::Disconnect, out);
            return true;
        }
        if actions[0] == FrameAction::LoggedIn && self.phase == Phase::LoggingIn {
            self.stats.logins += 1;
            self.send_subscribe(now_ns, out);
            worked = true;
        }
        if actions[1] == FrameAction::Subscribed && self.phase == Phase::Subscribing {
            self.set_phase(Phase::Ready, now_ns);
            worked = true;
        }
        // Phases that must finish within the reply timeout.
        let timeout = ns(self.cfg.reply_timeout);
        if matches!(self.phase, Phase::LoggingIn | Phase::Subscribing)
            && now_ns.saturating_sub(self.phase_since_ns) > timeout
        {
            self.drop_connection(now_ns, UnknownCause::Timeout, out);
            return true;
        }
        // Keep-alive.
        if let Some(ws) = self.ws.as_mut()
            && ws.is_open()
            && ws.rx_idle_ns(now_ns) > ns(self.cfg.ping_after)
            && now_ns.saturating_sub(self.last_ping_ns) > ns(self.cfg.ping_after)
        {
            self.last_ping_ns = now_ns;
            if ws.send_text("ping").is_err() {
                self.drop_connection(now_ns, UnknownCause::Disconnect, out);
                return true;
            }
        }
        // Unanswered requests. Lent out so `self` can handle each entry (reporting never
        // touches the table).
        let mut in_flight = mem::take(&mut self.in_flight);
        in_flight.sweep_timeouts(now_ns, timeout, |f| {
            self.unknown(f.op, UnknownCause::Timeout, now_ns, out);
            worked = true;
        });
        self.in_flight = in_flight;
        worked
    }

    fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    fn latency(&self) -> &ExecLatency {
        &self.latency
    }

    fn shutdown(&mut self) {
        if let Some(mut ws) = self.ws.take() {
            let _ = ws.close();
        }
        self.set_phase(
            Phase::Down {
                retry_at_ns: u64::MAX,
            },
            0,
        );
        // Closing the job channel ends the helper after its current request (bounded by the
        // HTTP timeouts).
        self.jobs = None;
        if let Some(h) = self.helper.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_fields_of_op_replies_and_events() {
        let reply = br#"{"id":"1512","op":"amend-order","data":[{"clOrdId":"tw1x2","ordId":"9","sCode":"51503","sMsg":""}],"code":"1","msg":""}"#;
        assert_eq!(str_after(reply, b"{\"id\":\""), Some(&b"1512"[..]));
        assert_eq!(str_after(reply, b"\"op\":\""), Some(&b"amend-order"[..]));
        assert_eq!(str_after(reply, b"\"sCode\":\""), Some(&b"51503"[..]));
        // `"id"` is never confused with `ordId` / `clOrdId`.
        let push = br#"{"arg":{"channel":"orders","instType":"SPOT"},"data":[{"clOrdId":"tw1x2","ordId":"9"}]}"#;
        assert_eq!(str_after(push, b"{\"id\":\""), None);
        let login = br#"{"event":"login","code":"0","msg":"","connId":"a4d3ae55"}"#;
        assert_eq!(str_after(login, b"\"event\":\""), Some(&b"login"[..]));
        assert_eq!(str_after(login, b"\"code\":\""), Some(&b"0"[..]));
        assert_eq!(str_after(b"{\"id\":\"unterminated", b"{\"id\":\""), None);
    }

    #[test]
    fn request_ids() {
        assert_eq!(parse_u64(b"1512"), Some(1512));
        assert_eq!(parse_u64(b"18446744073709551615"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"sub"), None);
        assert_eq!(parse_u64(b"-1"), None);
    }
}
