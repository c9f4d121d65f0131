//! The parameters qmgr reads, read once at start (qmgr is restarted by `postfix reload`).

use std::path::PathBuf;
use std::time::Duration;

use global::config::Config;
use global::queue::QueueLayout;

/// qmgr's view of main.cf.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `queue_directory`.
    pub queue_dir: PathBuf,
    /// `hash_queue_names`, `hash_queue_depth`.
    pub layout: QueueLayout,
    /// `minimal_backoff_time`.
    pub min_backoff: Duration,
    /// `maximal_backoff_time`.
    pub max_backoff: Duration,
    /// `queue_run_delay`: how often the deferred queue is scanned.
    pub queue_run_delay: Duration,
    /// `maximal_queue_lifetime`.
    pub max_queue_lifetime: Duration,
    /// `bounce_queue_lifetime` (messages with the null sender).
    pub bounce_queue_lifetime: Duration,
    /// `delay_warning_time` (zero: no delay warnings).
    pub delay_warning_time: Duration,
    /// `defer_transports`.
    pub defer_transports: Vec<String>,
    /// `transport_retry_time`: how long a failed transport stays throttled.
    pub transport_retry_time: Duration,
    /// `qmgr_message_active_limit`.
    pub active_limit: usize,
    /// `default_process_limit`: cap on simultaneous deliveries per transport.
    pub process_limit: usize,
    /// `initial_destination_concurrency`.
    pub initial_concurrency: usize,
    /// `double_bounce_sender`: local mail to it is discarded.
    pub double_bounce_sender: String,
    /// `bounce_service_name`, `defer_service_name`.
    pub bounce_service: String,
    /// `defer_service_name`.
    pub defer_service: String,
    /// `delay_logging_resolution_limit` and `info_log_address_format`, for
    /// the status lines qmgr logs itself (the agents' log settings).
    pub log: global::deliver::Settings,
    /// The whole configuration, for per-transport parameters.
    config: Config,
}

/// A time parameter, falling back to `default` when unparsable.
fn time(config: &Config, name: &str, unit: char, default: Duration) -> Duration {
    config.get_time(name, unit).unwrap_or_else(|e| {
        tracing::warn!("{e}; using {}s", default.as_secs());
        default
    })
}

/// A count parameter, falling back to `default` when unparsable or negative.
fn count(config: &Config, name: &str, default: usize) -> usize {
    config
        .get_int(name)
        .ok()
        .and_then(|v| usize::try_from(v).ok())
        .unwrap_or(default)
}

impl Settings {
    /// Read everything qmgr uses.
    pub fn from_config(config: &Config) -> Settings {
        let service = |name: &str, default: &str| {
            let v = config.get(name);
            if v.is_empty() { default.to_string() } else { v }
        };
        Settings {
            queue_dir: PathBuf::from(config.get("queue_directory")),
            layout: QueueLayout::from_params(
                &config.get("hash_queue_names"),
                count(config, "hash_queue_depth", 1),
            ),
            min_backoff: time(
                config,
                "minimal_backoff_time",
                's',
                Duration::from_secs(300),
            ),
            max_backoff: time(
                config,
                "maximal_backoff_time",
                's',
                Duration::from_secs(4000),
            ),
            queue_run_delay: time(config, "queue_run_delay", 's', Duration::from_secs(300)),
            max_queue_lifetime: time(
                config,
                "maximal_queue_lifetime",
                'd',
                Duration::from_secs(5 * 86400),
            ),
            bounce_queue_lifetime: time(
                config,
                "bounce_queue_lifetime",
                'd',
                Duration::from_secs(5 * 86400),
            ),
            delay_warning_time: time(config, "delay_warning_time", 'h', Duration::ZERO),
            defer_transports: config.get_list("defer_transports"),
            transport_retry_time: time(
                config,
                "transport_retry_time",
                's',
                Duration::from_secs(60),
            ),
            active_limit: count(config, "qmgr_message_active_limit", 20000).max(1),
            process_limit: count(config, "default_process_limit", 100).max(1),
            initial_concurrency: count(config, "initial_destination_concurrency", 5).max(1),
            double_bounce_sender: service("double_bounce_sender", "double-bounce"),
            bounce_service: service("bounce_service_name", "bounce"),
            defer_service: service("defer_service_name", "defer"),
            log: global::deliver::Settings::from_config(config),
            config: config.clone(),
        }
    }

    /// `<transport>_<suffix>`, else `default_<suffix>`, else `fallback`.
    fn per_transport(&self, transport: &str, suffix: &str, fallback: usize) -> usize {
        let own = format!("{transport}_{suffix}");
        if !self.config.get(&own).is_empty()
            && let Ok(v) = self.config.get_int(&own)
        {
            return usize::try_from(v).unwrap_or(fallback);
        }
        count(&self.config, &format!("default_{suffix}"), fallback)
    }

    /// `<transport>_destination_concurrency_limit` (0 = no limit).
    pub fn dest_concurrency_limit(&self, transport: &str) -> usize {
        self.per_transport(transport, "destination_concurrency_limit", 20)
    }

    /// `<transport>_destination_recipient_limit` (0 = no limit).
    pub fn dest_recipient_limit(&self, transport: &str) -> usize {
        self.per_transport(transport, "destination_recipient_limit", 50)
    }

    /// Whether `transport` is listed in `defer_transports`.
    pub fn is_deferred_transport(&self, transport: &str) -> bool {
        self.defer_transports.iter().any(|t| t == transport)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_transport_table() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::from_text(
            dir.path(),
            "local_destination_concurrency_limit = 2\nsmtp_destination_recipient_limit = 7\n\
             default_destination_concurrency_limit = 9\ndefer_transports = smtp, relay\n",
        )
        .unwrap();
        let s = Settings::from_config(&cfg);
        let cases: &[(&str, usize, usize)] = &[("local", 2, 1), ("smtp", 9, 7), ("nosuch", 9, 50)];
        for (t, conc, rcpt) in cases {
            assert_eq!(s.dest_concurrency_limit(t), *conc, "concurrency {t}");
            assert_eq!(s.dest_recipient_limit(t), *rcpt, "recipients {t}");
        }
        assert!(s.is_deferred_transport("relay"));
        assert!(!s.is_deferred_transport("local"));
        assert_eq!(s.min_backoff, Duration::from_secs(300));
    }
}
