//! Hand-built inputs for driving an `Engine` with one strategy from its config section.
#![allow(dead_code)] // each test file uses a different subset

use tickwire_core::config::Section;
use tickwire_core::engine::{Engine, EngineConfig, Strategy};
use tickwire_core::event::{
    Ack, BookDelta, CancelAck, ExecReport, FeedState, FeedStatus, Fill, Input, Liquidity,
    MarketEvent, Meta, NewOrder, OrderCommand, Output, Side, TimerTick, TopOfBook, Trade,
};
use tickwire_core::ids::{ClientOrderId, InstrumentId, VenueId};
use tickwire_core::num::{InstrumentSpec, Px, Qty};

pub fn px(s: &str) -> Px {
    Px::parse_signed(s).expect("literal")
}

pub fn qty(s: &str) -> Qty {
    Qty::parse(s).expect("literal")
}

pub fn spec(id: u32, venue: VenueId, symbol: &str, tick: &str, lot: &str) -> InstrumentSpec {
    InstrumentSpec {
        id: InstrumentId(id),
        venue,
        symbol: symbol.into(),
        tick: px(tick),
        lot: qty(lot),
        min_qty: qty(lot),
        min_notional: Px::ZERO,
    }
}

/// OKX BTC-USDT (id 0) and Binance BTCUSDT (id 1), both 0.1 tick and 0.0001 lot.
pub fn two_venues() -> Vec<InstrumentSpec> {
    vec![
        spec(0, VenueId::OKX, "BTC-USDT", "0.1", "0.0001"),
        spec(1, VenueId::BINANCE, "BTCUSDT", "0.1", "0.0001"),
    ]
}

/// Builds the strategy of a TOML section, failing on any config error.
pub fn strategy(toml_text: &str, specs: &[InstrumentSpec]) -> Box<dyn Strategy> {
    let table: toml::Table = toml::from_str(toml_text).expect("valid toml");
    let mut section = Section::new("strategy[0]", &table);
    let built = tickwire_strategies::build(&mut section, specs);
    let errors = section.finish();
    assert!(errors.is_empty(), "config errors: {errors:?}");
    built.expect("strategy built")
}

/// The config errors of a TOML section.
pub fn config_errors(toml_text: &str, specs: &[InstrumentSpec]) -> Vec<String> {
    let table: toml::Table = toml::from_str(toml_text).expect("valid toml");
    let mut section = Section::new("strategy[0]", &table);
    let built = tickwire_strategies::build(&mut section, specs);
    let errors = section.finish();
    assert_eq!(
        built.is_some(),
        errors.is_empty(),
        "built iff no errors: {errors:?}"
    );
    errors
}

pub fn engine(specs: &[InstrumentSpec], strategies: Vec<Box<dyn Strategy>>) -> Engine {
    Engine::new(
        &EngineConfig {
            instruments: specs.to_vec(),
            max_open_orders: 64,
            book_depth: 32,
            fill_memory: 1024,
        },
        strategies,
    )
}

pub fn meta(spec: &InstrumentSpec, t: u64) -> Meta {
    Meta::new(spec.venue, spec.id, t)
}

pub fn top(
    spec: &InstrumentSpec,
    t: u64,
    bid: &str,
    bid_qty: &str,
    ask: &str,
    ask_qty: &str,
) -> Input {
    Input::Market(MarketEvent::Top(TopOfBook {
        meta: meta(spec, t),
        bid_px: px(bid),
        bid_qty: qty(bid_qty),
        ask_px: px(ask),
        ask_qty: qty(ask_qty),
        update_id: t,
    }))
}

pub fn trade(spec: &InstrumentSpec, t: u64, price: &str, q: &str, id: u64) -> Input {
    Input::Market(MarketEvent::Trade(Trade::new(
        meta(spec, t),
        px(price),
        qty(q),
        id,
        Side::Buy,
    )))
}

/// One delta batch setting `levels` (side, price, qty) on an instrument's depth book.
pub fn depth(spec: &InstrumentSpec, t: u64, levels: &[(Side, &str, &str)]) -> Vec<Input> {
    let n = levels.len();
    levels
        .iter()
        .enumerate()
        .map(|(i, (side, p, q))| {
            let mut flags = 0;
            if i == 0 {
                flags |= BookDelta::BATCH_BEGIN;
            }
            if i + 1 == n {
                flags |= BookDelta::BATCH_END;
            }
            Input::Market(MarketEvent::Delta(BookDelta::new(
                meta(spec, t),
                *side,
                px(p),
                qty(q),
                t,
                flags,
            )))
        })
        .collect()
}

pub fn status(spec: &InstrumentSpec, t: u64, state: FeedState) -> Input {
    Input::Market(MarketEvent::Status(FeedStatus::new(
        meta(spec, t),
        state,
        0,
        0,
    )))
}

pub fn timer(t: u64) -> Input {
    Input::Timer(TimerTick {
        meta: Meta::new(VenueId::SYNTHETIC, Meta::ALL_INSTRUMENTS, t),
        tick: t,
    })
}

/// A fill of `order` at `price` for `q` (trade id `trade`), taker, with `fee`.
pub fn fill(
    spec: &InstrumentSpec,
    t: u64,
    order: &NewOrder,
    trade: u64,
    price: &str,
    q: &str,
    fee: &str,
) -> Input {
    Input::Exec(ExecReport::Fill(Fill::new(
        meta(spec, t),
        order.cl_ord_id,
        order.cl_ord_id.0,
        trade,
        order.side().expect("side"),
        px(price),
        qty(q),
        px(fee),
        Liquidity::Taker,
    )))
}

pub fn ack(spec: &InstrumentSpec, t: u64, id: ClientOrderId) -> Input {
    Input::Exec(ExecReport::Ack(Ack {
        meta: meta(spec, t),
        cl_ord_id: id,
        venue_order_id: id.0,
    }))
}

/// The end of an order: an IOC remainder expiring, or a cancel confirmed.
pub fn cancel_ack(spec: &InstrumentSpec, t: u64, id: ClientOrderId) -> Input {
    Input::Exec(ExecReport::CancelAck(CancelAck {
        meta: meta(spec, t),
        cl_ord_id: id,
    }))
}

pub fn news(out: &[Output]) -> Vec<NewOrder> {
    out.iter()
        .filter_map(|o| match o {
            Output::Command(OrderCommand::New(n)) => Some(*n),
            _ => None,
        })
        .collect()
}

pub fn cancels(out: &[Output]) -> Vec<ClientOrderId> {
    out.iter()
        .filter_map(|o| match o {
            Output::Command(OrderCommand::Cancel(c)) => Some(c.cl_ord_id),
            _ => None,
        })
        .collect()
}
