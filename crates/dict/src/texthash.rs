//! `texthash:` tables: a `postmap` source file read directly into memory,
//! and the shared source-file loader `postmap` uses to build indexed tables.

use crate::memtable::MemTable;
use crate::source::{SplitError, logical_lines, split_key_value};
use crate::{Dict, DictError, DictFlags, DupPolicy, FileStamp};

/// One `key value` record with its line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The key as written (quotes kept, as Postfix does).
    pub key: String,
    /// The value.
    pub value: String,
    /// First physical line of the record.
    pub lineno: usize,
}

/// Reads `postmap` source records; warnings are given without program
/// prefix: `FILE, line N: ...`. With `texthash` the format warning gets
/// Postfix's ` -- ignoring this line` suffix.
pub fn read_records(
    path: &str,
    data: &[u8],
    texthash: bool,
    warn: &mut dyn FnMut(&str),
) -> Vec<Record> {
    let mut out = Vec::new();
    read_records_with(path, data, texthash, warn, &mut |r| out.push(r));
    out
}

/// Like [`read_records`], handing each record to `on_record` as soon as it
/// is read, so that its messages interleave with the caller's in file order.
pub fn read_records_with(
    path: &str,
    data: &[u8],
    texthash: bool,
    warn: &mut dyn FnMut(&str),
    on_record: &mut dyn FnMut(Record),
) {
    for l in logical_lines(data, |w| warn(&format!("{path}: {w}"))) {
        let Ok(text) = String::from_utf8(l.text.clone()) else {
            warn(&format!(
                "{path}, line {}: non-UTF-8 input \"{}\" -- ignoring this line",
                l.lineno,
                String::from_utf8_lossy(&l.text)
            ));
            continue;
        };
        match split_key_value(&text) {
            Ok((k, v)) => {
                if k.ends_with(':') {
                    warn(&format!(
                        "{path}, line {}: record is in \"key: value\" format; is this an alias file?",
                        l.lineno
                    ));
                }
                on_record(Record {
                    key: k.to_string(),
                    value: v.to_string(),
                    lineno: l.lineno,
                });
            }
            Err(SplitError::UnbalancedQuote) => warn(&format!(
                "{path}, line {}: unbalanced '\"' in '{text}' -- ignoring this line",
                l.lineno
            )),
            Err(SplitError::NoValue) => warn(&format!(
                "{path}, line {}: expected format: key whitespace value{}",
                l.lineno,
                if texthash {
                    " -- ignoring this line"
                } else {
                    ""
                }
            )),
        }
    }
}

/// A loaded `texthash:` table.
pub struct TexthashDict {
    name: String,
    table: MemTable,
    stamp: FileStamp,
}

impl TexthashDict {
    /// Reads the source file.
    pub fn open(
        name: &str,
        flags: DictFlags,
        warn: &mut dyn FnMut(&str),
    ) -> Result<TexthashDict, DictError> {
        let data = std::fs::read(name).map_err(|e| DictError::Open {
            path: name.into(),
            source: e,
        })?;
        let mut table = MemTable::new(flags.fold_fix);
        // Duplicates are reported as each record is read, so the messages
        // interleave with the parse warnings in file order (as Postfix does).
        let pending = std::cell::RefCell::new(Vec::<String>::new());
        let flush = |warn: &mut dyn FnMut(&str), p: &std::cell::RefCell<Vec<String>>| {
            for m in p.borrow_mut().drain(..) {
                warn(&m);
            }
        };
        let mut on_record = |r: Record| {
            let replace = flags.dup == DupPolicy::Replace;
            if !table.insert(&r.key, r.value, replace) && flags.dup == DupPolicy::Warn {
                pending.borrow_mut().push(format!(
                    "{name}, line {}: duplicate entry: \"{}\"",
                    r.lineno, r.key
                ));
            }
        };
        read_records_with(
            name,
            &data,
            true,
            &mut |w| {
                flush(warn, &pending);
                warn(w)
            },
            &mut on_record,
        );
        flush(warn, &pending);
        Ok(TexthashDict {
            name: name.to_string(),
            table,
            stamp: FileStamp::take(name),
        })
    }
}

impl Dict for TexthashDict {
    fn dict_type(&self) -> &str {
        "texthash"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn lookup(&self, key: &str) -> Result<Option<String>, DictError> {
        Ok(self.table.get(key))
    }
    fn sequence(&self) -> Result<Vec<(String, String)>, DictError> {
        Ok(self.table.entries())
    }
    fn changed(&self) -> bool {
        self.stamp.changed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texthash_cases() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("th");
        std::fs::write(
            &path,
            "# c\nFoo@Example.COM OK\nfoo@example.com dup\nbar  multi\n  word\nnovalue\n",
        )
        .unwrap();
        let name = path.to_string_lossy().into_owned();
        let mut warns = Vec::new();
        let d = TexthashDict::open(&name, DictFlags::default(), &mut |w| {
            warns.push(w.to_string())
        })
        .unwrap();
        assert_eq!(
            warns,
            [
                format!("{name}, line 3: duplicate entry: \"foo@example.com\""),
                format!(
                    "{name}, line 6: expected format: key whitespace value -- ignoring this line"
                ),
            ]
        );
        let cases = [
            ("folded", "FOO@example.com", Some("OK")),
            ("continued", "bar", Some("multi  word")),
            ("missing", "novalue", None),
        ];
        for (case, key, want) in cases {
            assert_eq!(d.lookup(key).unwrap().as_deref(), want, "case {case}");
        }
    }
}
