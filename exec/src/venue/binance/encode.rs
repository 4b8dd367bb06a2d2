//! Binance order requests written into caller-owned buffers (FORMATS.md §1.10, §1.12).
//!
//! * REST (`POST` / `DELETE /api/v3/order`): the query string is the signature payload, with
//!   non-ASCII percent-encoded; `&signature=<hex>` is appended after it. Parameters appear in the
//!   documented order, so a documented request comes out byte for byte.
//! * WebSocket API (`order.place` / `order.cancel`): the payload is every parameter except
//!   `signature`, sorted by name, `apiKey` included, values as raw UTF-8. The JSON `params`
//!   object is written in that same sorted order and each parameter is fed to the HMAC as it is
//!   written, so one pass produces both the JSON and its signature.
//!
//! Prices and quantities come from `Px`/`Qty` through their exact decimal writer (no `f64`).

use core::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tickwire_core::event::{CancelOrder, NewOrder, OrderType, Side, TimeInForce};
use tickwire_core::ids::ClientOrderId;

use super::sign::{BinanceSigner, finish_hex};
use crate::venue::{ByteWriter, CLIENT_ORDER_ID_MAX, EncodeError, check_json_safe};

/// REST path for placing (`POST`) and cancelling (`DELETE`) one order.
pub const ORDER_PATH: &str = "/api/v3/order";

/// Header carrying the API key on signed REST requests.
pub const API_KEY_HEADER: &str = "X-MBX-APIKEY";

/// How one instrument is written on Binance: its symbol and the decimals its prices and
/// quantities are padded to (Binance itself pads to 8; the shortest form, 0, is accepted too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BinanceSymbol<'a> {
    /// Venue symbol, e.g. `BTCUSDT`.
    pub name: &'a str,
    /// Minimum decimals written for prices.
    pub px_decimals: u32,
    /// Minimum decimals written for quantities.
    pub qty_decimals: u32,
}

/// The time fields of a signed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Request time in epoch milliseconds (from the caller's clock: the encoder reads none).
    pub timestamp_ms: u64,
    /// `recvWindow` in ms (Binance's default 5000 applies when `None`; at most 60000).
    pub recv_window_ms: Option<u32>,
}

/// Signs and encodes Binance order requests for one API key.
#[derive(Clone)]
pub struct BinanceEncoder {
    signer: BinanceSigner,
    api_key: Box<str>,
}

impl fmt::Debug for BinanceEncoder {
    /// Neither the key state nor the API key is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BinanceEncoder { api_key: ***, signer: *** }")
    }
}

/// The Binance wire values of a new order, checked once.
struct Resolved {
    side: &'static [u8],
    ty: &'static [u8],
    tif: Option<&'static [u8]>,
    with_price: bool,
}

fn resolve(o: &NewOrder) -> Result<Resolved, EncodeError> {
    let side: &'static [u8] = match o.side() {
        Some(Side::Buy) => b"BUY",
        Some(Side::Sell) => b"SELL",
        None => return Err(EncodeError::InvalidOrder("unknown side code")),
    };
    let tif = o
        .tif()
        .ok_or(EncodeError::InvalidOrder("unknown time-in-force code"))?;
    if o.flags & NewOrder::REDUCE_ONLY != 0 {
        return Err(EncodeError::InvalidOrder(
            "reduce-only is not available on Binance spot",
        ));
    }
    if !o.qty.is_positive() {
        return Err(EncodeError::InvalidOrder("quantity must be positive"));
    }
    let (ty, tif, with_price): (&'static [u8], _, _) = match o.order_type() {
        Some(OrderType::Market) => {
            if tif == TimeInForce::PostOnly {
                return Err(EncodeError::InvalidOrder(
                    "a market order cannot be post-only",
                ));
            }
            // Binance MARKET orders take no timeInForce and no price.
            (b"MARKET", None, false)
        }
        Some(OrderType::Limit) => {
            if !o.px.is_positive() {
                return Err(EncodeError::InvalidOrder("limit price must be positive"));
            }
            match tif {
                // Post-only is its own order type on Binance spot and takes no timeInForce.
                TimeInForce::PostOnly => (b"LIMIT_MAKER", None, true),
                TimeInForce::Gtc => (b"LIMIT", Some(&b"GTC"[..]), true),
                TimeInForce::Ioc => (b"LIMIT", Some(&b"IOC"[..]), true),
                TimeInForce::Fok => (b"LIMIT", Some(&b"FOK"[..]), true),
            }
        }
        None => return Err(EncodeError::InvalidOrder("unknown order type code")),
    };
    Ok(Resolved {
        side,
        ty,
        tif,
        with_price,
    })
}

/// Client order id text (empty when the id is none).
fn cl_id_text(id: ClientOrderId, tmp: &mut [u8; CLIENT_ORDER_ID_MAX]) -> &[u8] {
    if id.is_none() {
        return &[];
    }
    let n = crate::venue::write_client_order_id(id, tmp);
    &tmp[..n]
}

/// Writes `&name=value` (or `name=value` first) into a REST query.
#[inline]
fn kv(w: &mut ByteWriter<'_>, name: &[u8], value: &[u8]) -> Result<(), EncodeError> {
    if !w.is_empty() {
        w.byte(b'&')?;
    }
    w.put(name)?;
    w.byte(b'=')?;
    w.put(value)
}

/// Appends `&signature=<hex>` over everything written so far.
#[inline]
fn append_rest_signature(
    w: &mut ByteWriter<'_>,
    signer: &BinanceSigner,
) -> Result<usize, EncodeError> {
    let mut hex = [0u8; 64];
    signer.sign(w.written(), &mut hex);
    w.put(b"&signature=")?;
    w.put(&hex)?;
    Ok(w.len())
}

/// Streams WS-API params into the JSON `params` object and the HMAC payload at once.
struct WsParams<'w, 'b> {
    w: &'w mut ByteWriter<'b>,
    mac: Hmac<Sha256>,
    first: bool,
}

impl WsParams<'_, '_> {
    #[inline]
    fn sep(&mut self, name: &[u8]) -> Result<(), EncodeError> {
        if self.first {
            self.first = false;
        } else {
            self.w.byte(b',')?;
            self.mac.update(b"&");
        }
        self.w.byte(b'"')?;
        self.w.put(name)?;
        self.w.put(b"\":")?;
        self.mac.update(name);
        self.mac.update(b"=");
        Ok(())
    }

    /// A string parameter (already checked JSON-safe).
    #[inline]
    fn string(&mut self, name: &[u8], value: &[u8]) -> Result<(), EncodeError> {
        self.sep(name)?;
        self.w.byte(b'"')?;
        self.w.put(value)?;
        self.w.byte(b'"')?;
        self.mac.update(value);
        Ok(())
    }

    /// A numeric parameter, written bare in JSON.
    #[inline]
    fn number(&mut self, name: &[u8], value: u64) -> Result<(), EncodeError> {
        let mut tmp = [0u8; 20];
        let n = crate::venue::write_u64(value, &mut tmp);
        self.sep(name)?;
        self.w.put(&tmp[..n])?;
        self.mac.update(&tmp[..n]);
        Ok(())
    }

    /// Appends `,"signature":"<hex>"}}` and returns the total length.
    #[inline]
    fn finish(self) -> Result<usize, EncodeError> {
        let mut hex = [0u8; 64];
        finish_hex(self.mac, &mut hex);
        self.w.put(b",\"signature\":\"")?;
        self.w.put(&hex)?;
        self.w.put(b"\"}}")?;
        Ok(self.w.len())
    }
}

impl BinanceEncoder {
    /// An encoder for `api_key`, signing with `secret`. The key is checked once here so the
    /// hot path can write it verbatim.
    pub fn new(api_key: &str, secret: &[u8]) -> Result<Self, EncodeError> {
        check_json_safe("apiKey", api_key.as_bytes())?;
        Ok(Self {
            signer: BinanceSigner::new(secret),
            api_key: api_key.into(),
        })
    }

    /// The API key, for the `X-MBX-APIKEY` header.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The signer (for requests not covered here, and for the signature floor in benches).
    pub fn signer(&self) -> &BinanceSigner {
        &self.signer
    }

    /// Writes the signed query string for `POST /api/v3/order` into `out`:
    /// `symbol=..&side=..&type=..[&timeInForce=..]&quantity=..[&price=..]`
    /// `[&newClientOrderId=..][&recvWindow=..]&timestamp=..&signature=..`.
    /// Returns its length. A none client order id is left out (Binance then makes one up).
    pub fn rest_new_order(
        &self,
        order: &NewOrder,
        sym: &BinanceSymbol<'_>,
        stamp: Stamp,
        out: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let r = resolve(order)?;
        let mut w = ByteWriter::new(out);
        w.put(b"symbol=")?;
        w.percent_encoded(sym.name.as_bytes())?;
        kv(&mut w, b"side", r.side)?;
        kv(&mut w, b"type", r.ty)?;
        if let Some(tif) = r.tif {
            kv(&mut w, b"timeInForce", tif)?;
        }
        w.put(b"&quantity=")?;
        w.qty(order.qty, sym.qty_decimals)?;
        if r.with_price {
            w.put(b"&price=")?;
            w.px(order.px, sym.px_decimals)?;
        }
        let mut id = [0u8; CLIENT_ORDER_ID_MAX];
        let id = cl_id_text(order.cl_ord_id, &mut id);
        if !id.is_empty() {
            kv(&mut w, b"newClientOrderId", id)?;
        }
        write_stamp(&mut w, stamp)?;
        append_rest_signature(&mut w, &self.signer)
    }

    /// Writes the signed query string for `DELETE /api/v3/order`:
    /// `symbol=..&origClientOrderId=..[&recvWindow=..]&timestamp=..&signature=..`.
    pub fn rest_cancel_order(
        &self,
        cancel: &CancelOrder,
        sym: &BinanceSymbol<'_>,
        stamp: Stamp,
        out: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let mut id = [0u8; CLIENT_ORDER_ID_MAX];
        let id = cl_id_text(cancel.cl_ord_id, &mut id);
        if id.is_empty() {
            return Err(EncodeError::InvalidOrder("cancel needs a client order id"));
        }
        let mut w = ByteWriter::new(out);
        w.put(b"symbol=")?;
        w.percent_encoded(sym.name.as_bytes())?;
        kv(&mut w, b"origClientOrderId", id)?;
        write_stamp(&mut w, stamp)?;
        append_rest_signature(&mut w, &self.signer)
    }

    /// Writes a signed WS-API `order.place` request:
    /// `{"id":"<id>","method":"order.place","params":{<sorted params>,"signature":".."}}`.
    /// `id` is the caller's request id, echoed in the reply.
    pub fn ws_order_place(
        &self,
        id: &str,
        order: &NewOrder,
        sym: &BinanceSymbol<'_>,
        stamp: Stamp,
        out: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let r = resolve(order)?;
        check_json_safe("symbol", sym.name.as_bytes())?;
        let mut w = ByteWriter::new(out);
        let mut p = self.ws_start(&mut w, id, b"order.place")?;
        // Sorted by name (ASCII): apiKey, newClientOrderId, price, quantity, recvWindow, side,
        // symbol, timeInForce, timestamp, type.
        p.string(b"apiKey", self.api_key.as_bytes())?;
        let mut idt = [0u8; CLIENT_ORDER_ID_MAX];
        let idt = cl_id_text(order.cl_ord_id, &mut idt);
        if !idt.is_empty() {
            p.string(b"newClientOrderId", idt)?;
        }
        let mut num = [0u8; 32];
        if r.with_price {
            p.string(b"price", order.px.write_to(sym.px_decimals, &mut num))?;
        }
        p.string(b"quantity", order.qty.write_to(sym.qty_decimals, &mut num))?;
        if let Some(rw) = stamp.recv_window_ms {
            p.number(b"recvWindow", u64::from(rw))?;
        }
        p.string(b"side", r.side)?;
        p.string(b"symbol", sym.name.as_bytes())?;
        if let Some(tif) = r.tif {
            p.string(b"timeInForce", tif)?;
        }
        p.number(b"timestamp", stamp.timestamp_ms)?;
        p.string(b"type", r.ty)?;
        p.finish()
    }

    /// Writes a signed WS-API `order.cancel` request (params sorted: apiKey,
    /// origClientOrderId, recvWindow, symbol, timestamp).
    pub fn ws_order_cancel(
        &self,
        id: &str,
        cancel: &CancelOrder,
        sym: &BinanceSymbol<'_>,
        stamp: Stamp,
        out: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let mut idt = [0u8; CLIENT_ORDER_ID_MAX];
        let idt = cl_id_text(cancel.cl_ord_id, &mut idt);
        if idt.is_empty() {
            return Err(EncodeError::InvalidOrder("cancel needs a client order id"));
        }
        check_json_safe("symbol", sym.name.as_bytes())?;
        let mut w = ByteWriter::new(out);
        let mut p = self.ws_start(&mut w, id, b"order.cancel")?;
        p.string(b"apiKey", self.api_key.as_bytes())?;
        p.string(b"origClientOrderId", idt)?;
        if let Some(rw) = stamp.recv_window_ms {
            p.number(b"recvWindow", u64::from(rw))?;
        }
        p.string(b"symbol", sym.name.as_bytes())?;
        p.number(b"timestamp", stamp.timestamp_ms)?;
        p.finish()
    }

    /// Writes a signed WS-API request whose only parameters are the key and the time
    /// (`userDataStream.subscribe.signature`, `session.logon`-style methods): params sorted
    /// `apiKey, [recvWindow,] timestamp`, then `signature`.
    pub fn ws_signed_request(
        &self,
        id: &str,
        method: &str,
        stamp: Stamp,
        out: &mut [u8],
    ) -> Result<usize, EncodeError> {
        check_json_safe("method", method.as_bytes())?;
        let mut w = ByteWriter::new(out);
        let mut p = self.ws_start(&mut w, id, method.as_bytes())?;
        p.string(b"apiKey", self.api_key.as_bytes())?;
        if let Some(rw) = stamp.recv_window_ms {
            p.number(b"recvWindow", u64::from(rw))?;
        }
        p.number(b"timestamp", stamp.timestamp_ms)?;
        p.finish()
    }

    /// Writes the envelope up to the opening of `params`.
    fn ws_start<'w, 'b>(
        &self,
        w: &'w mut ByteWriter<'b>,
        id: &str,
        method: &[u8],
    ) -> Result<WsParams<'w, 'b>, EncodeError> {
        w.put(b"{\"id\":")?;
        w.json_str("id", id.as_bytes())?;
        w.put(b",\"method\":\"")?;
        w.put(method)?;
        w.put(b"\",\"params\":{")?;
        Ok(WsParams {
            w,
            mac: self.signer.start(),
            first: true,
        })
    }
}

/// `[&recvWindow=..]&timestamp=..`
#[inline]
fn write_stamp(w: &mut ByteWriter<'_>, stamp: Stamp) -> Result<(), EncodeError> {
    if let Some(rw) = stamp.recv_window_ms {
        w.put(b"&recvWindow=")?;
        w.u64(u64::from(rw))?;
    }
    w.put(b"&timestamp=")?;
    w.u64(stamp.timestamp_ms)
}
