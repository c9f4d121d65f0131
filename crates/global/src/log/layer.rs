//! The `tracing` side: a [`Layer`] that turns events into Postfix records.
//!
//! Severity comes from the event level (`WARN` is `warning:`, `ERROR` is
//! `error:`, `INFO` and below have no prefix); the targets [`FATAL_TARGET`]
//! and [`PANIC_TARGET`] give `fatal:` and `panic:`. The text is the event's
//! message, followed by any other fields as ` name=value`.

use super::format::Severity;
use super::sink::Sink;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Event target that marks a `fatal:` record.
pub const FATAL_TARGET: &str = "rostfix::fatal";
/// Event target that marks a `panic:` record.
pub const PANIC_TARGET: &str = "rostfix::panic";

/// Where a layer finds its sink.
#[derive(Debug, Clone)]
enum Source {
    /// The process-wide logger set by `log::init` (may be replaced later).
    Global,
    /// A fixed sink (tests, or a program that manages its own).
    Fixed(Arc<Sink>),
}

/// A `tracing` layer writing Postfix-shaped records.
#[derive(Debug, Clone)]
pub struct PostfixLayer {
    /// The sink to write to.
    source: Source,
    /// Most verbose level passed on: 0 = INFO, 1 = DEBUG, 2+ = TRACE
    /// (Postfix's `-v`); shared so that re-initialisation can change it.
    verbose: Arc<AtomicU8>,
}

impl PostfixLayer {
    /// A layer that writes through the process-wide logger.
    pub(crate) fn global(verbose: Arc<AtomicU8>) -> Self {
        PostfixLayer {
            source: Source::Global,
            verbose,
        }
    }

    /// A layer that writes to `sink` with the given verbosity.
    pub fn with_sink(sink: Arc<Sink>, verbose: u8) -> Self {
        PostfixLayer {
            source: Source::Fixed(sink),
            verbose: Arc::new(AtomicU8::new(verbose)),
        }
    }

    /// Whether events of `level` are wanted now.
    fn wants(&self, level: &Level) -> bool {
        let max = match self.verbose.load(Ordering::Relaxed) {
            0 => Level::INFO,
            1 => Level::DEBUG,
            _ => Level::TRACE,
        };
        *level <= max
    }
}

/// The Postfix severity of an event.
pub(crate) fn severity_of(meta: &Metadata<'_>) -> Severity {
    match meta.target() {
        FATAL_TARGET => Severity::Fatal,
        PANIC_TARGET => Severity::Panic,
        _ => match *meta.level() {
            Level::ERROR => Severity::Error,
            Level::WARN => Severity::Warning,
            _ => Severity::Info,
        },
    }
}

/// Collects the message and the other fields of an event.
#[derive(Default)]
struct Text {
    /// The `message` field.
    message: String,
    /// The other fields, each as ` name=value`.
    fields: String,
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

impl<S: Subscriber> Layer<S> for PostfixLayer {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        // "sometimes": the verbosity may change when the program re-initialises.
        if meta.is_event() {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        meta.is_event() && self.wants(meta.level())
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if !self.wants(meta.level()) {
            return;
        }
        let mut text = Text::default();
        event.record(&mut text);
        text.message.push_str(&text.fields);
        let severity = severity_of(meta);
        match &self.source {
            Source::Fixed(sink) => sink.emit(severity, &text.message),
            Source::Global => super::emit(severity, &text.message),
        }
    }
}
