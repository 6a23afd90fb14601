//! Calls into Python from the extension's own threads (the Channel readers,
//! the logging bridge), never while the interpreter shuts down.
//!
//! `Python::try_attach` refuses once finalization has begun, but a thread
//! that attached just before can lose the GIL inside the call (a logging
//! handler writing to a file releases it) and be stopped by the finalizing
//! interpreter when it takes it back: CPython then aborts the process
//! ("PyGILState_Release: thread state must be current"). So an `atexit`
//! handler, which runs before finalization, closes the door here and waits
//! for the threads inside to leave.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

static CLOSED: AtomicBool = AtomicBool::new(false);
static INSIDE: AtomicUsize = AtomicUsize::new(0);

/// How long the exit waits for a thread inside Python (a slow logging handler).
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// Runs `call` with the GIL, unless the interpreter is shutting down (None).
pub fn attach<R>(call: impl FnOnce(Python<'_>) -> R) -> Option<R> {
    INSIDE.fetch_add(1, Ordering::SeqCst);
    let result = if CLOSED.load(Ordering::SeqCst) { None } else { Python::try_attach(call) };
    INSIDE.fetch_sub(1, Ordering::SeqCst);
    result
}

/// Registered with `atexit` by `mediasoup/__init__.py`: from now on the
/// extension's threads leave Python alone; returns once none is inside.
#[pyfunction]
pub fn _before_exit(py: Python<'_>) {
    CLOSED.store(true, Ordering::SeqCst);
    py.detach(|| {
        let deadline = Instant::now() + EXIT_GRACE;
        while INSIDE.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}
