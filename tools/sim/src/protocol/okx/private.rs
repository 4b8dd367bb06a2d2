//! OKX v5 private side: accounts, order entry and order pushes, over the venue-neutral
//! matching engine ([`crate::matching`]), from FORMATS.md §2.5–2.7 and the OKX v5 docs.
//!
//! * WebSocket `/ws/v5/private` ([`super::private_ws`]): `login` (apiKey, passphrase,
//!   Unix-seconds timestamp within 30 s, sign checked; codes 60004 invalid timestamp, 60005
//!   invalid apiKey, 60006 timestamp expired, 60007 invalid sign, 60009 login failure (bad
//!   request), 60024 wrong passphrase, 60030 repeated login, 60011 not logged in); ops `order`,
//!   `batch-orders`, `cancel-order`, `amend-order` answered
//!   `{"id","op","code","msg","data":[{ordId,clOrdId,tag,ts,sCode,sMsg}],"inTime","outTime"}`
//!   (`code` "0" all succeeded, "1" all failed, "2" some failed); the `orders` channel
//!   (`instType` SPOT or ANY, optional `instId`) pushing every state change of the account's
//!   orders with OKX's fields; text `ping` → `pong`.
//! * REST `/api/v5/trade/{order,cancel-order,amend-order}` (POST),
//!   `/api/v5/trade/{order,orders-pending,fills}` and `/api/v5/account/balance` (GET), signed
//!   with `OK-ACCESS-KEY/-SIGN/-TIMESTAMP/-PASSPHRASE` (HTTP 401 with 50103/50104/50106/50107
//!   missing header, 50112 bad timestamp, 50102 expired, 50111 unknown key, 50105 wrong
//!   passphrase, 50113 bad sign); order entry is limited to 60 requests per 2 s per account
//!   (HTTP 429 / 50011).
//!
//! Order checks and their `sCode`: 51000 parameter error (`sMsg` names the field), 51001
//! unknown instrument, 51006 limit price beyond 5 % of the opposite best (OKX's price limit),
//! 51008 insufficient balance, 51016 duplicate `clOrdId`, 51020 below the minimum size, 51121
//! not a multiple of the lot size, 51174 too many pending orders on the instrument, 51400
//! cancel of an unknown or finished order, 51503 amend of one. A `post_only` order that would
//! take is refused with 51000. `tdMode` must be `cash`
//! (spot). A market buy's `sz` is in quote currency unless `tgtCcy` is `base_ccy`, as on OKX.
//!
//! Fees are configured as rates charged (positive) or rebated (negative), like the engine; on
//! the wire they take OKX's sign: `fee`/`fillFee` are negative when charged, positive for a
//! rebate, in the received currency (base for a buy, quote for a sell).
//!
//! Private faults ([`crate::config::PrivateFaultKind`]) as the OKX side applies them:
//! `short_fill` shaves fills in the engine (reported and booked smaller); `no_fill_reports`
//! pushes the state change of a fill with empty `fillSz`/`fillPx`/`tradeId` (REST `fills`
//! still lists it); `duplicate_fill` pushes each fill update twice; `reject` refuses new
//! orders with sCode 50013 (system busy); `rate_limit` answers 50011 (REST: HTTP 429);
//! `http_503`/`http_500` place the order but answer REST with that status and code 50001
//! (WS: code 50001 and no data); `disconnect` closes the WS connection after (or, with
//! `placed = false`, instead of) placing; `slow_ack` delays the answer.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::mpsc::Sender;
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::book::{Book, Level};
use crate::config::{PrivateConfig, PrivateFault, PrivateFaultKind};
use crate::matching::{
    AccountId, Amend, Engine, ExecKind, Execution, Fill, MAX_OPEN_PER_SYMBOL, NewOrder, Order,
    OrderRef, OrderStatus, OrderType, PublicTrade, Reject, Side, SymbolRules, TimeInForce,
};
use crate::protocol::okx::auth;
use crate::protocol::okx::public::{Market, OkxBook};
use crate::tape::{BookOp, Frame, Tape};

/// OKX's order-entry limit per account: 60 requests per 2 s.
const RATE_WINDOW_MS: u64 = 2_000;
const RATE_LIMIT: usize = 60;
/// `instIdCode` of the first instrument (the others follow in capture order).
const INST_CODE_BASE: u64 = 1_000_000;
/// Limit prices further than this from the opposite best are refused (51006).
const PRICE_BAND: Decimal = Decimal::from_parts(5, 0, 0, false, 2);

/// One account's credentials.
struct Creds {
    api_key: String,
    secret: String,
    passphrase: String,
    account: AccountId,
    uid: String,
}

/// What the engine does not keep about an order.
#[derive(Clone, Debug, Default)]
struct Meta {
    ord_type: &'static str,
    cl_ord_id: String,
    tag: String,
    req_id: String,
    tgt_ccy: String,
}

/// An `orders` channel subscription of one connection.
struct Sub {
    conn: u64,
    account: AccountId,
    inst_type: String,
    inst_id: Option<String>,
    tx: Sender<String>,
}

/// What a request-kind fault asks of the current request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RequestFaults {
    /// Refuse the order (system busy).
    pub reject: bool,
    /// Refuse the request (rate limit).
    pub rate_limit: bool,
    /// Place, then answer with this HTTP status (REST) / code 50001 (WS).
    pub http_error: Option<u16>,
    /// Close the WS connection; `Some(true)`: after placing.
    pub disconnect: Option<bool>,
    /// Delay the answer.
    pub delay: Duration,
}

/// Fill-kind faults applying to one fill.
#[derive(Clone, Copy, Debug, Default)]
struct FillFaults {
    no_report: bool,
    duplicate: bool,
}

struct FaultState {
    spec: PrivateFault,
    seen: u64,
}

impl FaultState {
    /// Counts one matching event; true if the fault applies to it.
    fn hit(&mut self) -> bool {
        self.seen += 1;
        let n = self.seen - 1;
        n >= self.spec.after && (self.spec.count == 0 || n < self.spec.after + self.spec.count)
    }
}

/// The result of one order operation (one element of a reply's `data`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct OpResult {
    pub ord_id: String,
    pub cl_ord_id: String,
    pub tag: String,
    pub req_id: Option<String>,
    pub s_code: &'static str,
    pub s_msg: String,
}

impl OpResult {
    fn err(arg: &Map<String, Value>, code: &'static str, msg: impl Into<String>) -> Self {
        let s = |k: &str| arg.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        Self {
            ord_id: s("ordId"),
            cl_ord_id: s("clOrdId"),
            tag: s("tag"),
            req_id: arg.get("reqId").and_then(Value::as_str).map(str::to_owned),
            s_code: code,
            s_msg: msg.into(),
        }
    }

    /// `{"clOrdId":..,"ordId":..,"tag":..,"ts":..,"sCode":..,"sMsg":..}`.
    pub(crate) fn json(&self, ts_ms: u64) -> String {
        let mut s = format!(
            "{{\"clOrdId\":{},\"ordId\":{},",
            jstr(&self.cl_ord_id),
            jstr(&self.ord_id)
        );
        if let Some(r) = &self.req_id {
            let _ = write!(s, "\"reqId\":{},", jstr(r));
        } else {
            let _ = write!(s, "\"tag\":{},", jstr(&self.tag));
        }
        let _ = write!(
            s,
            "\"ts\":\"{ts_ms}\",\"sCode\":\"{}\",\"sMsg\":{}}}",
            self.s_code,
            jstr(&self.s_msg)
        );
        s
    }
}

/// The reply envelope's `code`: "0" all succeeded, "1" all failed, "2" partly.
pub(crate) fn envelope_code(results: &[OpResult]) -> &'static str {
    let ok = results.iter().filter(|r| r.s_code == "0").count();
    if ok == results.len() {
        "0"
    } else if ok == 0 {
        "1"
    } else {
        "2"
    }
}

/// A JSON string literal.
pub(crate) fn jstr(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// OKX's shortest decimal form.
fn dstr(d: Decimal) -> String {
    let n = d.normalize();
    if n.is_zero() {
        "0".into()
    } else {
        n.to_string()
    }
}

/// The private state of one OKX venue.
pub(crate) struct Private {
    engine: Engine,
    creds: Vec<Creds>,
    meta: HashMap<u64, Meta>,
    subs: Vec<Sub>,
    faults: Vec<FaultState>,
    min_size: HashMap<String, Decimal>,
    /// Added to every trading answer.
    latency: Duration,
    /// instId of each market instrument index.
    inst_names: Vec<String>,
    recent: HashMap<AccountId, VecDeque<u64>>,
    next_internal_id: u64,
}

impl std::fmt::Debug for Private {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials stay out of debug output.
        f.debug_struct("Private")
            .field("accounts", &self.creds.len())
            .field("subscriptions", &self.subs.len())
            .finish_non_exhaustive()
    }
}

/// Finest decimals of the strings at `field` of the levels (tick and lot inference).
fn finest(levels: &mut dyn Iterator<Item = &Level>, field: usize) -> u32 {
    levels
        .filter_map(|l| l.get(field)?.parse::<Decimal>().ok())
        .filter(|d| !d.is_zero())
        .map(|d| d.normalize().scale())
        .max()
        .unwrap_or(0)
}

impl Private {
    /// The private side of an OKX venue; instrument rules (tick, lot = minimum size) are the
    /// finest decimals the captures show.
    pub(crate) fn new(cfg: &PrivateConfig, market: &Market) -> Self {
        let (mut engine, ids) = crate::private::engine(cfg);
        let mut inst_names = vec![String::new(); market.insts.len()];
        for (name, &i) in &market.by_id {
            if let Some(slot) = inst_names.get_mut(i) {
                slot.clone_from(name);
            }
        }
        let mut min_size = HashMap::new();
        for (i, inst) in market.insts.iter().enumerate() {
            let name = &inst_names[i];
            let Some((base, quote)) = name.split_once('-') else {
                continue;
            };
            let levels = || {
                inst.snapshots
                    .iter()
                    .chain(&inst.updates)
                    .flat_map(|(c, _)| c.iter().map(|c| &c.level))
            };
            let tick = Decimal::new(1, finest(&mut levels(), 0).min(28));
            let lot = Decimal::new(1, finest(&mut levels(), 1).min(28));
            min_size.insert(name.clone(), lot);
            engine.add_symbol(SymbolRules {
                symbol: name.clone(),
                base: base.to_owned(),
                quote: quote.to_owned(),
                tick,
                lot,
                min_notional: Decimal::ZERO,
            });
        }
        let creds = cfg
            .accounts
            .iter()
            .zip(ids)
            .map(|(a, id)| Creds {
                api_key: a.api_key.clone(),
                secret: a.secret.clone(),
                passphrase: a.passphrase.clone().unwrap_or_default(),
                account: id,
                uid: format!("{}", 614_488_474_791_936u64 + id as u64),
            })
            .collect();
        Self {
            engine,
            creds,
            meta: HashMap::new(),
            subs: Vec::new(),
            faults: cfg
                .faults
                .iter()
                .map(|f| FaultState {
                    spec: f.clone(),
                    seen: 0,
                })
                .collect(),
            min_size,
            latency: cfg.latency,
            inst_names,
            recent: HashMap::new(),
            next_internal_id: 1,
        }
    }

    /// The matching engine (balances for [`crate::SimHandle::balances`]).
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    // -----------------------------------------------------------------------------------------
    // Authentication

    /// WebSocket login check; the account or the error `(code, msg)`.
    pub(crate) fn login(
        &self,
        arg: &Value,
        now_ms: u64,
    ) -> Result<AccountId, (&'static str, &'static str)> {
        let f = |k: &str| arg.get(k).and_then(Value::as_str);
        let (Some(key), Some(pass), Some(ts), Some(sign)) =
            (f("apiKey"), f("passphrase"), f("timestamp"), f("sign"))
        else {
            return Err(("60009", "Login failed."));
        };
        let Ok(secs) = ts.parse::<u64>() else {
            return Err(("60004", "Invalid timestamp"));
        };
        if secs.saturating_mul(1000).abs_diff(now_ms) > auth::WINDOW_MS {
            return Err(("60006", "Timestamp request expired"));
        }
        let Some(c) = self.creds.iter().find(|c| c.api_key == key) else {
            return Err(("60005", "Invalid apiKey"));
        };
        if !auth::same(&c.passphrase, pass) {
            return Err(("60024", "Wrong passphrase"));
        }
        let want = auth::sign(&c.secret, &format!("{ts}GET/users/self/verify"));
        if !auth::same(&want, sign) {
            return Err(("60007", "Invalid sign"));
        }
        Ok(c.account)
    }

    /// REST header check; the account or `(code, msg)` (HTTP 401).
    pub(crate) fn rest_auth(
        &self,
        header: &dyn Fn(&str) -> Option<String>,
        method: &str,
        path_and_query: &str,
        body: &str,
        now_ms: u64,
    ) -> Result<AccountId, (&'static str, &'static str)> {
        let need = |name: &str, code: &'static str, msg: &'static str| {
            header(name).filter(|v| !v.is_empty()).ok_or((code, msg))
        };
        let key = need(
            "OK-ACCESS-KEY",
            "50103",
            "Request header OK-ACCESS-KEY cannot be empty.",
        )?;
        let pass = need(
            "OK-ACCESS-PASSPHRASE",
            "50104",
            "Request header OK-ACCESS-PASSPHRASE cannot be empty.",
        )?;
        let sign = need(
            "OK-ACCESS-SIGN",
            "50106",
            "Request header OK-ACCESS-SIGN cannot be empty.",
        )?;
        let ts = need(
            "OK-ACCESS-TIMESTAMP",
            "50107",
            "Request header OK-ACCESS-TIMESTAMP cannot be empty.",
        )?;
        let Some(ms) = auth::parse_iso_ms(&ts) else {
            return Err(("50112", "Invalid OK-ACCESS-TIMESTAMP"));
        };
        if ms.abs_diff(now_ms) > auth::WINDOW_MS {
            return Err(("50102", "Timestamp request expired"));
        }
        let Some(c) = self.creds.iter().find(|c| c.api_key == key) else {
            return Err(("50111", "Invalid OK-ACCESS-KEY"));
        };
        if !auth::same(&c.passphrase, &pass) {
            return Err(("50105", "Request header OK-ACCESS-PASSPHRASE incorrect."));
        }
        let want = auth::sign(&c.secret, &format!("{ts}{method}{path_and_query}{body}"));
        if !auth::same(&want, &sign) {
            return Err(("50113", "Invalid Sign"));
        }
        Ok(c.account)
    }

    /// The instrument an order op names: `instIdCode` (takes precedence, as on OKX) or
    /// `instId`. The error is `(sCode, sMsg)`.
    fn inst_of(&self, arg: &Map<String, Value>) -> Result<String, (&'static str, &'static str)> {
        if let Some(c) = arg.get("instIdCode") {
            let code = c
                .as_u64()
                .or_else(|| c.as_str().and_then(|v| v.parse().ok()))
                .ok_or(("51000", "Parameter instIdCode error"))?;
            return code
                .checked_sub(INST_CODE_BASE)
                .and_then(|i| self.inst_names.get(usize::try_from(i).ok()?))
                .filter(|n| !n.is_empty())
                .cloned()
                .ok_or(("51001", "Instrument ID does not exist."));
        }
        arg.get("instId")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or(("51000", "Parameter instId error"))
    }

    /// `GET /api/v5/public/instruments?instType=SPOT[&instId=..]`: the simulator's rules, with
    /// the `instIdCode` that order ops accept.
    pub(crate) fn instruments(&self, q: &dyn Fn(&str) -> Option<String>) -> String {
        if q("instType").as_deref() != Some("SPOT") {
            return rest_err("51000", "Parameter instType error");
        }
        let only = q("instId");
        let mut items = Vec::new();
        for (i, name) in self.inst_names.iter().enumerate() {
            if only.as_deref().is_some_and(|o| o != name) {
                continue;
            }
            let Some(r) = self.engine.rules(name) else {
                continue;
            };
            let min = self.min_size.get(name).copied().unwrap_or(r.lot);
            items.push(format!(
                "{{\"instType\":\"SPOT\",\"instId\":{},\"instIdCode\":{},\"baseCcy\":{},\
                 \"quoteCcy\":{},\"tickSz\":\"{}\",\"lotSz\":\"{}\",\"minSz\":\"{}\",\"state\":\"live\"}}",
                jstr(name),
                INST_CODE_BASE + i as u64,
                jstr(&r.base),
                jstr(&r.quote),
                dstr(r.tick),
                dstr(r.lot),
                dstr(min),
            ));
        }
        format!(
            "{{\"code\":\"0\",\"msg\":\"\",\"data\":[{}]}}",
            items.join(",")
        )
    }

    /// Every fill of one order, oldest first.
    fn order_fills(&self, account: AccountId, inst: &str, order_id: u64) -> Vec<&Fill> {
        self.engine
            .trades(account, inst)
            .into_iter()
            .filter(|f| f.order_id == order_id)
            .collect()
    }

    fn uid(&self, account: AccountId) -> &str {
        self.creds
            .iter()
            .find(|c| c.account == account)
            .map_or("", |c| c.uid.as_str())
    }

    // -----------------------------------------------------------------------------------------
    // Faults and limits

    /// Counts an order request against the request-kind faults.
    /// (The configured `latency` is added to every answer's delay.)
    pub(crate) fn request_faults(&mut self, new_order: bool) -> RequestFaults {
        let mut r = RequestFaults {
            delay: self.latency,
            ..RequestFaults::default()
        };
        for f in &mut self.faults {
            let applies = match f.spec.kind {
                PrivateFaultKind::Reject
                | PrivateFaultKind::Http503
                | PrivateFaultKind::Http500
                | PrivateFaultKind::Disconnect { .. } => new_order,
                PrivateFaultKind::RateLimit | PrivateFaultKind::SlowAck(_) => true,
                _ => false,
            };
            if !applies || !f.hit() {
                continue;
            }
            match f.spec.kind {
                PrivateFaultKind::Reject => r.reject = true,
                PrivateFaultKind::RateLimit => r.rate_limit = true,
                PrivateFaultKind::Http503 => r.http_error = Some(503),
                PrivateFaultKind::Http500 => r.http_error = Some(500),
                PrivateFaultKind::Disconnect { placed } => r.disconnect = Some(placed),
                PrivateFaultKind::SlowAck(d) => r.delay += d,
                _ => {}
            }
        }
        r
    }

    fn fill_faults(&mut self) -> FillFaults {
        let mut r = FillFaults::default();
        for f in &mut self.faults {
            let kind = f.spec.kind;
            if !matches!(
                kind,
                PrivateFaultKind::NoFillReports | PrivateFaultKind::DuplicateFill
            ) || !f.hit()
            {
                continue;
            }
            match kind {
                PrivateFaultKind::NoFillReports => r.no_report = true,
                PrivateFaultKind::DuplicateFill => r.duplicate = true,
                _ => {}
            }
        }
        r
    }

    /// OKX's order-entry rate limit; true if this request is over it.
    pub(crate) fn over_limit(&mut self, account: AccountId, now_ms: u64) -> bool {
        let q = self.recent.entry(account).or_default();
        while q
            .front()
            .is_some_and(|t| now_ms.saturating_sub(*t) >= RATE_WINDOW_MS)
        {
            q.pop_front();
        }
        if q.len() >= RATE_LIMIT {
            return true;
        }
        q.push_back(now_ms);
        false
    }

    // -----------------------------------------------------------------------------------------
    // Subscriptions and pushes

    /// Adds an `orders` subscription of connection `conn`.
    pub(crate) fn subscribe(
        &mut self,
        conn: u64,
        account: AccountId,
        inst_type: &str,
        inst_id: Option<&str>,
        tx: Sender<String>,
    ) {
        self.subs.push(Sub {
            conn,
            account,
            inst_type: inst_type.to_owned(),
            inst_id: inst_id.map(str::to_owned),
            tx,
        });
    }

    /// Removes a connection's subscriptions matching `inst_type`/`inst_id` (all with `None`).
    pub(crate) fn unsubscribe(&mut self, conn: u64, filter: Option<(&str, Option<&str>)>) {
        self.subs.retain(|s| {
            s.conn != conn
                || filter.is_some_and(|(t, i)| s.inst_type != t || s.inst_id.as_deref() != i)
        });
    }

    /// Pushes executions to the subscribed connections, applying fill faults.
    fn publish(&mut self, execs: &[Execution]) {
        if execs.is_empty() {
            return;
        }
        for e in execs {
            let mut faults = FillFaults::default();
            if e.kind == ExecKind::Trade {
                faults = self.fill_faults();
            }
            let data = self.order_json(&e.order, e.kind, e.fill.as_ref(), faults);
            let account = e.order.account;
            let inst = e.order.symbol.clone();
            let uid = self.uid(account).to_owned();
            let copies = if faults.duplicate { 2 } else { 1 };
            self.subs.retain(|s| {
                if s.account != account || s.inst_id.as_deref().is_some_and(|i| i != inst) {
                    return true;
                }
                let mut arg = format!(
                    "{{\"channel\":\"orders\",\"instType\":{}",
                    jstr(&s.inst_type)
                );
                if let Some(i) = &s.inst_id {
                    let _ = write!(arg, ",\"instId\":{}", jstr(i));
                }
                let _ = write!(arg, ",\"uid\":{}}}", jstr(&uid));
                let text = format!("{{\"arg\":{arg},\"data\":[{data}]}}");
                (0..copies).all(|_| s.tx.send(text.clone()).is_ok())
            });
        }
    }

    /// One order as OKX renders it in pushes and REST order details. `fill` is this update's
    /// fill (pushes) or the last fill (REST).
    fn order_json(
        &mut self,
        o: &Order,
        kind: ExecKind,
        fill: Option<&Fill>,
        faults: FillFaults,
    ) -> String {
        let meta = self.meta.get(&o.id).cloned().unwrap_or_default();
        let rules = self.engine.rules(&o.symbol).cloned();
        let fee_ccy = match (o.side, &rules) {
            (Side::Buy, Some(r)) => r.base.clone(),
            (Side::Sell, Some(r)) => r.quote.clone(),
            _ => String::new(),
        };
        let fills = self.order_fills(o.account, &o.symbol, o.id);
        let fee: Decimal = fills.iter().map(|f| -f.commission).sum();
        let state = match o.status {
            OrderStatus::New => "live",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Canceled | OrderStatus::Expired => "canceled",
        };
        let acc = o.executed;
        let (mut fill_sz, mut fill_px, mut trade_id, mut fill_fee, mut fill_time, mut exec_type) = (
            String::new(),
            String::new(),
            String::new(),
            "0".to_owned(),
            String::new(),
            String::new(),
        );
        if let Some(f) = fill
            && !faults.no_report
        {
            fill_sz = dstr(f.qty);
            fill_px = dstr(f.price);
            trade_id = f.trade_id.to_string();
            fill_fee = dstr(-f.commission);
            fill_time = f.time_ms.to_string();
            exec_type = if f.maker { "M" } else { "T" }.to_owned();
        }
        let avg_px = if o.executed.is_zero() {
            String::new()
        } else {
            dstr((o.cum_quote / o.executed).round_dp(12))
        };
        let amend = if kind == ExecKind::Amended { "0" } else { "" };
        format!(
            "{{\"instType\":\"SPOT\",\"instId\":{inst},\"tgtCcy\":{tgt},\"ccy\":\"\",\"ordId\":\"{id}\",\
             \"clOrdId\":{cl},\"tag\":{tag},\"px\":\"{px}\",\"sz\":\"{sz}\",\"notionalUsd\":\"\",\
             \"ordType\":\"{ot}\",\"side\":\"{side}\",\"posSide\":\"\",\"tdMode\":\"cash\",\
             \"accFillSz\":\"{acc}\",\"fillNotionalUsd\":\"\",\"avgPx\":\"{avg}\",\"state\":\"{state}\",\
             \"lever\":\"\",\"fillPx\":\"{fill_px}\",\"tradeId\":\"{trade_id}\",\"fillSz\":\"{fill_sz}\",\
             \"fillTime\":\"{fill_time}\",\"fillFee\":\"{fill_fee}\",\"fillFeeCcy\":\"{fee_ccy}\",\
             \"execType\":\"{exec_type}\",\"feeCcy\":\"{fee_ccy}\",\"fee\":\"{fee}\",\"rebateCcy\":\"{fee_ccy}\",\
             \"rebate\":\"0\",\"pnl\":\"0\",\"source\":\"\",\"cancelSource\":\"\",\"category\":\"normal\",\
             \"uTime\":\"{utime}\",\"cTime\":\"{ctime}\",\"reqId\":{req},\"amendResult\":\"{amend}\",\
             \"reduceOnly\":\"false\",\"code\":\"0\",\"msg\":\"\"}}",
            inst = jstr(&o.symbol),
            tgt = jstr(&meta.tgt_ccy),
            id = o.id,
            cl = jstr(&meta.cl_ord_id),
            tag = jstr(&meta.tag),
            px = o.price.map(dstr).unwrap_or_default(),
            sz = dstr(o.qty),
            ot = if meta.ord_type.is_empty() {
                "limit"
            } else {
                meta.ord_type
            },
            side = match o.side {
                Side::Buy => "buy",
                Side::Sell => "sell",
            },
            acc = dstr(acc),
            avg = avg_px,
            fee = dstr(fee),
            utime = o.updated_ms,
            ctime = o.created_ms,
            req = jstr(if kind == ExecKind::Amended {
                &meta.req_id
            } else {
                ""
            }),
        )
    }

    // -----------------------------------------------------------------------------------------
    // The tape

    /// The tape published `frame`: the engine sees the book change or the public trades, and
    /// the resulting fills are pushed.
    pub(crate) fn on_frame(
        &mut self,
        market: &Market,
        books: &[Option<OkxBook>],
        tape: &Tape,
        frame: &Frame,
        now_ms: u64,
    ) {
        // Nothing to match before the first order.
        if self.meta.is_empty() {
            return;
        }
        match frame.op {
            BookOp::OkxSnapshot { book, .. } | BookOp::OkxUpdate { book, .. } => {
                let (Some(name), Some(Some(b))) =
                    (self.inst_names.get(book as usize), books.get(book as usize))
                else {
                    return;
                };
                let name = name.clone();
                let ev = self.engine.on_book(&name, &b.book, now_ms);
                self.publish(&ev);
            }
            BookOp::None => {
                let key = tape
                    .streams
                    .get(frame.stream as usize)
                    .map_or("", String::as_str);
                let Some(inst) = key.strip_prefix("trades:") else {
                    return;
                };
                if !market.by_id.contains_key(inst) {
                    return;
                }
                let Ok(v) = serde_json::from_str::<Value>(&frame.text) else {
                    return;
                };
                let Some(data) = v.get("data").and_then(Value::as_array) else {
                    return;
                };
                for t in data {
                    let num = |k: &str| {
                        t.get(k)
                            .and_then(Value::as_str)
                            .and_then(|s| s.parse::<Decimal>().ok())
                    };
                    let (Some(price), Some(qty)) = (num("px"), num("sz")) else {
                        continue;
                    };
                    let taker_side = match t.get("side").and_then(Value::as_str) {
                        Some("buy") => Some(Side::Buy),
                        Some("sell") => Some(Side::Sell),
                        _ => None,
                    };
                    let ev = self.engine.on_trade(
                        inst,
                        PublicTrade {
                            price,
                            qty,
                            taker_side,
                        },
                        now_ms,
                    );
                    self.publish(&ev);
                }
            }
            _ => {}
        }
    }

    // -----------------------------------------------------------------------------------------
    // Order operations (shared by WS ops and REST)

    fn book<'a>(
        &self,
        market: &Market,
        books: &'a [Option<OkxBook>],
        inst: &str,
    ) -> &'a Book<Level> {
        static EMPTY: std::sync::OnceLock<Book<Level>> = std::sync::OnceLock::new();
        market
            .by_id
            .get(inst)
            .and_then(|&i| books.get(i))
            .and_then(Option::as_ref)
            .map_or_else(|| EMPTY.get_or_init(Book::new), |b| &b.book)
    }

    /// Places one order (`arg` of `order`/`batch-orders`, or a REST body).
    pub(crate) fn place(
        &mut self,
        account: AccountId,
        arg: &Value,
        faults: &RequestFaults,
        market: &Market,
        books: &[Option<OkxBook>],
        now_ms: u64,
    ) -> OpResult {
        let Some(arg) = arg.as_object() else {
            return OpResult::err(&Map::new(), "51000", "Parameter error");
        };
        let bad = |field: &str| OpResult::err(arg, "51000", format!("Parameter {field} error"));
        let s = |k: &str| arg.get(k).and_then(Value::as_str);
        let inst = match self.inst_of(arg) {
            Ok(i) => i,
            Err((code, msg)) => return OpResult::err(arg, code, msg),
        };
        let inst = inst.as_str();
        let cl = s("clOrdId").unwrap_or("");
        if cl.len() > 32 || !cl.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return bad("clOrdId");
        }
        let tag = s("tag").unwrap_or("");
        if tag.len() > 16 || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return bad("tag");
        }
        if s("tdMode") != Some("cash") {
            return bad("tdMode");
        }
        let side = match s("side") {
            Some("buy") => Side::Buy,
            Some("sell") => Side::Sell,
            _ => return bad("side"),
        };
        let (ord_type, kind, tif) = match s("ordType") {
            Some("limit") => ("limit", OrderType::Limit, TimeInForce::Gtc),
            Some("market") => ("market", OrderType::Market, TimeInForce::Ioc),
            Some("post_only") => ("post_only", OrderType::LimitMaker, TimeInForce::Gtc),
            Some("ioc") => ("ioc", OrderType::Limit, TimeInForce::Ioc),
            Some("fok") => ("fok", OrderType::Limit, TimeInForce::Fok),
            _ => return bad("ordType"),
        };
        let Some(sz) = s("sz")
            .and_then(|v| v.parse::<Decimal>().ok())
            .filter(|d| *d > Decimal::ZERO)
        else {
            return bad("sz");
        };
        let price = if kind == OrderType::Market {
            None
        } else {
            match s("px").and_then(|v| v.parse::<Decimal>().ok()) {
                Some(p) if p > Decimal::ZERO => Some(p),
                _ => return bad("px"),
            }
        };
        let tgt_ccy = match (s("tgtCcy"), kind, side) {
            (None | Some(""), OrderType::Market, Side::Buy) => "quote_ccy",
            (None | Some(""), _, _) => "",
            (Some(t @ ("base_ccy" | "quote_ccy")), OrderType::Market, _) => t,
            _ => return bad("tgtCcy"),
        };
        let Some(rules) = self.engine.rules(inst).cloned() else {
            return OpResult::err(arg, "51001", "Instrument ID does not exist.");
        };
        if faults.reject {
            return OpResult::err(arg, "50013", "Systems are busy. Please try again later.");
        }
        let book = self.book(market, books, inst);
        // A market order sized in quote currency: the base quantity the book sells for it.
        let qty = if kind == OrderType::Market && tgt_ccy == "quote_ccy" {
            let levels: Vec<(&Decimal, &Level)> = match side {
                Side::Buy => book.asks.iter().collect(),
                Side::Sell => book.bids.iter().rev().collect(),
            };
            let mut left = sz;
            let mut base = Decimal::ZERO;
            for (p, l) in levels {
                let q = l
                    .get(1)
                    .and_then(|q| q.parse::<Decimal>().ok())
                    .unwrap_or_default();
                let cost = p * q;
                if cost >= left {
                    base += left / p;
                    break;
                }
                base += q;
                left -= cost;
            }
            if rules.lot.is_zero() {
                base
            } else {
                (base / rules.lot).floor() * rules.lot
            }
        } else {
            sz
        };
        let min = self.min_size.get(inst).copied().unwrap_or(rules.lot);
        if qty < min {
            return OpResult::err(
                arg,
                "51020",
                format!("Your order should meet or exceed the minimum order amount {min}."),
            );
        }
        if let Some(p) = price {
            let best_ask = book.asks.keys().next().copied();
            let best_bid = book.bids.keys().next_back().copied();
            if let (Some(a), Some(b)) = (best_ask, best_bid) {
                let max_buy = round_to(a * (Decimal::ONE + PRICE_BAND), rules.tick, false);
                let min_sell = round_to(b * (Decimal::ONE - PRICE_BAND), rules.tick, true);
                if (side == Side::Buy && p > max_buy) || (side == Side::Sell && p < min_sell) {
                    return OpResult::err(
                        arg,
                        "51006",
                        format!(
                            "Order price is not within the price limit (max buy price: {} min \
                             sell price: {})",
                            dstr(max_buy),
                            dstr(min_sell)
                        ),
                    );
                }
            }
        }
        let client_id = if cl.is_empty() {
            // The engine wants unique ids among open orders; OKX's is optional. `~` keeps an
            // internal id apart from any client's (alphanumeric only).
            self.next_internal_id += 1;
            format!("~{}", self.next_internal_id)
        } else {
            cl.to_owned()
        };
        let req = NewOrder {
            symbol: inst.to_owned(),
            side,
            kind,
            tif,
            qty,
            price,
            client_id,
        };
        match self.engine.place(account, req, book, now_ms) {
            Ok(ev) => {
                let id = ev.first().map_or(0, |e| e.order.id);
                self.meta.insert(
                    id,
                    Meta {
                        ord_type,
                        cl_ord_id: cl.to_owned(),
                        tag: tag.to_owned(),
                        req_id: String::new(),
                        tgt_ccy: tgt_ccy.to_owned(),
                    },
                );
                self.publish(&ev);
                OpResult {
                    ord_id: id.to_string(),
                    cl_ord_id: cl.to_owned(),
                    tag: tag.to_owned(),
                    req_id: None,
                    s_code: "0",
                    s_msg: "Order placed".into(),
                }
            }
            Err(r) => {
                let (code, msg) = reject_code(&r, &rules, side, false);
                OpResult::err(arg, code, msg)
            }
        }
    }

    /// The order an `ordId`/`clOrdId` pair names (`ordId` wins, as on OKX).
    /// The error is the `sMsg` of a 51000.
    fn order_ref(arg: &Map<String, Value>) -> Result<OrderRef, &'static str> {
        let s = |k: &str| arg.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
        match (s("ordId"), s("clOrdId")) {
            (Some(id), _) => id
                .parse::<u64>()
                .map(OrderRef::Id)
                .map_err(|_| "Parameter ordId error"),
            (None, Some(cl)) => Ok(OrderRef::Client(cl.to_owned())),
            (None, None) => Err("Parameter ordId or clOrdId error"),
        }
    }

    fn result_of(&self, o: &Order, req_id: Option<String>, msg: &str) -> OpResult {
        let meta = self.meta.get(&o.id).cloned().unwrap_or_default();
        OpResult {
            ord_id: o.id.to_string(),
            cl_ord_id: meta.cl_ord_id,
            tag: meta.tag,
            req_id,
            s_code: "0",
            s_msg: msg.to_owned(),
        }
    }

    /// Cancels one order.
    pub(crate) fn cancel(
        &mut self,
        account: AccountId,
        arg: &Value,
        market: &Market,
        books: &[Option<OkxBook>],
        now_ms: u64,
    ) -> OpResult {
        let Some(arg) = arg.as_object() else {
            return OpResult::err(&Map::new(), "51000", "Parameter error");
        };
        let inst = match self.inst_of(arg) {
            Ok(i) => i,
            Err((code, msg)) => return OpResult::err(arg, code, msg),
        };
        let inst = inst.as_str();
        if self.engine.rules(inst).is_none() {
            return OpResult::err(arg, "51001", "Instrument ID does not exist.");
        }
        let r = match Self::order_ref(arg) {
            Ok(r) => r,
            Err(msg) => return OpResult::err(arg, "51000", msg),
        };
        let r = self.resolve_client(account, inst, r);
        let book = self.book(market, books, inst);
        match self.engine.cancel(account, inst, &r, book, now_ms) {
            Ok(ev) => {
                let res = self.result_of(&ev.order, None, "");
                self.publish(std::slice::from_ref(&ev));
                res
            }
            Err(_) => OpResult::err(
                arg,
                "51400",
                "Order cancellation failed as the order has been filled, canceled or does not \
                 exist.",
            ),
        }
    }

    /// Amends one order (`newSz` total size, `newPx`).
    pub(crate) fn amend(
        &mut self,
        account: AccountId,
        arg: &Value,
        market: &Market,
        books: &[Option<OkxBook>],
        now_ms: u64,
    ) -> OpResult {
        let Some(arg) = arg.as_object() else {
            return OpResult::err(&Map::new(), "51000", "Parameter error");
        };
        let inst = match self.inst_of(arg) {
            Ok(i) => i,
            Err((code, msg)) => return OpResult::err(arg, code, msg),
        };
        let inst = inst.as_str();
        let Some(rules) = self.engine.rules(inst).cloned() else {
            return OpResult::err(arg, "51001", "Instrument ID does not exist.");
        };
        let req_id = arg
            .get("reqId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        // The error names the bad field.
        let num = |k: &'static str| -> Result<Option<Decimal>, &'static str> {
            match arg.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => v
                    .parse::<Decimal>()
                    .ok()
                    .filter(|d| *d > Decimal::ZERO)
                    .map(Some)
                    .ok_or(k),
            }
        };
        let (qty, price) = match (num("newSz"), num("newPx")) {
            (Ok(q), Ok(p)) => (q, p),
            (Err(k), _) | (_, Err(k)) => {
                return OpResult::err(arg, "51000", format!("Parameter {k} error"));
            }
        };
        if qty.is_none() && price.is_none() {
            return OpResult::err(arg, "51000", "Parameter newSz or newPx error");
        }
        let r = match Self::order_ref(arg) {
            Ok(r) => r,
            Err(msg) => return OpResult::err(arg, "51000", msg),
        };
        let r = self.resolve_client(account, inst, r);
        let book = self.book(market, books, inst);
        let side = self
            .engine
            .order(account, inst, &r)
            .map_or(Side::Buy, |o| o.side);
        match self
            .engine
            .amend(account, inst, &r, Amend { qty, price }, book, now_ms)
        {
            Ok(ev) => {
                let id = ev.first().map_or(0, |e| e.order.id);
                if let Some(m) = self.meta.get_mut(&id) {
                    m.req_id.clone_from(&req_id);
                }
                let res = ev.first().map_or_else(
                    || OpResult::err(arg, "51503", "Order modification failed."),
                    |e| self.result_of(&e.order, Some(req_id.clone()), ""),
                );
                self.publish(&ev);
                res
            }
            Err(rj) => {
                let (code, msg) = reject_code(&rj, &rules, side, true);
                let mut e = OpResult::err(arg, code, msg);
                e.req_id = Some(req_id);
                e
            }
        }
    }

    /// A client id names the engine's internal id when the order was placed without one; a
    /// client-given id is passed through.
    fn resolve_client(&self, account: AccountId, inst: &str, r: OrderRef) -> OrderRef {
        match r {
            OrderRef::Client(cl) => self
                .meta
                .iter()
                .filter(|(_, m)| m.cl_ord_id == cl)
                .map(|(id, _)| *id)
                .filter(|id| {
                    self.engine
                        .order(account, inst, &OrderRef::Id(*id))
                        .is_some()
                })
                .max()
                .map_or(OrderRef::Client(cl), OrderRef::Id),
            other => other,
        }
    }

    // -----------------------------------------------------------------------------------------
    // REST queries

    /// `GET /api/v5/trade/order`.
    pub(crate) fn query_order(
        &mut self,
        account: AccountId,
        q: &dyn Fn(&str) -> Option<String>,
    ) -> String {
        let Some(inst) = q("instId").filter(|i| !i.is_empty()) else {
            return rest_err("51000", "Parameter instId error");
        };
        let mut arg = Map::new();
        for k in ["ordId", "clOrdId"] {
            if let Some(v) = q(k) {
                arg.insert(k.into(), Value::String(v));
            }
        }
        let r = match Self::order_ref(&arg) {
            Ok(r) => r,
            Err(msg) => return rest_err("51000", msg),
        };
        let r = self.resolve_client(account, &inst, r);
        let Some(o) = self.engine.order(account, &inst, &r).cloned() else {
            return rest_err("51603", "Order does not exist");
        };
        let last = self
            .order_fills(o.account, &o.symbol, o.id)
            .last()
            .map(|f| (*f).clone());
        let body = self.order_json(&o, ExecKind::New, last.as_ref(), FillFaults::default());
        format!("{{\"code\":\"0\",\"msg\":\"\",\"data\":[{body}]}}")
    }

    /// `GET /api/v5/trade/orders-pending` (newest first).
    pub(crate) fn pending(
        &mut self,
        account: AccountId,
        q: &dyn Fn(&str) -> Option<String>,
    ) -> String {
        let inst = q("instId");
        if let Some(t) = q("instType")
            && t != "SPOT"
        {
            return "{\"code\":\"0\",\"msg\":\"\",\"data\":[]}".into();
        }
        let orders: Vec<Order> = self
            .engine
            .open_orders(account, inst.as_deref())
            .into_iter()
            .rev()
            .cloned()
            .collect();
        let items: Vec<String> = orders
            .iter()
            .map(|o| {
                let last = self
                    .order_fills(o.account, &o.symbol, o.id)
                    .last()
                    .map(|f| (*f).clone());
                self.order_json(o, ExecKind::New, last.as_ref(), FillFaults::default())
            })
            .collect();
        format!(
            "{{\"code\":\"0\",\"msg\":\"\",\"data\":[{}]}}",
            items.join(",")
        )
    }

    /// `GET /api/v5/trade/fills` (newest first).
    pub(crate) fn fills(&self, account: AccountId, q: &dyn Fn(&str) -> Option<String>) -> String {
        let inst = q("instId");
        let ord = q("ordId").and_then(|v| v.parse::<u64>().ok());
        let limit = q("limit")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(100)
            .clamp(1, 100);
        let mut items = Vec::new();
        let mut all: Vec<&Fill> = self
            .inst_names
            .iter()
            .filter(|n| inst.as_deref().is_none_or(|i| i == n.as_str()))
            .flat_map(|n| self.engine.trades(account, n))
            .collect();
        all.sort_by_key(|f| std::cmp::Reverse(f.trade_id));
        for f in all {
            if ord.is_some_and(|o| o != f.order_id) {
                continue;
            }
            if items.len() == limit {
                break;
            }
            let meta = self.meta.get(&f.order_id).cloned().unwrap_or_default();
            items.push(format!(
                "{{\"instType\":\"SPOT\",\"instId\":{},\"tradeId\":\"{}\",\"ordId\":\"{}\",\
                 \"clOrdId\":{},\"billId\":\"{}\",\"subType\":\"{}\",\"tag\":{},\"fillPx\":\"{}\",\
                 \"fillSz\":\"{}\",\"side\":\"{}\",\"posSide\":\"net\",\"execType\":\"{}\",\
                 \"feeCcy\":\"{}\",\"fee\":\"{}\",\"ts\":\"{}\",\"fillTime\":\"{}\"}}",
                jstr(&f.symbol),
                f.trade_id,
                f.order_id,
                jstr(&meta.cl_ord_id),
                f.trade_id,
                if f.side == Side::Buy { "1" } else { "2" },
                jstr(&meta.tag),
                dstr(f.price),
                dstr(f.qty),
                if f.side == Side::Buy { "buy" } else { "sell" },
                if f.maker { "M" } else { "T" },
                f.commission_asset,
                dstr(-f.commission),
                f.time_ms,
                f.time_ms,
            ));
        }
        format!(
            "{{\"code\":\"0\",\"msg\":\"\",\"data\":[{}]}}",
            items.join(",")
        )
    }

    /// `GET /api/v5/account/balance` (`ccy` = comma-separated filter).
    pub(crate) fn balance(
        &self,
        account: AccountId,
        q: &dyn Fn(&str) -> Option<String>,
        now_ms: u64,
    ) -> String {
        let want: Option<Vec<String>> = q("ccy").map(|c| c.split(',').map(str::to_owned).collect());
        let mut details = Vec::new();
        if let Some(bals) = self.engine.balances(account) {
            for (ccy, b) in bals {
                if want.as_ref().is_some_and(|w| !w.contains(ccy)) {
                    continue;
                }
                let eq = b.free + b.locked;
                details.push(format!(
                    "{{\"ccy\":{},\"eq\":\"{}\",\"cashBal\":\"{}\",\"availBal\":\"{}\",\
                     \"availEq\":\"{}\",\"frozenBal\":\"{}\",\"ordFrozen\":\"{}\",\"uTime\":\"{now_ms}\"}}",
                    jstr(ccy),
                    dstr(eq),
                    dstr(eq),
                    dstr(b.free),
                    dstr(b.free),
                    dstr(b.locked),
                    dstr(b.locked),
                ));
            }
        }
        format!(
            "{{\"code\":\"0\",\"msg\":\"\",\"data\":[{{\"uTime\":\"{now_ms}\",\"totalEq\":\"\",\
             \"details\":[{}]}}]}}",
            details.join(",")
        )
    }
}

/// A REST error body with empty data.
pub(crate) fn rest_err(code: &str, msg: &str) -> String {
    format!("{{\"code\":\"{code}\",\"msg\":{},\"data\":[]}}", jstr(msg))
}

/// `v` rounded to a multiple of `tick`, up or down.
fn round_to(v: Decimal, tick: Decimal, up: bool) -> Decimal {
    if tick.is_zero() {
        return v;
    }
    let n = v / tick;
    (if up { n.ceil() } else { n.floor() }) * tick
}

/// OKX's sCode and sMsg for an engine refusal.
fn reject_code(r: &Reject, rules: &SymbolRules, side: Side, amend: bool) -> (&'static str, String) {
    match r {
        Reject::UnknownAccount => ("50111", "Invalid OK-ACCESS-KEY".into()),
        Reject::UnknownSymbol => ("51001", "Instrument ID does not exist.".into()),
        Reject::PriceRequired | Reject::PriceFilter => (
            "51000",
            if amend {
                "Parameter newPx error"
            } else {
                "Parameter px error"
            }
            .into(),
        ),
        Reject::LotSize => (
            "51121",
            format!(
                "Order quantity must be a multiple of the lot size {}.",
                dstr(rules.lot)
            ),
        ),
        Reject::MinNotional => (
            "51020",
            "Your order should meet or exceed the minimum order amount.".into(),
        ),
        Reject::InsufficientBalance => (
            "51008",
            format!(
                "Order failed. Insufficient {} balance in account.",
                match side {
                    Side::Buy => &rules.quote,
                    Side::Sell => &rules.base,
                }
            ),
        ),
        Reject::WouldTake => (
            "51000",
            "Parameter ordType error: a post_only order would take liquidity".into(),
        ),
        Reject::DuplicateClientId => ("51016", "Duplicated clOrdId".into()),
        Reject::NoLiquidity => ("51000", "Parameter sz error: no liquidity".into()),
        Reject::UnknownOrder => {
            if amend {
                (
                    "51503",
                    "Order modification failed as the order has been filled, canceled or does \
                     not exist."
                        .into(),
                )
            } else {
                (
                    "51400",
                    "Order cancellation failed as the order has been filled, canceled or does \
                     not exist."
                        .into(),
                )
            }
        }
        Reject::BadAmend => ("51000", "Parameter newSz error".into()),
        Reject::TooManyOrders => (
            "51174",
            format!(
                "The number of pending orders reached the upper limit of {MAX_OPEN_PER_SYMBOL} \
                 (orders)."
            ),
        ),
    }
}
