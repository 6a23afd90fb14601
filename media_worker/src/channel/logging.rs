//! The worker's `tracing` events travel over the Channel as `log`
//! notifications; the extension hands them to Python's `logging`. The level
//! filter is the server's `logLevel`, changed at run time by `updateSettings`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::channel::LogRecord;
use crate::channel::settings::LogLevel;

/// The worker's current log level, shared by the layer and the worker.
#[derive(Debug, Clone)]
pub struct LogFilter(Arc<AtomicU8>);

impl LogFilter {
    pub fn new(level: LogLevel) -> Self {
        Self(Arc::new(AtomicU8::new(level as u8)))
    }

    pub fn set(&self, level: LogLevel) {
        self.0.store(level as u8, Ordering::Relaxed);
    }

    pub fn get(&self) -> LogLevel {
        let value = self.0.load(Ordering::Relaxed);
        LogLevel::ALL
            .into_iter()
            .find(|level| *level as u8 == value)
            .unwrap_or(LogLevel::Debug)
    }

    pub fn allows(&self, metadata: &Metadata<'_>) -> bool {
        self.get().allows(metadata.level())
    }
}

/// A `tracing` layer that turns events into [`LogRecord`]s for a sink.
pub struct ChannelLayer<F> {
    filter: LogFilter,
    sink: F,
}

impl<F> ChannelLayer<F>
where
    F: Fn(LogRecord) + Send + Sync + 'static,
{
    pub fn new(filter: LogFilter, sink: F) -> Self {
        Self { filter, sink }
    }
}

impl<S, F> Layer<S> for ChannelLayer<F>
where
    S: Subscriber,
    F: Fn(LogRecord) + Send + Sync + 'static,
{
    /// The level changes at run time, so no callsite's interest may be cached.
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        self.filter.allows(metadata)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let metadata = event.metadata();
        if !self.filter.allows(metadata) {
            return;
        }
        (self.sink)(LogRecord {
            level: level_name(metadata.level()).to_owned(),
            target: metadata.target().to_owned(),
            message: event_message(event),
        });
    }
}

pub fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// An event as one line: its message, then `key=value` for its other fields.
pub fn event_message(event: &Event<'_>) -> String {
    let mut visitor = MessageVisitor::default();
    event.record(&mut visitor);
    visitor.message
}

#[derive(Default)]
struct MessageVisitor {
    message: String,
}

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let fields = std::mem::take(&mut self.message);
            let _ = write!(self.message, "{value:?}");
            self.message.push_str(&fields);
        } else {
            let _ = write!(self.message, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.insert_str(0, value);
        } else {
            let _ = write!(self.message, " {}={value}", field.name());
        }
    }
}

#[cfg(test)]
#[path = "logging_tests.rs"]
mod tests;
