//! `[[venue]]` sections of the run config: which venue feeds to connect, where, and the
//! instruments they carry.

use std::path::PathBuf;
use std::time::Duration;

use tickwire_core::config::Section;
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::InstrumentSpec;

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
#[derive(Clone, Debug, PartialEq, Eq)]
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
    })
}
