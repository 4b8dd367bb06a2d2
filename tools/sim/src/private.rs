//! A venue's private (trading) state, venue-neutral: the matching engine, the API keys, the
//! connections that receive user-data pushes, request/order rate windows and fault counters.
//!
//! It lives inside the venue's [`State`](super::venue::State), under the same lock as the
//! books, so an order sees exactly the book the tape has published and the tape's fills of
//! resting orders are pushed in order with request-driven ones.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{SyncSender, TrySendError};

use super::config::{PrivateConfig, PrivateFaultKind};
use super::matching::{AccountId, Engine, Fees};
use super::server::conn::{ConnCtl, Out};

/// One API key.
pub(crate) struct Key {
    /// The key as the client sends it.
    pub api_key: String,
    /// HMAC secret bytes.
    pub secret: Vec<u8>,
    /// Whose key it is.
    pub account: AccountId,
}

/// The matching engine of a venue's private side, shared by every venue's protocol: the
/// configured fees, the accounts (their ids in `cfg.accounts` order, returned) and the
/// short-fill fault. The venue's protocol adds the symbols with its own trading rules.
pub(crate) fn engine(cfg: &PrivateConfig) -> (Engine, Vec<AccountId>) {
    let mut engine = Engine::new(Fees {
        maker: cfg.maker_fee,
        taker: cfg.taker_fee,
    });
    let ids = cfg
        .accounts
        .iter()
        .map(|a| engine.add_account(&a.name, &a.balances))
        .collect();
    for f in &cfg.faults {
        if let PrivateFaultKind::ShortFill(by) = f.kind {
            engine.set_short_fill(by, f.after, f.count);
        }
    }
    (engine, ids)
}

/// A connection receiving one account's user-data pushes.
pub(crate) struct Listener<F> {
    /// The venue connection id.
    pub conn: u64,
    /// Whose events.
    pub account: AccountId,
    /// Wrapping, in the venue's own push forms.
    pub form: F,
    /// The connection's queue.
    pub tx: SyncSender<Out>,
    /// The connection's control block.
    pub ctl: Arc<ConnCtl>,
}

/// One configured private fault and how often it has been considered and applied.
struct FaultState {
    kind: PrivateFaultKind,
    count: u64,
    after: u64,
    seen: u64,
    applied: u64,
}

/// The private side of a venue; `F` is how the venue's protocol wraps a listener's pushes
/// (Binance: WS-API subscription or listen-key stream).
pub(crate) struct Private<F> {
    /// The configuration (fees, limits, latency, faults).
    pub cfg: PrivateConfig,
    /// Orders, fills, balances.
    pub engine: Engine,
    /// API keys.
    pub keys: Vec<Key>,
    /// Connections receiving pushes.
    pub listeners: Vec<Listener<F>>,
    /// Keys that open a push stream by URL (Binance listen keys): key → account.
    pub stream_keys: BTreeMap<String, AccountId>,
    /// Next execution / subscription / listen-key serial.
    pub serial: u64,
    faults: Vec<FaultState>,
    /// Per account: times (ms) of new orders in the last day.
    order_times: BTreeMap<AccountId, VecDeque<u64>>,
}

impl<F: Copy> Private<F> {
    /// Builds the private side: accounts and keys from the config; symbols are added by the
    /// venue adapter.
    pub(crate) fn new(cfg: &PrivateConfig) -> Self {
        let (engine, ids) = engine(cfg);
        let keys = cfg
            .accounts
            .iter()
            .zip(ids)
            .map(|(a, id)| Key {
                api_key: a.api_key.clone(),
                secret: a.secret.as_bytes().to_vec(),
                account: id,
            })
            .collect();
        Self {
            cfg: cfg.clone(),
            engine,
            keys,
            listeners: Vec::new(),
            stream_keys: BTreeMap::new(),
            serial: 1,
            faults: cfg
                .faults
                .iter()
                .map(|f| FaultState {
                    kind: f.kind,
                    count: f.count,
                    after: f.after,
                    seen: 0,
                    applied: 0,
                })
                .collect(),
            order_times: BTreeMap::new(),
        }
    }

    /// The key entry for an API key.
    pub(crate) fn key(&self, api_key: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.api_key == api_key)
    }

    /// A fresh serial number.
    pub(crate) fn next_serial(&mut self) -> u64 {
        let s = self.serial;
        self.serial += 1;
        s
    }

    /// Considers the faults `pick` selects for one event (an order request, a fill, ...): each
    /// counts the event, and the first that is due applies. Returns what applies.
    pub(crate) fn fault(
        &mut self,
        pick: impl Fn(PrivateFaultKind) -> bool,
    ) -> Option<PrivateFaultKind> {
        let mut fired = None;
        for f in &mut self.faults {
            if !pick(f.kind) {
                continue;
            }
            f.seen += 1;
            if fired.is_none() && f.seen > f.after && (f.count == 0 || f.applied < f.count) {
                f.applied += 1;
                fired = Some(f.kind);
            }
        }
        fired
    }

    /// Counts a new order of `account` at `now_ms`; returns the counts in the last 10 s and the
    /// last day, including it, or `Err` with those counts (unchanged) if a limit is hit.
    pub(crate) fn count_order(
        &mut self,
        account: AccountId,
        now_ms: u64,
    ) -> Result<(u64, u64), (u64, u64)> {
        let q = self.order_times.entry(account).or_default();
        while q
            .front()
            .is_some_and(|t| now_ms.saturating_sub(*t) >= 86_400_000)
        {
            q.pop_front();
        }
        let counts = |q: &VecDeque<u64>| {
            let ten = q
                .iter()
                .rev()
                .take_while(|t| now_ms.saturating_sub(**t) < 10_000)
                .count() as u64;
            (ten, q.len() as u64)
        };
        let (ten, day) = counts(q);
        if ten >= self.cfg.orders_per_10s || day >= self.cfg.orders_per_day {
            return Err((ten, day));
        }
        q.push_back(now_ms);
        Ok((ten + 1, day + 1))
    }

    /// Queues `text` for every listener of `account` whose form `render` accepts (it returns
    /// the wrapped text for a form, or `None` to skip that listener). A listener whose queue is
    /// full is dropped and its connection closed (a venue drops consumers that fall behind).
    pub(crate) fn push(&mut self, account: AccountId, render: impl Fn(F) -> Option<String>) {
        self.listeners.retain(|l| {
            if l.account != account {
                return true;
            }
            let Some(text) = render(l.form) else {
                return true;
            };
            l.ctl.queued.fetch_add(1, Ordering::AcqRel);
            match l.tx.try_send(Out::Text(text.into())) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    l.ctl.queued.fetch_sub(1, Ordering::AcqRel);
                    l.ctl.kill.store(true, Ordering::Release);
                    false
                }
                Err(TrySendError::Disconnected(_)) => {
                    l.ctl.queued.fetch_sub(1, Ordering::AcqRel);
                    false
                }
            }
        });
    }

    /// Forgets every listener of a connection (it closed).
    pub(crate) fn drop_conn(&mut self, conn: u64) {
        self.listeners.retain(|l| l.conn != conn);
    }
}
