//! Decoding of OKX v5 private-WebSocket execution messages into [`ExecReport`]s (no I/O):
//! `orders` channel pushes and replies to the `order` / `batch-orders` / `cancel-order` ops
//! ([`OkxReportDecoder::decode_private`]).
//!
//! Per `orders` entry: a fill record (non-empty `tradeId`, `fillSz` > 0) → `Fill`; then by
//! `state`: `live` → `Ack`, `canceled`/`mmp_canceled` → `CancelAck`, `filled`/
//! `partially_filled` *without* a fill record → `StatusReport` with the cumulative `accFillSz`
//! (so fill debt can be detected). Fees: OKX reports charged fees as negative; ours are
//! positive = paid, negative = rebate. A fee not in the instrument's quote currency is booked
//! as zero and kept raw in the [`DecodeSummary`].

use simd_json::prelude::*;
use tickwire_core::event::{
    Ack, CancelAck, ExecReport, Fill, Liquidity, Meta, OrderStatus, Reject, RejectReason, Side,
    StatusReport,
};
use tickwire_core::ids::VenueId;
use tickwire_core::num::Px;

use crate::venue::report::{
    DecodeError, DecodeSummary, JsonScratch, MessageKind, SymbolTable, V, field, ms_to_ns, our_id,
    px_of, qty_of, signed_px_of, str_of, str_or_empty, u64_str,
};

/// Decoder for OKX private-WS frames; owns reusable parse buffers.
#[derive(Debug)]
pub struct OkxReportDecoder {
    venue: VenueId,
    scratch: JsonScratch,
}

impl OkxReportDecoder {
    /// A decoder stamping reports with `venue` (normally [`VenueId::OKX`]).
    pub fn new(venue: VenueId) -> Self {
        Self {
            venue,
            scratch: JsonScratch::new(),
        }
    }

    /// Decodes one private-WS frame. `orders` pushes and order-op replies produce reports;
    /// other frames (login/subscribe events, other channels, amend replies) are ignored.
    /// Op replies carry no instrument, so their reports use [`Meta::ALL_INSTRUMENTS`] (the
    /// core takes the instrument from its own order). `frame` is parsed in place.
    pub fn decode_private(
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
            if let Some(arg) = root.get("arg") {
                if root.get("event").is_some() {
                    return Ok(DecodeSummary::default());
                }
                let channel = str_of(arg, "channel")?;
                if channel != "orders" {
                    return Ok(DecodeSummary::default());
                }
                return orders_push(root, venue, symbols, recv_ns, emit);
            }
            match root.get("op").and_then(|o| o.into_string()) {
                Some(op @ ("order" | "batch-orders" | "cancel-order" | "batch-cancel-orders")) => {
                    let cancel = op.contains("cancel");
                    op_reply(root, cancel, venue, recv_ns, emit)
                }
                Some(_) => Ok(DecodeSummary::default()),
                None if root.get("event").is_some() => Ok(DecodeSummary::default()),
                None => Err(DecodeError::Missing("op")),
            }
        })
    }
}

/// OKX `sCode` / `code` string → i32 (OKX codes are small positive integers).
fn code_of(v: V<'_, '_>, key: &'static str) -> Result<i32, DecodeError> {
    let s = str_of(v, key)?;
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecodeError::Invalid(key));
    }
    s.parse().map_err(|_| DecodeError::Invalid(key))
}

/// OKX error code → normalised reason (the common order-entry codes).
pub fn map_okx_code(code: i32) -> RejectReason {
    match code {
        51008 => RejectReason::InsufficientFunds,
        51400..=51402 | 51503 | 51603 => RejectReason::UnknownOrder,
        51000..=51099 => RejectReason::InvalidOrder,
        50011 | 50061 => RejectReason::RateLimited,
        50102 => RejectReason::Timestamp,
        50100..=50115 => RejectReason::Auth,
        50001 | 50013 => RejectReason::VenueUnavailable,
        _ => RejectReason::Other,
    }
}

fn op_reply(
    root: V<'_, '_>,
    cancel: bool,
    venue: VenueId,
    recv_ns: u64,
    emit: &mut impl FnMut(ExecReport),
) -> Result<DecodeSummary, DecodeError> {
    let mut summary = DecodeSummary {
        kind: MessageKind::Reply,
        ..DecodeSummary::default()
    };
    let envelope = code_of(root, "code")?;
    let data = field(root, "data")?
        .as_array()
        .ok_or(DecodeError::Invalid("data"))?;
    if data.is_empty() {
        if envelope != 0 {
            summary.envelope_error = Some(envelope);
        }
        return Ok(summary);
    }
    for d in data.iter() {
        let mut meta = Meta::new(venue, Meta::ALL_INSTRUMENTS, recv_ns);
        if let Ok(ts) = u64_str(d, "ts") {
            meta.venue_ts_ns = ms_to_ns(i64::try_from(ts).unwrap_or(0));
        }
        let cl = our_id(str_or_empty(d, "clOrdId")?.as_bytes(), &mut summary);
        let s_code = code_of(d, "sCode")?;
        let report = if s_code == 0 {
            if cancel {
                // Accepted cancel: the orders channel confirms it.
                continue;
            }
            ExecReport::Ack(Ack {
                meta,
                cl_ord_id: cl,
                venue_order_id: u64_str(d, "ordId")?,
            })
        } else {
            let r = Reject::new(meta, cl, map_okx_code(s_code), s_code);
            if cancel {
                ExecReport::CancelReject(r)
            } else {
                ExecReport::Reject(r)
            }
        };
        emit(report);
        summary.emitted += 1;
    }
    Ok(summary)
}

fn orders_push(
    root: V<'_, '_>,
    venue: VenueId,
    symbols: &SymbolTable,
    recv_ns: u64,
    emit: &mut impl FnMut(ExecReport),
) -> Result<DecodeSummary, DecodeError> {
    let mut summary = DecodeSummary {
        kind: MessageKind::Push,
        ..DecodeSummary::default()
    };
    let data = field(root, "data")?
        .as_array()
        .ok_or(DecodeError::Invalid("data"))?;
    for d in data.iter() {
        let inst_id = str_of(d, "instId")?;
        let (inst, assets) = symbols
            .assets(inst_id.as_bytes())
            .ok_or(DecodeError::UnknownSymbol)?;
        let mut meta = Meta::new(venue, inst, recv_ns);
        if let Ok(ts) = u64_str(d, "uTime") {
            meta.venue_ts_ns = ms_to_ns(i64::try_from(ts).unwrap_or(0));
        }
        let cl = our_id(str_or_empty(d, "clOrdId")?.as_bytes(), &mut summary);
        let ord_id = u64_str(d, "ordId")?;
        let state = str_of(d, "state")?;
        let trade_id = str_or_empty(d, "tradeId")?;
        let mut has_fill = false;
        if !trade_id.is_empty() {
            let fill_sz = qty_of(d, "fillSz")?;
            if fill_sz.is_positive() {
                has_fill = true;
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
                // OKX: negative = charged. Ours: positive = paid.
                let okx_fee = signed_px_of(d, "fillFee")?;
                let ours = Px::ZERO
                    .checked_sub(okx_fee)
                    .ok_or(DecodeError::Invalid("fillFee"))?;
                let ccy = str_or_empty(d, "fillFeeCcy")?;
                let (fee, unit) = assets.fee(ours, ccy.as_bytes(), &mut summary);
                let mut fill_meta = meta;
                if let Ok(ft) = u64_str(d, "fillTime") {
                    fill_meta.venue_ts_ns = ms_to_ns(i64::try_from(ft).unwrap_or(0));
                }
                emit(ExecReport::Fill(
                    Fill::new(
                        fill_meta,
                        cl,
                        ord_id,
                        u64_str(d, "tradeId")?,
                        side,
                        px_of(d, "fillPx")?,
                        fill_sz,
                        fee,
                        liquidity,
                    )
                    .with_fee_unit(unit),
                ));
                summary.emitted += 1;
            }
        }
        let report = match state {
            "live" => Some(ExecReport::Ack(Ack {
                meta,
                cl_ord_id: cl,
                venue_order_id: ord_id,
            })),
            "canceled" | "mmp_canceled" => Some(ExecReport::CancelAck(CancelAck {
                meta,
                cl_ord_id: cl,
            })),
            "filled" | "partially_filled" if !has_fill => {
                let status = if state == "filled" {
                    OrderStatus::Filled
                } else {
                    OrderStatus::PartiallyFilled
                };
                Some(ExecReport::Status(StatusReport::new(
                    meta,
                    cl,
                    ord_id,
                    status,
                    qty_of(d, "accFillSz")?,
                )))
            }
            "filled" | "partially_filled" => None,
            _ => return Err(DecodeError::Invalid("state")),
        };
        if let Some(r) = report {
            emit(r);
            summary.emitted += 1;
        }
    }
    Ok(summary)
}
