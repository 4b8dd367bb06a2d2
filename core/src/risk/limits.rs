//! Risk limits and their strict config reader (`[risk]`, `[risk.flatten]`,
//! `[[risk.instrument]]`).
//!
//! Every limit is in the engine's fixed-point units: quantities as [`Qty`], quote amounts
//! (notional, loss) as [`Px`] (9 decimals of the quote currency). An absent limit is disabled;
//! the breakers and the flattener have safe defaults, because the incidents they exist for
//! (reject storms, stuck kill switches) happen to configs nobody tuned.

use crate::config::Section;
use crate::num::{InstrumentSpec, Px, Qty};

/// Limits that can be overridden per instrument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InstrumentLimits {
    /// Largest quantity of one order.
    pub max_order_qty: Option<Qty>,
    /// Largest notional of one order (quote).
    pub max_order_notional: Option<Px>,
    /// Largest distance of a limit price from the mid, in basis points (fat-finger band).
    pub price_band_bps: Option<u32>,
    /// Largest absolute worst-case position in the instrument (all strategies, open orders
    /// included).
    pub max_position: Option<Qty>,
    /// Most open orders on the instrument (all strategies).
    pub max_open_orders: Option<u32>,
}

impl InstrumentLimits {
    fn overlay(self, over: InstrumentLimits) -> Self {
        Self {
            max_order_qty: over.max_order_qty.or(self.max_order_qty),
            max_order_notional: over.max_order_notional.or(self.max_order_notional),
            price_band_bps: over.price_band_bps.or(self.price_band_bps),
            max_position: over.max_position.or(self.max_position),
            max_open_orders: over.max_open_orders.or(self.max_open_orders),
        }
    }
}

/// How the kill switch closes positions (`[risk.flatten]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlattenConfig {
    /// Farthest a closing order's limit price may be from the mid, in basis points.
    pub max_slippage_bps: u32,
    /// Closing orders the flattener may send per flatten before it gives up and alerts.
    pub max_orders: u32,
    /// Largest quantity of one closing order (None: the whole position).
    pub clip_qty: Option<Qty>,
    /// How long to wait for cancels to be confirmed before querying them.
    pub confirm_timeout_ns: u64,
    /// Queries per unconfirmed order before closing anyway.
    pub max_queries: u32,
    /// First retry delay after a closing order did not close the position.
    pub backoff_ns: u64,
    /// Largest retry delay (the backoff doubles up to this).
    pub max_backoff_ns: u64,
}

impl Default for FlattenConfig {
    fn default() -> Self {
        Self {
            max_slippage_bps: 100,
            max_orders: 20,
            clip_qty: None,
            confirm_timeout_ns: 2_000_000_000,
            max_queries: 3,
            backoff_ns: 200_000_000,
            max_backoff_ns: 5_000_000_000,
        }
    }
}

/// Per-venue order-rate budget: a token bucket in engine time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateBudget {
    /// Sustained order commands per second.
    pub per_sec: u32,
    /// Bucket size (burst).
    pub burst: u32,
}

/// The whole risk configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RiskConfig {
    /// Limits for every instrument unless overridden.
    pub defaults: InstrumentLimits,
    /// Effective limits per instrument id (defaults with overrides applied).
    pub instruments: Vec<InstrumentLimits>,
    /// A mid older than this is not fresh: no new risk is priced on it.
    pub max_mid_age_ns: u64,
    /// Largest worst-case notional per venue (quote, summed over its instruments).
    pub max_venue_notional: Option<Px>,
    /// Largest worst-case notional overall (quote).
    pub max_global_notional: Option<Px>,
    /// Order-rate budget per venue (None: unlimited).
    pub rate: Option<RateBudget>,
    /// Refuse orders that would cross one of our own resting orders.
    pub self_trade_prevention: bool,
    /// Largest declared unhedged leg (quantity).
    pub max_leg_qty: Option<Qty>,
    /// Largest age of an unhedged leg before the strategy escalates.
    pub max_leg_age_ns: u64,
    /// Loss (quote, positive number) at which a strategy goes reduce-only.
    pub daily_loss_soft: Option<Px>,
    /// Loss at which a strategy is flattened.
    pub daily_loss_hard: Option<Px>,
    /// Venue rejects in a row on one instrument that trip its breaker (the next order is not
    /// sent: 9 means the 10th is never sent).
    pub reject_max_consecutive: u32,
    /// Venue rejects within `reject_window_ns` that trip the breaker.
    pub reject_max_per_window: u32,
    /// Window of the rate-based reject breaker.
    pub reject_window_ns: u64,
    /// How long a venue status may claim fills we have not received before the order is
    /// queried and an alert raised.
    pub fill_debt_timeout_ns: u64,
    /// Queries per order in fill debt before it is left to the operator (alerted).
    pub fill_debt_max_queries: u32,
    /// The kill switch.
    pub flatten: FlattenConfig,
}

impl RiskConfig {
    /// Limits disabled, breakers and flattener at their defaults, for `instruments` instruments.
    pub fn permissive(instruments: usize) -> Self {
        Self {
            defaults: InstrumentLimits::default(),
            instruments: vec![InstrumentLimits::default(); instruments],
            max_mid_age_ns: 10_000_000_000,
            max_venue_notional: None,
            max_global_notional: None,
            rate: None,
            self_trade_prevention: true,
            max_leg_qty: None,
            max_leg_age_ns: 5_000_000_000,
            daily_loss_soft: None,
            daily_loss_hard: None,
            reject_max_consecutive: 9,
            reject_max_per_window: 50,
            reject_window_ns: 60_000_000_000,
            fill_debt_timeout_ns: 5_000_000_000,
            fill_debt_max_queries: 5,
            flatten: FlattenConfig::default(),
        }
    }

    /// The limits of one instrument.
    pub fn limits(&self, instrument: usize) -> InstrumentLimits {
        self.instruments
            .get(instrument)
            .copied()
            .unwrap_or(self.defaults)
    }

    /// Reads a `[risk]` table; errors go to the section (and so to the caller's error list).
    pub fn read(s: &mut Section<'_>, specs: &[InstrumentSpec]) -> Self {
        let mut c = Self::permissive(specs.len());
        c.defaults = read_limits(s);
        c.max_mid_age_ns = ms(s, "max_mid_age_ms", 1, 86_400_000, 10_000);
        c.max_venue_notional = positive_px(s, "max_venue_notional");
        c.max_global_notional = positive_px(s, "max_global_notional");
        let per_sec = s.opt_int("orders_per_sec", 1, 1_000_000);
        let burst = s.opt_int("order_burst", 1, 1_000_000);
        c.rate = match (per_sec, burst) {
            (Some(p), b) => Some(RateBudget {
                per_sec: p as u32,
                burst: b.unwrap_or(p) as u32,
            }),
            (None, Some(_)) => {
                s.error("order_burst", "needs orders_per_sec");
                None
            }
            (None, None) => None,
        };
        if let Some(b) = s.opt_bool("self_trade_prevention") {
            c.self_trade_prevention = b;
        }
        c.max_leg_qty = positive_qty(s, "max_leg_qty");
        c.max_leg_age_ns = ms(s, "max_leg_age_ms", 1, 86_400_000, 5_000);
        c.daily_loss_soft = positive_px(s, "daily_loss_soft");
        c.daily_loss_hard = positive_px(s, "daily_loss_hard");
        if let (Some(soft), Some(hard)) = (c.daily_loss_soft, c.daily_loss_hard)
            && soft > hard
        {
            s.error("daily_loss_soft", "must not exceed daily_loss_hard");
        }
        c.reject_max_consecutive = s.int_or("reject_max_consecutive", 1, 1_000_000, 9) as u32;
        c.reject_max_per_window = s.int_or("reject_max_per_window", 1, 1_000_000, 50) as u32;
        c.reject_window_ns = ms(s, "reject_window_ms", 1, 86_400_000, 60_000);
        c.fill_debt_timeout_ns = ms(s, "fill_debt_timeout_ms", 1, 3_600_000, 5_000);
        c.fill_debt_max_queries = s.int_or("fill_debt_max_queries", 1, 1_000, 5) as u32;
        if let Some(mut f) = s.opt_table("flatten") {
            let d = FlattenConfig::default();
            c.flatten = FlattenConfig {
                max_slippage_bps: f.int_or("max_slippage_bps", 1, 10_000, 100) as u32,
                max_orders: f.int_or("max_orders", 1, 100_000, 20) as u32,
                clip_qty: positive_qty(&mut f, "clip_qty"),
                confirm_timeout_ns: ms(&mut f, "confirm_timeout_ms", 1, 3_600_000, 2_000),
                max_queries: f.int_or("max_queries", 0, 1_000, i64::from(d.max_queries)) as u32,
                backoff_ns: ms(&mut f, "backoff_ms", 1, 3_600_000, 200),
                max_backoff_ns: ms(&mut f, "max_backoff_ms", 1, 3_600_000, 5_000),
            };
            if c.flatten.max_backoff_ns < c.flatten.backoff_ns {
                f.error("max_backoff_ms", "must be at least backoff_ms");
            }
            s.absorb(f.finish());
        }
        c.instruments = vec![c.defaults; specs.len()];
        let mut seen: Vec<usize> = Vec::new();
        for mut t in s.tables("instrument") {
            let symbol = t.str("symbol");
            let venue = t.opt_str("venue");
            let over = read_limits(&mut t);
            if let Some(sym) = symbol {
                let found: Vec<usize> = specs
                    .iter()
                    .enumerate()
                    .filter(|(_, sp)| {
                        sp.symbol == sym
                            && venue
                                .is_none_or(|v| crate::ids::VenueId::from_name(v) == Some(sp.venue))
                    })
                    .map(|(i, _)| i)
                    .collect();
                match found.as_slice() {
                    [] => t.error("symbol", format!("no configured instrument {sym:?}")),
                    [i] if seen.contains(i) => t.error(
                        "symbol",
                        format!("{sym:?} has two [[risk.instrument]] entries"),
                    ),
                    [i] => {
                        seen.push(*i);
                        c.instruments[*i] = c.defaults.overlay(over);
                    }
                    _ => t.error(
                        "symbol",
                        format!("{sym:?} is listed on several venues: add venue = \"...\""),
                    ),
                }
            }
            s.absorb(t.finish());
        }
        c
    }
}

fn ms(s: &mut Section<'_>, key: &str, min: i64, max: i64, default: i64) -> u64 {
    s.int_or(key, min, max, default) as u64 * 1_000_000
}

fn positive_px(s: &mut Section<'_>, key: &str) -> Option<Px> {
    let v = s.opt_parsed::<Px>(key, "decimal")?;
    if !v.is_positive() {
        s.error(key, "must be > 0");
        return None;
    }
    Some(v)
}

fn positive_qty(s: &mut Section<'_>, key: &str) -> Option<Qty> {
    let v = s.opt_parsed::<Qty>(key, "decimal")?;
    if !v.is_positive() {
        s.error(key, "must be > 0");
        return None;
    }
    Some(v)
}

fn read_limits(s: &mut Section<'_>) -> InstrumentLimits {
    InstrumentLimits {
        max_order_qty: positive_qty(s, "max_order_qty"),
        max_order_notional: positive_px(s, "max_order_notional"),
        price_band_bps: s.opt_int("price_band_bps", 1, 100_000).map(|v| v as u32),
        max_position: positive_qty(s, "max_position"),
        max_open_orders: s.opt_int("max_open_orders", 1, 1 << 20).map(|v| v as u32),
    }
}
