//! Engine behaviour on hand-built input sequences.

use super::*;
use crate::event::{
    Ack, CancelAck, ExecReport, Fill, Liquidity, MarketEvent, OrderCommand, OrderType, Side,
    TimeInForce, TopOfBook,
};
use crate::ids::VenueId;
use crate::num::Px;
use crate::order::OrderRequest;

fn px(s: &str) -> Px {
    Px::parse(s).expect("literal")
}
fn qty(s: &str) -> Qty {
    Qty::parse(s).expect("literal")
}

fn spec() -> InstrumentSpec {
    InstrumentSpec {
        id: InstrumentId(0),
        venue: VenueId::OKX,
        symbol: "BTC-USDT".into(),
        tick: px("0.1"),
        lot: qty("0.0001"),
        min_qty: qty("0.0001"),
        min_notional: Px::ZERO,
    }
}

/// Buys `size` at the best bid whenever it has no open order and is flat.
struct Buyer {
    size: Qty,
}

impl Strategy for Buyer {
    fn name(&self) -> &str {
        "buyer"
    }
    fn on_book(&mut self, ctx: &mut Ctx<'_>, instrument: InstrumentId) {
        let Some(bid) = ctx.market(instrument).and_then(|m| m.best_bid()) else {
            return;
        };
        if ctx.open_orders().next().is_none() && ctx.position(instrument).is_zero() {
            let req = OrderRequest {
                instrument,
                side: Side::Buy,
                px: bid,
                qty: self.size,
                order_type: OrderType::Limit,
                tif: TimeInForce::Gtc,
            };
            // Refusals (paused, stopping) show up as the absence of outputs, which the
            // tests assert on.
            let _ = ctx.place(req);
        }
    }
}

fn engine(size: &str) -> Engine {
    let cfg = EngineConfig {
        instruments: vec![spec()],
        max_open_orders: 8,
        book_depth: 8,
        fill_memory: 64,
    };
    Engine::new(&cfg, vec![Box::new(Buyer { size: qty(size) })])
}

fn top(t: u64) -> Input {
    Input::Market(MarketEvent::Top(TopOfBook {
        meta: Meta::new(VenueId::OKX, InstrumentId(0), t),
        bid_px: px("100"),
        bid_qty: qty("1"),
        ask_px: px("100.1"),
        ask_qty: qty("1"),
        update_id: t,
    }))
}

fn meta(t: u64) -> Meta {
    Meta::new(VenueId::OKX, InstrumentId(0), t)
}

fn fill(t: u64, id: ClientOrderId, trade: u64, q: &str) -> Input {
    Input::Exec(ExecReport::Fill(Fill::new(
        meta(t),
        id,
        77,
        trade,
        Side::Buy,
        px("100"),
        qty(q),
        Px::ZERO,
        Liquidity::Maker,
    )))
}

fn placed(e: &mut Engine, t: u64) -> ClientOrderId {
    let out = e.process(&top(t)).to_vec();
    match out.first() {
        Some(Output::Command(OrderCommand::New(n))) => n.cl_ord_id,
        other => panic!("expected a new order, got {other:?}"),
    }
}

#[test]
fn rounded_fill_quantity_is_accepted_and_completes_the_order() {
    // The OKX incident: 0.024098 reported filled on an order of 0.0241.
    let mut e = engine("0.0241");
    let id = placed(&mut e, 1);
    let out = e.process(&fill(2, id, 1, "0.024098")).to_vec();
    assert_eq!(e.position(StrategyId(0), InstrumentId(0)), qty("0.024098"));
    assert!(
        e.orders().get(id).is_none(),
        "order completed, not left open"
    );
    assert!(
        !out.iter().any(|o| matches!(o, Output::Alert(_))),
        "a rounded fill within tolerance raises no alert: {out:?}"
    );
    assert!(out.iter().any(|o| matches!(o,
        Output::OrderUpdate(u) if u.state() == Some(OrderState::Filled))));
}

#[test]
fn fill_before_ack_and_duplicate_fill_counted_once() {
    let mut e = engine("0.5");
    let id = placed(&mut e, 1);
    e.process(&fill(2, id, 9, "0.2"));
    e.process(&fill(3, id, 9, "0.2")); // same trade id from a second channel
    let ack = Input::Exec(ExecReport::Ack(Ack {
        meta: meta(4),
        cl_ord_id: id,
        venue_order_id: 77,
    }));
    e.process(&ack);
    assert_eq!(e.position(StrategyId(0), InstrumentId(0)), qty("0.2"));
    assert_eq!(e.stats().duplicate_fills, 1);
    let o = e.orders().get(id).expect("still open");
    assert_eq!(
        o.state,
        OrderState::PartiallyFilled,
        "late ack does not regress state"
    );
    assert_eq!(o.venue_order_id, 77);
}

#[test]
fn overfill_and_fill_after_cancel_still_move_the_position_and_alert() {
    let mut e = engine("0.5");
    let id = placed(&mut e, 1);
    let cancel_ack = Input::Exec(ExecReport::CancelAck(CancelAck {
        meta: meta(2),
        cl_ord_id: id,
    }));
    e.process(&cancel_ack);
    assert!(e.orders().get(id).is_none());
    let out = e.process(&fill(3, id, 1, "0.5")).to_vec();
    assert_eq!(e.position(StrategyId(0), InstrumentId(0)), qty("0.5"));
    assert!(out.iter().any(|o| matches!(o, Output::Alert(a)
        if a.code() == Some(AlertCode::FillAnomaly))));

    let mut e = engine("0.5");
    let id = placed(&mut e, 1);
    let out = e.process(&fill(2, id, 1, "0.6")).to_vec();
    assert_eq!(e.position(StrategyId(0), InstrumentId(0)), qty("0.6"));
    assert!(out.iter().any(|o| matches!(o, Output::Alert(a)
        if a.code() == Some(AlertCode::FillAnomaly))));
}

#[test]
fn pause_blocks_new_orders_and_shutdown_cancels_open_ones() {
    let mut e = engine("0.5");
    let pause = Input::Operator(OperatorCmd::new(
        meta(1),
        CancelAll::EVERY_STRATEGY,
        OperatorAction::Pause,
    ));
    e.process(&pause);
    assert!(
        e.process(&top(2)).is_empty(),
        "paused strategy placed nothing"
    );
    let resume = Input::Operator(OperatorCmd::new(
        meta(3),
        CancelAll::EVERY_STRATEGY,
        OperatorAction::Resume,
    ));
    e.process(&resume);
    let id = placed(&mut e, 4);
    let shutdown = Input::Operator(OperatorCmd::new(
        meta(5),
        CancelAll::EVERY_STRATEGY,
        OperatorAction::Shutdown,
    ));
    let out = e.process(&shutdown).to_vec();
    assert!(
        matches!(out.first(), Some(Output::Command(OrderCommand::Cancel(c))) if c.cl_ord_id == id)
    );
    assert!(e.is_shutting_down());
}

#[test]
fn same_inputs_give_identical_outputs() {
    let inputs: Vec<Input> = (0..50u64)
        .flat_map(|t| {
            [
                top(t * 10),
                fill(
                    t * 10 + 1,
                    ClientOrderId::new(StrategyId(0), t + 1).expect("id"),
                    t,
                    "0.5",
                ),
            ]
        })
        .collect();
    let run = || {
        let mut e = engine("0.5");
        inputs
            .iter()
            .flat_map(|i| e.process(i).to_vec())
            .collect::<Vec<_>>()
    };
    let (a, b) = (run(), run());
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn base_asset_fee_reduces_the_position_to_the_venue_balance_change() {
    use crate::event::FeeUnit;
    let mut e = engine("1");
    let id = placed(&mut e, 1);
    // Buy 1 with 0.001 charged in the base asset: the venue credits 0.999.
    let f = Fill::new(
        meta(2),
        id,
        77,
        1,
        Side::Buy,
        px("100"),
        qty("1"),
        px("0.001"),
        Liquidity::Taker,
    )
    .with_fee_unit(FeeUnit::Base);
    let out = e.process(&Input::Exec(ExecReport::Fill(f))).to_vec();
    assert_eq!(e.position(StrategyId(0), InstrumentId(0)), qty("0.999"));
    assert_eq!(e.net_position(InstrumentId(0)), qty("0.999"));
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Position(p) if p.position == qty("0.999"))),
        "risk is told the same position: {out:?}"
    );
    assert!(
        out.iter().any(|o| matches!(o,
            Output::OrderUpdate(u) if u.state() == Some(OrderState::Filled))),
        "the order filled its whole quantity"
    );
    let a = e
        .ledger()
        .account(StrategyId(0), InstrumentId(0))
        .expect("account");
    assert_eq!(a.position(), qty("0.999"), "ledger agrees with the engine");
    assert_eq!(a.base_fees(), "0.001".parse().expect("decimal"));
    assert_eq!(
        a.fees(),
        rust_decimal::Decimal::ZERO,
        "no quote fee invented"
    );
    assert_eq!(a.bought(), qty("1"));
    // The fee left a long position at zero proceeds: its share of the cost (0.1) is realized.
    assert_eq!(a.realized(), "-0.1".parse().expect("decimal"));
    assert_eq!(a.unrealized(px("100")), rust_decimal::Decimal::ZERO);
    assert_eq!(a.pnl(px("100")).net(), "-0.1".parse().expect("decimal"));
}
