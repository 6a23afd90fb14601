//! The errors the worker reports over the Channel. Their kinds are the Python
//! exceptions the extension raises for them (mapped in one place, `src/errors.rs`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which Python exception a failure becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// A wrong type or a missing value: `TypeError`.
    TypeError,
    /// A bad value: `ValueError`.
    ValueError,
    /// An operation on a closed or unknown object: `InvalidStateError`.
    InvalidStateError,
    /// Something the server cannot do: `UnsupportedError`.
    UnsupportedError,
    /// Anything else inside the worker: `MediasoupError`.
    MediasoupError,
}

/// A failure with the value that was wrong and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerError {
    pub kind: ErrorKind,
    pub message: String,
}

impl WorkerError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn type_error(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::TypeError, message)
    }

    pub fn value_error(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ValueError, message)
    }

    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidStateError, message)
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::UnsupportedError, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::MediasoupError, message)
    }
}

impl fmt::Display for WorkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for WorkerError {}
