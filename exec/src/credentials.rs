//! Venue API credentials: key, secret and (OKX) passphrase, from environment variables or from
//! a file only its owner can read.
//!
//! Secret material lives in [`Secret`], whose `Debug` and `Display` print `***`, so a secret can
//! reach a log, the journal or an error message only through an explicit
//! [`Secret::expose`]. Errors name paths, variables, modes and line numbers, never content.

use core::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A secret string. Formatting prints `***`; the bytes are overwritten when it is dropped (best
/// effort: copies made by earlier reallocation cannot be reached).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `s`.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret text, for signing and for the one request field that must carry it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        let mut bytes = core::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        // Keeps the zeroing from being optimised away as a dead store.
        core::hint::black_box(&bytes);
    }
}

/// API credentials for one venue account.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// API key (sent in clear in headers, but still kept out of logs).
    pub api_key: Secret,
    /// API secret used for HMAC signing.
    pub api_secret: Secret,
    /// OKX passphrase (none for Binance).
    pub passphrase: Option<Secret>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("api_key", &self.api_key)
            .field("api_secret", &self.api_secret)
            .field("passphrase", &self.passphrase)
            .finish()
    }
}

/// Why credentials could not be loaded. Never carries secret content.
#[derive(Debug, PartialEq, Eq)]
pub enum CredentialsError {
    /// A required environment variable is unset or empty.
    MissingVar(String),
    /// The file could not be opened or read.
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error kind (its message could not carry content, but the kind is enough).
        kind: std::io::ErrorKind,
    },
    /// The file is readable or writable by group or others.
    InsecureMode {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A line is not `name = value`, or names an unknown field.
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// A required field is absent from the file.
    MissingField {
        /// The file.
        path: PathBuf,
        /// Field name.
        field: &'static str,
    },
}

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingVar(v) => write!(f, "environment variable {v} is unset or empty"),
            Self::Io { path, kind } => {
                write!(f, "cannot read credentials file {}: {kind}", path.display())
            }
            Self::InsecureMode { path, mode } => write!(
                f,
                "credentials file {} has mode {mode:04o}; it must not be accessible to group or \
                 others (chmod 600)",
                path.display()
            ),
            Self::Malformed { path, line } => write!(
                f,
                "credentials file {} line {line}: expected `api_key|api_secret|passphrase = value`",
                path.display()
            ),
            Self::MissingField { path, field } => {
                write!(f, "credentials file {} lacks {field}", path.display())
            }
        }
    }
}

impl std::error::Error for CredentialsError {}

impl Credentials {
    /// Reads `<PREFIX>_API_KEY`, `<PREFIX>_API_SECRET` and, when `with_passphrase`,
    /// `<PREFIX>_PASSPHRASE` from the process environment.
    pub fn from_env(prefix: &str, with_passphrase: bool) -> Result<Self, CredentialsError> {
        Self::from_lookup(prefix, with_passphrase, |name| std::env::var(name).ok())
    }

    /// As [`Credentials::from_env`], with the variables looked up through `get` (tests use
    /// this instead of mutating the process environment).
    pub fn from_lookup(
        prefix: &str,
        with_passphrase: bool,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, CredentialsError> {
        let var = |suffix: &str| {
            let name = format!("{prefix}_{suffix}");
            match get(&name) {
                Some(v) if !v.is_empty() => Ok(Secret::new(v)),
                _ => Err(CredentialsError::MissingVar(name)),
            }
        };
        Ok(Self {
            api_key: var("API_KEY")?,
            api_secret: var("API_SECRET")?,
            passphrase: if with_passphrase {
                Some(var("PASSPHRASE")?)
            } else {
                None
            },
        })
    }

    /// Reads a file of `name = value` lines (`api_key`, `api_secret`, `passphrase`; blank
    /// lines and `#` comments allowed). The file must not be accessible to group or others
    /// (mode 0600 or stricter); the mode is checked on the opened handle, so a file swapped
    /// after the check cannot be read instead.
    pub fn from_file(path: &Path, with_passphrase: bool) -> Result<Self, CredentialsError> {
        use std::os::unix::fs::PermissionsExt;

        let io = |e: std::io::Error| CredentialsError::Io {
            path: path.to_path_buf(),
            kind: e.kind(),
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let mode = file.metadata().map_err(io)?.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(CredentialsError::InsecureMode {
                path: path.to_path_buf(),
                mode,
            });
        }
        let mut text = Secret::new(String::new());
        file.read_to_string(&mut text.0).map_err(io)?;
        Self::parse(path, &text, with_passphrase)
    }

    fn parse(path: &Path, text: &Secret, with_passphrase: bool) -> Result<Self, CredentialsError> {
        let (mut key, mut secret, mut pass) = (None, None, None);
        for (i, line) in text.expose().lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let malformed = || CredentialsError::Malformed {
                path: path.to_path_buf(),
                line: i + 1,
            };
            let (name, value) = line.split_once('=').ok_or_else(malformed)?;
            let value = value.trim();
            if value.is_empty() {
                return Err(malformed());
            }
            let slot = match name.trim() {
                "api_key" => &mut key,
                "api_secret" => &mut secret,
                "passphrase" => &mut pass,
                _ => return Err(malformed()),
            };
            *slot = Some(Secret::new(value));
        }
        let missing = |field| CredentialsError::MissingField {
            path: path.to_path_buf(),
            field,
        };
        Ok(Self {
            api_key: key.ok_or_else(|| missing("api_key"))?,
            api_secret: secret.ok_or_else(|| missing("api_secret"))?,
            passphrase: if with_passphrase {
                Some(pass.ok_or_else(|| missing("passphrase"))?)
            } else {
                None
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    const KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
    const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
    const PASS: &str = "correct-horse-battery";

    fn assert_clean(text: &str) {
        for s in [KEY, SECRET, PASS] {
            assert!(!text.contains(s), "secret leaked into: {text}");
        }
    }

    fn write_file(mode: u32, body: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(body.as_bytes()).unwrap();
        f.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .unwrap();
        f
    }

    #[test]
    fn secret_never_formats() {
        let s = Secret::new(SECRET);
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s:>10}"), "***");
        assert_eq!(s.expose(), SECRET);
    }

    #[test]
    fn env_lookup_and_redaction() {
        let get = |n: &str| match n {
            "TW_OKX_API_KEY" => Some(KEY.to_string()),
            "TW_OKX_API_SECRET" => Some(SECRET.to_string()),
            "TW_OKX_PASSPHRASE" => Some(PASS.to_string()),
            _ => None,
        };
        let c = Credentials::from_lookup("TW_OKX", true, get).unwrap();
        assert_eq!(c.api_secret.expose(), SECRET);
        assert_eq!(c.passphrase.as_ref().unwrap().expose(), PASS);
        assert_clean(&format!("{c:?}"));
        assert_clean(&format!("{c:#?}"));

        let only_key = |n: &str| (n == "TW_B_API_KEY").then(|| KEY.to_string());
        let e = Credentials::from_lookup("TW_B", false, only_key).unwrap_err();
        assert_eq!(e, CredentialsError::MissingVar("TW_B_API_SECRET".into()));
        assert_clean(&e.to_string());
        assert_clean(&format!("{e:?}"));
    }

    #[test]
    fn file_0600_loads() {
        let body = format!("# test\napi_key = {KEY}\napi_secret={SECRET}\n\npassphrase = {PASS}\n");
        let f = write_file(0o600, &body);
        let c = Credentials::from_file(f.path(), true).unwrap();
        assert_eq!(c.api_key.expose(), KEY);
        assert_eq!(c.api_secret.expose(), SECRET);
        assert_eq!(c.passphrase.unwrap().expose(), PASS);
        let c = Credentials::from_file(f.path(), false).unwrap();
        assert!(c.passphrase.is_none());
    }

    #[test]
    fn readable_file_refused_without_content() {
        let body = format!("api_key = {KEY}\napi_secret = {SECRET}\n");
        for mode in [0o644, 0o640, 0o604, 0o660] {
            let f = write_file(mode, &body);
            let e = Credentials::from_file(f.path(), false).unwrap_err();
            assert_eq!(
                e,
                CredentialsError::InsecureMode {
                    path: f.path().to_path_buf(),
                    mode
                }
            );
            let msg = e.to_string();
            assert!(msg.contains(&f.path().display().to_string()), "{msg}");
            assert!(msg.contains(&format!("{mode:04o}")), "{msg}");
            assert_clean(&msg);
            assert_clean(&format!("{e:?}"));
        }
    }

    #[test]
    fn malformed_and_missing_never_echo_content() {
        let f = write_file(0o600, &format!("api_key {KEY}\n"));
        let e = Credentials::from_file(f.path(), false).unwrap_err();
        assert!(matches!(e, CredentialsError::Malformed { line: 1, .. }));
        assert_clean(&e.to_string());
        assert_clean(&format!("{e:?}"));

        let f = write_file(0o600, &format!("api_kee = {SECRET}\n"));
        let e = Credentials::from_file(f.path(), false).unwrap_err();
        assert!(matches!(e, CredentialsError::Malformed { line: 1, .. }));
        assert_clean(&e.to_string());

        let f = write_file(0o600, &format!("api_key = {KEY}\napi_secret = {SECRET}\n"));
        let e = Credentials::from_file(f.path(), true).unwrap_err();
        assert!(matches!(
            e,
            CredentialsError::MissingField {
                field: "passphrase",
                ..
            }
        ));
        assert_clean(&e.to_string());

        let e = Credentials::from_file(Path::new("/nonexistent/creds"), false).unwrap_err();
        assert!(matches!(e, CredentialsError::Io { .. }));
        assert!(e.to_string().contains("/nonexistent/creds"));
    }
}
