//! Alerts off the hot path: the core copies alert and risk-decision outputs into a ring; the
//! ops thread turns each into one line of text, logs it, and — deduplicated and rate-limited —
//! hands it to a webhook thread that POSTs Slack-compatible JSON (`{"text": ...}`).
//!
//! Dedup: the same (record kind, code, instrument, strategy) is passed on at most once per
//! `dedup_window`. Rate limit: at most `max_per_minute` posts per rolling minute; what is held
//! back is counted and the count is appended to the next message that goes out, so a storm is
//! summarised, not lost. The webhook URL is treated as a secret (Slack's carry a token): it is
//! never logged, only its host.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tickwire_core::event::{AlertCode, Output, RiskDecisionKind, RiskLevel, RiskReason, Side};
use tickwire_net::{HttpClient, HttpOptions, tls};

use crate::Failure;
use crate::config::AlertsSection;

/// What makes two alerts "the same" for deduplication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AlertKey {
    kind: u8,
    code: u8,
    instrument: u32,
    strategy: u16,
}

impl AlertKey {
    /// An alert about the host rather than a record of the core (kind 3; `code` tells them
    /// apart): the journal disk running low.
    pub fn host(code: u8) -> Self {
        Self {
            kind: 3,
            code,
            instrument: u32::MAX,
            strategy: u16::MAX,
        }
    }
}

/// Names for the text: strategies and instrument symbols by id.
#[derive(Clone, Debug, Default)]
pub struct Names {
    /// Strategy names by id.
    pub strategies: Vec<String>,
    /// Instrument symbols by id.
    pub instruments: Vec<String>,
}

impl Names {
    fn strategy(&self, id: u16) -> String {
        self.strategies
            .get(usize::from(id))
            .cloned()
            .unwrap_or_else(|| {
                if id == u16::MAX {
                    "all".into()
                } else {
                    format!("#{id}")
                }
            })
    }

    fn instrument(&self, id: u32) -> String {
        self.instruments
            .get(id as usize)
            .cloned()
            .unwrap_or_else(|| {
                if id == u32::MAX {
                    "all".into()
                } else {
                    format!("#{id}")
                }
            })
    }
}

fn level(code: u8) -> &'static str {
    RiskLevel::from_code(code).map_or("?", RiskLevel::name)
}

/// One line for an alert or risk decision; None for outputs that are neither.
pub fn describe(o: &Output, names: &Names) -> Option<(AlertKey, String)> {
    match o {
        Output::Alert(a) => {
            let code = AlertCode::describe(a.code);
            let inst = names.instrument(a.meta.instrument.0);
            let key = AlertKey {
                kind: 1,
                code: a.code,
                instrument: a.meta.instrument.0,
                strategy: u16::MAX,
            };
            Some((key, format!("alert {code} on {inst} (arg {})", a.arg)))
        }
        Output::Risk(r) => {
            let strategy = names.strategy(r.strategy.0);
            let inst = names.instrument(r.meta.instrument.0);
            let reason = RiskReason::describe(r.reason);
            let key = AlertKey {
                kind: 2 + r.kind,
                code: r.reason,
                instrument: r.meta.instrument.0,
                strategy: r.strategy.0,
            };
            let text = match r.kind() {
                Some(RiskDecisionKind::Level) => format!(
                    "risk: strategy {strategy} {} -> {} ({reason})",
                    level(r.from),
                    level(r.to)
                ),
                Some(RiskDecisionKind::Breaker) => {
                    format!("risk: breaker on {inst} ({reason}, count {})", r.value)
                }
                Some(RiskDecisionKind::Anomaly) => {
                    format!("risk: data anomaly on {inst}: {reason}")
                }
                Some(RiskDecisionKind::Flatten) => format!(
                    "risk: flattening {strategy} on {inst}: {reason}, {} {} @ {} (order {} of {})",
                    Side::describe(r.side),
                    r.qty,
                    r.px,
                    r.value,
                    r.limit
                ),
                Some(RiskDecisionKind::Reject) | None => format!(
                    "risk: {strategy} order refused on {inst}: {reason} ({} vs limit {})",
                    r.value, r.limit
                ),
            };
            Some((key, text))
        }
        _ => None,
    }
}

/// Counters for the run summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AlertStats {
    /// Lines logged.
    pub logged: u64,
    /// Lines handed to the webhook.
    pub posted: u64,
    /// Duplicates dropped within the dedup window.
    pub deduplicated: u64,
    /// Held back by the rate limit.
    pub rate_limited: u64,
}

/// Dedup, rate limit, log and hand off to the webhook thread.
pub struct Alerter {
    dedup_window: Duration,
    max_per_minute: u32,
    last: HashMap<AlertKey, Instant>,
    recent: std::collections::VecDeque<Instant>,
    held_back: u64,
    webhook: Option<(mpsc::Sender<String>, JoinHandle<u64>)>,
    stats: AlertStats,
}

impl Alerter {
    /// An alerter per `[alerts]`; starts the webhook thread if a URL is configured.
    pub fn new(cfg: &AlertsSection) -> Result<Self, Failure> {
        let webhook = match &cfg.webhook_url {
            Some(url) => {
                let target = Webhook::new(url, cfg.ca_file.as_deref())?;
                let (tx, rx) = mpsc::channel::<String>();
                let h = std::thread::Builder::new()
                    .name("alerts".into())
                    .spawn(move || target.run(rx))
                    .map_err(|e| Failure::new(format!("starting the alerts thread: {e}")))?;
                Some((tx, h))
            }
            None => None,
        };
        Ok(Self {
            dedup_window: cfg.dedup_window,
            max_per_minute: cfg.max_per_minute,
            last: HashMap::new(),
            recent: std::collections::VecDeque::new(),
            held_back: 0,
            webhook,
            stats: AlertStats::default(),
        })
    }

    /// Takes one alert line at `now`.
    pub fn raise(&mut self, key: AlertKey, text: &str, now: Instant) {
        if let Some(t) = self.last.get(&key)
            && now.duration_since(*t) < self.dedup_window
        {
            self.stats.deduplicated += 1;
            return;
        }
        self.last.insert(key, now);
        errln!("alert: {text}");
        self.stats.logged += 1;
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= self.max_per_minute as usize {
            self.held_back += 1;
            self.stats.rate_limited += 1;
            return;
        }
        self.recent.push_back(now);
        if let Some((tx, _)) = &self.webhook {
            let line = if self.held_back > 0 {
                format!(
                    "{text} (+{} more alerts held back by the rate limit)",
                    self.held_back
                )
            } else {
                text.to_owned()
            };
            self.held_back = 0;
            if tx.send(line).is_ok() {
                self.stats.posted += 1;
            }
        }
    }

    /// Stops the webhook thread after it has sent what it holds; returns the counters.
    pub fn finish(self) -> AlertStats {
        if let Some((tx, h)) = self.webhook {
            drop(tx);
            let _ = h.join();
        }
        self.stats
    }
}

/// Where the webhook posts go.
struct Webhook {
    scheme_https: bool,
    host: String,
    port: u16,
    path: String,
    https: Option<HttpClient>,
}

impl Webhook {
    fn new(url: &str, ca_file: Option<&std::path::Path>) -> Result<Self, Failure> {
        let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(Failure::new(
                "alerts.webhook_url must be http:// or https://",
            ));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (
                h.to_owned(),
                p.parse::<u16>()
                    .map_err(|_| Failure::new("alerts.webhook_url: bad port"))?,
            ),
            None => (authority.to_owned(), if https { 443 } else { 80 }),
        };
        let client = if https {
            let tls = match ca_file {
                Some(p) => tls::client_config_from_ca_file(p),
                None => tls::client_config_webpki(),
            }
            .map_err(|e| Failure::new(format!("alerts webhook TLS: {e}")))?;
            Some(
                HttpClient::new(
                    &format!("https://{host}:{port}"),
                    tls,
                    HttpOptions::default(),
                )
                .map_err(|e| Failure::new(format!("alerts webhook: {e}")))?,
            )
        } else {
            None
        };
        Ok(Self {
            scheme_https: https,
            host,
            port,
            path: path.to_owned(),
            https: client,
        })
    }

    fn run(mut self, rx: mpsc::Receiver<String>) -> u64 {
        let mut sent = 0;
        for text in rx {
            let body = serde_json::json!({ "text": format!("tickwire: {text}") }).to_string();
            match self.post(body.as_bytes()) {
                Ok(()) => sent += 1,
                // The URL is a secret: name the host only.
                Err(e) => errln!("alerts: webhook post to {} failed: {e}", self.host),
            }
        }
        sent
    }

    fn post(&mut self, body: &[u8]) -> Result<(), String> {
        if let Some(client) = self.https.as_mut() {
            let r = client
                .post(&self.path, &[("Content-Type", "application/json")], body)
                .map_err(|e| e.to_string())?;
            return if (200..300).contains(&r.status) {
                Ok(())
            } else {
                Err(format!("HTTP {}", r.status))
            };
        }
        debug_assert!(!self.scheme_https);
        let addr = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| e.to_string())?
            .next()
            .ok_or("no address")?;
        let mut s =
            TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        s.set_write_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.path,
            self.host,
            self.port,
            body.len()
        );
        s.write_all(head.as_bytes())
            .and_then(|()| s.write_all(body))
            .map_err(|e| e.to_string())?;
        let mut buf = [0u8; 64];
        let mut got = 0;
        while got < 12 {
            let n = s.read(&mut buf[got..]).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            got += n;
        }
        let line = String::from_utf8_lossy(&buf[..got]);
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| "no HTTP status line in the reply".to_owned())?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(format!("HTTP {status}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    /// A one-request-per-connection HTTP receiver recording request bodies.
    fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/hooks/T0K3N", l.local_addr().expect("addr"));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let b = Arc::clone(&bodies);
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { return };
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                // Read head, then Content-Length bytes.
                let body = loop {
                    let Ok(n) = s.read(&mut buf) else { break None };
                    if n == 0 {
                        break None;
                    }
                    data.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&data).to_string();
                    if let Some(i) = text.find("\r\n\r\n") {
                        let len: usize = text
                            .lines()
                            .find_map(|l| l.strip_prefix("Content-Length: "))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if data.len() >= i + 4 + len {
                            break Some(text[i + 4..i + 4 + len].to_owned());
                        }
                    }
                };
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                if let Some(body) = body {
                    b.lock().expect("test lock").push(body);
                }
            }
        });
        (url, bodies)
    }

    fn wait_for(bodies: &Arc<Mutex<Vec<String>>>, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = bodies.lock().expect("test lock").clone();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn posts_slack_json_deduplicated_and_rate_limited() {
        let (url, bodies) = receiver();
        let cfg = AlertsSection {
            webhook_url: Some(url),
            ca_file: None,
            dedup_window: Duration::from_secs(30),
            max_per_minute: 3,
        };
        let Ok(mut a) = Alerter::new(&cfg) else {
            panic!("alerter did not start");
        };
        let t0 = Instant::now();
        let key = |code| AlertKey {
            kind: 1,
            code,
            instrument: 0,
            strategy: 0,
        };
        a.raise(key(1), "first \"quoted\"", t0);
        a.raise(key(1), "first again", t0 + Duration::from_secs(1));
        a.raise(key(2), "second", t0 + Duration::from_secs(2));
        a.raise(key(3), "third", t0 + Duration::from_secs(3));
        a.raise(key(4), "fourth", t0 + Duration::from_secs(4));
        a.raise(key(5), "fifth", t0 + Duration::from_secs(5));
        // A minute later the rate window has room again; the held-back count rides along.
        a.raise(key(6), "sixth", t0 + Duration::from_secs(62));
        // After the dedup window the same alert goes out again.
        a.raise(key(1), "first, later", t0 + Duration::from_secs(63));
        let stats = a.finish();
        assert_eq!(stats.deduplicated, 1);
        assert_eq!(stats.rate_limited, 2);
        assert_eq!(stats.posted, 5);
        let got = wait_for(&bodies, 5);
        let texts: Vec<String> = got
            .iter()
            .map(|b| {
                let v: serde_json::Value = serde_json::from_str(b).expect("JSON body");
                v["text"].as_str().expect("text field").to_owned()
            })
            .collect();
        assert_eq!(texts.len(), 5, "{texts:?}");
        assert_eq!(texts[0], "tickwire: first \"quoted\"");
        assert_eq!(
            texts[3],
            "tickwire: sixth (+2 more alerts held back by the rate limit)"
        );
        assert_eq!(texts[4], "tickwire: first, later");
    }
}
