//! A search path of lookup tables (Postfix's `maps.c`): several tables
//! named by one parameter, searched in order, with Postfix's distinction
//! between *full* keys (every table) and *partial* keys (parent domains,
//! stripped extensions, `@domain`), which pattern tables (`regexp:`,
//! `pcre:`, `cidr:`) never see.

use dict::{Dict, DictFlags};
use global::config::Config;

use crate::Error;

/// One table of a search path.
struct Table {
    /// The opened table.
    dict: Box<dyn Dict>,
    /// Whether it answers partial keys (`DICT_FLAG_FIXED` tables).
    fixed: bool,
}

/// Whether a table type matches fixed strings (and so answers partial
/// keys), as opposed to patterns (`DICT_FLAG_PATTERN`).
pub fn is_fixed_type(ty: &str) -> bool {
    !matches!(ty, "regexp" | "pcre" | "cidr" | "fail")
}

/// The tables named by one parameter, e.g. `transport_maps`.
pub struct Maps {
    /// The parameter name, used in diagnostics (Postfix's `maps->title`).
    title: String,
    /// The tables in search order.
    tables: Vec<Table>,
}

impl std::fmt::Debug for Maps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .tables
            .iter()
            .map(|t| format!("{}:{}", t.dict.dict_type(), t.dict.name()))
            .collect();
        f.debug_struct("Maps")
            .field("title", &self.title)
            .field("tables", &names)
            .finish()
    }
}

impl Maps {
    /// Opens every `type:name` in `specs`, in order.
    pub fn open(title: &str, specs: &[String], flags: DictFlags) -> Result<Maps, Error> {
        let mut tables = Vec::with_capacity(specs.len());
        for spec in specs {
            let dict = dict::open(spec, flags).map_err(|source| Error::Open {
                param: title.to_string(),
                source,
            })?;
            let fixed = is_fixed_type(dict.dict_type());
            tables.push(Table { dict, fixed });
        }
        Ok(Maps {
            title: title.to_string(),
            tables,
        })
    }

    /// Opens the tables listed in parameter `param`.
    pub fn from_config(config: &Config, param: &str, flags: DictFlags) -> Result<Maps, Error> {
        let specs = config.try_get_list(param)?;
        Maps::open(param, &specs, flags)
    }

    /// A search path without tables (an empty parameter).
    pub fn empty(title: &str) -> Maps {
        Maps {
            title: title.to_string(),
            tables: Vec::new(),
        }
    }

    /// True when no table is configured.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// The parameter name.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Looks `key` up in each table in turn (`maps_find`); with `partial`,
    /// pattern tables are skipped. A table error stops the search; an
    /// empty value is a configuration error, as in Postfix.
    pub fn find(&self, key: &str, partial: bool) -> Result<Option<String>, Error> {
        for t in &self.tables {
            if partial && !t.fixed {
                continue;
            }
            match t.dict.lookup(key) {
                Ok(Some(v)) if v.is_empty() => {
                    tracing::warn!(
                        "{} lookup of {} returns an empty string result",
                        self.title,
                        key
                    );
                    tracing::warn!(
                        "{} should return NO RESULT in case of NOT FOUND",
                        self.title
                    );
                    return Err(Error::EmptyResult {
                        title: self.title.clone(),
                        key: key.to_string(),
                    });
                }
                Ok(Some(v)) => return Ok(Some(v)),
                Ok(None) => {}
                Err(source) => {
                    return Err(Error::Lookup {
                        title: self.title.clone(),
                        source,
                    });
                }
            }
        }
        Ok(None)
    }

    /// True when a file behind one of the tables changed since it was
    /// opened (a long-running process should then restart).
    pub fn changed(&self) -> bool {
        self.tables.iter().any(|t| t.dict.changed())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn maps(specs: &[&str]) -> Maps {
        let v: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
        Maps::open("test_maps", &v, DictFlags::default()).unwrap()
    }

    #[test]
    fn find_table() {
        let dir = tempfile::tempdir().unwrap();
        let re = dir.path().join("re");
        std::fs::write(&re, "/^b/ from-regexp\n").unwrap();
        let re_spec = format!("regexp:{}", re.display());
        let m = maps(&["inline:{a=1, A2=2}", &re_spec, "inline:{b=3}"]);
        let cases: &[(&str, &str, bool, Option<&str>)] = &[
            ("first table", "a", false, Some("1")),
            ("folded key", "a2", false, Some("2")),
            ("regexp full", "b", false, Some("from-regexp")),
            ("regexp skipped for partial", "b", true, Some("3")),
            ("missing", "zzz", false, None),
        ];
        for (name, key, partial, want) in cases {
            assert_eq!(
                m.find(key, *partial).unwrap().as_deref(),
                *want,
                "case {name}"
            );
        }
    }

    #[test]
    fn errors() {
        let m = maps(&["fail:broken"]);
        assert!(matches!(m.find("x", false), Err(Error::Lookup { .. })));
        // fail: is a pattern table: partial keys never reach it.
        assert_eq!(m.find("x", true).unwrap(), None);
        let m = maps(&["inline:{{x=}}"]);
        assert!(matches!(m.find("x", false), Err(Error::EmptyResult { .. })));
        assert!(Maps::open("p", &["nocolon".to_string()], DictFlags::default()).is_err());
        assert!(Maps::empty("p").is_empty());
    }
}
