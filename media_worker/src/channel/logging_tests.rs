//! Unit tests of `logging.rs`.

use super::*;
use std::sync::Mutex;
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn events_become_records_filtered_by_the_current_level() {
    let records = Arc::new(Mutex::new(Vec::new()));
    let sink_records = records.clone();
    let filter = LogFilter::new(LogLevel::Warn);
    let layer = ChannelLayer::new(filter.clone(), move |record| {
        sink_records.lock().unwrap().push(record);
    });
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for level in [LogLevel::Warn, LogLevel::Debug] {
            filter.set(level);
            tracing::debug!("shown at {level}");
        }
        tracing::warn!(room = "r1", "room {} is full", 3);
    });
    let records = records.lock().unwrap();
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0].message, "shown at debug");
    assert_eq!(records[1].level, "warn");
    assert_eq!(records[1].message, "room 3 is full room=r1");
    assert!(records[1].target.starts_with("media_worker::channel::logging"));
}
