//! Why a venue frame could not be decoded: one clear reason per malformed frame.

use core::fmt;

use tickwire_core::num::NumError;

/// Why a frame was rejected. Every decoder returns one of these instead of panicking; the
/// `&'static str` names the JSON field at fault, as the venue spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// simd-json rejected the bytes: not valid JSON (or not UTF-8). `at` is its byte offset.
    Json {
        /// Byte offset simd-json reported.
        at: usize,
    },
    /// The frame (or a nested value that must be an object) is not a JSON object.
    NotAnObject(&'static str),
    /// A required field is absent.
    MissingField(&'static str),
    /// A field has the wrong JSON type (a number where a string is expected, a negative id...).
    WrongType(&'static str),
    /// A field the decoder reads appears twice: which copy the venue meant is unknowable.
    DuplicateField(&'static str),
    /// A price, size or numeric string is not an exact plain decimal / integer.
    BadNumber {
        /// The field.
        field: &'static str,
        /// What was wrong with it.
        error: NumError,
    },
    /// A field has a value outside its allowed set (unknown `action` or `side`, a level with
    /// fewer than two entries, a checksum that does not fit 32 bits, ...).
    BadValue(&'static str),
    /// The symbol / instId is not in the instrument table.
    UnknownSymbol,
    /// More price levels (or trades) than the preallocated bound.
    TooManyLevels(&'static str),
    /// An OKX price/size string that cannot be reproduced byte-for-byte from its value and
    /// decimal count (leading zeros, more than 9 decimals), so the checksum could not be checked.
    NonCanonicalNumber(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json { at } => write!(f, "invalid JSON near byte {at}"),
            Self::NotAnObject(field) => write!(f, "`{field}` is not a JSON object"),
            Self::MissingField(field) => write!(f, "missing field `{field}`"),
            Self::WrongType(field) => write!(f, "field `{field}` has the wrong type"),
            Self::DuplicateField(field) => write!(f, "field `{field}` appears twice"),
            Self::BadNumber { field, error } => write!(f, "field `{field}`: {error}"),
            Self::BadValue(field) => write!(f, "field `{field}` has an unexpected value"),
            Self::UnknownSymbol => f.write_str("symbol not in the instrument table"),
            Self::TooManyLevels(field) => write!(f, "too many entries in `{field}`"),
            Self::NonCanonicalNumber(field) => {
                write!(f, "field `{field}` is not in a checksum-reproducible form")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Why instrument specifications could not be loaded from a venue's instrument list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecLoadError {
    /// The body is not the expected JSON document.
    Decode(DecodeError),
    /// The venue answered with an error code instead of data (OKX `code` != `"0"`).
    VenueError(String),
    /// A field of one instrument is missing or malformed.
    Field {
        /// The instrument's symbol.
        symbol: String,
        /// What was wrong.
        error: DecodeError,
    },
    /// The instrument's rules do not form a usable spec (zero tick, ...).
    Invalid {
        /// The instrument's symbol.
        symbol: String,
        /// Why.
        error: tickwire_core::num::SpecError,
    },
    /// A requested symbol is not in the list.
    Missing(String),
}

impl fmt::Display for SpecLoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decode(e) => write!(f, "instrument list: {e}"),
            Self::VenueError(code) => write!(f, "venue returned error code {code}"),
            Self::Field { symbol, error } => write!(f, "{symbol}: {error}"),
            Self::Invalid { symbol, error } => write!(f, "{symbol}: {error}"),
            Self::Missing(symbol) => write!(f, "{symbol} is not in the instrument list"),
        }
    }
}

impl std::error::Error for SpecLoadError {}

impl From<DecodeError> for SpecLoadError {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}
