//! The scheduler: queue scans, per-destination queues with slow-start
//! concurrency, throttled transports, and the event loop that ties them
//! together (C: `qmgr.c`, `qmgr_queue.c`, `qmgr_transport.c`, simplified:
//! one FIFO of batches per destination, served round-robin).
//!
//! Everything runs on one thread except the delivery batches, which each
//! get a thread that connects to the agent and sends its result back as an
//! [`Event`]. Queue state changes (R->D flips, status log appends, renames,
//! removal) all happen on the scheduler thread.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use global::bounce_log::{self, LogEntry, LogKind};
use global::ipc::TriggerRequest;
use global::ipc::delivery::{
    DELIVERY_PROTOCOL_VERSION, DeliveryRecipient, DeliveryRequest, DeliveryTimes, RecipientResult,
};
use global::queue::QueueId;
use trivial_rewrite::Resolver;

use crate::message::{Message, Route, route};
use crate::scan::{self, now_secs, now_us};
use crate::settings::Settings;
use crate::worker::{self, BatchFailure};

/// What wakes the scheduler.
#[derive(Debug)]
pub enum Event {
    /// Trigger bytes from `public/qmgr`.
    Trigger(TriggerRequest),
    /// A delivery batch finished.
    Done(Box<Batch>, Result<Vec<RecipientResult>, BatchFailure>),
}

/// Recipients of one message for one (transport, next hop).
#[derive(Debug, Clone)]
pub struct Batch {
    /// The message.
    pub msg: String,
    /// master.cf service.
    pub transport: String,
    /// Next hop.
    pub nexthop: String,
    /// Destination queue key.
    pub dest: (String, String),
    /// The recipients (address = resolved address).
    pub recipients: Vec<DeliveryRecipient>,
}

/// A destination queue.
#[derive(Debug)]
struct Dest {
    /// Batches waiting.
    queue: VecDeque<Batch>,
    /// Batches in flight.
    active: usize,
    /// Current concurrency window (slow start).
    window: usize,
    /// Successful batches since the window last grew.
    successes: usize,
    /// `<transport>_destination_concurrency_limit` (0 = none).
    limit: usize,
}

/// A transport's state.
#[derive(Debug, Default)]
struct Transport {
    /// Batches in flight.
    active: usize,
    /// Throttled (agent unavailable or crashed) until then, with the reason.
    throttled: Option<(Instant, String, String)>,
}

/// What the next scans should do.
#[derive(Debug, Default, Clone, Copy)]
struct ScanFlags {
    incoming: bool,
    deferred: bool,
    all: bool,
}

/// The queue manager.
pub struct Scheduler {
    pub(crate) settings: Settings,
    resolver: Resolver,
    pub(crate) messages: HashMap<String, Message>,
    dests: HashMap<(String, String), Dest>,
    transports: HashMap<String, Transport>,
    tx: Sender<Event>,
    rx: Receiver<Event>,
    scan: ScanFlags,
    next_deferred_scan: Instant,
}

impl Scheduler {
    /// A scheduler; `tx` is the sending side of `rx`, for the batch threads.
    pub fn new(
        settings: Settings,
        resolver: Resolver,
        tx: Sender<Event>,
        rx: Receiver<Event>,
    ) -> Scheduler {
        let next_deferred_scan = Instant::now() + settings.queue_run_delay;
        Scheduler {
            settings,
            resolver,
            messages: HashMap::new(),
            dests: HashMap::new(),
            transports: HashMap::new(),
            tx,
            rx,
            scan: ScanFlags {
                incoming: true,
                deferred: true,
                all: false,
            },
            next_deferred_scan,
        }
    }

    /// Move what a previous qmgr left in `active/` back to `incoming/` (C: `qmgr_move()`).
    pub fn recover_active(&self) {
        let q = &self.settings.queue_dir;
        let found = match scan::list(q, "active") {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!("scan active: {e}");
                return;
            }
        };
        for f in found {
            match scan::rename(q, &self.settings.layout, &f.id, "active", "incoming") {
                Ok(path) => {
                    let _ = scan::set_mtime(&path, std::time::SystemTime::now());
                }
                Err(e) => tracing::warn!("{}: move active to incoming: {e}", f.id.as_str()),
            }
        }
    }

    /// Run until the channel closes.
    pub fn run(mut self) {
        loop {
            if Instant::now() >= self.next_deferred_scan {
                self.scan.deferred = true;
                self.scan.incoming = true;
            }
            if self.scan.incoming || self.scan.deferred {
                self.scan_queues();
            }
            self.dispatch();
            let wait = self
                .next_deferred_scan
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(10), Duration::from_secs(1));
            match self.rx.recv_timeout(wait) {
                Ok(ev) => self.handle(ev),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            // Drain what else arrived, so a burst of results is one pass.
            while let Ok(ev) = self.rx.try_recv() {
                self.handle(ev);
            }
        }
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Trigger(req) => {
                if req.incoming.flush_dead || req.deferred.flush_dead {
                    // `F`: forget dead transports and destinations.
                    for t in self.transports.values_mut() {
                        t.throttled = None;
                    }
                }
                self.scan.incoming |= req.incoming.start || req.incoming.all;
                self.scan.deferred |= req.deferred.start || req.deferred.all;
                self.scan.all |= req.incoming.all || req.deferred.all;
            }
            Event::Done(batch, result) => self.batch_done(*batch, result),
        }
    }

    /// Scan incoming, then deferred, moving ready files into active.
    fn scan_queues(&mut self) {
        let flags = self.scan;
        self.scan = ScanFlags::default();
        if flags.incoming {
            self.scan_one("incoming", flags.all);
        }
        if flags.deferred {
            self.scan_one("deferred", flags.all);
            self.next_deferred_scan = Instant::now() + self.settings.queue_run_delay;
        }
    }

    fn scan_one(&mut self, queue: &str, all: bool) {
        let found = match scan::list(&self.settings.queue_dir, queue) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!("scan {queue}: {e}");
                return;
            }
        };
        let now = now_secs();
        for f in found {
            if self.messages.len() >= self.settings.active_limit {
                // Come back when there is room.
                if queue == "incoming" {
                    self.scan.incoming = true;
                } else {
                    self.scan.deferred = true;
                }
                return;
            }
            if self.messages.contains_key(f.id.as_str()) || !scan::is_ready(&f, now, all) {
                continue;
            }
            let q = &self.settings.queue_dir;
            let path = match scan::rename(q, &self.settings.layout, &f.id, queue, "active") {
                Ok(p) => p,
                Err(e) => {
                    // Removed meanwhile (postsuper), or a system problem.
                    tracing::debug!("{}: move {queue} to active: {e}", f.id.as_str());
                    continue;
                }
            };
            self.activate(f.id, &path);
        }
    }

    /// Load a message that is now in active and plan its deliveries.
    fn activate(&mut self, id: QueueId, path: &std::path::Path) {
        let mut msg = match Message::load(path, id.clone(), now_us()) {
            Ok(m) => m,
            Err(e) if e.is_corrupt() => {
                self.save_corrupt(&id, &e.to_string());
                return;
            }
            Err(e) => {
                // A system error: leave it for the next scan (back to incoming).
                tracing::warn!("{}: {e}", id.as_str());
                let q = &self.settings.queue_dir;
                // Try again after minimal_backoff_time, not in a tight loop.
                if let Ok(p) = scan::rename(q, &self.settings.layout, &id, "active", "incoming") {
                    let later = std::time::SystemTime::now() + self.settings.min_backoff;
                    let _ = scan::set_mtime(&p, later);
                }
                return;
            }
        };
        let (q, layout) = (&self.settings.queue_dir, &self.settings.layout);
        // A fresh attempt: the defer log describes the last one only.
        if let Err(e) = bounce_log::remove(q, layout, LogKind::Defer, &id) {
            tracing::warn!("{}: {e}", id.as_str());
        }
        msg.bounced = bounce_log::log_path(q, layout, LogKind::Bounce, &id).exists();
        tracing::info!("{}", msg.active_log());
        let pending = std::mem::take(&mut msg.pending);
        let key = id.as_str().to_string();
        self.messages.insert(key.clone(), msg);
        // Per (transport, nexthop): the recipients as queued, with their resolved form.
        type Group = Vec<(DeliveryRecipient, String)>;
        let mut groups: HashMap<(String, String), Group> = HashMap::new();
        for rcpt in pending {
            let sender = self.messages[&key].sender.clone();
            match route(&self.settings, &self.resolver, &sender, &rcpt.address) {
                Route::Deliver {
                    transport,
                    nexthop,
                    address,
                } => {
                    if let Some((_, status, reason)) = self.throttled(&transport) {
                        self.defer_now(&key, &rcpt, &status, &reason);
                        continue;
                    }
                    // Agents get the address as queued (Postfix does the same);
                    // the resolved form only names per-recipient queues.
                    groups
                        .entry((transport, nexthop))
                        .or_default()
                        .push((rcpt, address));
                }
                Route::Bounce { status, reason } => self.bounce_now(&key, &rcpt, &status, &reason),
                Route::Defer { status, reason } => self.defer_now(&key, &rcpt, &status, &reason),
                Route::Discard => {
                    tracing::warn!(
                        "{}: undeliverable postmaster notification discarded",
                        id.as_str()
                    );
                    self.mark_done(&key, rcpt.offset);
                }
            }
        }
        for ((transport, nexthop), rcpts) in groups {
            self.enqueue(&key, transport, nexthop, rcpts);
        }
        self.maybe_finish(&key);
    }

    /// Split recipients into batches and queue them on their destination.
    fn enqueue(
        &mut self,
        key: &str,
        transport: String,
        nexthop: String,
        rcpts: Vec<(DeliveryRecipient, String)>,
    ) {
        let limit = self.settings.dest_recipient_limit(&transport);
        let chunk = if limit == 0 {
            rcpts.len().max(1)
        } else {
            limit
        };
        for part in rcpts.chunks(chunk) {
            // With a recipient limit of 1, Postfix's queue is per recipient.
            let dest_name = if limit == 1 {
                part[0].1.to_lowercase()
            } else {
                nexthop.to_lowercase()
            };
            let dest_key = (transport.clone(), dest_name);
            let conc = self.settings.dest_concurrency_limit(&transport);
            let initial = self.settings.initial_concurrency;
            let dest = self.dests.entry(dest_key.clone()).or_insert_with(|| Dest {
                queue: VecDeque::new(),
                active: 0,
                window: if conc == 0 {
                    initial
                } else {
                    initial.min(conc)
                },
                successes: 0,
                limit: conc,
            });
            dest.queue.push_back(Batch {
                msg: key.to_string(),
                transport: transport.clone(),
                nexthop: nexthop.clone(),
                dest: dest_key,
                recipients: part.iter().map(|(r, _)| r.clone()).collect(),
            });
            if let Some(m) = self.messages.get_mut(key) {
                m.outstanding += 1;
            }
        }
    }

    /// The throttle of `transport`, if it is still in force.
    fn throttled(&mut self, transport: &str) -> Option<(Instant, String, String)> {
        let t = self.transports.get_mut(transport)?;
        match &t.throttled {
            Some((until, _, _)) if Instant::now() >= *until => {
                t.throttled = None;
                None
            }
            other => other.clone(),
        }
    }

    /// Start every batch the windows allow.
    fn dispatch(&mut self) {
        let keys: Vec<(String, String)> = self.dests.keys().cloned().collect();
        for key in keys {
            loop {
                let transport = key.0.clone();
                if let Some((_, status, reason)) = self.throttled(&transport) {
                    self.defer_destination(&key, &status, &reason);
                    break;
                }
                let busy = self.transports.get(&transport).map_or(0, |t| t.active);
                let Some(dest) = self.dests.get_mut(&key) else {
                    break;
                };
                if dest.queue.is_empty()
                    || dest.active >= dest.window
                    || busy >= self.settings.process_limit
                {
                    break;
                }
                let Some(batch) = dest.queue.pop_front() else {
                    break;
                };
                dest.active += 1;
                self.transports.entry(transport).or_default().active += 1;
                self.start_batch(batch);
            }
            if self
                .dests
                .get(&key)
                .is_some_and(|d| d.queue.is_empty() && d.active == 0)
            {
                self.dests.remove(&key);
            }
        }
    }

    fn start_batch(&mut self, batch: Batch) {
        let Some(msg) = self.messages.get(&batch.msg) else {
            return;
        };
        let request = DeliveryRequest {
            version: DELIVERY_PROTOCOL_VERSION,
            queue_name: "active".into(),
            queue_id: batch.msg.clone(),
            data_offset: msg.data_offset,
            data_size: msg.data_size,
            nexthop: batch.nexthop.clone(),
            encoding: msg.encoding.clone(),
            sender: msg.sender.clone(),
            dsn_envid: msg.dsn_envid.clone(),
            dsn_ret: msg.dsn_ret,
            flags: 0,
            recipients: batch.recipients.clone(),
            client: msg.client.clone(),
            times: DeliveryTimes {
                arrival_us: msg.arrival_us,
                active_us: msg.active_us,
                sent_us: now_us(),
            },
        };
        let tx = self.tx.clone();
        let queue_dir = self.settings.queue_dir.clone();
        let spawned = std::thread::Builder::new()
            .name("delivery".into())
            .spawn(move || {
                let result = worker::deliver(&queue_dir, &batch.transport, &request);
                let _ = tx.send(Event::Done(Box::new(batch), result));
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start delivery thread: {e}");
        }
    }

    /// A batch came back: update the destination, then the recipients.
    fn batch_done(&mut self, batch: Batch, result: Result<Vec<RecipientResult>, BatchFailure>) {
        if let Some(t) = self.transports.get_mut(&batch.transport) {
            t.active = t.active.saturating_sub(1);
        }
        if let Some(d) = self.dests.get_mut(&batch.dest) {
            d.active = d.active.saturating_sub(1);
            if result.is_ok() {
                d.successes += 1;
                if d.successes >= d.window && (d.limit == 0 || d.window < d.limit) {
                    d.window += 1;
                    d.successes = 0;
                }
            }
        }
        match result {
            Ok(results) => {
                for (rcpt, res) in batch.recipients.iter().zip(results) {
                    self.apply_result(&batch.msg, rcpt, &res);
                }
            }
            Err(failure) => {
                let (status, reason) = failure.dsn();
                let reason = reason.to_string();
                if let BatchFailure::Crashed = failure {
                    tracing::warn!("private/{} socket: malformed response", batch.transport);
                }
                // Throttle the transport: its queued batches are deferred too.
                let until = Instant::now() + self.settings.transport_retry_time;
                self.transports
                    .entry(batch.transport.clone())
                    .or_default()
                    .throttled = Some((until, status.to_string(), reason.clone()));
                for rcpt in &batch.recipients {
                    self.defer_now(&batch.msg, rcpt, status, &reason);
                }
            }
        }
        if let Some(m) = self.messages.get_mut(&batch.msg) {
            m.outstanding = m.outstanding.saturating_sub(1);
        }
        self.maybe_finish(&batch.msg);
    }

    /// Defer every queued batch of a throttled destination.
    fn defer_destination(&mut self, key: &(String, String), status: &str, reason: &str) {
        let Some(dest) = self.dests.get_mut(key) else {
            return;
        };
        let batches: Vec<Batch> = dest.queue.drain(..).collect();
        for batch in batches {
            for rcpt in &batch.recipients {
                self.defer_now(&batch.msg, rcpt, status, reason);
            }
            if let Some(m) = self.messages.get_mut(&batch.msg) {
                m.outstanding = m.outstanding.saturating_sub(1);
            }
            self.maybe_finish(&batch.msg);
        }
    }

    /// Record one agent result.
    fn apply_result(&mut self, key: &str, rcpt: &DeliveryRecipient, res: &RecipientResult) {
        use global::ipc::delivery::DeliveryOutcome;
        let entry = LogEntry {
            recipient: rcpt.address.clone(),
            orig_recipient: rcpt.orig_address.clone(),
            offset: rcpt.offset,
            dsn_orcpt: rcpt.dsn_orcpt.clone(),
            dsn_notify: rcpt.dsn_notify,
            status: res.dsn_status.clone(),
            action: res.dsn_action.clone(),
            diag_type: diag_part(&res.diagnostic).0,
            diag_text: diag_part(&res.diagnostic).1,
            mta_type: if res.remote_mta.is_empty() {
                String::new()
            } else {
                "dns".into()
            },
            mta_name: res.remote_mta.clone(),
            reason: res.reason.clone(),
        };
        match res.outcome {
            DeliveryOutcome::Sent => self.mark_done(key, rcpt.offset),
            DeliveryOutcome::Bounced => self.log_bounce(key, rcpt, entry),
            DeliveryOutcome::Deferred => self.log_defer(key, entry),
        }
    }
}

/// `smtp; 550 5.1.1 ...` -> (`smtp`, `550 5.1.1 ...`).
fn diag_part(diag: &str) -> (String, String) {
    match diag.split_once(';') {
        Some((t, text)) => (t.trim().to_string(), text.trim().to_string()),
        None => (String::new(), String::new()),
    }
}
