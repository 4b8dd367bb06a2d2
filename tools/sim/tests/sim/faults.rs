//! Fault injection, each fault observed by a client written here.

use crate::sim_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use sim_support::{Got, WsClient, toml_path};
use tickwire_sim::{EndpointKind, FaultKind, SimConfig, SimHandle, start};

const DEPTH: &str = "/stream?streams=nknusdt@depth@100ms/blzeth@depth@100ms/lrcbtc@depth@100ms/runeeur@depth@100ms/nknusdt@bookTicker";

fn sim(faults: &str) -> SimHandle {
    let cfg = SimConfig::parse(&format!(
        "[[venue]]\nvenue = \"binance-us\"\ncaptures = [{}, {}]\npace = \"fast\"\n{faults}",
        toml_path("binance/cryptofeed_BINANCE.ws.1.0"),
        toml_path("binance/cryptofeed_BINANCE.http.0.0"),
    ))
    .unwrap_or_else(|e| panic!("config: {e}"));
    start(&cfg).unwrap_or_else(|e| panic!("start: {e}"))
}

fn connect(sim: &SimHandle) -> WsClient {
    let ws = sim
        .endpoint("binance-us", EndpointKind::Ws)
        .expect("ws")
        .to_owned();
    WsClient::connect(&ws, DEPTH, sim.ca_path())
}

/// Every text (with its arrival time) until the capture is finished and the socket is quiet.
fn drain(sim: &SimHandle, c: &mut WsClient) -> Vec<(Instant, String)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    loop {
        match c.next(Duration::from_millis(300)) {
            Got::Text(t) => out.push((Instant::now(), t)),
            Got::Ping => {}
            Got::Closed => panic!("closed"),
            Got::Timeout => {
                if sim.is_finished() {
                    return out;
                }
            }
        }
        assert!(Instant::now() < deadline, "capture not finished in 60 s");
    }
}

/// Update-id discontinuities per symbol: (symbol, previous u, next U).
fn gaps(frames: &[(Instant, String)]) -> Vec<(String, u64, u64)> {
    let mut last: HashMap<String, u64> = HashMap::new();
    let mut out = Vec::new();
    for (_, t) in frames {
        let Ok(v) = serde_json::from_str::<Value>(t) else {
            continue; // the malformed-frame test's truncated copy
        };
        if v["data"]["e"] != "depthUpdate" {
            continue;
        }
        let s = v["data"]["s"].as_str().expect("s").to_owned();
        let (first, l) = (
            v["data"]["U"].as_u64().expect("U"),
            v["data"]["u"].as_u64().expect("u"),
        );
        if let Some(&prev) = last.get(&s)
            && first != prev + 1
        {
            out.push((s.clone(), prev, first));
        }
        last.insert(s, l);
    }
    out
}

#[test]
fn baseline_has_no_anomaly() {
    let sim = sim("");
    let mut c = connect(&sim);
    let frames = drain(&sim, &mut c);
    assert!(frames.len() > 150);
    assert!(gaps(&frames).is_empty());
    assert!(
        frames
            .iter()
            .all(|(_, t)| serde_json::from_str::<Value>(t).is_ok())
    );
    assert!(frames.windows(2).all(|w| w[0].1 != w[1].1));
    sim.shutdown();
}

#[test]
fn gap_drops_one_diff() {
    let sim = sim("[[venue.fault]]\nkind = \"gap\"\nat = 30\n");
    let mut c = connect(&sim);
    let frames = drain(&sim, &mut c);
    let g = gaps(&frames);
    assert_eq!(g.len(), 1, "{g:?}");
    assert!(g[0].2 > g[0].1 + 1);
    let fired = sim.fired_faults("binance-us").expect("venue");
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].kind, FaultKind::Gap);
    assert!(fired[0].frame >= 30);
    sim.shutdown();
}

#[test]
fn pause_makes_the_feed_silent() {
    let sim = sim("[[venue.fault]]\nkind = \"pause\"\nat = 40\nms = 700\n");
    let mut c = connect(&sim);
    let frames = drain(&sim, &mut c);
    let longest = frames
        .windows(2)
        .map(|w| w[1].0.duration_since(w[0].0))
        .max()
        .expect("frames");
    // A lower bound only: the pause is at least this long, whatever the machine's load.
    assert!(
        longest >= Duration::from_millis(650),
        "longest silence {longest:?}"
    );
    assert!(gaps(&frames).is_empty(), "a pause must not lose data");
    sim.shutdown();
}

#[test]
fn malformed_frame_is_unparsable() {
    let sim = sim("[[venue.fault]]\nkind = \"malformed\"\nat = 12\n");
    let mut c = connect(&sim);
    let frames = drain(&sim, &mut c);
    let bad: Vec<usize> = (0..frames.len())
        .filter(|&i| serde_json::from_str::<Value>(&frames[i].1).is_err())
        .collect();
    assert_eq!(bad.len(), 1);
    let i = bad[0];
    // The truncated copy precedes the intact frame, which still arrives.
    assert!(frames[i + 1].1.starts_with(&frames[i].1));
    assert!(gaps(&frames).is_empty());
    sim.shutdown();
}

#[test]
fn duplicate_repeats_a_frame() {
    let sim = sim("[[venue.fault]]\nkind = \"duplicate\"\nat = 12\n");
    let mut c = connect(&sim);
    let frames = drain(&sim, &mut c);
    let dups: Vec<usize> = (1..frames.len())
        .filter(|&i| frames[i].1 == frames[i - 1].1)
        .collect();
    assert_eq!(dups.len(), 1);
    sim.shutdown();
}

#[test]
fn disconnect_closes_the_socket_and_reconnect_works() {
    let sim = sim("");
    let mut c = connect(&sim);
    for _ in 0..10 {
        c.text(Duration::from_secs(10));
    }
    // Injected at runtime through the handle.
    sim.inject("binance-us", FaultKind::Disconnect)
        .expect("venue");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match c.next(Duration::from_millis(200)) {
            Got::Closed => break,
            _ => assert!(
                Instant::now() < deadline,
                "socket still open after disconnect"
            ),
        }
    }
    let fired = sim.fired_faults("binance-us").expect("venue");
    assert_eq!(
        fired.iter().map(|f| f.kind).collect::<Vec<_>>(),
        vec![FaultKind::Disconnect]
    );
    // The new connection is served: it answers a request (whether or not the tape still has
    // frames for it — in fast pace the capture may already be over) and gets the rest.
    let mut again = connect(&sim);
    again.send(r#"{"method":"LIST_SUBSCRIPTIONS","id":5}"#);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut frames = 0usize;
    let reply = loop {
        let t = again.text(deadline.saturating_duration_since(Instant::now()));
        let v: Value = serde_json::from_str(&t).expect("JSON");
        if v["id"] == 5 {
            break v;
        }
        frames += 1;
    };
    let listed = reply["result"].as_array().expect("result list");
    assert_eq!(listed.len(), 5, "{reply}");
    let rest = drain(&sim, &mut again);
    assert!(
        rest.iter()
            .all(|(_, t)| serde_json::from_str::<Value>(t).is_ok()),
        "{frames} frames before the reply"
    );
    let p = sim.progress("binance-us").expect("venue");
    assert!(p.finished && p.published == p.total, "{p:?}");
    sim.shutdown();
}
