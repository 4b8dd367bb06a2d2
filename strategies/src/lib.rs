//! tickwire-strategies: trading strategies. They depend on `tickwire-core` only: a strategy
//! never sees a socket, a clock or a venue quirk.
//!
//! Each strategy has a validated config section (`[[strategy]]` with `kind = "..."`), built by
//! [`build`]. Today: `probe`, a small two-sided quoter that exercises the whole order path
//! (maker and taker fills, cancels) for synthetic runs and tests. Cross-venue arbitrage, market
//! making, trend following and mean reversion come with the strategies issue.

pub mod probe;

use tickwire_core::config::Section;
use tickwire_core::engine::Strategy;
use tickwire_core::num::InstrumentSpec;

/// Strategy kinds this build knows.
pub const KINDS: &[&str] = &["probe"];

/// Builds the strategy a `[[strategy]]` section describes, recording every config error in the
/// section. `instruments` resolves instrument symbols.
pub fn build(
    section: &mut Section<'_>,
    instruments: &[InstrumentSpec],
) -> Option<Box<dyn Strategy>> {
    let kind = section.str("kind")?;
    match kind {
        "probe" => probe::Probe::from_config(section, instruments)
            .map(|p| Box::new(p) as Box<dyn Strategy>),
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
