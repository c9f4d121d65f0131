//! A private instance of the real Postfix 3.7, the oracle for side-by-side
//! tests, run as /work/shared/docs/running-postfix-side-by-side.md says: its
//! own config, queue and data directories under /var/tmp (data owned by
//! `postfix`, every directory above traversable), `maillog_file` with a
//! `postlog` service, loopback only. Stopped and removed when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A started reference Postfix instance.
pub struct ReferencePostfix {
    dir: PathBuf,
}

impl ReferencePostfix {
    /// Starts an instance with `master_cf` (which must hold a `postlog`
    /// line) and the base main.cf (queue, data, log, loopback) followed by
    /// `main_cf_extra`. `None`, after printing why, when not root or when
    /// Postfix is not installed.
    pub fn start(master_cf: &str, main_cf_extra: &str) -> Option<ReferencePostfix> {
        use std::os::unix::fs::PermissionsExt;
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if !root || crate::reference("postfix").is_none() {
            eprintln!("skipped: no reference Postfix (needs root and /usr/sbin/postfix)");
            return None;
        }
        let dir = PathBuf::from(format!(
            "/var/tmp/rostfix-ref-{}-{}",
            std::process::id(),
            crate::instance::free_port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["etc", "queue", "data"] {
            std::fs::create_dir_all(dir.join(d)).expect("mkdir");
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let chown = Command::new("chown")
            .arg("postfix:postfix")
            .arg(dir.join("data"))
            .status()
            .expect("chown");
        assert!(chown.success(), "chown data");
        let main = format!(
            "queue_directory = {q}\ndata_directory = {data}\nmaillog_file = {log}\n\
             inet_protocols = ipv4\ninet_interfaces = loopback-only\n{main_cf_extra}",
            q = dir.join("queue").display(),
            data = dir.join("data").display(),
            log = dir.join("maillog").display(),
        );
        std::fs::write(dir.join("etc/main.cf"), main).expect("main.cf");
        std::fs::write(dir.join("etc/master.cf"), master_cf).expect("master.cf");
        let reference = ReferencePostfix { dir };
        let out = Command::new("/usr/sbin/postfix")
            .arg("-c")
            .arg(reference.config_dir())
            .arg("start")
            .output()
            .expect("run postfix");
        assert!(
            out.status.success(),
            "reference postfix start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Some(reference)
    }

    /// The instance's top directory (etc/, queue/, data/, maillog).
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The config directory (what `-c` takes).
    pub fn config_dir(&self) -> PathBuf {
        self.dir.join("etc")
    }

    /// The reference's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("maillog")).unwrap_or_default()
    }
}

impl Drop for ReferencePostfix {
    fn drop(&mut self) {
        let _ = Command::new("/usr/sbin/postfix")
            .arg("-c")
            .arg(self.config_dir())
            .arg("stop")
            .output();
        // Let master and its children exit before the queue goes away.
        let pid_file = self.dir.join("queue/pid/master.pid");
        for _ in 0..50 {
            if !pid_file.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
