//! Unit tests of `event_loop.rs`.

use super::*;
use crate::channel::NotificationEvent;

fn frames_of(outgoing: &[u8]) -> Vec<WorkerMessage> {
    let mut decoder = FrameDecoder::new();
    decoder.push(outgoing);
    std::iter::from_fn(|| decoder.next_frame())
        .map(|decoded| match decoded {
            Decoded::Frame(payload) => serde_json::from_slice(&payload).unwrap(),
            Decoded::Oversized { len, .. } => panic!("an oversized frame of {len} bytes left the worker"),
        })
        .collect()
}

#[test]
fn an_answer_over_the_frame_limit_becomes_an_error_answer_to_the_same_request() {
    let huge = serde_json::Value::String("x".repeat(MAX_FRAME_LEN));
    let mut outgoing = Vec::new();
    push_message(&mut outgoing, &WorkerMessage::Response(Response::new(Some(9), Ok(huge))));
    let [WorkerMessage::Response(response)] = &frames_of(&outgoing)[..] else { panic!("one answer") };
    assert_eq!(response.id, Some(9));
    let error = response.error.as_ref().expect("an error answer");
    assert_eq!(error.kind, crate::error::ErrorKind::MediasoupError);
    assert!(error.message.contains("exceeds the Channel's 16777216-byte frame limit"), "{}", error.message);
}

#[test]
fn a_notification_over_the_frame_limit_is_dropped() {
    let mut outgoing = Vec::new();
    let notification = Notification {
        event: NotificationEvent::TransportClosed,
        target_id: Some("t".into()),
        data: serde_json::Value::String("x".repeat(MAX_FRAME_LEN)),
    };
    push_message(&mut outgoing, &WorkerMessage::Notification(notification));
    push_message(&mut outgoing, &WorkerMessage::Response(Response::new(Some(1), Ok(serde_json::json!(1)))));
    assert_eq!(frames_of(&outgoing), vec![WorkerMessage::Response(Response::new(Some(1), Ok(serde_json::json!(1))))]);
}
