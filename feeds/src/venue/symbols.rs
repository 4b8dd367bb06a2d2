//! Symbol → instrument lookup without hashing or allocation per message.
//!
//! A connection carries a handful of instruments, so a linear scan over short inline keys beats
//! a hash map (no hashing, no pointer chase) and is deterministic. Lookups ignore ASCII case
//! because Binance writes `BTCUSDT` in payloads and `btcusdt` in stream names.

use tickwire_core::ids::InstrumentId;

/// Longest symbol the table stores (OKX option ids such as `BTC-USD-220527-30000-C` fit).
pub const MAX_SYMBOL_LEN: usize = 40;

#[derive(Clone, Debug)]
struct Entry {
    key: [u8; MAX_SYMBOL_LEN],
    len: u8,
    id: InstrumentId,
}

/// A small symbol table: venue symbol → (slot, [`InstrumentId`]). The slot is the position in
/// the table, which per-instrument state (book sync machines) is indexed by.
#[derive(Clone, Debug, Default)]
pub struct SymbolTable {
    entries: Vec<Entry>,
}

/// Why a symbol could not be added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SymbolError {
    /// Empty, longer than [`MAX_SYMBOL_LEN`], or not printable ASCII.
    Invalid(String),
    /// Already present (case-insensitively).
    Duplicate(String),
}

impl core::fmt::Display for SymbolError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Invalid(s) => write!(f, "invalid symbol {s:?}"),
            Self::Duplicate(s) => write!(f, "duplicate symbol {s:?}"),
        }
    }
}

impl std::error::Error for SymbolError {}

impl SymbolTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a table from `(symbol, id)` pairs, in order (slot `i` is the `i`-th pair).
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, InstrumentId)>,
    ) -> Result<Self, SymbolError> {
        let mut t = Self::new();
        for (symbol, id) in pairs {
            t.insert(symbol, id)?;
        }
        Ok(t)
    }

    /// Adds a symbol; returns its slot.
    pub fn insert(&mut self, symbol: &str, id: InstrumentId) -> Result<usize, SymbolError> {
        let bytes = symbol.as_bytes();
        if bytes.is_empty()
            || bytes.len() > MAX_SYMBOL_LEN
            || !bytes.iter().all(|b| b.is_ascii_graphic())
        {
            return Err(SymbolError::Invalid(symbol.to_owned()));
        }
        if self.slot(bytes).is_some() {
            return Err(SymbolError::Duplicate(symbol.to_owned()));
        }
        let mut key = [0u8; MAX_SYMBOL_LEN];
        key[..bytes.len()].copy_from_slice(bytes);
        self.entries.push(Entry {
            key,
            // Bounded by MAX_SYMBOL_LEN above.
            len: bytes.len() as u8,
            id,
        });
        Ok(self.entries.len() - 1)
    }

    /// The slot of `symbol` (ASCII case-insensitive).
    #[inline]
    pub fn slot(&self, symbol: &[u8]) -> Option<usize> {
        // Venues send one spelling per field, usually the stored one: an exact comparison
        // first costs a word compare, the case-folding one is the fallback.
        let same_len = |e: &&Entry| usize::from(e.len) == symbol.len();
        self.entries
            .iter()
            .position(|e| same_len(&e) && &e.key[..symbol.len()] == symbol)
            .or_else(|| {
                self.entries.iter().position(|e| {
                    same_len(&e) && e.key[..symbol.len()].eq_ignore_ascii_case(symbol)
                })
            })
    }

    /// The slot and instrument of `symbol`.
    #[inline]
    pub fn lookup(&self, symbol: &[u8]) -> Option<(usize, InstrumentId)> {
        self.slot(symbol).map(|i| (i, self.entries[i].id))
    }

    /// The instrument in `slot`.
    pub fn id(&self, slot: usize) -> Option<InstrumentId> {
        self.entries.get(slot).map(|e| e.id)
    }

    /// The slot holding `id`.
    pub fn slot_of(&self, id: InstrumentId) -> Option<usize> {
        self.entries.iter().position(|e| e.id == id)
    }

    /// The symbol stored in `slot`, as inserted.
    pub fn symbol(&self, slot: usize) -> Option<&str> {
        let e = self.entries.get(slot)?;
        core::str::from_utf8(&e.key[..usize::from(e.len)]).ok()
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_lookup_and_slots() {
        let t =
            SymbolTable::from_pairs([("BTCUSDT", InstrumentId(7)), ("ETHUSDT", InstrumentId(3))])
                .expect("valid");
        assert_eq!(t.lookup(b"btcusdt"), Some((0, InstrumentId(7))));
        assert_eq!(t.lookup(b"ETHUSDT"), Some((1, InstrumentId(3))));
        assert_eq!(t.lookup(b"ETHUSD"), None);
        assert_eq!(t.lookup(b""), None);
        assert_eq!(t.slot_of(InstrumentId(3)), Some(1));
        assert_eq!(t.symbol(0), Some("BTCUSDT"));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn rejects_bad_and_duplicate_symbols() {
        let mut t = SymbolTable::new();
        assert!(t.insert("", InstrumentId(0)).is_err());
        assert!(t.insert("BTC USDT", InstrumentId(0)).is_err());
        assert!(
            t.insert(&"X".repeat(MAX_SYMBOL_LEN + 1), InstrumentId(0))
                .is_err()
        );
        assert_eq!(t.insert("BTC-USDT", InstrumentId(0)), Ok(0));
        assert!(matches!(
            t.insert("btc-usdt", InstrumentId(1)),
            Err(SymbolError::Duplicate(_))
        ));
    }
}
