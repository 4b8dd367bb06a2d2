//! Strict, exhaustive config reading over TOML tables.
//!
//! serde stops at the first error; an operator fixing a config on a colocated host wants every
//! problem at once. A [`Section`] hands out typed values by key, records an error (with its full
//! path) for each missing, mistyped or invalid value, and reports every key nobody asked for as
//! unknown. Callers collect the errors of all sections and fail once with the whole list.

use core::str::FromStr;

use toml::{Table, Value};

use crate::num::{Px, Qty};

/// A view of one TOML table that records what was read and what went wrong.
pub struct Section<'a> {
    path: String,
    table: &'a Table,
    used: Vec<&'a str>,
    errors: Vec<String>,
}

impl<'a> Section<'a> {
    /// A section at `path` (for messages, e.g. `strategy[0]`).
    pub fn new(path: impl Into<String>, table: &'a Table) -> Self {
        Self {
            path: path.into(),
            table,
            used: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// The section's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The full path of `key` in this section (`venue[0].symbol`), for messages.
    pub fn key_path(&self, key: &str) -> String {
        let key = shown(key);
        if self.path.is_empty() {
            key
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn take(&mut self, key: &str) -> Option<&'a Value> {
        let (k, v) = self.table.get_key_value(key)?;
        self.used.push(k.as_str());
        Some(v)
    }

    /// Records an error about `key` in this section.
    pub fn error(&mut self, key: &str, msg: impl core::fmt::Display) {
        let p = self.key_path(key);
        self.errors.push(format!("{p}: {msg}"));
    }

    /// Takes over the errors of a nested section (already carrying their full paths).
    pub fn absorb(&mut self, errors: Vec<String>) {
        self.errors.extend(errors);
    }

    /// Marks a key as handled elsewhere, so [`Section::finish`] does not call it unknown.
    pub fn skip(&mut self, key: &str) {
        let _ = self.take(key);
    }

    /// True if the key is present.
    pub fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    /// An optional string.
    pub fn opt_str(&mut self, key: &str) -> Option<&'a str> {
        match self.take(key)? {
            Value::String(s) => Some(s.as_str()),
            other => {
                self.error(
                    key,
                    format!("expected a string, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// A required string.
    pub fn str(&mut self, key: &str) -> Option<&'a str> {
        let v = self.opt_str(key);
        if v.is_none() && !self.has(key) {
            self.error(key, "missing");
        }
        v
    }

    /// An optional integer within `[min, max]`.
    pub fn opt_int(&mut self, key: &str, min: i64, max: i64) -> Option<i64> {
        match self.take(key)? {
            Value::Integer(i) if (min..=max).contains(i) => Some(*i),
            Value::Integer(i) => {
                self.error(key, format!("{i} is out of range {min}..={max}"));
                None
            }
            other => {
                self.error(
                    key,
                    format!("expected an integer, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// An integer within `[min, max]`, `default` when absent.
    pub fn int_or(&mut self, key: &str, min: i64, max: i64, default: i64) -> i64 {
        let present = self.has(key);
        match self.opt_int(key, min, max) {
            Some(v) => v,
            None if !present => default,
            None => default, // error already recorded
        }
    }

    /// An optional boolean.
    pub fn opt_bool(&mut self, key: &str) -> Option<bool> {
        match self.take(key)? {
            Value::Boolean(b) => Some(*b),
            other => {
                self.error(
                    key,
                    format!("expected true/false, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// An optional value parsed from a string (decimals are strings so they stay exact).
    pub fn opt_parsed<T: FromStr>(&mut self, key: &str, what: &str) -> Option<T>
    where
        T::Err: core::fmt::Display,
    {
        let raw = self.opt_str(key)?;
        match raw.parse::<T>() {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(key, format!("{raw:?} is not a valid {what}: {e}"));
                None
            }
        }
    }

    /// A required value parsed from a string.
    pub fn parsed<T: FromStr>(&mut self, key: &str, what: &str) -> Option<T>
    where
        T::Err: core::fmt::Display,
    {
        if !self.has(key) {
            self.error(key, "missing");
            return None;
        }
        self.opt_parsed(key, what)
    }

    /// A required non-negative price written as a decimal string (`"0.01"`).
    pub fn px(&mut self, key: &str) -> Option<Px> {
        self.parsed::<Px>(key, "decimal")
            .filter(|p| self.non_negative(key, p.is_negative()))
    }

    /// A required non-negative quantity written as a decimal string.
    pub fn qty(&mut self, key: &str) -> Option<Qty> {
        self.parsed::<Qty>(key, "decimal")
            .filter(|q| self.non_negative(key, q.is_negative()))
    }

    fn non_negative(&mut self, key: &str, negative: bool) -> bool {
        if negative {
            self.error(key, "must not be negative");
        }
        !negative
    }

    /// An optional array of strings (a single string counts as a one-item array). Each item that
    /// is not a string is an error of its own (`key[i]`).
    pub fn opt_str_array(&mut self, key: &str) -> Option<Vec<&'a str>> {
        match self.take(key)? {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.as_str()),
                        other => self.error(
                            &format!("{key}[{i}]"),
                            format!("expected a string, found {}", other.type_str()),
                        ),
                    }
                }
                Some(out)
            }
            Value::String(s) => Some(vec![s.as_str()]),
            other => {
                self.error(
                    key,
                    format!("expected an array of strings, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// An optional number (integer or float). For non-monetary settings only (rates, speeds):
    /// prices and quantities are decimal strings.
    pub fn opt_float(&mut self, key: &str) -> Option<f64> {
        match self.take(key)? {
            Value::Float(f) => Some(*f),
            Value::Integer(i) => Some(*i as f64),
            other => {
                self.error(
                    key,
                    format!("expected a number, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// An optional nested table.
    pub fn opt_table(&mut self, key: &str) -> Option<Section<'a>> {
        let path = self.key_path(key);
        match self.take(key)? {
            Value::Table(t) => Some(Section::new(path, t)),
            other => {
                self.error(key, format!("expected a table, found {}", other.type_str()));
                None
            }
        }
    }

    /// An optional array of tables (`[[key]]`), as sections named `key[i]`.
    pub fn tables(&mut self, key: &str) -> Vec<Section<'a>> {
        let path = self.key_path(key);
        match self.take(key) {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::Table(t) => out.push(Section::new(format!("{path}[{i}]"), t)),
                        other => self.errors.push(format!(
                            "{path}[{i}]: expected a table, found {}",
                            other.type_str()
                        )),
                    }
                }
                out
            }
            Some(other) => {
                self.error(
                    key,
                    format!("expected an array of tables, found {}", other.type_str()),
                );
                Vec::new()
            }
        }
    }

    /// Ends the section: every error recorded, plus one per key that was never read.
    pub fn finish(self) -> Vec<String> {
        let mut errors = self.errors;
        for key in self.table.keys() {
            if !self.used.contains(&key.as_str()) {
                let key = shown(key);
                let p = if self.path.is_empty() {
                    key
                } else {
                    format!("{}.{key}", self.path)
                };
                errors.push(format!("{p}: unknown key"));
            }
        }
        errors
    }
}

/// A key as shown in a message: at most 64 characters, so a hostile or mistaken 10 MB key
/// name does not become a 10 MB error line.
fn shown(key: &str) -> String {
    const MAX: usize = 64;
    match key.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}… ({} bytes)", &key[..cut], key.len()),
        None => key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_problem_at_once() {
        let table: Table = toml::from_str(
            r#"
            name = 5
            tick = "0.0x"
            extra = true
            [sub]
            n = 99
            typo = 1
            "#,
        )
        .expect("valid toml");
        let mut s = Section::new("", &table);
        assert_eq!(s.str("name"), None);
        assert_eq!(s.px("tick"), None);
        assert_eq!(s.qty("lot"), None);
        let mut sub = s.opt_table("sub").expect("sub table");
        assert_eq!(sub.opt_int("n", 0, 10), None);
        let sub_errors = sub.finish();
        let mut errors = s.finish();
        errors.extend(sub_errors);
        errors.sort();
        assert_eq!(
            errors,
            vec![
                "extra: unknown key",
                "lot: missing",
                "name: expected a string, found integer",
                "sub.n: 99 is out of range 0..=10",
                "sub.typo: unknown key",
                "tick: \"0.0x\" is not a valid decimal: invalid character at byte 3",
            ]
        );
    }

    #[test]
    fn a_huge_key_name_is_not_echoed_whole() {
        let name = "k".repeat(1 << 20);
        let table: toml::Table = format!("{name} = 1").parse().expect("toml");
        let errors = Section::new("", &table).finish();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].len() < 200, "{} bytes", errors[0].len());
        assert!(
            errors[0].contains("(1048576 bytes)"),
            "{}",
            &errors[0][..100]
        );
    }
}
