//! A throw-away PKI for real-TLS tests on loopback: a CA and a server certificate it issued
//! for `localhost` and `127.0.0.1`, with the server and client configurations built the way
//! tickwire's own client builds them (the same crypto provider).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, ServerConfig};
use tickwire_net::tls;

/// A test CA and the loopback server certificate it issued.
pub struct Pki {
    /// The CA certificate, PEM: what a client is told to trust.
    pub ca_pem: String,
    /// The server's certificate chain (the leaf).
    pub server_chain: Vec<CertificateDer<'static>>,
    /// The leaf's PKCS#8 private key, DER.
    pub server_key_der: Vec<u8>,
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

impl Pki {
    /// A fresh CA with a distinct name and a leaf for `localhost` / `127.0.0.1`.
    ///
    /// Panics if rcgen cannot generate keys: a test fixture, never used on real data.
    pub fn new() -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        // A distinct name per CA: two test CAs with one name would make a wrong-CA test fail
        // on the signature instead of on the unknown issuer it means to show.
        static SERIAL: AtomicU32 = AtomicU32::new(0);
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        ca_params.distinguished_name.push(
            DnType::CommonName,
            format!("tickwire test CA {} {serial}", std::process::id()),
        );
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
            .expect("self-signed CA");

        let mut leaf_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("leaf params");
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "tickwire test venue");
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf = leaf_params.signed_by(&leaf_key, &ca).expect("leaf cert");

        Self {
            ca_pem: ca.pem(),
            server_chain: vec![leaf.der().clone()],
            server_key_der: leaf_key.serialize_der(),
        }
    }

    /// A server configuration presenting the leaf, with tickwire's crypto provider.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone()));
        let config = ServerConfig::builder_with_provider(tls::crypto_provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(self.server_chain.clone(), key)
            .expect("server cert");
        Arc::new(config)
    }

    /// A client configuration trusting this PKI's CA (and nothing else).
    pub fn client_config(&self) -> Arc<ClientConfig> {
        tls::client_config_from_ca_pem(self.ca_pem.as_bytes()).expect("CA pem")
    }
}
