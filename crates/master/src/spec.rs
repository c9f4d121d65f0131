//! What master makes of one master.cf entry: where it listens, what it runs
//! with which arguments, and its limits (Postfix's `master_ent.c`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use global::config::Config;
use global::master_cf::Service;

/// Where a service listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// TCP addresses (one listener each).
    Inet(Vec<SocketAddr>),
    /// A stream socket under `private/` or `public/`.
    Unix(PathBuf),
    /// A datagram socket under `private/` or `public/`.
    Dgram(PathBuf),
    /// A named pipe under `private/` or `public/`.
    Fifo(PathBuf),
    /// A stream socket that receives descriptors (postscreen to smtpd).
    Pass(PathBuf),
}

impl Endpoint {
    /// Number of listening descriptors.
    pub fn count(&self) -> usize {
        match self {
            Endpoint::Inet(a) => a.len(),
            _ => 1,
        }
    }
}

/// One service as master runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// `name/type`, the key across reloads.
    pub key: String,
    /// Column 1.
    pub name: String,
    /// Column 2.
    pub kind: String,
    /// The listening endpoint.
    pub endpoint: Endpoint,
    /// Process limit (0 = unlimited).
    pub max_proc: u32,
    /// Wake-up interval in seconds (0 = none).
    pub wakeup: u32,
    /// Wake-up only after the first process has started (`N?`).
    pub cond_wake: bool,
    /// `daemon_directory/command`.
    pub path: PathBuf,
    /// The argument vector, program name first.
    pub argv: Vec<String>,
    /// master.cf line, for messages.
    pub line: usize,
}

/// Errors in an entry, worded like Postfix's `master_ent.c` fatals.
pub fn build(
    svc: &Service,
    config: &Config,
    master_cf: &Path,
    verbose: bool,
) -> Result<Spec, String> {
    let context = |msg: String| format!("{}: line {}: {msg}", master_cf.display(), svc.line);
    let queue = PathBuf::from(config.get("queue_directory"));
    let class = if svc.is_private() {
        "private"
    } else {
        "public"
    };
    let sock = queue.join(class).join(&svc.name);
    let endpoint = match svc.kind.as_str() {
        "inet" => {
            if svc.private == "y" {
                return Err(context("inet service cannot be private".to_string()));
            }
            Endpoint::Inet(inet_addresses(&svc.name, config).map_err(context)?)
        }
        "unix" => Endpoint::Unix(sock),
        "unix-dgram" => Endpoint::Dgram(sock),
        "fifo" => Endpoint::Fifo(sock),
        "pass" => Endpoint::Pass(sock),
        other => return Err(context(format!("bad transport type: {other}"))),
    };
    let max_proc = match svc.maxproc() {
        Some(n) => n,
        None => {
            let d = config
                .get_int("default_process_limit")
                .map_err(|e| e.to_string())?;
            u32::try_from(d.max(0)).unwrap_or(u32::MAX)
        }
    };
    let (wakeup, cond_wake) = svc.wakeup();
    let command = svc.program().to_string();
    let path = PathBuf::from(config.get("daemon_directory")).join(&command);
    let mut argv = vec![command.clone()];
    if max_proc == 1 {
        argv.push("-l".to_string());
    }
    if max_proc == 0 {
        argv.push("-z".to_string());
    }
    let base = Path::new(&command)
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_default();
    if base != svc.name {
        argv.extend(["-n".to_string(), svc.name.clone()]);
    }
    argv.extend(["-t".to_string(), svc.kind.clone()]);
    if verbose {
        argv.push("-v".to_string());
    }
    if svc.is_unprivileged() {
        argv.push("-u".to_string());
    }
    if svc.is_chroot() {
        argv.push("-c".to_string());
    }
    if endpoint.count() > 1 {
        argv.extend(["-s".to_string(), endpoint.count().to_string()]);
    }
    argv.extend(svc.command.iter().skip(1).cloned());
    Ok(Spec {
        key: svc.id(),
        name: svc.name.clone(),
        kind: svc.kind.clone(),
        endpoint,
        max_proc,
        wakeup,
        cond_wake: cond_wake && wakeup > 0,
        path,
        argv,
        line: svc.line,
    })
}

/// Splits an inet service name into host (may be empty) and port (Postfix's `host_port`).
pub fn split_host_port(name: &str) -> Result<(&str, &str), String> {
    if let Some(rest) = name.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("missing \"]\" in \"{name}\""))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| format!("missing \":port\" in \"{name}\""))?;
        return Ok((host, port));
    }
    match name.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Ok((host, port)),
        Some(_) => Err(format!("bad host:port syntax in \"{name}\"")),
        None => Ok(("", name)),
    }
}

/// A port number or a TCP service name from `/etc/services`.
pub fn resolve_port(port: &str) -> Result<u16, String> {
    if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
        return port.parse().map_err(|_| format!("bad port number: {port}"));
    }
    let text = std::fs::read_to_string("/etc/services").unwrap_or_default();
    services_lookup(&text, port).ok_or_else(|| format!("unknown service: {port}/tcp"))
}

/// Finds `name` (or an alias) with protocol tcp in `/etc/services` text.
pub fn services_lookup(text: &str, name: &str) -> Option<u16> {
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let (Some(first), Some(pp)) = (words.next(), words.next()) else {
            continue;
        };
        let Some((num, proto)) = pp.split_once('/') else {
            continue;
        };
        if proto == "tcp" && (first == name || words.any(|a| a == name)) {
            return num.parse().ok();
        }
    }
    None
}

/// Which address families `inet_protocols` enables: (ipv4, ipv6).
pub fn protocols(value: &str) -> Result<(bool, bool), String> {
    let mut v4 = false;
    let mut v6 = false;
    for w in value.split([',', ' ', '\t']).filter(|w| !w.is_empty()) {
        match w.to_ascii_lowercase().as_str() {
            "all" => (v4, v6) = (true, true),
            "ipv4" => v4 = true,
            "ipv6" => v6 = true,
            _ => return Err(format!("bad inet_protocols value: \"{value}\"")),
        }
    }
    if !v4 && !v6 {
        return Err(format!("bad inet_protocols value: \"{value}\""));
    }
    Ok((v4, v6))
}

/// The addresses an inet service listens on: its own host part, else
/// `inet_interfaces` (`all`: wildcard per protocol; `loopback-only`).
pub fn inet_addresses(name: &str, config: &Config) -> Result<Vec<SocketAddr>, String> {
    let (host, port) = split_host_port(name)?;
    let port = resolve_port(port)?;
    let (v4, v6) = protocols(&config.get("inet_protocols"))?;
    let keep = |a: &SocketAddr| (a.is_ipv4() && v4) || (a.is_ipv6() && v6);
    let hosts: Vec<String> = if !host.is_empty() {
        vec![host.to_string()]
    } else {
        config.get_list("inet_interfaces")
    };
    let mut out: Vec<SocketAddr> = Vec::new();
    for h in &hosts {
        let mut found: Vec<SocketAddr> = match h.to_ascii_lowercase().as_str() {
            "all" => vec![
                SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
                SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
            ],
            "loopback-only" => vec![
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
                SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
            ],
            _ => {
                let bare = h.trim_start_matches('[').trim_end_matches(']');
                match bare.parse::<IpAddr>() {
                    Ok(ip) => vec![SocketAddr::new(ip, port)],
                    Err(_) => (bare, port)
                        .to_socket_addrs()
                        .map_err(|_| format!("bad hostname or network address: {name}"))?
                        .collect(),
                }
            }
        };
        found.retain(keep);
        for a in found {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    if out.is_empty() {
        return Err(format!("bad hostname or network address: {name}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (label, input, expected host and port or failure).
    type HostPortCase = (
        &'static str,
        &'static str,
        Result<(&'static str, &'static str), ()>,
    );

    #[test]
    fn host_port_table() {
        let cases: &[HostPortCase] = &[
            ("port only", "smtp", Ok(("", "smtp"))),
            ("host and port", "127.0.0.1:2525", Ok(("127.0.0.1", "2525"))),
            ("bracketed v6", "[::1]:25", Ok(("::1", "25"))),
            ("missing bracket", "[::1:25", Err(())),
            ("bare v6", "::1:25", Err(())),
        ];
        for (label, input, want) in cases {
            let got = split_host_port(input).map_err(|_| ());
            assert_eq!(&got, want, "{label}");
        }
    }

    #[test]
    fn services_table() {
        let text = "smtp 25/tcp mail\nsubmission 587/tcp\n# x 1/tcp\nfoo 9/udp\n";
        let cases = [
            ("name", "smtp", Some(25)),
            ("alias", "mail", Some(25)),
            ("udp only", "foo", None),
            ("comment", "x", None),
            ("submission", "submission", Some(587)),
        ];
        for (label, name, want) in cases {
            assert_eq!(services_lookup(text, name), want, "{label}");
        }
    }

    #[test]
    fn protocols_table() {
        let cases = [
            ("all", "all", Ok((true, true))),
            ("v4", "ipv4", Ok((true, false))),
            ("both", "ipv4, ipv6", Ok((true, true))),
            ("bad", "ipx", Err(())),
            ("empty", "", Err(())),
        ];
        for (label, v, want) in cases {
            assert_eq!(protocols(v).map_err(|_| ()), want, "{label}");
        }
    }

    proptest::proptest! {
        #[test]
        fn host_port_never_panics(s in ".*") {
            let _ = split_host_port(&s);
            let _ = services_lookup(&s, "smtp");
            let _ = protocols(&s);
        }
    }
}
