//! An in-memory table kept in file order, its keys folded when the table's
//! flags say so: what `inline:` and `texthash:` tables share.

use crate::fold_key;
use std::borrow::Cow;
use std::collections::HashMap;

/// Entries in insertion order with a hash index on the stored key.
#[derive(Debug, Clone, Default)]
pub(crate) struct MemTable {
    /// `(stored key, value)` in insertion order (what `sequence` lists).
    entries: Vec<(String, String)>,
    /// Stored key to its position in `entries`.
    index: HashMap<String, usize>,
    /// Whether keys are folded to lower case (`DICT_FLAG_FOLD_FIX`).
    fold: bool,
}

impl MemTable {
    /// An empty table; `fold` folds keys on insert and lookup.
    pub(crate) fn new(fold: bool) -> MemTable {
        MemTable {
            fold,
            ..MemTable::default()
        }
    }

    /// The key as the table stores it.
    fn stored<'a>(&self, key: &'a str) -> Cow<'a, str> {
        if self.fold {
            fold_key(key)
        } else {
            Cow::Borrowed(key)
        }
    }

    /// Adds `key`; returns false when it was there already, in which case
    /// the old value stays unless `replace` is set.
    pub(crate) fn insert(&mut self, key: &str, value: String, replace: bool) -> bool {
        let key = self.stored(key).into_owned();
        if let Some(&i) = self.index.get(&key) {
            if replace {
                self.entries[i].1 = value;
            }
            return false;
        }
        self.index.insert(key.clone(), self.entries.len());
        self.entries.push((key, value));
        true
    }

    /// The value stored under `key`.
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        self.index
            .get(self.stored(key).as_ref())
            .map(|&i| self.entries[i].1.clone())
    }

    /// All entries in insertion order.
    pub(crate) fn entries(&self) -> Vec<(String, String)> {
        self.entries.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memtable_cases() {
        let mut t = MemTable::new(true);
        assert!(t.insert("Foo", "1".into(), false));
        assert!(!t.insert("fOO", "2".into(), false));
        assert!(t.insert("bar", "3".into(), false));
        assert!(!t.insert("BAR", "4".into(), true));
        let cases = [
            ("first kept", "FOO", Some("1")),
            ("replaced", "bar", Some("4")),
            ("missing", "baz", None),
        ];
        for (name, key, want) in cases {
            assert_eq!(t.get(key).as_deref(), want, "case {name}");
        }
        assert_eq!(
            t.entries(),
            [
                ("foo".to_string(), "1".to_string()),
                ("bar".into(), "4".into())
            ]
        );
        let mut exact = MemTable::new(false);
        exact.insert("Foo", "1".into(), false);
        assert_eq!(exact.get("foo"), None);
        assert_eq!(exact.get("Foo").as_deref(), Some("1"));
    }
}
