//! Shared helpers of the `local` end-to-end tests (tests/tests/local.rs):
//! a private instance with spool, alias and forward files, a qmgr stand-in
//! that queues a message in `active/` and sends the `DeliveryRequest`, test
//! users, and mailbox reading through Python's `mailbox` module.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use global::ipc::delivery::{DeliveryRequest, RecipientResult};
pub use rostfix_tests::agent::now_us;
use rostfix_tests::instance::Instance;

pub const MASTER_CF: &str = "\
postlog   unix-dgram n  -       n       -       1       postlogd
local     unix  -       n       n       -       -       local
cleanup   unix  n       -       n       -       0       cleanup
";

pub const PIPELINE_CF: &str = "\
postlog   unix-dgram n  -       n       -       1       postlogd
pickup    unix  n       -       n       1       1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
filewriter unix -       n       n       -       -       pipe
  flags=F user=nobody argv=/bin/sh @DIR@/deliver.sh @DIR@/out remote.${recipient}
";

pub const DELIVER_SH: &str = "#!/bin/sh\ncat > \"$1/$2.tmp\" && mv \"$1/$2.tmp\" \"$1/$2\"\n";

pub const HOST: &str = "host.example";

pub const MESSAGE: &str =
    "From: alice@example.org\nSubject: test\n\nFrom the start\n>From quoted\nbody\n";

/// `getent passwd NAME` fields, if the user exists.
pub fn passwd(name: &str) -> Option<Vec<String>> {
    let out = Command::new("getent")
        .args(["passwd", name])
        .output()
        .ok()?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    out.status
        .success()
        .then(|| line.split(':').map(String::from).collect())
}

/// Whether the tests run as root (the uid of this process's files).
pub fn is_root() -> bool {
    let probe = tempfile::tempfile().expect("tempfile");
    probe.metadata().expect("metadata").uid() == 0
}

/// The test users: three distinct accounts as root, `None` otherwise.
pub fn users() -> Option<[String; 3]> {
    if !is_root() {
        return None;
    }
    let names = ["rostfix-u1", "rostfix-u2", "rostfix-u3"];
    for n in names {
        if passwd(n).is_none() {
            // Parallel tests may race to create the same user: re-check below.
            let _ = Command::new("useradd")
                .args(["-m", "-s", "/bin/sh", n])
                .status();
        }
        assert!(passwd(n).is_some(), "cannot create test user {n}");
    }
    Some(names.map(String::from))
}

/// The current user's name.
pub fn me() -> String {
    let out = Command::new("id").arg("-un").output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn uid_of(name: &str) -> u32 {
    passwd(name).expect("user")[2].parse().expect("uid")
}

pub fn home_of(name: &str) -> String {
    passwd(name).expect("user")[5].clone()
}

/// A started instance with spool, output, forward and alias files under its directory.
pub struct Local {
    /// The instance.
    pub inst: Instance,
}

impl Local {
    pub fn start(master_cf: &str, main_extra: &str, aliases: &str) -> Local {
        let inst = Instance::new(master_cf, "");
        let d = inst.path().to_path_buf();
        for (sub, mode) in [
            ("spool", 0o1777),
            ("out", 0o777),
            ("fwd", 0o755),
            ("maildirs", 0o1777),
        ] {
            std::fs::create_dir(d.join(sub)).expect(sub);
            std::fs::set_permissions(d.join(sub), std::fs::Permissions::from_mode(mode))
                .expect("chmod");
        }
        let aliases = aliases.replace("@DIR@", &d.display().to_string());
        std::fs::write(d.join("deliver.sh"), DELIVER_SH).expect("deliver.sh");
        std::fs::write(d.join("aliases"), aliases).expect("aliases");
        let extra = format!(
            "myhostname = {HOST}\nmydomain = example\nmydestination = $myhostname, localhost\n\
             mail_spool_directory = {dir}/spool\nalias_maps = hash:{dir}/aliases\n\
             alias_database = hash:{dir}/aliases\nrecipient_delimiter = +\n\
             forward_path = {dir}/fwd/$user.forward\ndefault_transport = filewriter\n\
             deliver_lock_delay = 1s\n{}\n",
            main_extra.replace("@DIR@", &d.display().to_string()),
            dir = d.display(),
        );
        let main_cf = d.join("etc/main.cf");
        let mut text = std::fs::read_to_string(&main_cf).expect("main.cf");
        text.push_str(&extra);
        std::fs::write(&main_cf, text).expect("main.cf");
        let out = inst.command(
            "postalias",
            &[d.join("aliases").to_str().expect("utf8")],
            None,
        );
        assert!(
            out.status.success(),
            "postalias: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(inst.postfix("start"), 0, "start; log:\n{}", inst.log());
        assert!(inst.wait_log("daemon started", 10), "{}", inst.log());
        Local { inst }
    }

    pub fn dir(&self) -> PathBuf {
        self.inst.path().to_path_buf()
    }

    /// Writes `active/ID` and returns the request for one recipient.
    pub fn queue(&self, id: &str, sender: &str, rcpt: &str, body: &str) -> DeliveryRequest {
        rostfix_tests::agent::queue_message(&self.inst, id, sender, &[(rcpt, rcpt)], HOST, body)
    }

    /// Sends `request` to `private/local` as qmgr does.
    pub fn deliver(&self, request: &DeliveryRequest) -> RecipientResult {
        rostfix_tests::agent::deliver(&self.inst, "local", request).remove(0)
    }

    /// Queue and deliver in one step.
    pub fn send(&self, id: &str, rcpt: &str, body: &str) -> RecipientResult {
        let req = self.queue(id, "alice@example.org", rcpt, body);
        self.deliver(&req)
    }

    /// The log line `ID: to=<to>...`, waited for.
    pub fn line(&self, id: &str, to: &str) -> String {
        rostfix_tests::agent::log_line(&self.inst, id, to)
    }
}

/// One message as Python's mailbox module read it.
#[derive(Debug, Default)]
pub struct Msg {
    /// The From_ line (mbox).
    pub from: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Msg {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads an mbox (`kind = "mbox"`) or Maildir with Python's mailbox module.
pub fn read_box(kind: &str, path: &Path) -> Vec<Msg> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/local/readbox.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(kind)
        .arg(path)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python mailbox could not read {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut msgs: Vec<Msg> = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if line == "=== message" {
            msgs.push(Msg::default());
        } else if let Some(m) = msgs.last_mut() {
            if let Some(f) = line.strip_prefix("from ") {
                m.from = f.to_string();
            } else if let Some(h) = line.strip_prefix("header ") {
                let (n, v) = h.split_once(": ").unwrap_or((h, ""));
                m.headers.push((n.to_string(), v.to_string()));
            } else if let Some(b) = line.strip_prefix("body ") {
                m.body = b.replace("\\n", "\n").replace("\\\\", "\\");
            }
        }
    }
    msgs
}

pub fn assert_owner_mode(path: &Path, user: &str, mode: u32) {
    let md = std::fs::metadata(path).expect("metadata");
    assert_eq!(md.mode() & 0o7777, mode, "mode of {}", path.display());
    if is_root() {
        assert_eq!(md.uid(), uid_of(user), "owner of {}", path.display());
    }
}

pub fn wait_for(path: &Path, secs: u64) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}
