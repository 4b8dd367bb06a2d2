//! The simulator's configuration, read from a TOML table.
//!
//! Shape (at the root of a file, or under `[sim]` in a run config):
//!
//! ```toml
//! bind = "127.0.0.1"          # optional; loopback by default
//! ca_dir = "target/sim-ca"    # optional; a fresh temporary directory by default
//!
//! [[venue]]
//! venue = "binance"           # "binance" | "binance-us" | "okx"
//! name = "binance"            # optional, unique; defaults to `venue`
//! captures = ["../shared/data/binance/btcusdt_20240808.gz"]
//! pace = "scaled"             # "recorded" | "scaled" | "fast"
//! speed = 10                  # with "scaled": recorded gaps are divided by this
//!
//! [[venue.fault]]
//! kind = "gap"                # "gap" | "pause" | "disconnect" | "malformed" | "duplicate"
//! at = 1000                   # the capture frame (0-based) the fault applies at
//!
//! [[venue.symbol]]            # Binance: filters used by exchangeInfo and order checks
//! symbol = "BTCUSDT"
//! tick = "0.01"
//! lot = "0.00001"
//! min_notional = "5"
//!
//! [venue.private]             # optional: the trading side (Binance)
//! maker_fee = "0.001"         # rates as decimal strings; negative maker = rebate
//! taker_fee = "0.001"
//! weight_per_minute = 6000    # REQUEST_WEIGHT per minute (429 / -1003 beyond)
//! orders_per_10s = 100        # new orders per account per 10 s (429 / -1015 beyond)
//! orders_per_day = 200000
//! latency_ms = 0              # added before every private answer
//!
//! [[venue.private.account]]
//! name = "alice"
//! api_key = "..."             # the client's X-MBX-APIKEY / apiKey
//! secret = "..."              # HMAC secret (never printed)
//! balances = ["USDT:10000", "BTC:1"]
//!
//! [[venue.private.fault]]     # each applies to `count` events (0 = all) after `after` events
//! kind = "reject"             # short_fill (by = "0.000002") | no_fill_reports |
//!                             # duplicate_fill | reject | rate_limit | http_503 | http_500 |
//!                             # disconnect (placed = true|false) | slow_ack (ms = 500)
//! count = 3
//! after = 0
//! ```
//!
//! Private fault events: order requests count for `reject`, `http_503`, `http_500`,
//! `disconnect` and `slow_ack`; every private request for `rate_limit`; every fill for
//! `short_fill`, `no_fill_reports` and `duplicate_fill`.
//!
//! Like the run config, the reader reports every problem at once and treats unknown keys as
//! errors (a typo in a fault would otherwise silently test nothing). It is a small reader of its
//! own rather than `tickwire_core::config::Section` because it needs string arrays and floats.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use rust_decimal::Decimal;
use tickwire_core::config::Section as Reader;
use toml::Table;

use super::SimError;
use super::fault::FaultKind;

mod derive;
pub use derive::DeriveSpec;

/// Which venue protocol a simulated venue speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VenueKind {
    /// Binance spot.
    Binance,
    /// Binance.US: the Binance spot protocol under another venue name.
    BinanceUs,
    /// OKX v5.
    Okx,
}

impl VenueKind {
    /// The config spelling (`binance`, `binance-us`, `okx`).
    pub fn as_str(self) -> &'static str {
        match self {
            VenueKind::Binance => "binance",
            VenueKind::BinanceUs => "binance-us",
            VenueKind::Okx => "okx",
        }
    }

    /// True for the Binance protocol family.
    pub fn is_binance(self) -> bool {
        matches!(self, VenueKind::Binance | VenueKind::BinanceUs)
    }
}

/// How fast a venue's capture is replayed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// Keep the capture's inter-frame gaps (from its receive timestamps).
    Recorded,
    /// Divide the recorded gaps by this factor (> 0; 10 = ten times faster).
    Scaled(f64),
    /// As fast as the subscribed clients read: the tape waits for the slowest subscriber and
    /// holds while nobody is subscribed.
    Fast,
}

/// When a venue's tape starts moving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartMode {
    /// At the first subscription (plus `start_delay`), so a client that connects after
    /// `start` returns still sees the capture from its beginning.
    FirstSubscribe,
    /// As soon as the simulator starts.
    Immediate,
}

/// One configured fault: `kind` applied at capture frame `at`.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpec {
    /// The 0-based index of the capture frame (in the venue's merged tape order, counting every
    /// capture frame whether or not anybody subscribed to it) at which the fault applies. A gap
    /// applies to the first book diff at or after it.
    pub at: u64,
    /// What happens.
    pub kind: FaultKind,
}

/// Instrument filters for a generated `exchangeInfo` (anything absent is inferred from the
/// capture: the finest price and size decimals seen).
#[derive(Clone, Debug, PartialEq)]
pub struct SymbolSpec {
    /// Venue symbol, upper case (`BTCUSDT`).
    pub symbol: String,
    /// Price tick (`PRICE_FILTER.tickSize`).
    pub tick: Option<Decimal>,
    /// Size step (`LOT_SIZE.stepSize`).
    pub lot: Option<Decimal>,
    /// Minimum notional (`NOTIONAL.minNotional`); zero when absent.
    pub min_notional: Option<Decimal>,
}

/// One simulated venue.
#[derive(Clone, Debug, PartialEq)]
pub struct VenueConfig {
    /// Unique name, used in endpoints and handle calls (defaults to the venue kind's spelling).
    pub name: String,
    /// Protocol spoken.
    pub venue: VenueKind,
    /// Capture files, merged by receive time (each file's own order is kept). Formats are
    /// detected per file and line: hftbacktest gzip `<ns> <json>` lines (with an inlined REST
    /// snapshot line), cryptofeed recorder lines `<epoch_s>: <json>` (connection and sent lines
    /// skipped), cryptofeed HTTP recordings `<url> -> <epoch_s>: <json>`, and plain JSON depth
    /// snapshots (symbol from the file name's last `_` token, e.g. `..._NKNUSDT.json`).
    pub captures: Vec<PathBuf>,
    /// A recorded `GET /api/v3/exchangeInfo` body to serve (a recorder prefix before the JSON is
    /// skipped); a minimal one is generated when absent.
    pub exchange_info: Option<PathBuf>,
    /// Filters for the generated `exchangeInfo`.
    pub symbols: Vec<SymbolSpec>,
    /// Replay speed.
    pub pace: Pace,
    /// When the tape starts.
    pub start: StartMode,
    /// Extra wait after the first subscription before the tape moves (lets a client subscribe
    /// to several streams in separate messages without missing the start).
    pub start_delay: Duration,
    /// WebSocket port (0 = ephemeral).
    pub ws_port: u16,
    /// REST port (0 = ephemeral).
    pub rest_port: u16,
    /// Binance: interval between server pings (20 s on the real venue).
    pub ping_interval: Duration,
    /// Binance: a client that has not answered a ping within this is dropped (60 s real).
    pub pong_timeout: Duration,
    /// OKX: a connection with no traffic either way for this long is dropped (30 s real).
    pub idle_timeout: Duration,
    /// Frames a connection may have queued. `fast` blocks the tape on a full queue; the paced
    /// modes drop a client that falls this far behind, as a real venue drops slow consumers.
    pub queue_frames: usize,
    /// Faults to inject.
    pub faults: Vec<FaultSpec>,
    /// OKX: market data derived from another venue's captures instead of `captures`.
    pub derive: Option<DeriveSpec>,
    /// The private (trading) side; `None` serves market data only.
    pub private: Option<PrivateConfig>,
}

/// One trading account of the private side.
#[derive(Clone, PartialEq)]
pub struct AccountSpec {
    /// Account name (unique per venue).
    pub name: String,
    /// API key the client sends (`X-MBX-APIKEY`, `apiKey`).
    pub api_key: String,
    /// HMAC secret. Never printed: [`fmt::Debug`] shows it redacted.
    pub secret: String,
    /// Starting free balances, by asset.
    pub balances: Vec<(String, Decimal)>,
    /// OKX: the API key's passphrase (required on okx venues). Never printed.
    pub passphrase: Option<String>,
}

impl fmt::Debug for AccountSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountSpec")
            .field("name", &self.name)
            .field("api_key", &self.api_key)
            .field("secret", &"<redacted>")
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "<redacted>"),
            )
            .field("balances", &self.balances)
            .finish()
    }
}

/// The private side of a venue: accounts, fees, limits, latency and private faults.
#[derive(Clone, Debug, PartialEq)]
pub struct PrivateConfig {
    /// Maker commission rate (negative = rebate), e.g. `0.001`.
    pub maker_fee: Decimal,
    /// Taker commission rate.
    pub taker_fee: Decimal,
    /// Request weight allowed per minute (Binance `REQUEST_WEIGHT`, 6000 on the real venue).
    pub weight_per_minute: u64,
    /// New orders allowed per account per 10 s (Binance `ORDERS` 10 s, 100 real).
    pub orders_per_10s: u64,
    /// New orders allowed per account per day (200 000 real).
    pub orders_per_day: u64,
    /// Added before every private answer (network + venue latency).
    pub latency: Duration,
    /// Accounts.
    pub accounts: Vec<AccountSpec>,
    /// Private-side faults.
    pub faults: Vec<PrivateFault>,
}

impl Default for PrivateConfig {
    fn default() -> Self {
        Self {
            maker_fee: Decimal::new(1, 3),
            taker_fee: Decimal::new(1, 3),
            weight_per_minute: 6000,
            orders_per_10s: 100,
            orders_per_day: 200_000,
            latency: Duration::ZERO,
            accounts: Vec::new(),
            faults: Vec::new(),
        }
    }
}

/// A private-side fault (`[[venue.private.fault]]`). Each applies to the next `count` matching
/// requests or fills (all of them with `count = 0`), counted from the simulator's start.
#[derive(Clone, Debug, PartialEq)]
pub struct PrivateFault {
    /// What goes wrong.
    pub kind: PrivateFaultKind,
    /// How many times it applies (0 = always).
    pub count: u64,
    /// Requests or fills (by kind) to let through before it starts applying.
    pub after: u64,
}

/// What a private fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrivateFaultKind {
    /// `short_fill`: each fill is reported (and booked: the venue's own balances follow it)
    /// this much smaller than what matched, e.g. 0.0241 matched → 0.024098 reported with
    /// `by = "0.000002"`; the order still completes when its quantity has matched, so a FILLED
    /// order can show `executedQty` below `origQty`.
    ShortFill(Decimal),
    /// `no_fill_reports`: a fill's executionReport carries the status change only (`x=TRADE`,
    /// `X`, `z`, `Z` updated) without the fill record (`t=-1`, `l`/`L` zero, `n="0"`,
    /// `N=null`); REST `myTrades` and `order.status` still have the trades.
    NoFillReports,
    /// `duplicate_fill`: every fill's executionReport is pushed twice.
    DuplicateFill,
    /// `reject`: new orders are rejected with -2010 before reaching the engine.
    Reject,
    /// `rate_limit`: requests are refused with HTTP 429 / -1003 and `Retry-After`.
    RateLimit,
    /// `http_503`: the order is placed, but the answer is HTTP 503 / -1001 (status unknown).
    Http503,
    /// `http_500`: the order is placed, but the answer is HTTP 500 with an unknown-error body.
    Http500,
    /// `disconnect`: the connection (WS-API or REST) is closed without an answer right after
    /// an order request arrives; `placed` (default true) tells whether the order reached the
    /// engine first.
    Disconnect {
        /// The order was placed before the connection dropped.
        placed: bool,
    },
    /// `slow_ack`: order answers (REST and WS-API) are delayed by this much.
    SlowAck(Duration),
}

impl PrivateFaultKind {
    /// The config spelling.
    pub fn name(self) -> &'static str {
        match self {
            PrivateFaultKind::ShortFill(_) => "short_fill",
            PrivateFaultKind::NoFillReports => "no_fill_reports",
            PrivateFaultKind::DuplicateFill => "duplicate_fill",
            PrivateFaultKind::Reject => "reject",
            PrivateFaultKind::RateLimit => "rate_limit",
            PrivateFaultKind::Http503 => "http_503",
            PrivateFaultKind::Http500 => "http_500",
            PrivateFaultKind::Disconnect { .. } => "disconnect",
            PrivateFaultKind::SlowAck(_) => "slow_ack",
        }
    }
}

impl VenueConfig {
    /// A venue with defaults: no captures, fast pace, real-venue keep-alive timings.
    pub fn new(venue: VenueKind) -> Self {
        Self {
            name: venue.as_str().to_owned(),
            venue,
            captures: Vec::new(),
            exchange_info: None,
            symbols: Vec::new(),
            pace: Pace::Fast,
            start: StartMode::FirstSubscribe,
            start_delay: Duration::ZERO,
            ws_port: 0,
            rest_port: 0,
            ping_interval: Duration::from_secs(20),
            pong_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30),
            queue_frames: 65_536,
            faults: Vec::new(),
            derive: None,
            private: None,
        }
    }
}

/// The whole simulator configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Address every listener binds (loopback by default).
    pub bind: IpAddr,
    /// Where the CA certificate is written; `None` = a fresh temporary directory, removed at
    /// shutdown.
    pub ca_dir: Option<PathBuf>,
    /// The venues.
    pub venues: Vec<VenueConfig>,
}

impl SimConfig {
    /// Parses a standalone TOML document (keys at its root).
    pub fn parse(text: &str) -> Result<Self, SimError> {
        let table: Table = text
            .parse()
            .map_err(|e: toml::de::Error| SimError::Config(vec![e.message().replace('\n', " ")]))?;
        Self::from_table(&table, "")
    }

    /// Reads a table; `path` prefixes error messages (e.g. `"sim"` for a `[sim]` section).
    /// Every problem is reported, each with its key path. Capture files are checked to exist;
    /// their content is read by [`super::start`].
    pub fn from_table(table: &Table, path: &str) -> Result<Self, SimError> {
        let mut errors = Vec::new();
        let mut root = Reader::new(path, table);
        let bind = match root.opt_str("bind") {
            None => IpAddr::from([127, 0, 0, 1]),
            Some(s) => s.parse().unwrap_or_else(|_| {
                root.error("bind", format!("{s:?} is not an IP address"));
                IpAddr::from([127, 0, 0, 1])
            }),
        };
        let ca_dir = root.opt_str("ca_dir").map(PathBuf::from);
        let mut venues: Vec<VenueConfig> = Vec::new();
        for mut v in root.tables("venue") {
            if let Some(vc) = read_venue(&mut v, &mut errors) {
                if venues.iter().any(|o| o.name == vc.name) {
                    v.error("name", format!("venue name {:?} is used twice", vc.name));
                } else {
                    venues.push(vc);
                }
            }
            errors.extend(v.finish());
        }
        derive::resolve(&mut venues, &mut errors);
        if venues.is_empty() && !errors.iter().any(|e| e.contains("venue")) {
            errors.push(format!(
                "{}: at least one [[venue]] is required",
                root.key_path("venue")
            ));
        }
        errors.extend(root.finish());
        // Sorted by key path, so a venue's problems read together.
        errors.sort();
        if errors.is_empty() {
            Ok(Self {
                bind,
                ca_dir,
                venues,
            })
        } else {
            Err(SimError::Config(errors))
        }
    }
}

fn ms(r: &mut Reader<'_>, key: &str, default: Duration) -> Duration {
    r.opt_int(key, 0, 86_400_000)
        .map_or(default, |v| Duration::from_millis(v as u64))
}

fn read_venue(v: &mut Reader<'_>, errors: &mut Vec<String>) -> Option<VenueConfig> {
    let kind = match v.str("venue") {
        Some("binance") => Some(VenueKind::Binance),
        Some("binance-us") => Some(VenueKind::BinanceUs),
        Some("okx") => Some(VenueKind::Okx),
        Some(other) => {
            v.error(
                "venue",
                format!("unknown venue {other:?} (binance, binance-us, okx)"),
            );
            None
        }
        None => None,
    };
    let mut c = VenueConfig::new(kind.unwrap_or(VenueKind::Binance));
    if let Some(n) = v.opt_str("name") {
        if n.is_empty() {
            v.error("name", "must not be empty");
        }
        c.name = n.to_owned();
    }
    c.derive = derive::read(v, kind);
    let captures = v.opt_str_array("captures");
    if c.derive.is_none()
        && (captures.as_ref().is_some_and(|c| c.is_empty())
            || (captures.is_none() && !v.has("captures")))
    {
        v.error("captures", "at least one capture file is required");
    }
    for f in captures.unwrap_or_default() {
        let p = PathBuf::from(f);
        if !p.is_file() {
            v.error("captures", format!("{f:?}: no such file"));
        }
        c.captures.push(p);
    }
    if let Some(f) = v.opt_str("exchange_info") {
        let p = PathBuf::from(f);
        if !p.is_file() {
            v.error("exchange_info", format!("{f:?}: no such file"));
        }
        if kind == Some(VenueKind::Okx) {
            v.error("exchange_info", "only Binance venues serve exchangeInfo");
        }
        c.exchange_info = Some(p);
    }
    let speed = v.opt_float("speed");
    match v.opt_str("pace") {
        None | Some("fast") => c.pace = Pace::Fast,
        Some("recorded") => c.pace = Pace::Recorded,
        Some("scaled") => match speed {
            Some(f) if f > 0.0 && f.is_finite() => c.pace = Pace::Scaled(f),
            Some(f) => v.error("speed", format!("{f} must be a positive number")),
            None if !v.has("speed") => v.error("speed", "missing (required by pace = \"scaled\")"),
            None => {}
        },
        Some(other) => v.error(
            "pace",
            format!("unknown pace {other:?} (recorded, scaled, fast)"),
        ),
    }
    if speed.is_some() && !matches!(c.pace, Pace::Scaled(_)) {
        v.error("speed", "only meaningful with pace = \"scaled\"");
    }
    match v.opt_str("start") {
        None | Some("first-subscribe") => {}
        Some("immediate") => c.start = StartMode::Immediate,
        Some(other) => v.error(
            "start",
            format!("unknown start {other:?} (first-subscribe, immediate)"),
        ),
    }
    c.start_delay = ms(v, "start_delay_ms", c.start_delay);
    c.ws_port = v.opt_int("ws_port", 0, 65_535).map_or(0, |p| p as u16);
    c.rest_port = v.opt_int("rest_port", 0, 65_535).map_or(0, |p| p as u16);
    c.ping_interval = ms(v, "ping_interval_ms", c.ping_interval);
    c.pong_timeout = ms(v, "pong_timeout_ms", c.pong_timeout);
    c.idle_timeout = ms(v, "idle_timeout_ms", c.idle_timeout);
    if c.ping_interval.is_zero() {
        v.error("ping_interval_ms", "must be positive");
    }
    c.queue_frames = v
        .opt_int("queue_frames", 1, 1 << 24)
        .map_or(c.queue_frames, |q| q as usize);
    for mut f in v.tables("fault") {
        let at = f.opt_int("at", 0, i64::MAX);
        if at.is_none() && !f.has("at") {
            f.error("at", "missing");
        }
        let ms = f.opt_int("ms", 0, 3_600_000);
        let kind = match f.str("kind") {
            Some("gap") => Some(FaultKind::Gap),
            Some("disconnect") => Some(FaultKind::Disconnect),
            Some("malformed") => Some(FaultKind::Malformed),
            Some("duplicate") => Some(FaultKind::Duplicate),
            Some("pause") => match ms {
                Some(m) => Some(FaultKind::Pause(Duration::from_millis(m as u64))),
                None => {
                    if !f.has("ms") {
                        f.error("ms", "missing (required by kind = \"pause\")");
                    }
                    None
                }
            },
            Some(other) => {
                f.error(
                    "kind",
                    format!(
                        "unknown fault {other:?} (gap, pause, disconnect, malformed, duplicate)"
                    ),
                );
                None
            }
            None => None,
        };
        if ms.is_some() && !matches!(kind, Some(FaultKind::Pause(_)) | None) {
            f.error("ms", "only meaningful with kind = \"pause\"");
        }
        if let (Some(at), Some(kind)) = (at, kind) {
            c.faults.push(FaultSpec {
                at: at as u64,
                kind,
            });
        }
        errors.extend(f.finish());
    }
    for mut s in v.tables("symbol") {
        let symbol = s.str("symbol").map(str::to_ascii_uppercase);
        let tick = positive_decimal(&mut s, "tick");
        let lot = positive_decimal(&mut s, "lot");
        let min_notional = positive_decimal(&mut s, "min_notional");
        if kind == Some(VenueKind::Okx) {
            s.error("symbol", "symbol filters are only used by Binance venues");
        }
        if let Some(symbol) = symbol {
            c.symbols.push(SymbolSpec {
                symbol,
                tick,
                lot,
                min_notional,
            });
        }
        errors.extend(s.finish());
    }
    if let Some(mut p) = v.opt_table("private") {
        c.private = Some(read_private(&mut p, errors));
        errors.extend(p.finish());
    }
    // OKX keys come with a passphrase; Binance keys have none.
    for a in c.private.iter().flat_map(|p| &p.accounts) {
        let okx = kind == Some(VenueKind::Okx);
        if okx && a.passphrase.is_none() {
            v.error(
                "private",
                format!("account {:?}: passphrase is required on okx venues", a.name),
            );
        } else if !okx && a.passphrase.is_some() {
            v.error(
                "private",
                format!(
                    "account {:?}: passphrase is only used by okx venues",
                    a.name
                ),
            );
        }
    }
    kind.map(|_| c)
}

fn rate(r: &mut Reader<'_>, key: &str, default: Decimal) -> Decimal {
    match r.opt_parsed::<Decimal>(key, "decimal string") {
        None => default,
        Some(d) if d > Decimal::ONE || d < -Decimal::ONE => {
            r.error(key, format!("\"{d}\" is not a rate between -1 and 1"));
            default
        }
        Some(d) => d,
    }
}

fn read_private(p: &mut Reader<'_>, errors: &mut Vec<String>) -> PrivateConfig {
    let mut c = PrivateConfig::default();
    c.maker_fee = rate(p, "maker_fee", c.maker_fee);
    c.taker_fee = rate(p, "taker_fee", c.taker_fee);
    c.weight_per_minute = p
        .opt_int("weight_per_minute", 1, i64::MAX)
        .map_or(c.weight_per_minute, |v| v as u64);
    c.orders_per_10s = p
        .opt_int("orders_per_10s", 1, i64::MAX)
        .map_or(c.orders_per_10s, |v| v as u64);
    c.orders_per_day = p
        .opt_int("orders_per_day", 1, i64::MAX)
        .map_or(c.orders_per_day, |v| v as u64);
    c.latency = ms(p, "latency_ms", c.latency);
    for mut a in p.tables("account") {
        let name = a.str("name").unwrap_or_default().to_owned();
        let api_key = a.str("api_key").unwrap_or_default().to_owned();
        let secret = a.str("secret").unwrap_or_default().to_owned();
        let passphrase = a.opt_str("passphrase").map(str::to_owned);
        if api_key.is_empty() || !api_key.bytes().all(|b| b.is_ascii_graphic()) {
            a.error("api_key", "must be non-empty printable ASCII");
        }
        if secret.is_empty() {
            a.error("secret", "must not be empty");
        }
        let mut balances = Vec::new();
        for item in a.opt_str_array("balances").unwrap_or_default() {
            let parsed = item.split_once(':').and_then(|(asset, amount)| {
                let d = amount.trim().parse::<Decimal>().ok()?;
                let asset = asset.trim();
                (!asset.is_empty() && d >= Decimal::ZERO).then(|| (asset.to_ascii_uppercase(), d))
            });
            match parsed {
                Some(b) => balances.push(b),
                None => a.error(
                    "balances",
                    format!("{item:?} is not \"ASSET:amount\" with a non-negative amount"),
                ),
            }
        }
        if c.accounts.iter().any(|o| o.name == name) {
            a.error("name", format!("account name {name:?} is used twice"));
        } else if c.accounts.iter().any(|o| o.api_key == api_key) {
            a.error(
                "api_key",
                format!("api key of account {name:?} is used twice"),
            );
        } else {
            c.accounts.push(AccountSpec {
                name,
                api_key,
                secret,
                balances,
                passphrase,
            });
        }
        errors.extend(a.finish());
    }
    for mut f in p.tables("fault") {
        let count = f.opt_int("count", 0, i64::MAX).unwrap_or(0) as u64;
        let after = f.opt_int("after", 0, i64::MAX).unwrap_or(0) as u64;
        let by = f.opt_parsed::<Decimal>("by", "decimal string");
        let delay = f.opt_int("ms", 0, 600_000);
        let placed = f.opt_bool("placed");
        let kind = match f.str("kind") {
            Some("short_fill") => match by {
                Some(d) if d > Decimal::ZERO => Some(PrivateFaultKind::ShortFill(d)),
                Some(d) => {
                    f.error("by", format!("\"{d}\" must be positive"));
                    None
                }
                None => {
                    if !f.has("by") {
                        f.error("by", "missing (required by kind = \"short_fill\")");
                    }
                    None
                }
            },
            Some("no_fill_reports") => Some(PrivateFaultKind::NoFillReports),
            Some("duplicate_fill") => Some(PrivateFaultKind::DuplicateFill),
            Some("reject") => Some(PrivateFaultKind::Reject),
            Some("rate_limit") => Some(PrivateFaultKind::RateLimit),
            Some("http_503") => Some(PrivateFaultKind::Http503),
            Some("http_500") => Some(PrivateFaultKind::Http500),
            Some("disconnect") => Some(PrivateFaultKind::Disconnect {
                placed: placed.unwrap_or(true),
            }),
            Some("slow_ack") => match delay {
                Some(m) => Some(PrivateFaultKind::SlowAck(Duration::from_millis(m as u64))),
                None => {
                    if !f.has("ms") {
                        f.error("ms", "missing (required by kind = \"slow_ack\")");
                    }
                    None
                }
            },
            Some(other) => {
                f.error(
                    "kind",
                    format!(
                        "unknown private fault {other:?} (short_fill, no_fill_reports, \
                         duplicate_fill, reject, rate_limit, http_503, http_500, disconnect, \
                         slow_ack)"
                    ),
                );
                None
            }
            None => None,
        };
        if by.is_some() && !matches!(kind, Some(PrivateFaultKind::ShortFill(_)) | None) {
            f.error("by", "only meaningful with kind = \"short_fill\"");
        }
        if delay.is_some() && !matches!(kind, Some(PrivateFaultKind::SlowAck(_)) | None) {
            f.error("ms", "only meaningful with kind = \"slow_ack\"");
        }
        if placed.is_some() && !matches!(kind, Some(PrivateFaultKind::Disconnect { .. }) | None) {
            f.error("placed", "only meaningful with kind = \"disconnect\"");
        }
        if let Some(kind) = kind {
            c.faults.push(PrivateFault { kind, count, after });
        }
        errors.extend(f.finish());
    }
    c
}

/// A positive decimal written as a string (`"0.01"`), read exactly.
fn positive_decimal(r: &mut Reader<'_>, key: &str) -> Option<Decimal> {
    let d = r.opt_parsed::<Decimal>(key, "decimal string")?;
    if d > Decimal::ZERO {
        Some(d)
    } else {
        r.error(key, format!("\"{d}\" must be positive"));
        None
    }
}
