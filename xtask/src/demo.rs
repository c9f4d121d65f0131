//! `cargo xtask demo [DIR]`: a private, unprivileged Rostfix instance.
//!
//! Builds the release programs and writes an instance directory (default
//! `/var/tmp/rostfix-demo`, under `/var` so `maillog_file_prefixes` allows
//! its log) the way one sets up a second Postfix: `main.cf` naming its own
//! queue, data and program directories, loopback-only listeners on high
//! ports in `master.cf`, its own aliases table built with `postalias`.

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
    println!(
        "\nInspect it with: {}/postconf -c {} -n",
        bin.display(),
        dir.display()
    );
    Ok(())
}

/// Write main.cf, master.cf, aliases and the instance's directories.
fn write_instance(dir: &Path, bin: &Path) -> Result<()> {
    for sub in ["queue", "data"] {
        fs::create_dir_all(dir.join(sub))
            .with_context(|| format!("create {}", dir.join(sub).display()))?;
    }
    let user = std::env::var("USER").unwrap_or_else(|_| "root".to_string());
    let main_cf = format!(
        "# Rostfix demo instance: a private, loopback-only Postfix-style instance.\n\
         queue_directory = {dir}/queue\n\
         data_directory = {dir}/data\n\
         daemon_directory = {bin}\n\
         command_directory = {bin}\n\
         maillog_file = {dir}/maillog\n\
         mail_owner = {user}\n\
         myhostname = rostfix-demo.localdomain\n\
         mydestination = $myhostname, localhost.$mydomain, localhost\n\
         inet_interfaces = loopback-only\n\
         inet_protocols = ipv4\n\
         mynetworks = 127.0.0.0/8\n\
         alias_maps = hash:{dir}/aliases\n\
         alias_database = hash:{dir}/aliases\n\
         home_mailbox = Maildir/\n\
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

/// Write `text` to `path`, naming the file in any error.
fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("write {}", path.display()))
}
