//! Property tests of the ledger against an independent integer cash-flow computation.

use proptest::prelude::*;
use rust_decimal::Decimal;
use tickwire_core::accounting::{Fee, FeeAsset, Ledger, LedgerFill};
use tickwire_core::event::{Liquidity, Side};
use tickwire_core::ids::{InstrumentId, StrategyId, VenueId};
use tickwire_core::num::{InstrumentSpec, Px, Qty};

fn spec(id: u32, venue: VenueId) -> InstrumentSpec {
    InstrumentSpec {
        id: InstrumentId(id),
        venue,
        symbol: format!("I{id}"),
        tick: Px::from_raw(1),
        lot: Qty::from_raw(1),
        min_qty: Qty::from_raw(1),
        min_notional: Px::ZERO,
    }
}

#[derive(Clone, Debug)]
struct F {
    strategy: u16,
    instrument: u32,
    buy: bool,
    px: i64,
    qty: i64,
    fee: i64,
    maker: bool,
    /// The fee is charged in the base asset (in base units), not the quote.
    base_fee: bool,
}

fn fills() -> impl Strategy<Value = Vec<F>> {
    // Prices up to 10^5 and quantities up to 10^3 (9 decimals each) keep every product and
    // sum inside Decimal's exact range; fees are small and signed (rebates).
    prop::collection::vec(
        (
            0u16..3,
            0u32..2,
            any::<bool>(),
            1i64..100_000_000_000_000,
            1i64..1_000_000_000_000,
            -1_000_000_000i64..10_000_000_000,
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(strategy, instrument, buy, px, qty, fee, maker, base_fee)| F {
                    strategy,
                    instrument,
                    buy,
                    px,
                    qty,
                    fee,
                    maker,
                    base_fee,
                },
            ),
        0..80,
    )
}

fn to_ledger(f: &F) -> LedgerFill {
    LedgerFill {
        instrument: InstrumentId(f.instrument),
        side: if f.buy { Side::Buy } else { Side::Sell },
        px: Px::from_raw(f.px),
        qty: Qty::from_raw(f.qty),
        fee: if f.base_fee {
            Fee {
                amount: Px::from_raw(f.fee).to_decimal(),
                asset: FeeAsset::Base,
            }
        } else {
            Fee::quote(Px::from_raw(f.fee))
        },
        liquidity: if f.maker {
            Liquidity::Maker
        } else {
            Liquidity::Taker
        },
    }
}

/// 10^-18 quote units as a Decimal.
fn dec18(raw: i128) -> Decimal {
    Decimal::from_i128_with_scale(raw, 18)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn pnl_equals_cash_flow_and_positions_sum_fills(
        fills in fills(),
        marks in (1i64..100_000_000_000_000, 1i64..100_000_000_000_000),
    ) {
        let specs = [spec(0, VenueId::BINANCE), spec(1, VenueId::OKX)];
        let mut ledger = Ledger::new(&specs, 3);
        for f in &fills {
            ledger.apply(Some(StrategyId(f.strategy)), &to_ledger(f));
        }
        let mark = |i: u32| if i == 0 { marks.0 } else { marks.1 };
        for s in 0..3u16 {
            for i in 0..2u32 {
                let mine = fills.iter().filter(|f| f.strategy == s && f.instrument == i);
                // Independent: integer cash flow in 10^-18 units.
                let (mut pos, mut cash, mut fees, mut turnover) = (0i64, 0i128, 0i128, 0i128);
                let mut trades = 0u64;
                let mut base_fees = 0i128;
                for f in mine {
                    let sign = if f.buy { 1 } else { -1 };
                    pos += sign * f.qty;
                    cash -= i128::from(sign) * i128::from(f.px) * i128::from(f.qty);
                    if f.base_fee {
                        // Inventory that never arrived (or a base rebate that did).
                        pos -= f.fee;
                        base_fees += i128::from(f.fee) * 1_000_000_000;
                    } else {
                        fees += i128::from(f.fee) * 1_000_000_000;
                    }
                    turnover += i128::from(f.px) * i128::from(f.qty);
                    trades += 1;
                }
                let m = mark(i);
                let expected = cash - fees + i128::from(pos) * i128::from(m);
                let a = ledger.account(StrategyId(s), InstrumentId(i)).expect("account");
                prop_assert_eq!(a.position(), Qty::from_raw(pos));
                prop_assert_eq!(a.pnl(Px::from_raw(m)).net(), dec18(expected));
                prop_assert_eq!(a.fees(), dec18(fees));
                prop_assert_eq!(a.base_fees(), dec18(base_fees));
                prop_assert_eq!(a.turnover(), dec18(turnover));
                prop_assert_eq!(a.trades(), trades);
                if pos == 0 {
                    prop_assert_eq!(a.cost_basis(), Decimal::ZERO);
                    prop_assert_eq!(a.avg_price(), None);
                }
            }
        }
        // The venue account holds every strategy's fills.
        for (i, venue) in [(0u32, VenueId::BINANCE), (1, VenueId::OKX)] {
            let v = ledger.venue_account(venue, InstrumentId(i)).expect("venue account");
            let sum: i64 = (0..3u16)
                .map(|s| ledger.account(StrategyId(s), InstrumentId(i)).expect("a").position().raw())
                .sum();
            prop_assert_eq!(v.position().raw(), sum);
            let m = Px::from_raw(mark(i));
            let strat_net: Decimal = (0..3u16)
                .map(|s| ledger.account(StrategyId(s), InstrumentId(i)).expect("a").pnl(m).net())
                .sum();
            prop_assert_eq!(v.pnl(m).net(), strat_net);
        }
        prop_assert!(ledger.venue_account(VenueId::OKX, InstrumentId(0)).is_none());
    }

    #[test]
    fn fill_order_changes_only_the_realized_split(fills in fills(), seed in any::<u64>()) {
        // Any permutation of the same fills gives the same position, fees and net P&L.
        let specs = [spec(0, VenueId::BINANCE), spec(1, VenueId::OKX)];
        let mut a = Ledger::new(&specs, 3);
        let mut b = Ledger::new(&specs, 3);
        for f in &fills {
            a.apply(Some(StrategyId(f.strategy)), &to_ledger(f));
        }
        let mut shuffled = fills.clone();
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        for f in &shuffled {
            b.apply(Some(StrategyId(f.strategy)), &to_ledger(f));
        }
        let m = Px::from_raw(12_345_000_000_000);
        for s in 0..3u16 {
            for i in 0..2u32 {
                let (x, y) = (
                    a.account(StrategyId(s), InstrumentId(i)).expect("a"),
                    b.account(StrategyId(s), InstrumentId(i)).expect("b"),
                );
                prop_assert_eq!(x.position(), y.position());
                prop_assert_eq!(x.fees(), y.fees());
                prop_assert_eq!(x.pnl(m).net(), y.pnl(m).net());
            }
        }
    }
}
