//! The venue simulator: real captures served over TLS on loopback with each venue's own
//! WebSocket and REST protocol (public side), and a matching engine behind Binance's private
//! REST, WS-API and user-data streams (private side).
//!
//! Written from the venue documentation (`shared/data/FORMATS.md`), never from the client
//! code: it shares no protocol code with `tickwire-feeds` or tickwire-core's wire parsing, and
//! keeps its own book (`rust_decimal` keys, wire strings), so a bug mirrored in both cannot hide.
//!
//! ```no_run
//! # fn main() -> Result<(), tickwire_sim::SimError> {
//! use tickwire_sim::{EndpointKind, SimConfig};
//! let cfg = SimConfig::parse(r#"
//!     [[venue]]
//!     venue = "binance"
//!     captures = ["../shared/data/binance/btcusdt_20240808.gz"]
//!     pace = "fast"
//! "#)?;
//! let sim = tickwire_sim::start(&cfg)?;
//! let ws = sim.endpoint("binance", EndpointKind::Ws); // "wss://127.0.0.1:PORT"
//! // ... connect with the CA at sim.ca_path(), subscribe, read ...
//! sim.shutdown();
//! # Ok(()) }
//! ```
//!
//! Model: each venue has one tape (its captures merged by receive time) moved by one thread at
//! the configured pace. A connection receives the frames of its subscriptions from the moment it
//! subscribes, like a real feed; REST snapshots come from the book that the same tape moves
//! (updated under the same lock that picks each frame's recipients). With
//! `start = "first-subscribe"` (default) the tape waits for the first subscription, so a client
//! connecting after [`start`] sees the whole capture.
//!
//! # Layout
//!
//! Layers, top to bottom; each uses those below it (exceptions after the list):
//!
//! * `server/`: TLS certificates and the WebSocket and HTTP/1.1 connection loops, which route a
//!   request by venue and path.
//! * `venue.rs`: a running venue (tape thread, books, connection registry) and `PrivateSide`,
//!   the one place that picks a venue's private protocol (construction, tape frames, closed
//!   connections, balances, Binance's private requests).
//! * `protocol/{binance,okx}/`: each venue's wire protocol, split the same way into `public`
//!   (tape building, market-data subscriptions, REST snapshots) and `private` (order entry,
//!   account pushes); OKX adds `private_rest`, `private_ws`, `auth` and `derive`.
//! * `private.rs`: the venue-neutral private core (keys, listeners, rate windows, fault
//!   counters over the matching engine), generic over the venue's push forms; Binance uses all
//!   of it, OKX its engine set-up (`private::engine`).
//! * At the bottom: `config` (with `config::derive`), `matching` (+ `matching/`), `book`,
//!   `capture`, `tape`, `fault`, and `server::conn` (the queue a connection shares with the
//!   tape, a leaf). None imports a protocol, server or venue module.
//!
//! Exceptions (none makes a module cycle): every layer uses the crate root (`SimError`,
//! `now_ms`, the server's `Shared`); OKX's `private_rest` and `private_ws` lock the running
//! `Venue` themselves, where Binance's private requests enter through `Venue::binance_request`;
//! and the OKX private side keeps its own keys, listeners, rate window and fault counters
//! (their rules differ from Binance's) beside the shared engine set-up.
//!
//! # Private side (Binance)
//!
//! Configured per venue under `[venue.private]` (see the config module): accounts with API key,
//! secret and starting balances, maker/taker fees (negative maker = rebate), request-weight and
//! order-rate limits, base latency, and private faults (`[[venue.private.fault]]`).
//!
//! * Matching (`matching`, venue-neutral): the venue's account layer over tickwire's one
//!   matching engine (`tickwire-matching`, one per symbol), price-time priority against the book
//!   the tape moves. Taking orders walk the visible levels (one fill per level) and consume them
//!   in a private overlay until the tape rewrites the level; resting orders get a queue position
//!   (visible size at their price on arrival) that public trades at their price eat first, and
//!   fill on trades at/through their price or when the opposite side moves through it. LIMIT
//!   GTC/IOC/FOK, MARKET, post-only; spot balances (`free`/`locked`), commission in the received
//!   asset; unique increasing order and trade ids; amend (priority kept only when the quantity
//!   shrinks at the same price). Our orders never trade with each other.
//! * Binance REST on the venue's REST endpoint: `POST/DELETE/GET /api/v3/order`,
//!   `PUT /api/v3/order/amend/keepPriority`, `GET/DELETE /api/v3/openOrders`,
//!   `GET /api/v3/myTrades`, `GET /api/v3/account`, `POST/PUT/DELETE /api/v3/userDataStream`;
//!   `X-MBX-APIKEY`, HMAC-SHA256 signature over query + body, `timestamp`/`recvWindow`, the
//!   venue's error codes, `X-MBX-USED-WEIGHT-1M` / `X-MBX-ORDER-COUNT-10S` / `-1D` headers,
//!   429 + `Retry-After` on limits.
//! * Binance WS-API at `/ws-api/v3` on the WS endpoint: `order.place`, `order.cancel`,
//!   `order.status`, `order.amend.keepPriority`, `openOrders.status`, `openOrders.cancelAll`,
//!   `myTrades`, `account.status`, `userDataStream.subscribe.signature`,
//!   `userDataStream.unsubscribe`, `ping`, `time`; answers carry `rateLimits`.
//! * User data: `executionReport` events (one `x=TRADE` report per fill with `t`, `l`, `L`,
//!   `n`, `N`, `z`, `Z`) to WS-API subscriptions (`{"subscriptionId":N,"event":{..}}`) and to
//!   `/ws/<listenKey>` streams (bare events). Fills of resting orders caused by the tape are
//!   pushed by the tape thread, in order with request-driven ones.
//!
//! `session.logon` is not served: Binance accepts only Ed25519 keys for it, and the simulator's
//! accounts use HMAC keys.
//!
//! # Private side (OKX)
//!
//! `protocol::okx::private*`: with `[venue.private]` (accounts need a `passphrase`), an
//! okx venue serves `/ws/v5/private` (`login`, `order`/`cancel-order`/`amend-order` and batch
//! forms, the `orders` channel) and the signed `/api/v5/trade/*` and `/api/v5/account/balance`
//! REST endpoints, matched by the shared engine against the tape's book.
//!
//! # Derived venue
//!
//! `protocol::okx::derive`: an okx venue with `derive_from = "<binance venue>"` serves that
//! venue's capture as OKX `books`/`bbo-tbt`/`trades`, shifted by `lag_ms` and a seeded price noise
//! of at most `noise_ticks` source ticks, with `symbol_map` naming the instruments.

// Public (hidden) only so the matching benchmark can put the simulator's matching (Decimal
// book and accounts over the one engine) beside the bare engine (`benches/benches/matching.rs`);
// not an API.
#[doc(hidden)]
pub mod book;
mod capture;
mod config;
mod fault;
#[doc(hidden)]
pub mod matching;
mod private;
mod protocol;
mod server;
mod tape;
mod venue;

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use config::{
    AccountSpec, DeriveSpec, FaultSpec, Pace, PrivateConfig, PrivateFault, PrivateFaultKind,
    SimConfig, StartMode, SymbolSpec, VenueConfig, VenueKind,
};
pub use fault::{FaultKind, FiredFault};

use protocol::binance::public as binance;
use protocol::okx::{derive as okx_derive, public as okx};
use server::{http, tls, ws};
use venue::{Books, Market, PrivateSide, Venue};

/// Everything that can stop the simulator from starting (or a handle call from working).
#[derive(Debug)]
pub enum SimError {
    /// Every problem found in the configuration.
    Config(Vec<String>),
    /// An I/O failure, with what was being done.
    Io {
        /// What the simulator was doing.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Certificate generation or TLS setup failed.
    Tls(String),
    /// A capture file could not be used.
    Capture {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when not about one line).
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// No venue of that name.
    UnknownVenue(String),
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Config(errors) => {
                write!(f, "invalid simulator config:")?;
                for e in errors {
                    write!(f, "\n  {e}")?;
                }
                Ok(())
            }
            SimError::Io { context, source } => write!(f, "{context}: {source}"),
            SimError::Tls(e) => write!(f, "TLS setup: {e}"),
            SimError::Capture { path, line, msg } => {
                write!(f, "{}:{line}: {msg}", path.display())
            }
            SimError::UnknownVenue(v) => write!(f, "no simulated venue named {v:?}"),
        }
    }
}

impl std::error::Error for SimError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SimError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// What an endpoint serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndpointKind {
    /// WebSocket market data (Binance: `/ws/..`, `/stream?streams=..`; OKX: `/ws/v5/public`).
    Ws,
    /// REST (Binance `/api/v3/..`; OKX `/api/v5/..`).
    Rest,
}

/// One listening endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The venue's configured name.
    pub venue: String,
    /// What it serves.
    pub kind: EndpointKind,
    /// Base URL standing in for the venue's host (`wss://127.0.0.1:PORT`,
    /// `https://127.0.0.1:PORT`): append the venue's usual paths.
    pub url: String,
}

/// Where a venue's tape is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Capture frames handed to the connections so far.
    pub published: u64,
    /// Capture frames in the tape.
    pub total: u64,
    /// Open WebSocket connections.
    pub connections: usize,
    /// The tape is over and every connection has been written everything queued to it.
    pub finished: bool,
}

/// A view of one of the simulator's books, best levels first, with the venue's strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookView {
    /// Binance: the book's update id (`lastUpdateId` of a REST snapshot now).
    pub update_id: Option<u64>,
    /// OKX: the checksum of the book now (§2.3).
    pub checksum: Option<i32>,
    /// Bids `(price, size)`, best first.
    pub bids: Vec<(String, String)>,
    /// Asks `(price, size)`, best first.
    pub asks: Vec<(String, String)>,
}

/// One asset balance of a simulated account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Balance {
    /// Asset (`USDT`).
    pub asset: String,
    /// Available.
    pub free: rust_decimal::Decimal,
    /// Reserved by open orders.
    pub locked: rust_decimal::Decimal,
}

/// State shared by every thread of one simulator.
pub(crate) struct Shared {
    stop: Arc<AtomicBool>,
    sockets: Mutex<HashMap<u64, TcpStream>>,
    conn_threads: Mutex<Vec<JoinHandle<()>>>,
    next: AtomicU64,
}

impl Shared {
    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Remembers a connection's socket so shutdown can unblock its thread.
    pub(crate) fn track(&self, s: &TcpStream) -> Option<u64> {
        let clone = s.try_clone().ok()?;
        let id = self.next_id();
        let mut g = self.sockets.lock().unwrap_or_else(|p| p.into_inner());
        // Checked under the lock that shutdown takes after setting `stop`: a socket tracked
        // after shutdown swept the table is closed here instead.
        if self.stopping() {
            let _ = clone.shutdown(Shutdown::Both);
            return None;
        }
        g.insert(id, clone);
        Some(id)
    }

    pub(crate) fn untrack(&self, id: u64) {
        self.sockets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    fn spawn_conn(&self, name: &str, f: impl FnOnce() + Send + 'static) {
        let mut g = self.conn_threads.lock().unwrap_or_else(|p| p.into_inner());
        g.retain(|h| !h.is_finished());
        if let Ok(h) = std::thread::Builder::new().name(name.to_owned()).spawn(f) {
            g.push(h);
        }
    }
}

/// Milliseconds since the Unix epoch (server times in REST answers and ping payloads).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A running simulator. Dropping it shuts it down.
pub struct SimHandle {
    endpoints: Vec<Endpoint>,
    ca_path: PathBuf,
    ca_pem: String,
    temp_dir: Option<PathBuf>,
    venues: Vec<Arc<Venue>>,
    shared: Arc<Shared>,
    listeners: Vec<SocketAddr>,
    threads: Vec<JoinHandle<()>>,
    warnings: Vec<String>,
}

impl fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimHandle")
            .field("endpoints", &self.endpoints)
            .field("ca_path", &self.ca_path)
            .finish_non_exhaustive()
    }
}

/// Loads every venue's captures, generates the certificates, binds every listener, and starts
/// serving. Nothing is left running if it fails.
pub fn start(cfg: &SimConfig) -> Result<SimHandle, SimError> {
    if cfg.venues.is_empty() {
        return Err(SimError::Config(vec![
            "venue: at least one [[venue]] is required".into(),
        ]));
    }
    let mut warnings = Vec::new();
    let stop = Arc::new(AtomicBool::new(false));
    let mut venues = Vec::new();
    for vc in &cfg.venues {
        let mut files = Vec::with_capacity(vc.captures.len());
        for p in &vc.captures {
            let f = capture::read(p)?;
            if !f.unreadable.is_empty() {
                warnings.push(format!(
                    "{}: {} unreadable line(s) skipped (first: line {})",
                    p.display(),
                    f.unreadable.len(),
                    f.unreadable[0]
                ));
            }
            files.push(f);
        }
        let (tape, market) = if vc.venue.is_binance() {
            let (t, m) = binance::build(vc, &files, &mut warnings)?;
            (t, Market::Binance(m))
        } else if let Some(d) = &vc.derive {
            let (t, m) = okx_derive::build(d, &files, &mut warnings)?;
            (t, Market::Okx(m))
        } else {
            let (t, m) = okx::build(&files, &mut warnings)?;
            (t, Market::Okx(m))
        };
        if tape.frames.is_empty() {
            return Err(SimError::Capture {
                path: vc.captures.first().cloned().unwrap_or_default(),
                line: 0,
                msg: format!("venue {:?}: the captures hold no stream frames", vc.name),
            });
        }
        venues.push(Arc::new(Venue::new(vc.clone(), tape, market, stop.clone())));
    }

    let certs = tls::generate()?;
    let (dir, temp_dir) = match &cfg.ca_dir {
        Some(d) => (d.clone(), None),
        None => {
            let d = fresh_temp_dir()?;
            (d.clone(), Some(d))
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| SimError::Io {
        context: format!("creating {}", dir.display()),
        source: e,
    })?;
    let ca_path = dir.join("tickwire-sim-ca.pem");
    std::fs::write(&ca_path, &certs.ca_pem).map_err(|e| SimError::Io {
        context: format!("writing {}", ca_path.display()),
        source: e,
    })?;

    let mut bound = Vec::new();
    let mut endpoints = Vec::new();
    for v in &venues {
        for (kind, port) in [
            (EndpointKind::Ws, v.cfg.ws_port),
            (EndpointKind::Rest, v.cfg.rest_port),
        ] {
            let l = TcpListener::bind((cfg.bind, port)).map_err(|e| SimError::Io {
                context: format!("binding {}:{port} for {} {kind:?}", cfg.bind, v.cfg.name),
                source: e,
            })?;
            let addr = l.local_addr().map_err(|e| SimError::Io {
                context: "reading a listener's address".into(),
                source: e,
            })?;
            // An unspecified bind address is reached through loopback (and the cert names it).
            let host = if addr.ip().is_unspecified() {
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
            } else {
                addr
            };
            let scheme = match kind {
                EndpointKind::Ws => "wss",
                EndpointKind::Rest => "https",
            };
            endpoints.push(Endpoint {
                venue: v.cfg.name.clone(),
                kind,
                url: format!("{scheme}://{host}"),
            });
            bound.push((v.clone(), kind, l, host));
        }
    }

    let shared = Arc::new(Shared {
        stop,
        sockets: Mutex::new(HashMap::new()),
        conn_threads: Mutex::new(Vec::new()),
        next: AtomicU64::new(1),
    });
    let mut handle = SimHandle {
        endpoints,
        ca_path,
        ca_pem: certs.ca_pem.clone(),
        temp_dir,
        venues: venues.clone(),
        shared: shared.clone(),
        listeners: Vec::new(),
        threads: Vec::new(),
        warnings,
    };
    let spawn_err = |e: std::io::Error| SimError::Io {
        context: "spawning a simulator thread".into(),
        source: e,
    };
    for v in &venues {
        let v2 = v.clone();
        let h = std::thread::Builder::new()
            .name(format!("sim-tape-{}", v.cfg.name))
            .spawn(move || v2.run_tape())
            .map_err(spawn_err)?;
        handle.threads.push(h);
    }
    for (v, kind, l, addr) in bound {
        let shared = shared.clone();
        let tls = certs.server.clone();
        let name = format!("sim-{}-{kind:?}", v.cfg.name).to_ascii_lowercase();
        handle.listeners.push(addr);
        let h = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || accept_loop(l, kind, v, tls, shared, &name))
            .map_err(spawn_err)?;
        handle.threads.push(h);
    }
    Ok(handle)
}

fn accept_loop(
    l: TcpListener,
    kind: EndpointKind,
    v: Arc<Venue>,
    tls: Arc<rustls::ServerConfig>,
    shared: Arc<Shared>,
    name: &str,
) {
    for conn in l.incoming() {
        if shared.stopping() {
            break;
        }
        let Ok(tcp) = conn else {
            // Out of file descriptors or similar: back off instead of spinning.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let (v, tls, sh) = (v.clone(), tls.clone(), shared.clone());
        match kind {
            EndpointKind::Ws => shared.spawn_conn(name, move || ws::serve(tcp, tls, v, sh)),
            EndpointKind::Rest => shared.spawn_conn(name, move || http::serve(tcp, tls, v, sh)),
        }
    }
}

fn fresh_temp_dir() -> Result<PathBuf, SimError> {
    let base = std::env::temp_dir();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut last_err = None;
    for attempt in 0..100u32 {
        let d = base.join(format!(
            "tickwire-sim-{}-{nanos:x}-{attempt}",
            std::process::id()
        ));
        // create_dir (not _all) fails if it exists: the directory is ours alone.
        match std::fs::create_dir(&d) {
            Ok(()) => return Ok(d),
            Err(e) => last_err = Some(e),
        }
    }
    Err(SimError::Io {
        context: format!("creating a temporary directory in {}", base.display()),
        source: last_err.unwrap_or_else(|| std::io::Error::other("no attempt made")),
    })
}

impl SimHandle {
    /// Every endpoint, two per venue (`Ws`, `Rest`), in config order.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The base URL of one venue's endpoint.
    pub fn endpoint(&self, venue: &str, kind: EndpointKind) -> Option<&str> {
        self.endpoints
            .iter()
            .find(|e| e.venue == venue && e.kind == kind)
            .map(|e| e.url.as_str())
    }

    /// The CA certificate (PEM) clients must trust.
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    /// The same CA certificate, in memory.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Non-fatal problems found while loading the captures (skipped lines, missing snapshots).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn venue(&self, name: &str) -> Result<&Arc<Venue>, SimError> {
        self.venues
            .iter()
            .find(|v| v.cfg.name == name)
            .ok_or_else(|| SimError::UnknownVenue(name.to_owned()))
    }

    /// True when every venue's capture has been fully served: each tape is over and every
    /// connection has been written all that was queued to it. (A `fast` venue holds while
    /// nobody is subscribed, so it finishes only while a client reads.)
    pub fn is_finished(&self) -> bool {
        self.venues.iter().all(|v| v.finished())
    }

    /// Waits until [`Self::is_finished`] or the timeout; returns whether it finished.
    pub fn wait_finished(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if self.is_finished() {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Where one venue's tape is.
    pub fn progress(&self, venue: &str) -> Result<Progress, SimError> {
        let v = self.venue(venue)?;
        let (published, total, connections) = v.progress();
        Ok(Progress {
            published,
            total,
            connections,
            finished: v.finished(),
        })
    }

    /// Injects a fault at the venue's next frame (a gap: at its next book diff; a disconnect:
    /// at once, to every subscribed connection).
    pub fn inject(&self, venue: &str, kind: FaultKind) -> Result<(), SimError> {
        self.venue(venue)?.inject(kind);
        Ok(())
    }

    /// Faults that have fired so far, in order.
    pub fn fired_faults(&self, venue: &str) -> Result<Vec<FiredFault>, SimError> {
        Ok(self.venue(venue)?.lock().fired.clone())
    }

    /// Update-id discontinuities found in the captures themselves while moving the book
    /// (Binance; injected gaps are not counted: they never touch the book).
    pub fn capture_gaps(&self, venue: &str) -> Result<u64, SimError> {
        Ok(self.venue(venue)?.lock().capture_gaps)
    }

    /// The simulator's own book for a symbol (Binance `BTCUSDT`, OKX `BTC-USDT`) now, at most
    /// `limit` levels per side; `None` if the venue has no such book (or OKX has not reached
    /// its snapshot yet).
    pub fn book(
        &self,
        venue: &str,
        symbol: &str,
        limit: usize,
    ) -> Result<Option<BookView>, SimError> {
        let v = self.venue(venue)?;
        let st = v.lock();
        let pairs = |it: &mut dyn Iterator<Item = &Vec<String>>| -> Vec<(String, String)> {
            it.take(limit)
                .map(|l| {
                    (
                        l.first().cloned().unwrap_or_default(),
                        l.get(1).cloned().unwrap_or_default(),
                    )
                })
                .collect()
        };
        Ok(match (&v.market, &st.books) {
            (Market::Binance(m), Books::Binance(books)) => m
                .by_name
                .get(symbol)
                .and_then(|&i| books.get(i))
                .map(|b| BookView {
                    update_id: Some(b.update_id),
                    checksum: None,
                    bids: pairs(&mut b.book.bids_best_first()),
                    asks: pairs(&mut b.book.asks_best_first()),
                }),
            (Market::Okx(m), Books::Okx(books)) => m
                .by_id
                .get(symbol)
                .and_then(|&i| books.get(i))
                .and_then(Option::as_ref)
                .map(|b| BookView {
                    update_id: None,
                    checksum: Some(book::okx_checksum(&b.book)),
                    bids: pairs(&mut b.book.bids_best_first()),
                    asks: pairs(&mut b.book.asks_best_first()),
                }),
            _ => None,
        })
    }

    /// One account's balances on a venue's private side, by asset; `None` if the venue has no
    /// private side or no such account.
    pub fn balances(&self, venue: &str, account: &str) -> Result<Option<Vec<Balance>>, SimError> {
        let v = self.venue(venue)?;
        let st = v.lock();
        let engine = st.private.as_ref().map(PrivateSide::engine);
        Ok(engine.and_then(|e| {
            let id = e.account_id(account)?;
            let b = e.balances(id)?;
            Some(
                b.iter()
                    .map(|(a, x)| Balance {
                        asset: a.clone(),
                        free: x.free,
                        locked: x.locked,
                    })
                    .collect(),
            )
        }))
    }

    /// Stops every thread, closes every connection, and removes a temporary CA directory.
    pub fn shutdown(mut self) {
        self.stop_all();
    }

    fn stop_all(&mut self) {
        if self.threads.is_empty() && self.shared.stopping() {
            return;
        }
        self.shared.stop.store(true, Ordering::SeqCst);
        for v in &self.venues {
            v.notify();
        }
        {
            let g = self
                .shared
                .sockets
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            for s in g.values() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        // Wake each listener blocked in accept(); it sees `stop` and returns.
        for addr in &self.listeners {
            let _ = TcpStream::connect_timeout(addr, Duration::from_millis(500));
        }
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
        let conns: Vec<_> = self
            .shared
            .conn_threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        for h in conns {
            let _ = h.join();
        }
        if let Some(d) = self.temp_dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop_all();
    }
}
