//! The test PKI gives a working TLS session on loopback, and a client trusting another CA
//! refuses it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConnection, StreamOwned};
use tickwire_testkit::tls::Pki;

fn exchange(pki: &Pki, client: Arc<ClientConfig>) -> std::io::Result<Vec<u8>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let server_config = pki.server_config();
    let server = thread::spawn(move || -> std::io::Result<()> {
        let (tcp, _) = listener.accept()?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        let conn = ServerConnection::new(server_config).map_err(std::io::Error::other)?;
        let mut tls = StreamOwned::new(conn, tcp);
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf)?;
        tls.write_all(&buf)?;
        tls.flush()
    });
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let name = ServerName::try_from("127.0.0.1").map_err(std::io::Error::other)?;
    let conn = ClientConnection::new(client, name).map_err(std::io::Error::other)?;
    let mut tls = StreamOwned::new(conn, tcp);
    let result = tls.write_all(b"ping").and_then(|()| {
        let mut back = vec![0u8; 4];
        tls.read_exact(&mut back).map(|()| back)
    });
    drop(tls);
    let _ = server.join();
    result
}

#[test]
fn loopback_session_with_own_ca_and_refused_with_another() {
    let pki = Pki::new();
    assert_eq!(exchange(&pki, pki.client_config()).expect("echo"), b"ping");
    let other = Pki::new();
    assert!(
        exchange(&pki, other.client_config()).is_err(),
        "a client trusting another CA must refuse the certificate"
    );
}
