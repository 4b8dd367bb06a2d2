//! The simulator's matching: the venue's account layer over the one matching engine
//! (`tickwire-matching`), with `rust_decimal` at the boundary the protocol modules use.
//!
//! **Matching** is the one engine's ([`tickwire_matching::Engine`], see its crate docs): our
//! orders match against the public book the tape moves (the capture is the rest of the
//! market; our orders are not in it). Taking walks the visible levels and consumes them in a
//! private overlay until the tape rewrites the level; resting orders keep a queue position
//! that public trades at their price eat first; trades at or through their price and the
//! opposite side reaching it fill them as maker; GTC/IOC/FOK, post-only and market orders;
//! amend priority. Each symbol has its own engine (one instrument); the book is given to it
//! as the simulator's own [`Book<Level>`] (see its [`PublicBook`] impl below), so the wire
//! strings the protocol modules serve and the levels orders meet are one and the same.
//!
//! **What the venue adds**, here:
//!
//! * Accounts and spot balances per asset, `free` + `locked`. A limit order locks
//!   `price × qty` quote (buy) or `qty` base (sell) on arrival, released on cancel or expiry;
//!   a market buy must be able to pay for what it would take. Each fill pays and receives;
//!   commission is charged in the received asset (`qty × rate` for a buy, `quote × rate` for
//!   a sell), rounded to 8 decimals; a negative maker rate is a rebate. (The engine runs with
//!   zero fees: its quote-currency fee is not the venue's.)
//! * The venue's checks, in its order: symbol, price (tick), quantity (lot), market
//!   liquidity, minimum notional, post-only, duplicate client order id, balance. Prices and
//!   quantities must convert exactly to the engine's 9-decimal fixed point: one that needs
//!   more decimals (or does not fit) is refused as a price or lot-size failure, never rounded.
//! * String client order ids, venue order and trade ids (unique, increasing from 1), the
//!   order history and fills for the query endpoints, and the short-fill fault.
//!
//! Deterministic: no clock (callers pass `now_ms`), no randomness, ordered maps. Venue
//! adapters (Binance, OKX) map [`Reject`] to their own error codes and [`Execution`]s to
//! their own push messages. The engine this replaced is kept as the test-only reference model
//! (`reference.rs`); the differential test holds this adapter to it.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use tickwire_core::event::Side as CoreSide;
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_matching as one;
use tickwire_matching::PublicBook;

use super::book::{Book, Level};

/// Order side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// Buy base with quote.
    Buy,
    /// Sell base for quote.
    Sell,
}

impl Side {
    /// The other side.
    pub fn opposite(self) -> Self {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

/// Order type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderType {
    /// Limit order with a time in force.
    Limit,
    /// Market order: takes what the book has up to its quantity; the rest expires.
    Market,
    /// Post-only limit (Binance `LIMIT_MAKER`, OKX `post_only`): rejected if it would take.
    LimitMaker,
}

/// Time in force of a limit order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeInForce {
    /// Good till canceled: the remainder rests.
    Gtc,
    /// Immediate or cancel: the remainder expires.
    Ioc,
    /// Fill or kill: expires without any fill unless the whole quantity can be taken now.
    Fok,
}

/// Order state (the names match Binance's; OKX maps them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderStatus {
    /// Accepted, nothing filled.
    New,
    /// Partly filled and still working.
    PartiallyFilled,
    /// Completely filled.
    Filled,
    /// Canceled by its owner (possibly after partial fills).
    Canceled,
    /// Ended by the venue: IOC/FOK/market remainder.
    Expired,
}

impl OrderStatus {
    /// True while the order can still fill.
    pub fn is_open(self) -> bool {
        matches!(self, OrderStatus::New | OrderStatus::PartiallyFilled)
    }

    /// Binance spelling (`NEW`, `PARTIALLY_FILLED`, ...).
    pub fn binance(self) -> &'static str {
        match self {
            OrderStatus::New => "NEW",
            OrderStatus::PartiallyFilled => "PARTIALLY_FILLED",
            OrderStatus::Filled => "FILLED",
            OrderStatus::Canceled => "CANCELED",
            OrderStatus::Expired => "EXPIRED",
        }
    }
}

/// An account (index into the engine's accounts).
pub type AccountId = usize;

/// A symbol's trading rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolRules {
    /// Venue symbol (`BTCUSDT`, `BTC-USDT`).
    pub symbol: String,
    /// Base asset (`BTC`).
    pub base: String,
    /// Quote asset (`USDT`).
    pub quote: String,
    /// Price tick; prices must be multiples of it.
    pub tick: Decimal,
    /// Quantity step; quantities must be multiples of it (and positive).
    pub lot: Decimal,
    /// Minimum `price × qty` (zero: none). Market orders are checked at the best opposite price.
    pub min_notional: Decimal,
}

/// Commission rates as fractions (`0.001` = 10 bp); a negative maker rate is a rebate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Fees {
    /// Charged on fills of resting orders.
    pub maker: Decimal,
    /// Charged on fills of orders that take liquidity.
    pub taker: Decimal,
}

/// One asset balance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Balance {
    /// Available for new orders.
    pub free: Decimal,
    /// Reserved by open orders.
    pub locked: Decimal,
}

/// A new order request, already parsed by a venue adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrder {
    /// Symbol.
    pub symbol: String,
    /// Side.
    pub side: Side,
    /// Type.
    pub kind: OrderType,
    /// Time in force (ignored for market; `Gtc` for post-only).
    pub tif: TimeInForce,
    /// Quantity in base units.
    pub qty: Decimal,
    /// Limit price (required for limit and post-only, ignored for market).
    pub price: Option<Decimal>,
    /// Client order id (unique among the account's open orders).
    pub client_id: String,
}

/// Why an order (or amend) is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reject {
    /// No such account.
    UnknownAccount,
    /// Symbol not traded.
    UnknownSymbol,
    /// Limit order without a price.
    PriceRequired,
    /// Price not positive, not a multiple of the tick, or finer than 9 decimals (or too large)
    /// for the matching engine's fixed point.
    PriceFilter,
    /// Quantity not positive, not a multiple of the lot, or finer than 9 decimals (or too
    /// large) for the matching engine's fixed point.
    LotSize,
    /// Notional below the minimum.
    MinNotional,
    /// Not enough free balance.
    InsufficientBalance,
    /// Post-only order would take.
    WouldTake,
    /// Client order id already used by an open order of the account.
    DuplicateClientId,
    /// Market order with an empty opposite book (nothing to price it against).
    NoLiquidity,
    /// Cancel/amend/query of an order that does not exist (or is not open, for cancel/amend).
    UnknownOrder,
    /// Amend that changes nothing, or a new quantity at or below the executed quantity.
    BadAmend,
    /// The symbol already has [`MAX_OPEN_PER_SYMBOL`] open orders (across accounts).
    TooManyOrders,
}

/// An amend: a new total quantity and/or a new price (`None`: unchanged).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Amend {
    /// New total quantity (including what is already executed).
    pub qty: Option<Decimal>,
    /// New price.
    pub price: Option<Decimal>,
}

/// How a request names an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderRef {
    /// The venue's order id.
    Id(u64),
    /// The client order id (the most recent order carrying it).
    Client(String),
}

/// One order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    /// Venue order id (unique, increasing).
    pub id: u64,
    /// Owner.
    pub account: AccountId,
    /// Client order id.
    pub client_id: String,
    /// Symbol.
    pub symbol: String,
    /// Side.
    pub side: Side,
    /// Type.
    pub kind: OrderType,
    /// Time in force.
    pub tif: TimeInForce,
    /// Limit price (`None` for market).
    pub price: Option<Decimal>,
    /// Quantity ordered (after amends).
    pub qty: Decimal,
    /// Quantity filled, as reported and booked.
    pub executed: Decimal,
    /// Quantity matched: equals `executed` unless a short-fill fault shaved the reports.
    pub matched: Decimal,
    /// Quote quantity filled (`Σ price × qty` of its fills).
    pub cum_quote: Decimal,
    /// State.
    pub status: OrderStatus,
    /// Time accepted.
    pub created_ms: u64,
    /// Time of the last change.
    pub updated_ms: u64,
    /// Time priority (lower = earlier); renewed when an amend loses priority.
    pub seq: u64,
    /// Visible quantity ahead of it at its price (resting orders).
    pub queue_ahead: Decimal,
    /// Balance still reserved by it (quote for a buy, base for a sell).
    pub locked: Decimal,
    /// Whether it has rested on the book (Binance `isWorking` / `w`).
    pub working: bool,
}

impl Order {
    /// Quantity still to fill.
    pub fn remaining(&self) -> Decimal {
        self.qty - self.matched
    }
}

/// One fill of one of our orders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fill {
    /// Trade id (unique per engine, increasing).
    pub trade_id: u64,
    /// The order filled.
    pub order_id: u64,
    /// Owner.
    pub account: AccountId,
    /// Symbol.
    pub symbol: String,
    /// The order's side.
    pub side: Side,
    /// Price.
    pub price: Decimal,
    /// Base quantity.
    pub qty: Decimal,
    /// `price × qty`.
    pub quote_qty: Decimal,
    /// Commission (negative: rebate), in `commission_asset`.
    pub commission: Decimal,
    /// The received asset (base for a buy, quote for a sell).
    pub commission_asset: String,
    /// The order was resting (maker).
    pub maker: bool,
    /// Time.
    pub time_ms: u64,
}

/// What happened to an order, in the order it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecKind {
    /// Accepted.
    New,
    /// Filled (partly or completely); the execution carries the fill.
    Trade,
    /// Canceled by its owner.
    Canceled,
    /// Expired (IOC/FOK/market remainder).
    Expired,
    /// Amended (price and/or quantity).
    Amended,
}

/// One event of an order, with the order as it was right after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// What happened.
    pub kind: ExecKind,
    /// The order after the event.
    pub order: Order,
    /// The fill, for [`ExecKind::Trade`].
    pub fill: Option<Fill>,
}

/// A public trade from the tape, as the matching engine needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicTrade {
    /// Price.
    pub price: Decimal,
    /// Base quantity.
    pub qty: Decimal,
    /// The aggressor's side if the venue says (Binance `m` = buyer is maker → `Sell`);
    /// `None` lets the trade fill resting orders of either side at or through its price.
    pub taker_side: Option<Side>,
}

/// Each symbol's engine holds that one instrument, at this index.
const INST: InstrumentId = InstrumentId(0);

/// Open orders one symbol holds at most, across accounts: the engine sizes its tables when
/// the symbol is added and never allocates afterwards. Far above what a venue allows one
/// account (Binance's `MAX_NUM_ORDERS` is 200 a symbol, OKX allows 500); beyond it new orders
/// are refused with [`Reject::TooManyOrders`].
pub const MAX_OPEN_PER_SYMBOL: usize = 4096;

/// Commission decimals.
const FEE_DP: u32 = 8;

#[derive(Debug)]
struct Account {
    name: String,
    balances: BTreeMap<String, Balance>,
}

/// One symbol: the venue's rules (checked here, in its decimals) and the engine that matches
/// its orders. An engine per symbol because the engine's instruments are fixed when it is
/// built while a venue adds symbols one at a time; the numbering clients see (order and trade
/// ids, time priority) stays the venue's, across its symbols.
#[derive(Debug)]
struct SymbolState {
    rules: SymbolRules,
    engine: one::Engine,
}

/// The matching engine of one venue: accounts, symbols, orders, fills.
#[derive(Debug)]
pub struct Engine {
    fees: Fees,
    accounts: Vec<Account>,
    symbols: BTreeMap<String, SymbolState>,
    /// Every order ever accepted, by venue id.
    orders: BTreeMap<u64, Order>,
    /// The open ones: venue id → the id its symbol's engine gave it.
    open: BTreeMap<u64, one::OrderId>,
    fills: Vec<Fill>,
    next_order_id: u64,
    next_trade_id: u64,
    next_seq: u64,
    short_fill: Option<ShortFill>,
    /// Open orders a symbol added from now on holds at most ([`MAX_OPEN_PER_SYMBOL`]; tests
    /// fill a small one).
    max_open: usize,
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

/// The simulator's book as the one engine reads it, converted exactly level by level (both
/// sides are 9-decimal fixed point there). A level that does not convert — a price or
/// quantity with more than 9 decimals, or beyond the fixed-point range — is absent to the
/// engine: it cannot trade at a price it cannot name, and rounding a quantity would change
/// the market silently. (Binance and OKX strings carry at most 8 decimals.)
impl PublicBook for Book<Level> {
    fn qty_at(&self, side: CoreSide, px: Px) -> Qty {
        let levels = match side {
            CoreSide::Buy => &self.bids,
            CoreSide::Sell => &self.asks,
        };
        levels
            .get(&px.to_decimal())
            .and_then(level_qty)
            .unwrap_or(Qty::ZERO)
    }

    fn each_level(&self, side: CoreSide, f: &mut dyn FnMut(Px, Qty) -> bool) {
        // Bids best (highest) first, asks lowest first.
        match side {
            CoreSide::Buy => each_exact(self.bids.iter().rev(), f),
            CoreSide::Sell => each_exact(self.asks.iter(), f),
        }
    }
}

/// Calls `f` for the levels that convert exactly, in order, until it returns false.
fn each_exact<'a>(
    levels: impl Iterator<Item = (&'a Decimal, &'a Level)>,
    f: &mut dyn FnMut(Px, Qty) -> bool,
) {
    for (px, level) in levels {
        let (Ok(px), Some(qty)) = (Px::from_decimal(*px), level_qty(level)) else {
            continue;
        };
        if !f(px, qty) {
            return;
        }
    }
}

/// The quantity of a public level (`[price, qty, ..]` strings) in fixed point, if exact.
fn level_qty(l: &Level) -> Option<Qty> {
    Qty::from_decimal(l.get(1)?.parse::<Decimal>().ok()?).ok()
}

fn is_multiple(v: Decimal, step: Decimal) -> bool {
    step.is_zero() || (v % step).is_zero()
}

/// A venue price as the engine's: positive, on the tick, and exact in fixed point.
fn venue_px(p: Decimal, rules: &SymbolRules) -> Result<Px, Reject> {
    if p <= Decimal::ZERO || !is_multiple(p, rules.tick) {
        return Err(Reject::PriceFilter);
    }
    Px::from_decimal(p).map_err(|_| Reject::PriceFilter)
}

/// A venue quantity as the engine's: positive, on the lot, and exact in fixed point.
fn venue_qty(q: Decimal, rules: &SymbolRules) -> Result<Qty, Reject> {
    if q <= Decimal::ZERO || !is_multiple(q, rules.lot) {
        return Err(Reject::LotSize);
    }
    Qty::from_decimal(q).map_err(|_| Reject::LotSize)
}

fn dec_px(p: Px) -> Decimal {
    p.to_decimal().normalize()
}

fn dec_qty(q: Qty) -> Decimal {
    q.to_decimal().normalize()
}

fn core_side(s: Side) -> CoreSide {
    match s {
        Side::Buy => CoreSide::Buy,
        Side::Sell => CoreSide::Sell,
    }
}

fn status_of(s: one::Status) -> OrderStatus {
    match s {
        one::Status::New => OrderStatus::New,
        one::Status::PartiallyFilled => OrderStatus::PartiallyFilled,
        one::Status::Filled => OrderStatus::Filled,
        one::Status::Canceled => OrderStatus::Canceled,
        one::Status::Expired => OrderStatus::Expired,
    }
}

/// The venue's reason for an engine refusal. The venue checks everything the engine checks
/// first (its instrument rules are the finest grid), so only a full table reaches a client.
fn engine_reject(r: one::Reject) -> Reject {
    match r {
        one::Reject::UnknownInstrument => Reject::UnknownSymbol,
        one::Reject::PriceFilter => Reject::PriceFilter,
        one::Reject::LotSize => Reject::LotSize,
        one::Reject::MinNotional => Reject::MinNotional,
        one::Reject::WouldTake => Reject::WouldTake,
        one::Reject::NoLiquidity => Reject::NoLiquidity,
        one::Reject::TableFull => Reject::TooManyOrders,
        one::Reject::UnknownOrder => Reject::UnknownOrder,
        one::Reject::BadAmend => Reject::BadAmend,
    }
}

/// A symbol's engine. Its instrument rules are the finest the fixed point holds, with no
/// minimums: the venue's own rules are checked before an order reaches it, in the venue's
/// decimals and order of checks.
fn symbol_engine(symbol: &str, max_orders: usize) -> one::Engine {
    one::Engine::new(one::EngineConfig {
        instruments: vec![InstrumentSpec {
            id: INST,
            venue: VenueId::SYNTHETIC,
            symbol: symbol.to_owned(),
            tick: Px::from_raw(1),
            lot: Qty::from_raw(1),
            min_qty: Qty::from_raw(1),
            min_notional: Px::ZERO,
        }],
        max_orders,
        fees: one::Fees::default(),
    })
}

/// The opposite levels an order of `side` limited at `limit` would take now, best first, with
/// the quantity the engine's view shows (after our consumption).
fn takeable(
    engine: &one::Engine,
    book: &Book<Level>,
    side: Side,
    limit: Option<Px>,
) -> Vec<(Decimal, Decimal)> {
    let mut levels = Vec::new();
    engine.takeable(INST, core_side(side), limit, book, &mut |p, q| {
        levels.push((dec_px(p), dec_qty(q)));
    });
    levels
}

impl Engine {
    /// An engine with these fees, no accounts and no symbols. Order and trade ids start at 1.
    pub fn new(fees: Fees) -> Self {
        Self {
            fees,
            accounts: Vec::new(),
            symbols: BTreeMap::new(),
            orders: BTreeMap::new(),
            open: BTreeMap::new(),
            fills: Vec::new(),
            next_order_id: 1,
            next_trade_id: 1,
            next_seq: 1,
            short_fill: None,
            max_open: MAX_OPEN_PER_SYMBOL,
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

    /// Adds (or replaces the rules of) a symbol. A new symbol gets its own engine, sized for
    /// [`MAX_OPEN_PER_SYMBOL`] open orders.
    pub fn add_symbol(&mut self, rules: SymbolRules) {
        match self.symbols.get_mut(&rules.symbol) {
            // The engine knows no rules of the venue's, so its state stays valid.
            Some(s) => s.rules = rules,
            None => {
                let engine = symbol_engine(&rules.symbol, self.max_open);
                self.symbols
                    .insert(rules.symbol.clone(), SymbolState { rules, engine });
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
        self.open
            .keys()
            .filter_map(|id| self.orders.get(id))
            .filter(|o| o.account == account && symbol.is_none_or(|s| s == o.symbol))
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
    #[cfg(test)]
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
        let rules = &st.rules;
        let price = match req.kind {
            OrderType::Market => None,
            _ => Some(req.price.ok_or(Reject::PriceRequired)?),
        };
        let limit = price.map(|p| venue_px(p, rules)).transpose()?;
        let qty = venue_qty(req.qty, rules)?;
        // What the engine would take decides the checks that follow; it is not placed yet,
        // because the venue's own checks (client id, balance) come after those.
        let takeable = takeable(&st.engine, book, req.side, limit);
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
            .open
            .keys()
            .filter_map(|id| self.orders.get(id))
            .any(|o| o.account == account && o.client_id == req.client_id)
        {
            return Err(Reject::DuplicateClientId);
        }
        // What it must reserve (limit) or be able to pay (market).
        let (lock_asset, lock) = match (req.side, price) {
            (Side::Buy, Some(p)) => (rules.quote.clone(), p * req.qty),
            (Side::Sell, _) => (rules.base.clone(), req.qty),
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
                (rules.quote.clone(), cost)
            }
        };
        if self.balance(account, &lock_asset).free < lock {
            return Err(Reject::InsufficientBalance);
        }
        let tif = match req.kind {
            OrderType::LimitMaker => TimeInForce::Gtc,
            _ => req.tif,
        };
        let id = self.next_order_id;
        let spec = one::OrderSpec {
            instrument: INST,
            // Every event of the order carries its venue id.
            client: id,
            side: core_side(req.side),
            kind: match req.kind {
                OrderType::Limit => one::Kind::Limit,
                OrderType::Market => one::Kind::Market,
                OrderType::LimitMaker => one::Kind::PostOnly,
            },
            tif: match tif {
                TimeInForce::Gtc => one::Tif::Gtc,
                TimeInForce::Ioc => one::Tif::Ioc,
                TimeInForce::Fok => one::Tif::Fok,
            },
            px: limit.unwrap_or(Px::ZERO),
            qty,
        };
        let mut got = Vec::new();
        let engine_id = self
            .symbols
            .get_mut(&req.symbol)
            .ok_or(Reject::UnknownSymbol)?
            .engine
            .place(&spec, book, now_ms, &mut |e| got.push(*e))
            .map_err(engine_reject)?;
        // Accepted: reserve, record, then book what the engine did.
        self.next_order_id += 1;
        let seq = self.next_seq;
        self.next_seq += 1;
        let reserve = price.is_some() || req.side == Side::Sell;
        if reserve {
            let b = self.balance_mut(account, &lock_asset);
            b.free -= lock;
            b.locked += lock;
        }
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
        self.orders.insert(id, order);
        self.open.insert(id, engine_id);
        let mut ev = Vec::with_capacity(got.len());
        self.apply(&got, now_ms, &mut ev);
        self.sync_queues(&req.symbol);
        Ok(ev)
    }

    /// Books the engine's events `got` (their orders carry the venue id as the engine's
    /// client id) and appends the venue's executions to `ev`.
    fn apply(&mut self, got: &[one::Event], now_ms: u64, ev: &mut Vec<Execution>) {
        for e in got {
            let id = e.order.client;
            match e.kind {
                one::EventKind::Trade => {
                    if let Some(f) = &e.fill {
                        self.fill(id, f, &e.order, now_ms, ev);
                    }
                }
                one::EventKind::Canceled => {
                    self.close(id, OrderStatus::Canceled, ExecKind::Canceled, now_ms, ev);
                }
                one::EventKind::Expired => {
                    self.close(id, OrderStatus::Expired, ExecKind::Expired, now_ms, ev);
                }
                one::EventKind::New | one::EventKind::Amended => {
                    let kind = if e.kind == one::EventKind::New {
                        ExecKind::New
                    } else {
                        ExecKind::Amended
                    };
                    if let Some(o) = self.orders.get_mut(&id) {
                        o.queue_ahead = dec_qty(e.order.queue_ahead);
                        o.working = e.order.working;
                        ev.push(Execution {
                            kind,
                            order: o.clone(),
                            fill: None,
                        });
                    }
                }
            }
        }
    }

    /// Copies the engine's queue positions (which move without events: orders ahead leave,
    /// levels shrink, trades eat the queue) to the symbol's resting orders.
    fn sync_queues(&mut self, symbol: &str) {
        let Some(st) = self.symbols.get(symbol) else {
            return;
        };
        for r in st.engine.resting(INST) {
            if let Some(o) = self.orders.get_mut(&r.client) {
                o.queue_ahead = dec_qty(r.queue_ahead);
                o.working = r.working;
            }
        }
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
        self.open.remove(&id);
        let Some(o) = self.orders.get_mut(&id) else {
            return;
        };
        let release = o.locked;
        o.locked = Decimal::ZERO;
        o.status = status;
        o.updated_ms = now_ms;
        let (account, side, symbol) = (o.account, o.side, o.symbol.clone());
        let snapshot = o.clone();
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

    /// Books the engine's fill `f` of order `id` (`after`: the engine's order after it):
    /// reported quantity (the short-fill fault), commission, balances, the fill record.
    fn fill(
        &mut self,
        id: u64,
        f: &one::Fill,
        after: &one::Order,
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
        let (px, matched, maker) = (dec_px(f.px), dec_qty(f.qty), f.maker);
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
        o.status = status_of(after.status);
        o.queue_ahead = dec_qty(after.queue_ahead);
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
            self.open.remove(&id);
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
        let engine_id = *self.open.get(&id).ok_or(Reject::UnknownOrder)?;
        let st = self.symbols.get_mut(symbol).ok_or(Reject::UnknownOrder)?;
        let mut got = Vec::with_capacity(1);
        // The engine moves the orders behind it at its price up.
        st.engine
            .cancel(engine_id, book, now_ms, &mut |e| got.push(*e))
            .map_err(engine_reject)?;
        let mut ev = Vec::with_capacity(1);
        self.apply(&got, now_ms, &mut ev);
        self.sync_queues(symbol);
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
        let ids: Vec<one::OrderId> = self
            .open_orders(account, Some(symbol))
            .iter()
            .filter_map(|o| self.open.get(&o.id).copied())
            .collect();
        let mut got = Vec::with_capacity(ids.len());
        if let Some(st) = self.symbols.get_mut(symbol) {
            for id in ids {
                // Open here is open in the engine: a refusal is not possible, and would mean
                // there is nothing to cancel.
                let _ = st.engine.cancel(id, book, now_ms, &mut |e| got.push(*e));
            }
        }
        let mut ev = Vec::with_capacity(got.len());
        self.apply(&got, now_ms, &mut ev);
        self.sync_queues(symbol);
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
        let o = self.orders.get(&id).ok_or(Reject::UnknownOrder)?;
        let st = self.symbols.get(symbol).ok_or(Reject::UnknownSymbol)?;
        let rules = &st.rules;
        let old_px = o.price.ok_or(Reject::BadAmend)?;
        let qty = change.qty.unwrap_or(o.qty);
        let px = change.price.unwrap_or(old_px);
        if (qty == o.qty && px == old_px) || qty <= o.matched {
            return Err(Reject::BadAmend);
        }
        let fixed_px = venue_px(px, rules)?;
        if !is_multiple(qty, rules.lot) {
            return Err(Reject::LotSize);
        }
        let fixed_qty = Qty::from_decimal(qty).map_err(|_| Reject::LotSize)?;
        if px * qty < rules.min_notional {
            return Err(Reject::MinNotional);
        }
        let crosses = !takeable(&st.engine, book, o.side, Some(fixed_px)).is_empty();
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
        let engine_id = *self.open.get(&id).ok_or(Reject::UnknownOrder)?;
        let engine = &mut self
            .symbols
            .get_mut(symbol)
            .ok_or(Reject::UnknownSymbol)?
            .engine;
        let seq_before = engine.order(engine_id).map(|e| e.seq);
        let mut got = Vec::new();
        engine
            .amend(
                engine_id,
                Some(fixed_qty),
                Some(fixed_px),
                book,
                now_ms,
                &mut |e| got.push(*e),
            )
            .map_err(engine_reject)?;
        // The engine decides priority; the venue numbers it.
        let lost_priority = got.first().is_some_and(|e| Some(e.order.seq) != seq_before);
        {
            let b = self.balance_mut(account, &asset);
            b.free -= extra;
            b.locked += extra;
        }
        let seq = if lost_priority {
            let s = self.next_seq;
            self.next_seq += 1;
            Some(s)
        } else {
            None
        };
        if let Some(m) = self.orders.get_mut(&id) {
            m.qty = qty;
            m.price = Some(px);
            m.locked = new_lock;
            m.seq = seq.unwrap_or(m.seq);
            m.updated_ms = now_ms;
        }
        let mut ev = Vec::with_capacity(got.len());
        self.apply(&got, now_ms, &mut ev);
        self.sync_queues(symbol);
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

    /// The tape changed `symbol`'s public book: the engine forgets consumption of levels the
    /// tape has since rewritten, fills resting orders the opposite side has moved through (as
    /// maker, at their own price), and shrinks queues. Returns the fills' executions.
    pub fn on_book(&mut self, symbol: &str, book: &Book<Level>, now_ms: u64) -> Vec<Execution> {
        let Some(st) = self.symbols.get_mut(symbol) else {
            return Vec::new();
        };
        let mut got = Vec::new();
        st.engine.on_book(INST, book, now_ms, &mut |e| got.push(*e));
        let mut ev = Vec::with_capacity(got.len());
        self.apply(&got, now_ms, &mut ev);
        self.sync_queues(symbol);
        ev
    }

    /// A public trade printed on `symbol`: resting orders at its price lose queue ahead and then
    /// fill; resting orders it went through fill first (best price, then time). Returns the
    /// fills' executions. A trade whose price or quantity does not convert exactly to fixed
    /// point (more than 9 decimals, or out of range) reaches no order: the engine cannot
    /// represent it without rounding. (Binance and OKX strings carry at most 8 decimals.)
    pub fn on_trade(&mut self, symbol: &str, t: PublicTrade, now_ms: u64) -> Vec<Execution> {
        let (Some(st), Ok(px), Ok(qty)) = (
            self.symbols.get_mut(symbol),
            Px::from_decimal(t.price),
            Qty::from_decimal(t.qty),
        ) else {
            return Vec::new();
        };
        let mut got = Vec::new();
        st.engine.on_trade(
            INST,
            px,
            qty,
            t.taker_side.map(core_side),
            now_ms,
            &mut |e| got.push(*e),
        );
        let mut ev = Vec::with_capacity(got.len());
        self.apply(&got, now_ms, &mut ev);
        self.sync_queues(symbol);
        ev
    }

    /// Every order ever accepted, by id (for invariant checks).
    #[cfg(test)]
    pub fn orders(&self) -> impl Iterator<Item = &Order> {
        self.orders.values()
    }

    /// Every fill, oldest first (for invariant checks).
    #[cfg(test)]
    pub fn fills(&self) -> &[Fill] {
        &self.fills
    }
}

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
