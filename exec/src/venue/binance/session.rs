//! [`BinanceSession`]: the [`VenueSession`] of Binance spot / Binance.US.
//!
//! # Connections
//!
//! * **Order entry** (`order_entry`): `"ws-api"` (default) writes signed `order.place` /
//!   `order.cancel` requests on a non-blocking WebSocket-API connection ([`WsClient`] over
//!   mio + rustls), replies matched by request id. `"rest"` signs `POST/DELETE /api/v3/order`
//!   query strings on the exec thread and hands them to a helper thread
//!   ([`super::rest_orders`]) over a bounded queue, because [`HttpClient`] blocks.
//! * **Fills** (`user_data`): `"ws-api"` subscribes on the WS-API connection with
//!   `userDataStream.subscribe.signature` (events arrive wrapped as
//!   `{"subscriptionId":..,"event":..}`); `"listen-key"` creates a key with
//!   `POST /api/v3/userDataStream`, reads `<stream_url>/ws/<listenKey>` and keeps the key alive
//!   with a `PUT` every `listen_key_keepalive` (both REST calls on the helper thread).
//! * **Queries** ([`super::worker`]): a helper thread owning [`BinanceQueries`] measures the
//!   clock offset (`GET /api/v3/time`) and resolves unknown orders.
//!
//! # Failure handling
//!
//! Every connection reconnects with capped, jittered exponential backoff
//! ([`ReconnectBackoff`]): a failing venue is retried at most every `reconnect.max`, never in a
//! loop. A request in flight when its connection drops, or unanswered after `reply_timeout`,
//! becomes `Unknown` (cause `Disconnect` / `Timeout`); a 5xx reply becomes `Unknown`
//! (`ServerError`). Each unknown order is then resolved by querying the venue
//! (`GET /api/v3/order`), never guessed; if it cannot be resolved within the resolver's
//! bounded attempts it stays `Unknown` for the reconciliation poller. After a reconnect every
//! live order is queried too, so fills pushed while the stream was down are fetched
//! (`myTrades`; the core drops the ones it already has by trade id). A command that cannot be
//! sent (not connected, rate budget exhausted, too many requests outstanding, unknown
//! instrument) is rejected at once with a reason — never dropped, never queued.
//!
//! # Amend
//!
//! Binance spot has no in-place price amend, so an `AmendOrder` is a cancel followed by a new
//! order with the **same client order id** (allowed once the original is cancelled) for the
//! new price and the new total quantity minus what already filled. While it runs the cancel's
//! `CancelAck` (reply and push) is withheld from the core, which sees the amend as an `Ack`
//! (success) or a `CancelReject` (the cancel failed: the original order stands); if the new
//! order is rejected, a `Reject` (the original is gone). `order.cancelReplace` would do the same
//! atomically but with its own reply shape; cancel+new reuses the decoders that exist.
//!
//! Replies and pushes travel on different connections, so they interleave in any order: the
//! amend's phase (`AmendPhase`) advances only on the cancel's *reply* and the new leg's first
//! `Ack`; a late push of the original leg's `Ack` does not end it. Once the old leg is
//! cancelled its venue id is retired (`RetiredLegs`): its late `Ack` or cancel push is
//! withheld even after the order has ended.
//!
//! # Hot path
//!
//! `submit` encodes and signs into a fixed buffer and writes it: no allocation in this module
//! (the `WsClient` copies the message once for tungstenite, documented there), no lock, no log.
//! Rate budgets are checked locally first ([`RateBudget`]).

use std::mem;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use tickwire_core::event::{
    CancelAll, CancelOrder, ExecReport, Meta, NewOrder, OrderCommand, Reject, RejectReason,
    Unknown, UnknownCause,
};
use tickwire_core::ids::{ClientOrderId, InstrumentId, VenueId};
use tickwire_core::num::Qty;
use tickwire_net::{ReconnectBackoff, ReconnectPolicy, WsClient, WsOptions, WsStatus};

use super::clock::VenueClock;
use super::encode::{BinanceEncoder, BinanceSymbol, Stamp};
use super::queries::{BinanceInstrument, BinanceQueries};
use super::rate::{RateBudget, RateLimit};
use super::reports::{BinanceReportDecoder, RequestCtx, RequestKind};
use super::rest_orders::{RestEvent, RestJob, RestOrders};
use super::worker::{Job, Worker, WorkerEvent};
use crate::credentials::Credentials;
use crate::inflight::InFlightTable;
use crate::latency::ExecLatency;
use crate::queries::ResolvePolicy;
use crate::session::{ReportSink, VenueSession};
use crate::venue::SymbolTable;
use crate::venue::scan::{digits, find, skip_ws, str_after};

/// How orders are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderEntry {
    /// WebSocket API `order.place` / `order.cancel`.
    WsApi,
    /// REST `POST/DELETE /api/v3/order` on a helper thread.
    Rest,
}

/// How fills arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserData {
    /// `userDataStream.subscribe.signature` on the WS-API connection.
    WsApi,
    /// A listenKey stream (`POST /api/v3/userDataStream` + `/ws/<listenKey>`).
    ListenKey,
}

/// One instrument the session trades.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinanceInstrumentSpec {
    /// Our id.
    pub id: InstrumentId,
    /// Venue symbol (`BTCUSDT`).
    pub symbol: String,
    /// Quote asset (`USDT`).
    pub quote: String,
    /// Minimum decimals written for prices.
    pub px_decimals: u32,
    /// Minimum decimals written for quantities.
    pub qty_decimals: u32,
}

/// Everything a [`BinanceSession`] needs.
#[derive(Clone)]
pub struct BinanceSessionConfig {
    /// Venue id stamped on reports.
    pub venue: VenueId,
    /// Name for threads and summaries (`binance`).
    pub name: String,
    /// WS-API endpoint (`wss://ws-api.binance.com:443/ws-api/v3`).
    pub ws_api_url: String,
    /// REST origin (`https://api.binance.com`).
    pub rest_url: String,
    /// User-data stream origin for listenKey mode (`wss://stream.binance.com:9443`).
    pub stream_url: String,
    /// Order entry path.
    pub order_entry: OrderEntry,
    /// Fill stream.
    pub user_data: UserData,
    /// Instruments traded.
    pub instruments: Vec<BinanceInstrumentSpec>,
    /// `recvWindow` of signed requests, ms.
    pub recv_window_ms: u32,
    /// Rate limits used until (and unless) `exchangeInfo` says otherwise.
    pub rate_limits: Vec<RateLimit>,
    /// Replace `rate_limits` with `exchangeInfo.rateLimits` fetched at start.
    pub fetch_rate_limits: bool,
    /// Percent of each limit kept unused.
    pub rate_headroom_pct: u32,
    /// Reconnect delays.
    pub reconnect: ReconnectPolicy,
    /// Unknown-order resolution retries.
    pub resolve: ResolvePolicy,
    /// A request unanswered this long becomes `Unknown` (`Timeout`). Config key
    /// `ack_timeout_ms`.
    pub reply_timeout: Duration,
    /// listenKey keepalive period.
    pub listen_key_keepalive: Duration,
    /// Clock re-sync period.
    pub time_sync_every: Duration,
    /// WebSocket tuning.
    pub ws: WsOptions,
    /// TLS roots.
    pub tls: Arc<ClientConfig>,
    /// Monotonic ns clock (the exec thread's).
    pub clock: fn() -> u64,
}

impl BinanceSessionConfig {
    /// Binance spot defaults for `venue`, trading `instruments`, with `tls` and `clock`.
    pub fn binance_spot(
        venue: VenueId,
        instruments: Vec<BinanceInstrumentSpec>,
        tls: Arc<ClientConfig>,
        clock: fn() -> u64,
    ) -> Self {
        Self {
            venue,
            name: "binance".into(),
            ws_api_url: "wss://ws-api.binance.com:443/ws-api/v3".into(),
            rest_url: "https://api.binance.com".into(),
            stream_url: "wss://stream.binance.com:9443".into(),
            order_entry: OrderEntry::WsApi,
            user_data: UserData::WsApi,
            instruments,
            recv_window_ms: 5000,
            rate_limits: RateLimit::BINANCE_SPOT.to_vec(),
            fetch_rate_limits: true,
            rate_headroom_pct: 10,
            reconnect: ReconnectPolicy::default(),
            resolve: ResolvePolicy::default(),
            reply_timeout: Duration::from_secs(10),
            listen_key_keepalive: Duration::from_secs(30 * 60),
            time_sync_every: Duration::from_secs(600),
            ws: WsOptions::default(),
            tls,
            clock,
        }
    }
}

/// Counters of a session (for the run summary and tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Commands submitted.
    pub commands: u64,
    /// Requests written (WS-API frames or REST requests handed to the helper).
    pub requests: u64,
    /// Commands rejected locally (not connected, budget, queue full, unknown instrument).
    pub local_rejects: u64,
    /// Of those, refused by the rate budget.
    pub rate_refused: u64,
    /// Connection attempts (all connections).
    pub connects: u64,
    /// Connections lost or failed.
    pub disconnects: u64,
    /// `Unknown` reports emitted.
    pub unknowns: u64,
    /// Frames that could not be decoded.
    pub decode_errors: u64,
    /// User-data pushes received.
    pub pushes: u64,
    /// Trade reports that came without their fill record (fetched by query instead).
    pub fills_missing: u64,
}

/// Longest signed WS-API request.
const REQ_BUF: usize = 1024;
/// Requests in flight at once on the WS-API connection.
const MAX_IN_FLIGHT: usize = 1024;
// REST order entry tracks every request its helper holds: the helper's buffers must fit.
const _: () = assert!(super::rest_orders::REST_POOL <= MAX_IN_FLIGHT);

/// What a request in flight needs when its reply (or its absence) is handled.
#[derive(Clone, Copy, Debug)]
struct Op {
    ctx: RequestCtx,
    /// Cancel leg of an amend: the new price and total quantity.
    amend: Option<(tickwire_core::num::Px, Qty)>,
}

type InFlight = crate::inflight::InFlight<Op>;

/// Where an amend (cancel + new under the same client id) of a live order stands.
///
/// The phase, not the arrival of "some ack", decides what a report means: the WS-API reply
/// and the user-data push of one event travel on different connections (a listenKey stream
/// especially), so a leg's ack or cancel may arrive before or after any other report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AmendPhase {
    /// No amend running.
    Idle,
    /// The cancel of the current leg is in flight; only its reply moves the amend on. Its
    /// `CancelAck` push is withheld; an `Ack` is still the current leg's (a late push of it).
    Cancelling,
    /// The old leg is cancelled (and retired); the new leg is queued or in flight. Its first
    /// `Ack` ends the amend.
    Placing,
}

#[derive(Clone, Copy, Debug)]
struct Live {
    order: NewOrder,
    /// The venue's id of the current leg (0 until acked).
    venue_order_id: u64,
    written_ns: u64,
    filled: Qty,
    first_fill_seen: bool,
    amend: AmendPhase,
}

/// Legs retired by amends: the venue's ids of old legs that were cancelled and replaced.
const RETIRED_LEGS: usize = 64;

/// The last [`RETIRED_LEGS`] legs that amends cancelled, as (client id, venue order id). Their
/// reports may still arrive late (an `Ack` push, the cancel push) — even after the order
/// itself is forgotten (new leg rejected, filled or cancelled) — and are not passed: the core
/// saw the amend, not a cancel, and the current leg's id must not revert. A fixed ring (no
/// allocation); a leg older than the last 64 amends no longer has late reports in flight.
struct RetiredLegs {
    legs: [(ClientOrderId, u64); RETIRED_LEGS],
    next: usize,
}

impl RetiredLegs {
    fn new() -> Self {
        Self {
            legs: [(ClientOrderId::default(), 0); RETIRED_LEGS],
            next: 0,
        }
    }

    fn retire(&mut self, id: ClientOrderId, venue_order_id: u64) {
        if venue_order_id == 0 || self.contains(id, venue_order_id) {
            return;
        }
        self.legs[self.next] = (id, venue_order_id);
        self.next = (self.next + 1) % RETIRED_LEGS;
    }

    fn contains(&self, id: ClientOrderId, venue_order_id: u64) -> bool {
        venue_order_id != 0 && self.legs.contains(&(id, venue_order_id))
    }
}

/// Where a connection stands.
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
enum Phase {
    #[default]
    Down,
    Connecting,
    /// Open, waiting for the user-data subscription reply.
    Subscribing,
    Ready,
}

struct Link {
    ws: Option<WsClient>,
    phase: Phase,
    backoff: ReconnectBackoff,
    retry_at_ns: u64,
    /// Was ready before: a reconnect, after which live orders are re-queried.
    was_ready: bool,
}

impl Link {
    fn new(policy: ReconnectPolicy, seed: u64) -> Self {
        Self {
            ws: None,
            phase: Phase::Down,
            backoff: ReconnectBackoff::new(policy, seed),
            retry_at_ns: 0,
            was_ready: false,
        }
    }
}

/// Binance order-entry session. See the [module docs](self).
pub struct BinanceSession {
    cfg: BinanceSessionConfig,
    encoder: BinanceEncoder,
    decoder: BinanceReportDecoder,
    symbols: SymbolTable,
    clock: VenueClock,
    budget: RateBudget,
    /// WS-API connection (order entry and/or user data).
    api: Option<Link>,
    /// listenKey stream connection.
    stream: Option<Link>,
    listen_key: Option<String>,
    listen_key_pending: bool,
    next_keepalive_ns: u64,
    next_time_sync_ns: u64,
    sub_req_id: u64,
    worker: Worker,
    rest: Option<RestOrders>,
    in_flight: InFlightTable<Op>,
    live: Vec<Live>,
    next_req_id: u64,
    buf: Box<[u8; REQ_BUF]>,
    scratch: Vec<ExecReport>,
    /// Amends whose cancel leg succeeded: the new leg is sent by `poll` (a reply is handled
    /// while the connection is lent to its own poll, so nothing can be written then).
    amend_legs: Vec<ClientOrderId>,
    /// Old legs of amends, whose late reports are withheld.
    retired: RetiredLegs,
    rest_reports: Vec<ExecReport>,
    latency: ExecLatency,
    stats: SessionStats,
}

impl core::fmt::Debug for BinanceSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BinanceSession")
            .field("venue", &self.cfg.venue)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Why a session could not start.
#[derive(Debug)]
pub struct StartError(pub String);

impl core::fmt::Display for StartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "binance session: {}", self.0)
    }
}

impl std::error::Error for StartError {}

impl BinanceSession {
    /// Starts the helper threads and schedules the first connects (made by `poll`).
    pub fn start(cfg: BinanceSessionConfig, creds: &Credentials) -> Result<Self, StartError> {
        let encoder =
            BinanceEncoder::new(creds.api_key.expose(), creds.api_secret.expose().as_bytes())
                .map_err(|e| StartError(format!("api key: {e}")))?;
        let mut symbols = SymbolTable::new();
        for i in &cfg.instruments {
            symbols.insert(&i.symbol, &i.quote, i.id);
        }
        let clock = VenueClock::new();
        let queries = BinanceQueries::new(
            cfg.venue,
            &cfg.rest_url,
            cfg.tls.clone(),
            creds,
            cfg.instruments
                .iter()
                .map(|i| BinanceInstrument {
                    id: i.id,
                    symbol: i.symbol.clone(),
                    quote: i.quote.clone(),
                })
                .collect(),
            clock.clone(),
            cfg.clock,
            cfg.recv_window_ms,
        )
        .map_err(|e| StartError(e.to_string()))?;
        let mut worker = Worker::spawn(&cfg.name, queries, cfg.resolve, cfg.clock)
            .map_err(|e| StartError(format!("helper thread: {e}")))?;
        worker.send(Job::SyncTime);
        if cfg.fetch_rate_limits {
            worker.send(Job::FetchRateLimits);
        }
        let rest = match cfg.order_entry {
            OrderEntry::Rest => Some(
                RestOrders::spawn(
                    &cfg.name,
                    cfg.venue,
                    &cfg.rest_url,
                    cfg.tls.clone(),
                    creds.api_key.expose().to_owned(),
                    BinanceReportDecoder::new(cfg.venue),
                    symbols.clone(),
                    cfg.clock,
                )
                .map_err(|e| StartError(e.to_string()))?,
            ),
            OrderEntry::WsApi => None,
        };
        let seed = u64::from(cfg.venue.0) << 8;
        let api = (cfg.order_entry == OrderEntry::WsApi || cfg.user_data == UserData::WsApi)
            .then(|| Link::new(cfg.reconnect, seed | 1));
        let stream =
            (cfg.user_data == UserData::ListenKey).then(|| Link::new(cfg.reconnect, seed | 2));
        let now = (cfg.clock)();
        Ok(Self {
            encoder,
            decoder: BinanceReportDecoder::new(cfg.venue),
            budget: RateBudget::new(&cfg.rate_limits, cfg.rate_headroom_pct),
            symbols,
            clock,
            api,
            stream,
            listen_key: None,
            listen_key_pending: false,
            next_keepalive_ns: u64::MAX,
            next_time_sync_ns: now.saturating_add(cfg.time_sync_every.as_nanos() as u64),
            sub_req_id: 0,
            worker,
            rest,
            in_flight: InFlightTable::with_capacity(MAX_IN_FLIGHT),
            live: Vec::with_capacity(MAX_IN_FLIGHT),
            next_req_id: 1,
            buf: Box::new([0u8; REQ_BUF]),
            scratch: Vec::with_capacity(64),
            amend_legs: Vec::with_capacity(64),
            retired: RetiredLegs::new(),
            rest_reports: Vec::with_capacity(64),
            latency: ExecLatency::new(),
            stats: SessionStats::default(),
            cfg,
        })
    }

    /// Counters.
    pub fn stats(&self) -> SessionStats {
        self.stats
    }

    /// The shared clock (offset to the venue's).
    pub fn venue_clock(&self) -> &VenueClock {
        &self.clock
    }

    /// The rate budget.
    pub fn budget(&self) -> &RateBudget {
        &self.budget
    }

    /// Orders resolved, given up on, and queries made by the resolver so far.
    pub fn resolver_counts(&self) -> (u64, u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let c = self.worker.counters();
        (
            c.resolved.load(Relaxed),
            c.gave_up.load(Relaxed),
            c.queries.load(Relaxed),
        )
    }

    /// Orders waiting for resolution on the helper thread.
    pub fn unresolved(&self) -> u64 {
        self.worker
            .counters()
            .pending
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Requests in flight (written, unanswered).
    pub fn in_flight(&self) -> usize {
        self.in_flight.len() + self.rest.as_ref().map_or(0, RestOrders::outstanding)
    }

    fn stamp(&self) -> Stamp {
        Stamp {
            timestamp_ms: self.clock.now_ms(),
            recv_window_ms: Some(self.cfg.recv_window_ms),
        }
    }

    fn order_entry_ready(&self) -> bool {
        match self.cfg.order_entry {
            OrderEntry::WsApi => self
                .api
                .as_ref()
                .is_some_and(|l| l.phase == Phase::Ready && l.ws.is_some()),
            OrderEntry::Rest => self.rest.is_some(),
        }
    }

    fn reject(
        &mut self,
        meta: &Meta,
        id: ClientOrderId,
        kind: RequestKind,
        reason: RejectReason,
        now_ns: u64,
        out: &mut dyn ReportSink,
    ) {
        self.stats.local_rejects += 1;
        let r = Reject::new(
            Meta::new(self.cfg.venue, meta.instrument, now_ns),
            id,
            reason,
            0,
        );
        out.report(match kind {
            RequestKind::Place => ExecReport::Reject(r),
            RequestKind::Cancel => ExecReport::CancelReject(r),
        });
    }

    /// Encodes, signs and sends one place or cancel. `amend` marks a cancel leg of an amend.
    #[allow(clippy::too_many_arguments)]
    fn send_request(
        &mut self,
        meta: &Meta,
        place: Option<&NewOrder>,
        cancel: Option<&CancelOrder>,
        amend: Option<(tickwire_core::num::Px, Qty)>,
        cmd_ns: u64,
        out: &mut dyn ReportSink,
    ) -> bool {
        let (id, kind) = match (place, cancel) {
            (Some(o), _) => (o.cl_ord_id, RequestKind::Place),
            (None, Some(c)) => (c.cl_ord_id, RequestKind::Cancel),
            (None, None) => return false,
        };
        let Some(spec_idx) = self
            .cfg
            .instruments
            .iter()
            .position(|i| i.id == meta.instrument)
        else {
            self.reject(meta, id, kind, RejectReason::InvalidOrder, cmd_ns, out);
            return false;
        };
        if !self.order_entry_ready() {
            self.reject(meta, id, kind, RejectReason::VenueUnavailable, cmd_ns, out);
            return false;
        }
        let orders = u32::from(kind == RequestKind::Place);
        if self
            .budget
            .try_acquire(1, orders, self.clock.now_ms())
            .is_err()
        {
            self.stats.rate_refused += 1;
            self.reject(meta, id, kind, RejectReason::RateLimited, cmd_ns, out);
            return false;
        }
        let spec = &self.cfg.instruments[spec_idx];
        let sym = BinanceSymbol {
            name: &spec.symbol,
            px_decimals: spec.px_decimals,
            qty_decimals: spec.qty_decimals,
        };
        let stamp = Stamp {
            timestamp_ms: self.clock.now_ms(),
            recv_window_ms: Some(self.cfg.recv_window_ms),
        };
        let ctx = RequestCtx {
            cl_ord_id: id,
            instrument: meta.instrument,
            kind,
        };
        let req_id = self.next_req_id;
        self.next_req_id += 1;
        // When the request left, for the order's written→fill latency.
        let written_ns = match self.cfg.order_entry {
            OrderEntry::WsApi => {
                if self.in_flight.is_full() {
                    self.reject(meta, id, kind, RejectReason::VenueUnavailable, cmd_ns, out);
                    return false;
                }
                let mut idb = [0u8; 20];
                let n = crate::venue::write_u64(req_id, &mut idb);
                // Digits only: valid UTF-8.
                let id_text = std::str::from_utf8(&idb[..n]).unwrap_or("0");
                let encoded = match (place, cancel) {
                    (Some(o), _) => {
                        self.encoder
                            .ws_order_place(id_text, o, &sym, stamp, &mut self.buf[..])
                    }
                    (None, Some(c)) => {
                        self.encoder
                            .ws_order_cancel(id_text, c, &sym, stamp, &mut self.buf[..])
                    }
                    (None, None) => return false,
                };
                let len = match encoded {
                    Ok(len) => len,
                    Err(_) => {
                        self.reject(meta, id, kind, RejectReason::InvalidOrder, cmd_ns, out);
                        return false;
                    }
                };
                // JSON written from ASCII and checked UTF-8 text.
                let text = std::str::from_utf8(&self.buf[..len]).unwrap_or_default();
                let Some(ws) = self.api.as_mut().and_then(|l| l.ws.as_mut()) else {
                    self.reject(meta, id, kind, RejectReason::VenueUnavailable, cmd_ns, out);
                    return false;
                };
                let sent = ws.send_text(text);
                let written_ns = (self.cfg.clock)();
                self.stats.requests += 1;
                let tracked = self.in_flight.insert(InFlight {
                    req_id,
                    written_ns,
                    op: Op { ctx, amend },
                });
                self.latency.record_written(cmd_ns, written_ns);
                if let Err(f) = tracked {
                    // Cannot happen (checked above, nothing inserted since), but a request
                    // written and not tracked would never be answered: unknown, resolved.
                    self.unanswered(f.op.ctx, UnknownCause::Timeout, written_ns, out);
                }
                if sent.is_err() {
                    // Some bytes may have left: the outcome is unknown, not failed.
                    self.api_lost(written_ns, out);
                    // No reliable write time: the command's stands in.
                    cmd_ns
                } else {
                    written_ns
                }
            }
            OrderEntry::Rest => {
                let Some(rest) = self.rest.as_mut() else {
                    return false;
                };
                let Some(mut buf) = rest.take_buf() else {
                    self.reject(meta, id, kind, RejectReason::VenueUnavailable, cmd_ns, out);
                    return false;
                };
                let encoded = match (place, cancel) {
                    (Some(o), _) => self.encoder.rest_new_order(o, &sym, stamp, &mut buf[..]),
                    (None, Some(c)) => self.encoder.rest_cancel_order(c, &sym, stamp, &mut buf[..]),
                    (None, None) => return false,
                };
                let len = match encoded {
                    Ok(len) => len,
                    Err(_) => {
                        rest.put_buf(buf);
                        self.reject(meta, id, kind, RejectReason::InvalidOrder, cmd_ns, out);
                        return false;
                    }
                };
                match rest.send(RestJob {
                    req_id,
                    ctx,
                    buf,
                    len,
                }) {
                    Ok(()) => {
                        self.stats.requests += 1;
                        // Never full: the helper's buffer pool bounds the requests outstanding
                        // (asserted at `MAX_IN_FLIGHT`). If it were, the request is out and
                        // untracked: unknown, resolved.
                        let tracked = self.in_flight.insert(InFlight {
                            req_id,
                            written_ns: cmd_ns,
                            op: Op { ctx, amend },
                        });
                        if let Err(f) = tracked {
                            self.unanswered(f.op.ctx, UnknownCause::Timeout, cmd_ns, out);
                        }
                    }
                    Err(job) => {
                        rest.put_buf(job.buf);
                        self.reject(meta, id, kind, RejectReason::VenueUnavailable, cmd_ns, out);
                        return false;
                    }
                }
                // Written later, on the helper thread: the command's time stands in.
                cmd_ns
            }
        };
        if let Some(o) = place
            && let Some(l) = self
                .live
                .iter_mut()
                .find(|l| l.order.cl_ord_id == o.cl_ord_id)
        {
            l.written_ns = written_ns;
        } else if let Some(o) = place {
            self.live.push(Live {
                order: *o,
                venue_order_id: 0,
                written_ns,
                filled: Qty::ZERO,
                first_fill_seen: false,
                amend: AmendPhase::Idle,
            });
        }
        true
    }

    /// Routes one report learned from the venue: bookkeeping, amend filtering, latency, then
    /// out (stamped with this venue).
    fn route(&mut self, mut r: ExecReport, out: &mut dyn ReportSink) {
        r.meta_mut().venue = self.cfg.venue;
        match r {
            ExecReport::Ack(a) => {
                if self.retired.contains(a.cl_ord_id, a.venue_order_id) {
                    // A late ack of a leg an amend replaced: the core already has (or will
                    // get) the new leg's, whose id must not revert to this one.
                    return;
                }
                if let Some(l) = self
                    .live
                    .iter_mut()
                    .find(|l| l.order.cl_ord_id == a.cl_ord_id)
                {
                    l.venue_order_id = a.venue_order_id;
                    // Only the new leg's ack ends an amend. While the cancel is in flight an
                    // ack is the current leg's own (its push arriving late): the amend goes on.
                    if l.amend == AmendPhase::Placing {
                        l.amend = AmendPhase::Idle;
                    }
                }
                self.worker
                    .send(Job::LearnOrderId(a.venue_order_id, a.cl_ord_id));
            }
            ExecReport::Fill(f) => {
                if let Some(l) = self
                    .live
                    .iter_mut()
                    .find(|l| l.order.cl_ord_id == f.cl_ord_id)
                {
                    l.filled = l.filled.saturating_add(f.qty);
                    if !l.first_fill_seen {
                        l.first_fill_seen = true;
                        self.latency
                            .record_fill(l.written_ns, f.meta.stamps.recv_ns);
                    }
                    if l.filled >= l.order.qty && l.amend == AmendPhase::Idle {
                        self.forget(f.cl_ord_id);
                    }
                }
            }
            ExecReport::CancelAck(c) => {
                if self
                    .live
                    .iter()
                    .any(|l| l.order.cl_ord_id == c.cl_ord_id && l.amend != AmendPhase::Idle)
                {
                    // The cancel leg of an amend (its push, before or after the reply): the
                    // core sees the amend's outcome instead. While the new leg is unacked no
                    // other cancel can be the venue's (the new leg's own push of its cancel or
                    // expiry follows its `NEW` push on the same stream).
                    return;
                }
                self.forget(c.cl_ord_id);
            }
            ExecReport::Reject(x) => self.forget(x.cl_ord_id),
            ExecReport::Status(s) => {
                use tickwire_core::event::OrderStatus as S;
                if matches!(
                    tickwire_core::event::OrderStatus::from_code(s.status),
                    Some(S::Filled | S::Canceled | S::Rejected | S::Expired | S::NotFound)
                ) {
                    self.forget(s.cl_ord_id);
                }
            }
            ExecReport::Unknown(u) => {
                self.stats.unknowns += 1;
                self.worker
                    .send(Job::Resolve(u.meta.instrument, u.cl_ord_id));
            }
            ExecReport::CancelReject(_) => {}
        }
        out.report(r);
    }

    fn forget(&mut self, id: ClientOrderId) {
        if let Some(i) = self.live.iter().position(|l| l.order.cl_ord_id == id) {
            self.live.swap_remove(i);
        }
    }

    /// Handles the reply to request `req_id` (already decoded into `self.scratch` by the
    /// caller) — the amend sequencing lives here.
    fn on_reply(&mut self, f: InFlight, recv_ns: u64, out: &mut dyn ReportSink) {
        let mut reports = mem::take(&mut self.scratch);
        let acked = reports.iter().any(|r| {
            matches!(
                r,
                ExecReport::Ack(_)
                    | ExecReport::CancelAck(_)
                    | ExecReport::Reject(_)
                    | ExecReport::CancelReject(_)
            )
        });
        if acked {
            self.latency.record_ack(f.written_ns, recv_ns);
        }
        if let Some((px, qty)) = f.op.amend {
            let id = f.op.ctx.cl_ord_id;
            let cancelled = reports
                .iter()
                .any(|r| matches!(r, ExecReport::CancelAck(c) if c.cl_ord_id == id));
            if cancelled {
                // The cancel reply alone moves the amend on: its push (withheld in `route`)
                // may come before or after it.
                for r in reports.drain(..) {
                    if !matches!(r, ExecReport::CancelAck(_)) {
                        self.route(r, out);
                    }
                }
                self.scratch = reports;
                let mut placing = false;
                if let Some(l) = self.live.iter_mut().find(|l| l.order.cl_ord_id == id) {
                    // The old leg is gone at the venue: its late reports are not passed.
                    self.retired.retire(id, l.venue_order_id);
                    if qty > l.filled {
                        // The new leg: same id, new price, the quantity still to fill.
                        l.order.px = px;
                        l.order.qty = qty.saturating_sub(l.filled);
                        l.filled = Qty::ZERO;
                        l.first_fill_seen = false;
                        l.venue_order_id = 0;
                        l.amend = AmendPhase::Placing;
                        placing = true;
                    }
                }
                if placing {
                    self.amend_legs.push(id);
                } else {
                    // Nothing left to place (filled meanwhile): the amend ends the order.
                    self.forget(id);
                    out.report(ExecReport::CancelAck(tickwire_core::event::CancelAck {
                        meta: Meta::new(self.cfg.venue, f.op.ctx.instrument, recv_ns),
                        cl_ord_id: id,
                    }));
                }
                return;
            }
            // The cancel failed (or its outcome is unknown): the original order stands.
            let mut done = false;
            if let Some(l) = self.live.iter_mut().find(|l| l.order.cl_ord_id == id) {
                l.amend = AmendPhase::Idle;
                // It filled while the cancel was in flight (why the cancel failed); the fill
                // that completed it left it live for the amend to finish.
                done = l.filled >= l.order.qty;
            }
            if done {
                self.forget(id);
            }
        }
        for r in reports.drain(..) {
            self.route(r, out);
        }
        self.scratch = reports;
    }

    /// One frame from the WS-API connection.
    fn on_api_frame(&mut self, data: &mut [u8], recv_ns: u64, out: &mut dyn ReportSink) {
        let Some(req_id) = reply_id(data) else {
            self.on_push(data, recv_ns, out);
            return;
        };
        let now_ms = self.clock.now_ms();
        self.budget.observe_ws_rate_limits(data, now_ms);
        let status = scan_u64(data, b"\"status\":").unwrap_or(0);
        if status == 429 || status == 418 {
            // `retryAfter` is an epoch-ms instant in WS-API errors.
            let after_s =
                scan_u64(data, b"\"retryAfter\":").map(|t| t.saturating_sub(now_ms).div_ceil(1000));
            self.budget.on_rate_limited(after_s, 1, now_ms);
        }
        if req_id == self.sub_req_id {
            if let Some(l) = self.api.as_mut() {
                if status == 200 {
                    l.phase = Phase::Ready;
                    l.backoff.on_connected(recv_ns);
                    let again = mem::replace(&mut l.was_ready, true);
                    if again {
                        self.requery_live();
                    }
                } else {
                    // A refused subscription (bad key, clock): reconnect later, with backoff.
                    self.stats.decode_errors += 1;
                    self.api_lost(recv_ns, out);
                }
            }
            return;
        }
        let Some(f) = self.in_flight.take(req_id) else {
            // A late reply to a request already reported Unknown: the resolver decides.
            return;
        };
        if status == 400 && scan_i64(data, b"\"code\":") == Some(-1021) {
            self.worker.send(Job::SyncTime);
        }
        let mut reports = mem::take(&mut self.scratch);
        let r =
            self.decoder
                .decode_ws_api_response(data, f.op.ctx, &self.symbols, recv_ns, &mut |r| {
                    reports.push(r)
                });
        self.scratch = reports;
        if r.is_err() {
            self.stats.decode_errors += 1;
            // A reply we cannot read: what happened is unknown.
            self.scratch.push(ExecReport::Unknown(Unknown::new(
                Meta::new(self.cfg.venue, f.op.ctx.instrument, recv_ns),
                f.op.ctx.cl_ord_id,
                UnknownCause::ServerError,
            )));
        }
        self.on_reply(f, recv_ns, out);
    }

    /// A user-data push (either connection).
    fn on_push(&mut self, data: &mut [u8], recv_ns: u64, out: &mut dyn ReportSink) {
        self.stats.pushes += 1;
        if contains(data, b"\"listenKeyExpired\"") {
            self.listen_key = None;
            if let Some(l) = self.stream.as_mut() {
                l.ws = None;
                l.phase = Phase::Down;
                l.retry_at_ns = recv_ns;
            }
            return;
        }
        // A trade report without its fill record (`t = -1`): the status moved but the fill must
        // be fetched. Scanned before decoding, which parses the frame in place.
        if let Some((inst, id)) = trade_without_fill(data, &self.symbols) {
            self.stats.fills_missing += 1;
            self.worker.send(Job::Resolve(inst, id));
        }
        // Which leg a cancel push ended (scanned before decoding, as above): the decoded
        // `CancelAck` does not carry it.
        let cancelled_leg = cancel_push_order_id(data);
        let mut reports = mem::take(&mut self.scratch);
        let r = self
            .decoder
            .decode_user_data(data, &self.symbols, recv_ns, &mut |r| reports.push(r));
        if r.is_err() {
            self.stats.decode_errors += 1;
        }
        for r in reports.drain(..) {
            if let (ExecReport::CancelAck(c), Some(leg)) = (&r, cancelled_leg)
                && self.retired.contains(c.cl_ord_id, leg)
            {
                // The cancel of an amend's old leg arriving after the cancel reply (e.g. on
                // the listenKey stream after the new leg's ack, or after the order ended):
                // the core saw the amend, not a cancel.
                continue;
            }
            self.route(r, out);
        }
        self.scratch = reports;
    }

    /// The WS-API connection is gone: every request on it is unknown.
    fn api_lost(&mut self, now_ns: u64, out: &mut dyn ReportSink) {
        if let Some(l) = self.api.as_mut() {
            l.ws = None;
            l.phase = Phase::Down;
            l.retry_at_ns = now_ns.saturating_add(l.backoff.on_failure(now_ns));
            self.stats.disconnects += 1;
        }
        if self.cfg.order_entry == OrderEntry::WsApi {
            // Lent out so `self` can handle each entry (routing a report never touches the table).
            let mut lost = mem::take(&mut self.in_flight);
            lost.drain(|f| self.unanswered(f.op.ctx, UnknownCause::Disconnect, now_ns, out));
            self.in_flight = lost;
        }
    }

    /// After a reconnect: query every live order, to fetch fills pushed while disconnected.
    fn requery_live(&mut self) {
        for i in 0..self.live.len() {
            let o = self.live[i].order;
            self.worker
                .send(Job::Resolve(o.meta.instrument, o.cl_ord_id));
        }
    }

    fn poll_api(&mut self, now_ns: u64, out: &mut dyn ReportSink) -> bool {
        let Some(link) = self.api.as_mut() else {
            return false;
        };
        let Some(mut ws) = link.ws.take() else {
            if now_ns < link.retry_at_ns {
                return false;
            }
            self.stats.connects += 1;
            match WsClient::connect(
                &self.cfg.ws_api_url,
                self.cfg.tls.clone(),
                self.cfg.ws,
                self.cfg.clock,
            ) {
                Ok(ws) => {
                    link.ws = Some(ws);
                    link.phase = Phase::Connecting;
                }
                Err(_) => {
                    link.retry_at_ns = now_ns.saturating_add(link.backoff.on_failure(now_ns));
                    self.stats.disconnects += 1;
                }
            }
            return true;
        };
        let mut frames = 0usize;
        let status = ws.poll(|m| {
            frames += 1;
            self.on_api_frame(m.data, m.recv_ns, out);
        });
        // `on_api_frame` may have declared the link lost (refused subscription).
        let link_dropped = self.api.as_ref().is_some_and(|l| l.phase == Phase::Down);
        match status {
            Ok(WsStatus::Open { opened, .. }) if !link_dropped => {
                if opened {
                    self.on_api_open(&mut ws, now_ns, out);
                }
                if let Some(l) = self.api.as_mut() {
                    l.ws = Some(ws);
                }
                frames > 0 || opened
            }
            Ok(WsStatus::Connecting) | Ok(WsStatus::Closing { .. }) if !link_dropped => {
                if let Some(l) = self.api.as_mut() {
                    l.ws = Some(ws);
                }
                frames > 0
            }
            _ => {
                if !link_dropped {
                    self.api_lost(now_ns, out);
                }
                true
            }
        }
    }

    fn on_api_open(&mut self, ws: &mut WsClient, now_ns: u64, out: &mut dyn ReportSink) {
        if self.cfg.user_data != UserData::WsApi {
            if let Some(l) = self.api.as_mut() {
                l.phase = Phase::Ready;
                l.backoff.on_connected(now_ns);
                l.was_ready = true;
            }
            return;
        }
        self.sub_req_id = self.next_req_id;
        self.next_req_id += 1;
        let mut idb = [0u8; 20];
        let n = crate::venue::write_u64(self.sub_req_id, &mut idb);
        let id_text = std::str::from_utf8(&idb[..n]).unwrap_or("0");
        let stamp = self.stamp();
        let sent = match self.encoder.ws_signed_request(
            id_text,
            "userDataStream.subscribe.signature",
            stamp,
            &mut self.buf[..],
        ) {
            Ok(len) => ws.send_text(std::str::from_utf8(&self.buf[..len]).unwrap_or_default()),
            Err(_) => Err(tickwire_net::NetError::NotOpen),
        };
        if let Some(l) = self.api.as_mut() {
            l.phase = Phase::Subscribing;
        }
        if sent.is_err() {
            self.api_lost(now_ns, out);
        }
    }

    fn poll_stream(&mut self, now_ns: u64, out: &mut dyn ReportSink) -> bool {
        let Some(link) = self.stream.as_mut() else {
            return false;
        };
        let Some(mut ws) = link.ws.take() else {
            if now_ns < link.retry_at_ns {
                return false;
            }
            let Some(key) = self.listen_key.as_deref() else {
                if !self.listen_key_pending {
                    self.listen_key_pending = self.worker.send(Job::CreateListenKey);
                    link.retry_at_ns = now_ns.saturating_add(link.backoff.on_failure(now_ns));
                }
                return false;
            };
            self.stats.connects += 1;
            let url = format!("{}/ws/{key}", self.cfg.stream_url.trim_end_matches('/'));
            match WsClient::connect(&url, self.cfg.tls.clone(), self.cfg.ws, self.cfg.clock) {
                Ok(ws) => {
                    link.ws = Some(ws);
                    link.phase = Phase::Connecting;
                }
                Err(_) => {
                    link.retry_at_ns = now_ns.saturating_add(link.backoff.on_failure(now_ns));
                    self.stats.disconnects += 1;
                }
            }
            return true;
        };
        let mut frames = 0usize;
        let status = ws.poll(|m| {
            frames += 1;
            self.on_push(m.data, m.recv_ns, out);
        });
        let Some(link) = self.stream.as_mut() else {
            return true;
        };
        if link.phase == Phase::Down && self.listen_key.is_none() {
            // listenKeyExpired: the key is gone, make a new one.
            return true;
        }
        match status {
            Ok(WsStatus::Open { opened, .. }) => {
                if opened {
                    link.phase = Phase::Ready;
                    link.backoff.on_connected(now_ns);
                    self.next_keepalive_ns =
                        now_ns.saturating_add(self.cfg.listen_key_keepalive.as_nanos() as u64);
                    if mem::replace(&mut link.was_ready, true) {
                        link.ws = Some(ws);
                        self.requery_live();
                        return true;
                    }
                }
                link.ws = Some(ws);
                frames > 0 || opened
            }
            Ok(WsStatus::Connecting) | Ok(WsStatus::Closing { .. }) => {
                link.ws = Some(ws);
                frames > 0
            }
            _ => {
                link.phase = Phase::Down;
                link.retry_at_ns = now_ns.saturating_add(link.backoff.on_failure(now_ns));
                self.stats.disconnects += 1;
                true
            }
        }
    }

    fn poll_helpers(&mut self, now_ns: u64, out: &mut dyn ReportSink) -> bool {
        let mut worked = false;
        while let Some(ev) = self.worker.try_event() {
            worked = true;
            match ev {
                WorkerEvent::Report(r) => self.route(r, out),
                WorkerEvent::ListenKey(k) => {
                    self.listen_key = Some(k);
                    self.listen_key_pending = false;
                    if let Some(l) = self.stream.as_mut() {
                        l.retry_at_ns = now_ns;
                    }
                }
                WorkerEvent::RateLimits(limits) => self.budget.set_limits(&limits),
                WorkerEvent::ListenKeyFailed(_) => {
                    self.listen_key_pending = false;
                    // The stream link's backoff already delays the next attempt.
                }
            }
        }
        while let Some(ev) = self.rest.as_mut().and_then(RestOrders::try_event) {
            worked = true;
            match ev {
                RestEvent::Report(r) => self.rest_reports.push(r),
                RestEvent::Used(kind, interval, count) => {
                    let now_ms = self.clock.now_ms();
                    self.budget.observe_used(kind, interval, count, now_ms);
                }
                RestEvent::RateLimited(after) => {
                    let now_ms = self.clock.now_ms();
                    self.budget.on_rate_limited(after, 1, now_ms);
                }
                RestEvent::Done {
                    req_id,
                    written_ns,
                    done_ns,
                    buf,
                } => {
                    if let Some(rest) = self.rest.as_mut() {
                        rest.put_buf(buf);
                    }
                    let Some(mut f) = self.in_flight.take(req_id) else {
                        continue;
                    };
                    // Command→written spans the queue hop to the helper.
                    self.latency.record_written(f.written_ns, written_ns);
                    f.written_ns = written_ns;
                    // The helper sent this request's reports before its `Done`.
                    mem::swap(&mut self.scratch, &mut self.rest_reports);
                    self.on_reply(f, done_ns.max(written_ns), out);
                    mem::swap(&mut self.scratch, &mut self.rest_reports);
                    self.rest_reports.clear();
                }
            }
        }
        worked
    }

    fn check_timeouts(&mut self, now_ns: u64, out: &mut dyn ReportSink) {
        if self.cfg.order_entry != OrderEntry::WsApi {
            // REST requests end with the HTTP client's own timeouts (→ Unknown).
            return;
        }
        let limit = self.cfg.reply_timeout.as_nanos() as u64;
        // Lent out so `self` can handle each entry (routing a report never touches the table).
        let mut in_flight = mem::take(&mut self.in_flight);
        in_flight.sweep_timeouts(now_ns, limit, |f| {
            self.unanswered(f.op.ctx, UnknownCause::Timeout, now_ns, out)
        });
        self.in_flight = in_flight;
    }

    /// A request that will get no reply (lost with its connection, timed out): the order's
    /// amend, if any, is over, and its state is unknown until the resolver queries it.
    fn unanswered(
        &mut self,
        ctx: RequestCtx,
        cause: UnknownCause,
        now_ns: u64,
        out: &mut dyn ReportSink,
    ) {
        if let Some(l) = self
            .live
            .iter_mut()
            .find(|l| l.order.cl_ord_id == ctx.cl_ord_id)
        {
            l.amend = AmendPhase::Idle;
        }
        let u = Unknown::new(
            Meta::new(self.cfg.venue, ctx.instrument, now_ns),
            ctx.cl_ord_id,
            cause,
        );
        self.route(ExecReport::Unknown(u), out);
    }

    /// Sends the new legs of amends whose cancel succeeded.
    fn send_amend_legs(&mut self, now_ns: u64, out: &mut dyn ReportSink) -> bool {
        if self.amend_legs.is_empty() {
            return false;
        }
        let mut legs = mem::take(&mut self.amend_legs);
        for id in legs.drain(..) {
            let Some(l) = self.live.iter().find(|l| l.order.cl_ord_id == id).copied() else {
                continue;
            };
            let meta = l.order.meta;
            if !self.send_request(&meta, Some(&l.order), None, None, now_ns, out) {
                // Rejected locally (reported): the original is cancelled, so the order is gone.
                self.forget(id);
            }
        }
        self.amend_legs = legs;
        true
    }

    fn cancel_all(&mut self, c: &CancelAll, now_ns: u64, out: &mut dyn ReportSink) {
        let mut i = 0;
        while i < self.live.len() {
            let l = self.live[i];
            i += 1;
            let strategy_ok = c.strategy == CancelAll::EVERY_STRATEGY
                || l.order.cl_ord_id.strategy() == c.strategy;
            let inst_ok = c.meta.instrument == Meta::ALL_INSTRUMENTS
                || l.order.meta.instrument == c.meta.instrument;
            if strategy_ok && inst_ok {
                let cancel = CancelOrder {
                    meta: l.order.meta,
                    cl_ord_id: l.order.cl_ord_id,
                };
                // Sending a cancel never removes a live order synchronously: `i` stays valid.
                self.send_request(&l.order.meta, None, Some(&cancel), None, now_ns, out);
            }
        }
    }
}

impl VenueSession for BinanceSession {
    fn venue(&self) -> VenueId {
        self.cfg.venue
    }

    fn submit(&mut self, cmd: &OrderCommand, now_ns: u64, out: &mut dyn ReportSink) {
        self.stats.commands += 1;
        match cmd {
            // The risk layer's fill-health monitor asks: the same query path that resolves
            // unknowns answers with a Status and the order's fills (idempotent by trade id).
            OrderCommand::Query(q) => {
                self.worker
                    .send(Job::Resolve(q.meta.instrument, q.cl_ord_id));
            }
            OrderCommand::New(o) => {
                self.send_request(&o.meta, Some(o), None, None, now_ns, out);
            }
            OrderCommand::Cancel(c) => {
                self.send_request(&c.meta, None, Some(c), None, now_ns, out);
            }
            OrderCommand::Amend(a) => {
                let Some(l) = self
                    .live
                    .iter_mut()
                    .find(|l| l.order.cl_ord_id == a.cl_ord_id)
                else {
                    self.reject(
                        &a.meta,
                        a.cl_ord_id,
                        RequestKind::Cancel,
                        RejectReason::UnknownOrder,
                        now_ns,
                        out,
                    );
                    return;
                };
                if l.amend != AmendPhase::Idle {
                    // One amend at a time per order: the core retries on the outcome.
                    self.reject(
                        &a.meta,
                        a.cl_ord_id,
                        RequestKind::Cancel,
                        RejectReason::Other,
                        now_ns,
                        out,
                    );
                    return;
                }
                l.amend = AmendPhase::Cancelling;
                let cancel = CancelOrder {
                    meta: a.meta,
                    cl_ord_id: a.cl_ord_id,
                };
                let sent = self.send_request(
                    &a.meta,
                    None,
                    Some(&cancel),
                    Some((a.new_px, a.new_qty)),
                    now_ns,
                    out,
                );
                if !sent {
                    // Not sent: the order stands as it was.
                    if let Some(l) = self
                        .live
                        .iter_mut()
                        .find(|l| l.order.cl_ord_id == a.cl_ord_id)
                    {
                        l.amend = AmendPhase::Idle;
                    }
                }
            }
            OrderCommand::CancelAll(c) => self.cancel_all(c, now_ns, out),
        }
    }

    fn poll(&mut self, now_ns: u64, out: &mut dyn ReportSink) -> bool {
        let mut worked = self.poll_helpers(now_ns, out);
        worked |= self.poll_api(now_ns, out);
        worked |= self.send_amend_legs(now_ns, out);
        worked |= self.poll_stream(now_ns, out);
        self.check_timeouts(now_ns, out);
        if now_ns >= self.next_keepalive_ns
            && let Some(k) = self.listen_key.clone()
        {
            self.worker.send(Job::KeepAliveListenKey(k));
            self.next_keepalive_ns =
                now_ns.saturating_add(self.cfg.listen_key_keepalive.as_nanos() as u64);
        }
        if now_ns >= self.next_time_sync_ns {
            self.worker.send(Job::SyncTime);
            self.next_time_sync_ns =
                now_ns.saturating_add(self.cfg.time_sync_every.as_nanos() as u64);
        }
        worked
    }

    fn is_ready(&self) -> bool {
        let api_ok = self.api.as_ref().is_none_or(|l| l.phase == Phase::Ready);
        let stream_ok = self.stream.as_ref().is_none_or(|l| l.phase == Phase::Ready);
        api_ok && stream_ok && self.order_entry_ready()
    }

    fn latency(&self) -> &ExecLatency {
        &self.latency
    }

    fn shutdown(&mut self) {
        for link in [self.api.as_mut(), self.stream.as_mut()]
            .into_iter()
            .flatten()
        {
            if let Some(mut ws) = link.ws.take() {
                let _ = ws.close();
                // Bounded by the client's close timeout.
                let deadline = (self.cfg.clock)() + 2_000_000_000;
                while (self.cfg.clock)() < deadline {
                    match ws.poll(|_| {}) {
                        Ok(WsStatus::Closing { .. }) => {
                            std::thread::sleep(Duration::from_millis(1))
                        }
                        _ => break,
                    }
                }
            }
            link.phase = Phase::Down;
            link.retry_at_ns = u64::MAX;
        }
        if let Some(rest) = self.rest.as_mut() {
            rest.stop();
        }
        self.worker.stop();
    }
}

/// The request id of a WS-API reply, or `None` for a push. Pushes are either wrapped
/// (`{"subscriptionId":..,"event":{..}}`) or bare events (`{"e":"executionReport",..}`, no `id`
/// key); every reply has a top-level `"id"` (a string of digits here, since we choose the ids).
/// Key order is not relied on.
fn reply_id(frame: &[u8]) -> Option<u64> {
    if find(frame, b"\"event\":").is_some() {
        return None;
    }
    let at = find(frame, b"\"id\":")?;
    let rest = skip_ws(&frame[at + 5..]);
    digits(rest.strip_prefix(b"\"").unwrap_or(rest))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

/// The instrument and client id of an `executionReport` with `x = TRADE` but no trade
/// (`t = -1`), if `frame` is one of ours.
fn trade_without_fill(
    frame: &[u8],
    symbols: &SymbolTable,
) -> Option<(InstrumentId, ClientOrderId)> {
    if find(frame, b"\"x\":\"TRADE\"").is_none() || scan_i64(frame, b"\"t\":") != Some(-1) {
        return None;
    }
    let (inst, _) = symbols.get(str_after(frame, b"\"s\":\"")?)?;
    let id = crate::venue::parse_client_order_id(str_after(frame, b"\"c\":\"")?)?;
    Some((inst, id))
}

/// The venue order id (`i`) of a `CANCELED` / `EXPIRED` execution report.
fn cancel_push_order_id(frame: &[u8]) -> Option<u64> {
    if find(frame, b"\"x\":\"CANCELED\"").is_none() && find(frame, b"\"x\":\"EXPIRED\"").is_none() {
        return None;
    }
    scan_u64(frame, b"\"i\":")
}

/// The unsigned number after the first `key` (e.g. `"status":`).
fn scan_u64(frame: &[u8], key: &[u8]) -> Option<u64> {
    let at = find(frame, key)?;
    digits(skip_ws(&frame[at + key.len()..]))
}

/// The signed number after the first `key` (e.g. `"code":-1021`).
fn scan_i64(frame: &[u8], key: &[u8]) -> Option<i64> {
    let at = find(frame, key)?;
    let rest = skip_ws(&frame[at + key.len()..]);
    match rest.strip_prefix(b"-") {
        Some(r) => digits(r).and_then(|v| i64::try_from(v).ok()).map(|v| -v),
        None => digits(rest).and_then(|v| i64::try_from(v).ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trade_reports_without_fill_records_are_spotted() {
        let mut t = SymbolTable::new();
        t.insert("BTCUSDT", "USDT", InstrumentId(4));
        let f = br#"{"subscriptionId":0,"event":{"e":"executionReport","s":"BTCUSDT","c":"tw1x9","x":"TRADE","X":"FILLED","t":-1,"l":"0"}}"#;
        let id = ClientOrderId::new(tickwire_core::ids::StrategyId(1), 9).unwrap();
        assert_eq!(trade_without_fill(f, &t), Some((InstrumentId(4), id)));
        let with_fill = br#"{"e":"executionReport","s":"BTCUSDT","c":"tw1x9","x":"TRADE","t":17}"#;
        assert_eq!(trade_without_fill(with_fill, &t), None);
        let other = br#"{"e":"executionReport","s":"ETHUSDT","c":"tw1x9","x":"TRADE","t":-1}"#;
        assert_eq!(trade_without_fill(other, &t), None);
    }

    #[test]
    fn retired_legs_keep_the_last_ones_by_order_and_leg() {
        let id = |seq| ClientOrderId::new(tickwire_core::ids::StrategyId(1), seq).unwrap();
        let mut r = RetiredLegs::new();
        r.retire(id(1), 0);
        assert!(!r.contains(id(1), 0), "an unknown leg id is never retired");
        for leg in 1..=RETIRED_LEGS as u64 {
            r.retire(id(1), leg);
            r.retire(id(1), leg); // once only: a repeat does not evict another
        }
        assert!(r.contains(id(1), 1) && r.contains(id(1), RETIRED_LEGS as u64));
        assert!(
            !r.contains(id(2), 1),
            "venue ids are matched with their order"
        );
        r.retire(id(2), 7);
        assert!(r.contains(id(2), 7));
        assert!(!r.contains(id(1), 1), "the oldest leg makes room");
        assert!(r.contains(id(1), 2));
    }

    #[test]
    fn reply_ids_and_scans() {
        assert_eq!(
            reply_id(br#"{"id":"42","status":200,"result":{}}"#),
            Some(42)
        );
        assert_eq!(reply_id(br#"{"id":7,"status":200}"#), Some(7));
        assert_eq!(
            reply_id(br#"{"subscriptionId":0,"event":{"e":"executionReport","i":5}}"#),
            None
        );
        assert_eq!(reply_id(br#"{"e":"executionReport","E":1}"#), None);
        assert_eq!(
            reply_id(br#"{"error":{"code":-1003},"id":"12","status":429}"#),
            Some(12)
        );
        assert_eq!(reply_id(br#"{"id":"x1"}"#), None);
        let f = br#"{"id":"1","status":400,"error":{"code":-1021,"msg":"t"}}"#;
        assert_eq!(scan_u64(f, b"\"status\":"), Some(400));
        assert_eq!(scan_i64(f, b"\"code\":"), Some(-1021));
        assert_eq!(scan_u64(f, b"\"nothing\":"), None);
        assert_eq!(scan_i64(br#"{"code": 12}"#, b"\"code\":"), Some(12));
        assert_eq!(scan_i64(br#"{"code":-}"#, b"\"code\":"), None);
    }
}
