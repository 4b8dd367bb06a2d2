//! `[[venue]]` sections of the run config: which venue feeds to connect, where, and the
//! instruments they carry.

use std::path::PathBuf;
use std::time::Duration;

use tickwire_core::config::Section;
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::InstrumentSpec;
use tickwire_exec::venue::binance::session::{OrderEntry, UserData};
use tickwire_exec::venue::okx::TdMode;
use tickwire_exec::venue::okx::config::OkxTradingConfig;
use tickwire_exec::venue::okx::rest::OkxMarket;

/// Where a venue's endpoints are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VenueMode {
    /// The simulator embedded in this process (`[sim]` section), started by `run`.
    Sim,
    /// The venue's real hosts.
    Live,
    /// Explicit URLs (e.g. a standalone `tickwire sim`), trusting `ca_file`.
    External,
}

/// One venue feed.
#[derive(Clone, Debug)]
pub struct VenueSection {
    /// Venue (binance, binance-us, okx).
    pub venue: VenueId,
    /// The simulator's name for this venue (defaults to the venue name).
    pub sim_name: String,
    /// Where its endpoints are.
    pub mode: VenueMode,
    /// Channels to subscribe per symbol (venue spelling: `depth@100ms`, `bookTicker`, `trade`,
    /// `aggTrade`; OKX `books`, `bbo-tbt`, `trades`).
    pub channels: Vec<String>,
    /// WebSocket base URL (live default or `external`).
    pub ws_url: Option<String>,
    /// REST base URL (live default or `external`).
    pub rest_url: Option<String>,
    /// CA certificate file to trust (`external`).
    pub ca_file: Option<PathBuf>,
    /// No market data for this long makes the feed `stale`.
    pub stale_after: Duration,
    /// Levels requested in REST depth snapshots.
    pub snapshot_limit: u32,
    /// Directory of the raw frame journal for this connection (none: not recorded).
    pub raw_journal: Option<PathBuf>,
    /// The instruments, with their engine ids.
    pub instruments: Vec<InstrumentSpec>,
    /// Order entry on this venue (`trade = true`); `None` for a market-data-only venue.
    pub exec: Option<VenueExec>,
    /// `paper = true`: orders for this venue never leave the process; the in-process exchange
    /// fills them against this venue's books (market data still comes per `mode`).
    pub paper: bool,
}

/// Where a trading venue's API key and secret come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialSource {
    /// `<PREFIX>_API_KEY` / `<PREFIX>_API_SECRET` environment variables (`credentials_env`).
    Env(String),
    /// A file only its owner can read (`credentials_file`).
    File(PathBuf),
    /// `mode = "sim"` without either: the first account of the simulator venue's
    /// `[sim.venue.private]` side.
    SimAccount,
}

/// The exec keys of a `[[venue]]` with `trade = true`.
#[derive(Clone, Debug)]
pub struct VenueExec {
    /// `order_entry = "ws-api" | "rest"`.
    pub order_entry: OrderEntry,
    /// `user_data = "ws-api" | "listen-key"`.
    pub user_data: UserData,
    /// Credentials.
    pub credentials: CredentialSource,
    /// `ws_api_url` (live default `wss://ws-api.binance.com:443/ws-api/v3`; sim: its WS
    /// endpoint + `/ws-api/v3`; required with `mode = "external"` and `order_entry = "ws-api"`
    /// or `user_data = "ws-api"`).
    pub ws_api_url: Option<String>,
    /// `recv_window_ms` (1–60000, default 5000).
    pub recv_window_ms: u32,
    /// `rate_headroom_pct`: percent of each venue rate limit kept unused (0–90, default 10).
    pub rate_headroom_pct: u32,
    /// `ack_timeout_ms`: an unanswered order request becomes unknown (100–60000, default
    /// 10000). The session's `reply_timeout`.
    pub reply_timeout: Duration,
    /// OKX: the session settings from the optional `[venue.okx]` table (its `ws_url` and
    /// `rest_url` are replaced by the simulator's with `mode = "sim"`). `None` on Binance.
    pub okx: Option<OkxTradingConfig>,
}

const EXEC_KEYS: &[&str] = &[
    "order_entry",
    "user_data",
    "credentials_env",
    "credentials_file",
    "ws_api_url",
    "recv_window_ms",
    "rate_headroom_pct",
    "ack_timeout_ms",
];

/// Reads the exec keys of one `[[venue]]`.
fn read_exec(
    s: &mut Section<'_>,
    venue: Option<VenueId>,
    mode: Option<VenueMode>,
) -> Option<VenueExec> {
    if !s.opt_bool("trade").unwrap_or(false) {
        for k in EXEC_KEYS {
            if s.has(k) {
                s.error(k, "only meaningful with trade = true");
            }
        }
        return None;
    }
    let okx_venue = venue == Some(VenueId::OKX);
    if okx_venue {
        // OKX's session settings live in `[venue.okx]`; the Binance keys mean nothing there.
        for k in [
            "order_entry",
            "user_data",
            "ws_api_url",
            "recv_window_ms",
            "rate_headroom_pct",
            "ack_timeout_ms",
        ] {
            if s.has(k) {
                s.error(
                    k,
                    "a Binance key; OKX sessions are configured in [venue.okx]",
                );
            }
        }
    }
    let order_entry = match s.opt_str("order_entry").unwrap_or("ws-api") {
        "ws-api" => Some(OrderEntry::WsApi),
        "rest" => Some(OrderEntry::Rest),
        other => {
            s.error(
                "order_entry",
                format!("{other:?} is not one of ws-api, rest"),
            );
            None
        }
    };
    let user_data = match s.opt_str("user_data").unwrap_or("ws-api") {
        "ws-api" => Some(UserData::WsApi),
        "listen-key" => Some(UserData::ListenKey),
        other => {
            s.error(
                "user_data",
                format!("{other:?} is not one of ws-api, listen-key"),
            );
            None
        }
    };
    let env = s.opt_str("credentials_env").map(str::to_owned);
    let file = s.opt_str("credentials_file").map(PathBuf::from);
    let credentials = match (env, file) {
        (Some(_), Some(_)) => {
            s.error(
                "credentials_file",
                "give credentials_env or credentials_file, not both",
            );
            None
        }
        (Some(e), None) => {
            if e.is_empty()
                || !e
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            {
                s.error(
                    "credentials_env",
                    format!("{e:?} is not an environment variable prefix (A-Z, 0-9, _)"),
                );
            }
            Some(CredentialSource::Env(e))
        }
        (None, Some(f)) => Some(CredentialSource::File(f)),
        (None, None) if mode == Some(VenueMode::Sim) => Some(CredentialSource::SimAccount),
        (None, None) => {
            s.error(
                "credentials_env",
                "trading needs credentials_env or credentials_file",
            );
            None
        }
    };
    let ws_api_url = s.opt_str("ws_api_url").map(str::to_owned);
    let needs_ws_api = order_entry == Some(OrderEntry::WsApi) || user_data == Some(UserData::WsApi);
    if !okx_venue && mode == Some(VenueMode::External) && needs_ws_api && ws_api_url.is_none() {
        s.error(
            "ws_api_url",
            "required when mode = \"external\" uses the WebSocket API",
        );
    }
    let recv_window_ms = s.int_or("recv_window_ms", 1, 60_000, 5_000) as u32;
    let rate_headroom_pct = s.int_or("rate_headroom_pct", 0, 90, 10) as u32;
    let reply_timeout =
        Duration::from_millis(s.int_or("ack_timeout_ms", 100, 60_000, 10_000) as u64);
    Some(VenueExec {
        order_entry: order_entry?,
        user_data: user_data?,
        credentials: credentials?,
        ws_api_url,
        recv_window_ms,
        rate_headroom_pct,
        reply_timeout,
        okx: None,
    })
}

/// OKX markets of a venue's instruments: spot `BASE-QUOTE` ids, cash mode.
fn okx_markets(instruments: &[InstrumentSpec]) -> Vec<OkxMarket> {
    instruments
        .iter()
        .map(|i| OkxMarket {
            id: i.id,
            inst_id: i.symbol.clone(),
            quote: i.symbol.rsplit('-').next().unwrap_or_default().to_owned(),
            td_mode: TdMode::Cash,
            inst_code: None,
        })
        .collect()
}

const BINANCE_CHANNELS: &[&str] = &["depth@100ms", "depth", "bookTicker", "trade", "aggTrade"];
const OKX_CHANNELS: &[&str] = &["books", "bbo-tbt", "trades"];

impl VenueSection {
    /// Live endpoints for the venue.
    pub fn live_urls(venue: VenueId) -> Option<(&'static str, &'static str)> {
        match venue {
            VenueId::BINANCE => Some(("wss://stream.binance.com:9443", "https://api.binance.com")),
            VenueId::BINANCE_US => Some(("wss://stream.binance.us:9443", "https://api.binance.us")),
            VenueId::OKX => Some(("wss://ws.okx.com:8443", "https://www.okx.com")),
            _ => None,
        }
    }
}

/// Reads one `[[venue]]` section; `first_id` is the engine id of its first instrument.
pub fn read_venue(s: &mut Section<'_>, first_id: u32) -> Option<VenueSection> {
    let name = s.str("venue");
    let venue = name.and_then(|n| {
        let v = VenueId::from_name(n).filter(|v| VenueSection::live_urls(*v).is_some());
        if v.is_none() {
            s.error(
                "venue",
                format!("{n:?} is not a venue tickwire connects to (binance, binance-us, okx)"),
            );
        }
        v
    });
    let mode = match s.opt_str("mode").unwrap_or("sim") {
        "sim" => Some(VenueMode::Sim),
        "live" => Some(VenueMode::Live),
        "external" => Some(VenueMode::External),
        other => {
            s.error(
                "mode",
                format!("{other:?} is not one of sim, live, external"),
            );
            None
        }
    };
    let sim_name = s
        .opt_str("sim_name")
        .or(name)
        .unwrap_or_default()
        .to_owned();
    let known: &[&str] = match venue {
        Some(VenueId::OKX) => OKX_CHANNELS,
        _ => BINANCE_CHANNELS,
    };
    let channels: Vec<String> = match s.opt_str_array("channels") {
        Some(list) => {
            for c in &list {
                if !known.contains(c) {
                    s.error(
                        "channels",
                        format!("unknown channel {c:?} (known: {})", known.join(", ")),
                    );
                }
            }
            list.into_iter().map(str::to_owned).collect()
        }
        None if venue == Some(VenueId::OKX) => vec!["books".into(), "trades".into()],
        None => vec!["depth@100ms".into(), "bookTicker".into(), "trade".into()],
    };
    let ws_url = s.opt_str("ws_url").map(str::to_owned);
    let rest_url = s.opt_str("rest_url").map(str::to_owned);
    let ca_file = s.opt_str("ca_file").map(PathBuf::from);
    if mode == Some(VenueMode::External) && ws_url.is_none() {
        s.error("ws_url", "required when mode = \"external\"");
    }
    let stale_after = Duration::from_millis(s.int_or("stale_ms", 10, 3_600_000, 5_000) as u64);
    let snapshot_limit = s.int_or("snapshot_limit", 1, 5000, 1000) as u32;
    let raw_journal = s.opt_str("raw_journal").map(PathBuf::from);
    let paper = s.opt_bool("paper").unwrap_or(false);
    if paper && s.opt_bool("trade").unwrap_or(false) {
        s.error(
            "trade",
            "paper = true fills orders in-process; it cannot also trade = true",
        );
    }
    let exec = if paper {
        for k in EXEC_KEYS {
            if s.has(k) {
                s.error(
                    k,
                    "not meaningful with paper = true (orders stay in-process)",
                );
            }
        }
        None
    } else {
        read_exec(s, venue, mode)
    };
    let mut instruments = Vec::new();
    let tables = s.tables("instrument");
    if tables.is_empty() {
        s.error(
            "instrument",
            "at least one [[venue.instrument]] is required",
        );
    }
    for (i, mut inst) in tables.into_iter().enumerate() {
        let symbol = inst.str("symbol");
        let tick = inst.px("tick");
        let lot = inst.qty("lot");
        let min_qty = inst.qty("min_qty");
        let min_notional = inst.opt_parsed("min_notional", "decimal");
        let errors = inst.finish();
        let ok = errors.is_empty();
        s.absorb(errors);
        if let (true, Some(venue), Some(symbol), Some(tick), Some(lot), Some(min_qty)) =
            (ok, venue, symbol, tick, lot, min_qty)
        {
            let spec = InstrumentSpec {
                id: InstrumentId(first_id + i as u32),
                venue,
                symbol: symbol.to_owned(),
                tick,
                lot,
                min_qty,
                min_notional: min_notional.unwrap_or_default(),
            };
            match spec.validate() {
                Ok(()) => instruments.push(spec),
                Err(e) => s.error("instrument", format!("{symbol}: {e}")),
            }
        }
    }
    let mut exec = exec;
    if let Some(e) = exec.as_mut()
        && venue == Some(VenueId::OKX)
    {
        let markets = okx_markets(&instruments);
        let empty = toml::Table::new();
        let mut t = s
            .opt_table("okx")
            .unwrap_or_else(|| Section::new(s.key_path("okx"), &empty));
        e.okx = Some(OkxTradingConfig::read(&mut t, markets));
        s.absorb(t.finish());
    } else if s.has("okx") {
        s.error("okx", "only meaningful on an okx venue with trade = true");
    }
    Some(VenueSection {
        venue: venue?,
        sim_name,
        mode: mode?,
        channels,
        ws_url,
        rest_url,
        ca_file,
        stale_after,
        snapshot_limit,
        raw_journal,
        instruments,
        exec,
        paper,
    })
}
