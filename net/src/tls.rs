//! TLS client configuration: which certificate authorities a connection trusts.
//!
//! Real venues are verified against the Mozilla root set compiled in by `webpki-roots` (no
//! dependence on the host's certificate store, so a colocated box and a laptop trust the same
//! roots). The venue simulator presents a certificate issued by its own CA, which the client
//! trusts from a PEM file.
//!
//! The crypto provider is passed explicitly (`builder_with_provider` with `ring`) instead of
//! relying on a process-wide default: if another dependency ever compiles in a second
//! provider, `ClientConfig::builder()` would panic, while this path cannot.

use core::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore};

/// Which certificate authorities to trust.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustRoots {
    /// The Mozilla root set from `webpki-roots` (real venues).
    Webpki,
    /// Every certificate in this PEM file (the venue simulator's CA).
    CaPemFile(PathBuf),
}

/// Why a TLS client configuration could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// The CA file could not be read (missing, unreadable).
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The PEM text is malformed.
    Pem {
        /// Where the PEM came from (a path, or "inline PEM").
        origin: String,
        /// The parser's error.
        source: io::Error,
    },
    /// The PEM text holds no `CERTIFICATE` section (a key file given by mistake, an empty
    /// file).
    NoCertificate {
        /// Where the PEM came from.
        origin: String,
    },
    /// A certificate in the PEM could not be used as a trust anchor.
    BadCertificate {
        /// Where the PEM came from.
        origin: String,
        /// rustls's reason.
        source: rustls::Error,
    },
    /// rustls refused the configuration (no protocol version the provider supports).
    Config(rustls::Error),
}

impl fmt::Display for TlsConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => {
                write!(f, "cannot read CA file {}: {source}", path.display())
            }
            Self::Pem { origin, source } => write!(f, "malformed PEM in {origin}: {source}"),
            Self::NoCertificate { origin } => {
                write!(
                    f,
                    "no CERTIFICATE found in {origin} (expected a PEM CA certificate)"
                )
            }
            Self::BadCertificate { origin, source } => {
                write!(f, "unusable CA certificate in {origin}: {source}")
            }
            Self::Config(err) => write!(f, "TLS configuration rejected: {err}"),
        }
    }
}

impl std::error::Error for TlsConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } | Self::Pem { source, .. } => Some(source),
            Self::BadCertificate { source, .. } | Self::Config(source) => Some(source),
            Self::NoCertificate { .. } => None,
        }
    }
}

/// The crypto provider every tickwire TLS endpoint uses (`ring`): pass it to
/// `builder_with_provider` for servers too (the simulator, tests).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds a client configuration trusting `roots`.
pub fn client_config(roots: &TrustRoots) -> Result<Arc<ClientConfig>, TlsConfigError> {
    match roots {
        TrustRoots::Webpki => client_config_webpki(),
        TrustRoots::CaPemFile(path) => client_config_from_ca_file(path),
    }
}

/// A client configuration trusting the Mozilla roots (real venues).
pub fn client_config_webpki() -> Result<Arc<ClientConfig>, TlsConfigError> {
    let store: RootCertStore = webpki_roots::TLS_SERVER_ROOTS.iter().cloned().collect();
    client_config_with_roots(store)
}

/// A client configuration trusting every certificate in the PEM file at `path`.
pub fn client_config_from_ca_file(path: &Path) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let pem = std::fs::read(path).map_err(|source| TlsConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    roots_from_pem(&pem, &path.display().to_string()).and_then(client_config_with_roots)
}

/// A client configuration trusting every certificate in `pem` (PEM text held in memory).
pub fn client_config_from_ca_pem(pem: &[u8]) -> Result<Arc<ClientConfig>, TlsConfigError> {
    roots_from_pem(pem, "inline PEM").and_then(client_config_with_roots)
}

/// A client configuration trusting exactly `roots`, with the safe default protocol versions
/// (TLS 1.2 and 1.3) and no client certificate.
pub fn client_config_with_roots(roots: RootCertStore) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let config = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsConfigError::Config)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Parses every `CERTIFICATE` section of `pem` into a root store. Other sections (keys) are
/// skipped; zero certificates is an error, because an empty trust store would only fail later,
/// at connect time, with a less helpful "unknown issuer".
fn roots_from_pem(pem: &[u8], origin: &str) -> Result<RootCertStore, TlsConfigError> {
    let mut reader = pem;
    let mut store = RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut reader) {
        let cert = cert.map_err(|source| TlsConfigError::Pem {
            origin: origin.to_owned(),
            source,
        })?;
        store
            .add(cert)
            .map_err(|source| TlsConfigError::BadCertificate {
                origin: origin.to_owned(),
                source,
            })?;
    }
    if store.is_empty() {
        return Err(TlsConfigError::NoCertificate {
            origin: origin.to_owned(),
        });
    }
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_pem() -> String {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "tickwire-tls-test-{}-{name}.pem",
            std::process::id()
        ));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn webpki_roots_build() {
        let config = client_config(&TrustRoots::Webpki).unwrap();
        assert!(config.alpn_protocols.is_empty());
    }

    #[test]
    fn ca_file_builds_and_inline_pem_too() {
        let pem = ca_pem();
        let path = temp_file("good", pem.as_bytes());
        let from_file = client_config(&TrustRoots::CaPemFile(path.clone()));
        std::fs::remove_file(&path).unwrap();
        assert!(from_file.is_ok());
        assert!(client_config_from_ca_pem(pem.as_bytes()).is_ok());
    }

    #[test]
    fn missing_file_names_the_file() {
        let path = std::env::temp_dir().join("tickwire-no-such-ca-file.pem");
        let err = client_config_from_ca_file(&path).unwrap_err();
        assert!(matches!(&err, TlsConfigError::Read { source, .. }
            if source.kind() == io::ErrorKind::NotFound));
        let text = err.to_string();
        assert!(text.contains("cannot read CA file"), "{text}");
        assert!(text.contains("tickwire-no-such-ca-file.pem"), "{text}");
    }

    #[test]
    fn file_without_certificate_is_a_clear_error() {
        // A private key where the CA certificate should be: the classic mix-up.
        let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let path = temp_file("key-only", key.as_bytes());
        let err = client_config_from_ca_file(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(
            matches!(err, TlsConfigError::NoCertificate { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("no CERTIFICATE found"));

        let err = client_config_from_ca_pem(b"").unwrap_err();
        assert!(matches!(err, TlsConfigError::NoCertificate { .. }));
    }

    #[test]
    fn garbage_inside_a_certificate_section_is_rejected() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let err = client_config_from_ca_pem(pem).unwrap_err();
        assert!(
            matches!(err, TlsConfigError::BadCertificate { .. }),
            "{err:?}"
        );
    }
}
