//! Decoding of Binance spot execution messages into [`ExecReport`]s (no I/O):
//!
//! * user-data `executionReport`, bare (listenKey stream) or wrapped by the WS API as
//!   `{"subscriptionId":..,"event":{..}}` ([`BinanceReportDecoder::decode_user_data`]);
//! * `POST /api/v3/order` responses (ACK / RESULT / FULL), error bodies and HTTP 5xx
//!   ([`BinanceReportDecoder::decode_rest_response`]);
//! * WS-API replies `{"id":..,"status":..,"result"|"error":..}`
//!   ([`BinanceReportDecoder::decode_ws_api_response`]).
//!
//! Client ids that are not ours (`tw<strategy>x<seq>`) are reported with the "none" id and
//! flagged in the [`DecodeSummary`]; fills on them still matter (unattributed position).

use simd_json::prelude::*;
use tickwire_core::event::{
    Ack, CancelAck, ExecReport, Fill, Liquidity, Meta, OrderStatus, Reject, RejectReason, Side,
    StatusReport, Unknown, UnknownCause,
};
use tickwire_core::ids::{ClientOrderId, InstrumentId, VenueId};

use crate::venue::report::{
    Assets, DecodeError, DecodeSummary, JsonScratch, MessageKind, SymbolTable, V, field, i64_of,
    ms_to_ns, our_id, px_of, qty_of, str_of, str_or_empty, u64_of,
};

/// Whether a request placed or cancelled an order (decides `Reject` vs `CancelReject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// New order.
    Place,
    /// Cancel.
    Cancel,
}

/// What the caller knows about the request a response answers: error bodies and 5xx carry
/// neither the client id nor the symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestCtx {
    /// The order the request concerned.
    pub cl_ord_id: ClientOrderId,
    /// Its instrument.
    pub instrument: InstrumentId,
    /// Place or cancel.
    pub kind: RequestKind,
}

/// Decoder for one Binance venue (spot or Binance.US); owns reusable parse buffers.
#[derive(Debug)]
pub struct BinanceReportDecoder {
    venue: VenueId,
    scratch: JsonScratch,
}

impl BinanceReportDecoder {
    /// A decoder stamping reports with `venue`.
    pub fn new(venue: VenueId) -> Self {
        Self {
            venue,
            scratch: JsonScratch::new(),
        }
    }

    /// Decodes a user-data frame (bare event or WS-API `{"subscriptionId":..,"event":..}`).
    /// Events other than `executionReport`, and `REPLACED`, are ignored. `frame` is parsed in
    /// place and left modified.
    pub fn decode_user_data(
        &mut self,
        frame: &mut [u8],
        symbols: &SymbolTable,
        recv_ns: u64,
        emit: &mut impl FnMut(ExecReport),
    ) -> Result<DecodeSummary, DecodeError> {
        let venue = self.venue;
        self.scratch.with_root(frame, |root| {
            if !root.is_object() {
                return Err(DecodeError::Invalid("root"));
            }
            let ev = match root.get("event") {
                Some(ev) if root.get("subscriptionId").is_some() => ev,
                _ => root,
            };
            if !ev.is_object() {
                return Err(DecodeError::Invalid("event"));
            }
            match ev.get("e").and_then(|e| e.into_string()) {
                Some("executionReport") => {}
                Some(_) => return Ok(DecodeSummary::default()),
                None => return Err(DecodeError::Missing("e")),
            }
            execution_report(ev, venue, symbols, recv_ns, emit)
        })
    }

    /// Decodes a `POST/DELETE /api/v3/order` HTTP response. 2xx: order response (ACK/RESULT/
    /// FULL). 5xx: [`ExecReport::Unknown`] (`ServerError`) whatever the body, since the
    /// execution status is unknown. Other statuses: a reject (`Reject` or `CancelReject` by
    /// `ctx.kind`) with the venue code and mapped reason; a body that is not a Binance error
    /// object still yields the reject (venue code 0), as the status alone decides.
    pub fn decode_rest_response(
        &mut self,
        status: u16,
        body: &mut [u8],
        ctx: RequestCtx,
        symbols: &SymbolTable,
        recv_ns: u64,
        emit: &mut impl FnMut(ExecReport),
    ) -> Result<DecodeSummary, DecodeError> {
        let venue = self.venue;
        let meta = Meta::new(venue, ctx.instrument, recv_ns);
        if status >= 500 {
            return Ok(emit_unknown(meta, ctx, emit));
        }
        if (200..300).contains(&status) {
            return self.scratch.with_root(body, |root| {
                order_response(root, venue, ctx, symbols, recv_ns, emit)
            });
        }
        let (code, reason) = self
            .scratch
            .with_root(body, error_object)
            .unwrap_or((0, status_reason(status)));
        Ok(emit_reject(meta, ctx, reason, code, emit))
    }

    /// Decodes a WS-API reply to `order.place` / `order.cancel`: `status` 2xx with `result`
    /// (same fields as the REST response), 5xx → `Unknown`, otherwise `error` → reject.
    pub fn decode_ws_api_response(
        &mut self,
        frame: &mut [u8],
        ctx: RequestCtx,
        symbols: &SymbolTable,
        recv_ns: u64,
        emit: &mut impl FnMut(ExecReport),
    ) -> Result<DecodeSummary, DecodeError> {
        let venue = self.venue;
        self.scratch.with_root(frame, |root| {
            let status = u64_of(root, "status")?;
            let meta = Meta::new(venue, ctx.instrument, recv_ns);
            if status >= 500 {
                return Ok(emit_unknown(meta, ctx, emit));
            }
            if (200..300).contains(&status) {
                return order_response(field(root, "result")?, venue, ctx, symbols, recv_ns, emit);
            }
            let (code, reason) = error_object(field(root, "error")?)?;
            Ok(emit_reject(meta, ctx, reason, code, emit))
        })
    }
}

fn emit_unknown(meta: Meta, ctx: RequestCtx, emit: &mut impl FnMut(ExecReport)) -> DecodeSummary {
    emit(ExecReport::Unknown(Unknown::new(
        meta,
        ctx.cl_ord_id,
        UnknownCause::ServerError,
    )));
    DecodeSummary {
        kind: MessageKind::Reply,
        emitted: 1,
        ..DecodeSummary::default()
    }
}

fn emit_reject(
    meta: Meta,
    ctx: RequestCtx,
    reason: RejectReason,
    code: i32,
    emit: &mut impl FnMut(ExecReport),
) -> DecodeSummary {
    let r = Reject::new(meta, ctx.cl_ord_id, reason, code);
    emit(match ctx.kind {
        RequestKind::Place => ExecReport::Reject(r),
        RequestKind::Cancel => ExecReport::CancelReject(r),
    });
    DecodeSummary {
        kind: MessageKind::Reply,
        emitted: 1,
        ..DecodeSummary::default()
    }
}

/// Reason when only the HTTP status is usable.
fn status_reason(status: u16) -> RejectReason {
    match status {
        418 | 429 => RejectReason::RateLimited,
        401 => RejectReason::Auth,
        _ => RejectReason::Other,
    }
}

/// `{"code":..,"msg":..}` → (code, reason).
fn error_object(v: V<'_, '_>) -> Result<(i32, RejectReason), DecodeError> {
    let code = i32::try_from(i64_of(v, "code")?).map_err(|_| DecodeError::Invalid("code"))?;
    let msg = str_or_empty(v, "msg")?;
    Ok((code, map_error_code(code, msg)))
}

/// Binance error code (and, for -2010, message) → normalised reason (FORMATS §1.9).
pub fn map_error_code(code: i32, msg: &str) -> RejectReason {
    match code {
        -1013 | -1111 | -1100 | -1102 => RejectReason::InvalidOrder,
        -2010 => {
            let m = msg.as_bytes();
            if contains_ci(m, b"insufficient balance") {
                RejectReason::InsufficientFunds
            } else if contains_ci(m, b"immediately match and take") {
                RejectReason::WouldTake
            } else if contains_ci(m, b"market is closed") {
                RejectReason::VenueUnavailable
            } else {
                RejectReason::Other
            }
        }
        -2011 | -2013 => RejectReason::UnknownOrder,
        -1021 => RejectReason::Timestamp,
        -1022 | -2014 | -2015 => RejectReason::Auth,
        -1003 => RejectReason::RateLimited,
        _ => RejectReason::Other,
    }
}

/// `executionReport` `r` (order reject reason) → normalised reason.
pub fn map_report_reason(r: &str) -> RejectReason {
    match r {
        "INSUFFICIENT_BALANCE" => RejectReason::InsufficientFunds,
        "UNKNOWN_ORDER" => RejectReason::UnknownOrder,
        "PRICE_QTY_EXCEED_HARD_LIMITS" => RejectReason::InvalidOrder,
        "MARKET_CLOSED" => RejectReason::VenueUnavailable,
        _ => RejectReason::Other,
    }
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn side_of(v: V<'_, '_>, key: &'static str) -> Result<Side, DecodeError> {
    match str_of(v, key)? {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        _ => Err(DecodeError::Invalid(key)),
    }
}

fn instrument<'s>(
    v: V<'_, '_>,
    key: &'static str,
    symbols: &'s SymbolTable,
) -> Result<(InstrumentId, Assets<'s>), DecodeError> {
    let s = str_of(v, key)?;
    symbols
        .assets(s.as_bytes())
        .ok_or(DecodeError::UnknownSymbol)
}

fn execution_report(
    ev: V<'_, '_>,
    venue: VenueId,
    symbols: &SymbolTable,
    recv_ns: u64,
    emit: &mut impl FnMut(ExecReport),
) -> Result<DecodeSummary, DecodeError> {
    let (inst, assets) = instrument(ev, "s", symbols)?;
    let mut meta = Meta::new(venue, inst, recv_ns);
    if let Some(e) = ev.get("E").and_then(|e| e.as_i64()) {
        meta.venue_ts_ns = ms_to_ns(e);
    }
    let mut summary = DecodeSummary {
        kind: MessageKind::Push,
        ..DecodeSummary::default()
    };
    let c = str_of(ev, "c")?;
    let orig = str_or_empty(ev, "C")?;
    // On cancels `C` is the cancelled order's id; an expiry (IOC remainder) has none.
    let cancel_id = if orig.is_empty() { c } else { orig };
    let report = match str_of(ev, "x")? {
        "NEW" => ExecReport::Ack(Ack {
            meta,
            cl_ord_id: our_id(c.as_bytes(), &mut summary),
            venue_order_id: u64_of(ev, "i")?,
        }),
        "TRADE" => {
            let commission = px_of(ev, "n")?;
            let asset = str_or_empty(ev, "N")?;
            let (fee, unit) = assets.fee(commission, asset.as_bytes(), &mut summary);
            let liquidity = match field(ev, "m")?.as_bool() {
                Some(true) => Liquidity::Maker,
                Some(false) => Liquidity::Taker,
                None => return Err(DecodeError::Invalid("m")),
            };
            ExecReport::Fill(
                Fill::new(
                    meta,
                    our_id(c.as_bytes(), &mut summary),
                    u64_of(ev, "i")?,
                    u64_of(ev, "t")?,
                    side_of(ev, "S")?,
                    px_of(ev, "L")?,
                    qty_of(ev, "l")?,
                    fee,
                    liquidity,
                )
                .with_fee_unit(unit),
            )
        }
        "CANCELED" | "EXPIRED" | "TRADE_PREVENTION" => ExecReport::CancelAck(CancelAck {
            meta,
            cl_ord_id: our_id(cancel_id.as_bytes(), &mut summary),
        }),
        "REJECTED" => ExecReport::Reject(Reject::new(
            meta,
            our_id(c.as_bytes(), &mut summary),
            map_report_reason(str_or_empty(ev, "r")?),
            0,
        )),
        // REPLACED and anything newer carry no state change we act on.
        _ => return Ok(DecodeSummary::default()),
    };
    emit(report);
    summary.emitted = 1;
    Ok(summary)
}

/// ACK / RESULT / FULL order response (REST body or WS-API `result`). A cancel response
/// (`DELETE /api/v3/order`, `status` CANCELED) yields a `CancelAck`.
fn order_response(
    v: V<'_, '_>,
    venue: VenueId,
    ctx: RequestCtx,
    symbols: &SymbolTable,
    recv_ns: u64,
    emit: &mut impl FnMut(ExecReport),
) -> Result<DecodeSummary, DecodeError> {
    if !v.is_object() {
        return Err(DecodeError::Invalid("result"));
    }
    let (inst, assets) = instrument(v, "symbol", symbols)?;
    let mut meta = Meta::new(venue, inst, recv_ns);
    if let Some(t) = v.get("transactTime").and_then(|t| t.as_i64()) {
        meta.venue_ts_ns = ms_to_ns(t);
    }
    let mut summary = DecodeSummary {
        kind: MessageKind::Reply,
        ..DecodeSummary::default()
    };
    let order_id = u64_of(v, "orderId")?;
    let status = str_or_empty(v, "status")?;
    if ctx.kind == RequestKind::Cancel {
        // Cancel responses put the cancelled order's id in origClientOrderId.
        let orig = str_or_empty(v, "origClientOrderId")?;
        let id = if orig.is_empty() {
            str_of(v, "clientOrderId")?
        } else {
            orig
        };
        let cl = our_id(id.as_bytes(), &mut summary);
        if status == "CANCELED" || status == "EXPIRED" {
            emit(ExecReport::CancelAck(CancelAck {
                meta,
                cl_ord_id: cl,
            }));
            summary.emitted = 1;
        }
        return Ok(summary);
    }
    let cl = our_id(str_of(v, "clientOrderId")?.as_bytes(), &mut summary);
    emit(ExecReport::Ack(Ack {
        meta,
        cl_ord_id: cl,
        venue_order_id: order_id,
    }));
    summary.emitted = 1;
    match v.get("fills") {
        Some(fills) => {
            let fills = fills.as_array().ok_or(DecodeError::Invalid("fills"))?;
            let side = side_of(v, "side")?;
            for f in fills.iter() {
                let commission = px_of(f, "commission")?;
                let asset = str_or_empty(f, "commissionAsset")?;
                let (fee, unit) = assets.fee(commission, asset.as_bytes(), &mut summary);
                // Fills returned with the placement matched on arrival: the order took.
                emit(ExecReport::Fill(
                    Fill::new(
                        meta,
                        cl,
                        order_id,
                        u64_of(f, "tradeId")?,
                        side,
                        px_of(f, "price")?,
                        qty_of(f, "qty")?,
                        fee,
                        Liquidity::Taker,
                    )
                    .with_fee_unit(unit),
                ));
                summary.emitted += 1;
            }
        }
        None if !status.is_empty() => {
            // RESULT: no fill records; report the cumulative quantity so that fill debt
            // (executed but not yet seen as fills) can be detected.
            let executed = qty_of(v, "executedQty")?;
            let st = match status {
                "NEW" | "PENDING_NEW" => None,
                "PARTIALLY_FILLED" => Some(OrderStatus::PartiallyFilled),
                "FILLED" => Some(OrderStatus::Filled),
                "CANCELED" | "PENDING_CANCEL" => Some(OrderStatus::Canceled),
                "REJECTED" => Some(OrderStatus::Rejected),
                "EXPIRED" | "EXPIRED_IN_MATCH" => Some(OrderStatus::Expired),
                _ => None,
            };
            if let Some(st) = st.filter(|_| executed.is_positive()) {
                emit(ExecReport::Status(StatusReport::new(
                    meta, cl, order_id, st, executed,
                )));
                summary.emitted += 1;
            }
        }
        None => {}
    }
    Ok(summary)
}
