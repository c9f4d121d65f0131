//! The "used parameter" logic behind Postfix's `unused parameter` and
//! `undefined parameter` warnings (Postfix's `postconf_user.c`).
//!
//! A main.cf or master.cf `-o` name is used when it is built in, is a
//! service-defined name of a master.cf delivery service, is listed in
//! `smtpd_restriction_classes`, or is referenced as `$name` from a value:
//! a default left in place, any main.cf value, or any `-o` value.

use std::collections::{BTreeMap, HashSet};

use super::{Config, expand, registry};
use crate::master_cf::MasterCf;

/// Whether `name` is a built-in or a service-defined parameter for `master`.
pub fn is_known(name: &str, master: &MasterCf) -> bool {
    registry::find(name).is_some()
        || master.entries.iter().any(|s| {
            registry::service_params(&s.name, s.program())
                .iter()
                .any(|(n, _)| n == name)
        })
}

/// All service-defined parameters of `master` (name, default), sorted, unique.
pub fn service_parameters(master: &MasterCf) -> BTreeMap<String, String> {
    master
        .entries
        .iter()
        .flat_map(|s| registry::service_params(&s.name, s.program()))
        .collect()
}

/// The result of the analysis.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// Warnings as Postfix's postconf prints them, without `postconf: warning: `.
    pub warnings: Vec<String>,
    /// main.cf names that are not built in but are used (and so are shown).
    pub valid_user: HashSet<String>,
}

/// The warnings Postfix's postconf prints about unused and undefined
/// parameters, without the `postconf: warning: ` prefix.
pub fn warnings(config: &Config, master: &MasterCf) -> Vec<String> {
    analyse(config, master).warnings
}

/// Works out which user-defined names are used, and the warnings.
pub fn analyse(config: &Config, master: &MasterCf) -> Usage {
    let dir = config.config_directory().display().to_string();
    let main_path = format!("{dir}/main.cf");
    let master_path = format!("{dir}/master.cf");

    // main.cf settings, last one wins, in first-seen order.
    let mut main: Vec<(String, String)> = Vec::new();
    for e in config.entries() {
        match main.iter_mut().find(|(n, _)| *n == e.name) {
            Some(slot) => slot.1 = e.value.clone(),
            None => main.push((e.name.clone(), e.value.clone())),
        }
    }
    let main_has = |n: &str| main.iter().any(|(m, _)| m == n);
    let locals: Vec<Vec<(String, String)>> = master.entries.iter().map(|s| s.overrides()).collect();
    let local_has = |i: usize, n: &str| locals[i].iter().any(|(m, _)| m == n);

    let mut valid_main: HashSet<String> = HashSet::new();
    let mut valid_local: Vec<HashSet<String>> = vec![HashSet::new(); locals.len()];
    let mut undefined: Vec<String> = Vec::new();
    let mut flag = |name: &str, scope: Option<usize>, undefined: Option<&mut Vec<String>>| {
        let mut supplied = false;
        if let Some(i) = scope
            && local_has(i, name)
        {
            supplied = true;
            valid_local[i].insert(name.to_string());
        } else if main_has(name) {
            supplied = true;
            valid_main.insert(name.to_string());
        }
        if scope.is_none() {
            for (i, set) in valid_local.iter_mut().enumerate() {
                if local_has(i, name) {
                    supplied = true;
                    set.insert(name.to_string());
                }
            }
        }
        if let Some(undefined) = undefined
            && !supplied
            && !is_known(name, master)
        {
            let source = if scope.is_some() {
                &master_path
            } else {
                &main_path
            };
            // One warning per reference, like Postfix.
            undefined.push(format!("{source}: undefined parameter: {name}"));
        }
    };

    // Restriction classes named in main.cf (and in each service's -o).
    let class_names = |value: &str| -> Vec<String> {
        config
            .expand_value("smtpd_restriction_classes", value)
            .unwrap_or_default()
            .split([',', ' ', '\t', '\r', '\n'])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let global_classes: Vec<String> = main
        .iter()
        .find(|(n, _)| n == "smtpd_restriction_classes")
        .map(|(_, v)| class_names(v))
        .unwrap_or_default();

    for (i, local) in locals.iter().enumerate() {
        if let Some((_, v)) = local.iter().find(|(n, _)| n == "smtpd_restriction_classes") {
            for c in class_names(v) {
                flag(&c, Some(i), Some(&mut undefined));
            }
        }
        for (_, v) in local {
            for r in expand::references(v) {
                flag(&r, Some(i), Some(&mut undefined));
            }
        }
    }
    // Defaults left in place may name legacy parameters.
    for p in registry::all() {
        if !main_has(p.name) && !registry::is_raw(p.name) {
            for r in expand::references(p.default) {
                flag(&r, None, None);
            }
        }
    }
    for c in &global_classes {
        flag(c, None, Some(&mut undefined));
    }
    for (n, v) in &main {
        if registry::is_raw(n) {
            continue;
        }
        for r in expand::references(v) {
            flag(&r, None, Some(&mut undefined));
        }
    }
    for (i, local) in locals.iter().enumerate() {
        for (n, _) in local {
            if global_classes.contains(n) {
                valid_local[i].insert(n.clone());
            }
        }
    }

    let mut out = undefined;
    for (n, v) in &main {
        if !is_known(n, master) && !valid_main.contains(n) {
            out.push(format!("{main_path}: unused parameter: {n}={v}"));
        }
    }
    for (i, local) in locals.iter().enumerate() {
        for (n, v) in local {
            if n != "service_name" && !is_known(n, master) && !valid_local[i].contains(n) {
                out.push(format!("{master_path}: unused parameter: {n}={v}"));
            }
        }
    }
    Usage {
        warnings: out,
        valid_user: valid_main,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::master_cf;
    use std::path::Path;

    fn run(main_cf: &str, master: &str) -> Vec<String> {
        let c = Config::from_text(Path::new("/d"), main_cf).unwrap();
        let m = master_cf::parse(Path::new("/d/master.cf"), master).unwrap();
        let mut w = warnings(&c, &m);
        w.sort();
        w
    }

    #[test]
    fn unused_cases() {
        // Expected warnings were taken from the real postconf 3.7.11.
        let cases: [(&str, &str, &str, &[&str]); 8] = [
            ("builtin is used", "myhostname = x\n", "", &[]),
            (
                "unknown is unused",
                "foo = bar\n",
                "",
                &["/d/main.cf: unused parameter: foo=bar"],
            ),
            (
                "referenced is used, referrer is not",
                "foo = bar $baz\nbaz = 1\n",
                "",
                &["/d/main.cf: unused parameter: foo=bar $baz"],
            ),
            (
                "referenced from builtin",
                "myhostname = $h\nh = x\n",
                "",
                &[],
            ),
            (
                "restriction class",
                "smtpd_restriction_classes = cls\ncls = permit\n",
                "",
                &[],
            ),
            (
                "service parameter",
                "relay_destination_concurrency_limit = 2\n",
                "relay unix - - n - - smtp\n",
                &[],
            ),
            (
                "service parameter without service",
                "relay_destination_concurrency_limit = 2\n",
                "",
                &["/d/main.cf: unused parameter: relay_destination_concurrency_limit=2"],
            ),
            (
                "master -o",
                "x = $y\n",
                "s unix - - n - - smtpd -o y=1 -o z=2 -o myhostname=$w -o w=3\n",
                &[
                    "/d/main.cf: unused parameter: x=$y",
                    "/d/master.cf: unused parameter: z=2",
                ],
            ),
        ];
        for (case, main_cf, master, want) in cases {
            assert_eq!(run(main_cf, master), want, "case {case}");
        }
    }

    #[test]
    fn undefined_reference() {
        assert_eq!(
            run("myhostname = $nowhere\n", ""),
            ["/d/main.cf: undefined parameter: nowhere"]
        );
    }
}
