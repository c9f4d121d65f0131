//! A private Rostfix instance for end-to-end tests: its own config, queue,
//! data and log under one temporary directory, started with `postfix -c DIR
//! start` and aborted when dropped, exactly as one runs a second Postfix.
//!
//! The directory is made world-traversable (0755) so that services which
//! drop to `mail_owner` when the tests run as root can reach the queue.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::{bin_dir, rostfix};

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A private instance under a temporary directory.
///
/// Layout: `etc/` (main.cf, master.cf), `queue/`, `data/`, `maillog`.
pub struct Instance {
    dir: tempfile::TempDir,
    /// A free port, substituted for `@PORT@` in master.cf.
    pub port: u16,
}

impl Instance {
    /// An instance whose master.cf is `master_cf` (`@PORT@` and `@DIR@`
    /// replaced) and whose main.cf is the base settings followed by `main_cf_extra`.
    pub fn new(master_cf: &str, main_cf_extra: &str) -> Instance {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("rostfix-instance-")
            .tempdir()
            .expect("tempdir");
        let d = dir.path();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let port = free_port();
        std::fs::create_dir_all(d.join("etc")).expect("etc");
        let main_cf = format!(
            "queue_directory = {q}\ndata_directory = {data}\ndaemon_directory = {bin}\n\
             command_directory = {bin}\nmaillog_file = {log}\nmaillog_file_prefixes = {d}\n\
             inet_protocols = ipv4\ninet_interfaces = loopback-only\nmax_idle = 30s\n\
             smtpd_peername_lookup = no\nsmtp_dns_support_level = disabled\n{main_cf_extra}",
            q = d.join("queue").display(),
            data = d.join("data").display(),
            bin = bin_dir().display(),
            log = d.join("maillog").display(),
            d = d.display(),
        );
        std::fs::write(d.join("etc/main.cf"), main_cf).expect("main.cf");
        let mcf = master_cf
            .replace("@PORT@", &port.to_string())
            .replace("@DIR@", &d.display().to_string());
        std::fs::write(d.join("etc/master.cf"), mcf).expect("master.cf");
        Instance { dir, port }
    }

    /// The instance's top directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The config directory (what `-c` takes).
    pub fn config_dir(&self) -> PathBuf {
        self.path().join("etc")
    }

    /// The queue directory.
    pub fn queue_dir(&self) -> PathBuf {
        self.path().join("queue")
    }

    /// Run Rostfix's `program` with `-c CONFIG_DIR` before `args`; returns its output.
    pub fn command(
        &self,
        program: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> std::process::Output {
        let conf = self.config_dir();
        let mut all = vec!["-c", conf.to_str().expect("utf8 path")];
        all.extend_from_slice(args);
        crate::run(&rostfix(program), &all, stdin)
    }

    /// `postfix -c DIR CMD`, returning its exit status.
    pub fn postfix(&self, cmd: &str) -> i32 {
        let st = Command::new(rostfix("postfix"))
            .args(["-c", self.config_dir().to_str().expect("utf8"), cmd])
            .status()
            .expect("run postfix");
        st.code().unwrap_or(-1)
    }

    /// The whole maillog so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path().join("maillog")).unwrap_or_default()
    }

    /// Waits until the log contains `text` (`secs` seconds at most).
    pub fn wait_log(&self, text: &str, secs: u64) -> bool {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if self.log().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// master's pid from `queue/pid/master.pid`.
    pub fn master_pid(&self) -> i32 {
        let t = std::fs::read_to_string(self.queue_dir().join("pid/master.pid")).expect("pid file");
        t.trim().parse().expect("pid")
    }

    /// Path of a socket under `queue/private`.
    pub fn socket(&self, name: &str) -> PathBuf {
        self.queue_dir().join("private").join(name)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if self.queue_dir().join("pid/master.pid").exists() {
            let _ = Command::new(rostfix("postfix"))
                .args(["-c", &self.config_dir().display().to_string(), "abort"])
                .status();
        }
    }
}
