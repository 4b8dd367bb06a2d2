//! What every drill shares: a standalone simulator started in this process with the drill's
//! faults, a `tickwire run` child trading against it (`mode = "external"`, real TLS on
//! loopback), and readers of the child's journal.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::Value;

use tickwire_sim::{EndpointKind, SimConfig, SimHandle, start};

/// The drills' API key and secret (simulator accounts accept any printable text).
const KEY: &str = "drillKey0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU";
const SECRET: &str = "drillSecret9876543210zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLK";
/// Environment prefix the child reads the credentials from.
const ENV_PREFIX: &str = "TICKWIRE_DRILL";
/// The simulated account's starting base-asset balance.
pub const BASE_START: &str = "100";

/// One drill's environment: a temp directory, the simulator and the run config.
pub struct Rig {
    dir: PathBuf,
    sim: Option<SimHandle>,
    bin: PathBuf,
    /// The run config file.
    pub config: PathBuf,
    /// The journal directory.
    pub journal: PathBuf,
    /// The control socket (`[control] socket`).
    pub socket: PathBuf,
}

/// What a drill changes in the standard setup.
#[derive(Default)]
pub struct Setup<'a> {
    /// Extra `[[venue.private.fault]]` / `[[venue.fault]]` tables for the simulator.
    pub sim_faults: &'a str,
    /// The script strategy's steps.
    pub steps: &'a [&'a str],
    /// Repeat the steps.
    pub repeat: bool,
    /// Extra `[risk]` keys.
    pub risk: &'a str,
    /// Extra `[[venue]]` keys for the trading venue.
    pub venue: &'a str,
    /// Book diffs in the capture (10 ms apart); 0 = 600.
    pub diffs: u64,
    /// At this diff the market drops: the best ask moves to 98.40 (through resting buys
    /// at 98.50) and the best bid to 97.00.
    pub drop_at: Option<u64>,
}

impl Rig {
    /// Starts the simulator with `setup`'s faults and writes the run config.
    pub fn new(name: &str, bin: &Path, setup: &Setup<'_>) -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!(
            "tickwire-drill-{name}-{}-{}",
            std::process::id(),
            crate::drill::unique()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("drill dir: {e}"))?;
        let diffs = if setup.diffs == 0 { 600 } else { setup.diffs };
        let capture = write_capture(&dir, diffs, setup.drop_at)?;
        let sim_text = format!(
            r#"[[venue]]
venue = "binance"
captures = [{capture:?}]
pace = "recorded"

[[venue.symbol]]
symbol = "TESTUSDT"
tick = "0.01"
lot = "0.0001"
min_notional = "0.5"

# Zero fees: the engine books base-asset fees into its position now, but some drills wait
# for exact round positions, and a fill recovered only by an order query (no trade record)
# cannot know its base fee; see NOTES-fix-basefee.md.
[venue.private]
taker_fee = "0"
maker_fee = "0"

[[venue.private.account]]
name = "drill"
api_key = "{KEY}"
secret = "{SECRET}"
balances = ["USDT:100000", "TEST:{BASE_START}"]
{faults}
"#,
            faults = setup.sim_faults
        );
        let sim_cfg = SimConfig::parse(&sim_text).map_err(|e| format!("simulator config: {e}"))?;
        let sim = start(&sim_cfg).map_err(|e| format!("simulator: {e}"))?;
        let ws = sim
            .endpoint("binance", EndpointKind::Ws)
            .ok_or("simulator has no ws endpoint")?
            .to_owned();
        let rest = sim
            .endpoint("binance", EndpointKind::Rest)
            .ok_or("simulator has no rest endpoint")?
            .to_owned();
        let ca = sim.ca_path().to_owned();
        let steps: Vec<String> = setup.steps.iter().map(|s| format!("{s:?}")).collect();
        let socket = dir.join("ctl.sock");
        let run_text = format!(
            r#"[engine]
topology = "shared"
wait = "spin-then-park"

[control]
socket = {socket:?}

[risk]
{risk}

[[venue]]
venue = "binance"
mode = "external"
ws_url = "{ws}"
rest_url = "{rest}"
ca_file = {ca:?}
channels = ["depth@100ms"]
trade = true
ws_api_url = "{ws}/ws-api/v3"
credentials_env = "{ENV_PREFIX}"
{venue}

[[venue.instrument]]
symbol = "TESTUSDT"
tick = "0.01"
lot = "0.0001"
min_qty = "0.0001"

[[strategy]]
kind = "script"
name = "drill"
instrument = "TESTUSDT"
every = 5
warmup = 100
repeat = {repeat}
steps = [{steps}]
"#,
            risk = setup.risk,
            venue = setup.venue,
            repeat = setup.repeat,
            steps = steps.join(", "),
        );
        let config = dir.join("run.toml");
        std::fs::write(&config, run_text).map_err(|e| format!("run config: {e}"))?;
        Ok(Self {
            journal: dir.join("journal"),
            socket,
            config,
            sim: Some(sim),
            bin: bin.to_owned(),
            dir,
        })
    }

    /// The simulator.
    pub fn sim(&self) -> &SimHandle {
        // Present until drop.
        self.sim
            .as_ref()
            .expect("simulator runs until the rig is dropped")
    }

    /// Starts `tickwire run` on the rig's config and journal for at most `secs` seconds.
    pub fn spawn_run(&self, secs: f64) -> Result<Child, String> {
        Command::new(&self.bin)
            .args(["run", "--config"])
            .arg(&self.config)
            .arg("--journal")
            .arg(&self.journal)
            .arg("--duration")
            .arg(secs.to_string())
            .env(format!("{ENV_PREFIX}_API_KEY"), KEY)
            .env(format!("{ENV_PREFIX}_API_SECRET"), SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting tickwire run: {e}"))
    }

    /// Runs `tickwire run` for `secs` seconds and returns its output (stdout then stderr);
    /// fails if it does not exit in time or exits with an error.
    pub fn run(&self, secs: f64) -> Result<String, String> {
        let child = self.spawn_run(secs)?;
        let out = wait_bounded(child, Duration::from_secs_f64(secs + 30.0))?;
        let text = text(&out);
        if !out.status.success() {
            return Err(format!("tickwire run failed:\n{text}"));
        }
        Ok(text)
    }

    /// Every journal record as JSON.
    pub fn records(&self) -> Result<Vec<Value>, String> {
        let out = Command::new(&self.bin)
            .args(["journal", "inspect", "--json"])
            .arg(&self.journal)
            .output()
            .map_err(|e| format!("journal inspect: {e}"))?;
        if !out.status.success() {
            return Err(format!("journal inspect failed:\n{}", text(&out)));
        }
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).map_err(|e| format!("journal JSON: {e}")))
            .collect()
    }

    /// `tickwire replay --verify` on the journal: `Ok` if it reproduces every output.
    pub fn replay_verify(&self) -> Result<String, String> {
        let out = Command::new(&self.bin)
            .arg("replay")
            .arg(&self.journal)
            .arg("--verify")
            .output()
            .map_err(|e| format!("replay: {e}"))?;
        let t = text(&out);
        if out.status.success() && t.contains("verify: OK") {
            Ok(t)
        } else {
            Err(t)
        }
    }

    /// The venue's position: the account's base-asset balance change.
    pub fn venue_position(&self) -> Result<Decimal, String> {
        let balances = self
            .sim()
            .balances("binance", "drill")
            .map_err(|e| e.to_string())?
            .ok_or("no simulated account")?;
        let test = balances
            .iter()
            .find(|b| b.asset == "TEST")
            .ok_or("no TEST balance")?;
        let start: Decimal = BASE_START.parse().map_err(|_| "start balance")?;
        Ok(test.free + test.locked - start)
    }

    /// The venue's quote asset locked by open orders.
    pub fn venue_locked_quote(&self) -> Result<Decimal, String> {
        let balances = self
            .sim()
            .balances("binance", "drill")
            .map_err(|e| e.to_string())?
            .ok_or("no simulated account")?;
        Ok(balances
            .iter()
            .find(|b| b.asset == "USDT")
            .map_or(Decimal::ZERO, |b| b.locked))
    }

    /// Sends one operator command to the running child's control socket.
    pub fn ctl(&self, verb: &str) -> Result<String, String> {
        let out = Command::new(&self.bin)
            .arg("ctl")
            .arg("--socket")
            .arg(&self.socket)
            .arg(verb)
            .output()
            .map_err(|e| format!("ctl: {e}"))?;
        let t = text(&out);
        if out.status.success() { Ok(t) } else { Err(t) }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(sim) = self.sim.take() {
            sim.shutdown();
        }
        // `TICKWIRE_DRILL_KEEP=1` keeps the journal and configs for a post-mortem.
        if std::env::var_os("TICKWIRE_DRILL_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Stdout then stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Waits for `child` at most `timeout`; kills it and fails after that.
pub fn wait_bounded(mut child: Child, timeout: Duration) -> Result<Output, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let out = child.wait_with_output().map_err(|e| e.to_string())?;
                return Err(format!(
                    "tickwire run did not exit within {timeout:?}:\n{}",
                    text(&out)
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("waiting for tickwire run: {e}")),
        }
    }
    child
        .wait_with_output()
        .map_err(|e| format!("tickwire run output: {e}"))
}

/// A TESTUSDT capture: a snapshot, then `n` diffs 10 ms apart that move only the size at the
/// best bid, so prices stay put and resting orders behind the touch stay open; at `drop_at`
/// one diff moves the whole book down through 98.50.
fn write_capture(dir: &Path, n: u64, drop_at: Option<u64>) -> Result<String, String> {
    let mut text = String::from(
        r#"1000000000 {"lastUpdateId":100,"bids":[["99.00000000","3.00000000"],["98.00000000","5.00000000"]],"asks":[["100.00000000","5.00000000"],["100.50000000","5.00000000"],["101.00000000","5.00000000"]]}"#,
    );
    text.push('\n');
    for i in 0..n {
        let u = 101 + i;
        let qty = if i % 2 == 0 {
            "4.00000000"
        } else {
            "3.00000000"
        };
        let dropped = drop_at.is_some_and(|d| i >= d);
        let (b, a) = match drop_at {
            Some(d) if i == d => (
                r#"["99.00000000","0"],["98.00000000","0"],["97.00000000","5.00000000"]"#
                    .to_owned(),
                r#"["100.00000000","0"],["100.50000000","0"],["98.40000000","5.00000000"]"#,
            ),
            _ if dropped => (format!(r#"["97.00000000","{qty}"]"#), ""),
            _ => (format!(r#"["99.00000000","{qty}"]"#), ""),
        };
        text.push_str(&format!(
            r#"{} {{"stream":"testusdt@depth@100ms","data":{{"e":"depthUpdate","E":{},"s":"TESTUSDT","U":{u},"u":{u},"b":[{b}],"a":[{a}]}}}}"#,
            2_000_000_000 + i * 10_000_000,
            1_700_000_000_100 + i
        ));
        text.push('\n');
    }
    let p = dir.join("testusdt.txt");
    let mut f = std::fs::File::create(&p).map_err(|e| format!("capture: {e}"))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("capture: {e}"))?;
    Ok(p.display().to_string())
}

/// Records of `kind`.
pub fn of_kind<'a>(recs: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    recs.iter().filter(move |r| r["kind"] == kind)
}

/// The engine's position computed from the journal: the signed sum of its distinct fills
/// (by venue trade id), less fees charged in the base asset.
pub fn position_from_fills(recs: &[Value]) -> Result<Decimal, String> {
    let mut seen = HashSet::new();
    let mut pos = Decimal::ZERO;
    for r in of_kind(recs, "fill") {
        let f = &r["record"];
        if !seen.insert(f["trade_id"].to_string()) {
            continue;
        }
        let q: Decimal = f["qty"]
            .as_str()
            .and_then(|q| q.parse().ok())
            .ok_or_else(|| format!("fill without a quantity: {r}"))?;
        pos += if f["side"] == "buy" { q } else { -q };
        // A fee charged in the base asset never reached the account.
        if f["fee_asset"] == "base" {
            let fee: Decimal = f["fee"]
                .as_str()
                .and_then(|q| q.parse().ok())
                .ok_or_else(|| format!("fill without a fee: {r}"))?;
            pos -= fee;
        }
    }
    Ok(pos)
}

/// The engine's own final position, as `tickwire run` printed it (`position: NAME SYMBOL QTY`).
pub fn printed_position(out: &str) -> Decimal {
    out.lines()
        .filter_map(|l| l.strip_prefix("position: "))
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter_map(|q| q.parse::<Decimal>().ok())
        .sum()
}
