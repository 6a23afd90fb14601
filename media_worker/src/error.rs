//! The errors the worker reports over the Channel. Their kinds are the Python
//! exceptions the extension raises for them (mapped in one place, `src/errors.rs`).

use std::fmt;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

/// The longest message an error carries, in bytes. A longer one (a value
/// of megabytes quoted in it) loses its middle: its start names the field,
/// its end says what was expected, and an application that logs the error
/// never writes megabytes.
pub const MAX_MESSAGE_BYTES: usize = 800;

/// `message` within [`MAX_MESSAGE_BYTES`].
fn shortened(message: String) -> String {
    if message.len() <= MAX_MESSAGE_BYTES {
        return message;
    }
    let mut head = MAX_MESSAGE_BYTES / 2;
    while !message.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = message.len() - MAX_MESSAGE_BYTES / 4;
    while !message.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{}…{}", &message[..head], &message[tail..])
}

impl WorkerError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: shortened(message.into()) }
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

/// An int of `range` at `at` (a field's path, `rtpParameters.codecs[0].payloadType`):
/// a bool, a float or anything but a number is a `TypeError`; an int outside
/// the range, negative ones among them, a `ValueError` naming the range and the value.
pub fn int_in(value: &Value, at: &str, range: RangeInclusive<u64>) -> Result<u64, WorkerError> {
    let Value::Number(number) = value else {
        return Err(WorkerError::type_error(format!("{at} must be an int, not {}", json_type(value))));
    };
    if number.is_f64() {
        return Err(WorkerError::type_error(format!("{at} must be an int, not float")));
    }
    number.as_u64().filter(|number| range.contains(number)).ok_or_else(|| {
        WorkerError::value_error(format!("{at} must be an int of {}-{}, not {number}", range.start(), range.end()))
    })
}

/// The str at `object[key]`; absent or None is a `TypeError` ("`at.key` is required").
pub fn required_str<'a>(object: &'a Map<String, Value>, key: &str, at: &str) -> Result<&'a str, WorkerError> {
    match object.get(key) {
        Some(Value::String(text)) => Ok(text),
        None | Some(Value::Null) => Err(WorkerError::type_error(format!("{at}.{key} is required"))),
        Some(other) => Err(WorkerError::type_error(format!("{at}.{key} must be a str, not {}", json_type(other)))),
    }
}

/// The int of `range` at `object[key]` (as [`int_in`]); absent or None is a `TypeError`.
pub fn required_int(object: &Map<String, Value>, key: &str, at: &str, range: RangeInclusive<u64>) -> Result<u64, WorkerError> {
    match object.get(key) {
        None | Some(Value::Null) => Err(WorkerError::type_error(format!("{at}.{key} is required"))),
        Some(value) => int_in(value, &format!("{at}.{key}"), range),
    }
}

/// The Python name of a JSON value's type, for messages.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "None",
        Value::Bool(_) => "bool",
        Value::Number(number) if number.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
