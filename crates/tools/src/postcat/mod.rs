//! `postcat`: show queue file contents, byte for byte as Postfix's postcat(1) does.
//!
//! `postcat [-bdehoqrv] [-c config_dir] [-s offset] [files...]`. Options go
//! through [`crate::getopt`] (Postfix's `GETOPT` on Linux, `"+bc:dehoqrs:v"`,
//! with glibc's diagnostics). The records come from `global::queue`'s reader, which keeps
//! Postfix's `rec_get_raw()` semantics; the state machine is in [`render`].
//! With `-v` the output (pointer and padding records, `regular_text:`
//! labels) matches Postfix, but Postfix's verbose debug logging on standard
//! error is not reproduced.

mod cfmt;
mod render;

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, BufReader, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;

use crate::getopt::{ArgError, Getopt};
use global::config::{Config, ConfigError};
use global::queue::{QueueId, QueueLayout, QueueName, strerror};

pub use render::Flags;
use render::{Outcome, Render};

/// The usage text of `msg_fatal("usage: ...")`.
fn usage(prog: &str) -> String {
    format!(
        "usage: {prog} [-b (body text)] [-c config_dir] [-d (decimal record type)] [-e (envelope records)] [-h (header text)] [-q (access queue)] [-v] [file(s)...]"
    )
}

/// Parsed command line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// What to show.
    pub flags: Flags,
    /// `-c`: configuration directory.
    pub config_dir: Option<PathBuf>,
    /// `-q`: names are queue IDs.
    pub search_queue: bool,
    /// `-s`: start offset.
    pub start_offset: u64,
    /// Files or queue IDs.
    pub names: Vec<OsString>,
}

/// Parse arguments (without the program name) the way `GETOPT(argc, argv, "bc:dehoqrs:v")` does.
pub fn parse_args(prog: &str, args: &[OsString]) -> Result<Options, ArgError> {
    let mut opts = Options::default();
    let mut getopt = Getopt::new(args, "bc:dehoqrs:v");
    for opt in getopt.by_ref() {
        let opt = opt.map_err(|e| ArgError::getopt(e, usage(prog)))?;
        match opt.letter {
            b'b' => opts.flags.body = true,
            b'd' => opts.flags.dec = true,
            b'e' => opts.flags.env = true,
            b'h' => opts.flags.header = true,
            b'o' => opts.flags.offset = true,
            b'q' => opts.search_queue = true,
            b'r' => opts.flags.raw = true,
            b'v' => opts.flags.verbose += 1,
            b'c' => opts.config_dir = Some(PathBuf::from(opt.arg_string())),
            b's' => {
                let value = opt.arg.map(OsStr::as_encoded_bytes).unwrap_or_default();
                // alldig() rejects the empty string too.
                if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                    return Err(ArgError::fatal(format!("bad offset: {}", opt.arg_string())));
                }
                opts.start_offset = cfmt::atol(value).max(0) as u64;
            }
            _ => {}
        }
    }
    opts.names = getopt.operands().to_vec();
    if !(opts.flags.env || opts.flags.header || opts.flags.body) {
        opts.flags.env = true;
        opts.flags.header = true;
        opts.flags.body = true;
    }
    Ok(opts)
}

/// Wrap a file so that read errors look like end of file, as `VSTREAM_GETC`
/// reports them; the error is kept for `vstream_fclose()`'s warning.
struct EofOnError {
    file: File,
    error: Option<io::Error>,
}

impl EofOnError {
    fn new(file: File) -> EofOnError {
        EofOnError { file, error: None }
    }
}

impl io::Read for EofOnError {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match io::Read::read(&mut self.file, buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                self.error = Some(e);
                Ok(0)
            }
            ok => ok,
        }
    }
}

impl io::Seek for EofOnError {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        io::Seek::seek(&mut self.file, pos)
    }
}

/// After a file: `msg_warn("close %s: %m")` when reading it failed.
fn close_warning<E: Write>(
    input: BufReader<EofOnError>,
    name: &str,
    prog: &str,
    err: &mut E,
) -> io::Result<()> {
    if let Some(e) = input.into_inner().error {
        writeln!(err, "{prog}: warning: close {name}: {}", strerror(&e))?;
    }
    Ok(())
}

/// Standard output as Postfix's `VSTREAM_OUT` behaves: written out when
/// flushed or when its 4096-byte buffer fills; whatever is still buffered
/// when the program exits is lost (postcat never flushes at exit, so e.g. the
/// `*** ENVELOPE RECORDS` line of an empty file never appears).
pub struct VStream<'a, W: Write> {
    inner: &'a mut W,
    buf: Vec<u8>,
}

/// Size of a VSTREAM buffer (C: `VSTREAM_BUFSIZE`).
const VSTREAM_BUFSIZE: usize = 4096;

impl<'a, W: Write> VStream<'a, W> {
    /// Wrap `inner`.
    pub fn new(inner: &'a mut W) -> VStream<'a, W> {
        VStream {
            inner,
            buf: Vec::with_capacity(VSTREAM_BUFSIZE),
        }
    }
}

impl<W: Write> Write for VStream<'_, W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= VSTREAM_BUFSIZE {
            let full = self.buf.len() - self.buf.len() % VSTREAM_BUFSIZE;
            self.inner.write_all(&self.buf[..full])?;
            self.buf.drain(..full);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.write_all(&self.buf)?;
        self.buf.clear();
        self.inner.flush()
    }
}

/// Run postcat; returns the exit status. `prog` is argv\[0\], as Postfix prints it.
pub fn run<W: Write, E: Write>(
    prog: &str,
    args: &[OsString],
    out: &mut W,
    err: &mut E,
) -> io::Result<i32> {
    let mut vout = VStream::new(out);
    let out = &mut vout;
    let fatal = |err: &mut E, msg: &str| -> io::Result<i32> {
        writeln!(err, "{prog}: fatal: {msg}")?;
        Ok(1)
    };
    let opts = match parse_args(prog, args) {
        Ok(o) => o,
        Err(e) => {
            e.write_to(prog, err)?;
            return Ok(1);
        }
    };
    let config = match Config::load(opts.config_dir.as_deref()) {
        Ok(c) => c,
        Err(ConfigError::Io { path, source }) => {
            return fatal(
                err,
                &format!("open {}: {}", path.display(), strerror(&source)),
            );
        }
        Err(e) => return fatal(err, &e.to_string()),
    };

    if opts.names.is_empty() {
        let fd = io::stdin().as_fd().try_clone_to_owned()?;
        let input = BufReader::new(EofOnError::new(File::from(fd)));
        let mut render = Render::new(input, "stdin", opts.flags, out, err, prog);
        return finish(render.run(opts.start_offset, true)?, prog, err);
    }

    if opts.search_queue {
        let queue_dir = config.get("queue_directory");
        if let Err(e) = std::env::set_current_dir(&queue_dir) {
            return fatal(err, &format!("chdir {}: {}", queue_dir, strerror(&e)));
        }
        let depth = config.get_int("hash_queue_depth").unwrap_or(1).max(0) as usize;
        let layout = QueueLayout::from_params(&config.get("hash_queue_names"), depth);
        for name in &opts.names {
            let name = name.to_string_lossy();
            let Ok(id) = QueueId::parse(&name) else {
                return fatal(err, &format!("bad mail queue ID: {name}"));
            };
            let mut found = None;
            let mut last_err = io::Error::from_raw_os_error(libc::ENOENT);
            'tries: for _ in 0..2 {
                for queue in QueueName::MESSAGE_QUEUES {
                    let path = layout.relative_path(queue.as_str(), &id);
                    match File::open(&path) {
                        Ok(f) => {
                            found = Some((f, path));
                            break 'tries;
                        }
                        Err(e) => last_err = e,
                    }
                }
            }
            let Some((file, path)) = found else {
                return fatal(
                    err,
                    &format!("open queue file {name}: {}", strerror(&last_err)),
                );
            };
            if let Some(msg) = show_file(file, &path, &name, &opts, out, err, prog)? {
                return fatal(err, &msg);
            }
        }
        return Ok(0);
    }

    for name in &opts.names {
        let path = name.to_string_lossy().into_owned();
        let file = match File::open(name) {
            Ok(f) => f,
            Err(e) => return fatal(err, &format!("open {path}: {}", strerror(&e))),
        };
        if let Some(msg) = show_file(file, &path, &path, &opts, out, err, prog)? {
            return fatal(err, &msg);
        }
    }
    Ok(0)
}

/// Shows one opened file (`path` in the renderer's messages, `name` in the
/// close warning); `Some(text)` is a fatal error to report.
fn show_file<W: Write, E: Write>(
    file: File,
    path: &str,
    name: &str,
    opts: &Options,
    out: &mut W,
    err: &mut E,
    prog: &str,
) -> io::Result<Option<String>> {
    let input = BufReader::new(EofOnError::new(file));
    let mut render = Render::new(input, path, opts.flags, out, err, prog);
    if let Outcome::Fatal(msg) = render.run(opts.start_offset, false)? {
        return Ok(Some(msg));
    }
    close_warning(render.into_input(), name, prog, err)?;
    Ok(None)
}

fn finish<E: Write>(outcome: Outcome, prog: &str, err: &mut E) -> io::Result<i32> {
    match outcome {
        Outcome::Done => Ok(0),
        Outcome::Fatal(msg) => {
            writeln!(err, "{prog}: fatal: {msg}")?;
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn parse_table() {
        let all = Flags {
            env: true,
            header: true,
            body: true,
            ..Flags::default()
        };
        type Case = (
            &'static str,
            Vec<&'static str>,
            Flags,
            Option<&'static str>,
            bool,
            u64,
            Vec<&'static str>,
        );
        let cases: Vec<Case> = vec![
            ("default is -beh", vec!["f"], all, None, false, 0, vec!["f"]),
            (
                "clustered",
                vec!["-bhq", "ID"],
                Flags {
                    header: true,
                    body: true,
                    ..Flags::default()
                },
                None,
                true,
                0,
                vec!["ID"],
            ),
            (
                "attached -c",
                vec!["-c/etc/x", "f"],
                all,
                Some("/etc/x"),
                false,
                0,
                vec!["f"],
            ),
            (
                "separate -c",
                vec!["-c", "/d", "-s", "12"],
                all,
                Some("/d"),
                false,
                12,
                vec![],
            ),
            (
                "no permutation",
                vec!["f", "-b"],
                all,
                None,
                false,
                0,
                vec!["f", "-b"],
            ),
            (
                "double dash",
                vec!["--", "-e"],
                all,
                None,
                false,
                0,
                vec!["-e"],
            ),
            (
                "lone dash is a name",
                vec!["-"],
                all,
                None,
                false,
                0,
                vec!["-"],
            ),
            (
                "offsets, types, raw, verbose",
                vec!["-odrvv", "f"],
                Flags {
                    offset: true,
                    dec: true,
                    raw: true,
                    verbose: 2,
                    ..all
                },
                None,
                false,
                0,
                vec!["f"],
            ),
        ];
        for (name, argv, flags, cdir, q, start, names) in cases {
            let o = parse_args("postcat", &args(&argv))
                .unwrap_or_else(|e| panic!("case {name}: {e:?}"));
            assert_eq!(o.flags, flags, "case {name}");
            assert_eq!(o.config_dir, cdir.map(PathBuf::from), "case {name}");
            assert_eq!(o.search_queue, q, "case {name}");
            assert_eq!(o.start_offset, start, "case {name}");
            assert_eq!(o.names, args(&names), "case {name}");
        }
    }

    #[test]
    fn parse_errors_table() {
        let cases: &[(&str, &[&str], Option<&str>, &str)] = &[
            (
                "unknown",
                &["-x"],
                Some("invalid option -- 'x'"),
                "usage: p [-b",
            ),
            (
                "missing -c value",
                &["-c"],
                Some("option requires an argument -- 'c'"),
                "usage: p",
            ),
            (
                "missing -s value",
                &["-b", "-s"],
                Some("option requires an argument -- 's'"),
                "usage: p",
            ),
            ("bad offset", &["-s", "12x"], None, "bad offset: 12x"),
        ];
        for (name, argv, getopt, fatal) in cases {
            let e = parse_args("p", &args(argv)).expect_err(name);
            assert_eq!(
                e.getopt.map(|g| g.to_string()).as_deref(),
                *getopt,
                "case {name}"
            );
            assert!(e.fatal.starts_with(fatal), "case {name}: {}", e.fatal);
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(argv in proptest::collection::vec(".{0,6}", 0..6)) {
            let argv: Vec<OsString> = argv.into_iter().map(OsString::from).collect();
            let _ = parse_args("postcat", &argv);
        }
    }
}
