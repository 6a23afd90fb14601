//! Unit tests of `channel_outbox.rs`.

use super::*;
use crate::channel::{Decoded, FrameDecoder, LogRecord, Notification, Response};

fn message(label_bytes: usize) -> WorkerMessage {
    WorkerMessage::Notification(Notification {
        event: NotificationEvent::PeerDataChannelMessage,
        target_id: Some("alice".into()),
        data: serde_json::json!({"label": "chat", "data": "x".repeat(label_bytes), "binary": false}),
    })
}

fn log() -> WorkerMessage {
    let record = LogRecord { level: "debug".into(), target: "media_worker".into(), message: "a line".into() };
    WorkerMessage::Notification(Notification::log(&record))
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
        outbox.push(&message(per_message));
    }
    outbox.push(&log());
    outbox.push(&state());
    outbox.push(&WorkerMessage::Response(Response::new(Some(7), Ok(serde_json::json!("answered")))));
    assert!(outbox.bytes.len() < OUTBOX_LIMIT + 2 * per_message, "{}", outbox.bytes.len());
    // Nothing to tell while it is full.
    assert_eq!(outbox.take_dropped(), None);
    // Python reads it all: what was kept arrives in order, the answer and the state last.
    let mut channel = Narrow { taken: Vec::new(), room: usize::MAX };
    outbox.write(&mut channel).unwrap();
    assert!(outbox.is_empty());
    let arrived = frames(&channel.taken);
    let kept = arrived.len() - 2;
    assert!(arrived[..kept].iter().all(|kept| *kept == message(per_message)));
    assert_eq!(arrived[kept..], [state(), WorkerMessage::Response(Response::new(Some(7), Ok(serde_json::json!("answered"))))]);
    // Drained: the drops are told once.
    assert_eq!(outbox.take_dropped(), Some(((pushed - kept) as u64, 1)));
    assert!(pushed - kept >= 100);
    assert_eq!(outbox.take_dropped(), None);
    // And messages pass again.
    outbox.push(&message(10));
    outbox.push(&log());
    assert_eq!(frames(&outbox.bytes), [message(10), log()]);
}

#[test]
fn a_channel_that_would_block_keeps_the_rest_for_later_in_order() {
    let mut outbox = ChannelOutbox::default();
    for _ in 0..3 {
        outbox.push(&message(1000));
    }
    let mut channel = Narrow { taken: Vec::new(), room: 1500 };
    outbox.write(&mut channel).unwrap();
    assert!(!outbox.is_empty());
    channel.room = usize::MAX;
    outbox.write(&mut channel).unwrap();
    assert_eq!(frames(&channel.taken), [message(1000), message(1000), message(1000)]);
}
