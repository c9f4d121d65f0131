//! End-to-end tests of the submission path: `sendmail` -> `postdrop` ->
//! `maildrop/` -> `pickup` -> `cleanup` -> `incoming/`, in a private
//! instance started with `postfix start` (no qmgr in its master.cf, so the
//! queue files stay where cleanup put them). Queue files are read with the
//! real `/usr/sbin/postcat` when installed (else Rostfix's), and the
//! maildrop file and error texts are compared with the real `sendmail`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use rostfix_tests::instance::Instance;
use rostfix_tests::reference::ReferencePostfix;
use rostfix_tests::{bin_dir, reference, rostfix, run, skip_without_reference, stderr};

const MASTER_CF: &str = include_str!("../resources/submission/master.cf.in");

fn resources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/submission")
}

/// `sendmail -C <instance config> args...` with `stdin`.
fn sendmail(inst: &Instance, args: &[&str], stdin: &str) -> Output {
    let conf = inst.config_dir();
    let mut all = vec!["-C", conf.to_str().expect("utf8")];
    all.extend_from_slice(args);
    run(&rostfix("sendmail"), &all, Some(stdin))
}

/// `postcat` of a queue file: the reference one when installed.
fn postcat(inst: &Instance, path: &Path) -> String {
    let conf = inst.config_dir();
    let prog = reference("postcat").unwrap_or_else(|| rostfix("postcat"));
    let out = run(
        &prog,
        &[
            "-c",
            conf.to_str().expect("utf8"),
            path.to_str().expect("utf8"),
        ],
        None,
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The queue ID pickup logged for the message from `sender`.
fn queue_id(inst: &Instance, sender: &str) -> String {
    let needle = format!(" from=<{sender}>");
    assert!(
        inst.wait_log(&needle, 20),
        "no pickup line for {sender}:\n{}",
        inst.log()
    );
    let log = inst.log();
    let line = log
        .lines()
        .find(|l| l.contains("postfix/pickup[") && l.contains(&needle))
        .expect("pickup line");
    let after = &line[line.find("]: ").expect("tag") + 3..];
    after[..after.find(": uid=").expect("uid")].to_string()
}

/// Waits until `path` exists.
fn wait_file(path: &Path, secs: u64) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn submit(inst: &Instance, args: &[&str], msg: &str) {
    let out = sendmail(inst, args, msg);
    assert!(
        out.status.success(),
        "sendmail {args:?}: {:?} {}",
        out.status,
        stderr(&out)
    );
}

/// The incoming queue file of `sender`'s message, once cleanup committed it.
fn incoming(inst: &Instance, sender: &str) -> (String, PathBuf) {
    let id = queue_id(inst, sender);
    let path = inst.queue_dir().join("incoming").join(&id);
    assert!(
        wait_file(&path, 20),
        "{id} not in incoming/:\n{}",
        inst.log()
    );
    (id, path)
}

fn start() -> Instance {
    let inst = Instance::new(MASTER_CF, "");
    // Tables go inside the instance (readable by mail_owner when run as root).
    let res = inst.path().join("res");
    fs::create_dir_all(&res).expect("res");
    for f in ["header_checks", "virtual"] {
        fs::copy(resources().join(f), res.join(f)).expect("copy table");
    }
    let mut main = fs::read_to_string(inst.config_dir().join("main.cf")).expect("main.cf");
    main.push_str(&format!(
        "myhostname = host.example.com\nmydomain = example.com\n\
         header_checks = regexp:{r}/header_checks\nvirtual_alias_maps = texthash:{r}/virtual\n\
         canonical_maps = inline:{{ carol=carol.smith@example.com }}\n\
         masquerade_domains = sub.example.org\nalways_bcc = archive@example.com\n\
         message_size_limit = 20000\n",
        r = res.display()
    ));
    fs::write(inst.config_dir().join("main.cf"), main).expect("main.cf");
    assert_eq!(inst.postfix("start"), 0, "start:\n{}", inst.log());
    inst
}

#[test]
fn sendmail_to_incoming_queue_file() {
    let inst = start();
    let uid = nix_uid();

    // 1. Command-line recipients, full name, added headers, canonical map.
    submit(
        &inst,
        &["-f", "alice", "-F", "Alice User", "bob", "carol"],
        "Subject: one\n\nfirst body\n",
    );
    let (id, path) = incoming(&inst, "alice");
    let pc = postcat(&inst, &path);
    for want in [
        "sender_fullname: Alice User".to_string(),
        "sender: alice@host.example.com".to_string(),
        "original_recipient: bob".to_string(),
        "recipient: bob@host.example.com".to_string(),
        "original_recipient: carol".to_string(),
        "recipient: carol.smith@example.com".to_string(),
        format!("Received: by host.example.com (Postfix, from userid {uid})"),
        format!("\tid {id}; "),
        "Subject: one".to_string(),
        format!(".{id}@host.example.com>"),
        "From: Alice User <alice@host.example.com>".to_string(),
        "first body".to_string(),
        "*** HEADER EXTRACTED".to_string(),
        "recipient: archive@example.com".to_string(),
    ] {
        assert!(pc.contains(&want), "missing {want:?} in\n{pc}");
    }
    assert!(
        inst.log().contains(&format!("{id}: message-id=<")),
        "{}",
        inst.log()
    );
    assert_eq!(
        fs::metadata(&path).expect("stat").permissions().mode() & 0o777,
        0o700,
        "a committed queue file is mode 0700"
    );

    // 2. -t: recipients from To/Cc/Bcc, Bcc removed, virtual expansion
    //    (recursive), masquerading of envelope and header sender.
    submit(
        &inst,
        &["-t", "-f", "dave@mail.sub.example.org"],
        "From: dave@mail.sub.example.org\nTo: list@lists.example.org\nCc: erin\n\
         Bcc: frank@example.com\nX-Remove-Me: yes\nSubject: two\n\nsecond body\n",
    );
    let (_id2, path2) = incoming(&inst, "dave@mail.sub.example.org");
    let pc = postcat(&inst, &path2);
    for want in [
        "sender: dave@sub.example.org",
        "recipient: ann.real@example.net",
        "recipient: ben@example.net",
        "recipient: erin@host.example.com",
        "recipient: frank@example.com",
        "From: dave@sub.example.org",
        "Cc: erin@host.example.com",
        "To: list@lists.example.org",
    ] {
        assert!(pc.contains(want), "missing {want:?} in\n{pc}");
    }
    for unwanted in ["Bcc:", "X-Remove-Me"] {
        assert!(!pc.contains(unwanted), "unexpected {unwanted:?} in\n{pc}");
    }

    // 3. header_checks REJECT on pickup mail: cleanup bounces it (the file
    //    is queued with every recipient done and a bounce/ log for qmgr).
    submit(
        &inst,
        &["-f", "rejecter", "bob"],
        "Subject: reject me\n\nx\n",
    );
    let (id3, path3) = incoming(&inst, "rejecter");
    let reject_line = format!(
        "{id3}: reject: header Subject: reject me from local; from=<rejecter@host.example.com> to=<bob@host.example.com>: 5.7.1 message content rejected"
    );
    assert!(inst.wait_log(&reject_line, 10), "{}", inst.log());
    assert!(inst.log().contains(&format!(
        "{id3}: to=<bob@host.example.com>, orig_to=<bob>, relay=none, delay="
    )));
    assert!(
        inst.log()
            .contains("dsn=5.7.1, status=bounced (message content rejected)")
    );
    let pc = postcat(&inst, &path3);
    assert!(!pc.contains("\nrecipient: "), "all recipients done:\n{pc}");
    assert!(inst.queue_dir().join("bounce").join(&id3).exists());

    // 4. HOLD goes to hold/.
    submit(&inst, &["-f", "holder", "bob"], "Subject: hold me\n\nx\n");
    let id4 = queue_id(&inst, "holder");
    assert!(
        wait_file(&inst.queue_dir().join("hold").join(&id4), 20),
        "{}",
        inst.log()
    );
    assert!(
        inst.log()
            .contains(&format!("{id4}: hold: header Subject: hold me from local;"))
    );

    // 5. message_size_limit and 6. hopcount_limit: bounced with Postfix's texts.
    let big = format!("Subject: big\n\n{}\n", "z".repeat(100).repeat(300));
    submit(&inst, &["-f", "big", "bob"], &big);
    let id5 = queue_id(&inst, "big");
    assert!(inst.wait_log(&format!("{id5}: to=<bob@host.example.com>"), 20));
    assert!(
        inst.log()
            .contains("dsn=5.3.4, status=bounced (message file too big)")
    );
    let hops = format!(
        "{}Subject: loop\n\nx\n",
        "Received: from a by b\n".repeat(50)
    );
    submit(&inst, &["-f", "hoppy", "bob"], &hops);
    let id6 = queue_id(&inst, "hoppy");
    assert!(inst.wait_log(&format!("{id6}: to=<bob@host.example.com>"), 20));
    assert!(
        inst.log()
            .contains("dsn=5.4.0, status=bounced (too many hops)")
    );

    // 7. A garbage maildrop file is set aside and does not stop the rest.
    let garbage = inst.queue_dir().join("maildrop").join("ABCDEF12345");
    fs::write(&garbage, b"\xff\xff\xff\xff\xff\xff garbage").expect("garbage");
    fs::set_permissions(&garbage, fs::Permissions::from_mode(0o744)).expect("chmod");
    submit(&inst, &["-f", "after", "bob"], "Subject: after\n\nx\n");
    incoming(&inst, "after");
    assert!(
        inst.wait_log("maildrop/ABCDEF12345: uid=", 10),
        "{}",
        inst.log()
    );
    assert!(inst.log().contains("unexpected or malformed record type"));
    assert!(inst.queue_dir().join("corrupt/ABCDEF12345").exists());

    // Nothing is left in maildrop/.
    let end = Instant::now() + Duration::from_secs(10);
    let left = loop {
        let left: Vec<_> = fs::read_dir(inst.queue_dir().join("maildrop"))
            .expect("maildrop")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        if left.is_empty() || Instant::now() > end {
            break left;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(left.is_empty(), "left in maildrop: {left:?}");
}

fn nix_uid() -> u32 {
    // The maildrop file belongs to whoever ran sendmail: this process.
    let meta = fs::metadata("/proc/self").expect("/proc/self");
    std::os::unix::fs::MetadataExt::uid(&meta)
}

/// A private queue with a maildrop/ directory and a main.cf pointing at
/// `command_directory`.
fn private_queue(command_directory: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = dir.path().join("q");
    fs::create_dir_all(q.join("maildrop")).expect("maildrop");
    fs::create_dir_all(q.join("public")).expect("public");
    fs::set_permissions(q.join("maildrop"), fs::Permissions::from_mode(0o1733)).expect("chmod");
    fs::write(
        dir.path().join("main.cf"),
        format!(
            "queue_directory = {}\ncommand_directory = {}\n",
            q.display(),
            command_directory.display()
        ),
    )
    .expect("main.cf");
    fs::write(dir.path().join("master.cf"), "").expect("master.cf");
    dir
}

/// The only maildrop file's bytes after its `T` record.
fn maildrop_body(dir: &Path) -> Vec<u8> {
    let files: Vec<_> = fs::read_dir(dir.join("q/maildrop"))
        .expect("maildrop")
        .flatten()
        .collect();
    assert_eq!(files.len(), 1, "one maildrop file");
    let meta = files[0].metadata().expect("stat");
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o744,
        "maildrop file mode"
    );
    let data = fs::read(files[0].path()).expect("read");
    assert_eq!(data[0], b'T');
    let len = usize::from(data[1]);
    data[2 + len..].to_vec()
}

/// The real sendmail honours `-C` for an ordinary user only when the
/// directory is listed in `/etc/postfix/main.cf`'s
/// `alternate_config_directories`; the comparisons need root (as in CI).
fn reference_sendmail() -> Option<PathBuf> {
    if skip_without_reference("sendmail") {
        return None;
    }
    if nix_uid() != 0 {
        eprintln!("skipped: the reference sendmail ignores -C for an ordinary user");
        return None;
    }
    reference("sendmail")
}

#[test]
fn maildrop_file_matches_postfix() {
    let Some(real) = reference_sendmail() else {
        return;
    };
    let input = "From someone Mon Jan  1 00:00:00 2024\nSubject: x\nTo: a@b, \"C D\" <c@d>\n\
                 Bcc: e@f\n\nbody\n.dotted\nline2";
    let args = [
        "-t",
        "-i",
        "-f",
        "sender@x",
        "-F",
        "Full Name",
        "bob",
        "x@y",
    ];
    let theirs = private_queue(Path::new("/usr/sbin"));
    let ours = private_queue(&bin_dir());
    for (prog, dir) in [(real, &theirs), (rostfix("sendmail"), &ours)] {
        let conf = dir.path().to_str().expect("utf8").to_string();
        let mut all = vec!["-C", conf.as_str()];
        all.extend_from_slice(&args);
        let out = run(&prog, &all, Some(input));
        assert!(out.status.success(), "{}: {}", prog.display(), stderr(&out));
    }
    assert_eq!(
        String::from_utf8_lossy(&maildrop_body(ours.path())),
        String::from_utf8_lossy(&maildrop_body(theirs.path()))
    );
}

#[test]
fn sendmail_errors_match_postfix() {
    let dir = private_queue(&bin_dir());
    let conf = dir.path().to_str().expect("utf8").to_string();
    let cases: &[(&str, &[&str], &str)] = &[
        ("no recipients", &[], "Subject: x\n\nbody\n"),
        ("-t without recipients", &["-t"], "Subject: x\n\nbody\n"),
    ];
    for (name, args, input) in cases {
        let mut all = vec!["-C", conf.as_str()];
        all.extend_from_slice(args);
        let ours = run(&rostfix("sendmail"), &all, Some(input));
        assert_eq!(
            ours.status.code(),
            Some(75),
            "case {name}: {}",
            stderr(&ours)
        );
        let err = stderr(&ours);
        let want = if args.is_empty() {
            "Recipient addresses must be specified on the command line or via the -t option"
        } else {
            "No recipient addresses found in message header"
        };
        assert!(
            err.starts_with("sendmail: fatal: ") && err.contains(want),
            "case {name}: {err}"
        );
        if let Some(real) = reference_sendmail() {
            // The real sendmail runs with the real postdrop, in its own queue.
            let theirs_dir = private_queue(Path::new("/usr/sbin"));
            let theirs_conf = theirs_dir.path().to_str().expect("utf8").to_string();
            let mut targs = vec!["-C", theirs_conf.as_str()];
            targs.extend_from_slice(args);
            let theirs = run(&real, &targs, Some(input));
            assert_eq!(ours.status.code(), theirs.status.code(), "case {name}");
            assert_eq!(err, stderr(&theirs), "case {name}");
        }
    }
    let left = fs::read_dir(dir.path().join("q/maildrop"))
        .expect("maildrop")
        .count();
    assert_eq!(left, 0, "a refused submission leaves no maildrop file");
}

const MASTER_QMGR_CF: &str = include_str!("../resources/submission/master-qmgr.cf.in");

/// With qmgr, discard and bounce in master.cf: cleanup's trigger wakes
/// qmgr, accepted mail is delivered, and mail that cleanup bounced (every
/// recipient done, a `bounce/` log) gets a notice from bounce and is removed.
#[test]
fn cleanup_output_flows_through_qmgr() {
    let missing: Vec<&str> = ["qmgr", "discard", "bounce"]
        .into_iter()
        .filter(|p| !bin_dir().join(p).exists())
        .collect();
    if !missing.is_empty() {
        eprintln!("skipped: {missing:?} not built yet");
        return;
    }
    let inst = Instance::new(MASTER_QMGR_CF, "");
    let hc = inst.path().join("header_checks");
    fs::write(&hc, "/^Subject: bad/ REJECT\n").expect("header_checks");
    let mut main = fs::read_to_string(inst.config_dir().join("main.cf")).expect("main.cf");
    main.push_str(&format!(
        "myhostname = host.example.com\nmydomain = example.com\ndefault_transport = discard\n\
         local_transport = discard\nheader_checks = regexp:{}\n",
        hc.display()
    ));
    fs::write(inst.config_dir().join("main.cf"), main).expect("main.cf");
    assert_eq!(inst.postfix("start"), 0, "start:\n{}", inst.log());
    submit(&inst, &["-f", "good", "bob"], "Subject: fine\n\nx\n");
    submit(&inst, &["-f", "badone", "bob"], "Subject: bad\n\nx\n");
    let good = queue_id(&inst, "good");
    let bad = queue_id(&inst, "badone");
    assert!(
        inst.wait_log(&format!("{good}: removed"), 30),
        "{}",
        inst.log()
    );
    assert!(
        inst.log()
            .contains(&format!("{good}: to=<bob@host.example.com>, orig_to=<bob>"))
    );
    assert!(
        inst.wait_log(&format!("{bad}: removed"), 30),
        "{}",
        inst.log()
    );
    assert!(
        inst.log()
            .contains(&format!("{bad}: sender non-delivery notification: ")),
        "{}",
        inst.log()
    );
}

/// A private Postfix 3.7 instance with pickup, cleanup and trivial-rewrite
/// only (nothing delivers, so queue files stay in `incoming/` to compare).
fn reference_instance(main_extra: &str) -> Option<ReferencePostfix> {
    ReferencePostfix::start(
        "pickup unix n - n 60 1 pickup\ncleanup unix n - n - 0 cleanup\n\
         rewrite unix - - n - - trivial-rewrite\npostlog unix-dgram n - n - 1 postlogd\n",
        &format!("compatibility_level = 3.6\n{main_extra}"),
    )
}

/// The only file in `dir`, once there.
fn only_file(dir: &Path, secs: u64) -> PathBuf {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        let files: Vec<PathBuf> = fs::read_dir(dir)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        let done: Vec<&PathBuf> = files
            .iter()
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains('.'))
            })
            .collect();
        // Postfix's cleanup names the file before writing it: wait for the
        // owner-execute bit that marks it complete.
        let complete = done
            .iter()
            .all(|p| fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o700 == 0o700));
        if done.len() == 1 && complete {
            return done[0].clone();
        }
        assert!(
            Instant::now() < end,
            "no single file in {}: {files:?}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// postcat output made comparable: queue ID, times and sizes masked, the
/// Rostfix format marker dropped, envelope records sorted (Rostfix writes
/// the full name before the attributes, Postfix after the first one).
fn normalize(postcat: &str, id: &str) -> (Vec<String>, Vec<String>) {
    let mut envelope = Vec::new();
    let mut rest = Vec::new();
    let mut in_envelope = false;
    for line in postcat.replace(id, "QUEUEID").lines() {
        if line.starts_with("*** ENVELOPE RECORDS") {
            in_envelope = true;
            continue;
        }
        if line.starts_with("*** ") {
            in_envelope = false;
            rest.push(line.split(" /").next().unwrap_or(line).to_string());
            continue;
        }
        if line.starts_with("message_size:")
            || line.starts_with("message_arrival_time:")
            || line.starts_with("create_time:")
            || line == "named_attribute: rostfix_queue_format=1"
        {
            continue;
        }
        let masked = if let Some(p) = line.find("; ").filter(|_| line.starts_with("\tid ")) {
            format!("{}; DATE", &line[..p])
        } else if let Some(p) = ["Date: ", "Resent-Date: "]
            .iter()
            .find(|p| line.starts_with(**p))
        {
            format!("{p}DATE")
        } else if let Some(p) = ["Message-Id: <", "Resent-Message-Id: <"]
            .iter()
            .find(|p| line.starts_with(**p))
        {
            format!("{p}STAMP.QUEUEID@host>")
        } else {
            line.to_string()
        };
        if in_envelope {
            envelope.push(masked);
        } else {
            rest.push(masked);
        }
    }
    envelope.sort();
    (envelope, rest)
}

/// The same submission through the real Postfix (sendmail, postdrop,
/// pickup, cleanup) and through Rostfix gives the same queue file, as
/// the real postcat shows it.
#[test]
fn queue_file_matches_postfix_cleanup() {
    let settings = "myhostname = host.example.com\nmydomain = example.com\n\
                    canonical_maps = inline:{ carol=carol.smith@example.com }\n\
                    masquerade_domains = sub.example.org\nalways_bcc = archive@example.com\n";
    let Some(reference_instance) = reference_instance(settings) else {
        return;
    };
    let inst = Instance::new(MASTER_CF, settings);
    assert_eq!(inst.postfix("start"), 0, "start:\n{}", inst.log());
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "full name, canonical, added headers",
            &["-f", "alice", "-F", "Alice Q. User", "bob", "carol"],
            "Subject: plain\n\nx\n",
        ),
        (
            "-t, masquerading, folding, Bcc removal",
            &[
                "-t",
                "-f",
                "dave@mail.sub.example.org",
                "-F",
                "Dave",
                "carol",
            ],
            "From: dave@mail.sub.example.org\nTo: list@lists.example.org, \"Carl C.\" <carl>\n\
             Cc: erin, a very long name <averyveryverylongaddress@some.domain.example.com>, third@x.org\n\
             Bcc: frank@example.com\nSubject: two\n\nsecond body\n",
        ),
        (
            "resent headers",
            &["-f", "rs", "bob"],
            "Resent-From: joe\nFrom: f@x.org\nSubject: r\n\nbody\n",
        ),
    ];
    let postcat_prog = reference("postcat").expect("postcat");
    for (name, args, input) in cases {
        // Reference first.
        let ref_etc = reference_instance.config_dir();
        let mut rargs = vec!["-C", ref_etc.to_str().expect("utf8")];
        rargs.extend_from_slice(args);
        let out = run(
            &reference("sendmail").expect("sendmail"),
            &rargs,
            Some(input),
        );
        assert!(out.status.success(), "case {name}: {}", stderr(&out));
        let ref_file = only_file(&reference_instance.path().join("queue/incoming"), 30);
        let ref_id = ref_file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let theirs = run(
            &postcat_prog,
            &[
                "-c",
                ref_etc.to_str().expect("utf8"),
                ref_file.to_str().expect("utf8"),
            ],
            None,
        );
        fs::remove_file(&ref_file).expect("remove reference file");

        let out = sendmail(&inst, args, input);
        assert!(out.status.success(), "case {name}: {}", stderr(&out));
        let our_file = only_file(&inst.queue_dir().join("incoming"), 30);
        let our_id = our_file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let ours = postcat(&inst, &our_file);
        fs::remove_file(&our_file).expect("remove our file");

        let (want_env, want_rest) = normalize(&String::from_utf8_lossy(&theirs.stdout), &ref_id);
        let (got_env, got_rest) = normalize(&ours, &our_id);
        assert_eq!(got_env, want_env, "case {name}: envelope");
        assert_eq!(got_rest, want_rest, "case {name}: content and extracted");
    }
}
