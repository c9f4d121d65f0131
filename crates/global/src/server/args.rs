//! The command line master(8) gives a daemon (Postfix's `single_server.c`,
//! `multi_server.c` and `trigger_server.c` share it).
//!
//! master builds it in `master_ent.c`: the program name, `-l` (maxproc 1),
//! `-z` (maxproc 0), `-n service` (when the service name differs from the
//! program name), `-t type`, `-v`, `-u` (unprivileged), `-c` (chroot), `-s N`
//! (more than one listener), then the master.cf arguments (`-o name=value`
//! overrides and whatever the daemon takes). Note that `-c` means *chroot*
//! here: the configuration directory comes in the `MAIL_CONFIG` environment
//! variable.

use thiserror::Error;

use crate::config::parse::split_nameval;

/// A command line the skeleton cannot use, in Postfix's words.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ArgsError {
    /// An option that takes a value came last.
    #[error("option requires an argument -- '{0}'")]
    MissingValue(char),
    /// An option the skeleton does not know.
    #[error("invalid option -- '{0}'")]
    Unknown(char),
    /// `-o` without `name=value`.
    #[error("bad -o argument \"{0}\": {1}")]
    BadOverride(String, &'static str),
    /// `-s` with a non-number.
    #[error("bad socket count: {0}")]
    BadCount(String),
    /// `-t` with a type master does not have.
    #[error("unsupported transport type: {0}")]
    BadTransport(String),
}

/// What master told the daemon on its command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerArgs {
    /// The master.cf service name (`-n`, else the program name).
    pub service_name: String,
    /// The master.cf type column (`-t`): `inet`, `unix`, `unix-dgram`, `fifo`, `pass`.
    pub transport: String,
    /// `-c`: chroot to `queue_directory` (only when started as root).
    pub chroot: bool,
    /// `-u`: switch to `mail_owner` (only when started as root).
    pub unprivileged: bool,
    /// `-l`: master runs at most one such process (maxproc 1).
    pub solitary: bool,
    /// `-z`: the process limit is 0 (unlimited).
    pub unlimited: bool,
    /// `-s N`: number of listeners, starting at [`super::status::LISTEN_FD`].
    pub socket_count: usize,
    /// `-v` count.
    pub verbose: u8,
    /// `-D`: debug (accepted; Rostfix does not start a debugger).
    pub debug: bool,
    /// `-i N`: overrides `max_idle`.
    pub max_idle: Option<String>,
    /// `-m N`: overrides `max_use`.
    pub max_use: Option<String>,
    /// `-o name=value` overrides, in order.
    pub overrides: Vec<(String, String)>,
    /// Arguments after the options (daemon-specific, for example pipe's `argv=`).
    pub extra: Vec<String>,
}

/// The master.cf types a daemon can be started with.
pub const TRANSPORTS: &[&str] = &["inet", "unix", "unix-dgram", "fifo", "pass"];

impl ServerArgs {
    /// Parses `args` (without the program name) for the daemon `program`.
    /// Options end at the first argument that does not start with `-`, or at `--`.
    pub fn parse(program: &str, args: &[String]) -> Result<ServerArgs, ArgsError> {
        let mut out = ServerArgs {
            service_name: program.to_string(),
            transport: "unix".to_string(),
            chroot: false,
            unprivileged: false,
            solitary: false,
            unlimited: false,
            socket_count: 1,
            verbose: 0,
            debug: false,
            max_idle: None,
            max_use: None,
            overrides: Vec::new(),
            extra: Vec::new(),
        };
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            if arg == "--" {
                i += 1;
                break;
            }
            let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
                break;
            };
            i += 1;
            for (pos, c) in flags.char_indices() {
                match c {
                    'c' => out.chroot = true,
                    'u' => out.unprivileged = true,
                    'l' => out.solitary = true,
                    'z' => out.unlimited = true,
                    'v' => out.verbose = out.verbose.saturating_add(1),
                    'D' | 'd' => out.debug = true,
                    'n' | 't' | 'o' | 's' | 'i' | 'm' => {
                        // The value is the rest of this word, or the next word.
                        let rest = &flags[pos + c.len_utf8()..];
                        let value = if !rest.is_empty() {
                            rest.to_string()
                        } else {
                            let v = args.get(i).ok_or(ArgsError::MissingValue(c))?.clone();
                            i += 1;
                            v
                        };
                        out.set_value(c, value)?;
                        break;
                    }
                    other => return Err(ArgsError::Unknown(other)),
                }
            }
        }
        out.extra = args.get(i..).unwrap_or(&[]).to_vec();
        Ok(out)
    }

    fn set_value(&mut self, option: char, value: String) -> Result<(), ArgsError> {
        match option {
            'n' => self.service_name = value,
            't' => {
                if !TRANSPORTS.contains(&value.as_str()) {
                    return Err(ArgsError::BadTransport(value));
                }
                self.transport = value;
            }
            'o' => {
                let (n, v) =
                    split_nameval(&value).map_err(|e| ArgsError::BadOverride(value.clone(), e))?;
                self.overrides.push((n, v));
            }
            's' => {
                self.socket_count = value
                    .parse()
                    .ok()
                    .filter(|n: &usize| *n >= 1 && *n <= 64)
                    .ok_or(ArgsError::BadCount(value))?;
            }
            'i' => self.max_idle = Some(value),
            'm' => self.max_use = Some(value),
            _ => {}
        }
        Ok(())
    }

    /// The configuration overrides this command line implies: `service_name`,
    /// the `-o` settings, then `-i`/`-m`.
    pub fn config_overrides(&self) -> Vec<(String, String)> {
        let mut o = vec![("service_name".to_string(), self.service_name.clone())];
        o.extend(self.overrides.iter().cloned());
        if let Some(v) = &self.max_idle {
            o.push(("max_idle".to_string(), v.clone()));
        }
        if let Some(v) = &self.max_use {
            o.push(("max_use".to_string(), v.clone()));
        }
        o
    }
}
