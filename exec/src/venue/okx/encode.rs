//! OKX v5 requests written into caller-owned buffers (FORMATS.md §2.5, §2.7).
//!
//! Orders over the private WS need no per-request signature (the connection is logged in), so
//! the hot path here is pure encoding; the login request and the REST fallback are signed with
//! [`OkxSigner`]. Prices and sizes use the shortest exact decimal (OKX's own form).

use core::fmt;

use tickwire_core::event::{AmendOrder, CancelOrder, NewOrder, OrderType, Side, TimeInForce};
use tickwire_core::ids::ClientOrderId;

use super::sign::OkxSigner;
use crate::venue::{ByteWriter, EncodeError, check_json_safe, write_u64};

/// How the instrument is named in a request. OKX's current docs require the integer
/// `instIdCode`; the older string `instId` is documented as deprecated from February 2026.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OkxInst<'a> {
    /// `"instId":"BTC-USDT"`.
    Id(&'a str),
    /// `"instIdCode":123456` (from the instruments endpoint).
    Code(u64),
}

/// Trade mode (`tdMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TdMode {
    /// Spot without margin (`cash`).
    Cash,
    /// Cross margin (`cross`).
    Cross,
    /// Isolated margin (`isolated`).
    Isolated,
}

impl TdMode {
    fn wire(self) -> &'static [u8] {
        match self {
            Self::Cash => b"cash",
            Self::Cross => b"cross",
            Self::Isolated => b"isolated",
        }
    }
}

/// One OKX instrument as orders address it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OkxInstrument<'a> {
    /// Instrument name or code.
    pub inst: OkxInst<'a>,
    /// Trade mode for new orders.
    pub td_mode: TdMode,
}

/// Encodes OKX requests for one API key; holds the signer and the login fields.
#[derive(Clone)]
pub struct OkxEncoder {
    signer: OkxSigner,
    api_key: Box<str>,
    passphrase: crate::credentials::Secret,
}

impl fmt::Debug for OkxEncoder {
    /// Neither the key state, the API key nor the passphrase is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OkxEncoder { api_key: ***, passphrase: ***, signer: *** }")
    }
}

/// Writes `"name":"value"` after a comma unless first.
#[inline]
fn field(
    w: &mut ByteWriter<'_>,
    first: bool,
    name: &[u8],
    value: &[u8],
) -> Result<(), EncodeError> {
    if !first {
        w.byte(b',')?;
    }
    w.byte(b'"')?;
    w.put(name)?;
    w.put(b"\":\"")?;
    w.put(value)?;
    w.byte(b'"')
}

/// Writes the instrument as the first field of an args object.
#[inline]
fn inst_field(w: &mut ByteWriter<'_>, inst: OkxInst<'_>) -> Result<(), EncodeError> {
    match inst {
        OkxInst::Id(id) => {
            w.put(b"\"instId\":")?;
            w.json_str("instId", id.as_bytes())
        }
        OkxInst::Code(code) => {
            w.put(b"\"instIdCode\":")?;
            w.u64(code)
        }
    }
}

#[inline]
fn cl_ord_id(w: &mut ByteWriter<'_>, id: ClientOrderId) -> Result<(), EncodeError> {
    w.put(b",\"clOrdId\":\"")?;
    w.client_order_id(id)?;
    w.byte(b'"')
}

/// `{"id":"<id>","op":"<op>","args":[`
#[inline]
fn envelope(w: &mut ByteWriter<'_>, id: &str, op: &[u8]) -> Result<(), EncodeError> {
    w.put(b"{\"id\":")?;
    w.json_str("id", id.as_bytes())?;
    w.put(b",\"op\":\"")?;
    w.put(op)?;
    w.put(b"\",\"args\":[{")
}

/// The order's args object body (without braces): instrument, tdMode, clOrdId, side,
/// ordType, [tgtCcy], [px], sz, [reduceOnly] — px before sz, as in OKX's own REST example.
fn order_args(
    w: &mut ByteWriter<'_>,
    order: &NewOrder,
    inst: &OkxInstrument<'_>,
) -> Result<(), EncodeError> {
    let side: &[u8] = match order.side() {
        Some(Side::Buy) => b"buy",
        Some(Side::Sell) => b"sell",
        None => return Err(EncodeError::InvalidOrder("unknown side code")),
    };
    let tif = order
        .tif()
        .ok_or(EncodeError::InvalidOrder("unknown time-in-force code"))?;
    if !order.qty.is_positive() {
        return Err(EncodeError::InvalidOrder("quantity must be positive"));
    }
    let (ord_type, with_px): (&[u8], bool) = match order.order_type() {
        Some(OrderType::Market) => {
            if tif == TimeInForce::PostOnly {
                return Err(EncodeError::InvalidOrder(
                    "a market order cannot be post-only",
                ));
            }
            (b"market", false)
        }
        Some(OrderType::Limit) => {
            if !order.px.is_positive() {
                return Err(EncodeError::InvalidOrder("limit price must be positive"));
            }
            // OKX folds the time in force into ordType.
            let t: &[u8] = match tif {
                TimeInForce::Gtc => b"limit",
                TimeInForce::PostOnly => b"post_only",
                TimeInForce::Ioc => b"ioc",
                TimeInForce::Fok => b"fok",
            };
            (t, true)
        }
        None => return Err(EncodeError::InvalidOrder("unknown order type code")),
    };
    if order.cl_ord_id.is_none() {
        return Err(EncodeError::InvalidOrder("order needs a client order id"));
    }
    inst_field(w, inst.inst)?;
    field(w, false, b"tdMode", inst.td_mode.wire())?;
    cl_ord_id(w, order.cl_ord_id)?;
    field(w, false, b"side", side)?;
    field(w, false, b"ordType", ord_type)?;
    if !with_px && inst.td_mode == TdMode::Cash {
        // A spot market order's sz is in the quote currency unless told otherwise; our
        // quantities are always in the base currency.
        field(w, false, b"tgtCcy", b"base_ccy")?;
    }
    if with_px {
        w.put(b",\"px\":\"")?;
        w.px(order.px, 0)?;
        w.byte(b'"')?;
    }
    w.put(b",\"sz\":\"")?;
    w.qty(order.qty, 0)?;
    w.byte(b'"')?;
    if order.flags & NewOrder::REDUCE_ONLY != 0 {
        w.put(b",\"reduceOnly\":true")?;
    }
    Ok(())
}

impl OkxEncoder {
    /// An encoder for one API key. The key is checked once here so the hot path can write it
    /// verbatim.
    pub fn new(
        api_key: &str,
        secret: &[u8],
        passphrase: crate::credentials::Secret,
    ) -> Result<Self, EncodeError> {
        check_json_safe("apiKey", api_key.as_bytes())?;
        check_json_safe("passphrase", passphrase.expose().as_bytes())?;
        Ok(Self {
            signer: OkxSigner::new(secret),
            api_key: api_key.into(),
            passphrase,
        })
    }

    /// The API key, for the `OK-ACCESS-KEY` header.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The passphrase, for the `OK-ACCESS-PASSPHRASE` header of REST requests (the one place
    /// it must appear; never log it).
    pub(crate) fn passphrase(&self) -> &str {
        self.passphrase.expose()
    }

    /// The signer (REST signatures, and the signature floor in benches).
    pub fn signer(&self) -> &OkxSigner {
        &self.signer
    }

    /// Writes the WS login request
    /// `{"op":"login","args":[{"apiKey":..,"passphrase":..,"timestamp":"<s>","sign":..}]}`.
    /// OKX rejects a timestamp more than 30 s old, so build it right before sending.
    pub fn login(&self, timestamp_s: u64, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut ts = [0u8; 20];
        let n = write_u64(timestamp_s, &mut ts);
        let mut sign = [0u8; 44];
        self.signer.sign_login_text(&ts[..n], &mut sign);
        let mut w = ByteWriter::new(out);
        w.put(b"{\"op\":\"login\",\"args\":[{")?;
        field(&mut w, true, b"apiKey", self.api_key.as_bytes())?;
        field(
            &mut w,
            false,
            b"passphrase",
            self.passphrase.expose().as_bytes(),
        )?;
        field(&mut w, false, b"timestamp", &ts[..n])?;
        field(&mut w, false, b"sign", &sign)?;
        w.put(b"}]}")?;
        Ok(w.len())
    }

    /// Writes a WS `order` request for `order`; `id` is echoed in the reply.
    pub fn ws_order(
        &self,
        id: &str,
        order: &NewOrder,
        inst: &OkxInstrument<'_>,
        out: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let mut w = ByteWriter::new(out);
        envelope(&mut w, id, b"order")?;
        order_args(&mut w, order, inst)?;
        w.put(b"}]}")?;
        Ok(w.len())
    }

    /// Writes a WS `cancel-order` request by client order id.
    pub fn ws_cancel_order(
        &self,
        id: &str,
        cancel: &CancelOrder,
        inst: &OkxInstrument<'_>,
        out: &mut [u8],
    ) -> Result<usize, EncodeError> {
        if cancel.cl_ord_id.is_none() {
            return Err(EncodeError::InvalidOrder("cancel needs a client order id"));
        }
        let mut w = ByteWriter::new(out);
        envelope(&mut w, id, b"cancel-order")?;
        inst_field(&mut w, inst.inst)?;
        cl_ord_id(&mut w, cancel.cl_ord_id)?;
        w.put(b"}]}")?;
        Ok(w.len())
    }

    /// Writes a WS `amend-order` request with both `newSz` and `newPx` (the engine's
    /// [`AmendOrder`] always carries the full new price and total quantity).
    pub fn ws_amend_order(
        &self,
        id: &str,
        amend: &AmendOrder,
        inst: &OkxInstrument<'_>,
        out: &mut [u8],
    ) -> Result<usize, EncodeError> {
        if amend.cl_ord_id.is_none() {
            return Err(EncodeError::InvalidOrder("amend needs a client order id"));
        }
        if !amend.new_qty.is_positive() || !amend.new_px.is_positive() {
            return Err(EncodeError::InvalidOrder(
                "amended price and size must be positive",
            ));
        }
        let mut w = ByteWriter::new(out);
        envelope(&mut w, id, b"amend-order")?;
        inst_field(&mut w, inst.inst)?;
        cl_ord_id(&mut w, amend.cl_ord_id)?;
        w.put(b",\"newSz\":\"")?;
        w.qty(amend.new_qty, 0)?;
        w.put(b"\",\"newPx\":\"")?;
        w.px(amend.new_px, 0)?;
        w.put(b"\"}]}")?;
        Ok(w.len())
    }

    /// Writes the REST `POST /api/v5/trade/order` body for `order` into `body` and its
    /// signature into `sign` (timestamp `iso_timestamp` from [`super::write_iso8601_ms`], sent
    /// as `OK-ACCESS-TIMESTAMP`). Returns the body length.
    pub fn rest_order(
        &self,
        order: &NewOrder,
        inst: &OkxInstrument<'_>,
        iso_timestamp: &[u8; 24],
        body: &mut [u8],
        sign: &mut [u8; 44],
    ) -> Result<usize, EncodeError> {
        let mut w = ByteWriter::new(body);
        w.byte(b'{')?;
        order_args(&mut w, order, inst)?;
        w.byte(b'}')?;
        self.signer
            .sign_rest(iso_timestamp, b"POST", REST_ORDER_PATH, w.written(), sign);
        Ok(w.len())
    }
}

/// REST path for placing one order.
pub const REST_ORDER_PATH: &[u8] = b"/api/v5/trade/order";
