//! `sendmail`: Postfix's Sendmail-compatible submission interface.
//!
//! Invoked as `mailq` it runs `postqueue -p`, as `newaliases` it runs
//! `newaliases`; otherwise the `-b` mode decides: `-bm` (default) and `-bv`
//! enqueue, `-bp` lists the queue (`postqueue -p`), `-bi` rebuilds aliases,
//! `-bs` runs `smtpd -S` (one SMTP session on stdin/stdout), `-q` flushes (`postqueue -f`, `-qR site`:
//! `postqueue -s site`, `-qI id`: `postqueue -i id`).
//!
//! Enqueueing ([`message`] builds the record stream, no I/O): the message is
//! read from standard input (a leading `From ` line is dropped, CR before LF
//! is removed, a line with a single `.` ends the input unless `-i`/`-oi`),
//! recipients come from the command line (comma lists allowed) and, with
//! `-t`, from `To:`, `Cc:` and `Bcc:` (or only the `Resent-` ones when
//! present) into the extracted segment. The records are piped to
//! `postdrop` (`$command_directory/postdrop -r [-c dir]`), which writes the
//! maildrop file. sendmail exits 0 only when postdrop reported `status=0`
//! after committing the file (architecture invariant 1).
//!
//! Options as Postfix: `-B type`, `-C dir`, `-F name`, `-f`/`-r sender`,
//! `-N dsn`, `-R ret`, `-V envid`, `-t`, `-i`, `-o x` (`-oi`; others
//! ignored), `-v`; `-G -I -L -O -U -X -c -e -h -m -n -x` are accepted and
//! ignored. Errors are Postfix's texts, e.g. `sendmail: fatal: root(0): No
//! recipient addresses found in message header` (exit 75).

pub mod message;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use global::config::Config;
use global::log::{self, Severity};

pub use message::{Submission, build_records, parse_input};

/// `EX_TEMPFAIL`: what Postfix's sendmail exits with on fatal errors.
pub const EX_TEMPFAIL: i32 = 75;
/// `EX_USAGE`.
pub const EX_USAGE: i32 = 64;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    /// Deliver the message on standard input (`-bm`, default).
    #[default]
    Enqueue,
    /// Verify recipients (`-bv`): enqueue with the verify trace flag.
    Verify,
    /// List the queue (`-bp`, `mailq`).
    ListQueue,
    /// Rebuild aliases (`-bi`, `newaliases`).
    NewAliases,
    /// SMTP on stdin/stdout (`-bs`).
    Smtp,
    /// Flush the queue (`-q`): arguments for postqueue.
    Flush(Vec<String>),
    /// Stand-alone daemon (`-bd`): not supported.
    Daemon,
}

/// Parsed command line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// The mode.
    pub mode: Mode,
    /// `-C`: configuration directory.
    pub config_dir: Option<PathBuf>,
    /// `-F`.
    pub fullname: Option<String>,
    /// `-f` / `-r`.
    pub sender: Option<String>,
    /// `-t`.
    pub extract: bool,
    /// `-i`, `-oi`: a lone dot does not end the message.
    pub ignore_dot: bool,
    /// `-N`: DSN NOTIFY bits.
    pub notify: u32,
    /// `-R`: DSN RET (1 full, 2 headers).
    pub ret: u32,
    /// `-V`: DSN ENVID.
    pub envid: Option<String>,
    /// `-B`: body type (`8BITMIME` / `7BIT`).
    pub body_type: Option<String>,
    /// `-v` count.
    pub verbose: u8,
    /// Command-line recipients.
    pub recipients: Vec<String>,
}

/// Parse the DSN NOTIFY list of `-N` (`never` or `success,failure,delay`).
pub fn parse_notify(text: &str) -> Option<u32> {
    let mut mask = 0;
    for word in text.split(',').map(str::trim) {
        mask |= match word.to_ascii_lowercase().as_str() {
            "never" => 1,
            "success" => 2,
            "failure" => 4,
            "delay" => 8,
            _ => return None,
        };
    }
    if mask & 1 != 0 && mask != 1 {
        return None;
    }
    Some(mask)
}

/// Parse sendmail's arguments (program name excluded) like Postfix's getopt
/// string `B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:r:q:tvx`.
pub fn parse_args(args: &[String]) -> Result<Options, String> {
    const WITH_ARG: &[u8] = b"BCFLNORVXbefhopqr";
    const FLAGS: &[u8] = b"GIUcimntvx";
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_bytes();
        if a == b"--" {
            i += 1;
            break;
        }
        if a.len() < 2 || a[0] != b'-' {
            break;
        }
        let mut j = 1;
        while j < a.len() {
            let c = a[j];
            j += 1;
            if FLAGS.contains(&c) {
                match c {
                    b't' => o.extract = true,
                    b'i' => o.ignore_dot = true,
                    b'v' => o.verbose += 1,
                    b'I' => o.mode = Mode::NewAliases,
                    _ => {}
                }
                continue;
            }
            if !WITH_ARG.contains(&c) {
                return Err(format!("invalid option -- '{}'", char::from(c)));
            }
            // -q takes an optional argument; the others a required one.
            let value = if j < a.len() {
                let v = String::from_utf8_lossy(&a[j..]).into_owned();
                j = a.len();
                v
            } else if c == b'q' {
                String::new()
            } else {
                i += 1;
                match args.get(i) {
                    Some(v) => v.clone(),
                    None => {
                        return Err(format!(
                            "option requires an argument -- '{}'",
                            char::from(c)
                        ));
                    }
                }
            };
            match c {
                b'B' => o.body_type = Some(value),
                b'C' => o.config_dir = Some(PathBuf::from(value)),
                b'F' => o.fullname = Some(value),
                b'f' | b'r' => o.sender = Some(value),
                b'N' => {
                    o.notify = parse_notify(&value)
                        .ok_or_else(|| format!("bad -N option value: {value}"))?
                }
                b'R' => {
                    o.ret = match value.to_ascii_lowercase().as_str() {
                        "full" => 1,
                        "hdrs" => 2,
                        _ => return Err(format!("bad -R option value: {value}")),
                    }
                }
                b'V' => o.envid = Some(value),
                b'o' if value == "i" => o.ignore_dot = true,
                b'b' => {
                    o.mode = match value.chars().next() {
                        Some('m') | Some('a') => Mode::Enqueue,
                        Some('v') => Mode::Verify,
                        Some('p') => Mode::ListQueue,
                        Some('i') => Mode::NewAliases,
                        Some('s') => Mode::Smtp,
                        Some('d') => Mode::Daemon,
                        Some('h') | Some('H') => Mode::Flush(Vec::new()),
                        _ => return Err(format!("unsupported: -b{value}")),
                    }
                }
                b'q' => {
                    o.mode = if let Some(site) = value.strip_prefix('R') {
                        Mode::Flush(vec!["-s".into(), site.to_string()])
                    } else if let Some(id) = value.strip_prefix('I') {
                        Mode::Flush(vec!["-i".into(), id.to_string()])
                    } else if value.is_empty() || value.chars().all(|c| c.is_ascii_alphanumeric()) {
                        // `-q` or `-q30m`: Postfix ignores the interval and flushes once.
                        Mode::Flush(vec!["-f".into()])
                    } else {
                        return Err(format!("-q{value}: unsupported"));
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    o.recipients = args[i.min(args.len())..].to_vec();
    Ok(o)
}

/// Login name, uid and GECOS full name of the invoking user.
fn who_am_i() -> (String, u32, String) {
    let uid = nix::unistd::getuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(u)) => {
            let gecos = u.gecos.to_string_lossy().into_owned();
            (u.name, uid.as_raw(), gecos)
        }
        _ => (format!("#{}", uid.as_raw()), uid.as_raw(), String::new()),
    }
}

/// Postfix's `fullname()`: the GECOS field up to the first comma, with `&`
/// replaced by the capitalised login name.
pub fn gecos_fullname(gecos: &str, login: &str) -> String {
    let first = gecos.split(',').next().unwrap_or("");
    let mut cap = login.to_string();
    if let Some(c) = cap.get(..1) {
        let up = c.to_ascii_uppercase();
        cap.replace_range(..1, &up);
    }
    first.replace('&', &cap)
}

fn fatal(prog: &str, text: &str, status: i32) -> i32 {
    let _ = prog;
    log::emit(Severity::Fatal, text);
    status
}

/// Run another Rostfix command from `command_directory` in place of this one.
fn delegate(config: &Config, name: &str, args: &[String], config_dir: Option<&Path>) -> i32 {
    let path = Path::new(&config.get("command_directory")).join(name);
    let mut cmd = Command::new(&path);
    if let Some(dir) = config_dir {
        cmd.arg("-c").arg(dir);
    }
    cmd.args(args);
    match cmd.status() {
        Ok(st) => st.code().unwrap_or(EX_TEMPFAIL),
        Err(e) => fatal(
            name,
            &format!("execvp {}: {}", path.display(), e),
            EX_TEMPFAIL,
        ),
    }
}

/// Runs sendmail as `prog` (its base name picks mailq/newaliases); returns the exit status.
pub fn run(prog: &str, args: &[String]) -> i32 {
    let base = Path::new(prog)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sendmail".to_string());
    let mut opts = match parse_args(args) {
        Ok(o) => o,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{base}: {e}");
            return fatal(&base, &format!("usage: {base} [options]"), EX_USAGE);
        }
    };
    match base.as_str() {
        "mailq" => opts.mode = Mode::ListQueue,
        "newaliases" => opts.mode = Mode::NewAliases,
        _ => {}
    }
    let config = match Config::load(opts.config_dir.as_deref()) {
        Ok(c) => c,
        Err(e) => return fatal(&base, &e.to_string(), EX_TEMPFAIL),
    };
    if let Ok(mut t) = global::server::log_target(&config, "sendmail", opts.verbose) {
        t.to_stderr = true;
        if let Err(e) = log::init(&t) {
            let _ = writeln!(std::io::stderr(), "{base}: warning: {e}");
        }
    }
    let cdir = opts.config_dir.clone();
    match &opts.mode {
        Mode::ListQueue => return delegate(&config, "postqueue", &["-p".into()], cdir.as_deref()),
        Mode::Flush(a) => return delegate(&config, "postqueue", a, cdir.as_deref()),
        Mode::NewAliases => {
            let mut a = Vec::new();
            if let Some(d) = &cdir {
                a.push("-C".to_string());
                a.push(d.display().to_string());
            }
            let path = Path::new(&config.get("command_directory")).join("newaliases");
            return match Command::new(&path).args(&a).status() {
                Ok(st) => st.code().unwrap_or(EX_TEMPFAIL),
                Err(e) => fatal(
                    &base,
                    &format!("execvp {}: {e}", path.display()),
                    EX_TEMPFAIL,
                ),
            };
        }
        Mode::Smtp => {
            let smtpd = Path::new(&config.get("daemon_directory")).join("smtpd");
            if !smtpd.exists() {
                return fatal(
                    &base,
                    &format!("execvp {}: No such file or directory", smtpd.display()),
                    EX_TEMPFAIL,
                );
            }
            let mut cmd = Command::new(&smtpd);
            cmd.arg("-S");
            if let Some(d) = &cdir {
                cmd.env("MAIL_CONFIG", d);
            }
            return match cmd.status() {
                Ok(st) => st.code().unwrap_or(EX_TEMPFAIL),
                Err(e) => fatal(
                    &base,
                    &format!("execvp {}: {e}", smtpd.display()),
                    EX_TEMPFAIL,
                ),
            };
        }
        Mode::Daemon => {
            return fatal(&base, "-bd option is not supported", EX_USAGE);
        }
        Mode::Enqueue | Mode::Verify => {}
    }
    enqueue(&config, &opts)
}

fn enqueue(config: &Config, opts: &Options) -> i32 {
    let (login, uid, gecos) = who_am_i();
    let sender = opts.sender.clone().unwrap_or_else(|| login.clone());
    let fullname = opts
        .fullname
        .clone()
        .or_else(|| std::env::var("NAME").ok().filter(|n| !n.is_empty()))
        .unwrap_or_else(|| gecos_fullname(&gecos, &login));
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut input) {
        return fatal(
            "sendmail",
            &format!("{login}({uid}): read input: {e}"),
            EX_TEMPFAIL,
        );
    }
    let line_limit = config.get_int("line_length_limit").unwrap_or(2048).max(1) as usize;
    let parsed = parse_input(&input, opts.ignore_dot, opts.extract);
    let mut sub = Submission {
        sender,
        fullname,
        recipients: opts
            .recipients
            .iter()
            .flat_map(|r| message::command_line_recipients(r))
            .collect(),
        extracted: parsed.extracted,
        content: parsed.content,
        notify: opts.notify,
        ret: opts.ret,
        envid: opts.envid.clone().unwrap_or_default(),
        encoding: match opts
            .body_type
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some("8BITMIME") => Some("8bit".into()),
            Some("7BIT") => Some("7bit".into()),
            _ => None,
        },
        trace_flags: match (&opts.mode, opts.verbose) {
            (Mode::Verify, _) => 1 << 9,
            (_, v) if v > 0 => 1 << 10,
            _ => 0,
        },
    };
    if !opts.extract {
        sub.extracted.clear();
    }
    if sub.recipients.is_empty() && sub.extracted.is_empty() {
        let text = if opts.extract {
            format!("{login}({uid}): No recipient addresses found in message header")
        } else {
            format!(
                "{login}({uid}): Recipient addresses must be specified on the command line or via the -t option"
            )
        };
        return fatal("sendmail", &text, EX_TEMPFAIL);
    }
    let records = build_records(&sub, line_limit);
    let postdrop = Path::new(&config.get("command_directory")).join("postdrop");
    let mut cmd = Command::new(&postdrop);
    cmd.arg("-r");
    if let Some(d) = &opts.config_dir {
        cmd.arg("-c").arg(d);
    }
    for _ in 0..opts.verbose {
        cmd.arg("-v");
    }
    let mut child = match cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => {
            return fatal(
                "sendmail",
                &format!(
                    "{login}({uid}): unable to execute {}: {e}",
                    postdrop.display()
                ),
                EX_TEMPFAIL,
            );
        }
    };
    let wrote = child
        .stdin
        .take()
        .map(|mut s| s.write_all(&records).and_then(|()| s.flush()));
    let mut reply = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut reply);
    }
    let status = child.wait();
    let ok = matches!(wrote, Some(Ok(()))) && reply.lines().any(|l| l == "status=0");
    match status {
        Ok(st) if st.success() && ok => 0,
        _ => fatal(
            "sendmail",
            &format!("{login}({uid}): unable to queue message: postdrop failed"),
            EX_TEMPFAIL,
        ),
    }
}

#[cfg(test)]
mod tests;
