//! [`BinanceQueries`]: the [`VenueQueries`] of Binance spot / Binance.US over signed REST
//! (`GET /api/v3/openOrders`, `GET /api/v3/order`, `GET /api/v3/myTrades`), plus the server
//! time used to correct the request clock.
//!
//! Blocking (one keep-alive [`HttpClient`]), so it runs on a helper thread or the
//! reconciliation poller, never in the exec loop. Replies are decoded with `serde_json`: these
//! are rare, off the hot path, and allocation there buys clarity.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tickwire_core::event::{
    ExecReport, Fill, Liquidity, Meta, OrderStatus, Reject, RejectReason, Side, StatusReport,
};
use tickwire_core::ids::{ClientOrderId, InstrumentId, VenueId};
use tickwire_core::num::{Px, Qty};
use tickwire_net::{HttpClient, HttpOptions, Response};

use super::clock::{VenueClock, local_ms};
use super::encode::API_KEY_HEADER;
use super::rate::{RateLimit, scan_rate_limits};
use super::reports::map_error_code;
use super::sign::BinanceSigner;
use crate::credentials::Credentials;
use crate::queries::{QueryError, VenueQueries};
use crate::session::ReportSink;
use crate::venue::parse_client_order_id;

/// One tradable instrument as Binance names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinanceInstrument {
    /// Our instrument id.
    pub id: InstrumentId,
    /// Venue symbol, e.g. `BTCUSDT`.
    pub symbol: String,
    /// Quote asset, e.g. `USDT` (fees charged in it are booked).
    pub quote: String,
}

/// Most order ids remembered for attributing trades to client order ids.
const ORDER_ID_CACHE: usize = 16_384;

/// Binance REST order-state queries for one account. See the [module docs](self).
pub struct BinanceQueries {
    venue: VenueId,
    http: HttpClient,
    signer: BinanceSigner,
    api_key: String,
    instruments: Vec<BinanceInstrument>,
    clock: VenueClock,
    mono: fn() -> u64,
    recv_window_ms: u32,
    /// Venue order id → our client id, learned from order queries (`myTrades` carries only the
    /// venue's order id).
    order_ids: HashMap<u64, ClientOrderId>,
    requests: u64,
}

impl core::fmt::Debug for BinanceQueries {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BinanceQueries")
            .field("venue", &self.venue)
            .field("http", &self.http)
            .field("requests", &self.requests)
            .finish_non_exhaustive()
    }
}

impl BinanceQueries {
    /// Queries of `venue` at `base_url` (`https://api.binance.com`), signing with `creds`.
    /// `clock` is shared with the session (the time sync here corrects its timestamps);
    /// `mono` stamps the reports.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        venue: VenueId,
        base_url: &str,
        tls: Arc<rustls::ClientConfig>,
        creds: &Credentials,
        instruments: Vec<BinanceInstrument>,
        clock: VenueClock,
        mono: fn() -> u64,
        recv_window_ms: u32,
    ) -> Result<Self, QueryError> {
        let http = HttpClient::new(base_url, tls, HttpOptions::default())
            .map_err(|e| QueryError::Transport(e.to_string()))?;
        Ok(Self {
            venue,
            http,
            signer: BinanceSigner::new(creds.api_secret.expose().as_bytes()),
            api_key: creds.api_key.expose().to_owned(),
            instruments,
            clock,
            mono,
            recv_window_ms,
            order_ids: HashMap::new(),
            requests: 0,
        })
    }

    /// HTTP requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Measures the offset to the venue's clock (`GET /api/v3/time`) into the shared clock.
    pub fn sync_time(&mut self) -> Result<i64, QueryError> {
        let sent = local_ms();
        let resp = self.send("/api/v3/time")?;
        let recv = local_ms();
        let v = json(&resp)?;
        let server = v
            .get("serverTime")
            .and_then(Value::as_u64)
            .ok_or_else(|| QueryError::Decode("serverTime missing".into()))?;
        self.clock.observe(sent, server, recv);
        Ok(self.clock.offset_ms())
    }

    /// Creates a user-data listenKey (`POST /api/v3/userDataStream`, API key only).
    pub fn create_listen_key(&mut self) -> Result<String, QueryError> {
        self.requests += 1;
        let resp = self
            .http
            .post(
                "/api/v3/userDataStream",
                &[(API_KEY_HEADER, self.api_key.as_str())],
                b"",
            )
            .map_err(|e| QueryError::Transport(e.to_string()))?;
        rate_limited(&resp)?;
        let v = json_ok(&resp)?;
        Ok(str_field(&v, "listenKey")?.to_owned())
    }

    /// Extends a listenKey's life by 60 minutes (`PUT /api/v3/userDataStream`).
    pub fn keep_alive_listen_key(&mut self, key: &str) -> Result<(), QueryError> {
        self.requests += 1;
        let resp = self
            .http
            .request(
                tickwire_net::Method::Put,
                &format!("/api/v3/userDataStream?listenKey={key}"),
                &[(API_KEY_HEADER, self.api_key.as_str())],
                Some(b""),
            )
            .map_err(|e| QueryError::Transport(e.to_string()))?;
        rate_limited(&resp)?;
        json_ok(&resp).map(|_| ())
    }

    /// The `REQUEST_WEIGHT` / `ORDERS` limits of `exchangeInfo.rateLimits` (queried for the
    /// first instrument, the cheap form).
    pub fn rate_limits(&mut self) -> Result<Vec<RateLimit>, QueryError> {
        let symbol = self
            .instruments
            .first()
            .map(|i| i.symbol.clone())
            .unwrap_or_default();
        let resp = self.send(&format!("/api/v3/exchangeInfo?symbol={symbol}"))?;
        if !resp.is_success() {
            return Err(QueryError::Http {
                status: resp.status,
                venue_code: error_body(&resp).0,
            });
        }
        let mut limits = Vec::new();
        scan_rate_limits(&resp.body, |e| limits.push(e.limit));
        Ok(limits)
    }

    /// Remembers that venue order `order_id` is our `id` (the session tells, from acks).
    pub fn learn_order_id(&mut self, order_id: u64, id: ClientOrderId) {
        if self.order_ids.len() >= ORDER_ID_CACHE {
            self.order_ids.clear();
        }
        self.order_ids.insert(order_id, id);
    }

    fn instrument(&self, id: InstrumentId) -> Result<&BinanceInstrument, QueryError> {
        self.instruments
            .iter()
            .find(|i| i.id == id)
            .ok_or(QueryError::UnknownInstrument(id))
    }

    fn by_symbol(&self, symbol: &str) -> Option<&BinanceInstrument> {
        self.instruments.iter().find(|i| i.symbol == symbol)
    }

    /// A plain GET.
    fn send(&mut self, path_and_query: &str) -> Result<Response, QueryError> {
        self.requests += 1;
        let resp = self
            .http
            .get(path_and_query, &[])
            .map_err(|e| QueryError::Transport(e.to_string()))?;
        rate_limited(&resp)?;
        Ok(resp)
    }

    /// A signed GET of `path` with `params` (already URL-safe: symbols, ids, numbers).
    fn signed_get(&mut self, path: &str, params: &str) -> Result<Response, QueryError> {
        let mut query = format!(
            "{params}&recvWindow={}&timestamp={}",
            self.recv_window_ms,
            self.clock.now_ms()
        );
        let mut sig = [0u8; 64];
        self.signer.sign(query.as_bytes(), &mut sig);
        query.push_str("&signature=");
        // Lower-case hex: ASCII by construction.
        query.push_str(std::str::from_utf8(&sig).unwrap_or_default());
        let url = format!("{path}?{query}");
        self.requests += 1;
        let resp = self
            .http
            .get(&url, &[(API_KEY_HEADER, self.api_key.as_str())])
            .map_err(|e| QueryError::Transport(e.to_string()))?;
        rate_limited(&resp)?;
        Ok(resp)
    }

    fn meta(&self, instrument: InstrumentId) -> Meta {
        Meta::new(self.venue, instrument, (self.mono)())
    }

    /// Emits the `Status` of one order object; returns its venue order id.
    fn emit_order(&mut self, o: &Value, out: &mut dyn ReportSink) -> Result<(), QueryError> {
        let symbol = str_field(o, "symbol")?;
        let Some(inst) = self.by_symbol(symbol).map(|i| i.id) else {
            // An order on a symbol we do not trade: not ours to report.
            return Ok(());
        };
        let order_id = o
            .get("orderId")
            .and_then(Value::as_u64)
            .ok_or_else(|| QueryError::Decode("orderId missing".into()))?;
        let cl =
            parse_client_order_id(str_field(o, "clientOrderId")?.as_bytes()).unwrap_or_default();
        if !cl.is_none() {
            self.learn_order_id(order_id, cl);
        }
        let status = order_status(str_field(o, "status")?)
            .ok_or_else(|| QueryError::Decode("unknown order status".into()))?;
        let filled = qty_field(o, "executedQty")?;
        let meta = self.meta(inst);
        out.report(ExecReport::Status(StatusReport::new(
            meta, cl, order_id, status, filled,
        )));
        Ok(())
    }

    /// The client order id of venue order `order_id`, querying the order if not remembered.
    fn client_id_of(&mut self, symbol: &str, order_id: u64) -> Result<ClientOrderId, QueryError> {
        if let Some(&id) = self.order_ids.get(&order_id) {
            return Ok(id);
        }
        let resp = self.signed_get(
            "/api/v3/order",
            &format!("symbol={symbol}&orderId={order_id}"),
        )?;
        let v = json_ok(&resp)?;
        let cl =
            parse_client_order_id(str_field(&v, "clientOrderId")?.as_bytes()).unwrap_or_default();
        self.learn_order_id(order_id, cl);
        Ok(cl)
    }
}

impl VenueQueries for BinanceQueries {
    fn venue(&self) -> VenueId {
        self.venue
    }

    fn open_orders(&mut self, out: &mut dyn ReportSink) -> Result<usize, QueryError> {
        let mut n = 0;
        for i in 0..self.instruments.len() {
            let symbol = self.instruments[i].symbol.clone();
            let resp = self.signed_get("/api/v3/openOrders", &format!("symbol={symbol}"))?;
            let v = json_ok(&resp)?;
            let orders = v
                .as_array()
                .ok_or_else(|| QueryError::Decode("openOrders is not an array".into()))?;
            for o in orders {
                self.emit_order(o, out)?;
                n += 1;
            }
        }
        Ok(n)
    }

    fn order_status(
        &mut self,
        instrument: InstrumentId,
        id: ClientOrderId,
        out: &mut dyn ReportSink,
    ) -> Result<(), QueryError> {
        let symbol = self.instrument(instrument)?.symbol.clone();
        let resp = self.signed_get(
            "/api/v3/order",
            &format!("symbol={symbol}&origClientOrderId={id}"),
        )?;
        if !resp.is_success() {
            let (code, _) = error_body(&resp);
            // -2013 "Order does not exist": a definite answer, not a failure.
            if code == -2013 || code == -2011 {
                out.report(ExecReport::Reject(Reject::new(
                    self.meta(instrument),
                    id,
                    RejectReason::UnknownOrder,
                    code,
                )));
                return Ok(());
            }
            return Err(QueryError::Http {
                status: resp.status,
                venue_code: code,
            });
        }
        let v = json(&resp)?;
        self.emit_order(&v, out)
    }

    fn fills_after(
        &mut self,
        instrument: InstrumentId,
        after_trade_id: u64,
        out: &mut dyn ReportSink,
    ) -> Result<u64, QueryError> {
        let inst = self.instrument(instrument)?.clone();
        let params = if after_trade_id == 0 {
            format!("symbol={}", inst.symbol)
        } else {
            format!("symbol={}&fromId={}", inst.symbol, after_trade_id + 1)
        };
        let resp = self.signed_get("/api/v3/myTrades", &params)?;
        let v = json_ok(&resp)?;
        let trades = v
            .as_array()
            .ok_or_else(|| QueryError::Decode("myTrades is not an array".into()))?;
        let mut highest = after_trade_id;
        for t in trades {
            let trade_id = u64_field(t, "id")?;
            if trade_id <= after_trade_id {
                continue;
            }
            let order_id = u64_field(t, "orderId")?;
            let cl = self.client_id_of(&inst.symbol, order_id)?;
            let side = if bool_field(t, "isBuyer")? {
                Side::Buy
            } else {
                Side::Sell
            };
            let liquidity = if bool_field(t, "isMaker")? {
                Liquidity::Maker
            } else {
                Liquidity::Taker
            };
            let commission = Px::parse_signed(str_field(t, "commission")?)
                .map_err(|_| QueryError::Decode("commission".into()))?;
            // Only fees in the quote asset are booked (as the stream decoder does).
            let fee = if str_field(t, "commissionAsset").ok() == Some(inst.quote.as_str()) {
                commission
            } else {
                Px::ZERO
            };
            let mut meta = self.meta(instrument);
            if let Some(ms) = t.get("time").and_then(Value::as_i64) {
                meta.venue_ts_ns = ms.saturating_mul(1_000_000);
            }
            out.report(ExecReport::Fill(Fill::new(
                meta,
                cl,
                order_id,
                trade_id,
                side,
                px_field(t, "price")?,
                qty_field(t, "qty")?,
                fee,
                liquidity,
            )));
            highest = highest.max(trade_id);
        }
        Ok(highest)
    }
}

/// A Binance order status → ours.
pub fn order_status(s: &str) -> Option<OrderStatus> {
    Some(match s {
        "NEW" | "PENDING_NEW" => OrderStatus::New,
        "PARTIALLY_FILLED" => OrderStatus::PartiallyFilled,
        "FILLED" => OrderStatus::Filled,
        "CANCELED" | "PENDING_CANCEL" => OrderStatus::Canceled,
        "REJECTED" => OrderStatus::Rejected,
        "EXPIRED" | "EXPIRED_IN_MATCH" => OrderStatus::Expired,
        _ => return None,
    })
}

/// 429/418 → `RateLimited` with the `Retry-After` seconds.
fn rate_limited(resp: &Response) -> Result<(), QueryError> {
    if resp.status == 429 || resp.status == 418 {
        let retry_after_s = resp
            .header("Retry-After")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        return Err(QueryError::RateLimited { retry_after_s });
    }
    Ok(())
}

/// `{"code":..,"msg":..}` of an error response (0 and `Other` when absent).
fn error_body(resp: &Response) -> (i32, RejectReason) {
    let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    let code = v
        .get("code")
        .and_then(Value::as_i64)
        .and_then(|c| i32::try_from(c).ok())
        .unwrap_or(0);
    let msg = v.get("msg").and_then(Value::as_str).unwrap_or("");
    (code, map_error_code(code, msg))
}

fn json(resp: &Response) -> Result<Value, QueryError> {
    serde_json::from_slice(&resp.body).map_err(|e| QueryError::Decode(e.to_string()))
}

/// The body of a 2xx response, or the HTTP error.
fn json_ok(resp: &Response) -> Result<Value, QueryError> {
    if !resp.is_success() {
        return Err(QueryError::Http {
            status: resp.status,
            venue_code: error_body(resp).0,
        });
    }
    json(resp)
}

fn str_field<'v>(v: &'v Value, key: &str) -> Result<&'v str, QueryError> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| QueryError::Decode(format!("{key} missing")))
}

fn u64_field(v: &Value, key: &str) -> Result<u64, QueryError> {
    v.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| QueryError::Decode(format!("{key} missing")))
}

fn bool_field(v: &Value, key: &str) -> Result<bool, QueryError> {
    v.get(key)
        .and_then(Value::as_bool)
        .ok_or_else(|| QueryError::Decode(format!("{key} missing")))
}

fn px_field(v: &Value, key: &str) -> Result<Px, QueryError> {
    Px::parse(str_field(v, key)?).map_err(|_| QueryError::Decode(format!("{key} invalid")))
}

fn qty_field(v: &Value, key: &str) -> Result<Qty, QueryError> {
    Qty::parse(str_field(v, key)?).map_err(|_| QueryError::Decode(format!("{key} invalid")))
}
