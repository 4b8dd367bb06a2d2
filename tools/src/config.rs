//! The run config (TOML): engine, journal, synthetic market, simulated exchange, strategies.
//!
//! Every problem in a config is reported at once (see `tickwire_core::config::Section`), and
//! unknown keys are errors: a typo in a risk limit must not silently fall back to a default.
//! The exact text is journaled so `replay` rebuilds the same engine.

use std::path::Path;
use std::time::Duration;

use rust_decimal::Decimal;
use tickwire_core::config::Section;
use tickwire_core::engine::{Engine, EngineConfig, Strategy};
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::InstrumentSpec;
use tickwire_core::risk::RiskConfig;
use tickwire_core::topology::Topology;
use tickwire_core::wait::WaitPolicy;
use tickwire_exec::sim_exchange::FeeSchedule;
use tickwire_feeds::synthetic::SyntheticInstrument;
use tickwire_sim::{SimConfig, SimError};

use crate::venue_config::{VenueMode, VenueSection, read_venue};
use tickwire_exec::reconcile::ReconcileConfig;

/// Engine and threading settings (`[engine]`).
#[derive(Clone, Debug)]
pub struct EngineSection {
    /// Thread topology.
    pub topology: Topology,
    /// Wait policy of the hot threads.
    pub wait: WaitPolicy,
    /// Capacity of each ring.
    pub ring_capacity: usize,
    /// Maximum open orders.
    pub max_open_orders: usize,
    /// Book levels reserved per side.
    pub book_depth: usize,
    /// Timer tick interval (0 disables timer ticks).
    pub timer_interval: Duration,
}

/// Journal settings (`[journal]`).
#[derive(Clone, Debug)]
pub struct JournalSection {
    /// Segment size in bytes.
    pub segment_bytes: u64,
    /// Background flush interval.
    pub flush_interval: Duration,
}

/// The synthetic market (`[synthetic]` and `[[instrument]]`).
#[derive(Clone, Debug)]
pub struct SyntheticSection {
    /// Generator seed.
    pub seed: u64,
    /// Market events to generate (0 = until stopped).
    pub events: u64,
    /// Events per second (0 = as fast as the pipeline takes them).
    pub rate: u64,
    /// Instruments.
    pub instruments: Vec<SyntheticInstrument>,
}

/// The in-process simulated exchange (`[exchange]`).
#[derive(Clone, Debug)]
pub struct ExchangeSection {
    /// Fee rates.
    pub fees: FeeSchedule,
    /// Resting order capacity.
    pub max_resting: usize,
}

/// Where alerts go besides the log (`[alerts]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertsSection {
    /// Slack-compatible webhook (`http://` or `https://`), if any.
    pub webhook_url: Option<String>,
    /// PEM file of the CA that signs the webhook's certificate (default: the public roots).
    pub ca_file: Option<std::path::PathBuf>,
    /// The same alert (code, instrument, strategy) is sent at most once per this window.
    pub dedup_window: Duration,
    /// At most this many webhook posts per minute; the rest are counted and summarised.
    pub max_per_minute: u32,
}

/// The operator control socket (`[control]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlSection {
    /// Unix socket path (created with mode 0600).
    pub socket: Option<std::path::PathBuf>,
    /// Status snapshots are published every this many timer ticks.
    pub status_every_ticks: u64,
}

/// A validated run config.
pub struct RunConfig {
    /// The text it was read from (journaled).
    pub text: String,
    /// `[engine]`.
    pub engine: EngineSection,
    /// `[journal]`.
    pub journal: JournalSection,
    /// `[synthetic]` + `[[instrument]]`.
    pub synthetic: SyntheticSection,
    /// `[exchange]`.
    pub exchange: ExchangeSection,
    /// `[[venue]]`: venue feeds.
    pub venues: Vec<VenueSection>,
    /// `[sim]`: the embedded simulator, for venues with `mode = "sim"`.
    pub sim: Option<SimConfig>,
    /// `[risk]`: limits, breakers, the flattener.
    pub risk: RiskConfig,
    /// `[alerts]`.
    pub alerts: AlertsSection,
    /// `[control]`.
    pub control: ControlSection,
    /// `[reconcile]`: the independent reconciliation poller for trading venues.
    pub reconcile: Option<ReconcileConfig>,
    table: toml::Table,
}

/// Every error found in a config, one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub Vec<String>);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} config error(s): {}", self.0.len(), self.0.join("; "))
    }
}

impl std::error::Error for ConfigError {}

fn bps_to_ppb(s: &mut Section<'_>, key: &str, default: i64) -> i64 {
    let Some(d) = s.opt_parsed::<Decimal>(key, "decimal (basis points)") else {
        return default;
    };
    // No venue charges or rebates 1% of notional per fill; a value past that is a unit
    // mistake (percent or a fraction typed as basis points) that would make every P&L wrong.
    if d.abs() > Decimal::from(100) {
        s.error(key, "must be within ±100 basis points (1% of notional)");
        return default;
    }
    match (d * Decimal::from(100_000)).trunc().try_into() {
        Ok(v) if (d * Decimal::from(100_000)).fract().is_zero() => v,
        _ => {
            s.error(key, "needs at most 5 decimals and a sane magnitude");
            default
        }
    }
}

impl RunConfig {
    /// Parses and validates a config text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Self::parse_inner(text, false)
    }

    /// Parses a recorded config to rebuild its engine (`replay`): the embedded simulator's
    /// section is skipped, because replay needs none of its capture files.
    pub fn parse_for_replay(text: &str) -> Result<Self, ConfigError> {
        Self::parse_inner(text, true)
    }

    fn parse_inner(text: &str, engine_only: bool) -> Result<Self, ConfigError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError(vec![e.message().replace('\n', " ")]))?;
        let mut errors = Vec::new();
        let mut root = Section::new("", &table);

        let mut engine = EngineSection {
            topology: Topology::Shared,
            wait: WaitPolicy::default(),
            ring_capacity: 4096,
            max_open_orders: 1024,
            book_depth: 4096,
            timer_interval: Duration::from_millis(100),
        };
        if let Some(mut s) = root.opt_table("engine") {
            if let Some(t) = s.opt_parsed::<Topology>("topology", "topology (pinned, shared)") {
                engine.topology = t;
            }
            if let Some(w) = s.opt_parsed::<WaitPolicy>(
                "wait",
                "wait policy (spin, spin-then-yield, spin-then-park)",
            ) {
                engine.wait = w;
            }
            engine.ring_capacity = s.int_or("ring_capacity", 16, 1 << 24, 4096) as usize;
            engine.max_open_orders = s.int_or("max_open_orders", 1, 1 << 20, 1024) as usize;
            engine.book_depth = s.int_or("book_depth", 1, 1 << 20, 4096) as usize;
            engine.timer_interval =
                // At least 1 ms: the timer drives breakers, leg ages, flattening and status; zero
                // would switch all of them off without a word.
                Duration::from_millis(s.int_or("timer_interval_ms", 1, 3_600_000, 100) as u64);
            errors.extend(s.finish());
        }

        let mut journal = JournalSection {
            segment_bytes: 64 << 20,
            flush_interval: Duration::from_millis(100),
        };
        if let Some(mut s) = root.opt_table("journal") {
            journal.segment_bytes = (s.int_or("segment_mb", 1, 4096, 64) as u64) << 20;
            journal.flush_interval =
                Duration::from_millis(s.int_or("flush_interval_ms", 0, 60_000, 100) as u64);
            errors.extend(s.finish());
        }

        let mut synthetic = SyntheticSection {
            seed: 1,
            events: 0,
            rate: 0,
            instruments: Vec::new(),
        };
        if let Some(mut s) = root.opt_table("synthetic") {
            synthetic.seed = s.int_or("seed", 0, i64::MAX, 1) as u64;
            synthetic.events = s.int_or("events", 0, i64::MAX, 0) as u64;
            synthetic.rate = s.int_or("rate", 0, 100_000_000, 0) as u64;
            errors.extend(s.finish());
        }
        let instrument_tables = root.tables("instrument");
        let any_instrument = !instrument_tables.is_empty();
        for (i, mut s) in instrument_tables.into_iter().enumerate() {
            if let Some(inst) = read_instrument(&mut s, i, &synthetic.instruments) {
                synthetic.instruments.push(inst);
            }
            errors.extend(s.finish());
        }
        let mut venues = Vec::new();
        let mut next_id = synthetic.instruments.len() as u32;
        for mut v in root.tables("venue") {
            if let Some(section) = read_venue(&mut v, next_id) {
                next_id += section.instruments.len() as u32;
                venues.push(section);
            }
            errors.extend(v.finish());
        }
        if !any_instrument && venues.is_empty() {
            errors.push(
                "instrument: configure a synthetic market ([[instrument]]) or venue feeds ([[venue]])"
                    .into(),
            );
        }
        let sim = match table.get("sim") {
            None => None,
            Some(_) if engine_only => {
                root.skip("sim");
                None
            }
            Some(toml::Value::Table(t)) => {
                root.skip("sim");
                match SimConfig::from_table(t, "sim") {
                    Ok(c) => Some(c),
                    Err(SimError::Config(list)) => {
                        errors.extend(list);
                        None
                    }
                    Err(e) => {
                        errors.push(format!("sim: {e}"));
                        None
                    }
                }
            }
            Some(_) => {
                errors.push("sim: expected a table".into());
                root.skip("sim");
                None
            }
        };
        for v in venues
            .iter()
            .filter(|v| v.mode == VenueMode::Sim && !engine_only)
        {
            let served = sim
                .as_ref()
                .is_some_and(|c| c.venues.iter().any(|sv| sv.name == v.sim_name));
            if !served {
                errors.push(format!(
                    "venue {}: mode = \"sim\" needs a [[sim.venue]] named {:?}",
                    v.venue, v.sim_name
                ));
            }
            let sim_account = sim
                .as_ref()
                .and_then(|c| c.venues.iter().find(|sv| sv.name == v.sim_name))
                .and_then(|sv| sv.private.as_ref())
                .is_some_and(|p| !p.accounts.is_empty());
            if served
                && !sim_account
                && v.exec.as_ref().is_some_and(|e| {
                    e.credentials == crate::venue_config::CredentialSource::SimAccount
                })
            {
                errors.push(format!(
                    "venue {}: trade = true against the simulator needs a [[sim.venue.private.account]] \
                     (its key is used) or credentials_env / credentials_file",
                    v.venue
                ));
            }
        }

        let mut exchange = ExchangeSection {
            fees: FeeSchedule::default(),
            max_resting: 4096,
        };
        if let Some(mut s) = root.opt_table("exchange") {
            exchange.fees.maker_ppb = bps_to_ppb(&mut s, "maker_fee_bps", 0);
            exchange.fees.taker_ppb = bps_to_ppb(&mut s, "taker_fee_bps", 0);
            exchange.max_resting = s.int_or("max_resting", 1, 1 << 20, 4096) as usize;
            errors.extend(s.finish());
        }

        // Strategies may trade venue instruments too (a venue with `trade = true`).
        let specs: Vec<InstrumentSpec> = synthetic
            .instruments
            .iter()
            .map(|i| i.spec.clone())
            .chain(venues.iter().flat_map(|v| v.instruments.iter().cloned()))
            .collect();
        let all_specs: Vec<InstrumentSpec> = specs
            .iter()
            .cloned()
            .chain(venues.iter().flat_map(|v| v.instruments.iter().cloned()))
            .collect();
        let risk = match root.opt_table("risk") {
            Some(mut s) => {
                let r = RiskConfig::read(&mut s, &all_specs);
                errors.extend(s.finish());
                r
            }
            None => RiskConfig::permissive(all_specs.len()),
        };
        let mut alerts = AlertsSection {
            webhook_url: None,
            ca_file: None,
            dedup_window: Duration::from_secs(60),
            max_per_minute: 20,
        };
        if let Some(mut s) = root.opt_table("alerts") {
            if let Some(url) = s.opt_str("webhook_url") {
                if url.starts_with("http://") || url.starts_with("https://") {
                    alerts.webhook_url = Some(url.to_owned());
                } else if engine_only && url == REDACTED {
                    // A journaled config: the secret was never recorded, and a replay sends
                    // no alert.
                } else {
                    s.error("webhook_url", "must start with http:// or https://");
                }
            }
            alerts.ca_file = s.opt_str("ca_file").map(std::path::PathBuf::from);
            alerts.dedup_window =
                Duration::from_millis(s.int_or("dedup_window_ms", 0, 86_400_000, 60_000) as u64);
            alerts.max_per_minute = s.int_or("max_per_minute", 1, 10_000, 20) as u32;
            errors.extend(s.finish());
        }
        let mut control = ControlSection {
            socket: None,
            status_every_ticks: 1,
        };
        if let Some(mut s) = root.opt_table("control") {
            control.socket = s.opt_str("socket").map(std::path::PathBuf::from);
            control.status_every_ticks = s.int_or("status_every_ticks", 1, 1_000_000, 1) as u64;
            errors.extend(s.finish());
        }
        let reconcile = root.opt_table("reconcile").map(|mut s| {
            let r = ReconcileConfig::read(&mut s);
            errors.extend(s.finish());
            r
        });
        let mut strategy_sections = root.tables("strategy");
        let mut names: Vec<String> = Vec::new();
        for s in &mut strategy_sections {
            if let Some(built) = tickwire_strategies::build(s, &specs) {
                let name = built.name().to_owned();
                if names.contains(&name) {
                    // Names are how metrics, `ctl --strategy`, alerts and the journal tell
                    // strategies apart.
                    s.error(
                        "name",
                        format!("{name:?} is already the name of another strategy"),
                    );
                }
                names.push(name);
            }
        }
        for s in strategy_sections {
            errors.extend(s.finish());
        }
        errors.extend(root.finish());
        if !errors.is_empty() {
            return Err(ConfigError(errors));
        }
        Ok(Self {
            text: text.to_owned(),
            engine,
            journal,
            synthetic,
            exchange,
            venues,
            sim,
            risk,
            alerts,
            control,
            reconcile,
            table,
        })
    }

    /// Instrument specs, by id.
    pub fn instruments(&self) -> Vec<InstrumentSpec> {
        let synthetic = self.synthetic.instruments.iter().map(|i| i.spec.clone());
        let venues = self
            .venues
            .iter()
            .flat_map(|v| v.instruments.iter().cloned());
        synthetic.chain(venues).collect()
    }

    /// A fresh engine with the configured strategies.
    pub fn build_engine(&self) -> Engine {
        let specs = self.instruments();
        let mut root = Section::new("", &self.table);
        let strategies: Vec<Box<dyn Strategy>> = root
            .tables("strategy")
            .iter_mut()
            .filter_map(|s| tickwire_strategies::build(s, &specs))
            .collect();
        let mut engine = Engine::new(
            &EngineConfig {
                instruments: specs,
                max_open_orders: self.engine.max_open_orders,
                book_depth: self.engine.book_depth,
                fill_memory: 65_536,
            },
            strategies,
        );
        engine.set_risk(self.risk.clone());
        engine
    }
}

fn read_instrument(
    s: &mut Section<'_>,
    index: usize,
    earlier: &[SyntheticInstrument],
) -> Option<SyntheticInstrument> {
    let venue_name = s.opt_str("venue").unwrap_or("synthetic");
    let venue = VenueId::from_name(venue_name);
    if venue.is_none() {
        s.error("venue", format!("unknown venue {venue_name:?}"));
    }
    let symbol = s.str("symbol");
    if let Some(sym) = symbol
        && earlier.iter().any(|e| e.spec.symbol == sym)
    {
        s.error("symbol", format!("{sym:?} is configured twice"));
    }
    let mid = s.px("mid");
    let tick = s.px("tick");
    let lot = s.qty("lot");
    let min_qty = s.qty("min_qty");
    let min_notional = s.opt_parsed("min_notional", "decimal");
    let depth = s.int_or("depth", 2, 10_000, 20) as u32;
    let max_level_lots = s.int_or("max_level_lots", 1, 1_000_000, 100) as u32;
    let spec = InstrumentSpec {
        id: InstrumentId(index as u32),
        venue: venue?,
        symbol: symbol?.to_owned(),
        tick: tick?,
        lot: lot?,
        min_qty: min_qty?,
        min_notional: min_notional.unwrap_or_default(),
    };
    if let Err(e) = spec.validate() {
        s.error("tick", e);
        return None;
    }
    let mid = mid?;
    if !mid.is_positive() {
        s.error("mid", "must be > 0");
        return None;
    }
    Some(SyntheticInstrument {
        spec,
        mid,
        depth,
        max_level_lots,
    })
}

/// The largest config file accepted: the whole text is journaled as one record (at most
/// 64 KiB), with room for the redaction of secrets to re-serialise it.
pub const MAX_CONFIG_BYTES: u64 = 60 << 10;

/// Reads a config file: a regular file of at most [`MAX_CONFIG_BYTES`], UTF-8. Never reads
/// without bound (`--config /dev/zero`), and says what is wrong in one line.
pub fn read_config(path: &Path) -> Result<String, crate::Failure> {
    use std::io::Read;
    let fail = |what: String| crate::Failure::new(format!("{}: {what}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if !meta.is_file() {
        return Err(fail("not a regular file".into()));
    }
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.to_string()))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(fail(format!(
            "larger than {MAX_CONFIG_BYTES} bytes (a config is journaled whole, as one record)"
        )));
    }
    String::from_utf8(bytes).map_err(|_| fail("not UTF-8 text".into()))
}

/// A command-line number of seconds: positive, finite, and at most a billion (31 years), so
/// that no later time arithmetic can overflow.
pub fn seconds(flag: &str, v: f64) -> Result<std::time::Duration, crate::Failure> {
    if !(v.is_finite() && v > 0.0 && v <= 1e9) {
        return Err(crate::Failure::new(format!(
            "{flag} must be a positive number of seconds up to 1e9, got {v}"
        )));
    }
    Ok(std::time::Duration::from_secs_f64(v))
}

/// Keys whose values are secrets wherever they appear in a config: the alert webhook (Slack's
/// carry a token) and the simulator accounts' credentials.
const SECRET_KEYS: &[&str] = &[
    "webhook_url",
    "api_key",
    "secret",
    "api_secret",
    "passphrase",
];

/// What a secret's value becomes in the journal.
const REDACTED: &str = "<redacted>";

/// What is written into the journal's config record: the config text with every secret value
/// replaced by [`REDACTED`]. A text without secrets is journaled exactly as written
/// (comments included); one with secrets is re-serialised, which keeps every value the engine
/// is rebuilt from. Unparseable text is returned unchanged: it was refused before this point.
pub fn journaled_text(text: &str) -> String {
    let Ok(mut table) = text.parse::<toml::Table>() else {
        return text.to_owned();
    };
    if !redact(&mut table) {
        return text.to_owned();
    }
    toml::to_string(&table).unwrap_or_else(|_| text.to_owned())
}

/// Replaces secret values in `table`, recursively; true if any was replaced.
fn redact(table: &mut toml::Table) -> bool {
    let mut changed = false;
    for (key, value) in table.iter_mut() {
        changed |= redact_value(key, value);
    }
    changed
}

fn redact_value(key: &str, value: &mut toml::Value) -> bool {
    match value {
        toml::Value::String(s) if SECRET_KEYS.contains(&key) && s != REDACTED => {
            *s = REDACTED.to_owned();
            true
        }
        toml::Value::Table(t) => redact(t),
        toml::Value::Array(items) => {
            let mut changed = false;
            for v in items.iter_mut() {
                changed |= redact_value(key, v);
            }
            changed
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = include_str!("../../examples/synthetic.toml");

    #[test]
    fn example_config_is_valid() {
        let cfg = RunConfig::parse(GOOD).expect("example parses");
        assert!(!cfg.synthetic.instruments.is_empty());
        assert!(cfg.build_engine().strategy_names().count() >= 1);
    }

    #[test]
    fn settings_that_would_silently_disable_or_confuse_are_refused() {
        let with = |extra: &str, from: &str, to: &str| {
            let text = GOOD.replacen(from, to, 1);
            assert_ne!(text, GOOD, "the example still has {from:?}");
            let text = format!("{text}\n{extra}");
            RunConfig::parse(&text).err().map(|e| e.0.join("\n"))
        };
        let e = with("", "timer_interval_ms = 100", "timer_interval_ms = 0").expect("refused");
        assert!(e.contains("engine.timer_interval_ms"), "{e}");
        let e = with(
            "",
            "maker_fee_bps = \"-0.5\"",
            "maker_fee_bps = \"-100000\"",
        )
        .expect("refused");
        assert!(
            e.contains("exchange.maker_fee_bps") && e.contains("100 basis points"),
            "{e}"
        );
        let e = with("", "name = \"probe-eth\"", "name = \"probe-btc\"").expect("refused");
        assert!(
            e.contains("strategy[1].name") && e.contains("already the name"),
            "{e}"
        );
        assert!(with("", "taker_fee_bps = \"2.5\"", "taker_fee_bps = \"100\"").is_none());
    }

    #[test]
    fn config_files_are_read_with_bounds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; (MAX_CONFIG_BYTES + 1) as usize]).expect("write");
        let e = read_config(&big).expect_err("too large").message;
        assert!(e.contains("larger than"), "{e}");
        let e = read_config(dir.path()).expect_err("a directory").message;
        assert!(e.contains("not a regular file"), "{e}");
        #[cfg(unix)]
        {
            let e = read_config(std::path::Path::new("/dev/zero")).expect_err("a device");
            assert!(e.message.contains("not a regular file"), "{}", e.message);
        }
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1.8e19] {
            assert!(seconds("--duration", bad).is_err(), "{bad}");
        }
        assert_eq!(
            seconds("--duration", 1.5).ok(),
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn all_errors_reported_together() {
        let bad = r#"
            [engine]
            topology = "sideways"
            ring_capacity = 3
            [journal]
            segmnet_mb = 4
            [[instrument]]
            symbol = "X"
            mid = "100"
            tick = "0.0x"
            lot = "0.001"
            min_qty = "0.001"
            [[strategy]]
            kind = "probe"
            name = "p"
            instrument = "Y"
            order_qty = "0.001"
            max_position = "0.01"
            [surprise]
        "#;
        let err = RunConfig::parse(bad).err().expect("invalid config");
        let text = err.0.join("\n");
        for needle in [
            "engine.topology",
            "engine.ring_capacity",
            "journal.segmnet_mb: unknown key",
            "instrument[0].tick",
            "strategy[0].instrument",
            "surprise: unknown key",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
    }

    #[test]
    fn risk_section_is_read_strictly_with_overrides() {
        let base = GOOD.to_owned();
        let good = format!(
            "{base}\n[risk]\nmax_order_qty = \"0.5\"\nprice_band_bps = 50\norders_per_sec = 10\n\
             daily_loss_soft = \"100\"\ndaily_loss_hard = \"200\"\n[risk.flatten]\nmax_orders = 7\n\
             [[risk.instrument]]\nsymbol = \"BTC-SYN\"\nmax_order_qty = \"0.1\"\n\
             [control]\nsocket = \"/tmp/x.sock\"\n[alerts]\nwebhook_url = \"http://127.0.0.1:9/hook\"\n"
        );
        let cfg = RunConfig::parse(&good).expect("valid risk config");
        assert_eq!(cfg.risk.flatten.max_orders, 7);
        assert_eq!(cfg.risk.rate.map(|r| r.burst), Some(10));
        let btc = cfg
            .instruments()
            .iter()
            .position(|s| s.symbol == "BTC-SYN")
            .expect("example has BTC-SYN");
        assert_eq!(
            cfg.risk.limits(btc).max_order_qty,
            Some(tickwire_core::num::Qty::parse("0.1").expect("literal"))
        );
        assert_eq!(cfg.risk.limits(btc).price_band_bps, Some(50));
        assert!(cfg.control.socket.is_some());

        let bad = format!(
            "{base}\n[risk]\nmax_order_qty = \"-1\"\nprice_band = 50\ndaily_loss_soft = \"300\"\n\
             daily_loss_hard = \"200\"\n[[risk.instrument]]\nsymbol = \"NOPE\"\n\
             [alerts]\nwebhook_url = \"ftp://x\"\n"
        );
        let err = RunConfig::parse(&bad).err().expect("invalid").0.join("\n");
        for needle in [
            "risk.max_order_qty: must be > 0",
            "risk.price_band: unknown key",
            "risk.daily_loss_soft: must not exceed",
            "risk.instrument[0].symbol: no configured instrument",
            "alerts.webhook_url",
        ] {
            assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
        }
    }

    #[test]
    fn toml_syntax_error_is_one_clear_line() {
        let err = RunConfig::parse("[engine\n").err().expect("invalid");
        assert_eq!(err.0.len(), 1);
        assert!(!err.0[0].contains('\n'));
    }

    #[test]
    fn secrets_never_reach_the_journal_and_everything_else_does() {
        let plain = "# a comment\n[engine]\ntopology = \"shared\"\n";
        assert_eq!(
            journaled_text(plain),
            plain,
            "no secret: the exact text, comments kept"
        );
        let text = "[alerts]\nwebhook_url = \"https://hooks.example/T0/B0/s3cr3t\"\n\
                    [[sim.venue]]\nvenue = \"binance\"\n[sim.venue.private]\n\
                    [[sim.venue.private.account]]\nname = \"a\"\napi_key = \"k3y\"\nsecret = \"s3cr3t2\"\n\
                    [engine]\nring_capacity = 4096\n";
        let j = journaled_text(text);
        for leaked in ["s3cr3t", "k3y"] {
            assert!(!j.contains(leaked), "{leaked} in {j}");
        }
        assert!(j.contains("<redacted>"));
        let t: toml::Table = j.parse().expect("still TOML");
        assert_eq!(t["engine"]["ring_capacity"].as_integer(), Some(4096));
        assert_eq!(t["sim"]["venue"][0]["venue"].as_str(), Some("binance"));
        assert_eq!(journaled_text(&j), j, "redacting twice changes nothing");
    }
}
