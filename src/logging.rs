//! The bridge of `tracing` into Python's `logging`, under the logger
//! `mediasoup` with a child per component: the extension's own events
//! (`mediasoup.<module>`, e.g. `mediasoup.worker` for the process and Channel
//! management in `worker.rs`) and the workers' log notifications
//! (`mediasoup.worker`, `mediasoup.worker.room`…).

use media_worker::channel::logging::{event_message, level_name};
use pyo3::prelude::*;
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Python `logging` levels for the level names of `tracing`.
fn python_level(level: &str) -> u8 {
    match level {
        "error" => 40,
        "warn" => 30,
        "info" => 20,
        "debug" => 10,
        _ => 5,
    }
}

/// `media_worker::room::x` → `mediasoup.worker.room`; `_mediasoup::channel`
/// → `mediasoup.channel`. The worker's shell and state machine log as
/// `mediasoup.worker` itself.
pub fn logger_name(target: &str) -> String {
    let mut parts = target.split("::");
    let krate = parts.next().unwrap_or_default();
    let module = parts.next();
    match (krate, module) {
        ("media_worker", None | Some("shell" | "worker")) => "mediasoup.worker".into(),
        ("media_worker", Some(module)) => format!("mediasoup.worker.{module}"),
        // The handle on a worker process logs as the worker it handles.
        ("_mediasoup", Some("worker_process")) => "mediasoup.worker".into(),
        ("_mediasoup", Some(module)) => format!("mediasoup.{module}"),
        _ => "mediasoup".into(),
    }
}

/// Logs `message` on the Python logger `name`; nothing if Python is gone.
pub fn emit(py: Python<'_>, name: &str, level: &str, message: &str) {
    let logged = (|| -> PyResult<()> {
        let logger = py.import("logging")?.call_method1("getLogger", (name,))?;
        let level = python_level(level);
        if logger.call_method1("isEnabledFor", (level,))?.is_truthy()? {
            logger.call_method1("log", (level, "%s", message))?;
        }
        Ok(())
    })();
    if let Err(err) = logged {
        // Logging must never raise into the server; Python's own handler reports it.
        err.print(py);
    }
}

/// Hands the extension's own `tracing` events to Python's `logging`.
struct PythonLogLayer;

impl<S: Subscriber> Layer<S> for PythonLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let metadata = event.metadata();
        if *metadata.level() == tracing::Level::TRACE {
            return;
        }
        let message = event_message(event);
        let name = logger_name(metadata.target());
        let level = level_name(metadata.level());
        crate::interpreter::attach(|py| emit(py, &name, level, &message));
    }
}

/// Installs the bridge as the process's `tracing` subscriber, once, unless
/// the embedding program installed one of its own. Called when a server
/// starts, never at import: a worker process imports the module too, and
/// its `tracing` events go over the Channel instead.
pub fn install() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(PythonLogLayer));
    });
}

#[cfg(test)]
#[path = "logging_tests.rs"]
mod tests;
