//! [`OkxQueries`]: the [`VenueQueries`] of OKX v5 over signed REST —
//! `GET /api/v5/trade/orders-pending`, `/api/v5/trade/order` and `/api/v5/trade/fills`.
//!
//! It also reads the account's base-asset balance (`GET /api/v5/account/balance`) for the
//! reconciliation poller's position-drift check ([`VenueBalances`]).
//!
//! Orders and fills whose `clOrdId` is not of our `tw<strategy>x<seq>` form are skipped
//! (counted in [`OkxQueries::foreign`]): they are not this engine's to reconcile. Fees follow the
//! stream decoder: OKX's negative "charged" becomes our positive "paid", and a fee not in the
//! instrument's quote currency is booked as zero.

use simd_json::prelude::*;
use tickwire_core::event::{
    ExecReport, Fill, Liquidity, Meta, OrderStatus, Reject, RejectReason, Side, StatusReport,
};
use tickwire_core::ids::{ClientOrderId, InstrumentId, VenueId};
use tickwire_core::num::{Px, Qty};

use super::reports::map_okx_code;
use super::rest::{OkxMarket, OkxRest};
use crate::queries::{QueryError, VenueQueries};
use crate::reconcile::VenueBalances;
use crate::session::ReportSink;
use crate::venue::report::{
    DecodeError, JsonScratch, V, field, ms_to_ns, parse_client_order_id, px_of, qty_of,
    signed_px_of, str_of, str_or_empty, u64_str,
};
use crate::venue::write_client_order_id;

/// Trades asked for per page of `/api/v5/trade/fills` (OKX's maximum).
const FILLS_PAGE: usize = 100;
/// Pages read at most per `fills_after` call (older pages are fetched only while every trade
/// on the page is still newer than the cursor).
const FILLS_MAX_PAGES: usize = 10;

/// OKX order-state queries over REST. See the [module docs](self).
pub struct OkxQueries {
    venue: VenueId,
    rest: OkxRest,
    markets: Vec<OkxMarket>,
    inst_type: &'static str,
    clock: fn() -> u64,
    scratch: JsonScratch,
    foreign: u64,
}

impl core::fmt::Debug for OkxQueries {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OkxQueries")
            .field("venue", &self.venue)
            .field("rest", &self.rest)
            .field("markets", &self.markets.len())
            .finish_non_exhaustive()
    }
}

/// What one envelope held: the venue's `code` (0 = success) and whether `data` was present.
fn envelope_code(root: V<'_, '_>) -> Result<i32, DecodeError> {
    let s = str_of(root, "code")?;
    s.parse::<i32>().map_err(|_| DecodeError::Invalid("code"))
}

fn decode_err(e: DecodeError) -> QueryError {
    QueryError::Decode(e.to_string())
}

fn okx_state(s: &str) -> Result<OrderStatus, DecodeError> {
    Ok(match s {
        "live" => OrderStatus::New,
        "partially_filled" => OrderStatus::PartiallyFilled,
        "filled" => OrderStatus::Filled,
        "canceled" | "mmp_canceled" => OrderStatus::Canceled,
        _ => return Err(DecodeError::Invalid("state")),
    })
}

impl OkxQueries {
    /// Queries for `markets` on `venue` (normally [`VenueId::OKX`]) through `rest`;
    /// `inst_type` is OKX's `instType` (`SPOT`); `clock` stamps the reports' receive time.
    pub fn new(
        venue: VenueId,
        rest: OkxRest,
        markets: Vec<OkxMarket>,
        inst_type: &'static str,
        clock: fn() -> u64,
    ) -> Self {
        Self {
            venue,
            rest,
            markets,
            inst_type,
            clock,
            scratch: JsonScratch::new(),
            foreign: 0,
        }
    }

    /// Orders and trades skipped because their client id is not ours.
    pub fn foreign(&self) -> u64 {
        self.foreign
    }

    fn market(&self, id: InstrumentId) -> Result<&OkxMarket, QueryError> {
        self.markets
            .iter()
            .find(|m| m.id == id)
            .ok_or(QueryError::UnknownInstrument(id))
    }

    /// GETs `path`, checks HTTP and envelope, and hands the `data` array's entries to `each`.
    /// A non-zero envelope code is returned as `Ok(Err(code))` so callers can give some codes
    /// a meaning (order unknown).
    fn get_data(
        &mut self,
        path: &str,
        mut each: impl FnMut(V<'_, '_>) -> Result<(), DecodeError>,
    ) -> Result<Result<usize, i32>, QueryError> {
        let resp = self.rest.query(path)?;
        let status = resp.status;
        let mut body = resp.body;
        let parsed = self.scratch.with_root(&mut body, |root| {
            let code = envelope_code(root)?;
            if code != 0 {
                return Ok(Err(code));
            }
            let data = field(root, "data")?
                .as_array()
                .ok_or(DecodeError::Invalid("data"))?;
            for d in data.iter() {
                each(d)?;
            }
            Ok(Ok(data.len()))
        });
        let ok_status = (200..300).contains(&status);
        match parsed {
            Ok(Err(50011 | 50061)) => Err(QueryError::RateLimited { retry_after_s: 0 }),
            // A business error code is meaningful whatever the HTTP status.
            Ok(Err(code)) => Ok(Err(code)),
            Ok(Ok(n)) if ok_status => Ok(Ok(n)),
            Ok(Ok(_)) => Err(QueryError::Http {
                status,
                venue_code: 0,
            }),
            Err(_) if !ok_status => Err(QueryError::Http {
                status,
                venue_code: 0,
            }),
            Err(e) => Err(decode_err(e)),
        }
    }

    fn status_report(
        venue: VenueId,
        inst: InstrumentId,
        recv_ns: u64,
        d: V<'_, '_>,
    ) -> Result<Option<ExecReport>, DecodeError> {
        let Some(cl) = parse_client_order_id(str_or_empty(d, "clOrdId")?.as_bytes()) else {
            return Ok(None);
        };
        let mut meta = Meta::new(venue, inst, recv_ns);
        if let Ok(t) = u64_str(d, "uTime") {
            meta.venue_ts_ns = ms_to_ns(i64::try_from(t).unwrap_or(0));
        }
        Ok(Some(ExecReport::Status(StatusReport::new(
            meta,
            cl,
            u64_str(d, "ordId")?,
            okx_state(str_of(d, "state")?)?,
            qty_of(d, "accFillSz")?,
        ))))
    }
}

impl VenueQueries for OkxQueries {
    fn venue(&self) -> VenueId {
        self.venue
    }

    fn open_orders(&mut self, out: &mut dyn ReportSink) -> Result<usize, QueryError> {
        let mut total = 0;
        for i in 0..self.markets.len() {
            let (inst, path) = {
                let m = &self.markets[i];
                (
                    m.id,
                    format!(
                        "/api/v5/trade/orders-pending?instType={}&instId={}",
                        self.inst_type, m.inst_id
                    ),
                )
            };
            let (venue, recv_ns) = (self.venue, (self.clock)());
            let mut reports = Vec::new();
            let mut foreign = 0;
            let r = self.get_data(&path, |d| {
                match Self::status_report(venue, inst, recv_ns, d)? {
                    Some(rep) => reports.push(rep),
                    None => foreign += 1,
                }
                Ok(())
            })?;
            self.foreign += foreign;
            if let Err(code) = r {
                return Err(QueryError::Http {
                    status: 200,
                    venue_code: code,
                });
            }
            total += reports.len();
            for rep in reports {
                out.report(rep);
            }
        }
        Ok(total)
    }

    fn order_status(
        &mut self,
        instrument: InstrumentId,
        id: ClientOrderId,
        out: &mut dyn ReportSink,
    ) -> Result<(), QueryError> {
        let inst_id = self.market(instrument)?.inst_id.clone();
        let mut cl = [0u8; crate::venue::CLIENT_ORDER_ID_MAX];
        let n = write_client_order_id(id, &mut cl);
        let cl = core::str::from_utf8(&cl[..n]).unwrap_or_default();
        let path = format!("/api/v5/trade/order?instId={inst_id}&clOrdId={cl}");
        let (venue, recv_ns) = (self.venue, (self.clock)());
        let mut reports = Vec::new();
        let r = self.get_data(&path, |d| {
            if let Some(rep) = Self::status_report(venue, instrument, recv_ns, d)? {
                reports.push(rep);
            }
            Ok(())
        })?;
        match r {
            Ok(_) if !reports.is_empty() => {
                for rep in reports {
                    out.report(rep);
                }
                Ok(())
            }
            // Found nothing, or "order does not exist" (51603 and kin).
            Ok(_) => {
                out.report(ExecReport::Reject(Reject::new(
                    Meta::new(venue, instrument, recv_ns),
                    id,
                    RejectReason::UnknownOrder,
                    0,
                )));
                Ok(())
            }
            Err(code) if map_okx_code(code) == RejectReason::UnknownOrder => {
                out.report(ExecReport::Reject(Reject::new(
                    Meta::new(venue, instrument, recv_ns),
                    id,
                    RejectReason::UnknownOrder,
                    code,
                )));
                Ok(())
            }
            Err(code) => Err(QueryError::Http {
                status: 200,
                venue_code: code,
            }),
        }
    }

    fn fills_after(
        &mut self,
        instrument: InstrumentId,
        after_trade_id: u64,
        out: &mut dyn ReportSink,
    ) -> Result<u64, QueryError> {
        let (inst_id, quote) = {
            let m = self.market(instrument)?;
            (m.inst_id.clone(), m.quote.clone())
        };
        let venue = self.venue;
        let mut highest = after_trade_id;
        let mut page_after: Option<u64> = None;
        let mut foreign = 0u64;
        for _ in 0..FILLS_MAX_PAGES {
            let mut path = format!(
                "/api/v5/trade/fills?instType={}&instId={inst_id}&limit={FILLS_PAGE}",
                self.inst_type
            );
            if let Some(bill) = page_after {
                path.push_str(&format!("&after={bill}"));
            }
            let recv_ns = (self.clock)();
            let mut fills = Vec::new();
            let mut oldest_bill = None::<u64>;
            let mut reached_cursor = false;
            let r = self.get_data(&path, |d| {
                let trade_id = u64_str(d, "tradeId")?;
                if let Ok(bill) = u64_str(d, "billId") {
                    oldest_bill = Some(oldest_bill.map_or(bill, |b: u64| b.min(bill)));
                }
                if trade_id <= after_trade_id {
                    reached_cursor = true;
                    return Ok(());
                }
                let Some(cl) = parse_client_order_id(str_or_empty(d, "clOrdId")?.as_bytes()) else {
                    foreign += 1;
                    return Ok(());
                };
                let side = match str_of(d, "side")? {
                    "buy" => Side::Buy,
                    "sell" => Side::Sell,
                    _ => return Err(DecodeError::Invalid("side")),
                };
                let liquidity = match str_of(d, "execType")? {
                    "T" => Liquidity::Taker,
                    "M" => Liquidity::Maker,
                    _ => return Err(DecodeError::Invalid("execType")),
                };
                let okx_fee = signed_px_of(d, "fee")?;
                let fee = if str_or_empty(d, "feeCcy")? == quote {
                    Px::ZERO
                        .checked_sub(okx_fee)
                        .ok_or(DecodeError::Invalid("fee"))?
                } else {
                    Px::ZERO
                };
                let mut meta = Meta::new(venue, instrument, recv_ns);
                let ts = u64_str(d, "fillTime").or_else(|_| u64_str(d, "ts"))?;
                meta.venue_ts_ns = ms_to_ns(i64::try_from(ts).unwrap_or(0));
                fills.push(Fill::new(
                    meta,
                    cl,
                    u64_str(d, "ordId")?,
                    trade_id,
                    side,
                    px_of(d, "fillPx")?,
                    qty_of(d, "fillSz")?,
                    fee,
                    liquidity,
                ));
                Ok(())
            })?;
            let n = match r {
                Ok(n) => n,
                Err(code) => {
                    return Err(QueryError::Http {
                        status: 200,
                        venue_code: code,
                    });
                }
            };
            // Oldest first, so the core books them in venue order.
            fills.sort_unstable_by_key(|f| f.trade_id);
            for f in fills {
                highest = highest.max(f.trade_id);
                out.report(ExecReport::Fill(f));
            }
            if reached_cursor || n < FILLS_PAGE || after_trade_id == 0 {
                break;
            }
            match oldest_bill {
                Some(b) => page_after = Some(b),
                None => break,
            }
        }
        self.foreign += foreign;
        Ok(highest)
    }
}

impl VenueBalances for OkxQueries {
    fn base_balance(&mut self, instrument: InstrumentId) -> Result<Qty, QueryError> {
        let base = {
            let m = self.market(instrument)?;
            m.inst_id
                .split_once('-')
                .map_or(m.inst_id.as_str(), |(b, _)| b)
                .to_owned()
        };
        let path = format!("/api/v5/account/balance?ccy={base}");
        let mut found = None;
        let r = self.get_data(&path, |d| {
            let details = field(d, "details")?
                .as_array()
                .ok_or(DecodeError::Invalid("details"))?;
            for x in details.iter() {
                if str_of(x, "ccy")? == base {
                    // `eq` is free + frozen; `cashBal` where `eq` is absent.
                    let q = qty_of(x, "eq").or_else(|_| qty_of(x, "cashBal"))?;
                    found = Some(q);
                }
            }
            Ok(())
        })?;
        match r {
            // An asset never held is not listed: a zero balance.
            Ok(_) => Ok(found.unwrap_or(Qty::ZERO)),
            Err(code) => Err(QueryError::Http {
                status: 200,
                venue_code: code,
            }),
        }
    }
}
