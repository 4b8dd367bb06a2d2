//! `script`: places a fixed list of orders, one step every n-th book update, for drills and
//! tests that need to know exactly which orders the engine sends (`tickwire drill`).
//!
//! A step is `"SIDE QTY take"` (an IOC limit one tick through the opposite touch: trades at
//! once) or `"SIDE QTY rest"` (a GTC limit `rest_ticks` ticks behind its own touch: stays
//! open). A step the engine refuses (risk, unverified restored orders) is tried again at the
//! next turn, so a script resumes where the engine lets it. While the instrument's feed is
//! unhealthy (stale, gapped) the script places nothing and cancels its open orders.

use tickwire_core::config::Section;
use tickwire_core::engine::{Ctx, Strategy};
use tickwire_core::event::{FeedStatus, OrderType, Side, TimeInForce};
use tickwire_core::ids::InstrumentId;
use tickwire_core::market::through_touch;
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_core::order::OrderRequest;

/// One scripted order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Buy or sell.
    pub side: Side,
    /// Quantity.
    pub qty: Qty,
    /// Take liquidity (IOC through the touch) rather than rest behind the touch.
    pub take: bool,
}

impl Step {
    /// Parses `"buy 0.01 take"` / `"sell 0.5 rest"`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [side, qty, how] = parts.as_slice() else {
            return Err(format!("{text:?}: expected \"buy|sell QTY take|rest\""));
        };
        let side = match *side {
            "buy" => Side::Buy,
            "sell" => Side::Sell,
            other => return Err(format!("{other:?} is not buy or sell")),
        };
        let qty = Qty::parse(qty)
            .ok()
            .filter(|q| !q.is_zero())
            .ok_or_else(|| format!("{qty:?} is not a positive quantity"))?;
        let take = match *how {
            "take" => true,
            "rest" => false,
            other => return Err(format!("{other:?} is not take or rest")),
        };
        Ok(Self { side, qty, take })
    }
}

/// Script parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptConfig {
    /// Strategy name.
    pub name: String,
    /// Instrument traded.
    pub instrument: InstrumentId,
    /// The orders, in order.
    pub steps: Vec<Step>,
    /// Act on every n-th book update.
    pub every: u32,
    /// Start over after the last step.
    pub repeat: bool,
    /// How far behind its own touch a resting order is placed, in ticks.
    pub rest_ticks: i64,
    /// Book updates to let pass before the first step (order entry may still be connecting).
    pub warmup: u64,
}

/// The script strategy.
pub struct Script {
    cfg: ScriptConfig,
    books: u64,
    next: usize,
}

impl Script {
    /// A script with `cfg`.
    pub fn new(cfg: ScriptConfig) -> Self {
        Self {
            cfg,
            books: 0,
            next: 0,
        }
    }

    /// Reads a `[[strategy]] kind = "script"` section.
    pub fn from_config(s: &mut Section<'_>, instruments: &[InstrumentSpec]) -> Option<Self> {
        let name = s.str("name");
        let symbol = s.str("instrument");
        let every = s.int_or("every", 1, 1_000_000, 1) as u32;
        let repeat = s.opt_bool("repeat").unwrap_or(false);
        let rest_ticks = s.int_or("rest_ticks", 1, 1_000_000, 50);
        let warmup = s.int_or("warmup", 0, 1_000_000_000, 0) as u64;
        let steps: Vec<Step> = match s.opt_str_array("steps") {
            Some(list) if !list.is_empty() => {
                let mut steps = Vec::new();
                for text in list {
                    match Step::parse(text) {
                        Ok(step) => steps.push(step),
                        Err(e) => s.error("steps", e),
                    }
                }
                steps
            }
            _ => {
                s.error(
                    "steps",
                    "a non-empty list of \"buy|sell QTY take|rest\" is required",
                );
                Vec::new()
            }
        };
        let instrument = symbol.and_then(|sym| {
            let found = instruments.iter().find(|i| i.symbol == sym).map(|i| i.id);
            if found.is_none() {
                s.error("instrument", format!("no instrument {sym:?} is configured"));
            }
            found
        });
        if steps.is_empty() {
            return None;
        }
        Some(Self::new(ScriptConfig {
            name: name?.to_owned(),
            instrument: instrument?,
            steps,
            every,
            repeat,
            rest_ticks,
            warmup,
        }))
    }

    fn price(&self, ctx: &Ctx<'_>, step: &Step) -> Option<Px> {
        let view = ctx.market(self.cfg.instrument)?;
        if step.take {
            return through_touch(view, step.side, 1);
        }
        let back = view.spec.tick.raw().checked_mul(self.cfg.rest_ticks)?;
        match step.side {
            Side::Buy => view.best_bid()?.raw().checked_sub(back),
            Side::Sell => view.best_ask()?.raw().checked_add(back),
        }
        .filter(|p| *p > 0)
        .map(Px::from_raw)
    }
}

impl Strategy for Script {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn on_feed_status(&mut self, ctx: &mut Ctx<'_>, _status: &FeedStatus) {
        // A stalled feed sends no book update: pull quotes on the status itself.
        let inst = self.cfg.instrument;
        if !ctx.market(inst).is_some_and(|m| m.is_healthy()) {
            ctx.cancel_all(Some(inst));
        }
    }

    fn on_book(&mut self, ctx: &mut Ctx<'_>, instrument: InstrumentId) {
        if instrument != self.cfg.instrument {
            return;
        }
        self.books += 1;
        if self.books <= self.cfg.warmup {
            return;
        }
        if !self.books.is_multiple_of(u64::from(self.cfg.every)) {
            return;
        }
        if self.next >= self.cfg.steps.len() {
            if !self.cfg.repeat {
                return;
            }
            self.next = 0;
        }
        if !ctx.market(instrument).is_some_and(|m| m.is_healthy()) {
            // Pull quotes from a book that cannot be trusted.
            ctx.cancel_all(Some(instrument));
            return;
        }
        let step = self.cfg.steps[self.next];
        let Some(px) = self.price(ctx, &step) else {
            return;
        };
        let req = OrderRequest {
            instrument,
            side: step.side,
            px,
            qty: step.qty,
            order_type: OrderType::Limit,
            tif: if step.take {
                TimeInForce::Ioc
            } else {
                TimeInForce::Gtc
            },
        };
        if ctx.place(req).is_ok() {
            self.next += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_strictly() {
        let s = Step::parse("buy 0.0241 take").expect("valid");
        assert_eq!(s.side, Side::Buy);
        assert_eq!(s.qty, Qty::parse("0.0241").expect("qty"));
        assert!(s.take);
        assert!(!Step::parse("sell 1 rest").expect("valid").take);
        for bad in [
            "buy 0 take",
            "hold 1 take",
            "buy 1",
            "buy x rest",
            "buy 1 maybe",
        ] {
            assert!(Step::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
