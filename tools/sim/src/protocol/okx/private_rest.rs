//! OKX private REST: signed trading and account endpoints (see [`super::private`]).

use std::time::Duration;

use serde_json::Value;

use crate::capture;
use crate::protocol::okx::private::{OpResult, envelope_code, rest_err};
use crate::venue::{Books, Market, PrivateSide, Venue};

/// One answer: HTTP status, body, and how long to hold it (slow-ack fault).
pub(crate) struct Answer {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn answer(status: u16, body: String) -> Option<Answer> {
    Some(Answer {
        status,
        body,
        delay: Duration::ZERO,
    })
}

/// Answers a private OKX request; `None` when `path` is not a private endpoint.
pub(crate) fn route(
    venue: &Venue,
    method: &str,
    path: &str,
    query: &str,
    header: &dyn Fn(&str) -> Option<String>,
    body: &str,
) -> Option<Answer> {
    if path == "/api/v5/public/instruments" {
        // Public, but only the private side knows the trading rules.
        let st = venue.lock();
        let p = st.private.as_ref()?.okx()?;
        let q = format!("?{query}");
        let param = |k: &str| capture::query_param(&q, k).map(str::to_owned);
        return answer(200, p.instruments(&param));
    }
    let post = match path {
        "/api/v5/trade/order" => method == "POST",
        "/api/v5/trade/batch-orders"
        | "/api/v5/trade/cancel-order"
        | "/api/v5/trade/cancel-batch-orders"
        | "/api/v5/trade/amend-order"
        | "/api/v5/trade/amend-batch-orders" => true,
        "/api/v5/trade/orders-pending" | "/api/v5/trade/fills" | "/api/v5/account/balance" => false,
        _ => return None,
    };
    if (post && method != "POST") || (!post && method != "GET") {
        return answer(405, rest_err("50000", "Method not allowed"));
    }
    let in_us = now_us();
    let now_ms = crate::now_ms();
    let target = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let mut guard = venue.lock();
    let st = &mut *guard;
    let (Some(p), Books::Okx(books), Market::Okx(m)) = (
        st.private.as_mut().and_then(PrivateSide::okx_mut),
        &st.books,
        &venue.market,
    ) else {
        return answer(401, rest_err("50111", "Invalid OK-ACCESS-KEY"));
    };
    let account = match p.rest_auth(header, method, &target, body, now_ms) {
        Ok(a) => a,
        Err((code, msg)) => return answer(401, rest_err(code, msg)),
    };
    let q = format!("?{query}");
    let param = |k: &str| capture::query_param(&q, k).map(str::to_owned);
    if !post {
        let body = match path {
            "/api/v5/trade/order" => p.query_order(account, &param),
            "/api/v5/trade/orders-pending" => p.pending(account, &param),
            "/api/v5/trade/fills" => p.fills(account, &param),
            _ => p.balance(account, &param, now_ms),
        };
        return answer(200, body);
    }
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return answer(400, rest_err("50002", "Json data format error"));
    };
    let batch = path.contains("batch");
    let args: Vec<Value> = match (batch, v) {
        (true, Value::Array(a)) if !a.is_empty() && a.len() <= 20 => a,
        (false, o @ Value::Object(_)) => vec![o],
        _ => return answer(400, rest_err("50002", "Json data format error")),
    };
    let new_order = matches!(path, "/api/v5/trade/order" | "/api/v5/trade/batch-orders");
    let faults = p.request_faults(new_order);
    if faults.rate_limit || (new_order && p.over_limit(account, now_ms)) {
        return Some(Answer {
            status: 429,
            body: rest_err(
                "50011",
                "Rate limit reached. Please refer to API documentation and throttle requests \
                 accordingly.",
            ),
            delay: faults.delay,
        });
    }
    let results: Vec<OpResult> = args
        .iter()
        .map(|a| {
            if path.contains("cancel") {
                p.cancel(account, a, m, books, now_ms)
            } else if path.contains("amend") {
                p.amend(account, a, m, books, now_ms)
            } else {
                p.place(account, a, &faults, m, books, now_ms)
            }
        })
        .collect();
    if let Some(status) = faults.http_error {
        let (code, msg) = if status == 503 {
            (
                "50001",
                "Service temporarily unavailable. Please try again later.",
            )
        } else {
            ("50026", "System error. Try again later.")
        };
        return Some(Answer {
            status,
            body: rest_err(code, msg),
            delay: faults.delay,
        });
    }
    let data: Vec<String> = results.iter().map(|r| r.json(now_ms)).collect();
    let code = envelope_code(&results);
    let msg = match code {
        "1" => "All operations failed",
        "2" => "Bulk operation partially succeeded.",
        _ => "",
    };
    Some(Answer {
        status: 200,
        body: format!(
            "{{\"code\":\"{code}\",\"msg\":\"{msg}\",\"data\":[{}],\"inTime\":\"{in_us}\",\"outTime\":\"{}\"}}",
            data.join(","),
            now_us()
        ),
        delay: faults.delay,
    })
}
