//! Local rate-limit budgets for Binance order entry, so a request the venue would answer with
//! HTTP 429 (and, repeated, a 418 IP ban) is refused here instead, with
//! [`RejectReason::RateLimited`](tickwire_core::event::RejectReason::RateLimited).
//!
//! Binance counts `REQUEST_WEIGHT` per IP and `ORDERS` per account in fixed windows aligned to
//! the interval (a minute window resets on the minute of the server clock). The limits come
//! from `exchangeInfo.rateLimits` (or config); the venue's own view of the usage arrives with
//! every response — REST headers `X-MBX-USED-WEIGHT-1M`, `X-MBX-ORDER-COUNT-10S`/`-1D`, WS-API
//! `rateLimits` arrays — and always wins over the local count when it is higher (other
//! processes on the same IP or account spend the same budget). A 429/418 blocks everything
//! until its `Retry-After` has passed.
//!
//! Times are epoch milliseconds on the venue's clock (local clock plus the measured offset),
//! because that is what the windows align to. Nothing here allocates after construction.

use core::fmt;

use crate::venue::scan::{digits, find};

/// Which Binance counter a limit applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    /// `REQUEST_WEIGHT`: weight of every request, per IP.
    RequestWeight,
    /// `ORDERS`: orders placed, per account.
    Orders,
}

/// One limit: at most `limit` units per `interval_ms` window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Counter.
    pub kind: LimitKind,
    /// Window length in ms (`intervalNum` × `interval`).
    pub interval_ms: u64,
    /// Units allowed per window.
    pub limit: u32,
}

impl RateLimit {
    /// Binance spot's published defaults: 6000 weight per minute, 50 orders per 10 s,
    /// 160 000 orders per day.
    pub const BINANCE_SPOT: [RateLimit; 3] = [
        RateLimit {
            kind: LimitKind::RequestWeight,
            interval_ms: 60_000,
            limit: 6000,
        },
        RateLimit {
            kind: LimitKind::Orders,
            interval_ms: 10_000,
            limit: 50,
        },
        RateLimit {
            kind: LimitKind::Orders,
            interval_ms: 86_400_000,
            limit: 160_000,
        },
    ];
}

/// One entry of a `rateLimits` array (exchangeInfo: without `count`; WS-API replies: with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitEntry {
    /// The limit.
    pub limit: RateLimit,
    /// Units used in the current window, when the venue said.
    pub count: Option<u32>,
}

/// Why the budget refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The request would exceed a window's limit (minus the headroom).
    Exhausted {
        /// Counter.
        kind: LimitKind,
        /// Window length.
        interval_ms: u64,
    },
    /// The venue said 429/418: nothing may be sent before `until_ms`.
    BackingOff {
        /// Epoch ms (venue clock) when requests may resume.
        until_ms: u64,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exhausted { kind, interval_ms } => {
                write!(
                    f,
                    "{kind:?} budget of the {interval_ms} ms window exhausted"
                )
            }
            Self::BackingOff { until_ms } => {
                write!(f, "rate limited by the venue until {until_ms}")
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Window {
    limit: RateLimit,
    /// Usable units: `limit` minus the headroom.
    usable: u32,
    /// Start of the current window (epoch ms, aligned to the interval).
    start_ms: u64,
    used: u32,
}

impl Window {
    fn roll(&mut self, now_ms: u64) {
        let start = now_ms - now_ms % self.limit.interval_ms.max(1);
        if start != self.start_ms {
            self.start_ms = start;
            self.used = 0;
        }
    }
}

/// Most windows tracked (Binance publishes three for spot order entry).
pub const MAX_WINDOWS: usize = 8;

/// The budgets of one venue connection set. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct RateBudget {
    windows: [Option<Window>; MAX_WINDOWS],
    headroom_pct: u32,
    blocked_until_ms: u64,
    refused: u64,
}

impl RateBudget {
    /// Budgets for `limits` (at most [`MAX_WINDOWS`]; extra ones are ignored), keeping
    /// `headroom_pct` percent of each limit unused as a safety margin for requests the local
    /// count cannot see (0–90).
    pub fn new(limits: &[RateLimit], headroom_pct: u32) -> Self {
        let headroom_pct = headroom_pct.min(90);
        let mut windows = [None; MAX_WINDOWS];
        for (slot, l) in windows.iter_mut().zip(limits) {
            let usable = (u64::from(l.limit) * u64::from(100 - headroom_pct) / 100) as u32;
            *slot = Some(Window {
                limit: *l,
                usable: usable.max(1),
                start_ms: 0,
                used: 0,
            });
        }
        Self {
            windows,
            headroom_pct,
            blocked_until_ms: 0,
            refused: 0,
        }
    }

    /// Replaces the limits (e.g. with `exchangeInfo.rateLimits` once fetched), keeping the
    /// headroom and any venue-imposed back-off; usage restarts from the venue's next report.
    pub fn set_limits(&mut self, limits: &[RateLimit]) {
        let fresh = Self::new(limits, self.headroom_pct);
        self.windows = fresh.windows;
    }

    /// The limits tracked.
    pub fn limits(&self) -> impl Iterator<Item = RateLimit> + '_ {
        self.windows.iter().flatten().map(|w| w.limit)
    }

    /// The headroom percentage.
    pub fn headroom_pct(&self) -> u32 {
        self.headroom_pct
    }

    /// Requests refused so far.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Takes `weight` request weight and `orders` order units at `now_ms`, or refuses without
    /// taking anything.
    pub fn try_acquire(&mut self, weight: u32, orders: u32, now_ms: u64) -> Result<(), Refusal> {
        if now_ms < self.blocked_until_ms {
            self.refused += 1;
            return Err(Refusal::BackingOff {
                until_ms: self.blocked_until_ms,
            });
        }
        for w in self.windows.iter_mut().flatten() {
            w.roll(now_ms);
            let cost = match w.limit.kind {
                LimitKind::RequestWeight => weight,
                LimitKind::Orders => orders,
            };
            if cost > 0 && w.used.saturating_add(cost) > w.usable {
                self.refused += 1;
                return Err(Refusal::Exhausted {
                    kind: w.limit.kind,
                    interval_ms: w.limit.interval_ms,
                });
            }
        }
        for w in self.windows.iter_mut().flatten() {
            w.used = w.used.saturating_add(match w.limit.kind {
                LimitKind::RequestWeight => weight,
                LimitKind::Orders => orders,
            });
        }
        Ok(())
    }

    /// The venue reports `count` units used in the current `kind`/`interval_ms` window: the
    /// local count rises to it (never falls: requests still in flight are not in it yet).
    pub fn observe_used(&mut self, kind: LimitKind, interval_ms: u64, count: u32, now_ms: u64) {
        for w in self.windows.iter_mut().flatten() {
            if w.limit.kind == kind && w.limit.interval_ms == interval_ms {
                w.roll(now_ms);
                w.used = w.used.max(count);
            }
        }
    }

    /// Applies one response header if it is a usage header (`X-MBX-USED-WEIGHT-<n><unit>`,
    /// `X-MBX-ORDER-COUNT-<n><unit>`, unit `S`/`M`/`H`/`D`); returns whether it was one.
    pub fn observe_header(&mut self, name: &str, value: &str, now_ms: u64) -> bool {
        match parse_usage_header(name, value) {
            Some((kind, interval_ms, count)) => {
                self.observe_used(kind, interval_ms, count, now_ms);
                true
            }
            None => false,
        }
    }

    /// Applies every `count` of a WS-API reply's `rateLimits` array (the frame is only read).
    /// Returns how many entries were applied.
    pub fn observe_ws_rate_limits(&mut self, frame: &[u8], now_ms: u64) -> usize {
        let mut n = 0;
        scan_rate_limits(frame, |e| {
            if let Some(c) = e.count {
                self.observe_used(e.limit.kind, e.limit.interval_ms, c, now_ms);
                n += 1;
            }
        });
        n
    }

    /// The venue answered 429 (or 418, an IP ban) at `now_ms` with `Retry-After: retry_after_s`
    /// (`None` when absent: then `default_s`). Nothing is sent before that has passed.
    pub fn on_rate_limited(&mut self, retry_after_s: Option<u64>, default_s: u64, now_ms: u64) {
        let wait_ms = retry_after_s
            .unwrap_or(default_s)
            .max(1)
            .saturating_mul(1000);
        self.blocked_until_ms = self.blocked_until_ms.max(now_ms.saturating_add(wait_ms));
    }

    /// Epoch ms before which everything is refused (0 when not backing off).
    pub fn blocked_until_ms(&self) -> u64 {
        self.blocked_until_ms
    }

    /// Units used in the current window of `kind`/`interval_ms`, if tracked.
    pub fn used(&self, kind: LimitKind, interval_ms: u64) -> Option<u32> {
        self.windows
            .iter()
            .flatten()
            .find(|w| w.limit.kind == kind && w.limit.interval_ms == interval_ms)
            .map(|w| w.used)
    }
}

/// A usage header (`X-MBX-USED-WEIGHT-1M: 12`, `X-MBX-ORDER-COUNT-10S: 3`) as
/// (counter, window ms, count); `None` for any other header or a malformed one.
pub fn parse_usage_header(name: &str, value: &str) -> Option<(LimitKind, u64, u32)> {
    let starts = |p: &str| {
        name.len() > p.len() && name.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
    };
    let (kind, suffix) = if starts("X-MBX-USED-WEIGHT-") {
        (
            LimitKind::RequestWeight,
            &name["X-MBX-USED-WEIGHT-".len()..],
        )
    } else if starts("X-MBX-ORDER-COUNT-") {
        (LimitKind::Orders, &name["X-MBX-ORDER-COUNT-".len()..])
    } else {
        return None;
    };
    let interval_ms = parse_interval_suffix(suffix)?;
    let count = value.trim().parse::<u32>().ok()?;
    Some((kind, interval_ms, count))
}

/// `1M`, `10S`, `1D`, `1H` → ms.
fn parse_interval_suffix(s: &str) -> Option<u64> {
    let (&unit, num) = s.as_bytes().split_last()?;
    let n: u64 = std::str::from_utf8(num).ok()?.parse().ok()?;
    n.checked_mul(unit_ms(unit.to_ascii_uppercase())?)
}

fn unit_ms(u: u8) -> Option<u64> {
    match u {
        b'S' => Some(1000),
        b'M' => Some(60_000),
        b'H' => Some(3_600_000),
        b'D' => Some(86_400_000),
        _ => None,
    }
}

fn interval_ms(name: &[u8]) -> Option<u64> {
    match name {
        b"SECOND" => Some(1000),
        b"MINUTE" => Some(60_000),
        b"HOUR" => Some(3_600_000),
        b"DAY" => Some(86_400_000),
        _ => None,
    }
}

/// Calls `f` for every `REQUEST_WEIGHT` / `ORDERS` entry of the first `"rateLimits":[..]` array
/// in `json` (exchangeInfo or a WS-API reply). A byte scan, not a JSON parse: the entries are
/// flat objects of known keys, and scanning leaves the frame intact for the decoder that
/// parses it in place. Malformed entries are skipped.
pub fn scan_rate_limits(json: &[u8], mut f: impl FnMut(RateLimitEntry)) {
    let key = b"\"rateLimits\"";
    let Some(at) = find(json, key) else {
        return;
    };
    let mut rest = &json[at + key.len()..];
    // Skip to '[' (allowing whitespace and the colon).
    let Some(open) = rest.iter().position(|&b| b == b'[') else {
        return;
    };
    rest = &rest[open + 1..];
    loop {
        let Some(start) = rest.iter().position(|&b| b == b'{' || b == b']') else {
            return;
        };
        if rest[start] == b']' {
            return;
        }
        let Some(len) = rest[start..].iter().position(|&b| b == b'}') else {
            return;
        };
        let obj = &rest[start..start + len];
        if let Some(e) = parse_entry(obj) {
            f(e);
        }
        rest = &rest[start + len + 1..];
    }
}

fn parse_entry(obj: &[u8]) -> Option<RateLimitEntry> {
    let kind = match str_value(obj, b"\"rateLimitType\"")? {
        b"REQUEST_WEIGHT" => LimitKind::RequestWeight,
        b"ORDERS" => LimitKind::Orders,
        _ => return None,
    };
    let unit = interval_ms(str_value(obj, b"\"interval\"")?)?;
    let num = num_value(obj, b"\"intervalNum\"")?;
    let limit = u32::try_from(num_value(obj, b"\"limit\"")?).ok()?;
    let count = num_value(obj, b"\"count\"").and_then(|c| u32::try_from(c).ok());
    Some(RateLimitEntry {
        limit: RateLimit {
            kind,
            interval_ms: unit.checked_mul(num)?,
            limit,
        },
        count,
    })
}

/// The bytes after `key` `:` up to the first non-space: the value's start.
fn value_start<'a>(obj: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let at = find(obj, key)?;
    let rest = &obj[at + key.len()..];
    let colon = rest.iter().position(|&b| !b.is_ascii_whitespace())?;
    if rest[colon] != b':' {
        return None;
    }
    let rest = &rest[colon + 1..];
    let v = rest.iter().position(|&b| !b.is_ascii_whitespace())?;
    Some(&rest[v..])
}

fn str_value<'a>(obj: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let v = value_start(obj, key)?.strip_prefix(b"\"")?;
    let end = v.iter().position(|&b| b == b'"')?;
    Some(&v[..end])
}

fn num_value(obj: &[u8], key: &[u8]) -> Option<u64> {
    digits(value_start(obj, key)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;

    #[test]
    fn refuses_locally_before_the_venue_would() {
        let mut b = RateBudget::new(&RateLimit::BINANCE_SPOT, 10);
        let t = 1_700_000_000_000; // a multiple of 10 s: a window start
        // 50 orders per 10 s minus 10 % headroom: 45 go, the 46th is refused.
        for i in 0..45 {
            assert_eq!(b.try_acquire(1, 1, t + i), Ok(()), "order {i}");
        }
        assert_eq!(
            b.try_acquire(1, 1, t + 45),
            Err(Refusal::Exhausted {
                kind: LimitKind::Orders,
                interval_ms: 10_000
            })
        );
        assert_eq!(b.refused(), 1);
        // A refused request took nothing.
        assert_eq!(b.used(LimitKind::RequestWeight, MIN), Some(45));
        // A cancel spends weight only, so it still goes.
        assert_eq!(b.try_acquire(1, 0, t + 46), Ok(()));
        // The next 10 s window starts empty; the daily window keeps counting.
        assert_eq!(b.try_acquire(1, 1, t + 10_000), Ok(()));
        assert_eq!(b.used(LimitKind::Orders, 10_000), Some(1));
        assert_eq!(b.used(LimitKind::Orders, 86_400_000), Some(46));
    }

    #[test]
    fn venue_usage_raises_the_local_count() {
        let mut b = RateBudget::new(&RateLimit::BINANCE_SPOT, 0);
        let t = 1_700_000_040_000;
        assert!(b.observe_header("x-mbx-used-weight-1m", "5999", t));
        assert!(b.observe_header("X-MBX-ORDER-COUNT-10S", "3", t));
        assert!(!b.observe_header("X-MBX-USED-WEIGHT-1X", "3", t));
        assert!(!b.observe_header("Content-Length", "3", t));
        assert!(!b.observe_header("X-MBX-USED-WEIGHT-1é", "3", t));
        assert!(!b.observe_header("X-MBX-ORDER-COUNT-1D", "lots", t));
        assert_eq!(b.used(LimitKind::Orders, 10_000), Some(3));
        assert_eq!(b.try_acquire(1, 0, t), Ok(()));
        assert!(matches!(
            b.try_acquire(1, 0, t + 1),
            Err(Refusal::Exhausted {
                kind: LimitKind::RequestWeight,
                ..
            })
        ));
        // Lower venue counts never lower the local count.
        b.observe_used(LimitKind::RequestWeight, MIN, 10, t + 2);
        assert_eq!(b.used(LimitKind::RequestWeight, MIN), Some(6000));
        // The minute rolls over.
        let next = t - t % MIN + MIN;
        assert_eq!(b.try_acquire(1, 0, next), Ok(()));
    }

    #[test]
    fn retry_after_blocks_everything_until_it_passes() {
        let mut b = RateBudget::new(&RateLimit::BINANCE_SPOT, 0);
        let t = 1_700_000_000_000;
        b.on_rate_limited(Some(3), 1, t);
        assert_eq!(
            b.try_acquire(1, 0, t + 2_999),
            Err(Refusal::BackingOff { until_ms: t + 3000 })
        );
        assert_eq!(b.try_acquire(1, 0, t + 3000), Ok(()));
        // Without a Retry-After the default applies; a shorter later one does not shorten it.
        b.on_rate_limited(None, 60, t + 4000);
        b.on_rate_limited(Some(1), 60, t + 4001);
        assert_eq!(b.blocked_until_ms(), t + 64_000);
        // New limits keep the back-off.
        b.set_limits(&[RateLimit {
            kind: LimitKind::Orders,
            interval_ms: 1000,
            limit: 1,
        }]);
        assert_eq!(b.blocked_until_ms(), t + 64_000);
        assert_eq!(b.limits().count(), 1);
    }

    #[test]
    fn scans_ws_api_and_exchange_info_rate_limits() {
        let reply = br#"{"id":"7","status":200,"result":{"orderId":1},"rateLimits":[{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":50,"count":12},{"rateLimitType":"ORDERS","interval":"DAY","intervalNum":1,"limit":160000,"count":4043},{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000,"count":321}]}"#;
        let mut seen = Vec::new();
        scan_rate_limits(reply, |e| seen.push(e));
        assert_eq!(seen.len(), 3);
        assert_eq!(
            seen[0],
            RateLimitEntry {
                limit: RateLimit {
                    kind: LimitKind::Orders,
                    interval_ms: 10_000,
                    limit: 50
                },
                count: Some(12)
            }
        );
        let mut b = RateBudget::new(&RateLimit::BINANCE_SPOT, 0);
        let t = 1_700_000_000_000;
        assert_eq!(b.observe_ws_rate_limits(reply, t), 3);
        assert_eq!(b.used(LimitKind::RequestWeight, MIN), Some(321));
        assert_eq!(b.used(LimitKind::Orders, 86_400_000), Some(4043));

        let info = br#"{"timezone":"UTC","serverTime":1,"rateLimits":[ {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 1200}, {"rateLimitType":"RAW_REQUESTS","interval":"MINUTE","intervalNum":5,"limit":61000}, {"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":100} ],"symbols":[]}"#;
        let mut limits = Vec::new();
        scan_rate_limits(info, |e| limits.push(e.limit));
        assert_eq!(limits.len(), 2);
        assert_eq!(limits[0].limit, 1200);
        assert_eq!(limits[1].interval_ms, 10_000);
        // Damaged input yields nothing and does not panic.
        for bad in [
            &b"\"rateLimits\":["[..],
            b"\"rateLimits\"",
            b"{\"rateLimits\":[{\"limit\":",
            b"",
        ] {
            scan_rate_limits(bad, |_| panic!("nothing to find"));
        }
    }

    proptest::proptest! {
        #[test]
        fn never_exceeds_usable_budget(costs in proptest::collection::vec((0u32..20, 0u32..3, 0u64..500), 1..400)) {
            let limits = [RateLimit { kind: LimitKind::RequestWeight, interval_ms: 1000, limit: 100 },
                          RateLimit { kind: LimitKind::Orders, interval_ms: 1000, limit: 10 }];
            let mut b = RateBudget::new(&limits, 20);
            let mut t = 1_000_000u64;
            for (w, o, dt) in costs {
                t += dt;
                let _ = b.try_acquire(w, o, t);
                proptest::prop_assert!(b.used(LimitKind::RequestWeight, 1000).unwrap() <= 80);
                proptest::prop_assert!(b.used(LimitKind::Orders, 1000).unwrap() <= 8);
            }
        }
    }
}
