//! tickwire-strategies: trading strategies. They depend on `tickwire-core` only: a strategy
//! never sees a socket, a clock or a venue quirk.
//!
//! Each strategy has a validated config section (`[[strategy]]` with `kind = "..."`; unknown
//! keys are rejected, ranges checked, every problem reported at once), built by [`build`]:
//!
//! - `probe`: a small two-sided quoter that exercises the whole order path (synthetic runs);
//! - `arb`: cross-venue arbitrage with unhedged-leg hedging and flattening ([`arb`]);
//! - `mm`: Avellaneda–Stoikov market making ([`mm`]);
//! - `trend`: SMA crossover on time bars ([`signal`]);
//! - `mean_reversion`: z-score band on time bars ([`signal`]);
//! - `script`: a fixed list of orders, for drills ([`script`]).
//!
//! Every strategy but `probe` reports [`tickwire_core::metrics::StrategyMetrics`];
//! [`metrics::table`] formats them for the end of a run.

pub mod arb;
pub mod bars;
pub mod common;
pub mod metrics;
pub mod mm;
pub mod probe;
pub mod script;
pub mod signal;

use tickwire_core::config::Section;
use tickwire_core::engine::Strategy;
use tickwire_core::num::InstrumentSpec;

/// Strategy kinds this build knows.
pub const KINDS: &[&str] = &["probe", "arb", "mm", "trend", "mean_reversion", "script"];

fn boxed<S: Strategy + 'static>(s: Option<S>) -> Option<Box<dyn Strategy>> {
    s.map(|s| Box::new(s) as Box<dyn Strategy>)
}

/// Builds the strategy a `[[strategy]]` section describes, recording every config error in the
/// section. `instruments` resolves instrument symbols.
pub fn build(
    section: &mut Section<'_>,
    instruments: &[InstrumentSpec],
) -> Option<Box<dyn Strategy>> {
    let kind = section.str("kind")?;
    match kind {
        "probe" => boxed(probe::Probe::from_config(section, instruments)),
        "arb" => boxed(arb::Arb::from_config(section, instruments)),
        "mm" => boxed(mm::MarketMaker::from_config(section, instruments)),
        "trend" => boxed(signal::Trend::from_config(section, instruments)),
        "mean_reversion" => boxed(signal::MeanReversion::from_config(section, instruments)),
        "script" => boxed(script::Script::from_config(section, instruments)),
        other => {
            section.error(
                "kind",
                format!(
                    "unknown strategy kind {other:?} (known: {})",
                    KINDS.join(", ")
                ),
            );
            None
        }
    }
}
