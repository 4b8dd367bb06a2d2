//! The simulator's matching engine as it was before it moved onto the one engine
//! (`tickwire-matching`): `rust_decimal` throughout, its own consumption overlay, queue
//! positions and matching rules, with the same account layer. Kept unchanged in behaviour as
//! the reference model of the differential test (`tests.rs`, `mod differential`): the adapter
//! the simulator runs must give the same events, fills, balances, statuses and queue
//! positions on any sequence of operations.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::{
    AccountId, Amend, Balance, ExecKind, Execution, Fees, Fill, NewOrder, Order, OrderRef,
    OrderStatus, OrderType, PublicTrade, Reject, Side, SymbolRules, TimeInForce,
};
use crate::book::{Book, Level};

#[derive(Debug)]
struct Account {
    name: String,
    balances: BTreeMap<String, Balance>,
}

#[derive(Debug)]
struct SymbolState {
    rules: SymbolRules,
    /// (side of the level, price) → (public qty when consumed, consumed qty).
    consumed: BTreeMap<(Side, Decimal), (Decimal, Decimal)>,
    /// Resting order ids, in time priority.
    resting: Vec<u64>,
}

/// The matching engine of one venue: accounts, symbols, orders, fills.
#[derive(Debug)]
pub struct Engine {
    fees: Fees,
    accounts: Vec<Account>,
    symbols: BTreeMap<String, SymbolState>,
    orders: BTreeMap<u64, Order>,
    fills: Vec<Fill>,
    next_order_id: u64,
    next_trade_id: u64,
    next_seq: u64,
    short_fill: Option<ShortFill>,
}

/// The short-fill fault: fills reported (and booked) `by` smaller than matched.
#[derive(Clone, Copy, Debug)]
struct ShortFill {
    by: Decimal,
    /// Fills still to let through before shaving.
    skip: u64,
    /// Fills still to shave (`u64::MAX`: unlimited).
    left: u64,
}

/// Commission decimals.
const FEE_DP: u32 = 8;

/// Visible quantity of a public level (`[price, qty, ..]` strings).
fn level_qty(l: &Level) -> Decimal {
    l.get(1)
        .and_then(|q| q.parse::<Decimal>().ok())
        .unwrap_or(Decimal::ZERO)
}

fn public_qty(book: &Book<Level>, side: Side, px: Decimal) -> Decimal {
    let levels = match side {
        Side::Buy => &book.bids,
        Side::Sell => &book.asks,
    };
    levels.get(&px).map_or(Decimal::ZERO, level_qty)
}

fn is_multiple(v: Decimal, step: Decimal) -> bool {
    step.is_zero() || (v % step).is_zero()
}

impl Engine {
    /// An engine with these fees, no accounts and no symbols. Order and trade ids start at 1.
    pub fn new(fees: Fees) -> Self {
        Self {
            fees,
            accounts: Vec::new(),
            symbols: BTreeMap::new(),
            orders: BTreeMap::new(),
            fills: Vec::new(),
            next_order_id: 1,
            next_trade_id: 1,
            next_seq: 1,
            short_fill: None,
        }
    }

    /// Fault: from the `after`-th fill on, `count` fills (0 = all) are reported and booked `by`
    /// smaller than what matched (a fill not larger than `by` is left alone). The order still
    /// completes when its quantity has matched.
    pub fn set_short_fill(&mut self, by: Decimal, after: u64, count: u64) {
        self.short_fill = Some(ShortFill {
            by,
            skip: after,
            left: if count == 0 { u64::MAX } else { count },
        });
    }

    /// How much of a fill of `qty` is booked (the short-fill fault shaves it).
    fn booked(&mut self, qty: Decimal) -> Decimal {
        let Some(f) = &mut self.short_fill else {
            return qty;
        };
        if f.skip > 0 {
            f.skip -= 1;
            return qty;
        }
        if f.left == 0 || qty <= f.by {
            return qty;
        }
        if f.left != u64::MAX {
            f.left -= 1;
        }
        qty - f.by
    }

    /// The fees.
    pub fn fees(&self) -> Fees {
        self.fees
    }

    /// Adds (or replaces the rules of) a symbol.
    pub fn add_symbol(&mut self, rules: SymbolRules) {
        let sym = rules.symbol.clone();
        match self.symbols.get_mut(&sym) {
            Some(s) => s.rules = rules,
            None => {
                self.symbols.insert(
                    sym,
                    SymbolState {
                        rules,
                        consumed: BTreeMap::new(),
                        resting: Vec::new(),
                    },
                );
            }
        }
    }

    /// A symbol's rules.
    pub fn rules(&self, symbol: &str) -> Option<&SymbolRules> {
        self.symbols.get(symbol).map(|s| &s.rules)
    }

    /// Adds an account with free balances; returns its id.
    pub fn add_account(&mut self, name: &str, balances: &[(String, Decimal)]) -> AccountId {
        let balances = balances
            .iter()
            .map(|(a, f)| {
                (
                    a.clone(),
                    Balance {
                        free: *f,
                        locked: Decimal::ZERO,
                    },
                )
            })
            .collect();
        self.accounts.push(Account {
            name: name.to_owned(),
            balances,
        });
        self.accounts.len() - 1
    }

    /// The id of the account with this name.
    pub fn account_id(&self, name: &str) -> Option<AccountId> {
        self.accounts.iter().position(|a| a.name == name)
    }

    /// An account's balances by asset (assets ever held, including zero ones).
    pub fn balances(&self, account: AccountId) -> Option<&BTreeMap<String, Balance>> {
        self.accounts.get(account).map(|a| &a.balances)
    }

    /// One balance (zero if the asset was never held).
    pub fn balance(&self, account: AccountId, asset: &str) -> Balance {
        self.accounts
            .get(account)
            .and_then(|a| a.balances.get(asset).copied())
            .unwrap_or_default()
    }

    /// An order of the account on this symbol, open or not.
    pub fn order(&self, account: AccountId, symbol: &str, r: &OrderRef) -> Option<&Order> {
        let id = self.find(account, symbol, r, false)?;
        self.orders.get(&id)
    }

    /// The account's open orders (all symbols with `None`), oldest first.
    pub fn open_orders(&self, account: AccountId, symbol: Option<&str>) -> Vec<&Order> {
        self.orders
            .values()
            .filter(|o| {
                o.account == account && o.status.is_open() && symbol.is_none_or(|s| s == o.symbol)
            })
            .collect()
    }

    /// The account's fills on a symbol, oldest first.
    pub fn trades(&self, account: AccountId, symbol: &str) -> Vec<&Fill> {
        self.fills
            .iter()
            .filter(|f| f.account == account && f.symbol == symbol)
            .collect()
    }

    /// Every fill of one order, oldest first.
    pub fn order_fills(&self, order_id: u64) -> Vec<&Fill> {
        self.fills
            .iter()
            .filter(|f| f.order_id == order_id)
            .collect()
    }

    fn find(&self, account: AccountId, symbol: &str, r: &OrderRef, open: bool) -> Option<u64> {
        let ok =
            |o: &Order| o.account == account && o.symbol == symbol && (!open || o.status.is_open());
        match r {
            OrderRef::Id(id) => self.orders.get(id).filter(|o| ok(o)).map(|o| o.id),
            OrderRef::Client(c) => self
                .orders
                .values()
                .rev()
                .find(|o| ok(o) && o.client_id == *c)
                .map(|o| o.id),
        }
    }

    /// Visible quantity of a level in our private view (public minus what we consumed, unless
    /// the tape has changed the level since).
    fn visible(st: &SymbolState, book: &Book<Level>, side: Side, px: Decimal) -> Decimal {
        let public = public_qty(book, side, px);
        match st.consumed.get(&(side, px)) {
            Some((at, used)) if *at == public => (public - used).max(Decimal::ZERO),
            _ => public,
        }
    }

    /// Opposite levels an order of `side` limited at `limit` could take, best first, with their
    /// visible quantity in our view.
    fn takeable(
        st: &SymbolState,
        book: &Book<Level>,
        side: Side,
        limit: Option<Decimal>,
    ) -> Vec<(Decimal, Decimal)> {
        let level_side = side.opposite();
        let prices: Vec<Decimal> = match side {
            Side::Buy => book
                .asks
                .keys()
                .copied()
                .take_while(|p| limit.is_none_or(|l| *p <= l))
                .collect(),
            Side::Sell => book
                .bids
                .keys()
                .rev()
                .copied()
                .take_while(|p| limit.is_none_or(|l| *p >= l))
                .collect(),
        };
        prices
            .into_iter()
            .map(|p| (p, Self::visible(st, book, level_side, p)))
            .filter(|(_, q)| !q.is_zero())
            .collect()
    }

    fn consume(st: &mut SymbolState, book: &Book<Level>, side: Side, px: Decimal, qty: Decimal) {
        let public = public_qty(book, side, px);
        let e = st
            .consumed
            .entry((side, px))
            .or_insert((public, Decimal::ZERO));
        if e.0 != public {
            *e = (public, Decimal::ZERO);
        }
        e.1 += qty;
    }

    fn balance_mut(&mut self, account: AccountId, asset: &str) -> &mut Balance {
        self.accounts[account]
            .balances
            .entry(asset.to_owned())
            .or_default()
    }

    /// Places an order against `book` (the symbol's public book now). On success returns the
    /// order's events: `New`, then a `Trade` per fill, then `Expired` for an IOC/FOK/market
    /// remainder.
    pub fn place(
        &mut self,
        account: AccountId,
        req: NewOrder,
        book: &Book<Level>,
        now_ms: u64,
    ) -> Result<Vec<Execution>, Reject> {
        if account >= self.accounts.len() {
            return Err(Reject::UnknownAccount);
        }
        let st = self.symbols.get(&req.symbol).ok_or(Reject::UnknownSymbol)?;
        let rules = st.rules.clone();
        let price = match req.kind {
            OrderType::Market => None,
            _ => Some(req.price.ok_or(Reject::PriceRequired)?),
        };
        if let Some(p) = price
            && (p <= Decimal::ZERO || !is_multiple(p, rules.tick))
        {
            return Err(Reject::PriceFilter);
        }
        if req.qty <= Decimal::ZERO || !is_multiple(req.qty, rules.lot) {
            return Err(Reject::LotSize);
        }
        let takeable = Self::takeable(st, book, req.side, price);
        let ref_price = match price {
            Some(p) => p,
            None => takeable.first().map(|l| l.0).ok_or(Reject::NoLiquidity)?,
        };
        if ref_price * req.qty < rules.min_notional {
            return Err(Reject::MinNotional);
        }
        if req.kind == OrderType::LimitMaker && !takeable.is_empty() {
            return Err(Reject::WouldTake);
        }
        if self
            .orders
            .values()
            .any(|o| o.account == account && o.status.is_open() && o.client_id == req.client_id)
        {
            return Err(Reject::DuplicateClientId);
        }
        // What it must reserve (limit) or be able to pay (market).
        let (lock_asset, lock) = match (req.side, price) {
            (Side::Buy, Some(p)) => (&rules.quote, p * req.qty),
            (Side::Sell, _) => (&rules.base, req.qty),
            (Side::Buy, None) => {
                let mut left = req.qty;
                let mut cost = Decimal::ZERO;
                for (p, q) in &takeable {
                    let t = left.min(*q);
                    cost += p * t;
                    left -= t;
                    if left.is_zero() {
                        break;
                    }
                }
                (&rules.quote, cost)
            }
        };
        if self.balance(account, lock_asset).free < lock {
            return Err(Reject::InsufficientBalance);
        }
        let reserve = price.is_some() || req.side == Side::Sell;
        if reserve {
            let b = self.balance_mut(account, &lock_asset.clone());
            b.free -= lock;
            b.locked += lock;
        }
        let id = self.next_order_id;
        self.next_order_id += 1;
        let seq = self.next_seq;
        self.next_seq += 1;
        let tif = match req.kind {
            OrderType::LimitMaker => TimeInForce::Gtc,
            _ => req.tif,
        };
        let order = Order {
            id,
            account,
            client_id: req.client_id,
            symbol: req.symbol.clone(),
            side: req.side,
            kind: req.kind,
            tif,
            price,
            qty: req.qty,
            executed: Decimal::ZERO,
            matched: Decimal::ZERO,
            cum_quote: Decimal::ZERO,
            status: OrderStatus::New,
            created_ms: now_ms,
            updated_ms: now_ms,
            seq,
            queue_ahead: Decimal::ZERO,
            locked: if reserve { lock } else { Decimal::ZERO },
            working: false,
        };
        self.orders.insert(id, order.clone());
        let mut ev = vec![Execution {
            kind: ExecKind::New,
            order,
            fill: None,
        }];
        let fok_short = tif == TimeInForce::Fok
            && req.kind == OrderType::Limit
            && takeable.iter().map(|l| l.1).sum::<Decimal>() < req.qty;
        if !fok_short {
            self.take(id, book, now_ms, &mut ev);
        }
        self.settle_after_taking(id, book, now_ms, &mut ev);
        // What it took was ahead of our orders resting at those levels: they move up (else a
        // later trade could fill them for more than it printed).
        self.recap(&req.symbol, book);
        Ok(ev)
    }

    /// Crosses order `id` against the visible opposite levels within its limit.
    fn take(&mut self, id: u64, book: &Book<Level>, now_ms: u64, ev: &mut Vec<Execution>) {
        let Some(o) = self.orders.get(&id) else {
            return;
        };
        let (side, price, symbol) = (o.side, o.price, o.symbol.clone());
        let Some(st) = self.symbols.get(&symbol) else {
            return;
        };
        let levels = Self::takeable(st, book, side, price);
        for (px, avail) in levels {
            let rem = self.orders.get(&id).map_or(Decimal::ZERO, Order::remaining);
            if rem.is_zero() {
                break;
            }
            let q = rem.min(avail);
            if let Some(st) = self.symbols.get_mut(&symbol) {
                Self::consume(st, book, side.opposite(), px, q);
            }
            self.fill(id, px, q, false, now_ms, ev);
        }
    }

    /// After taking: rests the remainder (GTC) or expires it (IOC/FOK/market).
    fn settle_after_taking(
        &mut self,
        id: u64,
        book: &Book<Level>,
        now_ms: u64,
        ev: &mut Vec<Execution>,
    ) {
        let Some(o) = self.orders.get(&id) else {
            return;
        };
        if !o.status.is_open() {
            return;
        }
        let rests = o.kind != OrderType::Market && o.tif == TimeInForce::Gtc;
        if rests {
            let (side, px, symbol, seq) =
                (o.side, o.price.unwrap_or_default(), o.symbol.clone(), o.seq);
            let ours = self.ours_ahead(&symbol, side, px, seq);
            let ahead = self
                .symbols
                .get(&symbol)
                .map_or(Decimal::ZERO, |st| Self::visible(st, book, side, px))
                + ours;
            if let Some(st) = self.symbols.get_mut(&symbol)
                && !st.resting.contains(&id)
            {
                st.resting.push(id);
                let orders = &self.orders;
                st.resting
                    .sort_by_key(|i| orders.get(i).map_or(u64::MAX, |o| o.seq));
            }
            if let Some(o) = self.orders.get_mut(&id) {
                o.queue_ahead = ahead;
                o.working = true;
            }
        } else {
            self.close(id, OrderStatus::Expired, ExecKind::Expired, now_ms, ev);
        }
    }

    /// Remaining quantity of our resting orders on `side` at `px` older than `seq`.
    fn ours_ahead(&self, symbol: &str, side: Side, px: Decimal, seq: u64) -> Decimal {
        let Some(st) = self.symbols.get(symbol) else {
            return Decimal::ZERO;
        };
        st.resting
            .iter()
            .filter_map(|i| self.orders.get(i))
            .filter(|o| o.side == side && o.price == Some(px) && o.seq < seq)
            .map(Order::remaining)
            .sum()
    }

    /// Ends an open order (cancel or expiry): releases its reservation.
    fn close(
        &mut self,
        id: u64,
        status: OrderStatus,
        kind: ExecKind,
        now_ms: u64,
        ev: &mut Vec<Execution>,
    ) {
        let Some(o) = self.orders.get_mut(&id) else {
            return;
        };
        let release = o.locked;
        o.locked = Decimal::ZERO;
        o.status = status;
        o.updated_ms = now_ms;
        let (account, side, symbol) = (o.account, o.side, o.symbol.clone());
        let snapshot = o.clone();
        if let Some(st) = self.symbols.get_mut(&symbol) {
            st.resting.retain(|i| *i != id);
        }
        if let Some(rules) = self.symbols.get(&symbol).map(|s| s.rules.clone()) {
            let asset = match side {
                Side::Buy => rules.quote,
                Side::Sell => rules.base,
            };
            let b = self.balance_mut(account, &asset);
            b.locked -= release;
            b.free += release;
        }
        ev.push(Execution {
            kind,
            order: snapshot,
            fill: None,
        });
    }

    /// Records a fill of `qty` at `px` for order `id`, moving balances.
    fn fill(
        &mut self,
        id: u64,
        px: Decimal,
        qty: Decimal,
        maker: bool,
        now_ms: u64,
        ev: &mut Vec<Execution>,
    ) {
        let Some(o) = self.orders.get(&id) else {
            return;
        };
        let Some(rules) = self.symbols.get(&o.symbol).map(|s| s.rules.clone()) else {
            return;
        };
        let (account, side, limit) = (o.account, o.side, o.price);
        let matched = qty;
        let qty = self.booked(matched);
        let quote_qty = px * qty;
        let rate = if maker {
            self.fees.maker
        } else {
            self.fees.taker
        };
        let (commission, commission_asset) = match side {
            Side::Buy => ((qty * rate).round_dp(FEE_DP), rules.base.clone()),
            Side::Sell => ((quote_qty * rate).round_dp(FEE_DP), rules.quote.clone()),
        };
        // Pay.
        let unlocked = match (side, limit) {
            (Side::Buy, Some(l)) => l * matched,
            (Side::Buy, None) => Decimal::ZERO,
            (Side::Sell, _) => matched,
        };
        let (pay_asset, pay) = match side {
            Side::Buy => (&rules.quote, quote_qty),
            Side::Sell => (&rules.base, qty),
        };
        {
            let b = self.balance_mut(account, pay_asset);
            b.locked -= unlocked;
            // A buy that paid less than its limit gets the difference back.
            b.free += unlocked - pay;
        }
        let (recv_asset, recv) = match side {
            Side::Buy => (&rules.base, qty),
            Side::Sell => (&rules.quote, quote_qty),
        };
        self.balance_mut(account, recv_asset).free += recv - commission;

        let trade_id = self.next_trade_id;
        self.next_trade_id += 1;
        let Some(o) = self.orders.get_mut(&id) else {
            return;
        };
        o.locked -= unlocked;
        o.executed += qty;
        o.matched += matched;
        o.cum_quote += quote_qty;
        o.updated_ms = now_ms;
        o.status = if o.matched >= o.qty {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        };
        let filled = o.status == OrderStatus::Filled;
        let fill = Fill {
            trade_id,
            order_id: id,
            account,
            symbol: o.symbol.clone(),
            side,
            price: px,
            qty,
            quote_qty,
            commission,
            commission_asset,
            maker,
            time_ms: now_ms,
        };
        let snapshot = o.clone();
        self.fills.push(fill.clone());
        if filled {
            // A buy that filled below its limit may keep a reservation rounding residue: none
            // exists with exact decimals, but release whatever is left so nothing stays locked.
            let residue = self.orders.get_mut(&id).map_or(Decimal::ZERO, |o| {
                std::mem::replace(&mut o.locked, Decimal::ZERO)
            });
            if !residue.is_zero() {
                let b = self.balance_mut(account, pay_asset);
                b.locked -= residue;
                b.free += residue;
            }
            if let Some(st) = self.symbols.get_mut(&snapshot.symbol) {
                st.resting.retain(|i| *i != id);
            }
        }
        ev.push(Execution {
            kind: ExecKind::Trade,
            order: snapshot,
            fill: Some(fill),
        });
    }

    /// Cancels an open order.
    pub fn cancel(
        &mut self,
        account: AccountId,
        symbol: &str,
        r: &OrderRef,
        book: &Book<Level>,
        now_ms: u64,
    ) -> Result<Execution, Reject> {
        let id = self
            .find(account, symbol, r, true)
            .ok_or(Reject::UnknownOrder)?;
        let mut ev = Vec::with_capacity(1);
        self.close(
            id,
            OrderStatus::Canceled,
            ExecKind::Canceled,
            now_ms,
            &mut ev,
        );
        // Orders behind it at its price move up.
        self.recap(symbol, book);
        ev.pop().ok_or(Reject::UnknownOrder)
    }

    /// Cancels every open order of the account on the symbol, oldest first.
    pub fn cancel_all(
        &mut self,
        account: AccountId,
        symbol: &str,
        book: &Book<Level>,
        now_ms: u64,
    ) -> Vec<Execution> {
        let ids: Vec<u64> = self
            .open_orders(account, Some(symbol))
            .iter()
            .map(|o| o.id)
            .collect();
        let mut ev = Vec::with_capacity(ids.len());
        for id in ids {
            self.close(
                id,
                OrderStatus::Canceled,
                ExecKind::Canceled,
                now_ms,
                &mut ev,
            );
        }
        self.recap(symbol, book);
        ev
    }

    /// Amends an open limit order: a new total quantity and/or a new price. It keeps its time
    /// priority only when the price is unchanged and the quantity does not grow; otherwise it
    /// goes to the back of the queue at its (new) price, and a new price that crosses takes
    /// like a new order (a post-only order is refused instead). Returns `Amended` followed by
    /// any fills.
    pub fn amend(
        &mut self,
        account: AccountId,
        symbol: &str,
        r: &OrderRef,
        change: Amend,
        book: &Book<Level>,
        now_ms: u64,
    ) -> Result<Vec<Execution>, Reject> {
        let id = self
            .find(account, symbol, r, true)
            .ok_or(Reject::UnknownOrder)?;
        let o = self.orders.get(&id).ok_or(Reject::UnknownOrder)?.clone();
        let st = self.symbols.get(symbol).ok_or(Reject::UnknownSymbol)?;
        let rules = st.rules.clone();
        let old_px = o.price.ok_or(Reject::BadAmend)?;
        let qty = change.qty.unwrap_or(o.qty);
        let px = change.price.unwrap_or(old_px);
        if (qty == o.qty && px == old_px) || qty <= o.matched {
            return Err(Reject::BadAmend);
        }
        if px <= Decimal::ZERO || !is_multiple(px, rules.tick) {
            return Err(Reject::PriceFilter);
        }
        if !is_multiple(qty, rules.lot) {
            return Err(Reject::LotSize);
        }
        if px * qty < rules.min_notional {
            return Err(Reject::MinNotional);
        }
        let crosses = !Self::takeable(st, book, o.side, Some(px)).is_empty();
        if o.kind == OrderType::LimitMaker && crosses {
            return Err(Reject::WouldTake);
        }
        let new_lock = match o.side {
            Side::Buy => px * (qty - o.matched),
            Side::Sell => qty - o.matched,
        };
        let asset = match o.side {
            Side::Buy => rules.quote.clone(),
            Side::Sell => rules.base.clone(),
        };
        let extra = new_lock - o.locked;
        if self.balance(account, &asset).free < extra {
            return Err(Reject::InsufficientBalance);
        }
        {
            let b = self.balance_mut(account, &asset);
            b.free -= extra;
            b.locked += extra;
        }
        let keeps_priority = px == old_px && qty <= o.qty;
        let seq = if keeps_priority {
            o.seq
        } else {
            let s = self.next_seq;
            self.next_seq += 1;
            s
        };
        if let Some(m) = self.orders.get_mut(&id) {
            m.qty = qty;
            m.price = Some(px);
            m.locked = new_lock;
            m.seq = seq;
            m.updated_ms = now_ms;
        }
        let mut ev = Vec::new();
        if !keeps_priority {
            if let Some(st) = self.symbols.get_mut(symbol) {
                st.resting.retain(|i| *i != id);
            }
            let snapshot = self.orders.get(&id).cloned().ok_or(Reject::UnknownOrder)?;
            ev.push(Execution {
                kind: ExecKind::Amended,
                order: snapshot,
                fill: None,
            });
            self.take(id, book, now_ms, &mut ev);
            self.settle_after_taking(id, book, now_ms, &mut ev);
        } else {
            let snapshot = self.orders.get(&id).cloned().ok_or(Reject::UnknownOrder)?;
            ev.push(Execution {
                kind: ExecKind::Amended,
                order: snapshot,
                fill: None,
            });
        }
        self.recap(symbol, book);
        Ok(ev)
    }

    /// Renames an open order's client order id (Binance amend with `newClientOrderId`).
    pub fn set_client_id(
        &mut self,
        account: AccountId,
        symbol: &str,
        r: &OrderRef,
        client_id: &str,
    ) -> Result<(), Reject> {
        let id = self
            .find(account, symbol, r, true)
            .ok_or(Reject::UnknownOrder)?;
        let o = self.orders.get_mut(&id).ok_or(Reject::UnknownOrder)?;
        o.client_id = client_id.to_owned();
        Ok(())
    }

    /// Caps each resting order's queue ahead at what is there now (public level plus our older
    /// orders at the price): cancellations ahead of us move us up.
    fn recap(&mut self, symbol: &str, book: &Book<Level>) {
        let Some(st) = self.symbols.get(symbol) else {
            return;
        };
        let ids = st.resting.clone();
        for id in ids {
            let Some(o) = self.orders.get(&id) else {
                continue;
            };
            let (side, px, seq) = (o.side, o.price.unwrap_or_default(), o.seq);
            let ours = self.ours_ahead(symbol, side, px, seq);
            let visible = self
                .symbols
                .get(symbol)
                .map_or(Decimal::ZERO, |st| Self::visible(st, book, side, px));
            if let Some(o) = self.orders.get_mut(&id) {
                o.queue_ahead = o.queue_ahead.min(visible + ours);
            }
        }
    }

    /// The tape changed `symbol`'s public book: forgets consumption of levels the tape has
    /// since rewritten, fills resting orders the opposite side has moved through (as maker, at
    /// their own price), and shrinks queues. Returns the fills' executions.
    pub fn on_book(&mut self, symbol: &str, book: &Book<Level>, now_ms: u64) -> Vec<Execution> {
        let mut ev = Vec::new();
        let Some(st) = self.symbols.get_mut(symbol) else {
            return ev;
        };
        st.consumed
            .retain(|(side, px), (at, _)| public_qty(book, *side, *px) == *at);
        let ids = st.resting.clone();
        for id in ids {
            let Some(o) = self.orders.get(&id) else {
                continue;
            };
            if !o.status.is_open() {
                continue;
            }
            let (side, px) = (o.side, o.price.unwrap_or_default());
            let Some(st) = self.symbols.get(symbol) else {
                break;
            };
            for (lpx, avail) in Self::takeable(st, book, side, Some(px)) {
                let rem = self.orders.get(&id).map_or(Decimal::ZERO, Order::remaining);
                if rem.is_zero() {
                    break;
                }
                // A level *at* our price is a counterparty at our price: like a trade there it
                // reaches us only after the queue ahead; one *through* our price reaches us
                // first. (The same rule as tickwire-matching; its differential test holds
                // the two to it.)
                let (ahead_used, q) = match self.orders.get_mut(&id) {
                    Some(o) if lpx == px => {
                        let used = o.queue_ahead.min(avail);
                        o.queue_ahead -= used;
                        (used, rem.min(avail - used))
                    }
                    _ => (Decimal::ZERO, rem.min(avail)),
                };
                if let Some(st) = self.symbols.get_mut(symbol)
                    && !(ahead_used + q).is_zero()
                {
                    Self::consume(st, book, side.opposite(), lpx, ahead_used + q);
                }
                if !q.is_zero() {
                    self.fill(id, px, q, true, now_ms, &mut ev);
                }
            }
        }
        self.recap(symbol, book);
        ev
    }

    /// A public trade printed on `symbol`: resting orders at its price lose queue ahead and then
    /// fill; resting orders it went through fill first (best price, then time). Returns the
    /// fills' executions.
    pub fn on_trade(&mut self, symbol: &str, t: PublicTrade, now_ms: u64) -> Vec<Execution> {
        let mut ev = Vec::new();
        let Some(st) = self.symbols.get(symbol) else {
            return ev;
        };
        // Resting orders the trade reaches: a buy at or above the price (sell aggressor), a
        // sell at or below it (buy aggressor).
        let mut hit: Vec<(Side, Decimal, u64, u64)> = st
            .resting
            .iter()
            .filter_map(|i| self.orders.get(i))
            .filter(|o| o.status.is_open())
            .filter(|o| t.taker_side.is_none_or(|s| s == o.side.opposite()))
            .filter_map(|o| {
                let px = o.price?;
                let reached = match o.side {
                    Side::Buy => px >= t.price,
                    Side::Sell => px <= t.price,
                };
                reached.then_some((o.side, px, o.seq, o.id))
            })
            .collect();
        // Best price first (furthest through the trade), then time.
        hit.sort_by(|a, b| {
            let by_px = match a.0 {
                Side::Buy => b.1.cmp(&a.1),
                Side::Sell => a.1.cmp(&b.1),
            };
            a.0.cmp(&b.0).then(by_px).then(a.2.cmp(&b.2))
        });
        // The trade's quantity is shared by the orders it went through; at its own price each
        // order works through its own queue ahead (which counts our older orders there).
        let mut through_left = [t.qty, t.qty];
        for (side, px, seq, id) in hit {
            let slot = usize::from(side == Side::Sell);
            let rem = self.orders.get(&id).map_or(Decimal::ZERO, Order::remaining);
            let q = if px != t.price {
                let q = rem.min(through_left[slot]);
                through_left[slot] -= q;
                // The trade took everything public at the price; still ahead: our own older
                // orders there that it did not fill (earlier in this loop).
                let ours = self.ours_ahead(symbol, side, px, seq);
                if let Some(o) = self.orders.get_mut(&id) {
                    o.queue_ahead = ours;
                }
                q
            } else {
                let Some(o) = self.orders.get_mut(&id) else {
                    continue;
                };
                let avail = through_left[slot];
                let used = o.queue_ahead.min(avail);
                o.queue_ahead -= used;
                rem.min(avail - used)
            };
            if !q.is_zero() {
                self.fill(id, px, q, true, now_ms, &mut ev);
            }
        }
        ev
    }

    /// Every order ever accepted, by id (for invariant checks).
    pub fn orders(&self) -> impl Iterator<Item = &Order> {
        self.orders.values()
    }

    /// Every fill, oldest first (for invariant checks).
    pub fn fills(&self) -> &[Fill] {
        &self.fills
    }
}
