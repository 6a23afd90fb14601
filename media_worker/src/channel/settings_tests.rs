//! Unit tests of `settings.rs`.

use super::*;

#[test]
fn log_level_parses_the_seed_values_only() {
    assert_eq!("warn".parse::<LogLevel>().unwrap(), LogLevel::Warn);
    let err = "chicken".parse::<LogLevel>().unwrap_err();
    assert!(err.message.contains("chicken"), "{err}");
    assert!("WARN".parse::<LogLevel>().is_err());
}

#[test]
fn log_level_filters_tracing_levels() {
    assert!(LogLevel::Debug.allows(&tracing::Level::TRACE));
    assert!(LogLevel::Warn.allows(&tracing::Level::ERROR));
    assert!(!LogLevel::Warn.allows(&tracing::Level::INFO));
    assert!(!LogLevel::Error.allows(&tracing::Level::WARN));
}

#[test]
fn hex_round_trips_and_rejects_garbage() {
    let bytes = [0u8, 1, 0xab, 0xff];
    assert_eq!(encode_hex(&bytes), "0001abff");
    assert_eq!(decode_hex("0001abff", "x").unwrap(), bytes);
    assert!(decode_hex("abc", "x").is_err());
    assert!(decode_hex("zz", "x").is_err());
}
