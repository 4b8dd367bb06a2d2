//! Loopback echo through the feeds' network stack: the floor under every feed and order
//! latency figure (DESIGN §11).
//!
//! A server thread (blocking rustls + tungstenite, as the venue simulator would be) echoes
//! every message; the client is `tickwire_net::ws::WsClient`, busy-polled. Reported:
//!
//! - `ws_echo/tls_ws`: round trip of a 120-byte text message, from just before `send_text` to
//!   the receive stamp of the echo (taken at the socket read, before any parsing);
//! - `ws_echo/tcp_floor`: the same round trip over bare loopback TCP in the same run, so the
//!   ratio shows what TLS and WebSocket framing cost on top of the kernel;
//! - heap allocations per message on the client's receive path (`poll`) and send path
//!   (`send_text`), counted by a global allocator on the client thread only.
//!
//! Medians and percentiles come from sorting the samples (no histogram). No wall-clock
//! figure is asserted anywhere.
//!
//! Run: `cargo bench -p tickwire-benches --bench ws_echo` (add `--profile fastrel` for quick
//! iterations). The client spins on one core with a yield between empty polls; the server
//! thread blocks in `recv`, so a 2-core host stays usable.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Instant;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use tickwire_core::wait::{Backoff, WaitPolicy};
use tickwire_net::tls;
use tickwire_net::ws::{WsClient, WsOptions, WsStatus};

/// Untimed round trips before measuring (TLS session warm, caches, branch predictors).
const WARM_UP: usize = 2_000;
/// Timed round trips per stack.
const SAMPLES: usize = 20_000;
/// A bookTicker-sized message.
const PAYLOAD: &str = r#"{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.5469800"}"#;

// ---- allocation counting (client thread only) ---------------------------------------------

/// Counts allocations made while the current thread's `COUNTING` flag is set.
struct CountingAlloc;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the only
// addition is a relaxed counter increment and a const thread-local read, neither of which
// allocates or touches the memory being managed.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours, passed through.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` via `alloc`/`realloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours, passed through.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` came from `System` with `layout`; `new_size` is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn count() {
    // try_with: the flag may already be destroyed while a thread exits.
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs `f` with allocation counting on; returns its result and the allocations it made.
fn counted<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    let out = f();
    COUNTING.with(|c| c.set(false));
    (out, ALLOCATIONS.load(Ordering::Relaxed) - before)
}

// ---- clock, PKI -----------------------------------------------------------------------------

fn now_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// A CA (PEM) and a server configuration with a certificate it issued for 127.0.0.1.
fn pki() -> (String, Arc<ServerConfig>) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
        .expect("CA certificate");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("leaf params")
        .signed_by(&leaf_key, &ca)
        .expect("leaf certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let config = ServerConfig::builder_with_provider(tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .expect("server certificate");
    (ca.pem(), Arc::new(config))
}

// ---- the two stacks -------------------------------------------------------------------------

struct Run {
    rtt_ns: Vec<u64>,
    recv_allocs: u64,
    send_allocs: u64,
}

fn tls_ws_echo() -> Run {
    let (ca_pem, server_config) = pki();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        tcp.set_nodelay(true).expect("nodelay");
        let conn = ServerConnection::new(server_config).expect("server session");
        let mut ws = tungstenite::accept(StreamOwned::new(conn, tcp)).expect("ws accept");
        // Echo until the client closes.
        while let Ok(msg) = ws.read() {
            if (msg.is_text() || msg.is_binary()) && ws.send(msg).is_err() {
                break;
            }
        }
    });

    let client_tls = tls::client_config_from_ca_pem(ca_pem.as_bytes()).expect("client TLS");
    let url = format!("wss://127.0.0.1:{port}/echo");
    let mut ws =
        WsClient::connect(&url, client_tls, WsOptions::default(), now_ns).expect("connect");
    let mut wait = Backoff::new(WaitPolicy::spin_then_yield());
    while !ws.is_open() {
        match ws.poll(|_| {}) {
            Ok(WsStatus::Connecting | WsStatus::Open { .. }) => wait.idle(),
            other => panic!("connect failed: {other:?}"),
        }
    }

    let mut rtt_ns = Vec::with_capacity(SAMPLES);
    let mut recv_allocs = 0;
    let mut send_allocs = 0;
    for i in 0..WARM_UP + SAMPLES {
        let t0 = now_ns();
        let (sent, allocs) = counted(|| ws.send_text(PAYLOAD));
        sent.expect("send");
        let timed = i >= WARM_UP;
        if timed {
            send_allocs += allocs;
        }
        let mut echoed_at = None;
        wait.reset();
        while echoed_at.is_none() {
            let (polled, allocs) = counted(|| {
                ws.poll(|m| {
                    debug_assert_eq!(m.data.len(), PAYLOAD.len());
                    echoed_at = Some(m.recv_ns);
                })
            });
            if timed {
                recv_allocs += allocs;
            }
            match polled {
                Ok(WsStatus::Open { messages: 0, .. }) => wait.idle(),
                Ok(WsStatus::Open { .. }) => {}
                other => panic!("echo failed: {other:?}"),
            }
        }
        if let (true, Some(t1)) = (timed, echoed_at) {
            rtt_ns.push(t1.saturating_sub(t0));
        }
    }
    ws.close().expect("close");
    loop {
        match ws.poll(|_| {}) {
            Ok(WsStatus::Closed(_)) | Err(_) => break,
            Ok(_) => wait.idle(),
        }
    }
    server.join().expect("echo server");
    Run {
        rtt_ns,
        recv_allocs,
        send_allocs,
    }
}

fn tcp_floor() -> Run {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    let len = PAYLOAD.len();
    let server = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().expect("accept");
        tcp.set_nodelay(true).expect("nodelay");
        let mut buf = vec![0u8; len];
        while tcp.read_exact(&mut buf).is_ok() {
            if tcp.write_all(&buf).is_err() {
                break;
            }
        }
    });
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    tcp.set_nonblocking(true).expect("nonblocking");
    let mut wait = Backoff::new(WaitPolicy::spin_then_yield());
    let mut buf = vec![0u8; len];
    let mut rtt_ns = Vec::with_capacity(SAMPLES);
    for i in 0..WARM_UP + SAMPLES {
        let t0 = now_ns();
        tcp.write_all(PAYLOAD.as_bytes()).expect("send");
        let mut got = 0;
        let mut t1 = 0;
        wait.reset();
        while got < len {
            match tcp.read(&mut buf[got..]) {
                Ok(0) => panic!("echo server closed"),
                Ok(n) => {
                    got += n;
                    t1 = now_ns();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait.idle(),
                Err(e) => panic!("read: {e}"),
            }
        }
        if i >= WARM_UP {
            rtt_ns.push(t1 - t0);
        }
    }
    drop(tcp);
    server.join().expect("echo server");
    Run {
        rtt_ns,
        recv_allocs: 0,
        send_allocs: 0,
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx]
}

fn report(name: &str, run: &mut Run) -> u64 {
    run.rtt_ns.sort_unstable();
    let s = &run.rtt_ns;
    let median = percentile(s, 0.5);
    println!(
        "{name:<20} round trip ns: min {:>7}  median {:>7}  p90 {:>7}  p99 {:>7}  max {:>8}  (n={})",
        s[0],
        median,
        percentile(s, 0.9),
        percentile(s, 0.99),
        s[s.len() - 1],
        s.len()
    );
    median
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and expects a
    // quick run: do the work only when benchmarking.
    if !std::env::args().any(|a| a == "--bench") {
        println!("ws_echo: run with `cargo bench -p tickwire-benches --bench ws_echo`");
        return;
    }
    let mut floor = tcp_floor();
    let mut stack = tls_ws_echo();
    let floor_median = report("ws_echo/tcp_floor", &mut floor);
    let stack_median = report("ws_echo/tls_ws", &mut stack);
    println!(
        "ws_echo/tls_ws over tcp_floor: {:.2}x median",
        stack_median as f64 / floor_median.max(1) as f64
    );
    let n = stack.rtt_ns.len() as f64;
    println!(
        "ws_echo/tls_ws client heap allocations per message: receive path (poll) {:.2}, send path (send_text) {:.2}",
        stack.recv_allocs as f64 / n,
        stack.send_allocs as f64 / n
    );
}
