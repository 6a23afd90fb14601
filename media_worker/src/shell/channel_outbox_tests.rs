//! Unit tests of `channel_outbox.rs`.

use super::*;
use crate::channel::{Decoded, FrameDecoder, LogRecord, Notification, Response};

fn at(seconds: u64) -> Instant {
    thread_local! { static START: Instant = Instant::now(); }
    START.with(|start| *start + Duration::from_secs(seconds))
}

fn message(label_bytes: usize) -> WorkerMessage {
    WorkerMessage::Notification(Notification {
        event: NotificationEvent::PeerDataChannelMessage,
        target_id: Some("alice".into()),
        data: serde_json::json!({"label": "chat", "data": "x".repeat(label_bytes), "binary": false}),
    })
}

fn log_at(level: &str) -> WorkerMessage {
    let record = LogRecord { level: level.into(), target: "media_worker".into(), message: "a line".into() };
    WorkerMessage::Notification(Notification::log(&record))
}

fn log() -> WorkerMessage {
    log_at("debug")
}

fn state() -> WorkerMessage {
    WorkerMessage::Notification(Notification {
        event: NotificationEvent::TransportIceStateChange,
        target_id: Some("t".into()),
        data: serde_json::json!({"iceState": "connected"}),
    })
}

fn frames(bytes: &[u8]) -> Vec<WorkerMessage> {
    let mut decoder = FrameDecoder::new();
    decoder.push(bytes);
    std::iter::from_fn(|| decoder.next_frame())
        .map(|decoded| match decoded {
            Decoded::Frame(payload) => serde_json::from_slice(&payload).unwrap(),
            Decoded::Oversized { len, .. } => panic!("an oversized frame of {len} bytes"),
        })
        .collect()
}

/// A Channel that takes `room` bytes, then would block.
struct Narrow {
    taken: Vec<u8>,
    room: usize,
}

impl Write for Narrow {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let count = bytes.len().min(self.room - self.taken.len());
        if count == 0 {
            return Err(ErrorKind::WouldBlock.into());
        }
        self.taken.extend_from_slice(&bytes[..count]);
        Ok(count)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn past_the_limit_data_channel_messages_and_logs_are_dropped_and_counted_answers_and_states_kept() {
    let mut outbox = ChannelOutbox::default();
    // A flood nobody reads: 64 KiB messages up to the limit, then 100 more.
    let per_message = 64 * 1024;
    let pushed = OUTBOX_LIMIT / per_message + 100;
    for _ in 0..pushed {
        outbox.push(&message(per_message), at(0));
    }
    outbox.push(&log(), at(0));
    outbox.push(&state(), at(0));
    outbox.push(&WorkerMessage::Response(Response::new(Some(7), Ok(serde_json::json!("answered")))), at(0));
    assert!(outbox.pending() < OUTBOX_LIMIT + 2 * per_message, "{}", outbox.pending());
    // Nothing to tell while it is full.
    assert_eq!(outbox.take_dropped(at(0)), None);
    // Python reads it all: what was kept arrives in order, the answer and the state last.
    let mut channel = Narrow { taken: Vec::new(), room: usize::MAX };
    outbox.write(&mut channel).unwrap();
    assert!(outbox.is_empty());
    let arrived = frames(&channel.taken);
    let kept = arrived.len() - 2;
    assert!(arrived[..kept].iter().all(|kept| *kept == message(per_message)));
    assert_eq!(arrived[kept..], [state(), WorkerMessage::Response(Response::new(Some(7), Ok(serde_json::json!("answered"))))]);
    // Drained: the drops are told once.
    assert_eq!(outbox.take_dropped(at(0)), Some(((pushed - kept) as u64, 1)));
    assert!(pushed - kept >= 100);
    assert_eq!(outbox.take_dropped(at(0)), None);
    // And messages pass again.
    outbox.push(&message(10), at(0));
    outbox.push(&log(), at(0));
    assert_eq!(frames(&outbox.bytes[outbox.start..]), [message(10), log()]);
}

#[test]
fn a_channel_that_would_block_keeps_the_rest_for_later_in_order() {
    let mut outbox = ChannelOutbox::default();
    for _ in 0..3 {
        outbox.push(&message(1000), at(0));
    }
    let mut channel = Narrow { taken: Vec::new(), room: 1500 };
    outbox.write(&mut channel).unwrap();
    assert!(!outbox.is_empty());
    channel.room = usize::MAX;
    outbox.write(&mut channel).unwrap();
    assert_eq!(frames(&channel.taken), [message(1000), message(1000), message(1000)]);
}

#[test]
fn errors_are_kept_and_a_flood_that_keeps_it_full_is_told_every_ten_seconds() {
    let mut outbox = ChannelOutbox::default();
    while outbox.pending() < OUTBOX_LIMIT {
        outbox.push(&message(64 * 1024), at(0));
    }
    let kept = outbox.pending();
    outbox.push(&message(10), at(1));
    outbox.push(&log_at("warn"), at(1));
    outbox.push(&log_at("error"), at(1));
    assert!(outbox.pending() > kept, "the error record is kept");
    assert_eq!(outbox.take_dropped(at(5)), None);
    assert_eq!(outbox.take_dropped(at(11)), Some((1, 1)));
    assert_eq!(outbox.take_dropped(at(30)), None, "nothing dropped since");
}

#[test]
fn what_was_written_is_let_go_without_moving_the_rest_each_time() {
    let mut outbox = ChannelOutbox::default();
    for _ in 0..8 {
        outbox.push(&message(1000), at(0));
    }
    let total = outbox.pending();
    let mut channel = Narrow { taken: Vec::new(), room: 1200 };
    outbox.write(&mut channel).unwrap();
    // Under half written: kept in place, read from an offset.
    assert_eq!((outbox.start, outbox.pending()), (1200, total - 1200));
    channel.room = total - 100;
    outbox.write(&mut channel).unwrap();
    // Most of it written: the rest moved to the front.
    assert_eq!((outbox.start, outbox.pending()), (0, 100));
    channel.room = usize::MAX;
    outbox.write(&mut channel).unwrap();
    assert!(outbox.is_empty() && outbox.bytes.is_empty());
    assert_eq!(frames(&channel.taken).len(), 8);
}
