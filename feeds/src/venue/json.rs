//! The validating path: simd-json's tape API with reused buffers, and typed field readers.
//!
//! simd-json parses into a flat tape of nodes; walking it is cheaper than building a DOM and
//! needs no allocation once its buffers (and the tape vector) have grown to the largest frame
//! seen. Strings on the tape are already unescaped and UTF-8 checked.

use simd_json::prelude::*;
use simd_json::tape::{Array, Object, Value};
use simd_json::{Buffers, Tape};
use tickwire_core::book::Level;
use tickwire_core::num::{Px, Qty};

use super::DecodeError;

/// Initial capacity of the parse buffers: one large book frame. Bigger frames grow them once.
const INITIAL_FRAME_CAPACITY: usize = 64 * 1024;

/// simd-json's reusable state: its scratch buffers and a tape kept between frames.
pub(crate) struct TapeParser {
    buffers: Buffers,
    /// `None` only while a frame is being walked.
    tape: Option<Tape<'static>>,
}

impl TapeParser {
    pub(crate) fn new() -> Self {
        Self {
            buffers: Buffers::new(INITIAL_FRAME_CAPACITY),
            tape: Some(Tape(Vec::with_capacity(INITIAL_FRAME_CAPACITY / 8))),
        }
    }

    /// Parses `frame` (simd-json mutates it in place) and hands the root value to `walk`.
    pub(crate) fn parse<R>(
        &mut self,
        frame: &mut [u8],
        walk: impl FnOnce(Value<'_, '_>) -> Result<R, DecodeError>,
    ) -> Result<R, DecodeError> {
        // The tape is re-typed to this frame's lifetime while in use and back to 'static
        // (empty) afterwards; `Tape::reset` clears it, so no node outlives its frame.
        let mut tape = self.tape.take().unwrap_or_else(|| Tape(Vec::new())).reset();
        let result = match simd_json::fill_tape(frame, &mut self.buffers, &mut tape) {
            Ok(()) => walk(tape.as_value()),
            Err(e) => Err(DecodeError::Json { at: e.index() }),
        };
        self.tape = Some(tape.reset());
        result
    }
}

/// Stores `v` in `slot`, refusing a second occurrence of the same key.
#[inline]
pub(crate) fn put<'t, 'i>(
    slot: &mut Option<Value<'t, 'i>>,
    v: Value<'t, 'i>,
    field: &'static str,
) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::DuplicateField(field));
    }
    *slot = Some(v);
    Ok(())
}

/// A required field.
#[inline]
pub(crate) fn need<'t, 'i>(
    slot: Option<Value<'t, 'i>>,
    field: &'static str,
) -> Result<Value<'t, 'i>, DecodeError> {
    slot.ok_or(DecodeError::MissingField(field))
}

/// The value as an object.
#[inline]
pub(crate) fn object<'t, 'i>(
    v: Value<'t, 'i>,
    field: &'static str,
) -> Result<Object<'t, 'i>, DecodeError> {
    v.as_object().ok_or(DecodeError::NotAnObject(field))
}

/// The value as an array.
#[inline]
pub(crate) fn array<'t, 'i>(
    v: Value<'t, 'i>,
    field: &'static str,
) -> Result<Array<'t, 'i>, DecodeError> {
    v.as_array().ok_or(DecodeError::WrongType(field))
}

/// The value as a string.
#[inline]
pub(crate) fn str_of<'i>(v: Value<'_, 'i>, field: &'static str) -> Result<&'i str, DecodeError> {
    v.into_string().ok_or(DecodeError::WrongType(field))
}

/// A non-negative JSON integer.
#[inline]
pub(crate) fn u64_of(v: Value<'_, '_>, field: &'static str) -> Result<u64, DecodeError> {
    v.as_u64().ok_or(DecodeError::WrongType(field))
}

/// A signed JSON integer.
#[inline]
pub(crate) fn i64_of(v: Value<'_, '_>, field: &'static str) -> Result<i64, DecodeError> {
    v.as_i64().ok_or(DecodeError::WrongType(field))
}

/// A JSON boolean.
#[inline]
pub(crate) fn bool_of(v: Value<'_, '_>, field: &'static str) -> Result<bool, DecodeError> {
    v.as_bool().ok_or(DecodeError::WrongType(field))
}

/// A price string, parsed exactly.
#[inline]
pub(crate) fn px_of(v: Value<'_, '_>, field: &'static str) -> Result<Px, DecodeError> {
    Px::parse_bytes(str_of(v, field)?.as_bytes())
        .map_err(|error| DecodeError::BadNumber { field, error })
}

/// A quantity string, parsed exactly.
#[inline]
pub(crate) fn qty_of(v: Value<'_, '_>, field: &'static str) -> Result<Qty, DecodeError> {
    Qty::parse_bytes(str_of(v, field)?.as_bytes())
        .map_err(|error| DecodeError::BadNumber { field, error })
}

/// A string of decimal digits (OKX ids and timestamps) as `u64`.
pub(crate) fn digits_u64(s: &[u8], field: &'static str) -> Result<u64, DecodeError> {
    use tickwire_core::num::NumError;
    if s.is_empty() {
        return Err(DecodeError::BadNumber {
            field,
            error: NumError::Empty,
        });
    }
    let mut v: u64 = 0;
    for (i, &b) in s.iter().enumerate() {
        if !b.is_ascii_digit() {
            return Err(DecodeError::BadNumber {
                field,
                error: NumError::InvalidChar(i),
            });
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(DecodeError::BadNumber {
                field,
                error: NumError::Overflow,
            })?;
    }
    Ok(v)
}

/// The first two entries of a level array (`[price, size, ...]`) as strings.
#[inline]
pub(crate) fn level_strs<'i>(
    level: Value<'_, 'i>,
    field: &'static str,
) -> Result<(&'i str, &'i str), DecodeError> {
    let a = array(level, field)?;
    let (Some(p), Some(q)) = (a.get(0), a.get(1)) else {
        return Err(DecodeError::BadValue(field));
    };
    Ok((str_of(p, field)?, str_of(q, field)?))
}

/// Reads an array of `[price, qty, ...]` levels into `out` (cleared first), at most `max`.
pub(crate) fn levels_into(
    v: Value<'_, '_>,
    field: &'static str,
    out: &mut Vec<Level>,
    max: usize,
) -> Result<(), DecodeError> {
    out.clear();
    let a = array(v, field)?;
    if a.len() > max {
        return Err(DecodeError::TooManyLevels(field));
    }
    for level in a.iter() {
        let (p, q) = level_strs(level, field)?;
        let px = Px::parse_bytes(p.as_bytes())
            .map_err(|error| DecodeError::BadNumber { field, error })?;
        let qty = Qty::parse_bytes(q.as_bytes())
            .map_err(|error| DecodeError::BadNumber { field, error })?;
        out.push(Level { px, qty });
    }
    Ok(())
}
