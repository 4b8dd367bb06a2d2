//! The kill switch's flattener, the engine side of a flatten that risk started: cancel everything → confirm (acks, then queries) → close each
//! position with marketable IOC limit orders inside a price band, under a budget of orders, with
//! retries backed off in engine time. When the budget is spent it alerts and stops sending —
//! the position stays tracked and visible (level `flattening`), never abandoned and never
//! retried forever; an operator `flatten`/`kill` starts a fresh budget. `stopped` is reached only
//! when every position of the strategy is below one lot and it has no open order.
//!
//! Rejects and unknown outcomes count against the budget like any other attempt; a degraded
//! venue is simply retried later (the backoff doubles up to its cap).

use super::Ctx;
use crate::event::{
    Alert, AlertCode, OrderCommand, OrderType, Output, QueryOrder, RiskDecision, RiskDecisionKind,
    RiskReason, Side, TimeInForce,
};
use crate::ids::InstrumentId;
use crate::market::{MarketView, through_touch};
use crate::num::{Px, Qty, Round};
use crate::order::OrderRequest;
use crate::risk::{FlattenPhase, FlattenState};

/// One step of the flattener for the strategy of `ctx`. Runs after every engine input while
/// the strategy is flattening; does nothing until something it waits for happened.
pub(crate) fn step(ctx: &mut Ctx<'_>) {
    let s = usize::from(ctx.strategy.0);
    let now = ctx.now;
    let cfg = ctx.risk.config().flatten;
    let mut f = ctx.risk.strat[s].flatten;
    if f.phase == FlattenPhase::Cancelling {
        if !f.cancel_sent {
            ctx.cancel_all(None);
            f.cancel_sent = true;
            f.since = now;
        }
        let open = ctx.risk.open_orders(ctx.strategy);
        if open == 0 {
            f.phase = FlattenPhase::Closing;
            f.next_at = now;
            f.backoff = cfg.backoff_ns;
        } else if now.saturating_sub(f.since) >= cfg.confirm_timeout_ns {
            if f.queries < cfg.max_queries {
                // Unconfirmed: ask the venue, and re-send cancels whose first attempt was
                // refused (their state went back to working).
                query_open(ctx, None);
                ctx.cancel_all(None);
                f.queries += 1;
                f.since = now;
            } else {
                // Closing anyway: waiting longer would leave the position unmanaged, and
                // the open orders are still tracked (and counted as exposure).
                f.phase = FlattenPhase::Closing;
                f.next_at = now;
                f.backoff = cfg.backoff_ns;
            }
        }
    }
    if f.phase == FlattenPhase::Closing && now >= f.next_at {
        let n = ctx.markets.iter().count();
        let mut flat = true;
        let mut sent = false;
        for i in 0..n {
            let id = InstrumentId(i as u32);
            let Some(view) = ctx.markets.get(id) else {
                continue;
            };
            let pos = ctx.position(id);
            let lot = view.spec.lot;
            if pos.abs() < lot.max(view.spec.min_qty) {
                // Below one lot (or the venue minimum) nothing can trade it: dust is flat.
                continue;
            }
            flat = false;
            let side = if pos.is_positive() {
                Side::Sell
            } else {
                Side::Buy
            };
            if ctx.risk.has_open(ctx.strategy, id, side) {
                // A closing order is still working: wait for its outcome (one at a time, the
                // duplicate-close guard). Unconfirmed orders on the other side do not block
                // closing; if they fill, the next round closes that too. A venue that never
                // answers is queried a bounded number of times, then the operator is alerted.
                if now.saturating_sub(f.waiting_since) >= cfg.confirm_timeout_ns {
                    if f.chases < cfg.max_queries {
                        query_open(ctx, Some(id));
                        f.chases += 1;
                        f.waiting_since = now;
                    } else if !f.stuck {
                        f.stuck = true;
                        stuck(ctx, id, pos, &f, cfg.max_orders);
                    }
                }
                continue;
            }
            if f.orders_sent >= cfg.max_orders {
                if !f.stuck {
                    f.stuck = true;
                    stuck(ctx, id, pos, &f, cfg.max_orders);
                }
                continue;
            }
            let Some(px) = closing_price(view, side, cfg.max_slippage_bps) else {
                // No market to price on: try again later (counts as an attempt).
                f.orders_sent += 1;
                sent = true;
                continue;
            };
            let mut qty = view
                .spec
                .round_qty(pos.abs(), Round::Down)
                .unwrap_or(Qty::ZERO);
            if let Some(clip) = cfg.clip_qty {
                qty = qty.min(view.spec.round_qty(clip, Round::Down).unwrap_or(clip));
            }
            let req = OrderRequest {
                instrument: id,
                side,
                px,
                qty,
                order_type: OrderType::Limit,
                tif: TimeInForce::Ioc,
            };
            f.orders_sent += 1;
            f.waiting_since = now;
            f.chases = 0;
            sent = true;
            let meta = ctx.out_meta(id);
            let mut d = RiskDecision::new(
                meta,
                ctx.strategy,
                RiskDecisionKind::Flatten,
                RiskReason::Operator,
            );
            d.side = side.code();
            d.px = px;
            d.qty = qty;
            d.value = i64::from(f.orders_sent);
            d.limit = i64::from(cfg.max_orders);
            if ctx.place_unchecked(req).is_err() {
                // Off-grid or table full: journaled as a refusal; retried after the backoff.
                d.kind = RiskDecisionKind::Reject.code();
            }
            ctx.out.push(Output::Risk(d));
        }
        if flat && ctx.risk.open_orders(ctx.strategy) == 0 {
            ctx.risk.strat[s].flatten = f;
            let meta = ctx.trigger;
            ctx.risk.set_stopped(ctx.strategy, meta, ctx.out);
            return;
        }
        if sent {
            f.next_at = now.saturating_add(f.backoff);
            f.backoff = f.backoff.saturating_mul(2).min(cfg.max_backoff_ns);
        }
    }
    ctx.risk.strat[s].flatten = f;
}

/// A marketable limit price: one tick through the opposite touch, but never farther than
/// `max_slippage_bps` from the mid.
fn closing_price(view: &MarketView, side: Side, max_slippage_bps: u32) -> Option<Px> {
    let mid = view.mid()?.raw();
    let through = through_touch(view, side, 1)?.raw();
    let band = (i128::from(mid) * i128::from(max_slippage_bps) / 10_000) as i64;
    let (raw, round) = match side {
        Side::Buy => (through.min(mid.saturating_add(band)), Round::Down),
        Side::Sell => (through.max(mid.saturating_sub(band)), Round::Up),
    };
    let px = view.spec.round_px(Px::from_raw(raw), round)?;
    px.is_positive().then_some(px)
}

/// Journals the flattener giving up on an instrument and alerts the operator (once per flatten).
fn stuck(ctx: &mut Ctx<'_>, id: InstrumentId, pos: Qty, f: &FlattenState, max_orders: u32) {
    let meta = ctx.out_meta(id);
    let mut d = RiskDecision::new(
        meta,
        ctx.strategy,
        RiskDecisionKind::Flatten,
        RiskReason::FlattenBudget,
    );
    d.qty = pos;
    d.value = i64::from(f.orders_sent);
    d.limit = i64::from(max_orders);
    ctx.out.push(Output::Risk(d));
    ctx.out.push(Output::Alert(Alert::new(
        meta,
        AlertCode::FlattenStuck,
        u64::from(ctx.strategy.0),
    )));
}

/// Queries the strategy's open orders (on one instrument, or all).
fn query_open(ctx: &mut Ctx<'_>, only: Option<InstrumentId>) {
    let me = ctx.strategy;
    for o in ctx
        .orders
        .iter()
        .filter(|o| o.strategy == me && only.is_none_or(|i| i == o.instrument))
    {
        let meta = super::out_meta(ctx.markets, &ctx.trigger, o.instrument);
        ctx.out
            .push(Output::Command(OrderCommand::Query(QueryOrder {
                meta,
                cl_ord_id: o.id,
            })));
    }
}
