//! Disk headroom of the journal: checked by the ops thread, alerted before the disk is full.
//!
//! A full disk stops a run the safe way (the engine shuts down unjournaled and the run exits
//! 1), but an operator should hear about it while there is still room to act: when the free
//! space where the journal lives drops below what its next segments need, an alert goes out
//! (log and webhook, deduplicated like every alert).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often the free space is read.
const EVERY: Duration = Duration::from_secs(1);

/// Watches the free space of one directory's file system.
pub struct DiskWatch {
    dir: PathBuf,
    min_free: u64,
    /// When the next reading is due (`None`: at once).
    next: Option<Instant>,
}

impl DiskWatch {
    /// Alerts when fewer than `min_free` bytes are free for `dir`.
    pub fn new(dir: &Path, min_free: u64) -> Self {
        Self {
            dir: dir.to_path_buf(),
            min_free,
            next: None,
        }
    }

    /// At most once per second: the alert text if the free space is below the minimum.
    pub fn check(&mut self, now: Instant) -> Option<String> {
        if self.next.is_some_and(|n| now < n) {
            return None;
        }
        self.next = Some(now + EVERY);
        let free = free_bytes(&self.dir)?;
        (free < self.min_free).then(|| {
            format!(
                "journal disk low: {free} bytes free for {} (below {}, the next segments' size); a full disk stops the run — free space now",
                self.dir.display(),
                self.min_free
            )
        })
    }
}

/// Bytes available to this user on the file system holding `dir` (`statvfs`).
pub fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `path` is a NUL-terminated string that outlives the call, and `st` points to
    // writable memory of the struct's size; statvfs(3) writes only into it. On failure its
    // contents are not read.
    let rc = unsafe { libc::statvfs(path.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled the struct (and it was zeroed before anyway).
    let st = unsafe { st.assume_init() };
    // Both are u64 on 64-bit Linux but narrower on 32-bit targets: the conversion is kept.
    #[allow(clippy::useless_conversion)]
    let (blocks, size) = (u64::from(st.f_bavail), u64::from(st.f_frsize));
    Some(blocks.saturating_mul(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_free_space_and_alerts_below_the_minimum() {
        let dir = tempfile::tempdir().expect("tempdir");
        let free = free_bytes(dir.path()).expect("statvfs works on a temp dir");
        assert!(free > 0);
        let now = Instant::now();
        let mut low = DiskWatch::new(dir.path(), u64::MAX);
        let text = low.check(now).expect("below u64::MAX");
        assert!(text.contains("journal disk low"), "{text}");
        assert!(low.check(now).is_none(), "once per second at most");
        let mut fine = DiskWatch::new(dir.path(), 1);
        assert!(fine.check(now).is_none());
        assert!(free_bytes(Path::new("/no/such/dir")).is_none());
    }
}
