//! Shared pieces of the OKX order-entry and reconciliation tests: a simulator with one OKX
//! account, the session and query clients pointed at it, and bounded waits.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustls::ClientConfig;
use tickwire_core::event::ExecReport;
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::{Px, Qty};
use tickwire_exec::credentials::Secret;
use tickwire_exec::session::VenueSession;
use tickwire_exec::venue::okx::{
    OkxEncoder, OkxMarket, OkxQueries, OkxRest, OkxSession, OkxSessionConfig, TdMode,
};
use tickwire_net::http::HttpOptions;
use tickwire_net::tls::client_config_from_ca_file;
use tickwire_sim::{EndpointKind, SimConfig, SimHandle, start};

pub const KEY: &str = "okx-key-alice";
pub const SECRET: &str = "22582BD0CFF14C41EDBF1AB98506286D";
pub const PASS: &str = "Passphrase1";
pub const INST: InstrumentId = InstrumentId(0);
/// Generous bound for every wait (a loaded 2-core machine).
pub const T: Duration = Duration::from_secs(30);

fn data(rel: &str) -> String {
    let p =
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data")).join(rel);
    format!("{:?}", p.display().to_string())
}

/// A simulator with one OKX account (USDT 100000, BTC 1) and `extra` appended to its config
/// (private faults).
pub fn sim(extra: &str) -> SimHandle {
    let cfg = SimConfig::parse(&format!(
        "[[venue]]\nvenue = \"okx\"\ncaptures = [{}]\n\n\
         [venue.private]\nmaker_fee = \"-0.0001\"\ntaker_fee = \"0.001\"\n\n\
         [[venue.private.account]]\nname = \"alice\"\napi_key = \"{KEY}\"\nsecret = \"{SECRET}\"\n\
         passphrase = \"{PASS}\"\nbalances = [\"USDT:100000\", \"BTC:1\"]\n{extra}",
        data("okx/cryptofeed_OKX.ws.1.0")
    ))
    .unwrap_or_else(|e| panic!("config: {e}"));
    start(&cfg).unwrap_or_else(|e| panic!("start: {e}"))
}

/// Plays the whole public tape so the book stays still afterwards.
pub fn finish_tape(sim: &SimHandle) {
    let ws = sim.endpoint("okx", EndpointKind::Ws).expect("ws endpoint");
    let tls = tls(sim);
    let mut c = tickwire_net::ws::WsClient::connect(
        &format!("{ws}/ws/v5/public"),
        tls,
        Default::default(),
        mono_ns,
    )
    .expect("public connect");
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut subscribed = false;
    loop {
        assert!(Instant::now() < deadline, "tape never finished");
        match c.poll(|_| {}) {
            Ok(tickwire_net::ws::WsStatus::Open { opened, .. }) => {
                if opened && !subscribed {
                    c.send_text(
                        r#"{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}"#,
                    )
                    .expect("subscribe");
                    subscribed = true;
                }
            }
            Ok(_) => {}
            Err(e) => panic!("public connection failed: {e}"),
        }
        if subscribed && sim.progress("okx").expect("progress").finished {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

pub fn px(s: &str) -> Px {
    Px::parse(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
}

pub fn qty(s: &str) -> Qty {
    Qty::parse(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
}

/// Best bid and ask (price, size) of BTC-USDT now.
pub fn top(sim: &SimHandle) -> ((Px, Qty), (Px, Qty)) {
    let b = sim
        .book("okx", "BTC-USDT", 2)
        .expect("venue")
        .expect("book");
    let l = |l: &(String, String)| (px(&l.0), qty(&l.1));
    (l(&b.bids[0]), l(&b.asks[0]))
}

pub fn market() -> OkxMarket {
    OkxMarket {
        id: INST,
        inst_id: "BTC-USDT".into(),
        quote: "USDT".into(),
        td_mode: TdMode::Cash,
        inst_code: None,
    }
}

pub fn tls(sim: &SimHandle) -> Arc<ClientConfig> {
    client_config_from_ca_file(sim.ca_path()).expect("sim CA")
}

pub fn encoder() -> OkxEncoder {
    OkxEncoder::new(KEY, SECRET.as_bytes(), Secret::new(PASS)).expect("encoder")
}

/// Session config against the simulator, short timeouts for tests.
pub fn session_config(sim: &SimHandle) -> OkxSessionConfig {
    let ws = sim.endpoint("okx", EndpointKind::Ws).expect("ws endpoint");
    let rest = sim
        .endpoint("okx", EndpointKind::Rest)
        .expect("rest endpoint");
    let mut cfg = OkxSessionConfig::new(&format!("{ws}/ws/v5/private"), rest, vec![market()]);
    cfg.resolve_delay = Duration::from_millis(100);
    cfg.reconnect.initial = Duration::from_millis(50);
    cfg.reconnect.max = Duration::from_millis(500);
    cfg
}

pub fn session(sim: &SimHandle, cfg: OkxSessionConfig) -> OkxSession {
    OkxSession::new(cfg, encoder(), tls(sim), mono_ns).expect("session")
}

/// The poller's (or a checker's) own REST queries.
pub fn queries(sim: &SimHandle) -> OkxQueries {
    let rest = sim
        .endpoint("okx", EndpointKind::Rest)
        .expect("rest endpoint");
    let rest = OkxRest::new(rest, tls(sim), HttpOptions::default(), encoder()).expect("rest");
    OkxQueries::new(VenueId::OKX, rest, vec![market()], "SPOT", mono_ns)
}

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Monotonic nanoseconds since the first call.
pub fn mono_ns() -> u64 {
    u64::try_from(EPOCH.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Polls `s` (collecting reports into `got`) until `done(got)` holds; fails loudly after `T`.
pub fn drive_until(
    s: &mut OkxSession,
    got: &mut Vec<ExecReport>,
    what: &str,
    mut done: impl FnMut(&OkxSession, &[ExecReport]) -> bool,
) {
    let deadline = Instant::now() + T;
    while !done(s, got) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; phase {:?}, stats {:?}, reports {got:#?}",
            s.phase(),
            s.stats()
        );
        if !s.poll(mono_ns(), &mut |r| got.push(r)) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
