//! Operator control: a unix socket served by the ops thread of `tickwire run`, and the
//! `tickwire ctl` client.
//!
//! Protocol: the client connects, writes one line `VERB [STRATEGY]\n` (`status`, `pause`,
//! `resume`, `reduce-only`, `flatten`, `kill`), and reads the reply until the server closes:
//! lines of text, the first of which starts with `ok` or `error`.
//!
//! A command is never applied here: it becomes an `OperatorCmd` input that the main thread
//! pushes into the core's control ring, so it is journaled and replay reproduces it. `status`
//! answers from the latest snapshot rows the core published on its status ring (see
//! `tickwire_core::engine::StatusPort`) — no lock is ever taken on the core thread.
//!
//! The socket file is created with mode 0600 (bound under a temporary name, restricted, then
//! renamed into place, so it is never reachable with wider permissions). A stale socket file
//! left by a crashed run is detected (nobody accepts on it) and replaced; a live one is an
//! error, so two engines never share a control path.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam::channel::Sender;
use tickwire_core::engine::StrategyMode;
use tickwire_core::engine::StrategyStatus;
use tickwire_core::event::{CancelAll, OperatorAction, Output};
use tickwire_core::ids::StrategyId;
use tickwire_core::ring::{Consumer, StopFlag};

use crate::Failure;
use crate::alerts::{AlertKey, AlertStats, Alerter, Names, describe};

/// An operator request for the main thread to turn into a core input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtlRequest {
    /// Target strategy or [`CancelAll::EVERY_STRATEGY`].
    pub strategy: StrategyId,
    /// What to do.
    pub action: OperatorAction,
}

/// A bound control socket; removes its file when dropped.
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ControlSocket {
    /// Binds `path` with mode 0600, replacing a stale socket file.
    pub fn bind(path: &Path) -> Result<Self, Failure> {
        let shown = path.display();
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => {
                if UnixStream::connect(path).is_ok() {
                    return Err(Failure::new(format!(
                        "control socket {shown} is in use by another process"
                    )));
                }
                std::fs::remove_file(path).map_err(|e| {
                    Failure::new(format!("removing stale control socket {shown}: {e}"))
                })?;
            }
            Ok(_) => {
                return Err(Failure::new(format!(
                    "control socket path {shown} exists and is not a socket"
                )));
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(Failure::new(format!("control socket {shown}: {e}"))),
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".{}.tmp", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let _ = std::fs::remove_file(&tmp);
        let listener = UnixListener::bind(&tmp)
            .map_err(|e| Failure::new(format!("control socket {shown}: {e}")))?;
        let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .and_then(|()| std::fs::rename(&tmp, path))
            .and_then(|()| listener.set_nonblocking(true));
        if let Err(e) = placed {
            let _ = std::fs::remove_file(&tmp);
            return Err(Failure::new(format!("control socket {shown}: {e}")));
        }
        Ok(Self {
            listener,
            path: path.to_owned(),
        })
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What the ops thread serves.
pub struct OpsPlan {
    /// The control socket, if configured.
    pub socket: Option<ControlSocket>,
    /// Status rows from the core.
    pub status: Consumer<StrategyStatus>,
    /// Alert and risk-decision copies from the core.
    pub alerts: Consumer<Output>,
    /// The alert sink.
    pub alerter: Alerter,
    /// Names for status and alert text.
    pub names: Names,
    /// Requests to the main thread.
    pub requests: Sender<CtlRequest>,
    /// Set when the run is over.
    pub stop: StopFlag,
    /// The journal's disk headroom, when the run journals.
    pub disk: Option<crate::disk::DiskWatch>,
}

/// Connections the control socket serves at once. A further connection evicts the one that
/// has been waiting longest, so idle or hostile clients can never lock an operator out.
const MAX_CLIENTS: usize = 64;

/// How long a connection may take to send its one request line.
const REQUEST_DEADLINE: Duration = Duration::from_secs(2);

/// The longest request line read (`VERB [STRATEGY]`).
const MAX_REQUEST: usize = 1024;

/// One control connection: non-blocking, served a little on every pass of the ops loop, so no
/// client ever waits behind another (`kill` cannot be delayed by a connection that says
/// nothing).
struct Client {
    stream: UnixStream,
    request: Vec<u8>,
    reply: Vec<u8>,
    written: usize,
    since: Instant,
}

/// What one pass over a client did.
enum Step {
    /// Still reading its request or writing its reply.
    Pending,
    /// Done (answered, failed, or out of time): close it.
    Done,
}

impl Client {
    fn new(stream: UnixStream, now: Instant) -> Option<Self> {
        stream.set_nonblocking(true).ok()?;
        Some(Self {
            stream,
            request: Vec::with_capacity(64),
            reply: Vec::new(),
            written: 0,
            since: now,
        })
    }

    /// Reads what has arrived, answers a complete line, writes what the socket takes.
    fn step(
        &mut self,
        now: Instant,
        names: &Names,
        latest: &[Option<StrategyStatus>],
        requests: &Sender<CtlRequest>,
    ) -> Step {
        if self.reply.is_empty() {
            let mut buf = [0u8; 256];
            loop {
                match self.stream.read(&mut buf) {
                    Ok(0) => {
                        // Closed before a full line: answer what was sent, if anything.
                        if self.request.is_empty() {
                            return Step::Done;
                        }
                        break;
                    }
                    Ok(n) => {
                        self.request.extend_from_slice(&buf[..n]);
                        if self.request.contains(&b'\n') || self.request.len() >= MAX_REQUEST {
                            break;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        if now.duration_since(self.since) > REQUEST_DEADLINE {
                            self.reply = b"error: no request line within 2 s\n".to_vec();
                        }
                        if self.reply.is_empty() {
                            return Step::Pending;
                        }
                        break;
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => return Step::Done,
                }
            }
            if self.reply.is_empty() {
                let end = self
                    .request
                    .iter()
                    .position(|&b| b == b'\n')
                    .unwrap_or(self.request.len())
                    .min(MAX_REQUEST);
                let line = String::from_utf8_lossy(&self.request[..end]).into_owned();
                self.reply = respond(line.trim(), names, latest, requests).into_bytes();
            }
        }
        while self.written < self.reply.len() {
            match self.stream.write(&self.reply[self.written..]) {
                Ok(0) => return Step::Done,
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    return if now.duration_since(self.since) > 2 * REQUEST_DEADLINE {
                        Step::Done
                    } else {
                        Step::Pending
                    };
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Step::Done,
            }
        }
        Step::Done
    }
}

/// The ops thread: serves the control socket, keeps the latest status rows, logs and sends
/// alerts. Returns the alert counters when the run stops.
pub fn serve(mut plan: OpsPlan) -> AlertStats {
    let mut latest: Vec<Option<StrategyStatus>> = vec![None; plan.names.strategies.len()];
    let mut clients: Vec<Client> = Vec::with_capacity(MAX_CLIENTS);
    loop {
        let stopping = plan.stop.is_set();
        while let Some(row) = plan.status.try_pop() {
            if let Some(slot) = latest.get_mut(usize::from(row.strategy.0)) {
                *slot = Some(row);
            }
        }
        while let Some(o) = plan.alerts.try_pop() {
            if let Some((key, text)) = describe(&o, &plan.names) {
                plan.alerter.raise(key, &text, Instant::now());
            }
        }
        if let Some(sock) = &plan.socket {
            let now = Instant::now();
            loop {
                match sock.listener.accept() {
                    Ok((stream, _)) => {
                        if clients.len() == MAX_CLIENTS {
                            // The oldest connection goes; a new one is as likely to be the
                            // operator's `kill` as any.
                            let oldest = clients
                                .iter()
                                .enumerate()
                                .min_by_key(|(_, c)| c.since)
                                .map(|(i, _)| i);
                            if let Some(i) = oldest {
                                clients.swap_remove(i);
                            }
                        }
                        if let Some(c) = Client::new(stream, now) {
                            clients.push(c);
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => {
                        errln!("control socket: accept failed: {e}");
                        break;
                    }
                }
            }
            clients.retain_mut(|c| {
                matches!(
                    c.step(now, &plan.names, &latest, &plan.requests),
                    Step::Pending
                )
            });
        }
        if let Some(text) = plan.disk.as_mut().and_then(|d| d.check(Instant::now())) {
            plan.alerter.raise(AlertKey::host(1), &text, Instant::now());
        }
        if stopping && plan.alerts.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    plan.alerter.finish()
}

fn respond(
    line: &str,
    names: &Names,
    latest: &[Option<StrategyStatus>],
    requests: &Sender<CtlRequest>,
) -> String {
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or("");
    let target = words.next();
    if words.next().is_some() {
        return "error: expected `VERB [STRATEGY]`\n".into();
    }
    let strategy = match target {
        None => CancelAll::EVERY_STRATEGY,
        Some(name) => match names.strategies.iter().position(|n| n == name) {
            Some(i) => StrategyId(i as u16),
            None => return format!("error: unknown strategy {name:?}\n"),
        },
    };
    if verb == "status" {
        return status_text(names, latest, strategy);
    }
    let action = match OperatorAction::from_name(verb) {
        Some(a) if a != OperatorAction::Shutdown => a,
        _ => {
            return format!(
                "error: unknown command {verb:?} (status, pause, resume, reduce-only, flatten, kill)\n"
            );
        }
    };
    match requests.send(CtlRequest { strategy, action }) {
        Ok(()) => format!(
            "ok: {verb} sent to {} (journaled as an operator input)\n",
            target.unwrap_or("every strategy")
        ),
        Err(_) => "error: the engine is shutting down\n".into(),
    }
}

fn mode_name(m: StrategyMode) -> &'static str {
    match m {
        StrategyMode::Active => "active",
        StrategyMode::Paused => "paused",
        StrategyMode::ReduceOnly => "reduce-only",
        StrategyMode::Stopping => "stopping",
    }
}

fn status_text(names: &Names, latest: &[Option<StrategyStatus>], only: StrategyId) -> String {
    let mut out =
        String::from("ok\nstrategy mode level open_orders gross_position pnl incident_pnl\n");
    for (i, name) in names.strategies.iter().enumerate() {
        if only != CancelAll::EVERY_STRATEGY && usize::from(only.0) != i {
            continue;
        }
        match latest.get(i).copied().flatten() {
            Some(r) => out.push_str(&format!(
                "{name} {} {} {} {} {} {}\n",
                mode_name(r.mode),
                r.level,
                r.open_orders,
                r.gross_position,
                r.pnl,
                r.incident_pnl
            )),
            None => out.push_str(&format!("{name} (no snapshot yet)\n")),
        }
    }
    out
}

/// `tickwire ctl`: sends one command and prints the reply; fails if the reply is an error.
/// What `tickwire ctl` asks a running engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CtlCommand {
    /// Print each strategy's mode, risk level, open orders, position and P&L.
    Status,
    /// Stop opening orders; keep managing open ones.
    Pause,
    /// Back to normal (clears escalation and tripped breakers).
    Resume,
    /// Only orders that reduce the position.
    ReduceOnly,
    /// Close positions under the flatten budget.
    Flatten,
    /// Cancel everything, confirm, flatten.
    Kill,
}

impl CtlCommand {
    /// The verb on the control socket's line protocol.
    fn verb(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::ReduceOnly => "reduce-only",
            Self::Flatten => "flatten",
            Self::Kill => "kill",
        }
    }
}

/// Sends one command to the control socket and prints the engine's answer.
pub fn ctl(socket: &Path, command: CtlCommand, strategy: Option<&str>) -> Result<(), Failure> {
    let verb = command.verb();
    let mut stream = UnixStream::connect(socket)
        .map_err(|e| Failure::new(format!("control socket {}: {e}", socket.display())))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| Failure::new(e.to_string()))?;
    let line = match strategy {
        Some(s) => format!("{verb} {s}\n"),
        None => format!("{verb}\n"),
    };
    stream
        .write_all(line.as_bytes())
        .map_err(|e| Failure::new(format!("control socket: {e}")))?;
    let mut reply = String::new();
    stream
        .read_to_string(&mut reply)
        .map_err(|e| Failure::new(format!("control socket: {e}")))?;
    if let Some(msg) = reply.strip_prefix("error: ") {
        return Err(Failure::new(msg.trim_end().to_owned()));
    }
    out!("{reply}");
    Ok(())
}
