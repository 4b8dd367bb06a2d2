//! The OKX trading config section (the lead's `tickwire run` hands in the table, e.g.
//! `[okx.trading]`), read with the strict [`Section`] reader, and the start-up helpers that
//! turn it into a session and the poller's queries.
//!
//! ```toml
//! ws_url = "wss://ws.okx.com:8443/ws/v5/private"   # default
//! rest_url = "https://www.okx.com"                  # default
//! inst_type = "SPOT"                                # SPOT (default) or MARGIN
//! op_timeout_ms = 5000        # session `reply_timeout`: unanswered op → Unknown(Timeout);
//!                             # also the login/subscribe limit
//! ping_after_ms = 20000       # text `ping` after this long without receiving
//! rate_limit = 50             # per op kind per instrument per window (OKX allows 60 / 2 s)
//! rate_window_ms = 2000
//! rate_backoff_ms = 2000      # pause after the venue says 50011
//! rest_fallback = true        # orders over REST while the WebSocket is down
//! resolve_delay_ms = 500      # first status query of an unknown order
//! resolve_attempts = 5
//! chase_fill_debt = true      # fetch an order's fills when a push shows fills without them
//! credentials_file = "..."    # optional; else OKX_API_KEY / OKX_API_SECRET / OKX_PASSPHRASE
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use tickwire_core::config::Section;
use tickwire_core::ids::VenueId;

use super::encode::OkxEncoder;
use super::queries::OkxQueries;
use super::rest::{OkxMarket, OkxRest};
use super::session::{OkxSession, OkxSessionConfig, SessionError};
use crate::credentials::{Credentials, CredentialsError};
use crate::reconcile::{PollerVenue, ViewConfig};

/// The trading section: session settings and where the credentials come from.
#[derive(Clone, Debug)]
pub struct OkxTradingConfig {
    /// Session settings.
    pub session: OkxSessionConfig,
    /// Credentials file (mode 0600); none reads the environment.
    pub credentials_file: Option<PathBuf>,
}

/// Why OKX trading could not start (never carries a secret).
#[derive(Debug)]
pub enum OkxStartError {
    /// Credentials missing or unreadable.
    Credentials(CredentialsError),
    /// The key or passphrase cannot be used in a request.
    Encode(crate::venue::EncodeError),
    /// The session could not be built.
    Session(SessionError),
    /// A REST client could not be built.
    Net(tickwire_net::NetError),
}

impl core::fmt::Display for OkxStartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Credentials(e) => write!(f, "okx credentials: {e}"),
            Self::Encode(e) => write!(f, "okx credentials unusable: {e}"),
            Self::Session(e) => write!(f, "{e}"),
            Self::Net(e) => write!(f, "okx rest client: {e}"),
        }
    }
}

impl std::error::Error for OkxStartError {}

impl OkxTradingConfig {
    /// Reads the section for `markets`; errors are recorded in `s`.
    pub fn read(s: &mut Section<'_>, markets: Vec<OkxMarket>) -> Self {
        let d = OkxSessionConfig::new(
            "wss://ws.okx.com:8443/ws/v5/private",
            "https://www.okx.com",
            markets,
        );
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let millis = |v: i64| Duration::from_millis(u64::try_from(v).unwrap_or(0));
        let mut c = d.clone();
        if let Some(u) = s.opt_str("ws_url") {
            if u.starts_with("wss://") {
                c.ws_url = u.to_owned();
            } else {
                s.error("ws_url", "expected a wss:// URL");
            }
        }
        if let Some(u) = s.opt_str("rest_url") {
            if u.starts_with("https://") {
                c.rest_url = u.to_owned();
            } else {
                s.error("rest_url", "expected an https:// URL");
            }
        }
        match s.opt_str("inst_type") {
            None | Some("SPOT") => c.inst_type = "SPOT",
            Some("MARGIN") => c.inst_type = "MARGIN",
            Some(other) => s.error(
                "inst_type",
                format!("expected SPOT or MARGIN, found {other:?}"),
            ),
        }
        c.reply_timeout = millis(s.int_or("op_timeout_ms", 100, 60_000, ms(d.reply_timeout)));
        c.ping_after = millis(s.int_or("ping_after_ms", 1000, 29_000, ms(d.ping_after)));
        c.rate_limit = usize::try_from(s.int_or("rate_limit", 1, 60, d.rate_limit as i64))
            .unwrap_or(d.rate_limit);
        c.rate_window = millis(s.int_or("rate_window_ms", 100, 60_000, ms(d.rate_window)));
        c.rate_backoff = millis(s.int_or("rate_backoff_ms", 0, 600_000, ms(d.rate_backoff)));
        c.rest_fallback = s.opt_bool("rest_fallback").unwrap_or(d.rest_fallback);
        c.resolve_delay = millis(s.int_or("resolve_delay_ms", 0, 60_000, ms(d.resolve_delay)));
        c.resolve_attempts =
            u32::try_from(s.int_or("resolve_attempts", 1, 100, i64::from(d.resolve_attempts)))
                .unwrap_or(d.resolve_attempts);
        c.chase_fill_debt = s.opt_bool("chase_fill_debt").unwrap_or(d.chase_fill_debt);
        let credentials_file = s.opt_str("credentials_file").map(PathBuf::from);
        Self {
            session: c,
            credentials_file,
        }
    }

    /// Loads the credentials (file or `OKX_*` environment) into an encoder.
    pub fn encoder(&self) -> Result<OkxEncoder, OkxStartError> {
        let creds = match &self.credentials_file {
            Some(p) => Credentials::from_file(p, true),
            None => Credentials::from_env("OKX", true),
        }
        .map_err(OkxStartError::Credentials)?;
        let pass = creds
            .passphrase
            .clone()
            .unwrap_or_else(|| crate::credentials::Secret::new(""));
        OkxEncoder::new(
            creds.api_key.expose(),
            creds.api_secret.expose().as_bytes(),
            pass,
        )
        .map_err(OkxStartError::Encode)
    }

    /// The order-entry session (for the exec thread).
    pub fn session(
        &self,
        encoder: OkxEncoder,
        tls: Arc<ClientConfig>,
        clock: fn() -> u64,
    ) -> Result<OkxSession, OkxStartError> {
        OkxSession::new(self.session.clone(), encoder, tls, clock).map_err(OkxStartError::Session)
    }

    /// Order-state queries of this venue on a REST client of their own (restart verification,
    /// the reconciliation poller).
    pub fn queries(
        &self,
        encoder: &OkxEncoder,
        tls: &Arc<ClientConfig>,
        clock: fn() -> u64,
    ) -> Result<OkxQueries, OkxStartError> {
        let s = &self.session;
        OkxRest::new(
            &s.rest_url,
            Arc::clone(tls),
            s.http.clone(),
            encoder.clone(),
        )
        .map(|rest| OkxQueries::new(s.venue, rest, s.markets.clone(), s.inst_type, clock))
        .map_err(OkxStartError::Net)
    }

    /// The reconciliation poller's view of this venue: its own REST clients (one for the
    /// queries, one for the balances), never the session's.
    pub fn poller_venue(
        &self,
        encoder: &OkxEncoder,
        tls: &Arc<ClientConfig>,
        clock: fn() -> u64,
        view: ViewConfig,
    ) -> Result<PollerVenue, OkxStartError> {
        Ok(PollerVenue {
            queries: Box::new(self.queries(encoder, tls, clock)?),
            balances: Some(Box::new(self.queries(encoder, tls, clock)?)),
            view,
        })
    }

    /// The venue.
    pub fn venue(&self) -> VenueId {
        self.session.venue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::okx::TdMode;
    use tickwire_core::ids::InstrumentId;

    fn markets() -> Vec<OkxMarket> {
        vec![OkxMarket {
            id: InstrumentId(1),
            inst_id: "BTC-USDT".into(),
            quote: "USDT".into(),
            td_mode: TdMode::Cash,
            inst_code: None,
        }]
    }

    fn read(text: &str) -> (OkxTradingConfig, Vec<String>) {
        let table: toml::Table = text.parse().expect("toml");
        let mut s = Section::new("okx.trading", &table);
        let c = OkxTradingConfig::read(&mut s, markets());
        (c, s.finish())
    }

    #[test]
    fn defaults_and_values() {
        let (c, errors) = read("");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(c.session.ws_url, "wss://ws.okx.com:8443/ws/v5/private");
        assert_eq!(c.session.reply_timeout, Duration::from_secs(5));
        assert_eq!((c.session.rate_limit, c.session.inst_type), (50, "SPOT"));
        assert!(c.credentials_file.is_none());
        let (c, errors) = read(
            "ws_url = \"wss://127.0.0.1:9/ws/v5/private\"\nrest_url = \"https://127.0.0.1:9\"\n\
             rate_limit = 10\nrate_window_ms = 1000\nrest_fallback = false\n\
             credentials_file = \"okx.keys\"\nop_timeout_ms = 3000\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(c.session.rest_url, "https://127.0.0.1:9");
        // The session's `reply_timeout` keeps the key users' configs have.
        assert_eq!(c.session.reply_timeout, Duration::from_secs(3));
        assert_eq!(c.session.rate_limit, 10);
        assert_eq!(c.session.rate_window, Duration::from_secs(1));
        assert!(!c.session.rest_fallback);
        assert_eq!(c.credentials_file, Some(PathBuf::from("okx.keys")));
    }

    #[test]
    fn every_problem_is_reported() {
        let (_, errors) = read(
            "ws_url = \"http://x\"\ninst_type = \"SWAP\"\nrate_limit = 61\nping_after_ms = 30000\n\
             password = \"x\"\n",
        );
        assert_eq!(errors.len(), 5, "{errors:?}");
        // Nothing in the messages echoes a value that could be a secret.
        assert!(errors.iter().all(|e| !e.contains("\"x\"")), "{errors:?}");
    }
}
