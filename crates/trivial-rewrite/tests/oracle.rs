//! Side by side with the real Postfix: every query of the corpus is sent
//! to Postfix 3.7's `trivial-rewrite -S` (stand-alone mode, one request on
//! stdin, attributes on stdout) with the same main.cf, and the answer must
//! equal this crate's. Needs root (the daemon drops to `mail_owner`);
//! otherwise, or without Postfix, it prints "skipped: no reference Postfix".

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use global::config::Config;
use trivial_rewrite::{Context, Personality, Resolver, RewriteSettings};

const DAEMON: &str = "/usr/lib/postfix/sbin/trivial-rewrite";

/// One query: `("resolve"|"verify", sender, address)` or `("rewrite", "local"|"remote", address)`.
type Query = (&'static str, &'static str, &'static str);

/// A main.cf fragment, extra files (name, content; `$DIR` is replaced by
/// the config directory) and the queries to run against it.
struct Scenario {
    name: &'static str,
    main_cf: &'static str,
    files: &'static [(&'static str, &'static str)],
    queries: &'static [Query],
}

const BASE: &str =
    "compatibility_level = 3.6\nmyhostname = mail.example.com\nmydomain = example.com\n";

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "defaults",
        main_cf: "",
        files: &[],
        queries: &[
            ("rewrite", "local", "user"),
            ("rewrite", "local", "a!b!user"),
            ("rewrite", "local", "user%dom"),
            ("rewrite", "local", "u%a%b"),
            ("rewrite", "remote", "user"),
            ("rewrite", "local", "@a,@b:u@c"),
            ("rewrite", "local", "@"),
            ("rewrite", "local", "u@host."),
            ("rewrite", "local", "a!"),
            ("rewrite", "local", "<u@x>"),
            ("rewrite", "local", "\"a b\""),
            ("resolve", "", "user"),
            ("resolve", "", "User@MAIL.example.com"),
            ("resolve", "", "user@localhost"),
            ("resolve", "", "user@localhost.example.com"),
            ("resolve", "", "user@mail.example.com."),
            ("resolve", "", "u%v@example.org"),
            ("resolve", "", "u%v@mail.example.com"),
            ("resolve", "", "u@v@mail.example.com"),
            ("resolve", "", "a!b@mail.example.com"),
            ("resolve", "", "b!c@example.org"),
            ("resolve", "", "@r1,@r2:u@example.org"),
            ("resolve", "", "u@example.org@mail.example.com"),
            ("resolve", "", "\"u@example.org\"@mail.example.com"),
            ("resolve", "", "u@[127.0.0.1]"),
            ("resolve", "", "u@[10.9.9.9]"),
            ("resolve", "", "u@[IPv6:::1]"),
            ("resolve", "", "u@1.2.3.4"),
            ("resolve", "", ""),
            ("resolve", "", "@mail.example.com"),
            ("resolve", "", "-u@example.org"),
            ("resolve", "", "u@x..org"),
            ("resolve", "", "u@"),
            ("resolve", "", "u@example.org."),
            ("resolve", "", "john doe@example.org"),
            ("resolve", "", "Postmaster"),
            ("verify", "", "u@example.org"),
        ],
    },
    Scenario {
        name: "classes",
        main_cf: "virtual_alias_domains = valias.example, texthash:$DIR/valias_doms\n\
                  virtual_mailbox_domains = vmbox.example\n\
                  relay_domains = relay.example, .dotrelay.example\n\
                  relayhost = [smarthost.example]:587\n\
                  inet_interfaces = 127.0.0.1\nproxy_interfaces = 198.51.100.7\n\
                  recipient_delimiter = +\n",
        files: &[("valias_doms", "valias2.example whatever\n")],
        queries: &[
            ("resolve", "", "u@valias.example"),
            ("resolve", "", "u@valias2.example"),
            ("resolve", "", "u@vmbox.example"),
            ("resolve", "", "u+ext@vmbox.example"),
            ("resolve", "", "u@relay.example"),
            ("resolve", "", "u@sub.relay.example"),
            ("resolve", "", "u@a.dotrelay.example"),
            ("resolve", "", "u@example.org"),
            ("resolve", "", "u@[198.51.100.7]"),
            ("resolve", "", "u@[127.0.0.1]"),
            ("resolve", "", "u@[192.0.2.2]"),
            ("resolve", "", "u%relay.example@mail.example.com"),
            ("verify", "", "u@example.org"),
        ],
    },
    Scenario {
        name: "transport_maps",
        main_cf: "transport_maps = texthash:$DIR/transport\nrecipient_delimiter = +\n\
                  relay_domains = relay.example\n",
        files: &[(
            "transport",
            "u+x@a.example full:\n\
             v@a.example stripped:[v.host]:26\n\
             b.example :[b.host]\n\
             .c.example dotparent\n\
             c.example plain:c.host:2525\n\
             e.example error:5.7.1 go away\n\
             f.example error:\n\
             relay.example smtp:\n\
             mail.example.com local:otherhost\n\
             localhost :\n\
             * wild:[wild.host]\n",
        )],
        queries: &[
            ("resolve", "", "u+x@a.example"),
            ("resolve", "", "v+y@a.example"),
            ("resolve", "", "w@a.example"),
            ("resolve", "", "w@b.example"),
            ("resolve", "", "w@sub.b.example"),
            ("resolve", "", "w@sub.c.example"),
            ("resolve", "", "w@c.example"),
            ("resolve", "", "w@e.example"),
            ("resolve", "", "w@f.example"),
            ("resolve", "", "w@relay.example"),
            ("resolve", "", "w@mail.example.com"),
            ("resolve", "", "w@localhost"),
            ("resolve", "", "w@other.example"),
        ],
    },
    Scenario {
        name: "parent style transport, relayhost and sender maps",
        main_cf: "transport_maps = inline:{{example.net=parent:}}\n\
                  parent_domain_matches_subdomains = transport_maps\n\
                  relayhost = gw.example:2525\n\
                  sender_dependent_relayhost_maps = inline:{{s@sender.example=[sdr.host]}, {<>=[null.host]}, {@dunno.example=DUNNO}}\n\
                  sender_dependent_default_transport_maps = inline:{{s@sender.example=sdt:}}\n\
                  relay_domains = relay.example\n",
        files: &[],
        queries: &[
            ("resolve", "", "u@sub.example.net"),
            ("resolve", "x@other.example", "u@example.org"),
            ("resolve", "s@sender.example", "u@example.org"),
            ("resolve", "s@sender.example", "u@relay.example"),
            ("resolve", "", "u@example.org"),
            ("resolve", "d@dunno.example", "u@example.org"),
        ],
    },
    Scenario {
        name: "failures and odd settings",
        main_cf: "relay_domains = fail:x\nresolve_null_domain = yes\nresolve_numeric_domain = yes\n\
                  allow_percent_hack = no\nswap_bangpath = no\nappend_dot_mydomain = yes\n\
                  local_transport = local\nempty_address_recipient = nobody\n\
                  relocated_maps = inline:{{gone@mail.example.com=new@else.example}}\n",
        files: &[],
        queries: &[
            ("resolve", "", "u@example.org"),
            ("resolve", "", "u@mail.example.com"),
            ("resolve", "", "gone@mail.example.com"),
            ("resolve", "", "u@"),
            ("resolve", "", "u%v@mail.example.com"),
            ("resolve", "", "a!b@mail.example.com"),
            ("resolve", "", ""),
            ("resolve", "", "u@127.0.0.1"),
            ("rewrite", "local", "u@host"),
            ("rewrite", "local", "u%h"),
        ],
    },
    Scenario {
        name: "table failures",
        main_cf: "mydestination = fail:broken\n",
        files: &[],
        queries: &[("resolve", "", "u@example.org"), ("resolve", "", "user")],
    },
    Scenario {
        name: "null transport and empty sender results",
        main_cf: "default_transport = :gw2.example\n\
                  sender_dependent_relayhost_maps = inline:{{<>=}, {a@s.example=DUNNO}}\n\
                  relayhost = gw.example\n\
                  sender_dependent_default_transport_maps = inline:{{b@s.example=DUNNO}}\n\
                  relay_domains = relay.example\n",
        files: &[],
        queries: &[
            ("resolve", "", "u@example.org"),
            ("resolve", "a@s.example", "u@relay.example"),
            ("resolve", "b@s.example", "u@relay.example"),
            ("resolve", "b@s.example", "u@example.org"),
        ],
    },
    Scenario {
        name: "verify personality",
        main_cf: "address_verify_default_transport = probe\n\
                  address_verify_relayhost = [vrfy.example]\nrelayhost = [normal.example]\n\
                  address_verify_local_transport = vlocal\n",
        files: &[],
        queries: &[
            ("verify", "", "u@example.org"),
            ("resolve", "", "u@example.org"),
            ("verify", "", "u@mail.example.com"),
        ],
    },
];

/// Whether the reference daemon can run here.
fn reference_available() -> bool {
    Path::new(DAEMON).exists() && nix_is_root()
}

/// Whether we run as root (the daemon insists on dropping privileges).
fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Sends one query to the reference daemon; returns the attribute values.
fn ask_postfix(dir: &Path, q: Query) -> Vec<String> {
    let (kind, a, b) = q;
    let req = if kind == "rewrite" {
        format!("request\0rewrite\0rule\0{a}\0address\0{b}\0\0")
    } else {
        format!("request\0{kind}\0sender\0{a}\0address\0{b}\0\0")
    };
    let mut child = Command::new(DAEMON)
        .arg("-S")
        .env("MAIL_CONFIG", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(req.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.trim_end_matches('\0')
        .split('\0')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Writes the scenario's config directory.
fn setup(s: &Scenario) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for sub in ["q", "d"] {
        std::fs::create_dir(dir.join(sub)).unwrap();
    }
    let d = dir.display().to_string();
    let main_cf = format!(
        "{BASE}queue_directory = {d}/q\ndata_directory = {d}/d\n{}",
        s.main_cf.replace("$DIR", &d)
    );
    std::fs::write(dir.join("main.cf"), main_cf).unwrap();
    std::fs::write(dir.join("master.cf"), "").unwrap();
    for (name, content) in s.files {
        std::fs::write(dir.join(name), content.replace("$DIR", &d)).unwrap();
    }
    (tmp, dir)
}

#[test]
fn resolve_and_rewrite_match_postfix() {
    if !reference_available() {
        println!("skipped: no reference Postfix");
        return;
    }
    let mut compared = 0;
    let mut mismatches = Vec::new();
    for s in SCENARIOS {
        let (_tmp, dir) = setup(s);
        let config = Config::load(Some(&dir)).unwrap();
        let regular = Resolver::from_config(&config, Personality::Regular).unwrap();
        let verify = Resolver::from_config(&config, Personality::Verify).unwrap();
        let rw = RewriteSettings::from_config(&config).unwrap();
        for q in s.queries {
            let want = ask_postfix(&dir, *q);
            let got: Vec<String> = match q.0 {
                "rewrite" => {
                    let ctx = Context::from_name(q.1).unwrap();
                    vec!["0".to_string(), rw.rewrite_external(ctx, q.2)]
                }
                kind => {
                    let r = if kind == "verify" { &verify } else { &regular };
                    let res = r.resolve(q.1, q.2);
                    vec![
                        "0".to_string(),
                        res.transport,
                        res.nexthop,
                        res.recipient,
                        res.flags.bits().to_string(),
                    ]
                }
            };
            compared += 1;
            if got != want {
                mismatches.push(format!(
                    "[{}] {q:?}: postfix {want:?}, ours {got:?}",
                    s.name
                ));
            }
        }
    }
    println!("compared {compared} queries with Postfix");
    assert!(
        mismatches.is_empty(),
        "mismatches:\n{}",
        mismatches.join("\n")
    );
}
