//! Exception mapping, in one place. `mediasoup.errors` defines the classes
//! (with their docs) in Python; every failure the extension or a worker
//! reports becomes one of them, or `TypeError`/`ValueError`, here.

use media_worker::error::{ErrorKind, WorkerError};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

static MEDIASOUP_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static INVALID_STATE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static UNSUPPORTED_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn class<'py>(py: Python<'py>, cell: &'static PyOnceLock<Py<PyType>>, name: &str) -> Option<Bound<'py, PyType>> {
    cell.import(py, "mediasoup.errors", name).ok().cloned()
}

/// The Python exception for a failure of `kind`.
pub fn to_pyerr(py: Python<'_>, error: WorkerError) -> PyErr {
    let cell = match error.kind {
        ErrorKind::TypeError => return PyTypeError::new_err(error.message),
        ErrorKind::ValueError => return PyValueError::new_err(error.message),
        ErrorKind::InvalidStateError => (&INVALID_STATE_ERROR, "InvalidStateError"),
        ErrorKind::UnsupportedError => (&UNSUPPORTED_ERROR, "UnsupportedError"),
        ErrorKind::MediasoupError => (&MEDIASOUP_ERROR, "MediasoupError"),
    };
    match class(py, cell.0, cell.1) {
        Some(class) => PyErr::from_type(class, error.message),
        // Only if mediasoup.errors cannot be imported, which the package always can.
        None => pyo3::exceptions::PyRuntimeError::new_err(error.message),
    }
}

/// `InvalidStateError(message)`.
pub fn invalid_state(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_pyerr(py, WorkerError::invalid_state(message))
}

/// `MediasoupError(message)`.
pub fn mediasoup_error(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_pyerr(py, WorkerError::internal(message))
}
