//! Venue feeds for `run`: the embedded simulator (for `mode = "sim"` venues), one feed thread per
//! `[[venue]]`, and the supervision that ends a run when an embedded capture is over.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tickwire_core::event::MarketEvent;
use tickwire_core::journal::{JournalConfig, Writer};
use tickwire_core::ring::{Consumer, StopFlag, channel};
use tickwire_core::topology::{Role, ThreadPlan, spawn};
use tickwire_feeds::feed::{FeedConfig, FeedEnd, FeedProgress, run_feed};
use tickwire_net::tls::{
    client_config_from_ca_file, client_config_from_ca_pem, client_config_webpki,
};
use tickwire_sim::{EndpointKind, SimHandle};

use crate::Failure;
use crate::clock::mono_ns;
use crate::config::RunConfig;
use crate::venue_config::{VenueMode, VenueSection};

/// Market-data rings, one per feed.
pub type Rings = Vec<Consumer<MarketEvent>>;

/// Running venue feeds.
pub struct VenueFeeds {
    sim: Option<SimHandle>,
    feeds: Vec<Feed>,
    /// When the capture was seen finished, and the message count then.
    settling: Option<(Instant, u64)>,
}

struct Feed {
    name: String,
    progress: Arc<FeedProgress>,
    handle: JoinHandle<FeedEnd>,
}

/// Frames of a finished capture are all in the socket once the simulator says so; the feed has
/// read them when its message count stops moving for this long.
const SETTLE: Duration = Duration::from_millis(300);

fn endpoints(
    v: &VenueSection,
    sim: Option<&SimHandle>,
) -> Result<(String, Option<String>, Arc<rustls::ClientConfig>), Failure> {
    let tls_err = |e: tickwire_net::TlsConfigError| Failure::new(format!("venue {}: {e}", v.venue));
    match v.mode {
        VenueMode::Sim => {
            let sim = sim.ok_or_else(|| Failure::new("embedded simulator not started"))?;
            let ws = sim
                .endpoint(&v.sim_name, EndpointKind::Ws)
                .ok_or_else(|| Failure::new(format!("simulator has no venue {:?}", v.sim_name)))?;
            let rest = sim
                .endpoint(&v.sim_name, EndpointKind::Rest)
                .map(str::to_owned);
            let tls = client_config_from_ca_pem(sim.ca_pem().as_bytes()).map_err(tls_err)?;
            Ok((ws.to_owned(), rest, tls))
        }
        VenueMode::Live => {
            let (ws, rest) = VenueSection::live_urls(v.venue)
                .ok_or_else(|| Failure::new(format!("no live endpoints for {}", v.venue)))?;
            let tls = client_config_webpki().map_err(tls_err)?;
            Ok((
                v.ws_url.clone().unwrap_or_else(|| ws.to_owned()),
                Some(v.rest_url.clone().unwrap_or_else(|| rest.to_owned())),
                tls,
            ))
        }
        VenueMode::External => {
            let tls = match &v.ca_file {
                Some(path) => client_config_from_ca_file(path).map_err(tls_err)?,
                None => client_config_webpki().map_err(tls_err)?,
            };
            let ws = v
                .ws_url
                .clone()
                .ok_or_else(|| Failure::new(format!("venue {}: ws_url missing", v.venue)))?;
            Ok((ws, v.rest_url.clone(), tls))
        }
    }
}

/// The thread roles the venue feeds need (`Feed(1)`, `Feed(2)`, …; `Feed(0)` is the synthetic
/// market's).
pub fn roles(cfg: &RunConfig) -> impl Iterator<Item = Role> + '_ {
    (0..cfg.venues.len()).map(|i| Role::Feed(i as u16 + 1))
}

impl VenueFeeds {
    /// The embedded simulator, when a venue uses it (the exec sessions trade against it too).
    pub fn sim(&self) -> Option<&SimHandle> {
        self.sim.as_ref()
    }

    /// Starts the embedded simulator if a venue needs it, and one feed thread per venue; returns
    /// the feeds, the rings the core reads them from and, per `paper = true` venue, the ring its
    /// market data reaches the in-process exchange on (ahead of the core).
    pub fn start(
        cfg: &RunConfig,
        plan: &ThreadPlan,
        stop: &StopFlag,
    ) -> Result<(Self, Rings, Rings), Failure> {
        let sim = match (
            &cfg.sim,
            cfg.venues.iter().any(|v| v.mode == VenueMode::Sim),
        ) {
            (Some(sim_cfg), true) => {
                let handle = tickwire_sim::start(sim_cfg)
                    .map_err(|e| Failure::new(format!("embedded simulator: {e}")))?;
                crate::sim_cmd::announce(&handle);
                Some(handle)
            }
            _ => None,
        };
        let mut feeds = Vec::new();
        let mut rings = Vec::new();
        let mut paper_rings = Vec::new();
        for (i, v) in cfg.venues.iter().enumerate() {
            let (ws_url, rest_url, tls) = endpoints(v, sim.as_ref())?;
            let raw = match &v.raw_journal {
                Some(dir) => {
                    let jcfg = JournalConfig {
                        max_record_bytes: 4 << 20,
                        ..JournalConfig::default()
                    };
                    let (w, _) = Writer::open(dir, jcfg)
                        .map_err(|e| Failure::new(format!("raw journal {}: {e}", dir.display())))?;
                    Some(w)
                }
                None => None,
            };
            let feed_cfg = FeedConfig {
                venue: v.venue,
                ws_url,
                rest_url,
                tls,
                symbols: v
                    .instruments
                    .iter()
                    .map(|s| (s.symbol.clone(), s.id))
                    .collect(),
                channels: v.channels.clone(),
                stale_after: v.stale_after,
                snapshot_limit: v.snapshot_limit,
                clock: mono_ns,
            };
            let (mut tx, rx) = channel(cfg.engine.ring_capacity);
            rings.push(rx);
            let mut to_exchange = if v.paper {
                let (x_tx, x_rx) = channel(cfg.engine.ring_capacity);
                paper_rings.push(x_rx);
                Some(x_tx)
            } else {
                None
            };
            let progress = Arc::new(FeedProgress::default());
            let p = Arc::clone(&progress);
            let stop = stop.clone();
            let handle = spawn(Role::Feed(i as u16 + 1), plan, move |ctx| {
                run_feed(
                    &feed_cfg,
                    &mut tx,
                    to_exchange.as_mut(),
                    raw,
                    ctx.backoff(),
                    &stop,
                    &p,
                )
            })
            .map_err(|e| Failure::new(format!("starting feed thread: {e}")))?;
            feeds.push(Feed {
                name: v.venue.to_string(),
                progress,
                handle,
            });
        }
        Ok((
            Self {
                sim,
                feeds,
                settling: None,
            },
            rings,
            paper_rings,
        ))
    }

    /// True once every venue is served by the embedded simulator, its captures are over and the
    /// feeds have read everything (their message counts stopped moving).
    pub fn capture_done(&mut self) -> bool {
        let Some(sim) = &self.sim else {
            return false;
        };
        if self.feeds.is_empty() || !sim.is_finished() {
            return false;
        }
        let seen: u64 = self
            .feeds
            .iter()
            .map(|f| {
                f.progress
                    .messages
                    .load(std::sync::atomic::Ordering::Relaxed)
            })
            .sum();
        match self.settling {
            Some((since, count)) if count == seen => since.elapsed() >= SETTLE,
            _ => {
                self.settling = Some((Instant::now(), seen));
                false
            }
        }
    }

    /// Market events the feeds have pushed to the core so far.
    pub fn events(&self) -> u64 {
        self.feeds
            .iter()
            .map(|f| f.progress.events.load(std::sync::atomic::Ordering::Relaxed))
            .sum()
    }

    /// True if any feed thread has exited on its own (bad config, core gone).
    pub fn any_exited(&self) -> bool {
        self.feeds.iter().any(|f| f.handle.is_finished())
    }

    /// Joins the feed threads (after stop) and shuts the simulator down; returns a line per
    /// feed.
    pub fn finish(self) -> Vec<String> {
        let mut lines = Vec::new();
        for f in self.feeds {
            use std::sync::atomic::Ordering::Relaxed;
            let p = &f.progress;
            let end = match f.handle.join() {
                Ok(FeedEnd::Stopped) => "stopped".to_owned(),
                Ok(FeedEnd::CoreGone) => "core gone".to_owned(),
                Ok(FeedEnd::Config(e)) => format!("FAILED: {e}"),
                Err(_) => "PANICKED".to_owned(),
            };
            lines.push(format!(
                "feed {}: {} messages, {} events, {} malformed, {} connect(s), {} snapshot(s); {end}",
                f.name,
                p.messages.load(Relaxed),
                p.events.load(Relaxed),
                p.malformed.load(Relaxed),
                p.connects.load(Relaxed),
                p.snapshots.load(Relaxed),
            ));
        }
        if let Some(sim) = self.sim {
            sim.shutdown();
        }
        lines
    }
}
