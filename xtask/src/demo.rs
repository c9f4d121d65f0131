//! `cargo xtask demo [DIR]`: a private Rostfix instance, started.
//!
//! Builds the release programs and writes an instance directory (default
//! `/var/tmp/rostfix-demo`, under `/var` so `maillog_file_prefixes` allows
//! its log) the way one sets up a second Postfix: `main.cf` naming its own
//! queue, data and program directories, loopback-only listeners on high
//! ports in `master.cf`, its own aliases table built with `postalias`.
//! Then it starts it with `postfix -c DIR start` and sends one message to
//! the demo user through SMTP on 127.0.0.1:2525, which local delivers to
//! the user's `~/Maildir/`. As root the demo user is `rostfix-demo`
//! (created if missing) and the daemons run as `postfix`; as an ordinary
//! user everything runs as that user, who is also the demo user.

use anyhow::{Context, Result, bail};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Port of the demo instance's SMTP listener on 127.0.0.1.
pub const SMTP_PORT: u16 = 2525;

/// Build the programs and write the instance into `args[0]` or the default directory.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let dir = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/rostfix-demo"));
    crate::cargo(&["build", "--release", "--workspace", "--bins"])?;
    let bin = root.join("target/release");
    write_instance(&dir, &bin)?;
    let aliases = dir.join("aliases");
    let status = Command::new(bin.join("postalias"))
        .arg("-c")
        .arg(&dir)
        .arg(format!("hash:{}", aliases.display()))
        .status()
        .context("run postalias")?;
    if !status.success() {
        bail!("postalias {} failed ({status})", aliases.display());
    }
    println!("Rostfix demo instance in {}:", dir.display());
    let status = Command::new(bin.join("postconf"))
        .arg("-c")
        .arg(&dir)
        .arg("-n")
        .status()
        .context("run postconf")?;
    if !status.success() {
        bail!("postconf -n failed ({status})");
    }
    start(&dir, &bin)?;
    Ok(())
}

/// `postfix start` (after a stop, so that a second run picks up changes),
/// then one message through SMTP to the demo user.
fn start(dir: &Path, bin: &Path) -> Result<()> {
    let conf = dir.to_string_lossy().into_owned();
    let _ = Command::new(bin.join("postfix"))
        .args(["-c", &conf, "stop"])
        .stderr(std::process::Stdio::null())
        .status();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let status = Command::new(bin.join("postfix"))
        .args(["-c", &conf, "start"])
        .status()
        .context("run postfix start")?;
    if !status.success() {
        bail!(
            "postfix start failed ({status}); see {}/maillog",
            dir.display()
        );
    }
    let reply = smtp_send(SMTP_PORT)?;
    println!(
        "\nRostfix is running: SMTP on 127.0.0.1:{SMTP_PORT}, log in {dir}/maillog.\n\
         Sent a test message to demo@localhost: {reply}\n\
         Try:  {bin}/mailq -C {dir}    (or: {bin}/postqueue -c {dir} -p)\n\
         \x20     swaks --server 127.0.0.1:{SMTP_PORT} --to demo@localhost\n\
         \x20     {bin}/postfix -c {dir} stop",
        dir = dir.display(),
        bin = bin.display(),
    );
    Ok(())
}

/// A minimal SMTP client for the demo message; returns the final reply.
fn smtp_send(port: u16) -> Result<String> {
    use std::io::{BufRead, BufReader, Write};
    let mut last = String::new();
    for attempt in 0..50 {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => {
                stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
                let mut reader = BufReader::new(stream.try_clone()?);
                let mut writer = stream;
                let expect = |reader: &mut BufReader<std::net::TcpStream>| -> Result<String> {
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line)? == 0 {
                            bail!("the demo smtpd closed the connection; see the maillog");
                        }
                        if line.len() < 4 || line.as_bytes()[3] != b'-' {
                            return Ok(line.trim_end().to_string());
                        }
                    }
                };
                expect(&mut reader)?;
                for cmd in [
                    "EHLO demo.localdomain",
                    "MAIL FROM:<demo@localhost>",
                    "RCPT TO:<demo@localhost>",
                    "DATA",
                ] {
                    writer.write_all(format!("{cmd}\r\n").as_bytes())?;
                    let reply = expect(&mut reader)?;
                    if !reply.starts_with('2') && !reply.starts_with('3') {
                        bail!("{cmd}: {reply}");
                    }
                }
                writer.write_all(
                    b"Subject: Welcome to Rostfix\r\n\r\nThis came through smtpd, cleanup, qmgr and local.\r\n.\r\n",
                )?;
                let reply = expect(&mut reader)?;
                writer.write_all(b"QUIT\r\n")?;
                return Ok(reply);
            }
            Err(e) if attempt < 49 => {
                last = e.to_string();
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => return Err(e).context("connect to the demo smtpd"),
        }
    }
    bail!("no SMTP session: {last}")
}

/// Write main.cf, master.cf, aliases and the instance's directories.
fn write_instance(dir: &Path, bin: &Path) -> Result<()> {
    for sub in ["queue", "data"] {
        fs::create_dir_all(dir.join(sub))
            .with_context(|| format!("create {}", dir.join(sub).display()))?;
    }
    use std::os::unix::fs::PermissionsExt;
    // Daemons that drop to mail_owner must reach the queue below this directory.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("chmod {}", dir.display()))?;
    let root = nix_is_root();
    let (owner, user) = if root {
        ensure_demo_user()?;
        ("postfix".to_string(), "rostfix-demo".to_string())
    } else {
        let me = std::env::var("USER").unwrap_or_else(|_| "nobody".to_string());
        (me.clone(), me)
    };
    let main_cf = format!(
        "# Rostfix demo instance: a private, loopback-only Postfix-style instance.\n\
         queue_directory = {dir}/queue\n\
         data_directory = {dir}/data\n\
         daemon_directory = {bin}\n\
         command_directory = {bin}\n\
         maillog_file = {dir}/maillog\n\
         mail_owner = {owner}\n\
         compatibility_level = 3.6\n\
         myhostname = rostfix-demo.localdomain\n\
         mydestination = $myhostname, localhost.$mydomain, localhost\n\
         inet_interfaces = loopback-only\n\
         inet_protocols = ipv4\n\
         mynetworks = 127.0.0.0/8\n\
         alias_maps = hash:{dir}/aliases\n\
         alias_database = hash:{dir}/aliases\n\
         home_mailbox = Maildir/\n\
         maillog_file_prefixes = {dir}\n\
         recipient_delimiter = +\n\
         smtpd_peername_lookup = no\n\
         smtp_dns_support_level = disabled\n",
        dir = dir.display(),
        bin = bin.display(),
    );
    write(&dir.join("main.cf"), &main_cf)?;
    let master_cf = format!(
        "# Rostfix demo instance: Debian's services, loopback and high ports, no chroot.\n\
         127.0.0.1:{SMTP_PORT} inet n - n - - smtpd\n\
         pickup    unix  n       -       n       60      1       pickup\n\
         cleanup   unix  n       -       n       -       0       cleanup\n\
         qmgr      unix  n       -       n       300     1       qmgr\n\
         rewrite   unix  -       -       n       -       -       trivial-rewrite\n\
         bounce    unix  -       -       n       -       0       bounce\n\
         defer     unix  -       -       n       -       0       bounce\n\
         trace     unix  -       -       n       -       0       bounce\n\
         smtp      unix  -       -       n       -       -       smtp\n\
         showq     unix  n       -       n       -       -       showq\n\
         error     unix  -       -       n       -       -       error\n\
         local     unix  -       n       n       -       -       local\n\
         virtual   unix  -       n       n       -       -       virtual\n\
         postlog   unix-dgram n  -       n       -       1       postlogd\n"
    );
    write(&dir.join("master.cf"), &master_cf)?;
    write(
        &dir.join("aliases"),
        &format!("postmaster: {user}\nabuse: postmaster\ndemo: {user}\n"),
    )?;
    Ok(())
}

/// True when running as root.
fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Create the `rostfix-demo` user (with a home for its Maildir) if missing.
fn ensure_demo_user() -> Result<()> {
    let exists = Command::new("id")
        .arg("rostfix-demo")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !exists {
        let status = Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", "rostfix-demo"])
            .status()
            .context("run useradd")?;
        if !status.success() {
            bail!("useradd rostfix-demo failed ({status})");
        }
    }
    Ok(())
}

/// Write `text` to `path`, naming the file in any error.
fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("write {}", path.display()))
}
