//! The append-only, memory-mapped journal (Chronicle-Queue style).
//!
//! One [`Writer`] appends records to a directory of segment files; any number of [`Reader`]s,
//! in the same or other processes, read closed journals or follow a live writer; [`verify`]
//! checks a whole journal and tells a torn tail (an unfinished append, harmless) from
//! corruption.
//!
//! # Files
//!
//! Segments are named `00000000.twj`, `00000001.twj`, ... (8 decimal digits). Each is
//! pre-allocated to `segment_bytes` and starts with a 64-byte header (little-endian):
//!
//! | offset | field |
//! |---|---|
//! | 0 | magic `TWJRNL\r\n` |
//! | 8 | format version `u32` (2) |
//! | 12 | segment index `u32` (must match the file name) |
//! | 16 | segment size `u64` (must match the file length) |
//! | 24 | maximum payload length `u32` used when the segment was created |
//! | 28 | CRC-32C of bytes 0..28 `u32` |
//! | 32 | first seq `u64`: 0 while pre-allocated; set when the writer starts using the segment |
//! | 40 | zero |
//!
//! Records follow from offset 64, 8-byte aligned: a 32-byte header `{ len: u32, crc: u32,
//! kind: u16, reserved: u16, reserved2: u32, seq: u64, ts: u64 }` and the payload, zero-padded
//! to 8. `len` is the record length *including the 32-byte header* (so 32 + payload length),
//! never the payload length alone: 0 must mean "no record yet", and empty payloads are legal.
//! `crc` is the CRC-32C (Castagnoli, reflected polynomial `0x82F63B78`, initial value and final
//! XOR `0xFFFFFFFF`, as in iSCSI and ext4; check value `0xE3069283`) of the payload, then header
//! bytes 8..32, then `len` as a little-endian `u64`, in one pass: it covers kind, seq, ts, len and
//! payload. A `len` of `u32::MAX`
//! (with a zero `crc`) is the rollover marker: the journal continues at offset 64 of
//! the next segment. The last 32 bytes of a segment are reserved so that a marker always fits.
//! A segment is prepared under a temporary name (`NNNNNNNN.<tag>.tmp`) and renamed when complete, so a
//! segment file under its real name is always full-size with a valid header.
//!
//! Version 1 was the same layout with CRC-32 (IEEE, zlib's `crc32`) in place of CRC-32C, for
//! records and the segment header alike. A segment whose header is intact but of another
//! version (its header CRC holds under that version's algorithm: CRC-32 for version 1, CRC-32C
//! for any later one) is refused with [`JournalError::UnsupportedVersion`] by readers, the
//! writer and [`verify`], so an old journal is never mistaken for a corrupt one. A version field
//! that does not pass that check is damage, reported as a bad header like any other.
//!
//! # Publication protocol
//!
//! The writer stores the payload and header fields first, then publishes the record by storing
//! its first 8-byte word (`len` and `crc`) with release ordering. A reader loads that word with
//! acquire ordering; a nonzero `len` therefore implies the whole record is visible, in this
//! process or another one mapping the same file (the page cache is shared). A published record
//! is never modified again. Space after the last published record is only ever accessed with
//! aligned 8-byte atomics by both sides, so a reader looking at an append in progress sees no
//! torn values in the Rust memory model either.
//!
//! The single exception to immutability is torn-tail cutting in [`Writer::open`]: bytes of a
//! record that fails validation (its writer died while writing it) are zeroed with atomic
//! stores. A reader that is validating exactly that record at that moment may compute a CRC
//! over bytes being cleared; it will report a torn tail or nothing, never a record.
//!
//! Mapped files are trusted not to be *truncated* by another process while mapped: access to
//! a page beyond the end of a file raises SIGBUS, and no user-space check can prevent that
//! race. Files truncated or damaged before they are opened are detected and reported.
//!
//! # Durability
//!
//! - A process crash, even `SIGKILL`, loses nothing whose `append` returned: the record is in
//!   the shared page cache, which the kernel writes back regardless of the process.
//! - A power loss or kernel crash loses at most the records appended during the last
//!   `flush_interval` (plus the time one `msync` takes): a background thread synchronously
//!   writes back (`msync(MS_SYNC)`) the newly written range every interval. It is
//!   deliberately not `MS_ASYNC`, which is a no-op on Linux and would leave write-back to the
//!   kernel's own schedule (30 s by default). [`Writer::flush`] makes everything appended so far
//!   durable before it returns. With `flush_interval` zero, only `flush` and drop write back.
//!
//! # Costs the hot path does not pay, and one it may
//!
//! `append` hashes, copies and publishes; it does not allocate, lock, log or call the kernel.
//! When a segment is full it switches to the next one, which the `twj-prepare` thread has
//! already created, allocated on disk (`fallocate`, so that a full disk is an error there
//! rather than a SIGBUS at a later store), mapped and pre-faulted (by touching every page) and
//! hands over through a channel (`try_recv`). If that thread is behind, the writer creates the segment
//! itself (counted in [`WriterStats::sync_creates`]; sparse, no syncing on that path) and the
//! thread then allocates and pre-faults the rest of it ahead of the writer with
//! `MADV_POPULATE_WRITE`, as it does for the segment a writer starts in. The kernel may write pre-faulted pages back on its own (after
//! `vm.dirty_expire_centisecs`) and write-protect them; the next store to such a page takes a
//! minor fault (about a microsecond). The flush thread only writes back the appended range,
//! which touches at most the page being filled, once per interval.
//!
//! # Recovery
//!
//! [`Writer::open`] takes an exclusive lock (`writer.lock`, released by the kernel when the
//! process dies), removes leftover temporary files, and scans only the active segment (the
//! last one a writer started using), so opening costs one segment scan however long the
//! journal is. [`verify`] checks everything.

mod error;
mod format;
mod reader;
mod repair;
mod verify;
mod writer;

use std::time::Duration;

pub use error::JournalError;
pub use reader::{Reader, RecordRef};
pub use repair::{RepairReport, repair};
pub use verify::{Corruption, VerifyReport, verify};
pub use writer::{OpenReport, Writer, WriterStats};

use format::{MAX_SEGMENT_INDEX, PAGE, SegHeader};

/// Writer configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalConfig {
    /// Size of each segment file in bytes. A multiple of 4096, at least a segment header
    /// (64 bytes) plus one maximal record plus a rollover marker, at most 16 GiB.
    /// Default 64 MiB.
    pub segment_bytes: u64,
    /// How often the background thread writes appended data back to disk (`msync(MS_SYNC)`
    /// of the appended range). This bounds what a power loss can lose; a process crash loses
    /// nothing regardless. `Duration::ZERO` disables periodic write-back (then only
    /// [`Writer::flush`] and drop write back). Default 100 ms.
    pub flush_interval: Duration,
    /// Largest payload `append` accepts, in bytes (at most 256 MiB). Default 64 KiB.
    pub max_record_bytes: u32,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            segment_bytes: 64 << 20,
            flush_interval: Duration::from_millis(100),
            max_record_bytes: 64 << 10,
        }
    }
}

impl JournalConfig {
    /// Checks the ranges documented on the fields.
    pub fn validate(&self) -> Result<(), JournalError> {
        let bad = |reason| Err(JournalError::InvalidConfig { reason });
        if self.max_record_bytes == 0 || self.max_record_bytes > 256 << 20 {
            return bad("max_record_bytes must be in 1..=256 MiB");
        }
        if !self.segment_bytes.is_multiple_of(PAGE) {
            return bad("segment_bytes must be a multiple of 4096");
        }
        if self.segment_bytes < SegHeader::min_size(self.max_record_bytes) {
            return bad("segment_bytes too small for one record of max_record_bytes");
        }
        // The writer publishes its position as (segment, offset / 8) in one 64-bit word.
        if self.segment_bytes > 16 << 30 {
            return bad("segment_bytes must be at most 16 GiB");
        }
        Ok(())
    }
}

/// Where a record starts: segment index and byte offset in that segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Segment index (the number in the file name).
    pub segment: u32,
    /// Byte offset of the record header in the segment file.
    pub offset: u64,
}

/// An unfinished append at the end of a journal: nonzero bytes after the last valid record,
/// within one maximal record of it (a writer died while appending, or is appending now).
/// [`Writer::open`] cuts it; readers stop before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// Segment index.
    pub segment: u32,
    /// Offset where the torn record starts (where the next record will be written).
    pub offset: u64,
    /// Bytes from `offset` to the last nonzero byte, inclusive.
    pub bytes: u64,
}

const _: () = assert!(MAX_SEGMENT_INDEX < u32::MAX);
