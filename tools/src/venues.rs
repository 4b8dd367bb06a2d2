//! The venue factory: what a trading venue builds for a run — its order-entry session, the
//! poller's independent view of it, and the order-state queries a resumed run verifies
//! restored orders with — behind one trait, [`TradingVenue`], with one implementation per venue
//! protocol and one table, [`trading_venue`], that picks it. `run.rs` assembles threads and
//! rings and knows no venue; a new venue is one implementation and one line in that table.

use std::sync::Arc;

use tickwire_core::ids::VenueId;
use tickwire_exec::credentials::{Credentials, Secret};
use tickwire_exec::queries::VenueQueries;
use tickwire_exec::reconcile::{PollerVenue, ReconcileConfig, ViewConfig};
use tickwire_exec::session::VenueSession;
use tickwire_exec::venue::binance::session::{
    BinanceInstrumentSpec, BinanceSession, BinanceSessionConfig,
};
use tickwire_exec::venue::binance::{BinanceInstrument, BinanceQueries, VenueClock};
use tickwire_exec::venue::okx::{OkxEncoder, OkxTradingConfig};
use tickwire_sim::{EndpointKind, SimHandle};

use crate::Failure;
use crate::clock::mono_ns;
use crate::config::RunConfig;
use crate::venue_config::{CredentialSource, VenueExec, VenueMode, VenueSection};

/// Where one trading venue is reached this run, and how it is configured.
pub(crate) struct TradingSetup<'a> {
    /// The venue's `[[venue]]` section.
    pub venue: &'a VenueSection,
    /// Its trading settings (`trade = true`).
    pub exec: &'a VenueExec,
    /// The whole run config (credentials of the embedded simulator's accounts).
    pub cfg: &'a RunConfig,
    /// WebSocket base URL, when the venue serves private streams on the market-data host
    /// (the simulator, an external venue); `None` for the venue's own live hosts.
    pub ws_base: Option<String>,
    /// REST base URL.
    pub rest: String,
    /// TLS trust for this venue's hosts.
    pub tls: Arc<rustls::ClientConfig>,
}

impl TradingSetup<'_> {
    fn fail(&self, what: impl std::fmt::Display) -> Failure {
        Failure::new(format!("venue {}: {what}", self.venue.venue))
    }

    fn credentials(&self) -> Result<Credentials, Failure> {
        credentials(self.venue, &self.exec.credentials, self.cfg)
    }
}

/// One venue protocol's order-entry side, as a run builds it.
pub(crate) trait TradingVenue: Sync {
    /// The exec thread's order-entry session.
    fn session(&self, t: &TradingSetup<'_>) -> Result<Box<dyn VenueSession>, Failure>;
    /// The reconciliation poller's independent view of the venue, on REST clients of its own.
    fn poller(&self, t: &TradingSetup<'_>, view: ViewConfig) -> Result<PollerVenue, Failure>;
    /// Order-state queries on a REST client of their own (restart verification).
    fn queries(&self, t: &TradingSetup<'_>) -> Result<Box<dyn VenueQueries>, Failure>;
}

/// Binance spot and Binance.US: WS-API or REST order entry, user-data streams.
struct Binance;
/// OKX: private WebSocket order entry with REST fallback.
struct Okx;

/// The trading implementation of a venue; `None` for a venue tickwire cannot trade.
pub(crate) fn trading_venue(venue: VenueId) -> Option<&'static dyn TradingVenue> {
    match venue {
        VenueId::BINANCE | VenueId::BINANCE_US => Some(&Binance),
        VenueId::OKX => Some(&Okx),
        _ => None,
    }
}

/// The setup of a trading venue: its endpoints and trust for this run's mode.
pub(crate) fn setup<'a>(
    v: &'a VenueSection,
    cfg: &'a RunConfig,
    sim: Option<&SimHandle>,
) -> Result<(TradingSetup<'a>, &'static dyn TradingVenue), Failure> {
    let fail = |what: String| Failure::new(format!("venue {}: {what}", v.venue));
    let Some(exec) = &v.exec else {
        return Err(fail("not a trading venue".into()));
    };
    let kind = trading_venue(v.venue).ok_or_else(|| fail("cannot be traded".into()))?;
    let (ws_base, rest, tls) = trading_endpoints(v, sim)?;
    Ok((
        TradingSetup {
            venue: v,
            exec,
            cfg,
            ws_base,
            rest,
            tls,
        },
        kind,
    ))
}

/// What the trading venues start: the exec thread's sessions (with their names) and, when
/// `[reconcile]` is on, the poller's independent view of each venue.
pub(crate) struct Trading {
    /// One order-entry session per trading venue, in config order.
    pub sessions: Vec<Box<dyn VenueSession>>,
    /// Each session's venue name.
    pub names: Vec<String>,
    /// The poller's views (empty without `[reconcile]`).
    pub pollers: Vec<PollerVenue>,
}

/// One session per venue with `trade = true`, configured from its section, and (with
/// `reconcile`) one poller view per trading venue on its own REST clients.
pub(crate) fn start_sessions(
    cfg: &RunConfig,
    sim: Option<&SimHandle>,
    reconcile: Option<&ReconcileConfig>,
    wall_start_ns: i64,
) -> Result<Trading, Failure> {
    let mut out = Trading {
        sessions: Vec::new(),
        names: Vec::new(),
        pollers: Vec::new(),
    };
    for v in cfg.venues.iter().filter(|v| v.exec.is_some()) {
        let (t, kind) = setup(v, cfg, sim)?;
        out.sessions.push(kind.session(&t)?);
        if let Some(rc) = reconcile {
            let ids = v.instruments.iter().map(|i| i.id).collect();
            out.pollers
                .push(kind.poller(&t, rc.view(ids, wall_start_ns))?);
        }
        out.names.push(v.venue.to_string());
    }
    Ok(out)
}

/// Order-state queries of a trading venue on a REST client of their own, configured like its
/// session: used to verify restored orders before a resumed run trades.
pub(crate) fn venue_queries(
    v: &VenueSection,
    cfg: &RunConfig,
    sim: Option<&SimHandle>,
) -> Result<Box<dyn VenueQueries>, Failure> {
    let (t, kind) = setup(v, cfg, sim)?;
    kind.queries(&t)
}

impl TradingVenue for Binance {
    fn session(&self, t: &TradingSetup<'_>) -> Result<Box<dyn VenueSession>, Failure> {
        let (v, exec) = (t.venue, t.exec);
        let instruments: Vec<BinanceInstrumentSpec> = v
            .instruments
            .iter()
            .map(|i| BinanceInstrumentSpec {
                id: i.id,
                symbol: i.symbol.clone(),
                quote: quote_of(&i.symbol).to_owned(),
                px_decimals: decimals(i.tick.raw()),
                qty_decimals: decimals(i.lot.raw()),
            })
            .collect();
        let mut sc =
            BinanceSessionConfig::binance_spot(v.venue, instruments, Arc::clone(&t.tls), mono_ns);
        sc.name = v.venue.to_string();
        sc.rest_url = t.rest.clone();
        sc.order_entry = exec.order_entry;
        sc.user_data = exec.user_data;
        sc.recv_window_ms = exec.recv_window_ms;
        sc.rate_headroom_pct = exec.rate_headroom_pct;
        sc.reply_timeout = exec.reply_timeout;
        if v.venue == VenueId::BINANCE_US {
            sc.ws_api_url = "wss://ws-api.binance.us:443/ws-api/v3".into();
            sc.stream_url = "wss://stream.binance.us:9443".into();
        }
        if let Some(ws) = &t.ws_base {
            // The simulator (and an external venue) serve the WS API and the user-data
            // streams on the market-data host.
            sc.ws_api_url = format!("{}/ws-api/v3", ws.trim_end_matches('/'));
            sc.stream_url = ws.clone();
        }
        if let Some(url) = &exec.ws_api_url {
            sc.ws_api_url = url.clone();
        }
        let session = BinanceSession::start(sc, &t.credentials()?).map_err(|e| t.fail(e))?;
        Ok(Box::new(session))
    }

    fn poller(&self, t: &TradingSetup<'_>, view: ViewConfig) -> Result<PollerVenue, Failure> {
        let q =
            binance_queries(t, &t.credentials()?).map_err(|e| t.fail(format!("reconcile: {e}")))?;
        Ok(PollerVenue {
            queries: Box::new(q),
            balances: None,
            view,
        })
    }

    fn queries(&self, t: &TradingSetup<'_>) -> Result<Box<dyn VenueQueries>, Failure> {
        let q = binance_queries(t, &t.credentials()?).map_err(|e| t.fail(e))?;
        Ok(Box::new(q))
    }
}

impl TradingVenue for Okx {
    fn session(&self, t: &TradingSetup<'_>) -> Result<Box<dyn VenueSession>, Failure> {
        let (okx, encoder) = okx_setup(t)?;
        let session = okx
            .session(encoder, Arc::clone(&t.tls), mono_ns)
            .map_err(|e| t.fail(e))?;
        Ok(Box::new(session))
    }

    fn poller(&self, t: &TradingSetup<'_>, view: ViewConfig) -> Result<PollerVenue, Failure> {
        let (okx, encoder) = okx_setup(t)?;
        okx.poller_venue(&encoder, &t.tls, mono_ns, view)
            .map_err(|e| t.fail(e))
    }

    fn queries(&self, t: &TradingSetup<'_>) -> Result<Box<dyn VenueQueries>, Failure> {
        let (okx, encoder) = okx_setup(t)?;
        let q = okx
            .queries(&encoder, &t.tls, mono_ns)
            .map_err(|e| t.fail(e))?;
        Ok(Box::new(q))
    }
}

/// Decimals of a tick or lot written in 9-decimal fixed point (`0.01` → 2).
fn decimals(raw: i64) -> u32 {
    let mut d = 9;
    let mut v = raw;
    while d > 0 && v != 0 && v % 10 == 0 {
        v /= 10;
        d -= 1;
    }
    d
}

/// The quote asset of a Binance symbol, by the quote assets Binance lists (longest first);
/// "" when none matches (fees are then not booked as quote).
fn quote_of(symbol: &str) -> &'static str {
    const QUOTES: &[&str] = &[
        "FDUSD", "USDT", "USDC", "TUSD", "BUSD", "USD", "BTC", "ETH", "BNB", "EUR", "TRY", "BRL",
        "JPY",
    ];
    QUOTES
        .iter()
        .find(|q| symbol.len() > q.len() && symbol.ends_with(*q))
        .copied()
        .unwrap_or("")
}

/// The credentials of a trading venue (never printed).
fn credentials(
    v: &VenueSection,
    src: &CredentialSource,
    cfg: &RunConfig,
) -> Result<Credentials, Failure> {
    let err = |e: tickwire_exec::credentials::CredentialsError| {
        Failure::new(format!("venue {}: credentials: {e}", v.venue))
    };
    // OKX keys come with a passphrase.
    let okx = v.venue == VenueId::OKX;
    match src {
        CredentialSource::Env(prefix) => Credentials::from_env(prefix, okx).map_err(err),
        CredentialSource::File(path) => Credentials::from_file(path, okx).map_err(err),
        CredentialSource::SimAccount => {
            let account = cfg
                .sim
                .as_ref()
                .and_then(|s| s.venues.iter().find(|sv| sv.name == v.sim_name))
                .and_then(|sv| sv.private.as_ref())
                .and_then(|p| p.accounts.first())
                .ok_or_else(|| {
                    Failure::new(format!(
                        "venue {}: trading against the simulator needs a [sim.venue.private] account (or credentials_env / credentials_file)",
                        v.venue
                    ))
                })?;
            Ok(Credentials {
                api_key: Secret::new(account.api_key.clone()),
                api_secret: Secret::new(account.secret.clone()),
                passphrase: account.passphrase.clone().map(Secret::new),
            })
        }
    }
}

/// The endpoints and TLS trust of one trading venue: WebSocket base (if known), REST base.
fn trading_endpoints(
    v: &VenueSection,
    sim: Option<&SimHandle>,
) -> Result<(Option<String>, String, Arc<rustls::ClientConfig>), Failure> {
    let fail = |what: String| Failure::new(format!("venue {}: {what}", v.venue));
    let tls_err = |e: tickwire_net::TlsConfigError| fail(e.to_string());
    Ok(match v.mode {
        VenueMode::Sim => {
            let sim = sim.ok_or_else(|| fail("embedded simulator not started".into()))?;
            let ws = sim
                .endpoint(&v.sim_name, EndpointKind::Ws)
                .ok_or_else(|| fail(format!("simulator has no venue {:?}", v.sim_name)))?;
            let rest = sim
                .endpoint(&v.sim_name, EndpointKind::Rest)
                .ok_or_else(|| fail("simulator venue has no REST endpoint".into()))?;
            let tls = tickwire_net::tls::client_config_from_ca_pem(sim.ca_pem().as_bytes())
                .map_err(tls_err)?;
            (Some(ws.to_owned()), rest.to_owned(), tls)
        }
        VenueMode::Live => {
            let (_, rest) =
                VenueSection::live_urls(v.venue).ok_or_else(|| fail("no live endpoints".into()))?;
            let tls = tickwire_net::tls::client_config_webpki().map_err(tls_err)?;
            (
                None,
                v.rest_url.clone().unwrap_or_else(|| rest.to_owned()),
                tls,
            )
        }
        VenueMode::External => {
            let tls = match &v.ca_file {
                Some(p) => tickwire_net::tls::client_config_from_ca_file(p).map_err(tls_err)?,
                None => tickwire_net::tls::client_config_webpki().map_err(tls_err)?,
            };
            let rest = v
                .rest_url
                .clone()
                .ok_or_else(|| fail("rest_url is required for trading".into()))?;
            (v.ws_url.clone(), rest, tls)
        }
    })
}

/// An OKX trading venue's settings with the endpoints this run uses, and its request encoder
/// (credentials from the `[venue.okx]` file, else the venue's credential source).
fn okx_setup(t: &TradingSetup<'_>) -> Result<(OkxTradingConfig, OkxEncoder), Failure> {
    let Some(okx) = &t.exec.okx else {
        return Err(t.fail("an OKX trading venue needs its [venue.okx] settings"));
    };
    let mut okx = okx.clone();
    if t.venue.mode != VenueMode::Live {
        // The simulator (and an external venue) serve the private WebSocket on the
        // market-data host, and REST on its REST host.
        if let Some(ws) = &t.ws_base {
            okx.session.ws_url = format!("{}/ws/v5/private", ws.trim_end_matches('/'));
        }
        okx.session.rest_url = t.rest.clone();
    }
    let encoder = if okx.credentials_file.is_some() {
        okx.encoder().map_err(|e| t.fail(e))?
    } else {
        let c = t.credentials()?;
        let pass = c
            .passphrase
            .clone()
            .ok_or_else(|| t.fail("OKX credentials need a passphrase (_PASSPHRASE)"))?;
        OkxEncoder::new(c.api_key.expose(), c.api_secret.expose().as_bytes(), pass)
            .map_err(|e| t.fail(format!("credentials unusable: {e}")))?
    };
    Ok((okx, encoder))
}

/// Signed REST queries of a Binance trading venue, with the server-time offset measured
/// (signed queries carry the venue's time; without the offset they may be refused).
fn binance_queries(t: &TradingSetup<'_>, creds: &Credentials) -> Result<BinanceQueries, String> {
    let v = t.venue;
    let instruments = v
        .instruments
        .iter()
        .map(|i| BinanceInstrument {
            id: i.id,
            symbol: i.symbol.clone(),
            quote: quote_of(&i.symbol).to_owned(),
        })
        .collect();
    let mut q = BinanceQueries::new(
        v.venue,
        &t.rest,
        Arc::clone(&t.tls),
        creds,
        instruments,
        VenueClock::new(),
        mono_ns,
        t.exec.recv_window_ms,
    )
    .map_err(|e| e.to_string())?;
    if let Err(e) = q.sync_time() {
        errln!("warning: venue {}: server time: {e}", v.venue);
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_of_fixed_point_steps() {
        assert_eq!(decimals(10_000_000), 2); // 0.01
        assert_eq!(decimals(1_000), 6); // 0.000001
        assert_eq!(decimals(1_000_000_000), 0); // 1
        assert_eq!(decimals(1), 9);
    }

    #[test]
    fn quote_assets_longest_first() {
        assert_eq!(quote_of("BTCFDUSD"), "FDUSD");
        assert_eq!(quote_of("BTCUSDT"), "USDT");
        assert_eq!(quote_of("ETHBTC"), "BTC");
        assert_eq!(quote_of("USDT"), "");
    }

    #[test]
    fn every_live_venue_can_be_traded_and_others_cannot() {
        for v in [VenueId::BINANCE, VenueId::BINANCE_US, VenueId::OKX] {
            assert!(trading_venue(v).is_some(), "{v}");
        }
        assert!(trading_venue(VenueId::SYNTHETIC).is_none());
    }
}
