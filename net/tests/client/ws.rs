//! The WebSocket client against real rustls + tungstenite servers on 127.0.0.1, over real
//! TLS with a CA and certificate generated per test.

use crate::support;

use std::io::{self, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};
use support::{
    Driver, LIMIT, Pki, ServerTls, accept_within, clock, listener, raw_frame, read_http_request,
    tls_accept, write_in_pieces,
};
use tickwire_net::ws::{MessageKind, WsClient, WsOptions, WsPhase, WsStatus};
use tickwire_net::{NetError, TimeoutKind};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

type ServerWs = WebSocket<ServerTls>;

/// Runs `scenario` on the server side of one WebSocket connection in a thread; returns the URL
/// to connect to and the thread's handle.
fn ws_server<T, F>(pki: &Pki, scenario: F) -> (String, thread::JoinHandle<T>)
where
    T: Send + 'static,
    F: FnOnce(ServerWs) -> T + Send + 'static,
{
    let (listener, port) = listener();
    let config = pki.server_config();
    let handle = thread::spawn(move || {
        let tcp = accept_within(&listener).expect("accept");
        let tls = tls_accept(tcp, &config).expect("server TLS handshake");
        let ws = tungstenite::accept(tls).expect("server WebSocket handshake");
        scenario(ws)
    });
    (
        format!("wss://127.0.0.1:{port}/stream?streams=btcusdt@depth"),
        handle,
    )
}

fn connect(url: &str, pki: &Pki) -> Driver {
    connect_with(url, pki, WsOptions::default())
}

fn connect_with(url: &str, pki: &Pki, options: WsOptions) -> Driver {
    Driver::new(WsClient::connect(url, pki.client_config(), options, clock).expect("connect"))
}

/// Server side: reads until the client's close frame and the end of the close handshake;
/// returns the close code the client sent.
fn serve_until_client_closes(ws: &mut ServerWs) -> Option<u16> {
    let mut code = None;
    loop {
        match ws.read() {
            Ok(Message::Close(frame)) => code = frame.map(|f| u16::from(f.code)),
            Ok(_) => {}
            Err(_) => return code,
        }
    }
}

/// Server side: starts the close handshake and completes it.
fn server_close(ws: &mut ServerWs, code: CloseCode, reason: &str) {
    ws.close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
    .expect("server close");
    while ws.read().is_ok() {}
}

#[test]
fn thousands_of_text_and_binary_messages_arrive_in_order_then_clean_close() {
    const N: u32 = 5_000;
    let pki = Pki::new();
    let (url, server) = ws_server(&pki, |mut ws| {
        for i in 0..N {
            let msg = if i % 2 == 0 {
                Message::text(format!("{{\"seq\":{i},\"s\":\"BTCUSDT\"}}"))
            } else {
                Message::binary(i.to_le_bytes().to_vec())
            };
            ws.write(msg).unwrap();
        }
        ws.flush().unwrap();
        server_close(&mut ws, CloseCode::Normal, "done");
    });
    let mut d = connect(&url, &pki);
    let end = d.until_end();
    server.join().unwrap();

    let info = end.expect("clean close");
    assert_eq!(info.code, 1000);
    assert_eq!(info.reason, "done");
    assert!(info.by_peer);
    assert_eq!(d.opened_calls, 1);
    assert_eq!(d.received.len(), N as usize);
    let mut last_ns = 0;
    for (i, msg) in (0..N).zip(&d.received) {
        if i % 2 == 0 {
            assert_eq!(msg.kind, MessageKind::Text);
            assert_eq!(
                msg.data,
                format!("{{\"seq\":{i},\"s\":\"BTCUSDT\"}}").into_bytes()
            );
        } else {
            assert_eq!(msg.kind, MessageKind::Binary);
            assert_eq!(msg.data, i.to_le_bytes());
        }
        assert!(msg.recv_ns >= last_ns, "receive stamps go forward");
        last_ns = msg.recv_ns;
    }
    assert!(last_ns <= clock());
    let stats = d.client.stats();
    assert_eq!(stats.messages, u64::from(N));
    assert_eq!(d.client.phase(), WsPhase::Finished);
    assert!(matches!(d.client.poll(|_| {}), Err(NetError::NotOpen)));
    assert!(matches!(d.client.send_text("late"), Err(NetError::NotOpen)));
}

#[test]
fn one_mebibyte_message() {
    let payload: Vec<u8> = (0..1u32 << 20).map(|i| (i * 7 % 251) as u8).collect();
    let expected = payload.clone();
    let pki = Pki::new();
    let (url, server) = ws_server(&pki, move |mut ws| {
        ws.send(Message::binary(payload)).unwrap();
        ws.send(Message::text("after")).unwrap();
        server_close(&mut ws, CloseCode::Normal, "");
    });
    let mut d = connect(&url, &pki);
    assert!(d.until_end().is_ok());
    server.join().unwrap();
    assert_eq!(d.received.len(), 2);
    assert_eq!(d.received[0].kind, MessageKind::Binary);
    assert!(d.received[0].data == expected, "1 MiB payload intact");
    assert_eq!(d.received[1].data, b"after");
}

#[test]
fn message_split_across_hundreds_of_tls_records() {
    let json: String = format!(
        "{{\"e\":\"depthUpdate\",\"b\":[{}]}}",
        (0..100)
            .map(|i| format!("[\"6183{i}.63000000\",\"0.{i:08}\"]"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let expected = json.clone();
    let pki = Pki::new();
    let (url, server) = ws_server(&pki, move |mut ws| {
        // 7 plaintext bytes per TLS record: the frame header itself is split too.
        let frame = raw_frame(true, 0x1, json.as_bytes());
        write_in_pieces(ws.get_mut(), &frame, 7).unwrap();
        let small = raw_frame(true, 0x2, &[9; 300]);
        write_in_pieces(ws.get_mut(), &small, 1).unwrap();
        server_close(&mut ws, CloseCode::Normal, "");
        frame.len() / 7
    });
    let mut d = connect(&url, &pki);
    assert!(d.until_end().is_ok());
    let records = server.join().unwrap();
    assert!(records > 400, "{records} records");
    assert_eq!(d.received.len(), 2);
    assert_eq!(d.received[0].data, expected.as_bytes());
    assert_eq!(d.received[1].data, vec![9; 300]);
}

#[test]
fn fragmented_messages_with_a_ping_between_fragments() {
    let pki = Pki::new();
    let (url, server) = ws_server(&pki, |mut ws| {
        let mut bytes = raw_frame(false, 0x1, b"{\"a\":");
        bytes.extend(raw_frame(false, 0x0, b"1,"));
        // Control frames may be interleaved with a fragmented message (RFC 6455 §5.4).
        bytes.extend(raw_frame(true, 0x9, b"mid"));
        bytes.extend(raw_frame(true, 0x0, b"\"b\":2}"));
        bytes.extend(raw_frame(false, 0x2, &[1, 2, 3]));
        bytes.extend(raw_frame(false, 0x0, &[]));
        bytes.extend(raw_frame(true, 0x0, &[4, 5]));
        let stream = ws.get_mut();
        stream.write_all(&bytes).unwrap();
        stream.flush().unwrap();
        let pong = loop {
            match ws.read().unwrap() {
                Message::Pong(p) => break p.to_vec(),
                _ => continue,
            }
        };
        server_close(&mut ws, CloseCode::Normal, "");
        pong
    });
    let mut d = connect(&url, &pki);
    assert!(d.until_end().is_ok());
    assert_eq!(server.join().unwrap(), b"mid");
    let got: Vec<(MessageKind, Vec<u8>)> = d
        .received
        .iter()
        .map(|m| (m.kind, m.data.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (MessageKind::Text, b"{\"a\":1,\"b\":2}".to_vec()),
            (MessageKind::Binary, vec![1, 2, 3, 4, 5]),
        ]
    );
    assert_eq!(d.client.stats().pings, 1);
}

#[test]
fn server_ping_gets_a_pong_with_the_same_payload_and_client_ping_gets_answered() {
    let pki = Pki::new();
    let (url, server) = ws_server(&pki, |mut ws| {
        ws.send(Message::Ping(b"keepalive-123"[..].into())).unwrap();
        let mut pong = None;
        let mut client_ping = None;
        // tungstenite answers the client's ping on its own while reading.
        while pong.is_none() || client_ping.is_none() {
            match ws.read().unwrap() {
                Message::Pong(p) => pong = Some(p.to_vec()),
                Message::Ping(p) => client_ping = Some(p.to_vec()),
                _ => {}
            }
        }
        ws.flush().unwrap();
        let code = serve_until_client_closes(&mut ws);
        (pong, client_ping, code)
    });
    let mut d = connect(&url, &pki);
    d.open();
    d.client.send_ping(b"from-client").unwrap();
    d.until("the server's ping and the pong to ours", |d| {
        let s = d.client.stats();
        s.pings == 1 && s.pongs == 1
    });
    d.client.close().unwrap();
    let info = d.until_end().expect("clean close");
    assert!(!info.by_peer);
    let (pong, client_ping, code) = server.join().unwrap();
    assert_eq!(pong.as_deref(), Some(&b"keepalive-123"[..]));
    assert_eq!(client_ping.as_deref(), Some(&b"from-client"[..]));
    assert_eq!(code, Some(1000));
    assert!(
        d.received.is_empty(),
        "control frames are not delivered as messages"
    );
}

#[test]
fn server_close_is_reported_as_a_clean_close_with_code_and_reason() {
    let pki = Pki::new();
    let (url, server) = ws_server(&pki, |mut ws| {
        ws.send(Message::text("last words")).unwrap();
        server_close(&mut ws, CloseCode::Away, "server maintenance");
    });
    let mut d = connect(&url, &pki);
    let info = d.until_end().expect("clean close");
    server.join().unwrap();
    assert_eq!(info.code, 1001);
    assert_eq!(info.reason, "server maintenance");
    assert!(info.by_peer);
    assert_eq!(
        d.received.len(),
        1,
        "messages before the close are delivered"
    );
}

#[test]
fn abrupt_disconnect_is_an_error_not_a_close() {
    let pki = Pki::new();
    let (url, server) = ws_server(&pki, |mut ws| {
        ws.send(Message::text("tick")).unwrap();
        // No close frame, no close_notify: the venue's process died.
        ws.get_ref().sock.shutdown(Shutdown::Both).unwrap();
    });
    let mut d = connect(&url, &pki);
    let err = d.until_end().expect_err("an abrupt end is an error");
    server.join().unwrap();
    assert!(
        matches!(&err, NetError::Io(e) if matches!(
            e.kind(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
        )),
        "{err:?}"
    );
    assert!(!err.is_timeout());
    assert_eq!(d.received.len(), 1);
}

#[test]
fn send_text_reaches_the_server_and_client_close_completes() {
    let pki = Pki::new();
    let (url, server) = ws_server(&pki, |mut ws| {
        let mut seen = Vec::new();
        while seen.len() < 2 {
            if let Message::Text(t) = ws.read().unwrap() {
                ws.send(Message::text(format!("echo:{t}"))).unwrap();
                seen.push(t.to_string());
            }
        }
        (seen, serve_until_client_closes(&mut ws))
    });
    let mut d = connect(&url, &pki);
    assert!(matches!(
        d.client.send_text("too early"),
        Err(NetError::NotOpen)
    ));
    d.open();
    let before = d.client.last_tx_ns();
    d.client
        .send_text(r#"{"method":"SUBSCRIBE","params":["btcusdt@depth"],"id":1}"#)
        .unwrap();
    d.client.send_text("ping").unwrap();
    assert!(d.client.last_tx_ns() >= before);
    d.until("two echoes", |d| d.received.len() == 2);
    d.client.close().unwrap();
    assert_eq!(d.client.phase(), WsPhase::Closing);
    assert!(matches!(
        d.client.send_text("after close"),
        Err(NetError::NotOpen)
    ));
    let info = d.until_end().expect("clean close");
    assert_eq!(info.code, 1000);
    assert!(!info.by_peer);
    let (seen, code) = server.join().unwrap();
    assert_eq!(
        seen,
        [
            r#"{"method":"SUBSCRIBE","params":["btcusdt@depth"],"id":1}"#,
            "ping"
        ]
    );
    assert_eq!(code, Some(1000));
    assert_eq!(d.received[1].data, b"echo:ping");
}

#[test]
fn untrusted_server_certificate_is_a_clear_tls_error() {
    let venue = Pki::new();
    let other = Pki::new();
    let (listener, port) = listener();
    let config = venue.server_config();
    let server = thread::spawn(move || {
        let tcp = accept_within(&listener).expect("accept");
        tls_accept(tcp, &config).map(|_| ())
    });
    let url = format!("wss://127.0.0.1:{port}/ws");
    let client = WsClient::connect(&url, other.client_config(), WsOptions::default(), clock)
        .expect("connect starts");
    let err = Driver::new(client)
        .until_end()
        .expect_err("must not connect");
    assert!(
        matches!(
            &err,
            NetError::Tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            ))
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("certificate"), "{err}");
    // The client told the server why (an alert), so the server fails too.
    assert!(server.join().unwrap().is_err());
}

#[test]
fn connection_refused_is_a_clear_connect_error() {
    let (listener, port) = listener();
    drop(listener);
    let pki = Pki::new();
    let url = format!("wss://127.0.0.1:{port}/ws");
    let err = match WsClient::connect(&url, pki.client_config(), WsOptions::default(), clock) {
        Err(err) => err,
        Ok(client) => Driver::new(client)
            .until_end()
            .expect_err("nothing listens"),
    };
    match &err {
        NetError::Connect { addr, source } => {
            assert_eq!(addr.port(), port);
            assert_eq!(source.kind(), io::ErrorKind::ConnectionRefused);
        }
        other => panic!("expected Connect, got {other:?}"),
    }
    assert!(
        err.to_string().starts_with("cannot connect to 127.0.0.1:"),
        "{err}"
    );
}

#[test]
fn host_name_url_verifies_against_the_dns_name() {
    let pki = Pki::new();
    let (url, server) = ws_server(&pki, |mut ws| {
        ws.send(Message::text("hello")).unwrap();
        server_close(&mut ws, CloseCode::Normal, "");
    });
    let url = url.replace("127.0.0.1", "localhost");
    let mut d = connect(&url, &pki);
    assert!(d.until_end().is_ok());
    server.join().unwrap();
    assert_eq!(d.received[0].data, b"hello");
}

#[test]
fn refused_upgrade_reports_the_http_status() {
    let pki = Pki::new();
    let (listener, port) = listener();
    let config = pki.server_config();
    let server = thread::spawn(move || {
        let tcp = accept_within(&listener).unwrap();
        let mut tls = tls_accept(tcp, &config).unwrap();
        let mut buf = Vec::new();
        let request = read_http_request(&mut tls, &mut buf).unwrap();
        tls.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        tls.flush().unwrap();
        request.map(|(method, path, _)| (method, path))
    });
    let url = format!("wss://127.0.0.1:{port}/ws/btcusdt@trade?x=1");
    let err = connect(&url, &pki).until_end().expect_err("refused");
    assert!(matches!(err, NetError::Upgrade { status: 403 }), "{err:?}");
    let (method, path) = server.join().unwrap().expect("a request");
    assert_eq!(method, "GET");
    assert_eq!(path, "/ws/btcusdt@trade?x=1");
}

#[test]
fn silent_server_during_tls_is_a_connect_timeout() {
    let (listener, port) = listener();
    let (release, released) = mpsc::channel::<()>();
    let server = thread::spawn(move || {
        let _tcp = accept_within(&listener).unwrap();
        // Hold the TCP connection open without ever answering the ClientHello.
        let _ = released.recv_timeout(LIMIT);
    });
    let pki = Pki::new();
    let options = WsOptions {
        connect_timeout: Duration::from_millis(300),
        ..WsOptions::default()
    };
    let mut d = connect_with(&format!("wss://127.0.0.1:{port}/"), &pki, options);
    let err = d.until_end().expect_err("times out");
    assert!(
        matches!(err, NetError::Timeout(TimeoutKind::Connect)),
        "{err:?}"
    );
    release.send(()).unwrap();
    server.join().unwrap();
}

static FAKE_NOW: AtomicU64 = AtomicU64::new(1_000_000_000);

fn fake_clock() -> u64 {
    FAKE_NOW.load(Ordering::SeqCst)
}

#[test]
fn receive_stamps_keepalive_age_and_idle_timeout_follow_the_injected_clock() {
    const SEC: u64 = 1_000_000_000;
    let pki = Pki::new();
    let (release, released) = mpsc::channel::<()>();
    let (url, server) = ws_server(&pki, move |mut ws| {
        ws.send(Message::text("only message")).unwrap();
        let _ = released.recv_timeout(LIMIT);
    });
    let options = WsOptions {
        rx_timeout: Some(Duration::from_secs(30)),
        ..WsOptions::default()
    };
    let client = WsClient::connect(&url, pki.client_config(), options, fake_clock).unwrap();
    let mut d = Driver::new(client);
    d.until("the message", |d| d.received.len() == 1);
    let t0 = fake_clock();
    assert_eq!(d.received[0].recv_ns, t0, "stamped with the injected clock");
    assert_eq!(d.client.last_rx_ns(), t0);
    assert_eq!(d.client.opened_at_ns(), Some(t0));

    // 25 s of silence: an OKX adapter would send its text ping now.
    FAKE_NOW.fetch_add(25 * SEC, Ordering::SeqCst);
    assert_eq!(d.client.rx_idle_ns(fake_clock()), 25 * SEC);
    assert!(matches!(
        d.poll_once(),
        Ok(WsStatus::Open { messages: 0, .. })
    ));
    assert_eq!(d.client.tx_idle_ns(fake_clock()), 25 * SEC);
    d.client.send_text("ping").unwrap();
    assert_eq!(d.client.tx_idle_ns(fake_clock()), 0);
    assert_eq!(d.client.age_ns(fake_clock()), 25 * SEC);
    let day = Duration::from_secs(24 * 3600);
    let margin = Duration::from_secs(600);
    assert!(!d.client.rotation_due(fake_clock(), day, margin));
    assert!(
        d.client
            .rotation_due(t0 + 23 * 3600 * SEC + 3000 * SEC, day, margin)
    );

    // Nothing received for 30 s in total: the idle timeout fires.
    FAKE_NOW.fetch_add(5 * SEC, Ordering::SeqCst);
    let err = d.poll_once().expect_err("idle timeout");
    assert!(
        matches!(err, NetError::Timeout(TimeoutKind::Idle)),
        "{err:?}"
    );
    assert_eq!(d.client.phase(), WsPhase::Finished);
    assert_eq!(d.client.last_rx_ns(), t0, "stamps survive the end");
    release.send(()).unwrap();
    server.join().unwrap();
}

#[test]
fn event_driven_polling_with_mio_loses_nothing() {
    const BURSTS: u32 = 40;
    const PER_BURST: u32 = 50;
    let pki = Pki::new();
    let (url, server) = ws_server(&pki, |mut ws| {
        for burst in 0..BURSTS {
            for i in 0..PER_BURST {
                ws.write(Message::text(format!("{}", burst * PER_BURST + i)))
                    .unwrap();
            }
            ws.flush().unwrap();
            thread::sleep(Duration::from_millis(2));
        }
        serve_until_client_closes(&mut ws)
    });

    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(8);
    let token = Token(7);
    let mut client =
        WsClient::connect(&url, pki.client_config(), WsOptions::default(), clock).expect("connect");
    client.register(poll.registry(), token).unwrap();
    let mut received: Vec<u32> = Vec::new();
    let deadline = Instant::now() + LIMIT;
    // The client is polled only when its token fires: every step of the connect state
    // machine and every drain must leave nothing behind that needs another edge.
    while received.len() < (BURSTS * PER_BURST) as usize {
        poll.poll(&mut events, Some(Duration::from_millis(200)))
            .unwrap();
        if events.iter().any(|e| e.token() == token) {
            let status = client
                .poll(|m| {
                    let text = std::str::from_utf8(m.data).unwrap();
                    received.push(text.parse().unwrap());
                })
                .expect("poll");
            assert!(!matches!(status, WsStatus::Closed(_)));
        }
        assert!(
            Instant::now() < deadline,
            "stalled at {} messages",
            received.len()
        );
    }
    assert!(received.iter().copied().eq(0..BURSTS * PER_BURST));
    client.close().unwrap();
    let mut d = Driver::new(client);
    assert!(d.until_end().is_ok());
    assert_eq!(server.join().unwrap(), Some(1000));
}
