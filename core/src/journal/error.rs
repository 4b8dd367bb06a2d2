//! [`JournalError`].

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong opening, appending to, reading or verifying a journal.
///
/// Each variant displays as one line that says what failed and where (path, or segment and
/// byte offset).
#[derive(Debug)]
#[non_exhaustive]
pub enum JournalError {
    /// An operating-system call failed.
    Io {
        /// What was being done ("open segment", "msync segment", ...).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The directory holds no journal.
    NotAJournal {
        /// The directory.
        path: PathBuf,
        /// Why it is not one.
        reason: &'static str,
    },
    /// Another [`Writer`](super::Writer) holds the journal's lock.
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A segment header is invalid (wrong magic, version, CRC, index or size).
    BadHeader {
        /// Segment index (from the file name).
        segment: u32,
        /// What is wrong.
        reason: String,
    },
    /// A segment was written in a format version this build does not read (an older or newer
    /// journal: the header is intact, only its version differs); nothing in it was interpreted
    /// beyond the header.
    UnsupportedVersion {
        /// Segment index (from the file name).
        segment: u32,
        /// The version in the segment header.
        version: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// A segment file is shorter than its header says (or shorter than a header).
    Truncated {
        /// Segment index.
        segment: u32,
        /// The file's length.
        len: u64,
        /// The size its header claims, if the header could be read.
        expected: Option<u64>,
    },
    /// Damaged data: a bad record, a sequence gap, unexpected bytes, a missing segment.
    Corrupt {
        /// Segment index.
        segment: u32,
        /// Byte offset in the segment.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A payload exceeds the maximum record size; nothing was written.
    RecordTooLarge {
        /// The payload length.
        len: usize,
        /// The maximum (`JournalConfig::max_record_bytes`).
        max: u32,
    },
    /// The segment numbering would exceed 99 999 999.
    SegmentLimit,
    /// A [`JournalConfig`](super::JournalConfig) value is out of range.
    InvalidConfig {
        /// Which rule is broken.
        reason: &'static str,
    },
    /// Background segment preparation was stopped because the writer is closing.
    Interrupted,
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { op, path, source } => {
                write!(f, "journal I/O error: {op} {}: {source}", path.display())
            }
            Self::NotAJournal { path, reason } => {
                write!(f, "{} is not a journal: {reason}", path.display())
            }
            Self::Locked { path } => write!(
                f,
                "journal is locked by another writer ({})",
                path.display()
            ),
            Self::BadHeader { segment, reason } => {
                write!(f, "bad header in journal segment {segment}: {reason}")
            }
            Self::UnsupportedVersion {
                segment,
                version,
                supported,
            } => write!(
                f,
                "journal segment {segment} has unsupported format version {version} \
                 (this build reads version {supported})"
            ),
            Self::Truncated {
                segment,
                len,
                expected: Some(exp),
            } => write!(
                f,
                "journal segment {segment} is truncated: {len} bytes, header says {exp}"
            ),
            Self::Truncated {
                segment,
                len,
                expected: None,
            } => write!(
                f,
                "journal segment {segment} is truncated: {len} bytes, too short for a header"
            ),
            Self::Corrupt {
                segment,
                offset,
                reason,
            } => write!(
                f,
                "journal corrupt at segment {segment} offset {offset}: {reason}"
            ),
            Self::RecordTooLarge { len, max } => write!(
                f,
                "journal record too large: {len} payload bytes, maximum {max}"
            ),
            Self::SegmentLimit => write!(f, "journal segment limit (99999999) reached"),
            Self::InvalidConfig { reason } => write!(f, "invalid journal config: {reason}"),
            Self::Interrupted => write!(f, "journal segment preparation interrupted"),
        }
    }
}

impl std::error::Error for JournalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
