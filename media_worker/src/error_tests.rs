//! Error messages stay short; ints are read with their range.

use super::*;
use serde_json::json;

#[test]
fn a_message_quoting_megabytes_keeps_its_start_and_end() {
    let error = WorkerError::value_error(format!("logLevel must be 'debug', not '{}': choose one", "é".repeat(5_000_000)));
    assert!(error.message.len() <= MAX_MESSAGE_BYTES + 4);
    assert!(error.message.starts_with("logLevel must be 'debug', not 'éé"));
    assert!(error.message.ends_with("éé': choose one"));
    assert!(error.message.contains('…'));
    let short = WorkerError::type_error("rtpParameters must be a dict");
    assert_eq!(short.message, "rtpParameters must be a dict");
}

#[test]
fn ints_out_of_their_range_are_value_errors_and_other_types_type_errors() {
    let read = |value: Value| int_in(&value, "x.payloadType", 0..=127);
    assert_eq!(read(json!(96)), Ok(96));
    for (value, kind, message) in [
        (json!(-1), ErrorKind::ValueError, "x.payloadType must be an int of 0-127, not -1"),
        (json!(128), ErrorKind::ValueError, "x.payloadType must be an int of 0-127, not 128"),
        (json!(u64::MAX), ErrorKind::ValueError, "not 18446744073709551615"),
        (json!(1.5), ErrorKind::TypeError, "x.payloadType must be an int, not float"),
        (json!(true), ErrorKind::TypeError, "x.payloadType must be an int, not bool"),
        (json!("96"), ErrorKind::TypeError, "x.payloadType must be an int, not str"),
        (Value::Null, ErrorKind::TypeError, "x.payloadType must be an int, not None"),
    ] {
        let error = read(value).unwrap_err();
        assert_eq!(error.kind, kind, "{}", error.message);
        assert!(error.message.contains(message), "{}", error.message);
    }
}
