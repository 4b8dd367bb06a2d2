//! Trend following and mean reversion: their signals on constructed closes, and the orders
//! they send when bars built from trades cross the signal.

use crate::support;

use support::*;
use tickwire_core::engine::Engine;
use tickwire_core::event::{Output, Side, TimeInForce};
use tickwire_core::ids::VenueId;
use tickwire_core::num::InstrumentSpec;
use tickwire_strategies::signal::{Signal, SmaCross, ZScore};

const MS: u64 = 1_000_000;
const BAR: u64 = 1_000 * MS;

#[test]
fn sma_crossover_on_constructed_closes() {
    let mut s = SmaCross::new(2, 4);
    let got: Vec<Option<i8>> = [100, 100, 100, 100, 101, 100, 98, 98, 99]
        .iter()
        .map(|&c| s.update(c))
        .collect();
    // Not full ×3; equal SMAs hold; 101 lifts the fast SMA (201/2 > 401/4); [100,101,100,98]:
    // 198/2 < 399/4 turns it down.
    assert_eq!(
        got,
        vec![
            None,
            None,
            None,
            None,
            Some(1),
            Some(1),
            Some(-1),
            Some(-1),
            Some(-1)
        ]
    );
}

#[test]
fn z_score_band_is_exact_at_its_edges() {
    let z = |entry: i64, exit: i64, closes: &[i64]| {
        let mut s = ZScore::new(5, entry, exit);
        closes.iter().map(|&c| s.update(c)).collect::<Vec<_>>()
    };
    const ONE: i64 = 1_000_000_000;
    // [100, 100, 100, 100, 110]: z of 110 is exactly 2.
    let closes = [100, 100, 100, 100, 100, 100, 100, 100, 110];
    assert_eq!(
        z(3 * ONE / 2, ONE / 2, &closes).last(),
        Some(&Some(-1)),
        "2 > 1.5: short"
    );
    assert_eq!(
        z(2 * ONE, ONE / 2, &closes).last(),
        Some(&None),
        "2 is not > 2: hold"
    );
    // No variation: no z-score.
    assert_eq!(z(ONE, 0, &closes[..5]).last(), Some(&None));
    // Then 100: z = −0.5 exactly, which is within an exit band of 0.5 → flat.
    let back = [100, 100, 100, 100, 110, 100];
    assert_eq!(z(3 * ONE / 2, ONE / 2, &back).last(), Some(&Some(0)));
    assert_eq!(
        z(3 * ONE / 2, ONE / 4, &back).last(),
        Some(&None),
        "0.5 > 0.25: hold"
    );
    // Below the band: long.
    let low = [100, 100, 100, 100, 90];
    assert_eq!(z(3 * ONE / 2, ONE / 2, &low).last(), Some(&Some(1)));
}

fn sol() -> InstrumentSpec {
    spec(0, VenueId::OKX, "SOL-USDT", "0.01", "0.001")
}

#[test]
fn trend_buys_on_the_cross_up_and_sells_out_on_the_cross_down() {
    let s = sol();
    let strat = strategy(
        r#"kind = "trend"
           name = "trend"
           instrument = "SOL-USDT"
           bar_ms = 1000
           fast_bars = 2
           slow_bars = 4
           position_qty = "1.5"
           slippage_bps = "5""#,
        std::slice::from_ref(&s),
    );
    let mut e = engine(std::slice::from_ref(&s), vec![strat]);
    // Five bars close at 100, 100, 100, 100, 101 (a bar closes when the next one's first
    // trade prints): the cross up is seen on the sixth trade.
    let out = run_from(&mut e, &s, 0, &["100", "100", "100", "100", "101"]);
    assert!(news(&out).is_empty(), "{out:?}");
    let out = run_from(&mut e, &s, 5, &["101"]);
    let n = news(&out);
    assert_eq!(n.len(), 1, "{out:?}");
    // Buy 1.5 at 102.01 × 1.0005 = 102.061.. → 102.06, IOC.
    assert_eq!(
        (n[0].side(), n[0].px, n[0].qty),
        (Some(Side::Buy), px("102.06"), qty("1.5"))
    );
    assert_eq!(n[0].tif(), Some(TimeInForce::Ioc));
    e.process(&fill(
        &s,
        5 * BAR + 200 * MS,
        &n[0],
        1,
        "102.01",
        "1.5",
        "0",
    ));
    // Down: [101, 101, 98, 97] → fast 97.5 < slow 99.25: long-only, so back to flat.
    let out = run_from(&mut e, &s, 6, &["98", "97", "97"]);
    let n = news(&out);
    assert_eq!(n.len(), 1, "{out:?}");
    // Sell 1.5 at 101.99 × 0.9995 = 101.938.. → 101.94.
    assert_eq!(
        (n[0].side(), n[0].px, n[0].qty),
        (Some(Side::Sell), px("101.94"), qty("1.5"))
    );
}

/// Feeds one bar per close: a top of book, then one trade at the close.
fn run_from(e: &mut Engine, s: &InstrumentSpec, first: usize, closes: &[&str]) -> Vec<Output> {
    let mut out = Vec::new();
    for (i, c) in closes.iter().enumerate() {
        let k = (first + i) as u64;
        let t = k * BAR + 100 * MS;
        out.extend(
            e.process(&top(s, t, "101.99", "50", "102.01", "50"))
                .to_vec(),
        );
        out.extend(e.process(&trade(s, t + MS, c, "1", k)).to_vec());
    }
    out
}

#[test]
fn mean_reversion_shorts_the_spike_and_covers_on_the_way_back() {
    let s = sol();
    let strat = strategy(
        r#"kind = "mean_reversion"
           name = "mr"
           instrument = "SOL-USDT"
           bar_ms = 1000
           window_bars = 5
           entry_z = "1.5"
           exit_z = "0.5"
           position_qty = "2"
           allow_short = true"#,
        std::slice::from_ref(&s),
    );
    let mut e = engine(std::slice::from_ref(&s), vec![strat]);
    let out = run_from(&mut e, &s, 0, &["100", "100", "100", "100", "110"]);
    assert!(news(&out).is_empty());
    // The 110 bar closes (z = 2 > 1.5): short 2.
    let out = run_from(&mut e, &s, 5, &["100"]);
    let n = news(&out);
    assert_eq!(n.len(), 1, "{out:?}");
    assert_eq!((n[0].side(), n[0].qty), (Some(Side::Sell), qty("2")));
    e.process(&fill(&s, 5 * BAR + 200 * MS, &n[0], 1, "101.99", "2", "0"));
    // The 100 bar closes (z = −0.5, within the exit band): buy back to flat.
    let out = run_from(&mut e, &s, 6, &["100"]);
    let n = news(&out);
    assert_eq!(n.len(), 1, "{out:?}");
    assert_eq!((n[0].side(), n[0].qty), (Some(Side::Buy), qty("2")));
}

#[test]
fn bar_strategy_configs_are_validated() {
    let s = [sol()];
    let e = config_errors(
        r#"kind = "trend"
           name = "t"
           instrument = "SOL-USDT"
           fast_bars = 30
           slow_bars = 10
           position_qty = "1""#,
        &s,
    );
    assert_eq!(
        e,
        vec!["strategy[0].fast_bars: must be below slow_bars (30 >= 10)"]
    );
    let e = config_errors(
        r#"kind = "mean_reversion"
           name = "m"
           instrument = "SOL-USDT"
           entry_z = "1"
           exit_z = "1"
           bar_ms = 0
           position_qty = "1""#,
        &s,
    )
    .join("\n");
    assert!(e.contains("bar_ms: 0 is out of range"), "{e}");
    assert!(e.contains("exit_z: must be in [0, entry_z)"), "{e}");
}
