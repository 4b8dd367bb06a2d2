//! The derive keys of a `[[venue]]` table: how a derived OKX venue is made from a Binance
//! venue's captures. Part of the config layer (not of `protocol::okx::derive`, which builds the
//! tape) so that reading a config needs no protocol module.

use tickwire_core::config::Section as Reader;

use super::{VenueConfig, VenueKind};

/// How a derived venue is made from its source.
#[derive(Clone, Debug, PartialEq)]
pub struct DeriveSpec {
    /// The name of the source `[[venue]]` (a Binance-protocol venue) whose captures are used.
    pub from: String,
    /// Milliseconds added to every source time (negative: the derived venue leads).
    pub lag_ms: i64,
    /// Largest price offset, in source ticks (0: prices are the source's exactly).
    pub noise_ticks: u32,
    /// Source time between two noise draws (ms).
    pub noise_period_ms: u64,
    /// Seed of the noise.
    pub seed: u64,
    /// Source symbol → OKX instId (`BTCUSDT` → `BTC-USDT`); empty: every source symbol,
    /// split at a known quote asset.
    pub symbols: Vec<(String, String)>,
}

/// Reads the derive keys of a `[[venue]]` table (`derive_from`, `lag_ms`, `noise_ticks`,
/// `noise_period_ms`, `seed`, `symbol_map`); `None` when `derive_from` is absent (and then
/// none of the others may be present).
pub(crate) fn read(v: &mut Reader<'_>, kind: Option<VenueKind>) -> Option<DeriveSpec> {
    let from = v.opt_str("derive_from").map(str::to_owned);
    let lag_ms = v.opt_int("lag_ms", -3_600_000, 3_600_000);
    let noise = v.opt_int("noise_ticks", 0, 1_000_000);
    let period = v.opt_int("noise_period_ms", 1, 86_400_000);
    let seed = v.opt_int("seed", 0, i64::MAX);
    let map = v.opt_str_array("symbol_map");
    let Some(from) = from else {
        for (k, set) in [
            ("lag_ms", lag_ms.is_some()),
            ("noise_ticks", noise.is_some()),
            ("noise_period_ms", period.is_some()),
            ("seed", seed.is_some()),
            ("symbol_map", map.is_some()),
        ] {
            if set {
                v.error(k, "only meaningful with derive_from");
            }
        }
        return None;
    };
    if kind.is_some_and(|k| k != VenueKind::Okx) {
        v.error("derive_from", "only an okx venue can be derived");
    }
    if v.has("captures") {
        v.error("captures", "a derived venue uses its source's captures");
    }
    let mut symbols = Vec::new();
    for m in map.unwrap_or_default() {
        match m.split_once('=') {
            Some((s, i)) if !s.is_empty() && !i.is_empty() => {
                symbols.push((s.trim().to_ascii_uppercase(), i.trim().to_owned()));
            }
            _ => v.error(
                "symbol_map",
                format!("{m:?} is not SOURCE=INSTID (e.g. \"BTCUSDT=BTC-USDT\")"),
            ),
        }
    }
    Some(DeriveSpec {
        from,
        lag_ms: lag_ms.unwrap_or(0),
        noise_ticks: noise.unwrap_or(0) as u32,
        noise_period_ms: period.map_or(1000, |p| p as u64),
        seed: seed.unwrap_or(0) as u64,
        symbols,
    })
}

/// Resolves every derived venue's source after all venues are read: copies the source's
/// captures (and checks the source exists and speaks Binance).
pub(crate) fn resolve(venues: &mut [VenueConfig], errors: &mut Vec<String>) {
    let sources: Vec<(String, VenueKind, Vec<std::path::PathBuf>)> = venues
        .iter()
        .map(|v| (v.name.clone(), v.venue, v.captures.clone()))
        .collect();
    for v in venues.iter_mut() {
        let Some(d) = &v.derive else { continue };
        match sources.iter().find(|(n, _, _)| *n == d.from) {
            Some((_, k, caps)) if k.is_binance() => v.captures.clone_from(caps),
            Some(_) => errors.push(format!(
                "venue {:?}: derive_from = {:?} must name a binance or binance-us venue",
                v.name, d.from
            )),
            None => errors.push(format!(
                "venue {:?}: derive_from = {:?} names no [[venue]]",
                v.name, d.from
            )),
        }
    }
}
