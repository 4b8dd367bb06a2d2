//! The feed thread: one venue connection, from socket to ring.
//!
//! It connects (TLS WebSocket), subscribes, hands every frame to the venue handler (decode +
//! book sync), fetches REST snapshots when a Binance book asks for one, resubscribes an OKX book
//! after a gap, pushes the resulting market events to the core's ring, watches for silence
//! (`stale`), answers venue keepalives, and reconnects with capped, jittered backoff. Optionally
//! every received frame is appended to a raw frame journal first, so a parser bug can be replayed
//! from bytes.
//!
//! The loop never blocks on the socket (it polls, idling with the thread's wait policy); the
//! only blocking calls are the REST snapshot fetch (off the per-frame path, right after a
//! connect or a gap) and waiting for room in the ring (the core is behind; nothing is dropped).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustls::ClientConfig;
use tickwire_core::event::{FeedState, FeedStatus, Kind, MarketEvent, Meta};
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::journal::Writer;
use tickwire_core::ring::{Producer, StopFlag};
use tickwire_core::wait::Backoff;

use crate::venue::{SymbolTable, binance, okx};
use tickwire_net::{
    Clock, HttpClient, HttpOptions, ReconnectBackoff, ReconnectPolicy, WsClient, WsOptions,
    WsStatus,
};

/// What one feed connects to and how.
pub struct FeedConfig {
    /// Venue.
    pub venue: VenueId,
    /// WebSocket base URL (`wss://host:port`); the venue's path is appended.
    pub ws_url: String,
    /// REST base URL (`https://host:port`), for Binance depth snapshots.
    pub rest_url: Option<String>,
    /// TLS trust (webpki roots for real venues, the simulator's CA otherwise).
    pub tls: Arc<ClientConfig>,
    /// Venue symbols and their engine instrument ids.
    pub symbols: Vec<(String, InstrumentId)>,
    /// Channels per symbol (`depth@100ms`, `bookTicker`, `trade`; OKX `books`, `trades`, …).
    pub channels: Vec<String>,
    /// Silence after which the feed reports `stale`.
    pub stale_after: Duration,
    /// Levels per REST snapshot.
    pub snapshot_limit: u32,
    /// Monotonic clock for receive stamps.
    pub clock: Clock,
}

/// Counters a feed shares with whoever supervises it (the ops thread).
#[derive(Debug, Default)]
pub struct FeedProgress {
    /// WebSocket messages received.
    pub messages: AtomicU64,
    /// Market events pushed to the core.
    pub events: AtomicU64,
    /// Frames that could not be decoded.
    pub malformed: AtomicU64,
    /// Connections opened.
    pub connects: AtomicU64,
    /// REST snapshots fetched.
    pub snapshots: AtomicU64,
}

/// Why a feed stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEnd {
    /// The stop flag was set.
    Stopped,
    /// The core went away.
    CoreGone,
    /// The configuration cannot work (bad symbol, bad URL); retrying would not help.
    Config(String),
}

enum Handler {
    Binance(binance::BinanceHandler),
    Okx(okx::OkxHandler),
}

/// Pushes every event to the core, waiting for room; remembers if the core is gone.
struct Sink<'a> {
    out: &'a mut Producer<MarketEvent>,
    /// A paper venue's in-process exchange: sees every event before the core does.
    exchange: Option<&'a mut Producer<MarketEvent>>,
    clock: Clock,
    backoff: Backoff,
    progress: &'a FeedProgress,
    core_gone: bool,
}

impl Sink<'_> {
    fn emit(&mut self, ev: MarketEvent) {
        if self.core_gone {
            return;
        }
        let mut ev = ev;
        if ev.meta().stamps.parsed_ns == 0 {
            // The handler emits right after decoding: now is when the record was parsed.
            ev.meta_mut().stamps.parsed_ns = (self.clock)();
        }
        if let Some(x) = self.exchange.as_deref_mut()
            && x.forward(ev, &mut self.backoff).is_err()
        {
            // The exchange is gone only when the run is ending; the core still gets the market.
            self.exchange = None;
        }
        match self.out.forward(ev, &mut self.backoff) {
            Ok(()) => {
                self.progress.events.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => self.core_gone = true,
        }
    }
}

fn status(venue: VenueId, state: FeedState, now: u64, detail: u64) -> MarketEvent {
    let meta = Meta::new(venue, Meta::ALL_INSTRUMENTS, now);
    MarketEvent::Status(FeedStatus::new(meta, state, detail, 0))
}

fn ws_path(cfg: &FeedConfig) -> String {
    match cfg.venue {
        VenueId::OKX => "/ws/v5/public".to_owned(),
        _ => {
            let streams: Vec<String> = cfg
                .symbols
                .iter()
                .flat_map(|(sym, _)| {
                    let sym = sym.to_ascii_lowercase();
                    cfg.channels.iter().map(move |c| format!("{sym}@{c}"))
                })
                .collect();
            format!("/stream?streams={}", streams.join("/"))
        }
    }
}

fn okx_subscribe(cfg: &FeedConfig, op: &str, only: Option<&str>) -> String {
    let args: Vec<String> = cfg
        .symbols
        .iter()
        .filter(|(sym, _)| only.is_none_or(|o| o == sym))
        .flat_map(|(sym, _)| {
            cfg.channels
                .iter()
                .filter(move |c| only.is_none() || c.starts_with("books"))
                .map(move |c| format!(r#"{{"channel":"{c}","instId":"{sym}"}}"#))
        })
        .collect();
    format!(r#"{{"op":"{op}","args":[{}]}}"#, args.join(","))
}

/// Runs one feed until `stop` is set or the core goes away. `raw` journals every received frame
/// (kind `raw-frame`, timestamp = receive time) before it is parsed. `exchange` (a paper venue's
/// in-process exchange) gets each event before `out` (the core), so the exchange has seen the
/// market any order was decided on.
pub fn run_feed(
    cfg: &FeedConfig,
    out: &mut Producer<MarketEvent>,
    exchange: Option<&mut Producer<MarketEvent>>,
    mut raw: Option<Writer>,
    backoff: Backoff,
    stop: &StopFlag,
    progress: &FeedProgress,
) -> FeedEnd {
    let symbols = match SymbolTable::from_pairs(cfg.symbols.iter().map(|(s, i)| (s.as_str(), *i))) {
        Ok(t) => t,
        Err(e) => return FeedEnd::Config(format!("symbols: {e}")),
    };
    let mut handler = match cfg.venue {
        VenueId::OKX => Handler::Okx(okx::OkxHandler::new(symbols)),
        v => Handler::Binance(binance::BinanceHandler::new(
            v,
            symbols,
            binance::SyncConfig::default(),
        )),
    };
    let mut http = match &cfg.rest_url {
        Some(url) => match HttpClient::new(url, Arc::clone(&cfg.tls), HttpOptions::default()) {
            Ok(c) => Some(c),
            Err(e) => return FeedEnd::Config(format!("REST {url}: {e}")),
        },
        None => None,
    };
    let url = format!("{}{}", cfg.ws_url.trim_end_matches('/'), ws_path(cfg));
    let clock = cfg.clock;
    let seed = clock() ^ u64::from(cfg.venue.0);
    let mut reconnect = ReconnectBackoff::new(ReconnectPolicy::default(), seed);
    let mut idle = backoff.clone();
    let mut sink = Sink {
        out,
        clock,
        backoff,
        progress,
        exchange,
        core_gone: false,
    };
    let mut ws: Option<WsClient> = None;
    let mut retry_at = 0u64;
    let mut stale = false;
    let mut last_data = clock();
    // Actions collected during one poll, handled after it (they need the HTTP client and the
    // socket, which the poll callback cannot borrow). Bounded: one per instrument at most.
    let mut actions: Vec<(bool, InstrumentId)> = Vec::with_capacity(cfg.symbols.len() * 2 + 4);
    loop {
        if stop.is_set() {
            if let Some(mut c) = ws.take() {
                let _ = c.close();
            }
            return FeedEnd::Stopped;
        }
        if sink.core_gone {
            return FeedEnd::CoreGone;
        }
        let now = clock();
        let Some(conn) = ws.as_mut() else {
            if now >= retry_at {
                match WsClient::connect(&url, Arc::clone(&cfg.tls), WsOptions::default(), clock) {
                    Ok(c) => ws = Some(c),
                    Err(e) => {
                        if matches!(e, tickwire_net::NetError::Url(_)) {
                            return FeedEnd::Config(format!("{url}: {e}"));
                        }
                        retry_at = now + reconnect.on_failure(now);
                    }
                }
            } else {
                idle.idle();
            }
            continue;
        };
        let polled = conn.poll(|msg| {
            progress.messages.fetch_add(1, Ordering::Relaxed);
            if let Some(j) = raw.as_mut() {
                // A raw journal that cannot be written is not worth losing market data for.
                let _ = j.append(Kind::RawFrame.code(), msg.recv_ns, msg.data);
            }
            let result = match &mut handler {
                Handler::Binance(h) => h
                    .on_frame(msg.data, msg.recv_ns, &mut |e| sink.emit(e))
                    .map(|a| match a {
                        binance::Action::FetchSnapshot(i) => Some((true, i)),
                        binance::Action::Reconnect => Some((false, InstrumentId(u32::MAX))),
                        binance::Action::None => None,
                    }),
                Handler::Okx(h) => h
                    .on_frame(msg.data, msg.recv_ns, &mut |e| sink.emit(e))
                    .map(|a| match a {
                        okx::Action::Resubscribe(i) => Some((true, i)),
                        okx::Action::VenueError(_) | okx::Action::None => None,
                    }),
            };
            match result {
                Ok(Some(a)) if !actions.contains(&a) => actions.push(a),
                Ok(_) => {}
                Err(_) => {
                    progress.malformed.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        let now = clock();
        match polled {
            Ok(WsStatus::Open { opened, messages }) => {
                if opened {
                    progress.connects.fetch_add(1, Ordering::Relaxed);
                    reconnect.on_connected(now);
                    match &mut handler {
                        Handler::Binance(h) => h.on_connect(),
                        Handler::Okx(h) => {
                            h.on_connect();
                            let _ = conn.send_text(&okx_subscribe(cfg, "subscribe", None));
                        }
                    }
                    sink.emit(status(cfg.venue, FeedState::Connected, now, 0));
                    stale = false;
                    last_data = now;
                }
                if messages > 0 {
                    last_data = now;
                    if stale {
                        stale = false;
                        sink.emit(status(cfg.venue, FeedState::Connected, now, 0));
                    }
                    idle.reset();
                } else {
                    if !stale && now.saturating_sub(last_data) > cfg.stale_after.as_nanos() as u64 {
                        stale = true;
                        sink.emit(status(cfg.venue, FeedState::Stale, now, now - last_data));
                    }
                    // OKX closes a connection silent for 30 s; a text ping keeps it open.
                    if cfg.venue == VenueId::OKX && conn.tx_idle_ns(now) > 25_000_000_000 {
                        let _ = conn.send_text("ping");
                    }
                    idle.idle();
                }
            }
            Ok(WsStatus::Connecting) => idle.idle(),
            Ok(WsStatus::Closing { .. }) => idle.idle(),
            Ok(WsStatus::Closed(_)) | Err(_) => {
                ws = None;
                retry_at = now + reconnect.on_failure(now);
                sink.emit(status(cfg.venue, FeedState::Disconnected, now, 0));
                actions.clear();
                continue;
            }
        }
        for (fetch, instrument) in actions.drain(..) {
            match (&mut handler, fetch) {
                (_, false) => {
                    // serverShutdown: reconnect now, before the venue drops us.
                    if let Some(mut c) = ws.take() {
                        let _ = c.close();
                    }
                    sink.emit(status(cfg.venue, FeedState::Disconnected, now, 0));
                }
                (Handler::Binance(h), true) => {
                    let raw = raw.as_mut();
                    fetch_snapshot(cfg, h, http.as_mut(), instrument, &mut sink, progress, raw);
                }
                (Handler::Okx(_), true) => {
                    let Some((sym, _)) = cfg.symbols.iter().find(|(_, i)| *i == instrument) else {
                        continue;
                    };
                    if let Some(c) = ws.as_mut() {
                        let _ = c.send_text(&okx_subscribe(cfg, "unsubscribe", Some(sym)));
                        let _ = c.send_text(&okx_subscribe(cfg, "subscribe", Some(sym)));
                    }
                }
            }
        }
    }
}

/// Fetches a REST depth snapshot for `instrument` and feeds it to the book sync. A failed fetch
/// leaves the book waiting: the next diff asks again.
fn fetch_snapshot(
    cfg: &FeedConfig,
    handler: &mut binance::BinanceHandler,
    http: Option<&mut HttpClient>,
    instrument: InstrumentId,
    sink: &mut Sink<'_>,
    progress: &FeedProgress,
    raw: Option<&mut Writer>,
) {
    let (Some(http), Some((sym, _))) = (http, cfg.symbols.iter().find(|(_, i)| *i == instrument))
    else {
        return;
    };
    let path = format!(
        "/api/v3/depth?symbol={}&limit={}",
        sym.to_ascii_uppercase(),
        cfg.snapshot_limit
    );
    // A snapshot that cannot be had (no answer within the HTTP deadline, an error status) or
    // read is a data anomaly, said as a `malformed` status: the book stays unusable until a
    // later one arrives (the next diff asks again), and strategies and risk see why.
    let failed = |sink: &mut Sink<'_>, why: u64| {
        let meta = Meta::new(cfg.venue, instrument, (cfg.clock)());
        sink.emit(MarketEvent::Status(FeedStatus::new(
            meta,
            FeedState::Malformed,
            0,
            why,
        )));
    };
    let mut resp = match http.get(&path, &[]) {
        Ok(r) if r.is_success() => r,
        Ok(_) => return failed(sink, SNAPSHOT_REFUSED),
        Err(_) => return failed(sink, SNAPSHOT_UNANSWERED),
    };
    let recv_ns = (cfg.clock)();
    progress.snapshots.fetch_add(1, Ordering::Relaxed);
    if let Some(j) = raw {
        // Cold path (one per sync): the id prefix costs one copy of the body.
        let mut payload = Vec::with_capacity(4 + resp.body.len());
        payload.extend_from_slice(&instrument.0.to_le_bytes());
        payload.extend_from_slice(&resp.body);
        let _ = j.append(Kind::RawSnapshot.code(), recv_ns, &payload);
    }
    if handler
        .on_snapshot(instrument, &mut resp.body, recv_ns, &mut |e| sink.emit(e))
        .is_err()
    {
        progress.malformed.fetch_add(1, Ordering::Relaxed);
        failed(sink, SNAPSHOT_UNREADABLE);
    }
}

/// Why a REST snapshot failed (the `detail2` of its `malformed` status; 1 and 2 are the book
/// sync's own refusals: crossed, or an update id beyond the stream).
const SNAPSHOT_UNANSWERED: u64 = 3;
/// See [`SNAPSHOT_UNANSWERED`].
const SNAPSHOT_REFUSED: u64 = 4;
/// See [`SNAPSHOT_UNANSWERED`].
const SNAPSHOT_UNREADABLE: u64 = 5;

/// What re-parsing a raw frame journal produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawReplay {
    /// Frames re-parsed.
    pub frames: u64,
    /// Snapshots re-applied.
    pub snapshots: u64,
    /// Frames the decoder rejected.
    pub malformed: u64,
}

/// Re-runs a raw frame journal (written by [`run_feed`]) through a fresh venue handler, in the
/// order the frames were received, emitting the market events it produces: the way to replay a
/// parser or book-sync bug from the exact bytes the venue sent.
pub fn replay_raw(
    reader: &mut tickwire_core::journal::Reader,
    venue: VenueId,
    symbols: &[(String, InstrumentId)],
    emit: &mut impl FnMut(MarketEvent),
) -> Result<RawReplay, String> {
    use tickwire_core::event::Record;
    let table = SymbolTable::from_pairs(symbols.iter().map(|(s, i)| (s.as_str(), *i)))
        .map_err(|e| format!("symbols: {e}"))?;
    let mut handler = match venue {
        VenueId::OKX => Handler::Okx(okx::OkxHandler::new(table)),
        v => Handler::Binance(binance::BinanceHandler::new(
            v,
            table,
            binance::SyncConfig::default(),
        )),
    };
    match &mut handler {
        Handler::Binance(h) => h.on_connect(),
        Handler::Okx(h) => h.on_connect(),
    }
    let mut stats = RawReplay::default();
    let mut buf = Vec::new();
    while let Some(rec) = reader.next().map_err(|e| e.to_string())? {
        let decoded = Record::decode(rec.kind, rec.payload).map_err(|e| e.to_string())?;
        let ts = rec.ts;
        match decoded {
            Record::RawFrame(bytes) => {
                stats.frames += 1;
                buf.clear();
                buf.extend_from_slice(bytes);
                let ok = match &mut handler {
                    Handler::Binance(h) => h.on_frame(&mut buf, ts, emit).is_ok(),
                    Handler::Okx(h) => h.on_frame(&mut buf, ts, emit).is_ok(),
                };
                if !ok {
                    stats.malformed += 1;
                }
            }
            Record::RawSnapshot(instrument, body) => {
                stats.snapshots += 1;
                buf.clear();
                buf.extend_from_slice(body);
                if let Handler::Binance(h) = &mut handler {
                    let _ = h.on_snapshot(instrument, &mut buf, ts, emit);
                }
            }
            _ => {}
        }
    }
    Ok(stats)
}
