//! master's event loop: listen, spawn on demand, track busy/idle, reap,
//! throttle, wake up, reload and terminate (Postfix's `master_avail.c`,
//! `master_spawn.c`, `master_wakeup.c`, `master_conf.c`, `master_sig.c`).
//!
//! Like Postfix, master starts nothing up front. It watches the listeners
//! of each service that has no idle process and is below its process limit;
//! a client (or a wake-up trigger) makes a listener readable, master forks
//! one process, counts it idle until the process reports that it took a
//! client, and watches again. Everything runs in this one thread; signals
//! only set flags and write to a self-pipe that wakes `poll`.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use global::config::Config;
use global::master_cf::MasterCf;
use global::server::status::{self, StatusRecord};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::spawn;
use crate::spec::{self, Endpoint, Spec};

/// One running service.
pub(crate) struct Svc {
    /// What it is.
    pub(crate) spec: Spec,
    /// Its listening descriptors (kept across reloads when the endpoint is unchanged).
    pub(crate) listeners: Vec<OwnedFd>,
    /// Master's end of the status pipe; closing it tells this generation's children to finish.
    status_r: OwnedFd,
    /// The children's end, handed to each child as fd 5.
    pub(crate) status_w: OwnedFd,
    /// Bytes of a status record not yet complete.
    pending: Vec<u8>,
    /// Generation of this service's current status pipe.
    pub(crate) generation: u32,
    /// Processes of the current generation.
    total: u32,
    /// Of those, how many wait for a client.
    avail: u32,
    /// No new processes before this time (bad command startup, fork failure).
    throttled_until: Option<Instant>,
    /// Next wake-up trigger.
    next_wakeup: Option<Instant>,
}

/// One child process.
struct Proc {
    /// The service key (`name/type`).
    key: String,
    /// Program path, for log lines.
    path: PathBuf,
    /// Generation it belongs to; an older one means it is retired.
    generation: u32,
    /// Counted as idle by its service.
    avail: bool,
    /// Clients it has taken.
    use_count: u32,
    /// Master sent it SIGTERM (service removed): do not report that death.
    killed: bool,
}

/// Signal flags set by handlers (and a self-pipe to wake `poll`).
struct Signals {
    hup: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
    chld: Arc<AtomicBool>,
    wake_r: UnixStream,
    /// Keeps the write end alive for the handlers.
    _wake_w: UnixStream,
    /// Which terminating signal arrived.
    term_sig: Arc<std::sync::atomic::AtomicI32>,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};
        let (wake_r, wake_w) = UnixStream::pair()?;
        wake_r.set_nonblocking(true)?;
        wake_w.set_nonblocking(true)?;
        let s = Signals {
            hup: Arc::new(AtomicBool::new(false)),
            term: Arc::new(AtomicBool::new(false)),
            chld: Arc::new(AtomicBool::new(false)),
            wake_r,
            _wake_w: wake_w.try_clone()?,
            term_sig: Arc::new(std::sync::atomic::AtomicI32::new(0)),
        };
        signal_hook::flag::register(SIGHUP, Arc::clone(&s.hup))?;
        signal_hook::flag::register(SIGCHLD, Arc::clone(&s.chld))?;
        for sig in [SIGTERM, SIGINT] {
            signal_hook::flag::register(sig, Arc::clone(&s.term))?;
            let which = Arc::clone(&s.term_sig);
            // SAFETY: the action only stores to an atomic (async-signal-safe).
            unsafe {
                signal_hook::low_level::register(sig, move || which.store(sig, Ordering::SeqCst))?;
            }
        }
        for sig in [SIGHUP, SIGCHLD, SIGTERM, SIGINT] {
            signal_hook::low_level::pipe::register(sig, wake_w.try_clone()?)?;
        }
        Ok(s)
    }

    fn drain(&self) {
        use std::io::Read;
        let mut buf = [0u8; 64];
        while matches!((&self.wake_r).read(&mut buf), Ok(n) if n > 0) {}
    }
}

/// The supervisor.
pub struct Master {
    config_dir: PathBuf,
    verbose: bool,
    config: Config,
    /// inet_interfaces at start: a change needs stop and start.
    saved_interfaces: String,
    services: Vec<Svc>,
    procs: HashMap<i32, Proc>,
    generation: u32,
    signals: Signals,
    /// uid/gid for socket files when running as root.
    owner: Option<(u32, u32)>,
    /// `-e`: exit at this time.
    exit_at: Option<Instant>,
}

/// Loads main.cf and master.cf from `dir`.
pub fn load(dir: &Path) -> anyhow::Result<(Config, MasterCf)> {
    let config = Config::load(Some(dir))?;
    let mcf = MasterCf::load(dir)?;
    Ok((config, mcf))
}

fn mail_owner_ids(config: &Config) -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    global::server::privs::lookup_owner(&config.get("mail_owner"))
        .ok()
        .map(|(u, g)| (u.as_raw(), g.as_raw()))
}

impl Master {
    /// Reads the configuration in `config_dir` and opens every listener.
    pub fn new(
        config_dir: &Path,
        verbose: bool,
        exit_after: Option<Duration>,
    ) -> anyhow::Result<Master> {
        let (config, mcf) = load(config_dir)?;
        let signals = Signals::install()?;
        let saved_interfaces = config.get("inet_interfaces");
        let mut m = Master {
            config_dir: config_dir.to_path_buf(),
            verbose,
            owner: mail_owner_ids(&config),
            config,
            saved_interfaces,
            services: Vec::new(),
            procs: HashMap::new(),
            generation: 0,
            signals,
            exit_at: exit_after.map(|d| Instant::now() + d),
        };
        let specs = m.build_specs(&mcf).map_err(anyhow::Error::msg)?;
        for spec in specs {
            let listeners = m.open_listeners(&spec).map_err(anyhow::Error::msg)?;
            let svc = m.new_svc(spec, listeners)?;
            m.services.push(svc);
        }
        Ok(m)
    }

    fn build_specs(&self, mcf: &MasterCf) -> Result<Vec<Spec>, String> {
        for w in &mcf.warnings {
            tracing::warn!("{w}");
        }
        // inet listeners keep the inet_interfaces that master started with.
        let config = self
            .config
            .with_overrides(&[("inet_interfaces".to_string(), self.saved_interfaces.clone())]);
        mcf.services()
            .into_iter()
            .map(|s| spec::build(s, &config, &mcf.path, self.verbose))
            .collect()
    }

    fn open_listeners(&self, spec: &Spec) -> Result<Vec<OwnedFd>, String> {
        let limit = self
            .config
            .get_int("default_process_limit")
            .unwrap_or(100)
            .clamp(1, 4096) as i32;
        let backlog = (spec.max_proc as i32).max(limit);
        crate::listen::open(&spec.endpoint, backlog, self.owner)
    }

    fn new_svc(&mut self, spec: Spec, listeners: Vec<OwnedFd>) -> anyhow::Result<Svc> {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        global::server::listen::set_fd_nonblocking(r.as_raw_fd())?;
        self.generation += 1;
        let next_wakeup = (spec.wakeup > 0 && !spec.cond_wake)
            .then(|| Instant::now() + Duration::from_secs(spec.wakeup.into()));
        Ok(Svc {
            spec,
            listeners,
            status_r: r,
            status_w: w,
            pending: Vec::new(),
            generation: self.generation,
            total: 0,
            avail: 0,
            throttled_until: None,
            next_wakeup,
        })
    }

    fn throttle_time(&self) -> Duration {
        self.config
            .get_time("service_throttle_time", 's')
            .unwrap_or(Duration::from_secs(60))
    }

    /// Whether master should watch `svc`'s listeners (no idle process, below the limit).
    fn wants_clients(svc: &Svc, now: Instant) -> bool {
        svc.avail == 0
            && (svc.spec.max_proc == 0 || svc.total < svc.spec.max_proc)
            && svc.throttled_until.is_none_or(|t| t <= now)
    }

    /// Runs until SIGTERM/SIGINT (or the `-e` time); returns the signal number (0 for `-e`).
    pub fn run(&mut self) -> i32 {
        loop {
            let now = Instant::now();
            for svc in &mut self.services {
                if svc.throttled_until.is_some_and(|t| t <= now) {
                    svc.throttled_until = None;
                }
            }
            self.fire_wakeups(now);
            let (mut fds, map) = self.poll_set(now);
            let timeout = self.poll_timeout(now);
            // SAFETY: `fds` is a valid pollfd array for the duration of the call.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            self.signals.drain();
            if self.signals.term.load(Ordering::SeqCst) {
                return self.signals.term_sig.load(Ordering::SeqCst);
            }
            if self.exit_at.is_some_and(|t| t <= Instant::now()) {
                tracing::info!("master exit time has arrived");
                return 0;
            }
            if self.signals.chld.swap(false, Ordering::SeqCst) {
                self.reap();
            }
            if self.signals.hup.swap(false, Ordering::SeqCst) {
                self.reload();
                continue;
            }
            if n <= 0 {
                continue;
            }
            for (p, what) in fds.iter().zip(map.iter()) {
                if p.revents == 0 {
                    continue;
                }
                match *what {
                    Watch::Status(i) => self.read_status(i),
                    Watch::Listener(i) => {
                        if Self::wants_clients(&self.services[i], Instant::now()) {
                            self.spawn(i);
                        }
                    }
                    Watch::Signal => {}
                }
            }
            // A child may have died between SIGCHLD and now.
            if self.signals.chld.swap(false, Ordering::SeqCst) {
                self.reap();
            }
        }
    }

    fn poll_set(&self, now: Instant) -> (Vec<libc::pollfd>, Vec<Watch>) {
        let mut fds = vec![pollfd(self.signals.wake_r.as_raw_fd())];
        let mut map = vec![Watch::Signal];
        for (i, svc) in self.services.iter().enumerate() {
            fds.push(pollfd(svc.status_r.as_raw_fd()));
            map.push(Watch::Status(i));
            if Self::wants_clients(svc, now) {
                for l in &svc.listeners {
                    fds.push(pollfd(l.as_raw_fd()));
                    map.push(Watch::Listener(i));
                }
            }
        }
        (fds, map)
    }

    fn poll_timeout(&self, now: Instant) -> libc::c_int {
        let mut next = now + Duration::from_secs(1);
        for svc in &self.services {
            for t in [svc.throttled_until, svc.next_wakeup].into_iter().flatten() {
                next = next.min(t);
            }
        }
        if let Some(t) = self.exit_at {
            next = next.min(t);
        }
        let ms = next.saturating_duration_since(now).as_millis();
        libc::c_int::try_from(ms).unwrap_or(1000).max(1)
    }

    fn read_status(&mut self, i: usize) {
        let mut buf = [0u8; 4096];
        loop {
            let fd = self.services[i].status_r.as_raw_fd();
            // SAFETY: reading into a stack buffer from a descriptor we own.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            self.services[i]
                .pending
                .extend_from_slice(&buf[..n as usize]);
        }
        let pending = std::mem::take(&mut self.services[i].pending);
        let mut chunks = pending.chunks_exact(status::RECORD_LEN);
        for rec in chunks.by_ref().filter_map(StatusRecord::decode) {
            self.status_update(i, rec);
        }
        self.services[i].pending = chunks.remainder().to_vec();
    }

    fn status_update(&mut self, i: usize, rec: StatusRecord) {
        let svc = &mut self.services[i];
        let Ok(pid) = i32::try_from(rec.pid) else {
            return;
        };
        let Some(proc) = self.procs.get_mut(&pid) else {
            return;
        };
        if proc.generation != svc.generation || proc.key != svc.spec.key {
            return;
        }
        match rec.avail {
            status::AVAILABLE if !proc.avail => {
                proc.avail = true;
                svc.avail += 1;
            }
            status::TAKEN => {
                if proc.avail {
                    proc.avail = false;
                    svc.avail = svc.avail.saturating_sub(1);
                }
                proc.use_count += 1;
            }
            _ => {}
        }
    }

    fn spawn(&mut self, i: usize) {
        let throttle = self.throttle_time();
        let svc = &mut self.services[i];
        let Some(pid) = spawn::fork_exec(svc, &self.config_dir) else {
            tracing::warn!(
                "master_spawn: fork: {} -- throttling",
                std::io::Error::last_os_error()
            );
            svc.throttled_until = Some(Instant::now() + throttle);
            return;
        };
        if self.verbose {
            tracing::info!("spawn command {}; pid {pid}", svc.spec.path.display());
        }
        svc.total += 1;
        svc.avail += 1;
        if svc.spec.cond_wake && svc.next_wakeup.is_none() {
            svc.next_wakeup = Some(Instant::now() + Duration::from_secs(svc.spec.wakeup.into()));
        }
        self.procs.insert(
            pid,
            Proc {
                key: svc.spec.key.clone(),
                path: svc.spec.path.clone(),
                generation: svc.generation,
                avail: true,
                use_count: 0,
                killed: false,
            },
        );
    }

    fn reap(&mut self) {
        loop {
            let st = match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(st) => st,
            };
            let (pid, code, signal) = match st {
                WaitStatus::Exited(p, c) => (p, Some(c), None),
                WaitStatus::Signaled(p, s, _) => (p, None, Some(s)),
                WaitStatus::Stopped(p, s) => {
                    if let Some(proc) = self.procs.get(&p.as_raw()) {
                        tracing::warn!(
                            "process {} pid {p} stopped by signal {}",
                            proc.path.display(),
                            s as i32
                        );
                    }
                    continue;
                }
                _ => continue,
            };
            let Some(proc) = self.procs.remove(&pid.as_raw()) else {
                continue;
            };
            let abnormal = code.is_some_and(|c| c != 0) || signal.is_some();
            if let Some(c) = code.filter(|c| *c != 0) {
                tracing::warn!("process {} pid {pid} exit status {c}", proc.path.display());
            }
            if let Some(s) = signal
                && !(proc.killed && s == Signal::SIGTERM)
            {
                tracing::warn!(
                    "process {} pid {pid} killed by signal {}",
                    proc.path.display(),
                    s as i32
                );
            }
            let throttle = self.throttle_time();
            let Some(svc) = self
                .services
                .iter_mut()
                .find(|s| s.spec.key == proc.key && s.generation == proc.generation)
            else {
                continue; // a retired generation: nothing to account for
            };
            svc.total = svc.total.saturating_sub(1);
            if proc.avail {
                svc.avail = svc.avail.saturating_sub(1);
            }
            if abnormal && proc.use_count == 0 && svc.throttled_until.is_none() {
                tracing::warn!("{}: bad command startup -- throttling", proc.path.display());
                svc.throttled_until = Some(Instant::now() + throttle);
            }
        }
    }

    fn fire_wakeups(&mut self, now: Instant) {
        for svc in &mut self.services {
            let Some(t) = svc.next_wakeup else { continue };
            if t > now {
                continue;
            }
            svc.next_wakeup = Some(now + Duration::from_secs(svc.spec.wakeup.into()));
            if let Err(e) = spawn::send_wakeup(&svc.spec.endpoint)
                && self.verbose
            {
                tracing::info!("wakeup {}: {e}", svc.spec.name);
            }
        }
    }

    /// SIGHUP: re-read main.cf and master.cf. Unchanged endpoints keep their
    /// listeners; every service gets a new status pipe, so old processes
    /// finish their clients and exit; removed services' processes get SIGTERM.
    fn reload(&mut self) {
        let (config, mcf) = match load(&self.config_dir) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("{e:#}; keeping the old configuration");
                return;
            }
        };
        if config.get("inet_interfaces") != self.saved_interfaces
            && mcf.services().iter().any(|s| s.kind == "inet")
        {
            tracing::warn!("ignoring inet_interfaces change");
            tracing::warn!("to change inet_interfaces, stop and start Postfix");
        }
        let old_config = std::mem::replace(&mut self.config, config);
        let specs = match self.build_specs(&mcf) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("{e}; keeping the old configuration");
                self.config = old_config;
                return;
            }
        };
        self.owner = mail_owner_ids(&self.config);
        let mut old: Vec<Svc> = std::mem::take(&mut self.services);
        let mut fresh = Vec::with_capacity(specs.len());
        for spec in specs {
            let reuse = old
                .iter()
                .position(|s| s.spec.key == spec.key && s.spec.endpoint == spec.endpoint);
            let listeners = match reuse {
                Some(j) => std::mem::take(&mut old[j].listeners),
                None => match self.open_listeners(&spec) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!("service {}: {e}", spec.key);
                        continue;
                    }
                },
            };
            match self.new_svc(spec, listeners) {
                Ok(s) => fresh.push(s),
                Err(e) => tracing::warn!("{e:#}"),
            }
        }
        // Services that are gone: their processes are told to stop now.
        for svc in &old {
            if fresh.iter().any(|s| s.spec.key == svc.spec.key) {
                continue;
            }
            for (pid, proc) in self.procs.iter_mut() {
                if proc.key == svc.spec.key {
                    proc.killed = true;
                    let _ = nix::sys::signal::kill(Pid::from_raw(*pid), Signal::SIGTERM);
                }
            }
            if let Endpoint::Unix(p) | Endpoint::Dgram(p) | Endpoint::Fifo(p) | Endpoint::Pass(p) =
                &svc.spec.endpoint
            {
                let _ = std::fs::remove_file(p);
            }
        }
        // Dropping `old` closes the old status pipes and unused listeners.
        drop(old);
        self.services = fresh;
        tracing::info!(
            "reload -- version {}, configuration {}",
            self.config.get("mail_version"),
            self.config_dir.display()
        );
    }

    /// SIGTERM: stop every child (the whole process group when master leads it).
    pub fn terminate(&mut self) {
        let me = nix::unistd::getpid();
        if nix::unistd::getpgrp() == me {
            use nix::sys::signal::{SigHandler, signal};
            // SAFETY: ignoring SIGTERM installs no Rust code as a handler.
            let _ = unsafe { signal(Signal::SIGTERM, SigHandler::SigIgn) };
            let _ = nix::sys::signal::killpg(me, Signal::SIGTERM);
        }
        for pid in self.procs.keys() {
            let _ = nix::sys::signal::kill(Pid::from_raw(*pid), Signal::SIGTERM);
        }
        // Collect them (for a short while), so none is left behind as a zombie
        // under an init that does not reap.
        let deadline = Instant::now() + Duration::from_secs(3);
        while !self.procs.is_empty() && Instant::now() < deadline {
            match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(20)),
                Ok(st) => {
                    if let Some(p) = st.pid() {
                        self.procs.remove(&p.as_raw());
                    }
                }
                Err(_) => break,
            }
        }
    }

    /// Number of child processes, for tests and verbose logging.
    pub fn children(&self) -> usize {
        self.procs.len()
    }
}

/// What a pollfd entry stands for.
#[derive(Debug, Clone, Copy)]
enum Watch {
    Signal,
    Status(usize),
    Listener(usize),
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}
