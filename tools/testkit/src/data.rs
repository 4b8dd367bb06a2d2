//! Where the shared venue captures live, and a monotonic clock for clients under test.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

/// A file under the shared data directory (`shared/data/` beside the repository), which the
/// tests and benchmarks read the real captures from.
pub fn data(rel: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).join(rel)
}

/// Monotonic nanoseconds since the first call in this process, never 0 (0 means "unset" in
/// several of the clients' timestamp fields).
pub fn clock() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_nanos())
        .unwrap_or(u64::MAX)
        .saturating_add(1)
}
