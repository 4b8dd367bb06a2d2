//! Signed OKX v5 REST requests (FORMATS.md §2.5): the `OK-ACCESS-*` headers over a blocking
//! keep-alive [`HttpClient`], and the `{"code":..,"msg":..,"data":[..]}` envelope. Used off the
//! hot path only: by [`super::OkxQueries`] (the poller's and the session's resolver thread) and
//! by the session's REST fallback thread.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::ClientConfig;
use tickwire_core::ids::InstrumentId;
use tickwire_net::NetError;
use tickwire_net::http::{HttpClient, HttpOptions, Method, Response};

use super::encode::{OkxEncoder, OkxInst, OkxInstrument, TdMode};
use super::sign::write_iso8601_ms;
use crate::queries::QueryError;
use crate::venue::SymbolTable;

/// One OKX instrument as the order-entry and query code addresses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OkxMarket {
    /// Our instrument id.
    pub id: InstrumentId,
    /// OKX `instId` (`BTC-USDT`).
    pub inst_id: String,
    /// Quote currency (`USDT`): fees charged in it are booked, others kept raw.
    pub quote: String,
    /// Trade mode of new orders.
    pub td_mode: TdMode,
    /// OKX `instIdCode`, when known (preferred by the current WS order API).
    pub inst_code: Option<u64>,
}

impl OkxMarket {
    /// How orders address it.
    pub fn instrument(&self) -> OkxInstrument<'_> {
        OkxInstrument {
            inst: match self.inst_code {
                Some(code) => OkxInst::Code(code),
                None => OkxInst::Id(&self.inst_id),
            },
            td_mode: self.td_mode,
        }
    }
}

/// The symbol table of `markets` for the report decoders.
pub fn symbol_table(markets: &[OkxMarket]) -> SymbolTable {
    let mut t = SymbolTable::new();
    for m in markets {
        t.insert(&m.inst_id, &m.quote, m.id);
    }
    t
}

/// A signed REST client for one OKX account.
pub struct OkxRest {
    http: HttpClient,
    encoder: OkxEncoder,
}

impl core::fmt::Debug for OkxRest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OkxRest")
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

/// Wall-clock milliseconds (OKX checks request timestamps against its own clock).
pub(crate) fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl OkxRest {
    /// A client of `base_url` (`https://www.okx.com`) signing with `encoder`'s key.
    pub fn new(
        base_url: &str,
        tls: Arc<ClientConfig>,
        options: HttpOptions,
        encoder: OkxEncoder,
    ) -> Result<Self, NetError> {
        Ok(Self {
            http: HttpClient::new(base_url, tls, options)?,
            encoder,
        })
    }

    /// Sends one signed request. `path_and_query` is signed exactly as sent.
    pub fn send(
        &mut self,
        method: Method,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<Response, NetError> {
        let mut ts = [0u8; 24];
        // Before the year 10000 this cannot fail; if it did, the venue rejects the timestamp.
        let _ = write_iso8601_ms(wall_ms(), &mut ts);
        let mut sign = [0u8; 44];
        self.encoder.signer().sign_rest(
            &ts,
            method.as_str().as_bytes(),
            path_and_query.as_bytes(),
            body,
            &mut sign,
        );
        let ts = core::str::from_utf8(&ts).unwrap_or_default();
        let sign = core::str::from_utf8(&sign).unwrap_or_default();
        let headers = [
            ("OK-ACCESS-KEY", self.encoder.api_key()),
            ("OK-ACCESS-SIGN", sign),
            ("OK-ACCESS-TIMESTAMP", ts),
            ("OK-ACCESS-PASSPHRASE", self.encoder.passphrase()),
            ("Content-Type", "application/json"),
        ];
        let body = (method != Method::Get).then_some(body);
        self.http.request(method, path_and_query, &headers, body)
    }

    /// A signed GET, with transport failures and refusals as [`QueryError`]s.
    pub fn query(&mut self, path_and_query: &str) -> Result<Response, QueryError> {
        let resp = self
            .send(Method::Get, path_and_query, b"")
            .map_err(|e| QueryError::Transport(e.to_string()))?;
        if resp.status == 429 {
            let retry_after_s = resp
                .header("Retry-After")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            return Err(QueryError::RateLimited { retry_after_s });
        }
        Ok(resp)
    }

    /// The encoder (order bodies for the REST fallback).
    pub fn encoder(&self) -> &OkxEncoder {
        &self.encoder
    }
}
